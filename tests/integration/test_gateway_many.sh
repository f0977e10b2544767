#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# 100 gateways, each with its own LAN route:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv)
#              ├─ h1  198.18.0.11  vpnd: learns every gateway's route
#              └─ h2  198.18.0.12  enrolls gw1..gw100 (--route 10.N.0.0/16)
#
# Proves: HELLO_ACK carries the routes of 100 gateways (repeated CTLA_ROUTE
# attributes, no fixed buffer; before, ~21 gateways overflowed it and every
# host rejected all routes), h1 installs all 100 via mavpn0, and a 101st
# gateway that asks for part of gw7's LAN is refused at token create.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"

log_step "enroll 100 gateways"
for i in $(seq 100); do
	tok=$("$MV_BIN/authsrv" token create "gw$i" --route "10.$i.0.0/16" --state "$MV_TMP/srv") \
		|| fail "token gw$i"
	in_ns h2 "$MV_BIN/vpnd" enroll --state "$MV_TMP/gw$i" --server "$MV_SUBNET.1:$MV_PORT_SRV" \
		--token "$tok" >/dev/null || fail "enroll gw$i"
done
out=$("$MV_BIN/authsrv" token create gw101 --route 10.7.128.0/17 --state "$MV_TMP/srv" 2>&1) \
	&& fail "a route inside gw7's LAN was accepted"
echo "$out" | grep -q "overlaps 10.7.0.0/16 of gateway gw7" || fail "unclear refusal: $out"

log_step "h1 learns every route at HELLO"
start_host h1 || fail "h1"
grep -q "gw: 0 own routes, 100 network routes" "$MV_TMP/vpnd-h1.log" \
	|| fail "h1 did not take the 100 gateway routes"
n=$(in_ns h1 ip -4 route show dev mavpn0 | grep -c '^10\.[0-9]*\.0\.0/16')
echo "h1: $n LAN routes via mavpn0"
[ "$n" = 100 ] || fail "h1 routes $n of 100 LANs via mavpn0"
echo "PASS: 100 gateways' routes reach every host in HELLO_ACK"
