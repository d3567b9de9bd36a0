#!/bin/sh
# Throughput of SMTPTransport against Postfix's smtp-sink, next to Postfix's smtp-source load
# generator at the same concurrency (1 and 4 connections), in three CPU layouts:
#   unpinned    the scheduler decides
#   same-core   client and smtp-sink both on CPU 0
#   cross-core  client on CPU 0, smtp-sink on CPU 1
# Needs postfix (smtp-sink, smtp-source) and taskset. Prints medians of N rounds, the ratio
# SMTPTransport / smtp-source, and client CPU time per message.
#
#   Tests/Support/smtp_bench.sh                       # 10,000 messages of 2160 bytes, 3 rounds
#   EVENTFILTER_BENCH_MESSAGES=2000 EVENTFILTER_BENCH_ROUNDS=1 Tests/Support/smtp_bench.sh
set -eu
cd "$(dirname "$0")/../.."
# `swift test -c release` builds the tests with testing enabled; without EVENTFILTER_BENCH the
# benchmark skips itself, so this only builds.
if ! swift test -c release --filter SMTPTransportBenchmark >/tmp/smtp_bench_build.log 2>&1; then
    tail -20 /tmp/smtp_bench_build.log
    exit 1
fi
tests=$(swift build -c release --show-bin-path)/eventfilterPackageTests.xctest
last=$(($(nproc) - 1))
run() {  # layout client-cpus sink-cpus
    EVENTFILTER_BENCH=1 EVENTFILTER_BENCH_LAYOUT=$1 EVENTFILTER_BENCH_SINK_CPUS=$3 \
        taskset -c "$2" "$tests" EventFilterKitTests.SMTPTransportBenchmark 2>&1 \
        | grep -E '^benchmark|^layout|^results|^  |error:|failed'
}
run unpinned "0-$last" "0-$last"
run same-core 0 0
if [ "$last" -ge 1 ]; then run cross-core 0 1; fi
