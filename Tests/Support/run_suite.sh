#!/usr/bin/env bash
# Runs the XCTest suite on one store backend and judges the log; used by `make test`.
#
# Usage: Tests/Support/run_suite.sh sqlite|postgresql
#
# sqlite: the whole suite. postgresql: the end-to-end tests (the test classes in files that use
# TestRoot, which gives each test a database of its own on the suite's PostgreSQL server, except
# those that choose their backend themselves), and the classes that follow the suite's backend
# through TestBackend.current, with EVENTFILTER_TEST_BACKEND=postgresql. Writes
# .build/test-BACKEND.log and, as its last line, one summary "BACKEND: N passed, N failed, N
# skipped, N OTHER-only skipped". Fails when no test ran, when one failed, or when one skipped,
# except the opt-in benchmark and the tests about the other backend itself, counted apart: on
# PostgreSQL those skipped with "SQLite only: <reason>" (TestRoot.requireSQLite), on SQLite those
# skipped with "PostgreSQL only: <reason>" (TestRoot.requirePostgreSQL).
set -o pipefail
backend=${1:?usage: run_suite.sh sqlite|postgresql}
swift=${SWIFT:-swift}
log=.build/test-$backend.log
mkdir -p .build

case $backend in
sqlite)
	only="PostgreSQL only"
	EVENTFILTER_TEST_BACKEND=sqlite $swift test --disable-swift-testing 2>&1 | tee "$log" ;;
postgresql)
	only="SQLite only"
	# Left out: the tests that pick the backend themselves (a PostgreSQL database of their own from
	# TestPostgres, or [DatabaseSettings] in their settings); they run in the SQLite pass. Taken
	# in whatever else they use: the classes that ask TestBackend.current which store to test.
	classes=$( { grep -rlE 'TestRoot\(|makeRoot\(|TestRoot\.executable|RunFixture\(' Tests/EventFilterKitTests --include='*.swift' \
			| xargs grep -LE 'TestPostgres\.server\(\)|\[DatabaseSettings\]'
		grep -rlE 'TestBackend\.current' Tests/EventFilterKitTests --include='*.swift' | grep -v '/Support/'; } \
		| sort -u | xargs grep -hoE '^(final )?class [A-Za-z0-9_]+: XCTestCase' | sed -E 's/.*class ([A-Za-z0-9_]+):.*/\1/' \
		| sort -u | paste -sd'|')
	if [ -z "$classes" ]; then echo "run_suite: no end-to-end test class found"; exit 1; fi
	EVENTFILTER_TEST_BACKEND=postgresql $swift test --disable-swift-testing --filter "^EventFilterKitTests\\.($classes)/" 2>&1 | tee "$log" ;;
*)
	echo "run_suite: unknown backend '$backend' (sqlite or postgresql)"; exit 2 ;;
esac

# XCTest's own summary: "Executed N tests, with N tests skipped and N failures (N unexpected)".
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with" "$log" | tail -1)
executed=$(echo "$summary" | sed -nE 's/.*Executed ([0-9]+) tests?.*/\1/p')
passed=$(grep -cE "^Test Case '.*' passed" "$log")
failed=$(grep -cE "^Test Case '.*' failed" "$log")
skipped=$(grep -cE "^Test Case '.*' skipped" "$log")
other_only=$(grep -cE ": Test skipped - $only: " "$log")
# A skip that is neither the benchmark nor a test about the other backend itself.
other_skips=$(grep -E "^Test Case '.*' skipped" "$log" | grep -v SMTPTransportBenchmark | sed -E "s/^Test Case '([^']*)'.*/\1/" \
	| while read -r test; do
		if grep -qF "$test : Test skipped - $only: " "$log"; then continue; fi
		echo "$test"
	done)

status=0
if ! grep -qE "^Test Suite '(All tests|Selected tests)' (passed|failed)" "$log" || [ -z "$executed" ]; then
	echo "make test ($backend): the suite did not finish (a test crashed? see $log)"; status=1
elif [ "$executed" -eq 0 ] || [ $((executed - skipped)) -eq 0 ]; then echo "make test ($backend): no test ran"; status=1; fi
if [ -n "$other_skips" ]; then
	echo "make test ($backend): a test skipped (a server it needs did not start?):"; echo "$other_skips"; status=1
fi
if [ "$failed" -ne 0 ]; then echo "make test ($backend): $failed failed:"; grep -E "^Test Case '.*' failed" "$log"; status=1; fi
echo "$backend: $passed passed, $failed failed, $((skipped - other_only)) skipped, $other_only ${only/ /-} skipped"
exit $status
