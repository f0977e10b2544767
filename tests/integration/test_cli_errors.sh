#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The user contract for the command line (design §3): every command and
# subcommand prints its usage on stdout and exits 0 for --help and -h; any
# failure exits non-zero with exactly one line on stderr that starts with the
# command ("vpnd run: ...") and quotes the user's input, 2 for usage errors
# (JSON on stdout as well with vpnctl --json). Nothing here needs a network
# or a running daemon.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
T=$(mktemp -d /tmp/mavpn-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
export PATH="$BIN:$PATH"
fails=0
checks=0

bad() {
	echo "FAIL: $1"
	sed 's/^/    stderr: /' "$T/err"
	sed 's/^/    stdout: /' "$T/out" | head -5
	fails=$((fails + 1))
}

# run CMD... : rc in $rc, output in $T/out and $T/err
run() {
	checks=$((checks + 1))
	"$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# expect RC NAME TEXT CMD... : exit code RC, nothing on stdout, exactly one
# stderr line that starts with "NAME: " and contains TEXT (a fixed string).
# expect_usage NAME TEXT CMD... : the same with RC 2, and the line ends with
# "(see NAME --help)".
expect_usage() {
	see=1 expect 2 "$@"
}
expect() {
	local want=$1 name=$2 text=$3 line; shift 3
	run "$@"
	line=$(head -n 1 "$T/err")
	if [ "$rc" -ne "$want" ]; then
		bad "$* -> rc=$rc, want $want"
	elif [ "$(wc -l < "$T/err")" -ne 1 ]; then
		bad "$* -> $(wc -l < "$T/err") lines on stderr, want 1"
	elif [ -s "$T/out" ]; then
		bad "$* -> output on stdout"
	elif [ "${line#"$name: "}" = "$line" ]; then
		bad "$* -> stderr does not start with \"$name: \""
	elif [ "${line#*"$text"}" = "$line" ]; then
		bad "$* -> stderr does not say: $text"
	elif [ -n "${see:-}" ] && [ "${line%" (see $name --help)"}" = "$line" ]; then
		bad "$* -> stderr does not end with (see $name --help)"
	else
		echo "ok: $* -> $rc: $line"
	fi
}

# expect_help CMD... HELP: rc 0, usage on stdout naming the command (the
# word before HELP), nothing on stderr
expect_help() {
	local last=${*: -2:1}
	last=${last##*/}
	run "$@"
	if [ "$rc" -ne 0 ] || [ -s "$T/err" ]; then
		bad "$* -> rc=$rc, want 0 and an empty stderr"
	elif ! head -n 1 "$T/out" | grep -q '^usage:' || ! grep -qF -- "$last" "$T/out"; then
		bad "$* -> stdout is not a usage naming $last"
	else
		echo "ok: $* -> 0, $(wc -l < "$T/out") lines of usage"
	fi
}

"$BIN/authsrv" init --state "$T/srv" >/dev/null 2>&1 || { echo "FAIL: authsrv init"; exit 1; }
echo 'allow a -> b' > "$T/policy"

# Every command and subcommand, one row each:
#   command | arguments that lack a required one | what the line says |
#   arguments with one too many ("-": none) | an option without its value ("-": none)
# Each row is also checked for --help, -h, an unknown option before and
# after valid arguments. Commands with subcommands get an unknown and a
# missing subcommand.
while IFS='|' read -r cmd missing says extra novalue; do
	[ -n "$cmd" ] || continue
	read -r -a words <<< "$cmd"
	prog=("$BIN/${words[0]}" "${words[@]:1}")
	read -r -a m <<< "$missing"
	read -r -a x <<< "$extra"
	read -r -a n <<< "$novalue"
	says=$(echo "$says" | sed 's/^ *//; s/ *$//')
	cmd=$(echo "$cmd" | sed 's/ *$//')

	expect_help "${prog[@]}" --help
	expect_help "${prog[@]}" -h
	expect_usage "$cmd" 'unknown option "--no-such-option"' "${prog[@]}" --no-such-option
	expect_usage "$cmd" 'unknown option "-Z"' "${prog[@]}" -Z
	if [ "${x[0]}" != - ]; then
		# after otherwise valid arguments, in place of the extra one
		expect_usage "$cmd" 'unknown option "--no-such-option"' \
			"${prog[@]}" "${x[@]:0:${#x[@]}-1}" --no-such-option
		expect_usage "$cmd" "unexpected argument \"${x[-1]}\"" "${prog[@]}" "${x[@]}"
	fi
	[ "$says" != - ] && expect_usage "$cmd" "$says" "${prog[@]}" "${m[@]}"
	[ "${n[0]}" != - ] && expect_usage "$cmd" "option \"${n[-1]}\" needs a value" "${prog[@]}" "${n[@]}"
	case "$says" in *"missing command"|*"missing subcommand")
		expect_usage "$cmd" 'unknown command "bogus"' "${prog[@]}" bogus ;;
	esac
done <<EOF
authsrv               |                                  | missing command                  | -                                        | -
authsrv init          |                                  | missing --state DIR              | --state $T/x extra                       | --overlay 10.0.0.0/8 --state
authsrv serve         | --state $T/srv                   | missing --listen ADDR:PORT       | --state $T/srv --listen 127.0.0.1:1 extra | --state $T/srv --listen
authsrv token         |                                  | missing subcommand               | -                                        | -
authsrv token create  | --state $T/srv                   | missing NAME                     | web1 --state $T/srv extra                | web1 --ttl
authsrv client        |                                  | missing subcommand               | -                                        | -
authsrv client list   | --json                           | missing --state DIR              | --state $T/srv extra                     | --state
authsrv client revoke | --state $T/srv                   | missing NAME                     | web1 --state $T/srv extra                | web1 --state
authsrv policy        |                                  | missing subcommand               | -                                        | -
authsrv policy set    | --state $T/srv                   | missing FILE                     | $T/policy --state $T/srv extra           | $T/policy --state
vpnd                  |                                  | missing command                  | -                                        | -
vpnd enroll           | --state $T/h --server 127.0.0.1:1 | missing --token TOKEN           | --state $T/h --server 127.0.0.1:1 --token t extra | --state $T/h --token
vpnd run              | --sock $T/s                     | missing --state DIR              | --state $T/h --iface lo extra            | --state $T/h --iface
vpnctl                | --sock $T/s                      | missing command                  | -                                        | --sock
vpnctl attach         |                                  | missing CGROUP_DIR               | $T a                                     | -
vpnctl detach         |                                  | missing CGROUP_DIR               | $T a                                     | -
vpnctl run            |                                  | missing CMD                      | -                                        | -
vpnctl status         |                                  | -                                | extra                                    | -
vpnctl peers          |                                  | -                                | extra                                    | -
vpnctl flows          |                                  | -                                | extra                                    | -
vpnctl resolve        |                                  | missing NAME                     | web1 extra                               | -
EOF

# Malformed values: a usage error that quotes the value (a token is secret:
# named, never echoed).
expect 2 'authsrv init' 'bad --overlay "10.0.0.0/33"' "$BIN/authsrv" init --state "$T/x" --overlay 10.0.0.0/33
expect 2 'authsrv init' 'bad --db "mysql://u:***@db/x": expected postgresql://' "$BIN/authsrv" init --state "$T/x" --db mysql://u:pw@db/x
expect 1 'authsrv init' 'cannot connect to PostgreSQL' "$BIN/authsrv" init --state "$T/x" --db "postgresql:///x?host=$T/nodb"
[ -e "$T/x" ] && bad "authsrv init with an unreachable --db left $T/x"
expect 2 'authsrv serve' 'bad --metrics "nowhere"' "$BIN/authsrv" serve --state "$T/srv" --listen 127.0.0.1:1 --metrics nowhere
expect 2 'authsrv serve' 'bad --key-lifetime "0"' "$BIN/authsrv" serve --state "$T/srv" --listen 127.0.0.1:1 --key-lifetime 0
expect 2 'authsrv token create' 'bad --ttl "soon"' "$BIN/authsrv" token create web1 --state "$T/srv" --ttl soon
expect 2 'authsrv token create' '"Bad_Name"' "$BIN/authsrv" token create Bad_Name --state "$T/srv"
expect 2 'authsrv token create' '--route 0.0.0.0/0 takes every address: add --full-tunnel' "$BIN/authsrv" token create gw1 --state "$T/srv" --route 0.0.0.0/0
expect 2 'authsrv token create' '--route 100.80.1.0/24 overlaps the overlay' "$BIN/authsrv" token create gw1 --state "$T/srv" --route 100.80.1.0/24
expect 2 'authsrv token create' '--route 10.1.2.0/24 overlaps --route 10.1.0.0/16' "$BIN/authsrv" token create gw1 --state "$T/srv" --route 10.1.0.0/16 --route 10.1.2.0/24
expect 2 'authsrv token create' '"mavpn-authsrv"' "$BIN/authsrv" token create mavpn-authsrv --state "$T/srv"
expect 2 'authsrv client revoke' 'bad NAME "Bad_Name"' "$BIN/authsrv" client revoke Bad_Name --state "$T/srv"
expect 2 'vpnd run' 'bad --workers "0"' "$BIN/vpnd" run --state "$T/h" --iface lo --workers 0
expect 2 'vpnd run' 'bad --port "http"' "$BIN/vpnd" run --state "$T/h" --iface lo --port http
expect 2 'vpnd run' 'bad --metrics "9100"' "$BIN/vpnd" run --state "$T/h" --iface lo --metrics 9100
expect 2 'vpnd run' 'bad --xdp-mode "fast"' "$BIN/vpnd" run --state "$T/h" --iface lo --xdp-mode fast
expect 2 'vpnd run' 'bad --busy-poll "1001"' "$BIN/vpnd" run --state "$T/h" --iface lo --busy-poll 1001
expect 2 'vpnd enroll' 'malformed --token' "$BIN/vpnd" enroll --state "$T/h" --server 127.0.0.1:1 --token garbage
[ -e "$T/h" ] && bad "vpnd enroll with a malformed token created $T/h"
# --token-file FILE|- (the token stays out of /proc/PID/cmdline)
echo garbage > "$T/tok-bad"; : > "$T/tok-empty"
good="mavpn1.abcdefghijklmnop.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq.$(printf '0%.0s' $(seq 64))"
printf '  %s  \n' "$good" > "$T/tok-good"
expect 2 'vpnd enroll' 'bad --server "127.0.0.1:1,nope" (expected HOST:PORT[,HOST:PORT...], at most 8)' \
	"$BIN/vpnd" enroll --state "$T/h" --server 127.0.0.1:1,nope --token "$good"
expect_usage 'vpnd enroll' '--token and --token-file exclude each other' "$BIN/vpnd" enroll --state "$T/h" \
	--server 127.0.0.1:1 --token "$good" --token-file "$T/tok-good"
expect 2 'vpnd enroll' 'malformed --token' "$BIN/vpnd" enroll --state "$T/h" --server 127.0.0.1:1 --token-file "$T/tok-bad"
expect 2 'vpnd enroll' "--token-file $T/tok-empty: no token in it" "$BIN/vpnd" enroll --state "$T/h" \
	--server 127.0.0.1:1 --token-file "$T/tok-empty"
expect 2 'vpnd enroll' '--token-file -: no token in it' "$BIN/vpnd" enroll --state "$T/h" --server 127.0.0.1:1 --token-file -
expect 1 'vpnd enroll' "--token-file $T/none: No such file or directory" "$BIN/vpnd" enroll --state "$T/h" \
	--server 127.0.0.1:1 --token-file "$T/none"
[ -e "$T/h" ] && bad "vpnd enroll with a bad --token-file created $T/h"
# getopt's corner cases: the culprit is named, not its neighbour.
expect_usage 'vpnd run' 'unknown option "-x"' "$BIN/vpnd" run --verbose -vx
expect_usage 'vpnd run' 'option "--s" is ambiguous' "$BIN/vpnd" run --s "$T/h"
expect_usage 'authsrv serve' 'unexpected value in "--verbose=yes"' "$BIN/authsrv" serve --verbose=yes
expect_usage 'vpnctl' 'unexpected value in "--json=1"' "$BIN/vpnctl" --json=1 status
# run's options end at CMD: "-h" here is CMD's, not a request for help.
expect_usage 'vpnctl run' 'unknown option "--no-such-option"' "$BIN/vpnctl" run --no-such-option ls
# A command word that is not one.
expect_usage 'authsrv' 'unknown command "bogus"' "$BIN/authsrv" bogus
expect_usage 'authsrv token' 'unknown command "bogus"' "$BIN/authsrv" token bogus
expect_usage 'authsrv token' 'unknown option "--no-such-option"' "$BIN/authsrv" token --no-such-option
expect_usage 'vpnd' 'unknown command "bogus"' "$BIN/vpnd" bogus
expect_usage 'vpnctl' 'unknown command "bogus"' "$BIN/vpnctl" bogus
expect_help "$BIN/authsrv" help
expect_help "$BIN/vpnd" help

# --json: the line on stderr and one JSON document with "error" on stdout,
# for a usage error too, wherever --json stands before the command.
json_err() {
	local want=$1; shift
	run "$@"
	if [ "$rc" -ne "$want" ] || [ "$(wc -l < "$T/err")" -ne 1 ] ||
	   ! python3 -c 'import json,sys; d=json.load(sys.stdin); assert set(d) == {"error"}, d' < "$T/out"; then
		bad "$* -> rc=$rc (want $want), want one stderr line and {\"error\": ...} on stdout"
	else
		echo "ok: $* -> $rc: $(cat "$T/out")"
	fi
}
json_err 2 "$BIN/vpnctl" --json --no-such-option status
json_err 2 "$BIN/vpnctl" --no-such-option --json status
json_err 2 "$BIN/vpnctl" --json status extra
json_err 2 "$BIN/vpnctl" --json bogus
json_err 1 "$BIN/vpnctl" --sock "$T/nope.sock" --json peers

# Failures past the command line: one line, exit 1.
expect 1 'vpnctl status' "cannot connect to vpnd at $T/nope.sock" "$BIN/vpnctl" --sock "$T/nope.sock" status
expect 1 'vpnctl attach' "cannot attach \"$T/none\"" "$BIN/vpnctl" --sock "$T/nope.sock" attach "$T/none"
expect 1 'vpnd enroll' 'cannot connect to server 127.0.0.1:1' "$BIN/vpnd" enroll --state "$T/h" --server 127.0.0.1:1 \
	--token "$good"
# a good token from a file or stdin gets as far as the server
expect 1 'vpnd enroll' 'cannot connect to server 127.0.0.1:1' "$BIN/vpnd" enroll --state "$T/h" --server 127.0.0.1:1 \
	--token-file "$T/tok-good"
checks=$((checks + 1))
"$BIN/vpnd" enroll --state "$T/h" --server 127.0.0.1:1 --token-file - < "$T/tok-good" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -ne 1 ] || ! grep -q 'cannot connect to server 127.0.0.1:1' "$T/err"; then
	bad "vpnd enroll --token-file - (token on stdin) -> rc=$rc"
else
	echo "ok: vpnd enroll --token-file - < FILE -> 1: $(cat "$T/err")"
fi
expect 1 'authsrv init' 'refusing to overwrite' "$BIN/authsrv" init --state "$T/srv"
expect 1 'authsrv client list' 'no registry' "$BIN/authsrv" client list --state "$T/none"
expect 1 'authsrv policy set' "cannot open \"$T/none\"" "$BIN/authsrv" policy set "$T/none" --state "$T/srv"
# vpnd run reports through its log (a daemon's stderr goes to journald).
run "$BIN/vpnd" run --state "$T/none" --iface lo --sock "$T/v.sock"
{ [ "$rc" -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q 'holds no enrollment' "$T/err"; } \
	|| bad "vpnd run without enrollment -> rc=$rc"
run setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/vpnd" run --state "$T/none" --iface lo
{ [ "$rc" -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q 'missing privileges: needs CAP_NET_ADMIN' "$T/err"; } \
	|| bad "vpnd run without privileges -> rc=$rc"

[ "$fails" -eq 0 ] || { echo "FAIL: $fails of $checks CLI contract checks"; exit 1; }
echo "PASS: $checks CLI checks: --help on stdout, every error one line with the right exit code"
