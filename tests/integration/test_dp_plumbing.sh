#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Data-plane plumbing: the bounded pending queue counts what it drops, the
# overlay MTU follows the underlay's and oversize packets get ICMP
# "fragmentation needed", and the outer Ethernet header follows a change
# of the peer's MAC address.
#
#   ns sw: br0 ── srv 198.18.0.1  authsrv
#              ├─ h1  198.18.0.11 vpnd ── ping / UDP from an attached cgroup
#              └─ h2  198.18.0.12 vpnd   (eth0's MAC is changed mid-test)
#
# 1. h2's vpnd is stopped (SIGSTOP), so no key can arrive; h1 sends 200
#    UDP datagrams to h2: 128 are held, 72 counted as drop_pending.
# 2. mavpn0's MTU is eth0's minus 80. With h1's mavpn0 raised to 1500 by
#    hand, `ping -M do -s 1472` gets "Frag needed ... mtu = 1420" from the
#    datapath (the peers' overlay MTU), and 1420-byte pings pass.
# 3. While h1 pings h2, h2's eth0 gets a new MAC: pings keep flowing and
#    h1's datapath sends to the new MAC (seen on the bridge).
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd tcpdump python3 ping nsenter
need_root

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
cg_new app CG || fail "cgroup"
vpnctl_on h1 attach "$CG" >/dev/null || fail "attach on h1"
vpnctl_on h2 attach "$CG" >/dev/null || fail "attach on h2"
dp_stat() { vpnctl_on "$1" --json status | json_get "d['dp_stats']['$2']"; }

# --- 1. pending queue overflow
kill -STOP "${MV_HOST_PID[h2]}"
in_cg "$CG" h1 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    s.sendto(b"held %d" % i, (sys.argv[1], 9))
' "$h2ip" || { kill -CONT "${MV_HOST_PID[h2]}"; fail "send"; }
# The held ones expire after the hold time (the product's 2 s), which a slow
# machine may pass before it reads the counters; they count in drop_pending
# and in held_expired, so the overflow is the difference.
overflow() { vpnctl_on h1 --json status |
	json_get "d['dp_stats']['drop_pending'] - d['dp_stats']['held_expired']"; }
overflowed() { dropped=$(overflow) && [ "$dropped" -ge 72 ]; }
dropped=0
wait_for 2 "the overflow counted" overflowed
kill -CONT "${MV_HOST_PID[h2]}"
echo "pending queue: 200 sent without a key, dropped over the limit: $dropped"
[ "$dropped" -eq 72 ] || fail "drop_pending - held_expired is $dropped, want 72 (200 - 128 held)"
wait_for 15 "ping through the VPN" in_cg "$CG" h1 ping -c 1 -W "$(mv_t 1)" "$h2ip" ||
	fail "no ping through the VPN after the key"

# --- 2. MTU and ICMP fragmentation needed
ulmtu=$(in_ns h1 ip -o link show eth0 | sed 's/.* mtu \([0-9]*\).*/\1/')
ovmtu=$(in_ns h1 ip -o link show mavpn0 | sed 's/.* mtu \([0-9]*\).*/\1/')
echo "underlay MTU $ulmtu, overlay MTU $ovmtu"
[ "$ovmtu" -eq $((ulmtu - 80)) ] || fail "overlay MTU $ovmtu, want $((ulmtu - 80))"
in_ns h1 ip link set mavpn0x mtu 1500 || fail "raise mavpn0x MTU"
in_ns h1 ip link set mavpn0 mtu 1500 || fail "raise mavpn0 MTU"
out=$(in_cg "$CG" h1 ping -M do -s 1472 -c 1 -W "$(mv_t 2)" "$h2ip" 2>&1)
echo "$out" | grep -i -m1 "frag needed\|mtu" || true
echo "$out" | grep -qi "mtu = $((ulmtu - 80))" || fail "no ICMP frag needed with mtu $((ulmtu - 80)): $out"
[ "$(dp_stat h1 icmp_too_big)" -ge 1 ] || fail "icmp_too_big not counted"
in_cg "$CG" h1 ping -M do -s $((ulmtu - 80 - 28)) -c 2 -W "$(mv_t 2)" "$h2ip" >/dev/null ||
	fail "a packet of exactly $((ulmtu - 80)) bytes did not pass"
echo "ICMP fragmentation needed (mtu $((ulmtu - 80))) received; $((ulmtu - 80))-byte packets pass"

# --- 3. next-hop MAC change
bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -i br0 -U --immediate-mode -n -e \
	udp and dst host 198.18.0.12 and dst port 51820
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump.log"
newmac=02:00:5e:10:$(printf '%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)))
# in the attached cgroup; bash execs nsenter execs ping: one PID to signal.
# It runs until the new MAC has carried enough (however slow the machine),
# then SIGINT makes it print its statistics.
bg_start "$MV_TMP/ping.log" bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" \
	$(nsx h1) ping -i 0.05 -c 4000 -W "$(mv_t 1)" "$h2ip"
pingpid=${MV_PIDS[-1]}
# The MAC changes while the pings flow: some seen on the wire first.
pings_seen() { [ "$(grep -c "> " "$MV_TMP/tcpdump.log")" -ge 5 ]; }
wait_for 10 "pings on the wire" pings_seen || fail "no pings on the wire"
in_ns h2 ip link set eth0 address "$newmac" || fail "set MAC"
echo "h2 eth0 is now $newmac"
new_seen() { [ "$(grep -ci "> $newmac" "$MV_TMP/tcpdump.log")" -ge 20 ]; }
wait_for 20 "20 datagrams to the new MAC" new_seen
kill -INT "$pingpid"; wait "$pingpid" 2>/dev/null
kill "${MV_PIDS[-2]}" 2>/dev/null
tail -n 3 "$MV_TMP/ping.log"
tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$MV_TMP/ping.log")
rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$MV_TMP/ping.log")
seen=$(grep -ci "> $newmac" "$MV_TMP/tcpdump.log")
echo "after the MAC change: $seen datagrams to $newmac on the wire; $rx/$tx pings answered"
[ "$seen" -ge 20 ] || fail "h1 did not switch to h2's new MAC"
# a few may be lost while the neighbour entry is re-resolved
[ "${rx:-0}" -ge $((${tx:-0} - 10)) ] && [ "${tx:-0}" -gt 0 ] ||
	fail "only ${rx:-0}/${tx:-0} pings answered across the MAC change"
echo "PASS: pending drops counted, MTU/ICMP frag-needed, next-hop MAC followed"
