#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Run libFuzzer targets for a bounded time each.
# Usage: [FUZZ_SECONDS=10] tests/run-fuzz.sh build/fuzz/fuzz_ctlmsg [...]
#
# Each target <name> fuzzes the corpus build/fuzz-corpus/<name>, seeded from
# the committed tests/fuzz/corpus/<name>/ (new inputs the fuzzer finds stay in
# build/, never in the tree). Crash reproducers go to
# build/fuzz-artifacts/<name>/, the full log to build/fuzz-logs/<name>.log.
# Prints "fuzz: N passed, N failed"; exits non-zero if any target failed.

set -u

secs=${FUZZ_SECONDS:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
passed=0
failed=0

if [ $# -eq 0 ]; then
	echo "usage: $0 FUZZ_BINARY..." >&2
	exit 2
fi

for bin in "$@"; do
	name=$(basename "$bin")
	echo "=== $name (${secs}s)"
	if [ ! -x "$bin" ]; then
		echo "run-fuzz: $bin: not an executable" >&2
		failed=$((failed + 1))
		continue
	fi
	corpus=$build/fuzz-corpus/$name
	artifacts=$build/fuzz-artifacts/$name
	log=$build/fuzz-logs/$name.log
	mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
	if [ -d "$root/tests/fuzz/corpus/$name" ]; then
		cp -n "$root/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
	fi

	"$bin" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units)' "$log"
		passed=$((passed + 1))
	else
		# Show the report: the sanitizer or CHECK trace and the input.
		tail -n 60 "$log"
		echo "run-fuzz: $name failed (status $rc); log $log, reproducer in $artifacts/" >&2
		failed=$((failed + 1))
	fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
