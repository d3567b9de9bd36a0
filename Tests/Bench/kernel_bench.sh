#!/usr/bin/env bash
# Kernel benchmark: `eventfilter run` on EVENTS events x USERS subscribers (release build).
#   Tests/Bench/kernel_bench.sh [EVENTS] [USERS] [immediate|digest]
#   BACKEND=postgresql Tests/Bench/kernel_bench.sh ...   the store in a PostgreSQL server the script
#                                                        starts and stops (Tests/Bench/backend.sh)
#   BACKEND=postgresql WORKERS=4 Tests/Bench/kernel_bench.sh 10000 100 digest
#       only the first run (in digest mode: the filter alone) with 4 workers: `run --workers 4` where the binary has it, else
#       4 `eventfilter run` processes started at once, each from a root of its own on the one
#       database; then counts what they made against one run's worth (duplicates show there)
# Prints the wall time and peak memory of the run (GNU time), and what it produced; `run --verbose`
# prints the filter's and the delivery's own times. EVENTFILTER=/path/to/eventfilter uses that binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Tests/Bench/backend.sh
source Tests/Bench/fixture.sh
EVENTS=${1:-10000}
USERS=${2:-100}
MODE=${3:-immediate}
WORKERS=${WORKERS:-}
fixture_binary
ROOT=$(mktemp -d /tmp/eventfilter-bench.XXXXXX)
trap 'backend_stop; [ -n "${KEEP_ROOT:-}" ] || rm -rf "$ROOT"' EXIT
backend_start
fixture_root "$ROOT"
echo "backend: $BACKEND; $EVENTS events x $USERS users, $MODE${WORKERS:+, $WORKERS worker(s)}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
NOW=2026-05-04T10:00:00Z
ef() { "$EF" --root "$ROOT" --now "$NOW" "$@"; }
fixture_users "$ROOT" "$USERS" "$MODE"
fixture_events "$EVENTS" > "$ROOT/events.jsonl"
/usr/bin/time -f "import: %e s, peak %M KiB" "$EF" --root "$ROOT" --now "$NOW" event import "$ROOT/events.jsonl"
if [ -n "$WORKERS" ]; then
    [ "$BACKEND" = postgresql ] || { echo "WORKERS needs BACKEND=postgresql (SQLite runs take turns)" >&2; exit 2; }
    start=$(date +%s.%N)
    if "$EF" run --help 2>&1 | grep -q -- '--workers'; then
        echo "run --workers $WORKERS"
        "$EF" --root "$ROOT" --now "$NOW" run --verbose --workers "$WORKERS"
    else
        echo "$WORKERS concurrent 'eventfilter run' processes (this binary has no run --workers)"
        pids=()
        for w in $(seq 1 "$WORKERS"); do
            mkdir -p "$ROOT/worker$w"
            cp -r "$ROOT/settings" "$ROOT/worker$w/"
            cp "$ROOT/.bench-database" "$ROOT/worker$w/"
        done
        for w in $(seq 1 "$WORKERS"); do
            "$EF" --root "$ROOT/worker$w" --now "$NOW" run --verbose > "$ROOT/worker$w.out" 2>&1 &
            pids+=($!)
        done
        failed=0
        for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
        for w in $(seq 1 "$WORKERS"); do sed "s/^/worker $w: /" "$ROOT/worker$w.out"; done
        [ "$failed" -eq 0 ] || echo "$failed of $WORKERS runs failed"
    fi
    end=$(date +%s.%N)
    handled=$(backend_sql "$ROOT" "SELECT count(*) FROM event WHERE handled_at IS NOT NULL")
    made=$(backend_sql "$ROOT" "SELECT count(*) FROM content")
    items=$(backend_sql "$ROOT" "SELECT count(*) FROM digest_item")
    queued=$(backend_sql "$ROOT" "SELECT count(*) FROM outbox")
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'filter with $WORKERS workers: {s:.1f} s wall, {int(sys.argv[3])/s:,.0f} events/s')" \
        "$start" "$end" "$EVENTS"
    echo "made: $handled events handled, $made contents (one run makes $EVENTS), $items digest items, $queued messages"
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
    exit 0
fi
# Each run reports its SQLite write transactions (EVENTFILTER_TRACE_WRITE_LOCK=1; none on PostgreSQL): the longest one is the
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
echo "mail files: $(find "$ROOT/var/log/mail" -name '*.eml' | wc -l), $(du -sh "$ROOT/var/log/mail" | cut -f1); database ($BACKEND): $(backend_size "$ROOT")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
