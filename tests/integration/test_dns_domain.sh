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
# the list again, then resolves them.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd dig

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

log_step "vpnd restarted while the server is down: the domain stays, names SERVFAIL"
kill "$srv_pid"; wait "$srv_pid" 2>/dev/null
kill "${MV_HOST_PID[h1]}"; wait "${MV_HOST_PID[h1]}" 2>/dev/null
bg_start "$MV_TMP/vpnd-h1-2.log" $(nsx h1) "$MV_BIN/vpnd" run --state "$MV_TMP/h1" \
	--iface eth0 --sock "$MV_TMP/h1.sock"
MV_HOST_PID[h1]=${MV_PIDS[-1]}
wait_for 15 "h1's vpnd answering DNS" h1_answers h2.corp.example || fail "vpnd on h1 did not come back"
st=$(vpnctl_on h1 --json status) || fail "status"
[ "$(echo "$st" | json_get 'd["self"]["connected"]')" = False ] || fail "connected without a server?"
[ "$(echo "$st" | json_get 'd["self"]["domain"]')" = corp.example ] || fail "domain not kept: $st"
[ "$(dig_status h2.corp.example)" = SERVFAIL ] || fail "before the list: $(dig_h1 h2.corp.example)"
[ "$(dig_status example.org)" = REFUSED ] || fail "outside the domain"

log_step "the server is back: the list arrives, names resolve"
serve 2 || fail "authsrv did not restart"
wait_for 35 "h2.corp.example again" resolves_to h2.corp.example "$h2ip" \
	|| fail "h2.corp.example after the server came back: $(dig_h1 h2.corp.example)"

echo "PASS: a domain of one's own, kept across restarts"
