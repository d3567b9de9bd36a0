#!/usr/bin/env bash
# The persistent web front under load (release build); numbers for the README, nothing asserted.
#   Tests/Bench/fastcgi_bench.sh [SECONDS] [CONNECTIONS]
# Signed Standard Webhooks POSTs (each a new message, pre-signed with Python's hmac and replayed
# by wrk's Lua script) for SECONDS (default 10) at CONNECTIONS (default 16) through:
#   1. nginx `return 200` with no upstream (the ceiling: what nginx alone answers),
#   2. nginx + `eventfilter fastcgi --workers 1` (README.md's nginx configuration: kept-alive upstream connections),
#   3. nginx + `eventfilter fastcgi --workers 2`,
#   4. lighttpd + mod_cgi + `eventfilter cgi` (a process per request),
# each against a fresh store, which is then counted: every accepted request stored exactly once.
# EVENTFILTER=/path/to/eventfilter uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_=${1:-10}
CONNECTIONS=${2:-16}
REQUESTS=${REQUESTS:-200000}
if [ -n "${EVENTFILTER:-}" ]; then
    EF=$EVENTFILTER
else
    swift build -c release --product eventfilter >/dev/null
    EF="$PWD/.build/release/eventfilter"
fi
command -v wrk >/dev/null && [ -x /usr/sbin/nginx ] && command -v lighttpd >/dev/null || {
    echo "needs wrk, nginx and lighttpd: apt-get install wrk nginx lighttpd" >&2; exit 1; }
echo "binary: $EF; $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
WORK=$(mktemp -d /tmp/eventfilter-fastcgi-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

NOW=2026-05-04T10:00:00Z
SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
make_root() {
    mkdir -p "$1/settings"
    cp settings/notification.ini "$1/settings/"
    printf '[SiteSettings]\nSiteName=Bench\nSiteURL=https://bench.example.com\n[MailSettings]\nTransport=file\nAdminEmail=bench@example.com\n' > "$1/settings/site.ini"
    printf '[Source-hooks]\nType=standard\nSecret=%s\n' "$SECRET" > "$1/settings/webhooks.ini"
    "$EF" --root "$1" status >/dev/null   # the store exists before the clock starts
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }

# REQUESTS distinct signed messages, one per line: id, timestamp, signature, body (tab-separated).
python3 - "$REQUESTS" "$SECRET" "$NOW" > "$WORK/signed.tsv" <<'PY'
import base64, datetime, hashlib, hmac, json, sys
count, secret, now = int(sys.argv[1]), sys.argv[2], sys.argv[3]
key = base64.b64decode(secret.split("_", 1)[1])
ts = str(int(datetime.datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp()))
for i in range(count):
    mid = f"msg_bench_{i}"
    body = json.dumps({"type": "invoice.paid", "data": {"invoice": f"in_{i}", "name": f"Invoice {i}"}}, separators=(",", ":"))
    sig = base64.b64encode(hmac.new(key, f"{mid}.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
    print(f"{mid}\t{ts}\tv1,{sig}\t{body}")
PY
cat > "$WORK/signed.lua" <<'LUA'
-- Replays the pre-signed messages; thread k of n sends lines k, k+n, k+2n, ... so no two requests repeat.
local threads, count = {}, 0
setup = function(thread) thread:set("index", count); count = count + 1; table.insert(threads, thread) end
init = function()
    lines = {}
    for line in io.lines(os.getenv("SIGNED")) do lines[#lines + 1] = line end
    step = tonumber(os.getenv("THREADS"))
    position = index + 1
end
request = function()
    local line = lines[position]
    position = position + step
    if line == nil then line = lines[1] end  -- ran out: a duplicate (counted below, never stored twice)
    local id, ts, sig, body = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)")
    return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["webhook-id"] = id,
        ["webhook-timestamp"] = ts, ["webhook-signature"] = sig}, body)
end
LUA
THREADS=2
run_wrk() {  # URL LABEL
    echo "-- $2"
    SIGNED="$WORK/signed.tsv" THREADS=$THREADS wrk -t "$THREADS" -c "$CONNECTIONS" -d "${SECONDS_}s" --latency -s "$WORK/signed.lua" "$1" \
        > "$WORK/wrk.out"
    local rps p99 total non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")
    total=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.out"); non2xx=${non2xx:-0}
    echo "   $rps requests/s, p99 $p99, $total requests, $non2xx not 2xx"
    LAST_OK=$((total - non2xx))
    LAST_TOTAL=$total
}
# CPU time (user + system, in clock ticks) of the processes PIDS..., from /proc/PID/stat.
cpu_ticks() {
    local sum=0 pid fields
    for pid in "$@"; do
        fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        set -- $fields
        sum=$((sum + ${12} + ${13}))   # utime, stime: fields 14 and 15 of stat, 12 and 13 after the name
    done
    echo "$sum"
}
count_store() {  # ROOT
    python3 - "$1/var/eventfilter.db" "$LAST_OK" "$CONNECTIONS" <<'PY'
import sqlite3, sys
db, ok, conns = sqlite3.connect(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
stored = db.execute("select count(*) from event").fetchone()[0]
keys = db.execute("select count(distinct dedupe_key) from event").fetchone()[0]
# wrk stops counting at the deadline while up to one request per connection is still in flight.
verdict = "yes" if stored == keys and ok <= stored <= ok + conns else "NO"
print(f"   stored {stored} events ({keys} distinct keys) for {ok} answered 2xx; each stored once: {verdict}")
PY
}

nginx_conf() {  # DIR PORT UPSTREAM_PORT|""
    cp /etc/nginx/fastcgi_params "$1/"
    local site
    if [ -n "$3" ]; then
        # README.md's nginx block (upstream with keepalive, fastcgi_keep_conn), with this run's ports.
        site=$(awk '/^# nginx: inside the http \{ \} block/ {on = 1; next} on && /^```/ {exit} on' README.md \
            | sed -e "s/127.0.0.1:9000/127.0.0.1:$3/" -e "s/listen 443 ssl;/listen 127.0.0.1:$2;/")
        grep -q "fastcgi_keep_conn on;" <<<"$site" || { echo "README.md has no nginx block with keepalive" >&2; exit 1; }
    else
        site="server { listen 127.0.0.1:$2; location /hooks/ { return 200 \"ok\\n\"; } }"
    fi
    cat > "$1/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $1/nginx.pid; error_log $1/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $1/body; fastcgi_temp_path $1/fcgi; proxy_temp_path $1/proxy; uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi;
$site
}
CONF
}

echo "== $SECONDS_ s, $CONNECTIONS connections, $THREADS wrk threads, $REQUESTS distinct signed requests"
# 1. nginx alone
mkdir -p "$WORK/nginx0"; PORT=$(free_port); nginx_conf "$WORK/nginx0" "$PORT" ""
nginx -p "$WORK/nginx0" -c "$WORK/nginx0/nginx.conf" & PIDS+=($!); wait_port "$PORT"
run_wrk "http://127.0.0.1:$PORT/hooks/hooks" "nginx return 200 (no upstream)"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# 2, 3. nginx + fastcgi
for workers in 1 2; do
    ROOT="$WORK/fcgi$workers"; make_root "$ROOT"
    UP=$(free_port)
    "$EF" --root "$ROOT" --now "$NOW" fastcgi --listen "127.0.0.1:$UP" --workers "$workers" 2>"$WORK/fcgi$workers.err" & PIDS+=($!)
    wait_port "$UP"
    mkdir -p "$WORK/nginx$workers"; PORT=$(free_port); nginx_conf "$WORK/nginx$workers" "$PORT" "$UP"
    nginx -p "$WORK/nginx$workers" -c "$WORK/nginx$workers/nginx.conf" & PIDS+=($!); wait_port "$PORT"
    RESPONDERS=$(pgrep -P "${PIDS[-2]}" | tr '\n' ' ')   # the supervisor's children: the responder processes
    before=$(cpu_ticks $RESPONDERS)
    run_wrk "http://127.0.0.1:$PORT/hooks/hooks" "nginx + eventfilter fastcgi --workers $workers"
    after=$(cpu_ticks $RESPONDERS)
    awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$LAST_TOTAL" \
        'BEGIN { printf "   responder CPU (user+sys): %.1f s, %.1f us per request\n", t / hz, n ? t / hz / n * 1e6 : 0 }'
    count_store "$ROOT"
    kill "${PIDS[-1]}" "${PIDS[-2]}"; wait "${PIDS[-1]}" "${PIDS[-2]}" 2>/dev/null || true
done

# 4. lighttpd + cgi
ROOT="$WORK/cgi"; make_root "$ROOT"; PORT=$(free_port)
Tests/Support/lighttpd_webhooks.sh "$WORK/lighttpd" "$PORT" "$EF" "$ROOT" "$NOW" >"$WORK/lighttpd.out" 2>&1 & PIDS+=($!)
wait_port "$PORT"
run_wrk "http://127.0.0.1:$PORT/hooks.cgi/hooks" "lighttpd + eventfilter cgi (a process per request)"
count_store "$ROOT"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
