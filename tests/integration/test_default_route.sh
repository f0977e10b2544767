#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# vpnd without --iface follows the default route (issue 13 item 4).
#
#   ns sw: br0 ── srv 198.18.0.1, h1 eth0 .11, h2 .12
#          br1 ── h1 eth1 198.21.0.11
#   h1: default route via eth0, vpnd run without --iface
#
# Proves: vpnd takes the default route's interface as its underlay (eth0:
# traffic to h2 flows, `vpnctl status` says so); when the default route
# moves to eth1 it stops with status 75 and says why, for its service
# manager to start it again, which then takes eth1.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd ping

run_h1() { # start h1's vpnd without --iface
	bg_start "$MV_TMP/vpnd-h1.log" $(nsx h1) "$MV_BIN/vpnd" run --state "$MV_TMP/h1" \
		--sock "$MV_TMP/h1.sock" ${MV_VPND_ARGS:-}
	MV_HOST_PID[h1]=${MV_PIDS[-1]}
	wait_for 15 "vpnd on h1 connected" host_connected h1
}
ul_iface() { vpnctl_on h1 --json status | json_get 'd["underlay"]["iface"]'; }

topo_up || fail "topology"
in_ns sw ip link add br1 type bridge
in_ns sw ip link set br1 up
ip link add "d$MV_ID" type veth peer name eth1 netns "$(ns_name h1)"
ip link set "d$MV_ID" netns "$(ns_name sw)"
in_ns sw ip link set "d$MV_ID" master br1 up
in_ns h1 ip addr add 198.21.0.11/24 dev eth1
in_ns h1 ip link set eth1 up
in_ns h1 ip route add default via "$MV_SUBNET.1" dev eth0

start_authsrv || fail "authsrv did not start"
tok=$("$MV_BIN/authsrv" token create h1 --state "$MV_TMP/srv") || fail "token"
printf '%s\n' "$tok" | in_ns h1 "$MV_BIN/vpnd" enroll --state "$MV_TMP/h1" \
	--server "$MV_SUBNET.1:$MV_PORT_SRV" --token-file - || fail "h1 enroll"
run_h1 || fail "h1 without --iface did not connect"
start_host h2 || fail "h2 did not enroll/connect"

log_step "h1 took the default route's interface"
grep -q "underlay iface=eth0 (the default route's; followed)" "$MV_TMP/vpnd-h1.log" \
	|| fail "h1 did not say it took eth0 from the default route"
[ "$(ul_iface)" = eth0 ] || fail "h1's underlay is $(ul_iface), not eth0"
[ "$(vpnctl_on h1 --json status | json_get 'd["underlay"]["follows_default_route"]')" = True ] \
	|| fail "status does not say h1 follows the default route"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
vpnctl_on h1 run -- ping -n -c 3 -W "$(mv_t 2)" "$h2ip" > "$MV_TMP/ping.out" || fail "ping h1 -> h2"

log_step "the default route moves to eth1"
pid=${MV_HOST_PID[h1]}
in_ns h1 ip route replace default via 198.21.0.1 dev eth1 || fail "ip route replace"
wait_for 10 "h1's vpnd stopped" bash -c "! kill -0 $pid" || fail "h1's vpnd did not stop"
wait "$pid"; rc=$?
echo "vpnd exit status $rc"
[ "$rc" -eq 75 ] || fail "vpnd exited with $rc, not 75"
grep -q "the default route moved to iface=eth1 (underlay iface=eth0)" "$MV_TMP/vpnd-h1.log" \
	|| fail "vpnd did not say why it stopped"
cp "$MV_TMP/vpnd-h1.log" "$MV_TMP/vpnd-h1-first.log"

log_step "started again, as its service manager would: eth1"
run_h1 || fail "h1 did not come back"
[ "$(ul_iface)" = eth1 ] || fail "h1's underlay is $(ul_iface) after the move, not eth1"
grep -q "underlay iface=eth1 (the default route's; followed)" "$MV_TMP/vpnd-h1.log" \
	|| fail "h1 did not take eth1"
echo "PASS: vpnd follows the default route"
