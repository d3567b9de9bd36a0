#!/usr/bin/env bash
# SQLite next to PostgreSQL in one run (release build); numbers for the README, nothing asserted.
#   Tests/Bench/backends_bench.sh [EVENTS] [USERS] [IMPORT_EVENTS] [MESSAGES]
# On each backend (BACKEND=sqlite, then BACKEND=postgresql: a server the scripts start and stop,
# fsync on): `event import` of IMPORT_EVENTS JSON lines (default 100,000; ingest_bench.sh), the
# filter of EVENTS x USERS (default 10,000 x 100) immediate and digest (kernel_bench.sh), and
# delivery of MESSAGES (default 10,000) over SMTP to smtp-sink and with the file transport
# (delivery_bench.sh); then the digest filter on PostgreSQL with 1, 2 and 4 workers
# (kernel_bench.sh with WORKERS). Each script's whole output goes to a log under
# .build/bench-backends/; this prints the lines that hold the numbers.
# EVENTFILTER=/path/to/eventfilter uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=${1:-10000}
USERS=${2:-100}
IMPORT_EVENTS=${3:-100000}
MESSAGES=${4:-10000}
if [ -z "${EVENTFILTER:-}" ]; then
    swift build -c release --product eventfilter >/dev/null
    EVENTFILTER="$PWD/.build/release/eventfilter"
fi
export EVENTFILTER
LOGS=.build/bench-backends
mkdir -p "$LOGS"
echo "$(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg); logs in $LOGS/"

step() {  # NAME BACKEND command... -> runs it with BACKEND set, prints the lines with numbers
    local name=$1 backend=$2; shift 2
    echo "== $name ($backend)"
    BACKEND=$backend "$@" > "$LOGS/$name-$backend.log" 2>&1 || { echo "   FAILED (see $LOGS/$name-$backend.log):"; tail -5 "$LOGS/$name-$backend.log"; return 0; }
    grep -E "^(PostgreSQL |attempt |   stored|import:|run:|digest run:|handled |delivered |eventfilter run|ratio|smtp-source|filter with|made:|worker [0-9]+: |mail files|load |[0-9]+ concurrent|run --workers)" \
        "$LOGS/$name-$backend.log" | sed 's/^/   /'
}

for backend in sqlite postgresql; do
    step import "$backend" env WEB=0 Tests/Bench/ingest_bench.sh "$IMPORT_EVENTS"
    step filter-immediate "$backend" Tests/Bench/kernel_bench.sh "$EVENTS" "$USERS" immediate
    step filter-digest "$backend" Tests/Bench/kernel_bench.sh "$EVENTS" "$USERS" digest
    step delivery "$backend" Tests/Bench/delivery_bench.sh "$MESSAGES"
done
for workers in 1 2 4; do
    step "workers$workers" postgresql env WORKERS="$workers" Tests/Bench/kernel_bench.sh "$EVENTS" "$USERS" digest
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
