#!/usr/bin/env bash
# Where a message's time goes when `eventfilter run` delivers over SMTP with CONNECTIONS connections
# and the default window (MaxUnrecordedAcceptances: one place per connection) to Postfix's
# smtp-sink, the outbox in a PostgreSQL server of the script's own. A message's final "." waits
# until the acceptance that last held its place is committed (that is what bounds a crash to one
# message sent twice per connection), so the record's commit, WAL flush included, is on the path
# of every message; the next message's MAIL, RCPT, DATA and body go out while it commits.
#   Tests/Bench/smtp_path.sh [MESSAGES]       (default 5000; MESSAGES = users x 100 events)
#   CONNECTIONS=4                             MaxConnections of the deliveries and the concurrency of
#                                             the other clients (default 1); pgbench stays one session,
#                                             as our records share one
#   WINDOW_SCHEDULE=replied                   when the window floor commits (floor_smtp_window.c;
#                                             default full)
#   EVENTFILTER=/path/to/eventfilter          that binary instead of a fresh release build
#   REPEAT=2                                  rounds of the timed runs, taking turns
# Prints, from one server and one sink:
#   - the statements the server ran during one delivery (log_min_duration_statement = 0), per kind,
#     with their execution time, and the share of the delivery's span in gaps of over 5 ms between
#     records (the batch boundaries; the settling, the claim and the read of the next batch run on
#     the outbox's own connection beside the SMTP exchange);
#   - WAL flushes per message and their time (track_wal_io_timing, pg_stat_wal);
#   - the send/receive system calls per message (strace -c -f);
#   - the commit cycle, ours and the window floor's (perf's system-call tracepoints, under perf,
#     which slows both): records per message, each record's round trip to the server (sent to
#     its result: the statement, the commit and its WAL flush), and for ours the time around it:
#     from the last SMTP reply before the record to its sending, and from its result to the next
#     send on an SMTP connection (with several connections, the last reply and the next send on
#     any of them: the group's last reply and the first "." a freed place lets go, give or take a
#     command); skipped when perf cannot record system calls here;
#   - in rounds taking turns: ours; ours with MaxUnrecordedAcceptances=64 (a crash may then send
#     64 twice: what the per-message commit costs the path); the window floor
#     (Tests/Bench/floor_smtp_window.c: the fastest C client keeping the default bound, committing
#     every acceptance with our statement to this server; see stage_smtp.sh); ours with the
#     server's synchronous_commit off (an experiment only, never a setting to use: it shows what
#     the WAL flush of each record costs the path); libcurl alone (floor_smtp_curl.c);
#     smtp-source -d; pgbench's one-row commits with the server's CPU per commit (with
#     synchronous_commit on, then off). CPU in microseconds per message.
# Needs postfix (smtp-sink, smtp-source), strace, PostgreSQL's server and pgbench, libcurl's,
# libpq's and SQLite's headers; perf (linux-perf) for the commit cycle.
set -euo pipefail
cd "$(dirname "$0")/../.."
export BACKEND=postgresql
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
source Tests/Bench/floor.sh
MESSAGES=${1:-5000}
USERS=$(( MESSAGES / 100 ))
REPEAT=${REPEAT:-2}
CONNECTIONS=${CONNECTIONS:-1}
for tool in smtp-sink smtp-source strace; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
fixture_binary
fixture_smtp_bench smtp-path
backend_start
echo "$MESSAGES messages, MaxConnections=$CONNECTIONS; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

server_set() {  # NAME VALUE: ALTER SYSTEM and reload
    backend_psql postgres -c "ALTER SYSTEM SET $1 = $2" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.3
}

ROOT="$WORK/c$CONNECTIONS"
fixture_root "$ROOT" Transport=SMTP TransportServer=127.0.0.1 "TransportPort=$PORT" "MaxConnections=$CONNECTIONS"
fixture_queue "$ROOT" "$USERS"
"$EF" --root "$ROOT" --now "$FIXTURE_NOW" run >/dev/null  # the filter's work done, the paths warm
WIDE="$WORK/w64"
fixture_root "$WIDE" Transport=SMTP TransportServer=127.0.0.1 "TransportPort=$PORT" "MaxConnections=$CONNECTIONS" MaxUnrecordedAcceptances=64
fixture_queue "$WIDE" "$USERS"
"$EF" --root "$WIDE" --now "$FIXTURE_NOW" run >/dev/null
DB=$(cat "$ROOT/.bench-database")
SIZE=$(backend_sql "$ROOT" "SELECT CAST(avg(length(message)) AS integer) FROM outbox_message")
backend_psql "$DB" -c "CREATE TABLE bench_commit(id bigserial PRIMARY KEY, v integer)" >/dev/null
echo "INSERT INTO bench_commit(v) VALUES (1);" > "$WORK/commit.sql"

deliver() {  # [PREFIX...] -> "messages/s us-ours us-server" of one delivery of every message of $ROOT
    backend_sql "$ROOT" "UPDATE outbox SET state = 'queued'" >/dev/null
    sleep 0.2
    local server0 line
    server0=$(server_cpu)
    line=$("$@" /usr/bin/time -f "%U %S" -o "$WORK/time" "$EF" --root "$ROOT" --now "$FIXTURE_NOW" run --verbose \
        | sed -nE 's/^delivered ([0-9]+), .* in ([0-9.]+) s( \(CPU [^)]*\))?$/\1 \2/p')
    sleep 0.2  # the backend's exit reaped by the postmaster
    read -r delivered seconds <<<"$line"
    [ "$delivered" = "$MESSAGES" ] || { echo "delivered $delivered of $MESSAGES" >&2; exit 1; }
    echo "$(python3 -c "print(round($MESSAGES / $seconds))") $(per_message 0 "$(awk '{print $1 + $2}' "$WORK/time")") $(per_message "$server0" "$(server_cpu)")"
}

# 1. The statements of one delivery, from the server's log.
server_set log_min_duration_statement 0
server_set log_line_prefix "'%m '"
LOGSTART=$(wc -c < "$PG_DIR/server.log")
deliver >/dev/null
server_set log_min_duration_statement -1
tail -c +$((LOGSTART + 1)) "$PG_DIR/server.log" > "$WORK/statements.log"
python3 - "$WORK/statements.log" "$MESSAGES" <<'PY'
import re, sys, datetime, collections
messages = int(sys.argv[2])
runs = []
for line in open(sys.argv[1]):
    m = re.match(r'(\S+ \S+) \S+ LOG:  duration: ([0-9.]+) ms  (execute|statement)[^:]*: (.*)', line)
    # The script's own statements (the requeue, the settings) are not the delivery's.
    if m and not re.match(r"(UPDATE outbox SET state = 'queued'|ALTER SYSTEM|SELECT pg_reload_conf)", m.group(4)):
        runs.append((datetime.datetime.fromisoformat(m.group(1)).timestamp(), float(m.group(2)), m.group(4)[:48]))
kinds = collections.defaultdict(lambda: [0, 0.0])
for _, ms, text in runs:
    kinds[text][0] += 1
    kinds[text][1] += ms
print(f"statements executed in one delivery of {messages}: {len(runs)} ({len(runs) / messages:.2f} per message)")
for text, (count, ms) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
    print(f"  {count:6d} x {text!r}: {ms:.1f} ms executing, {ms * 1000 / count:.0f} us each")
records = [r for r in runs if r[2].startswith("INSERT INTO outbox_delivered")]
span = records[-1][0] - records[0][0]
gaps = [b[0] - a[0] for a, b in zip(records, records[1:])]
between = sum(g for g in gaps if g > 0.005)
print(f"  the records span {span:.3f} s ({span * 1e6 / len(records):.0f} us per message); "
      f"gaps over 5 ms between records (the batch boundaries): {between * 1e3:.0f} ms, {between / span * 100:.0f}% of the span")
PY

# 2. WAL flushes per message.
backend_psql "$DB" -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
server_set track_wal_io_timing on
deliver >/dev/null
sleep 0.6  # the statistics reach the shared counters
IFS='|' read -r flushes flush_ms < <(backend_psql "$DB" -c "SELECT wal_sync, wal_sync_time FROM pg_stat_wal")
echo "WAL flushes in one delivery: $flushes ($(python3 -c "print(f'{$flushes / $MESSAGES:.2f}')") per message), $(python3 -c "print(round($flush_ms * 1000 / $flushes))") us each"

# 3. System calls per message.
deliver strace -c -f -o "$WORK/strace" >/dev/null
echo "system calls per message (strace -c -f, under strace): $(awk -v n="$MESSAGES" '$NF ~ /^(sendto|recvfrom|poll|futex)$/ {printf "%s %.1f  ", $NF, $4 / n}' "$WORK/strace")"

# 4. The commit cycle, from the times of the system calls.
TRACE=syscalls:sys_enter_connect,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_exit_recvfrom
TRACING=(perf record -e "$TRACE" -o)  # not -q: perf's own warnings (events lost) reach the output
if command -v perf >/dev/null && "${TRACING[@]}" "$WORK/probe.perf" true >/dev/null 2>&1; then
    deliver "${TRACING[@]}" "$WORK/ours.perf" >/dev/null
    window_floor "c$CONNECTIONS" "$CONNECTIONS" "$SIZE" "$CONNECTIONS" "${TRACING[@]}" "$WORK/floor.perf" >/dev/null
    { perf script --ns -i "$WORK/ours.perf" > "$WORK/ours.trace" && perf script --ns -i "$WORK/floor.perf" > "$WORK/floor.trace" &&
    python3 - "$WORK/ours.trace" "$WORK/floor.trace" "$MESSAGES" <<'PY'
import re, sys

def parse(path):
    """The sends and the receives that returned data, in time order, each with its socket and
    what that socket was connected to when it was used: 'smtp' (TCP) or 'store' (the server's
    Unix socket); and the store socket that sent most (the records' connection)."""
    events, waiting, peer = [], {}, {}
    for line in open(path):
        m = re.search(r'\s(\d+) \[\d+\]\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):(.*)', line)
        if not m:
            continue
        tid, t, edge, call, rest = m.groups()
        if edge == 'enter':
            fd = int(re.search(r'fd: (0x[0-9a-f]+)', rest).group(1), 16)
            if call == 'connect':
                length = int(re.search(r'addrlen: (0x[0-9a-f]+)', rest).group(1), 16)
                peer[fd] = 'smtp' if length == 16 else 'store'  # sockaddr_in is 16 bytes
            elif call == 'sendto':
                events.append((float(t), 'send', fd, peer.get(fd)))
            else:
                waiting[tid] = fd
        else:
            fd, value = waiting.pop(tid, None), int(rest.split()[0], 16)
            if fd is not None and 0 < value < 1 << 63:
                events.append((float(t), 'receive', fd, peer.get(fd)))
    events.sort()
    sends = {}
    for _, kind, fd, to in events:
        if kind == 'send' and to == 'store':
            sends[fd] = sends.get(fd, 0) + 1
    return events, max(sends, key=sends.get) if sends else None

def summary(values):
    if not values:
        return "none traced"
    values = sorted(values)
    return f"median {values[len(values) // 2] * 1e6:.0f} us, mean {sum(values) / len(values) * 1e6:.0f} us"

def cycle(path, name):
    events, store = parse(path)
    gathering, round_trips, release, between = [], [], [], []
    last_reply = sent = answered = previous = None
    for t, kind, fd, to in events:
        if kind == 'receive' and to == 'smtp':
            last_reply = t
        elif kind == 'send' and fd == store and to == 'store':  # the fd still the store's (not reused)
            if last_reply is not None:
                gathering.append(t - last_reply)
            if previous is not None:
                between.append(t - previous)
            previous, sent, answered = t, t, None
        elif kind == 'receive' and fd == store and to == 'store' and sent is not None:
            round_trips.append(t - sent)
            sent, answered = None, t
        elif kind == 'send' and to == 'smtp' and answered is not None:
            release.append(t - answered)
            answered = None
    messages = int(sys.argv[3])
    # The count includes the connection's few set-up round trips (startup, prepares).
    print(f"{name}: {len(round_trips)} records ({len(round_trips) / messages:.2f} a message), one every {summary(between)}")
    print(f"{name}: a record's round trip (statement, commit, WAL flush): {summary(round_trips)}")
    if gathering and release:  # the window floor's SMTP sockets are written and read, not sent and received on
        print(f"{name}: from the last SMTP reply before a record to its sending: {summary(gathering)}; "
              f"from its result to the next send on an SMTP connection: {summary(release)}")

cycle(sys.argv[1], "the commit cycle, ours")
cycle(sys.argv[2], "the commit cycle, the window floor")
PY
    } || echo "the commit cycle: the traces could not be read"
else
    echo "the commit cycle: needs perf (apt-get install linux-perf) allowed to trace system calls"
fi

# 5. Rates, taking turns.
pgbench_commits() {  # -> "commits/s us-server-per-commit"
    local server0 tps
    server0=$(server_cpu)
    tps=$("$PG_BIN/pgbench" -h "$PG_DIR" -U postgres -n -M prepared -c 1 -t "$MESSAGES" -f "$WORK/commit.sql" "$DB" 2>/dev/null \
        | sed -nE 's/^tps = ([0-9.]+).*/\1/p')
    sleep 0.2
    echo "$(python3 -c "print(round($tps))") $(per_message "$server0" "$(server_cpu)")"
}
for round in $(seq 1 "$REPEAT"); do
    server_set synchronous_commit on
    read -r r u s < <(deliver); echo "round $round: ours $r/s (CPU: ours $u us, server $s us per message)"
    read -r r u s < <(ROOT=$WIDE deliver); echo "round $round: ours, MaxUnrecordedAcceptances=64 $r/s (CPU: ours $u us, server $s us per message)"
    read -r r u k s < <(window_floor "c$CONNECTIONS" "$CONNECTIONS" "$SIZE" "$CONNECTIONS")
    echo "round $round: the window floor $r/s (CPU: the floor $u us, the sink $k us, server $s us per message)"
    read -r c p < <(pgbench_commits); echo "round $round: pgbench one-row commits $c/s (server $p us per commit)"
    read -r seconds cpu failed < <("$WORK/floor_smtp_curl" "smtp://127.0.0.1:$PORT" "$CONNECTIONS" "$MESSAGES" "$SIZE" debug)
    echo "round $round: libcurl alone $(python3 -c "print(round($MESSAGES / $seconds))")/s (CPU $(python3 -c "print(round($cpu * 1e6 / $MESSAGES))") us per message)"
    seconds=$( { floor_seconds smtp-source -s "$CONNECTIONS" -d -m "$MESSAGES" -l "$SIZE" -f bench@example.com -t sink@example.com 127.0.0.1:$PORT; } 3>&1 )
    echo "round $round: smtp-source -d $(python3 -c "print(round($MESSAGES / $seconds))")/s"
    server_set synchronous_commit off
    read -r r u s < <(deliver); echo "round $round: ours, server's synchronous_commit off (experiment) $r/s (CPU: ours $u us, server $s us per message)"
    read -r c p < <(pgbench_commits); echo "round $round: pgbench one-row commits, synchronous_commit off $c/s (server $p us per commit)"
done
server_set synchronous_commit on
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
