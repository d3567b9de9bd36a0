#!/usr/bin/env bash
# The cron no-op: `eventfilter run` with nothing to do, next to a Swift hello world importing
# Foundation, compiled here by the same swiftc, both built the way `make build` builds the release
# binary (static Swift standard library and Foundation) and, as a second floor, the plain dynamic way.
#   Tests/Bench/stage_noop.sh [RUNS]        (default 201 runs of each; median wall time)
#   BACKEND=postgresql Tests/Bench/stage_noop.sh   the store in a PostgreSQL server the script starts:
#                                           the no-op run then also connects to it and migrates nothing.
#                                           Its floor then includes reaching the server: the static
#                                           hello world plus a C program (compiled here, linked to
#                                           libpq) that connects to the same database and runs one
#                                           query; psql doing the same is printed for scale;
#                                           and, as the store's own share, a C program (libpq)
#                                           replaying the statements one no-op run sent, read
#                                           from the server's log (Tests/Bench/floor_replay_statements.c)
#   EVENTFILTER=/path/to/eventfilter        that binary instead of `make build`'s
# The runs are interleaved (ours, static hello, dynamic hello, ours, ...) so that the machine's
# load weighs on each alike; each is started with posix_spawn (no shell) and waited for, and its
# CPU time (user + system, from wait4) is printed next to the wall time. Prints a FLOOR line
# (Tests/Bench/floor.sh) against the hello world built the same way, and one against the dynamic
# one as a note.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
source Tests/Bench/floor.sh
RUNS=${1:-201}
fixture_binary make -s build
WORK=$(mktemp -d /tmp/eventfilter-noop-bench.XXXXXX)
trap 'backend_stop; rm -rf "$WORK"' EXIT
echo "$(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary: $EF ($(ldd "$EF" | grep -c '=>') shared libraries: $(ldd "$EF" | awk '/=>/ {print $1}' | tr '\n' ' '))"

# The floor: the smallest Swift program that imports Foundation, built both ways.
printf 'import Foundation\nprint("Hello, world!")\n' > "$WORK/hello.swift"
swiftc -O -static-stdlib "$WORK/hello.swift" -o "$WORK/hello-static" -module-cache-path "$WORK/cache"
swiftc -O "$WORK/hello.swift" -o "$WORK/hello-dynamic" -module-cache-path "$WORK/cache"

# An installation with nothing to do: the repository's settings, a store made by a first run.
ROOT=$WORK/root
backend_start
fixture_root "$ROOT"
cp settings/webhooks.ini "$ROOT/settings/"
"$EF" --root "$ROOT" run
[ -z "$("$EF" --root "$ROOT" run 2>&1)" ] || { echo "the no-op run is not quiet:" >&2; "$EF" --root "$ROOT" run >&2; exit 1; }

# On PostgreSQL, the least a process that uses the store must do: connect and run one query, in C
# with libpq (the library eventfilter opens), on the same database; and psql doing so, for scale.
PSQL=()
if [ "$BACKEND" = postgresql ]; then
    cat > "$WORK/pq_probe.c" <<'C'
#include <libpq-fe.h>
#include <stdio.h>
int main(int argc, char **argv) {
    PGconn *connection = PQconnectdb(argc > 1 ? argv[1] : "");
    if (PQstatus(connection) != CONNECTION_OK) { fprintf(stderr, "%s", PQerrorMessage(connection)); return 1; }
    PGresult *result = PQexec(connection, "SELECT 1");
    int ok = PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1;
    PQclear(result);
    PQfinish(connection);
    return ok ? 0 : 1;
}
C
    cc -O2 -I"$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)" \
        "$WORK/pq_probe.c" -o "$WORK/pq_probe" -lpq
    DATABASE=$(cat "$ROOT/.bench-database")
    "$WORK/pq_probe" "host=$PG_DIR user=postgres dbname=$DATABASE" || { echo "the libpq probe cannot reach $DATABASE" >&2; exit 1; }
    # The statements a no-op run sends, from the server's log (log_statement = all for this
    # database, during one run), with their parameters written in as literals: replayed by a C
    # program on libpq, they are what the store itself asks of a run that finds nothing to do.
    backend_psql postgres -c "ALTER DATABASE $DATABASE SET log_statement = 'all'" >/dev/null
    LOG_OFFSET=$(stat -c %s "$PG_DIR/server.log")
    "$EF" --root "$ROOT" run
    backend_psql postgres -c "ALTER DATABASE $DATABASE RESET log_statement" >/dev/null
    python3 - "$PG_DIR/server.log" "$LOG_OFFSET" > "$WORK/noop-statements" <<'PY'
import re, sys
with open(sys.argv[1], "rb") as log:
    log.seek(int(sys.argv[2]))
    lines = log.read().decode("utf-8", "replace").splitlines()
entries = []  # [severity, text], continuation lines (a tab first) joined to their entry
for line in lines:
    match = re.match(r"^\d{4}-\d\d-\d\d \S+ \S+ \[\d+\] (\w+):  (.*)$", line)
    if match:
        entries.append([match.group(1), match.group(2)])
    elif entries and line.startswith("\t"):
        entries[-1][1] += "\n" + line[1:]
statements = []
for index, (severity, text) in enumerate(entries):
    match = re.match(r"^(?:statement|execute [^:]+): (.*)$", text, re.S) if severity == "LOG" else None
    if not match:
        continue
    sql = match.group(1)
    if index + 1 < len(entries) and entries[index + 1][0] == "DETAIL" and entries[index + 1][1].startswith("parameters: "):
        values = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", entries[index + 1][1]))
        sql = re.sub(r"\$(\d+)\b", lambda number: values[number.group(1)], sql)
    statements.append(sql)
if not statements:
    sys.exit("no statement of the no-op run in the server's log")
sys.stdout.write("".join(statement + "\0" for statement in statements))
print(f"{len(statements)} statements captured from one no-op run", file=sys.stderr)
PY
    cc -O2 -I"$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)" \
        Tests/Bench/floor_replay_statements.c -o "$WORK/replay" -lpq
    "$WORK/replay" "host=$PG_DIR user=postgres dbname=$DATABASE" "$WORK/noop-statements" \
        || { echo "the no-op run's statements do not replay" >&2; exit 1; }
    PSQL=("$WORK/pq_probe" "host=$PG_DIR user=postgres dbname=$DATABASE" -- "$PG_BIN/psql" -X -q -h "$PG_DIR" -U postgres -d "$DATABASE" -c "SELECT 1" \
        -- "$WORK/replay" "host=$PG_DIR user=postgres dbname=$DATABASE" "$WORK/noop-statements")
fi

python3 - "$RUNS" "$EF" "$ROOT" "$WORK/hello-static" "$WORK/hello-dynamic" "${PSQL[@]}" > "$WORK/times" <<'PY'
import os, statistics, sys, time
runs, ef, root, hello_static, hello_dynamic = int(sys.argv[1]), *sys.argv[2:6]
commands = {"ours": [ef, "--root", root, "run"], "static": [hello_static], "dynamic": [hello_dynamic]}
if len(sys.argv) > 6:
    first = sys.argv.index("--")
    second = sys.argv.index("--", first + 1)
    commands["probe"] = sys.argv[6:first]
    commands["psql"] = sys.argv[first + 1:second]
    commands["replay"] = sys.argv[second + 1:]
null = os.open(os.devnull, os.O_WRONLY)
wall = {name: [] for name in commands}
cpu = {name: [] for name in commands}
for round in range(runs + 3):  # the first three rounds warm the page cache and are not counted
    for name, argv in commands.items():
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - start
        if status != 0:
            sys.exit(f"{' '.join(argv)} exited with status {status}")
        if round >= 3:
            wall[name].append(elapsed)
            cpu[name].append(usage.ru_utime + usage.ru_stime)
for name in commands:
    print(name, f"{statistics.median(wall[name]):.6f}", f"{statistics.median(cpu[name]):.6f}", f"{min(wall[name]):.6f}")
PY
read -r _ ours ours_cpu ours_min < <(grep '^ours ' "$WORK/times")
read -r _ static static_cpu static_min < <(grep '^static ' "$WORK/times")
read -r _ dynamic dynamic_cpu dynamic_min < <(grep '^dynamic ' "$WORK/times")
ms() { python3 -c "import sys; print(f'{float(sys.argv[1]) * 1000:.2f} ms')" "$1"; }
echo "median of $RUNS, interleaved (wall; CPU user+system; fastest):"
echo "  eventfilter run (nothing to do, $BACKEND): $(ms "$ours"); CPU $(ms "$ours_cpu"); fastest $(ms "$ours_min")"
echo "  hello world, static stdlib:              $(ms "$static"); CPU $(ms "$static_cpu"); fastest $(ms "$static_min")"
echo "  hello world, dynamic stdlib:             $(ms "$dynamic"); CPU $(ms "$dynamic_cpu"); fastest $(ms "$dynamic_min")"
if [ "$BACKEND" = postgresql ]; then
    read -r _ probe probe_cpu probe_min < <(grep '^probe ' "$WORK/times")
    read -r _ psql psql_cpu psql_min < <(grep '^psql ' "$WORK/times")
    echo "  C + libpq connecting, SELECT 1:           $(ms "$probe"); CPU $(ms "$probe_cpu"); fastest $(ms "$probe_min")"
    echo "  psql connecting and running SELECT 1:     $(ms "$psql"); CPU $(ms "$psql_cpu"); fastest $(ms "$psql_min")"
    read -r _ replay replay_cpu replay_min < <(grep '^replay ' "$WORK/times")
    echo "  C + libpq replaying the run's statements: $(ms "$replay"); CPU $(ms "$replay_cpu"); fastest $(ms "$replay_min")"
fi
echo "store after: $(backend_sql "$ROOT" "SELECT count(*) FROM run_log") runs logged; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}x')" "$1" "$2"; }
if [ "$BACKEND" = postgresql ]; then
    sum() { python3 -c "import sys; print(float(sys.argv[1]) + float(sys.argv[2]))" "$1" "$2"; }
    floor_time noop "$ours" "$(sum "$dynamic" "$replay")" 1.5 "dynamic hello world (the first-measured floor) + C/libpq replaying the no-op run's own statements; median of $RUNS; CPU $(ratio "$ours_cpu" "$(sum "$dynamic_cpu" "$replay_cpu")")"
    floor_time noop "$ours" "$(sum "$static" "$replay")" 1.5 "static hello world + C/libpq replaying the no-op run's own statements; median of $RUNS; CPU $(ratio "$ours_cpu" "$(sum "$static_cpu" "$replay_cpu")")"
    floor_time noop "$ours" "$(sum "$static" "$probe")" 1.5 "static hello world + C/libpq connecting and running SELECT 1; median of $RUNS; CPU $(ratio "$ours_cpu" "$(sum "$static_cpu" "$probe_cpu")")"
fi
floor_time noop "$ours" "$static" 1.5 "hello world built the same way (static stdlib); median of $RUNS; CPU $(ratio "$ours_cpu" "$static_cpu")"
floor_time noop "$ours" "$dynamic" 1.5 "hello world with the dynamic stdlib, as first measured; median of $RUNS; CPU $(ratio "$ours_cpu" "$dynamic_cpu")"
