#!/usr/bin/env bash
# Kernel benchmark: `eventfilter run` on EVENTS events x USERS subscribers (release build).
#   Tests/Bench/kernel_bench.sh [EVENTS] [USERS] [immediate|digest]
# Prints the wall time and peak memory of the run (GNU time), and what it produced.
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=${1:-10000}
USERS=${2:-100}
MODE=${3:-immediate}
swift build -c release --product eventfilter >/dev/null
EF="$PWD/.build/release/eventfilter"
ROOT=$(mktemp -d /tmp/eventfilter-bench.XXXXXX)
trap '[ -n "${KEEP_ROOT:-}" ] || rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/settings"
cp settings/notification.ini "$ROOT/settings/"
cat > "$ROOT/settings/site.ini" <<'INI'
[SiteSettings]
SiteName=Bench
SiteURL=https://bench.example.com
[MailSettings]
Transport=file
AdminEmail=bench@example.com
INI
NOW=2026-05-04T10:00:00Z
ef() { "$EF" --root "$ROOT" --now "$NOW" "$@"; }
for i in $(seq 1 "$USERS"); do
    ef user add "user$i@example.com" --name "User $i" --timezone Europe/Oslo
    ef subscribe "user$i@example.com" $(( i % 2 == 0 ? 2 : 60 ))
    [ "$MODE" = digest ] && ef digest "user$i@example.com" daily 08:00
done
python3 - "$EVENTS" > "$ROOT/events.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    node = 1000 + i
    print(json.dumps({"type": "ezpublish", "params": {"node_id": str(node), "path": f"/1/2/60/{node}/",
          "name": f"Article number {i}", "class": "Article", "version": "1", "author": "someone@example.com"}}))
PY
/usr/bin/time -f "import: %e s, peak %M KiB" "$EF" --root "$ROOT" --now "$NOW" event import "$ROOT/events.jsonl"
# Each run reports its write transactions (EVENTFILTER_TRACE_WRITE_LOCK=1): the longest one is the
# longest that an `ingest`, `cgi` or `event add` beside it would wait for the write lock.
holds() {
    grep -v '^write lock: ' "$1" >&2 || true
    awk '/^write lock: / { n++; if ($3 > max) max = $3 } END { printf "%s: %d write transactions, longest %.1f ms\n", label, n, max }' \
        label="$2" "$1"
}
EVENTFILTER_TRACE_WRITE_LOCK=1 /usr/bin/time -f "run: %e s wall, %U s user, %S s system, peak %M KiB" \
    "$EF" --root "$ROOT" --now "$NOW" run --verbose 2> "$ROOT/run.trace"
holds "$ROOT/run.trace" "run (filter and delivery)"
if [ "$MODE" = digest ]; then
    EVENTFILTER_TRACE_WRITE_LOCK=1 /usr/bin/time -f "digest run: %e s wall, peak %M KiB" \
        "$EF" --root "$ROOT" --now 2026-05-05T06:00:00Z run --verbose 2> "$ROOT/digest.trace" &
    RUN_PID=$!
    # A writer beside the run, as an operator's script or a webhook would be: `event add` of an
    # event nobody subscribes to, every 0.2 s until the run ends, each timed from start to exit.
    : > "$ROOT/probe.ms"
    while kill -0 "$RUN_PID" 2>/dev/null; do
        start=$(date +%s%N)
        status=0
        "$EF" --root "$ROOT" --now 2026-05-05T06:00:00Z event add probe.latency >/dev/null 2>&1 || status=$?
        echo "$(( ($(date +%s%N) - start) / 1000000 )) $status" >> "$ROOT/probe.ms"
        sleep 0.2
    done
    wait "$RUN_PID"
    holds "$ROOT/digest.trace" "digest run"
    sort -n "$ROOT/probe.ms" | awk '{ v[NR] = $1; if ($2 != 0) failed++ }
        END { printf "event add beside the digest run: %d adds, median %d ms, longest %d ms, %d failed\n", NR, v[int((NR + 1) / 2)], v[NR], failed }'
fi
echo "mail files: $(find "$ROOT/var/log/mail" -name '*.eml' | wc -l), $(du -sh "$ROOT/var/log/mail" | cut -f1); database: $(du -sh "$ROOT/var/eventfilter.db" | cut -f1)"
