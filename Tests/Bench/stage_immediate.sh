#!/usr/bin/env bash
# Stage "immediate": `eventfilter run` (the filter, then file delivery) on EVENTS events x USERS
# subscribers who all get each message at once: EVENTS x USERS messages queued and written.
#   Tests/Bench/stage_immediate.sh [EVENTS] [USERS]        (default 10000 x 100: 1M messages)
#   BACKEND=postgresql Tests/Bench/stage_immediate.sh ...   (Tests/Bench/backend.sh)
# The floor, measured in the same run on the same data: the same outbox rows inserted by the
# database's own client in one statement per table (sqlite3 `INSERT ... SELECT` from the run's
# store; psql `COPY` of them, exported beforehand), plus a C program (compiled here with cc)
# writing the same files as the file transport must (tmp + rename, syncfs per 500 files).
# Each side writes its files into a new, empty file system of its own of the kind /tmp is (ext4
# without a journal; fixture_fresh_fs in Tests/Bench/fixture.sh says why), so neither meets the
# inodes another run freed; without root both write under /tmp, as noted in the output.
# Prints the load before and after, each side's wall, CPU and kernel (system) CPU for the rows
# and for the files, and a FLOOR line (Tests/Bench/floor.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
source Tests/Bench/floor.sh
EVENTS=${1:-10000}
USERS=${2:-100}
fixture_binary
ROOT=$(mktemp -d /tmp/ef-stage-immediate.XXXXXX)
trap 'fixture_fresh_fs_cleanup; backend_stop; [ -n "${KEEP_ROOT:-}" ] || rm -rf "$ROOT"' EXIT
backend_start
fixture_immediate "$ROOT" "$EVENTS" "$USERS"
NOW=$FIXTURE_NOW
MAIL="$ROOT/var/log/mail"
if fixture_fresh_fs "$MAIL" $((EVENTS * USERS)) && fixture_fresh_fs "$ROOT/floor-mail" $((EVENTS * USERS)); then
    echo "files: each side into a new ext4 file system of its own without a journal, as /tmp's (loop device)"
else
    fixture_fresh_fs_cleanup
    mkdir -p "$MAIL" "$ROOT/floor-mail"
    echo "files: both sides under /tmp (no loop device: needs root): whichever writes nearer the deletion of many files pays more kernel CPU a file"
fi
echo "backend: $BACKEND; $EVENTS events x $USERS users, immediate, file transport; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

exec 3>"$ROOT/ours.seconds"
floor_seconds /usr/bin/time -o "$ROOT/ours.time" -f "%e %U %S %M" "$EF" --root "$ROOT" --now "$NOW" run --verbose > "$ROOT/ours.out"
exec 3>&-
cat "$ROOT/ours.out"
OURS=$(cat "$ROOT/ours.seconds")
read -r _ OURS_USER OURS_SYSTEM OURS_KIB < "$ROOT/ours.time"
echo "run: $OURS_USER s user, $OURS_SYSTEM s system (of this process; a PostgreSQL server's own work is not in it), peak $OURS_KIB KiB"
FILES=$(find "$MAIL" -name '*.eml' | wc -l)
SENT=$(backend_sql "$ROOT" "SELECT count(*) FROM outbox WHERE state = 'sent'")
echo "ours: $OURS s; $FILES files ($(du -sh "$MAIL" | cut -f1)), $SENT messages sent; store $(backend_size "$ROOT")"
[ "$FILES" -eq $((EVENTS * USERS)) ] && [ "$SENT" -eq "$FILES" ] || { echo "expected $((EVENTS * USERS)) messages" >&2; exit 1; }

# The outbox's tables as this binary's schema has them (the message bodies may sit in a table of their own).
TABLES=outbox
if backend_sql "$ROOT" "SELECT count(*) FROM outbox_message" >/dev/null 2>&1; then TABLES="outbox outbox_message"; fi
echo "floor: the rows of $TABLES, then the files"
if [ "$BACKEND" = postgresql ]; then
    SOURCE_DB=$(cat "$ROOT/.bench-database")
    backend_psql postgres -c "CREATE DATABASE floor_immediate" >/dev/null
    "$PG_BIN/pg_dump" -h "$PG_DIR" -U postgres --schema-only "$SOURCE_DB" | backend_psql floor_immediate >/dev/null
    : > "$ROOT/floor.sql"
    for table in $TABLES; do
        backend_psql "$SOURCE_DB" -c "\\copy $table TO '$ROOT/$table.copy' (FORMAT binary)"
        echo "\\copy $table FROM '$ROOT/$table.copy' (FORMAT binary)" >> "$ROOT/floor.sql"
    done
    exec 3>"$ROOT/sql.seconds"
    floor_seconds backend_psql floor_immediate -1 -f "$ROOT/floor.sql"
    exec 3>&-
else
    sqlite3 "$ROOT/var/eventfilter.db" .schema | grep -v '^CREATE TABLE sqlite_sequence' | sqlite3 "$ROOT/floor.db"
    {
        echo "PRAGMA journal_mode = WAL; ATTACH '$ROOT/var/eventfilter.db' AS source; BEGIN;"
        for table in $TABLES; do echo "INSERT INTO main.$table SELECT * FROM source.$table;"; done
        echo "COMMIT;"
    } > "$ROOT/floor.sql"
    exec 3>"$ROOT/sql.seconds"
    floor_seconds /usr/bin/time -o "$ROOT/sql.time" -f "%U %S" sqlite3 "$ROOT/floor.db" < "$ROOT/floor.sql" >/dev/null
    exec 3>&-
fi
SQL=$(cat "$ROOT/sql.seconds")
read -r FILES_SECONDS FILES_CPU FILES_SYSTEM < <("$ROOT/floor_write_files" "$MAIL" "$ROOT/floor-mail")
FLOOR=$(python3 -c "import sys; print(float(sys.argv[1]) + float(sys.argv[2]))" "$SQL" "$FILES_SECONDS")
echo "floor: $SQL s inserting the rows + $FILES_SECONDS s writing the files = $FLOOR s"
# Side by side: the filter against the rows, delivery against the files (wall; the kernel's CPU
# for the files shows whether both sides created them under the same conditions).
python3 - "$ROOT/ours.out" "$SQL" "$FILES_SECONDS" "$FILES_CPU" "$FILES_SYSTEM" <<'PY'
import re, sys
stages = {}
for line in open(sys.argv[1]):
    match = re.search(r"in ([0-9.]+) s \(CPU ([0-9.]+) s user, ([0-9.]+) s system\)", line)
    if match:
        stages["delivery" if line.startswith("delivered") else "filter"] = tuple(map(float, match.groups()))
sql, files, files_cpu, files_system = map(float, sys.argv[2:6])
if "filter" in stages:
    wall, user, system = stages["filter"]
    print(f"filter: ours {wall:.2f} s (CPU {user:.2f} s user, {system:.2f} s system) against the rows' {sql:.2f} s")
if "delivery" in stages:
    wall, user, system = stages["delivery"]
    print(f"files: ours {wall:.2f} s (CPU {user:.2f} s user, {system:.2f} s system) against the floor's {files:.2f} s "
          f"(CPU {files_cpu - files_system:.2f} s user, {files_system:.2f} s system)")
PY
if [ -f "$ROOT/sql.time" ]; then
    # On a loaded machine wall time mostly measures the wait for a core; CPU time does not.
    python3 - "$OURS_USER" "$OURS_SYSTEM" "$(cat "$ROOT/sql.time")" "$FILES_CPU" <<'PY'
import sys
ours = float(sys.argv[1]) + float(sys.argv[2])
sql = sum(map(float, sys.argv[3].split()))
files = float(sys.argv[4])
print(f"CPU (user + system): ours {ours:.2f} s; floor {sql:.2f} s sqlite3 + {files:.2f} s writing the files = {sql + files:.2f} s; ratio {ours / (sql + files):.2f}x")
PY
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
floor_time immediate "$OURS" "$FLOOR" 1.2 "$((EVENTS * USERS)) messages; load $(cut -d' ' -f1 /proc/loadavg)"
