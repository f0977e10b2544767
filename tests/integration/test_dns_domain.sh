#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A domain of one's own, and names across restarts:
#
#   ns sw: br0 ── srv (authsrv init --domain Corp.Example) ── h1 ── h2
#
# Proves: the domain given to `authsrv init --domain` (lowercased) is what
# every vpnd answers for (h2.corp.example; h2.mavpn is then someone
# else's: REFUSED) and shows as self.domain; a vpnd restarted while the
# server is down keeps the domain from its state directory and answers
# names in it SERVFAIL (not a cacheable NXDOMAIN) until the server sends
# the list again, then resolves them. Split DNS: without systemd-resolved
# vpnd says so in its log; with a resolved serving its network namespace
# (a stand-in: a listener on resolved's varlink socket path in a private
# mount namespace, and a resolvectl that records its arguments) vpnd runs
# `resolvectl dns mavpn0 ADDR` and `resolvectl domain mavpn0 ~DOMAIN`, once.
set -u
. "$(dirname "$0")/../lib/topo.sh"
fake_down() { [ -s "$MV_TMP/fake/resolved.pid" ] && kill "$(cat "$MV_TMP/fake/resolved.pid")" 2>/dev/null; topo_down; }
trap fake_down EXIT
need_cmd dig unshare mount timeout

dig_h1() { in_ns h1 dig @"$h1ip" +time=2 +tries=2 +norecurse "$@"; }
dig_status() { dig_h1 "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
h1_answers() { vpnctl_on h1 --json status >/dev/null && [ -n "$(dig_status "$1")" ]; }
resolves_to() { [ "$(dig_h1 +short "$1")" = "$2" ]; }

serve() {
	bg_start "$MV_TMP/authsrv-$1.log" $(nsx srv) "$MV_BIN/authsrv" serve \
		--state "$MV_TMP/srv" --listen "0.0.0.0:$MV_PORT_SRV"
	srv_pid=${MV_PIDS[-1]}
	wait_for 10 "authsrv listening" in_ns srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$MV_PORT_SRV"
}

topo_up || fail "topology"
"$MV_BIN/authsrv" init --state "$MV_TMP/srv" --domain Corp.Example >"$MV_TMP/srv-init.log" 2>&1 \
	|| fail "authsrv init --domain"
serve 1 || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h1ip=$(vpnctl_on h1 --json status | json_get 'd["self"]["overlay_ip"]') || fail "status"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve h2"

log_step "NAME.corp.example"
[ "$(vpnctl_on h1 --json status | json_get 'd["self"]["domain"]')" = corp.example ] \
	|| fail "self.domain is not corp.example"
wait_for 10 "h2.corp.example" resolves_to h2.corp.example "$h2ip" \
	|| fail "h2.corp.example: $(dig_h1 h2.corp.example)"
[ "$(dig_h1 +tcp +short H2.CORP.EXAMPLE)" = "$h2ip" ] || fail "over TCP, upper case"
[ "$(dig_status h2.mavpn)" = REFUSED ] || fail "h2.mavpn is not REFUSED under another domain"
[ "$(dig_status nobody.corp.example)" = NXDOMAIN ] || fail "nobody.corp.example"
grep -q "split DNS not registered (systemd-resolved is not running)" "$MV_TMP/vpnd-h1.log" \
	|| fail "no log line about the missing systemd-resolved"

log_step "vpnd restarted while the server is down: the domain stays, names SERVFAIL"
kill "$srv_pid"; wait "$srv_pid" 2>/dev/null
kill "${MV_HOST_PID[h1]}"; wait "${MV_HOST_PID[h1]}" 2>/dev/null
fake=$MV_TMP/fake
mkdir -p "$fake/bin"
printf '#!/bin/sh\necho "$*" >> "%s/calls"\n' "$fake" > "$fake/bin/resolvectl"
chmod +x "$fake/bin/resolvectl"
# vpnd with a resolved stand-in in its own mount namespace (the host's
# /run/systemd is not touched); timeout bounds the stand-in.
bg_start "$MV_TMP/vpnd-h1-2.log" $(nsx h1) unshare -m sh -c '
	d=/run/systemd; [ -d $d ] || d=/run	# a host without systemd at all
	mount -t tmpfs tmpfs $d && mkdir -p /run/systemd/resolve || exit 1
	sock=/run/systemd/resolve/io.systemd.Resolve
	timeout 120 python3 -c "import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(120)" "$sock" &
	echo $! > "$1/resolved.pid"
	while [ ! -S "$sock" ]; do sleep 0.05; done
	PATH="$1/bin:$PATH" exec "$2" run --state "$3" --iface eth0 --sock "$4"' \
	sh "$fake" "$MV_BIN/vpnd" "$MV_TMP/h1" "$MV_TMP/h1.sock"
MV_HOST_PID[h1]=${MV_PIDS[-1]}
wait_for 15 "h1's vpnd answering DNS" h1_answers h2.corp.example || fail "vpnd on h1 did not come back"
st=$(vpnctl_on h1 --json status) || fail "status"
[ "$(echo "$st" | json_get 'd["self"]["connected"]')" = False ] || fail "connected without a server?"
[ "$(echo "$st" | json_get 'd["self"]["domain"]')" = corp.example ] || fail "domain not kept: $st"
[ "$(dig_status h2.corp.example)" = SERVFAIL ] || fail "before the list: $(dig_h1 h2.corp.example)"
[ "$(dig_status example.org)" = REFUSED ] || fail "outside the domain"
echo "resolvectl calls: $(tr '\n' ';' < "$fake/calls" 2>/dev/null)"
grep -qx "dns mavpn0 $h1ip" "$fake/calls" || fail "no resolvectl dns mavpn0 $h1ip"
grep -qx "domain mavpn0 ~corp.example" "$fake/calls" || fail "no resolvectl domain mavpn0 ~corp.example"

log_step "the server is back: the list arrives, names resolve"
serve 2 || fail "authsrv did not restart"
wait_for 35 "h2.corp.example again" resolves_to h2.corp.example "$h2ip" \
	|| fail "h2.corp.example after the server came back: $(dig_h1 h2.corp.example)"
[ "$(wc -l < "$fake/calls")" = 2 ] || fail "resolvectl ran again for the same domain: $(cat "$fake/calls")"

echo "PASS: a domain of one's own, kept across restarts"
