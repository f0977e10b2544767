#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Run cmocka unit test binaries (from the repo root) and sum their test
# cases. Usage: tests/run-unit.sh build/tests/test_aead [...]
# Prints each binary's output, then "unit: N passed, N failed, N skipped"
# (a skipped case is never counted as passed).
# Exit status is non-zero if any case failed or any binary crashed or did not
# report a summary (a crash must never be counted as a pass).

set -u

passed=0
failed=0
skipped=0
bad=0

if [ $# -eq 0 ]; then
	echo "usage: $0 TEST_BINARY..." >&2
	exit 2
fi

for bin in "$@"; do
	echo "=== $bin"
	if [ ! -x "$bin" ]; then
		echo "run-unit: $bin: not an executable" >&2
		failed=$((failed + 1))
		bad=1
		continue
	fi
	# cmocka writes the PASSED summary to stdout and FAILED to stderr:
	# merge them so both are seen and printed in order.
	out=$("$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out"

	p=$(printf '%s\n' "$out" |
	    sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' | tail -n1)
	f=$(printf '%s\n' "$out" |
	    sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' | tail -n1)
	k=$(printf '%s\n' "$out" |
	    sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) test(s).*/\1/p' | tail -n1)
	p=${p:-0}
	f=${f:-0}
	k=${k:-0}
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))

	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Killed by a signal or exited without a failure summary.
		echo "run-unit: $bin: exited with status $rc without a test summary (crash?)" >&2
		failed=$((failed + 1))
		bad=1
	elif [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$k" -eq 0 ]; then
		echo "run-unit: $bin: ran no test cases" >&2
		bad=1
	fi
	[ "$f" -ne 0 ] && bad=1
done

echo "unit: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
