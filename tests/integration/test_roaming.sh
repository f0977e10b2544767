#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Roaming: h1's underlay address changes during a transfer.
#
#   ns sw: br0 ── srv 198.18.0.1, h1 198.18.0.11 -> 198.18.0.21, h2 .12
#
# h1 pings h2's overlay address every 50 ms; 3 s in, h1's eth0 address is
# replaced (ip addr del/add, same subnet). Proves: h1's data plane follows
# its own address change (rtnetlink address events: new source address),
# h2 moves h1's endpoint on h1's first authenticated datagram from the new
# address (WireGuard-style), so replies resume with a gap under 3 s; h2's
# `vpnctl --json peers` shows h1's new endpoint; h1 tells the server its
# new candidates (re-HELLO).
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd ping

NEW=$MV_SUBNET.21
# The pings' interval and the gap allowed scale with MV_TIME_SCALE: the
# move is detected and announced through netlink and the control channel.
INTERVAL=$(mv_t 0.05)
MAXGAP=$((3 * MV_TIME_SCALE))

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"

bg_start "$MV_TMP/ping.out" $(nsx h1) "$MV_BIN/vpnctl" --sock "$MV_TMP/h1.sock" \
	run -- ping -n -c 200 -i "$INTERVAL" -W "$(mv_t 1)" "$h2ip"
pid=${MV_PIDS[-1]}
wait_for 3 "a ping reply before the move" grep -q "icmp_seq=" "$MV_TMP/ping.out" ||
	fail "no ping reply before the move"
vpnctl_on h2 --json peers | json_get '[p["endpoint"] for p in d if p["name"]=="h1"][0]' \
	> "$MV_TMP/ep-before" || fail "h2 peers (before)"
echo "h1's endpoint on h2 before: $(cat "$MV_TMP/ep-before")"

log_step "h1: eth0 198.18.0.11 -> $NEW"
in_ns h1 ip addr del "$MV_SUBNET.11/24" dev eth0 || fail "ip addr del"
in_ns h1 ip addr add "$NEW/24" dev eth0 || fail "ip addr add"

wait "$pid" 2>/dev/null
tail -n 2 "$MV_TMP/ping.out"
gap=$(awk -v iv="$INTERVAL" -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); s = a[1] + 0;
	if (last != "" && s - last > max) max = s - last; last = s }
	END { if (200 - last > max) max = 200 - last; printf "%.2f", max * iv }' "$MV_TMP/ping.out")
last=$(awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); s = a[1] } END { print s + 0 }' "$MV_TMP/ping.out")
echo "longest gap in replies: ${gap}s, last reply seq $last of 200"
[ "$last" -ge 150 ] || fail "traffic did not resume after the address change (last reply seq $last)"
awk -v g="$gap" -v m="$MAXGAP" 'BEGIN { exit !(g < m) }' || fail "gap ${gap}s is not under $MAXGAP s"

ep=$(vpnctl_on h2 --json peers | json_get '[p["endpoint"] for p in d if p["name"]=="h1"][0]') \
	|| fail "h2 peers (after)"
echo "h1's endpoint on h2 after: $ep"
case $ep in "$NEW":*) ;; *) fail "h2 shows h1 at $ep, not $NEW";; esac
grep -q "peer moved peer=h1" "$MV_TMP/vpnd-h2.log" || fail "h2 did not log the move"
wait_for 5 "h1 re-sent its candidates" grep -q "underlay addresses changed" "$MV_TMP/vpnd-h1.log" \
	|| fail "h1 did not notice its address change"
echo "PASS: roaming: h1's new address followed, gap ${gap}s"
