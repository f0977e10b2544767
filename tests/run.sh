#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The whole suite: cmocka unit drivers, a short run of every fuzz target,
# then the network-namespace integration tests. Ends with one summary line
# "N passed, N failed, N skipped". Exit 0 only if nothing failed.
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
failures=()

count_unit() { # cmocka output file
	local p f k
	p=$(grep -ho '^\[  PASSED  \] [0-9]*' "$1" | awk '{s+=$4} END {print s+0}')
	f=$(grep -ho '^\[  FAILED  \] [0-9]*' "$1" | awk '{s+=$4} END {print s+0}')
	k=$(grep -ho '^\[  SKIPPED \] [0-9]*' "$1" | awk '{s+=$4} END {print s+0}')
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
}

echo "== unit tests (cmocka)"
out=$(mktemp)
tests/run-unit.sh $(find build/tests -maxdepth 1 -name "test_*" -type f -executable | sort) 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
count_unit "$out"
if [ "$rc" -ne 0 ] && ! grep -q '^\[  FAILED  \]' "$out"; then
	failed=$((failed + 1)); failures+=("unit runner (crash)")
fi
rm -f "$out"

echo "== fuzz targets (${FUZZ_SECONDS:=10}s each)"
nfuzz=0
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	nfuzz=$((nfuzz + 1))
	if FUZZ_SECONDS=$FUZZ_SECONDS tests/run-fuzz.sh "$f"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); failures+=("$f")
	fi
done
if [ "$nfuzz" -eq 0 ]; then
	# Not built by `make all`: say so instead of silently running none.
	echo "SKIP: no fuzz targets in build/fuzz (run make fuzz first)"
	skipped=$((skipped + 1))
fi

echo "== integration tests (network namespaces)"
for t in tests/integration/test_*.sh; do
	name=$(basename "$t" .sh)
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: $name needs root (namespaces, BPF, XDP)"
		skipped=$((skipped + 1)); continue
	fi
	start=$(date +%s)
	timeout 300 "$t" > "build/$name.log" 2>&1
	rc=$?
	dur=$(( $(date +%s) - start ))
	case $rc in
	0) echo "PASS: $name (${dur}s)"; passed=$((passed + 1)) ;;
	77) echo "SKIP: $name: $(grep -m1 '^SKIP' "build/$name.log")"; skipped=$((skipped + 1)) ;;
	*) echo "FAIL: $name (rc=$rc, ${dur}s), log:"; sed 's/^/    /' "build/$name.log" | tail -n 60
	   failed=$((failed + 1)); failures+=("$name") ;;
	esac
done

echo "== vmtest smoke (Debian 6.1 LTS kernel under QEMU/TCG: boot + BPF load)"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: vmtest smoke needs root"; skipped=$((skipped + 1))
else
	timeout 600 vmtest/run.sh --smoke > build/vmtest-smoke.log 2>&1
	rc=$?
	tail -n 8 build/vmtest-smoke.log
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS: vmtest smoke"
	else
		failed=$((failed + 1)); failures+=("vmtest smoke"); echo "FAIL: vmtest smoke (rc=$rc)"
	fi
fi

[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
