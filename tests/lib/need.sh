# SPDX-License-Identifier: GPL-2.0-only
# What a test needs before it can run (sourced; tests/lib/topo.sh sources it).
# A test that cannot run here exits 77 (SKIP) with one line saying why and
# how to fix it; tests/run.sh prints that line, and under CI=true counts the
# SKIP as a failure.
#
#   need_cmd ping tshark   SKIP: ping not found (Debian package iputils-ping): run `make deps`
#   need_root              SKIP: needs root ...
#   mv_skip "reason"       SKIP: reason
#
# tests/check_deps.py fails when a test runs a command from a package that
# is not on every Debian system without a need_cmd for it.

MV_DEPS_TSV=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/packaging/deps.tsv

mv_skip() { echo "SKIP: $*"; exit 77; }

need_cmd() { # command...
	local c pkg
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		pkg=$(awk -F'\t' -v c="$c" '$1 == c { print $2; exit }' "$MV_DEPS_TSV" 2>/dev/null)
		if [ -n "$pkg" ]; then
			mv_skip "$c not found (Debian package $pkg): run \`make deps\`"
		fi
		mv_skip "$c not found, and packaging/deps.tsv has no row for it: add one, then run \`make deps\`"
	done
}

need_root() {
	[ "$(id -u)" -eq 0 ] || mv_skip "needs root (network namespaces, BPF, XDP): run as root, e.g. sudo make check"
}
