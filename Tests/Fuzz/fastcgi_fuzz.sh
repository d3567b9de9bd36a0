#!/usr/bin/env bash
# Coverage-guided fuzzing of the FastCGI parser with libFuzzer (the toolchain's clang runtime),
# under AddressSanitizer.
#   Tests/Fuzz/fastcgi_fuzz.sh [SECONDS]      (default 60)
# A crash leaves its input as crash-* in the working directory and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_=${1:-60}
WORK=$(mktemp -d /tmp/eventfilter-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
WEB=Sources/EventFilterKit/Web
swiftc -parse-as-library -sanitize=fuzzer,address -O Tests/Fuzz/FastCGIFuzzTarget.swift \
    "$WEB/FastCGIRecord.swift" "$WEB/FastCGIConnection.swift" "$WEB/FastCGIRequest.swift" "$WEB/FastCGIProtocolError.swift" \
    -o "$WORK/fastcgi-fuzz" 2>&1 | grep -v "Cannot export local symbol" || true
mkdir -p "$WORK/corpus"
status=0
"$WORK/fastcgi-fuzz" -max_total_time="$SECONDS_" -print_final_stats=1 "$WORK/corpus" > "$WORK/fuzz.log" 2>&1 || status=$?
grep -E "^(Done|stat::number_of_executed_units)|ERROR|SUMMARY|crash-" "$WORK/fuzz.log" || true
exit "$status"
