#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The user contract for failures (design §3): every command exits non-zero
# with one clear line on stderr (JSON on stdout with --json), 2 for usage
# errors; nothing here needs a network.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
T=$(mktemp -d /tmp/mavpn-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0

# expect RC PATTERN CMD... : exit code RC, exactly one stderr line matching PATTERN
expect() {
	local rc=$1 pat=$2; shift 2
	"$@" >"$T/out" 2>"$T/err" </dev/null
	local got=$? lines
	lines=$(wc -l < "$T/err")
	if [ "$got" -ne "$rc" ] || [ "$lines" -ne 1 ] || ! grep -qE -- "$pat" "$T/err"; then
		echo "FAIL: $* -> rc=$got (want $rc), stderr ($lines lines):"; sed 's/^/    /' "$T/err"
		fails=$((fails + 1))
	else
		echo "ok: $* -> rc=$got: $(cat "$T/err")"
	fi
}

expect 2 'unknown command "bogus"' "$BIN/vpnctl" bogus
expect 1 'cannot connect to vpnd at .*nope.sock' "$BIN/vpnctl" --sock "$T/nope.sock" status
"$BIN/vpnctl" --sock "$T/nope.sock" --json peers 2>/dev/null | python3 -c \
	'import json,sys; d=json.load(sys.stdin); assert "error" in d, d' \
	|| { echo "FAIL: vpnctl --json error is not a JSON document"; fails=$((fails + 1)); }
expect 1 'holds no enrollment' "$BIN/vpnd" run --state "$T/none" --iface lo --sock "$T/v.sock"
expect 1 'malformed token' "$BIN/vpnd" enroll --state "$T/h" --server 127.0.0.1:1 --token garbage
expect 1 'missing privileges: needs CAP_NET_ADMIN' \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/vpnd" run --state "$T/none" --iface lo
expect 2 'required' "$BIN/authsrv" init
"$BIN/authsrv" init --state "$T/srv" >/dev/null 2>&1 || { echo "FAIL: authsrv init"; fails=$((fails + 1)); }
expect 1 'refus|exists' "$BIN/authsrv" init --state "$T/srv"
expect 2 '"Bad_Name"' "$BIN/authsrv" token create Bad_Name --state "$T/srv"
expect 2 'mavpn-authsrv' "$BIN/authsrv" token create mavpn-authsrv --state "$T/srv"
expect 1 'no registry' "$BIN/authsrv" client list --state "$T/none"
expect 2 '' "$BIN/authsrv" serve --state "$T/srv" --listen 127.0.0.1:notaport --bogus

[ "$fails" -eq 0 ] || { echo "FAIL: $fails contract violations"; exit 1; }
echo "PASS: CLI errors are one clear line with the right exit code"
