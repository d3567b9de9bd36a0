#!/usr/bin/env bash
# End-to-end delivery benchmark: `eventfilter run` delivering 10,000 queued messages over SMTP to
# Postfix's smtp-sink, with MaxConnections 1 and 4, next to Postfix's own smtp-source load
# generator at the same concurrency (with -d: one reused connection per session, as we do;
# without: a new connection per message), and the same messages written by the file transport.
# One run each; messages/second and the ratio.
#   Tests/Bench/delivery_bench.sh [MESSAGES]     (MESSAGES = users x 100 events; default 10000)
#   BACKEND=postgresql Tests/Bench/delivery_bench.sh   the outbox in a PostgreSQL server the script
#                                                starts and stops (Tests/Bench/backend.sh)
#   EVENTFILTER=/path/to/eventfilter             that binary instead of a fresh release build
#   CPUS=0 Tests/Bench/delivery_bench.sh         pin server and clients to CPU 0 (taskset): with one
#                                                connection the rate is set by how fast the two
#                                                processes wake each other, which pinning makes steady
# Needs postfix (smtp-sink, smtp-source): apt-get install postfix.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
MESSAGES=${1:-10000}
USERS=$(( MESSAGES / 100 ))
command -v smtp-sink >/dev/null || { echo "needs postfix's smtp-sink and smtp-source (apt-get install postfix)"; exit 1; }
fixture_binary
WORK=$(mktemp -d /tmp/eventfilter-delivery.XXXXXX)
chmod 755 "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PIN=()
[ -n "${CPUS:-}" ] && PIN=(taskset -c "$CPUS")
"${PIN[@]}" smtp-sink -u nobody -c 127.0.0.1:$PORT 1000 >/dev/null 2>&1 &
SINK=$!
trap 'kill $SINK 2>/dev/null; wait $SINK 2>/dev/null || true; backend_stop; rm -rf "$WORK"' EXIT
sleep 0.5
backend_start
echo "backend: $BACKEND; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

ours() {  # connections|file -> prints "delivered seconds" of the delivery stage
    local root="$WORK/root$1" now=2026-05-04T10:00:00Z
    if [ "$1" = file ]; then
        fixture_root "$root"
    else
        fixture_root "$root" Transport=SMTP TransportServer=127.0.0.1 "TransportPort=$PORT" "MaxConnections=$1"
    fi
    fixture_queue "$root" "$USERS"
    "${PIN[@]}" "$EF" --root "$root" --now $now run --verbose | sed -nE 's/^delivered ([0-9]+), .* in ([0-9.]+) s( \(CPU [^)]*\))?$/\1 \2/p'
}
source_rate() {  # sessions [-d] -> messages/second
    local start end
    start=$(date +%s.%N)
    "${PIN[@]}" smtp-source -s "$1" $2 -m "$MESSAGES" -l 2048 -f bench@example.com -t sink@example.com 127.0.0.1:$PORT
    end=$(date +%s.%N)
    python3 -c "print(round($MESSAGES / ($end - $start)))"
}
printf '%-28s %12s %12s   (CPUs: %s)\n' "" "1 connection" "4 connections" "${CPUS:-unpinned}"
read d1 s1 < <(ours 1); read d4 s4 < <(ours 4); read df sf < <(ours file)
r1=$(python3 -c "print(round($d1 / $s1))"); r4=$(python3 -c "print(round($d4 / $s4))"); rf=$(python3 -c "print(round($df / $sf))")
sd1=$(source_rate 1 -d); sd4=$(source_rate 4 -d); sn1=$(source_rate 1 ""); sn4=$(source_rate 4 "")
size=$(backend_sql "$WORK/root1" "SELECT CAST(avg(length(message)) AS integer) FROM outbox_message")
printf '%-28s %12s %12s   (msgs/s; %s messages of %s bytes, delivered %s and %s)\n' "eventfilter run (delivery)" "$r1" "$r4" "$MESSAGES" "$size" "$d1" "$d4"
printf '%-28s %12s %12s\n' "smtp-source -d (reuse)" "$sd1" "$sd4"
printf '%-28s %12s %12s\n' "smtp-source (new conn/msg)" "$sn1" "$sn4"
python3 -c "print('%-28s %11.2fx %11.2fx' % ('ratio to smtp-source -d', $r1/$sd1, $r4/$sd4)); print('%-28s %11.2fx %11.2fx' % ('ratio to smtp-source', $r1/$sn1, $r4/$sn4))"
printf '%-28s %12s   (msgs/s; delivered %s, %s)\n' "eventfilter run (file)" "$rf" "$df" "$BACKEND"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
