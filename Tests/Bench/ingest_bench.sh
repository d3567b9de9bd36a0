#!/usr/bin/env bash
# Intake benchmarks (release build); numbers for the README, nothing asserted.
#   Tests/Bench/ingest_bench.sh [EVENTS] [SECONDS] [CONNECTIONS]
# 1. `eventfilter event import` of EVENTS JSON lines (default 100,000): events per second.
# 2. Panda webhooks POSTed through lighttpd + mod_cgi + `eventfilter cgi` with wrk for SECONDS
#    (default 10) at CONNECTIONS (default 8), each request a new video (so every one is stored),
#    then the same request over and over with ab (every one after the first a duplicate).
# EVENTFILTER=/path/to/eventfilter uses that binary instead of building one, e.g. a build with
# `swift build -c release --static-swift-stdlib` (faster process start-up, which CGI pays per request).
# BACKEND=postgresql puts the stores in a PostgreSQL server the script starts and stops
# (Tests/Bench/backend.sh); WEB=0 leaves out part 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
EVENTS=${1:-100000}
SECONDS_=${2:-10}
CONNECTIONS=${3:-8}
fixture_binary
echo "binary: $EF ($(ldd "$EF" | grep -c swift) dynamic Swift libraries); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
WORK=$(mktemp -d /tmp/eventfilter-ingest-bench.XXXXXX)
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    backend_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
backend_start
echo "backend: $BACKEND"

make_root() {
    fixture_root "$1"
    cat > "$1/settings/webhooks.ini" <<'INI'
[Source-panda]
Type=panda
Secret=bench-token-0123456789
INI
}
NOW=2026-05-04T10:00:00Z

echo "== event import: $EVENTS events"
python3 - "$EVENTS" > "$WORK/events.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"type": "panda.video-encoded", "key": f"bench:{i}",
                      "params": {"video_id": f"v{i}", "node_id": f"v{i}", "path": f"/panda/v{i}/", "event": "video-encoded"}}))
PY
for attempt in 1 2 3; do
    ROOT="$WORK/import$attempt"
    make_root "$ROOT"
    "$EF" --root "$ROOT" --now "$NOW" status >/dev/null   # create the store outside the timing
    start=$(date +%s.%N)
    "$EF" --root "$ROOT" --now "$NOW" event import "$WORK/events.jsonl" >/dev/null
    end=$(date +%s.%N)
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'attempt $attempt: {s:.2f} s, {int(sys.argv[3])/s:,.0f} events/s')" "$start" "$end" "$EVENTS"
    echo "   stored: $(backend_sql "$ROOT" "SELECT count(*) FROM event") events"
done
[ "${WEB:-1}" = 0 ] && { echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"; exit 0; }

echo "== lighttpd + cgi: $SECONDS_ s at $CONNECTIONS connections"
ROOT="$WORK/web"
make_root "$ROOT"
"$EF" --root "$ROOT" status >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
Tests/Support/lighttpd_webhooks.sh "$WORK/lighttpd" "$PORT" "$EF" "$ROOT" >"$WORK/lighttpd.out" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.05
done
URL="http://127.0.0.1:$PORT/hooks.cgi/panda?token=bench-token-0123456789"
curl -s -f -X POST -d "event=video-created&video_id=warmup" "$URL" >/dev/null

cat > "$WORK/unique.lua" <<'LUA'
-- Every request a new video: each one is verified, stored and answered 200.
local counter = 0
local thread_id = 0
setup = function(thread) thread:set("id", thread_id); thread_id = thread_id + 1 end
init = function() wrk.method = "POST"; wrk.headers["Content-Type"] = "application/x-www-form-urlencoded" end
request = function()
    counter = counter + 1
    return wrk.format(nil, nil, nil, "event=video-encoded&video_id=w" .. id .. "-" .. counter)
end
LUA
echo "-- wrk, new events:"
wrk -t "$(( CONNECTIONS < 2 ? CONNECTIONS : 2 ))" -c "$CONNECTIONS" -d "${SECONDS_}s" -s "$WORK/unique.lua" "$URL" | grep -E "Requests/sec|Latency|requests in|Non-2xx"
echo "events in the store: $(backend_sql "$ROOT" "SELECT count(*) FROM event")"

printf 'event=video-encoded&video_id=same' > "$WORK/same.txt"
echo "-- ab, one request repeated (duplicates after the first):"
echo "   (ab counts answers whose length differs from the first as 'failed': the first is 'N', the rest 'N duplicate')"
ab -q -t "$SECONDS_" -n 1000000 -c "$CONNECTIONS" -p "$WORK/same.txt" -T application/x-www-form-urlencoded "$URL" \
    | grep -E "Requests per second|Failed requests|Non-2xx|Time per request.*mean\)"
