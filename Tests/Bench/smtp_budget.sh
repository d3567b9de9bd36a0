#!/usr/bin/env bash
# The SMTP row's budget: does its aim fit in this machine's cores at all, for any client that
# records every acceptance durably? At a ratio X of Postfix's smtp-source -d (R messages/second,
# CONNECTIONS sessions, to smtp-sink), a client delivers X x R messages a second, so all processes
# together have CORES / (X x R) CPU-seconds per message. This measures, in the same run, the CPU
# per message that no recording client can do without:
#   sink    smtp-sink's, serving smtp-source at its rate R, or serving eventfilter's own run (in
#           the same rounds) when that costs it less: a client that pipelines its commands, as
#           ours does, lets the sink read several at once, and the least share is the one to count;
#   client  smtp-source's own (a C program that only speaks SMTP and records nothing: the least
#           any client spends on the SMTP side);
#   record  the cheapest durable record of an acceptance: Tests/Bench/floor_record_acceptances.c
#           appending to outbox_delivered with eventfilter's statement, in a store eventfilter
#           made (SQLite: WAL, synchronous=NORMAL; PostgreSQL: the script's own server, fsync on),
#           each thread on a store connection of its own; the program's CPU plus, on PostgreSQL,
#           the server's (the postmaster and its children) over the same span, per row. The default
#           window lets at most CONNECTIONS acceptances wait for their record (one per
#           connection), so two groupings keep to it: CONNECTIONS threads committing one row each
#           side by side, and one thread committing CONNECTIONS rows at a time; the cheaper is the
#           record's figure. A third, CONNECTIONS threads of CONNECTIONS rows each (CONNECTIONS^2
#           acceptances waiting, more than the window allows), is printed beside them as what
#           grouping beyond the window would save.
# Beside them, for reference, eventfilter's own run delivering the same messages (the outbox put
# back to queued) with its CPU, the sink's and the PostgreSQL server's per message.
# The largest ratio that fits is CORES / (sink + client + record) / R. It is also bounded by the
# store's commits: the faster of the two groupings within the window, run alone, is the most
# acceptances a second any client can record with that window. The lower of the two bounds is the
# FLOOR line's figure, against R. R falls when the machine is busy with other work while CPU per
# message hardly moves: the output also says how many cores smtp-source and its sink kept busy,
# and the CPU figures are what to read on a loaded machine.
#   Tests/Bench/smtp_budget.sh [MESSAGES]         (MESSAGES = users x 100 events; default 10000)
#   BACKEND=postgresql Tests/Bench/smtp_budget.sh the store in a PostgreSQL server of the script's own
#   EVENTFILTER=/path/to/eventfilter              that binary (it makes the store) instead of a fresh release build
#   CONNECTIONS="4 1"                             the sessions (and record threads) of each row; aims:
#                                                 1.0x with 4, 0.8x with 1 (as stage_smtp.sh)
#   REPEAT=3                                      rounds, the measurements taking turns (medians)
# Needs postfix (smtp-sink, smtp-source), SQLite's and libpq's headers (libsqlite3-dev, libpq-dev).
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
source Tests/Bench/floor.sh
MESSAGES=${1:-10000}
USERS=$(( MESSAGES / 100 ))
CONNECTIONS=${CONNECTIONS:-4 1}
REPEAT=${REPEAT:-3}
CORES=$(nproc)
command -v smtp-source >/dev/null || { echo "needs postfix's smtp-sink and smtp-source (apt-get install postfix)"; exit 1; }
fixture_binary
WORK=$(mktemp -d /tmp/ef-smtp-budget.XXXXXX)
chmod 755 "$WORK"
fixture_smtp_sink
trap 'kill $SINK 2>/dev/null; wait $SINK 2>/dev/null || true; backend_stop; rm -rf "$WORK"' EXIT
PG_INCLUDE=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
cc -O2 -I"$PG_INCLUDE" -o "$WORK/floor_record_acceptances" Tests/Bench/floor_record_acceptances.c -lsqlite3 -lpq -lpthread
backend_start
echo "backend: $BACKEND; $MESSAGES messages; $CORES cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# The store: eventfilter's own, its messages composed and delivered once to the sink (so the
# message size and the sink's reply are ours, and outbox_delivered is empty again, settled).
STORE="$WORK/store"
fixture_root "$STORE" Transport=SMTP TransportServer=127.0.0.1 "TransportPort=$PORT" MaxConnections=4
fixture_queue "$STORE" "$USERS"
"$EF" --root "$STORE" --now "$FIXTURE_NOW" run >/dev/null
SIZE=$(backend_sql "$STORE" "SELECT CAST(avg(length(message)) AS integer) FROM outbox_message")
REPLY=$(backend_sql "$STORE" "SELECT last_error FROM outbox WHERE state = 'sent' ORDER BY id LIMIT 1")
FIRST=$(backend_sql "$STORE" "SELECT min(id) FROM outbox")
[ "$(backend_sql "$STORE" "SELECT count(*) FROM outbox WHERE state = 'sent'")" = "$MESSAGES" ] \
    || { echo "the store's run did not deliver $MESSAGES messages" >&2; exit 1; }
if [ "$BACKEND" = postgresql ]; then
    TARGET="host=$PG_DIR user=postgres dbname=$(cat "$STORE/.bench-database")"
    POSTMASTER=$(head -1 "$PG_DIR/data/postmaster.pid")
else
    TARGET="$STORE/var/eventfilter.db"
    POSTMASTER=0
fi
echo "store: $MESSAGES messages of $SIZE bytes (average), ids from $FIRST; the sink's reply: $REPLY"

source_round() {  # SESSIONS -> "messages/second us-source us-sink" of smtp-source -d (-l SIZE: as many bytes after DATA as ours)
    local seconds sink0 cpu
    sink0=$(cpu_of $SINK)
    seconds=$( { floor_seconds /usr/bin/time -f "%U %S" -o "$WORK/time" smtp-source -s "$1" -d -m "$MESSAGES" -l "$SIZE" \
        -f bench@example.com -t sink@example.com 127.0.0.1:$PORT; } 3>&1 )
    cpu=$(awk '{print $1 + $2}' "$WORK/time")
    echo "$(python3 -c "print(round($MESSAGES / $seconds))") $(per_message 0 "$cpu") $(per_message "$sink0" "$(cpu_of $SINK)")"
}

ours_round() {  # CONNECTIONS -> "messages/second us-ours us-sink us-server" of eventfilter's run delivering the outbox again
    local sink0 server0 line cpu delivered seconds
    backend_sql "$STORE" "DELETE FROM outbox_delivered" >/dev/null  # a record round's rows would be settled as sent
    backend_sql "$STORE" "UPDATE outbox SET state = 'queued'" >/dev/null
    sed -i "s/^MaxConnections=.*/MaxConnections=$1/" "$STORE/settings/site.ini"
    sink0=$(cpu_of $SINK); server0=$(server_cpu)
    line=$(/usr/bin/time -f "%U %S" -o "$WORK/time" "$EF" --root "$STORE" --now "$FIXTURE_NOW" run --verbose \
        | sed -nE 's/^delivered ([0-9]+), .* in ([0-9.]+) s( \(CPU [^)]*\))?$/\1 \2/p')
    sleep 0.2  # the backend's exit reaped by the postmaster
    read delivered seconds <<< "$line"
    [ "$delivered" = "$MESSAGES" ] || { echo "eventfilter run delivered ${delivered:-nothing} of $MESSAGES" >&2; exit 1; }
    cpu=$(awk '{print $1 + $2}' "$WORK/time")
    echo "$(python3 -c "print(round($MESSAGES / $seconds))") $(per_message 0 "$cpu") $(per_message "$sink0" "$(cpu_of $SINK)") $(per_message "$server0" "$(server_cpu)")"
}

record_round() {  # THREADS PER_COMMIT -> "rows/second us-program us-server" of MESSAGES acceptances appended
    local seconds cpu server
    # Each round from the same start: the table empty (as the settling leaves it), its dead rows
    # vacuumed away (PostgreSQL) or the log checkpointed (SQLite).
    if [ "$BACKEND" = postgresql ]; then
        backend_sql "$STORE" "DELETE FROM outbox_delivered" >/dev/null
        backend_sql "$STORE" "VACUUM outbox_delivered" >/dev/null
    else
        backend_sql "$STORE" "DELETE FROM outbox_delivered; PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    fi
    read seconds cpu server < <("$WORK/floor_record_acceptances" "$BACKEND" "$TARGET" "$1" "$MESSAGES" "$2" "$FIRST" "$REPLY" "$POSTMASTER")
    [ "$(backend_sql "$STORE" "SELECT count(*) FROM outbox_delivered")" = "$MESSAGES" ] \
        || { echo "floor_record_acceptances did not append $MESSAGES rows" >&2; exit 1; }
    echo "$(python3 -c "print(round($MESSAGES / $seconds))") $(per_message 0 "$cpu") $(per_message 0 "$server")"
}

median() { python3 -c "import statistics, sys; print(round(statistics.median(float(x) for x in sys.argv[1:])))" "$@"; }

plural() { [ "$1" = 1 ] && echo "$1 $2" || echo "$1 ${2}s"; }

measure() {  # SESSIONS AIM
    local c=$1 r s k v
    local ours=() ours_cpu=() ours_sink=() ours_server=() rates=() source_cpu=() sink_cpu=() side=() side_cpu=() side_server=() grouped=() grouped_cpu=() grouped_server=() beyond=() beyond_cpu=() beyond_server=()
    for round in $(seq 1 "$REPEAT"); do
        read r s k v < <(ours_round "$c")
        ours+=("$r"); ours_cpu+=("$s"); ours_sink+=("$k"); ours_server+=("$v")
        read r s k < <(source_round "$c")
        rates+=("$r"); source_cpu+=("$s"); sink_cpu+=("$k")
        read r s k < <(record_round "$c" 1)
        side+=("$r"); side_cpu+=("$s"); side_server+=("$k")
        if [ "$c" -gt 1 ]; then
            read r s k < <(record_round 1 "$c")
            grouped+=("$r"); grouped_cpu+=("$s"); grouped_server+=("$k")
            read r s k < <(record_round "$c" "$c")
            beyond+=("$r"); beyond_cpu+=("$s"); beyond_server+=("$k")
        fi
    done
    local name
    name=$(plural "$c" connection)
    echo "$name: smtp-source -d -s $c ${rates[*]} msgs/s, CPU us/message source ${source_cpu[*]}, sink ${sink_cpu[*]} (load $(cut -d' ' -f1 /proc/loadavg))"
    echo "$name: eventfilter run ${ours[*]} msgs/s, CPU us/message ours ${ours_cpu[*]}, sink ${ours_sink[*]}, store server ${ours_server[*]}"
    echo "$name: record, $(plural "$c" thread), 1 row per commit: ${side[*]} rows/s, CPU us/row program ${side_cpu[*]}, server ${side_server[*]}"
    if [ "$c" -gt 1 ]; then
        echo "$name: record, 1 thread, $c rows per commit: ${grouped[*]} rows/s, CPU us/row program ${grouped_cpu[*]}, server ${grouped_server[*]}"
        echo "$name: record, $c threads, $c rows per commit (beyond the window): ${beyond[*]} rows/s, CPU us/row program ${beyond_cpu[*]}, server ${beyond_server[*]}"
    fi
    local rate sink source one group over commits
    rate=$(median "${rates[@]}"); sink=$(median "${sink_cpu[@]}"); source=$(median "${source_cpu[@]}")
    local piped ours_need
    piped=$(median "${ours_sink[@]}")
    ours_need=$(( $(median "${ours_cpu[@]}") + piped + $(median "${ours_server[@]}") ))
    one=$(( $(median "${side_cpu[@]}") + $(median "${side_server[@]}") ))
    commits=$(median "${side[@]}")
    group=$one; over=$one
    if [ "$c" -gt 1 ]; then
        group=$(( $(median "${grouped_cpu[@]}") + $(median "${grouped_server[@]}") ))
        over=$(( $(median "${beyond_cpu[@]}") + $(median "${beyond_server[@]}") ))
        commits=$(python3 -c "print(max($commits, $(median "${grouped[@]}")))")
    fi
    python3 - "$c" "$CORES" "$rate" "$sink" "$source" "$one" "$group" "$over" "$commits" "$2" "$piped" "$ours_need" "$(median "${ours[@]}")" <<'PY' > "$WORK/budget"
import sys
c, cores = int(sys.argv[1]), int(sys.argv[2])
rate, served, source, one, group, over, commits, aim, piped, ours_need, ours = (float(x) for x in sys.argv[3:])
sink = min(served, piped)
sink_note = f"serving eventfilter; {served:g} serving smtp-source" if piped < served else f"serving smtp-source; {piped:g} serving eventfilter"
record = min(one, group)
need = sink + source + record
budget = cores * 1e6 / rate      # us of all cores per message at 1.0x of smtp-source
fits_cpu = cores * 1e6 / need    # messages/second the cores carry at that cost
fits = min(fits_cpu, commits)
busy = (sink + source) * rate / 1e6
grouping = (f"the cheaper of {c} side by side, {one:g}, and {c} per commit, {group:g}; {c} threads of {c}, beyond the window: {over:g}"
            if c > 1 else "1 per commit")
print(f"CPU us/message (medians): sink {sink:g} ({sink_note}) + smtp-source {source:g} + record {record:g} ({grouping}) = {need:g}; "
      f"{cores} cores at 1.0x of smtp-source's {rate:,.0f}/s allow {budget:.0f}, {budget - sink - source:.0f} beyond smtp-source and its sink: "
      f"{'fits' if need <= budget else 'does not fit'}; "
      f"by CPU at most {fits_cpu:,.0f}/s = {fits_cpu / rate:.2f}x of smtp-source (which with its sink kept {busy:.2f} of {cores} cores busy)")
print(f"the store's commits with at most {c} acceptance{'s' if c > 1 else ''} waiting (the default window): "
      f"at most {commits:,.0f}/s = {commits / rate:.2f}x of smtp-source; the aim {aim:g}x needs {aim * rate:,.0f}/s: "
      f"{'fits' if commits >= aim * rate else 'does not fit'} under it")
print(f"eventfilter's run for reference: {ours:,.0f}/s = {ours / rate:.2f}x of smtp-source, using {ours_need:g} us/message "
      f"with its sink and store server, where the cores carry {cores * 1e6 / ours_need:,.0f}/s")
print(f"{fits:.0f} {rate:.0f} sink {sink:g} + smtp-source {source:g} + record {record:g} = {need:g} us/message "
      f"against {budget:.0f} at 1.0x; by CPU {fits_cpu / rate:.2f}x, by the store's commits {commits / rate:.2f}x")
PY
    head -3 "$WORK/budget" | sed "s/^/$(plural "$c" connection): /"
    local fits floor note
    read fits floor note < <(tail -1 "$WORK/budget")
    floor_rate smtp_budget "$fits" "$floor" "$2" "$(plural "$c" connection), the most any client that records durably can reach: $note ($MESSAGES messages of $SIZE bytes, median of $REPEAT)"
}

for c in $CONNECTIONS; do
    case $c in 1) measure 1 0.8 ;; *) measure "$c" 1.0 ;; esac
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
