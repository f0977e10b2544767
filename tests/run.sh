#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The whole suite: the dependency declarations, cmocka unit drivers, a
# short run of every fuzz target, the network-namespace integration tests
# and the vmtest smoke. Ends with one summary line
# "N passed, N failed, N skipped". Exit 0 only if nothing failed.
#
# A SKIP prints why and how to fix it. Under CI=true every SKIP counts as a
# failure (listed under "failed:"): CI must run everything.
set -u
cd "$(dirname "$0")/.."
# The suite runs the Debian tools `make deps` installs (packaging/deps.tsv),
# not whatever a user's PATH puts first (a pyenv shim for python3 costs up
# to 1.5 s per call on a loaded machine and breaks the 1 s revocation bound).
export PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin:$PATH

passed=0 failed=0 skipped=0
failures=()
ci=0
case ${CI:-} in true | 1 | yes) ci=1 ;; esac

skip() { # name reason (the reason says how to fix it)
	if [ "$ci" = 1 ]; then
		echo "FAIL: $1: skipped, and CI=true counts a skip as a failure: $2"
		failed=$((failed + 1)); failures+=("$1 (skipped: $2)")
	else
		echo "SKIP: $1: $2"
		skipped=$((skipped + 1))
	fi
}

echo "== declared dependencies (packaging/deps.tsv, tests/check_deps.py)"
if out=$(tests/check_deps.py 2>&1); then
	echo "$out" | tail -n 1
	passed=$((passed + 1)); echo "PASS: deps declared"
else
	echo "$out"
	failed=$((failed + 1)); failures+=("deps declared"); echo "FAIL: deps declared"
fi

count_unit() { # cmocka output file
	local p f k
	p=$(grep -ho '^\[  PASSED  \] [0-9]*' "$1" | awk '{s+=$4} END {print s+0}')
	f=$(grep -ho '^\[  FAILED  \] [0-9]*' "$1" | awk '{s+=$4} END {print s+0}')
	k=$(grep -ho '^\[  SKIPPED \] [0-9]*' "$1" | awk '{s+=$4} END {print s+0}')
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$k" -gt 0 ] && [ "$ci" = 1 ]; then
		failed=$((failed + k))
		failures+=("unit: $k skipped case(s) (CI=true counts a skip as a failure):$(grep -h '^\[  SKIPPED \] [a-z_]' "$1" | sed 's/^\[  SKIPPED \]//' | tr '\n' ' ')")
	else
		skipped=$((skipped + k))
	fi
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
	skip "fuzz targets" "none in build/fuzz: run \`make check\` (or \`make fuzz\`), which builds them"
fi

echo "== integration tests (network namespaces)"
for t in tests/integration/test_*.sh; do
	name=$(basename "$t" .sh)
	if [ "$(id -u)" -ne 0 ]; then
		skip "$name" "needs root (namespaces, BPF, XDP): run as root, e.g. sudo make check"
		continue
	fi
	start=$(date +%s)
	timeout 300 "$t" > "build/$name.log" 2>&1
	rc=$?
	dur=$(( $(date +%s) - start ))
	case $rc in
	0) echo "PASS: $name (${dur}s)"; passed=$((passed + 1)) ;;
	77) why=$(sed -n 's/^.*SKIP: //p' "build/$name.log" | head -n 1)
	    skip "$name" "${why:-exit 77 without a SKIP: line saying why (see build/$name.log)}" ;;
	*) echo "FAIL: $name (rc=$rc, ${dur}s), log:"; sed 's/^/    /' "build/$name.log" | tail -n 60
	   failed=$((failed + 1)); failures+=("$name") ;;
	esac
done

echo "== vmtest smoke (Debian 6.1 LTS kernel under QEMU/TCG: boot + BPF load)"
if [ "$(id -u)" -ne 0 ]; then
	skip "vmtest smoke" "needs root (9p export of /, device nodes): run as root, e.g. sudo make check"
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
