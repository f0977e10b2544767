#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Multi-homed hosts: the server is reached over a management link, the data
# path runs over a separate data link the server is not on.
#
#   ns sw: br0 (management) ── srv 198.18.0.1, h1 eth0 .11, h2 eth0 .12
#          br1 (data)       ── h1 eth1 198.20.0.11, h2 eth1 198.20.0.12
#   vpnd run --iface eth1 on both hosts
#
# Proves: vpnd reports its underlay addresses as candidate endpoints in
# HELLO, the server hands them to the peer with the key, and the peer sends
# to the candidate it reaches through its underlay, not to the address the
# control connection came from: curl h1 -> h2 works, the data bridge carries
# the encrypted UDP (nothing in clear), the management bridge none of it.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd curl tcpdump

DATA=198.20.0

topo_up || fail "topology"
in_ns sw ip link add br1 type bridge
in_ns sw ip link set br1 up
for h in h1 h2; do
	n=$([ $h = h1 ] && echo 11 || echo 12)
	ip link add "d$MV_ID$h" type veth peer name eth1 netns "$(ns_name $h)"
	ip link set "d$MV_ID$h" netns "$(ns_name sw)"
	in_ns sw ip link set "d$MV_ID$h" master br1 up
	in_ns $h ip addr add "$DATA.$n/24" dev eth1
	in_ns $h ip link set eth1 up
done

start_authsrv || fail "authsrv did not start"
MV_IFACE=eth1
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"

h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
marker="mavpn-mh-$RANDOM$RANDOM$RANDOM"
mkdir -p "$MV_TMP/www" && echo "$marker" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"

bg_start "$MV_TMP/tcpdump-mgmt.log" $(nsx sw) tcpdump -i br0 -U -n -w "$MV_TMP/mgmt.pcap" ip
bg_start "$MV_TMP/tcpdump-data.log" $(nsx sw) tcpdump -i br1 -U -n -w "$MV_TMP/data.pcap" ip
wait_for 10 "tcpdump br0 running" grep -q listening "$MV_TMP/tcpdump-mgmt.log"
wait_for 10 "tcpdump br1 running" grep -q listening "$MV_TMP/tcpdump-data.log"

body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") || {
	for h in h1 h2; do vpnctl_on $h --json peers > "$MV_TMP/peers-$h.out" 2>&1; done
	fail "curl h1 -> h2 over the overlay failed (data path via the data link)"
}
[ "$body" = "$marker" ] || fail "page body '$body' is not the marker"
echo "curl got the marker through the VPN"
mv_sleep 1	# the captures catch up
kill "${MV_PIDS[-1]}" "${MV_PIDS[-2]}"; wait "${MV_PIDS[-1]}" "${MV_PIDS[-2]}" 2>/dev/null

fwd=$(pcap_count "$MV_TMP/data.pcap" udp and src host "$DATA.11" and dst host "$DATA.12")
back=$(pcap_count "$MV_TMP/data.pcap" udp and src host "$DATA.12" and dst host "$DATA.11")
clear=$(pcap_count "$MV_TMP/data.pcap" tcp port 8080)
mgmt_udp=$(pcap_count "$MV_TMP/mgmt.pcap" udp)
mgmt_clear=$(pcap_count "$MV_TMP/mgmt.pcap" tcp port 8080)
echo "data bridge: $fwd UDP h1->h2, $back UDP h2->h1, $clear plaintext TCP:8080"
echo "management bridge: $mgmt_udp UDP, $mgmt_clear plaintext TCP:8080"
[ "$fwd" -ge 3 ] && [ "$back" -ge 3 ] || fail "no encrypted UDP on the data bridge"
[ "$clear" -eq 0 ] || fail "plaintext HTTP on the data bridge"
[ "$mgmt_udp" -eq 0 ] || fail "data-plane UDP on the management bridge"
[ "$mgmt_clear" -eq 0 ] || fail "plaintext HTTP on the management bridge"
for f in data mgmt; do
	if grep -q -a "$marker" "$MV_TMP/$f.pcap"; then fail "marker in clear on the $f bridge"; fi
done
grep -q "key: installed.*underlay=$DATA.12:" "$MV_TMP/vpnd-h1.log" \
	|| fail "h1 did not pick h2's data-link candidate"
echo "PASS: multi-homed hosts: data path over the data link"
