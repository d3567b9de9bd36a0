#!/usr/bin/env bash
# Every stage next to its floor, on both backends, in one run (release build); numbers for the
# README, nothing asserted.
#   Tests/Bench/floors_bench.sh [STAGE...]   (default: all of import filter immediate digest smtp smtp_budget noop)
#   BACKENDS="sqlite"                        one backend only (default "sqlite postgresql")
#   EVENTFILTER=/path/to/eventfilter         that binary instead of a fresh `make build`
# Each stage is Tests/Bench/stage_STAGE.sh, run once per backend with BACKEND set; it measures our
# figure and its floor in the same run and prints a FLOOR line (Tests/Bench/floor.sh). Their whole
# output goes to .build/bench-floors/STAGE-BACKEND.log; this prints the table of FLOOR lines.
# smtp_budget (Tests/Bench/smtp_budget.sh) is not a stage of ours but the SMTP rows' budget: the
# most any client that records its acceptances durably can reach on this machine, against the
# same smtp-source rate, one FLOOR line per connection count.
set -euo pipefail
cd "$(dirname "$0")/../.."
STAGES=("$@")
[ ${#STAGES[@]} -gt 0 ] || STAGES=(import filter immediate digest smtp smtp_budget noop)
BACKENDS=${BACKENDS:-sqlite postgresql}
if [ -z "${EVENTFILTER:-}" ]; then
    make -s build >/dev/null  # the release binary as `make build` makes it (static Swift stdlib)
    EVENTFILTER="$PWD/.build/release/eventfilter"
fi
export EVENTFILTER
LOGS=.build/bench-floors
mkdir -p "$LOGS"
echo "$(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg); logs in $LOGS/"
: > "$LOGS/table"
for stage in "${STAGES[@]}"; do
    script=Tests/Bench/stage_$stage.sh
    [ "$stage" = smtp_budget ] && script=Tests/Bench/smtp_budget.sh
    [ -x "$script" ] || { echo "no such stage: $stage (expected $script)" >&2; exit 2; }
    for backend in $BACKENDS; do
        log="$LOGS/$stage-$backend.log"
        echo "== $stage ($backend), load $(cut -d' ' -f1-3 /proc/loadavg)"
        if BACKEND=$backend "$script" > "$log" 2>&1; then
            grep '^FLOOR|' "$log" | tee -a "$LOGS/table" | sed 's/^FLOOR|/   /'
        else
            echo "   FAILED (see $log):"; tail -5 "$log" | sed 's/^/   /'
            echo "FLOOR|$stage|$backend|failed|||||see $log" >> "$LOGS/table"
        fi
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| stage | backend | ours | floor, same run | ratio | aim | at aim | note |"
echo "|---|---|---|---|---|---|---|---|"
awk -F'|' '{ line = "|"; for (i = 2; i <= NF; i++) line = line " " $i " |"; print line }' "$LOGS/table"
