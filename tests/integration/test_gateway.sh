#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Gateway to a LAN (client to server):
#
#   ns sw: br0 (tcpdump) ── srv 198.18.0.1 (authsrv)
#                        ├─ h1  198.18.0.11  vpnd ── vpnctl run curl/ping 198.19.0.10
#                        └─ gw  198.18.0.12  vpnd, enrolled with --route 198.19.0.0/24
#                               lan0 198.19.0.1 ── veth ── ns lan 198.19.0.10
#                                                          http.server :8080, no VPN
#
# Proves: h1 gets a route for the gateway's prefix via mavpn0, and the
# socket shim protects it (an unattached curl gets EPERM); `vpnctl run curl`
# and ping from h1 reach the LAN host through the gateway, which forwards
# the decrypted packets (from h1's overlay address, no NAT) and the answers
# back; on the bridge there is only UDP between the underlay addresses and
# never a LAN address, the page or TCP 8080; after kill -9 of h1's vpnd the
# LAN prefix still goes to mavpn0 (with a blackhole under it) and nothing
# leaves in clear; the restarted vpnd routes the LAN again from its state.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd curl ping tcpdump sysctl
lan=198.19.0.10

ns_sw=$(ns_name sw)
ip netns add "$ns_sw"; MV_NETNS+=("$ns_sw")
in_ns sw ip link add br0 type bridge
in_ns sw ip link set br0 up
topo_add_host srv 1
topo_add_host h1 11
topo_add_host gw 12
topo_add_lan gw lan 10
start_authsrv || fail "authsrv did not start"
start_host gw --route 198.19.0.0/24 || fail "gw did not enroll/connect"
start_host h1 || fail "h1 did not enroll/connect"

marker="mavpn-lan-marker-$RANDOM$RANDOM"
mkdir -p "$MV_TMP/www" && echo "$marker" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx lan) python3 -m http.server --bind "$lan" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server in the LAN" in_ns lan bash -c "exec 3<>/dev/tcp/$lan/8080"

log_step "routes"
# Validated at token create: another gateway may not front gw's LAN.
out=$("$MV_BIN/authsrv" token create gw2 --route 198.19.0.128/25 --state "$MV_TMP/srv" 2>&1) \
	&& fail "token create accepted a route inside gw's 198.19.0.0/24"
echo "$out" | grep -q 'overlaps 198.19.0.0/24 of gateway gw' || fail "unclear refusal: $out"
lan_routed() { in_ns h1 ip route get "$lan" | grep -q 'dev mavpn0'; }
wait_for 5 "route to the LAN via mavpn0 on h1" lan_routed \
	|| { in_ns h1 ip route; fail "h1 has no route to $lan via mavpn0"; }
echo "h1: $(in_ns h1 ip route get "$lan" | head -1)"
[ "$(in_ns gw sysctl -n net.ipv4.ip_forward)" = 1 ] || fail "ip_forward is off on the gateway"
in_ns gw ip route get "$lan" | grep -q "dev lan0" || fail "gateway routes its LAN elsewhere"

bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -i br0 -U -n -w "$MV_TMP/wire.pcap"
bg_start "$MV_TMP/tcpdump-lan.log" $(nsx lan) tcpdump -i eth0 -U -n -w "$MV_TMP/lan.pcap"
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump.log"
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump-lan.log"

log_step "unattached process on h1"
in_ns h1 curl -sS --max-time "$(mv_t 5)" "http://$lan:8080/" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 7 ] || fail "unattached curl to the LAN: exit $rc, want 7 (EPERM)"
echo "unattached curl to $lan: exit $rc"

log_step "through the gateway"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$lan:8080/") \
	|| fail "curl to the LAN through the VPN failed"
[ "$body" = "$marker" ] || fail "page body '$body' is not the marker"
echo "vpnctl run curl http://$lan:8080/: marker received"
vpnctl_on h1 run -- ping -c 3 -i 0.2 -W "$(mv_t 2)" "$lan" >"$MV_TMP/ping.txt" 2>&1 \
	|| { cat "$MV_TMP/ping.txt"; fail "ping to the LAN"; }
echo "vpnctl run ping: $(grep 'packets transmitted' "$MV_TMP/ping.txt")"
vpnctl_on h1 --json peers | json_get '[(p["name"], p["tx_packets"], p["rx_packets"]) for p in d]'
vpnctl_on h1 --json flows | json_get '[(f["dst"], f["via"], f["verdict"]) for f in d if f["dst"] == "'$lan'"]'

log_step "kill -9 vpnd on h1"
kill -9 "${MV_HOST_PID[h1]}"; wait "${MV_HOST_PID[h1]}" 2>/dev/null
in_ns h1 ip route get "$lan" | grep -q "dev mavpn0" || fail "LAN route left mavpn0 after the kill"
in_ns h1 ip route show type blackhole | grep -q "^blackhole 198.19.0.0/24" \
	|| fail "no blackhole route under the LAN route"
in_ns h1 curl -sS --max-time "$(mv_t 3)" "http://$lan:8080/" >/dev/null 2>&1 && fail "curl reached the LAN without vpnd"
in_ns h1 ping -c 2 -i 0.2 -W "$(mv_t 1)" "$lan" >/dev/null 2>&1 && fail "ping reached the LAN without vpnd"
echo "without vpnd: curl and ping to the LAN get nothing"
mv_sleep 1	# the captures catch up
kill "${MV_PIDS[-1]}" "${MV_PIDS[-2]}"; wait "${MV_PIDS[-1]}" "${MV_PIDS[-2]}" 2>/dev/null

udp=$(pcap_count "$MV_TMP/wire.pcap" udp port 51820 and host 198.18.0.11 and host 198.18.0.12)
leak=$(pcap_count "$MV_TMP/wire.pcap" "ip and (net 198.19.0.0/24 or net ${MV_OVERLAY:-100.80.0.0/16} or tcp port 8080 or icmp)")
fwd=$(pcap_count "$MV_TMP/lan.pcap" tcp port 8080 and src net ${MV_OVERLAY:-100.80.0.0/16})
echo "bridge: $udp encrypted UDP datagrams, $leak frames with LAN/overlay addresses, TCP 8080 or ICMP"
echo "LAN link: $fwd TCP 8080 packets from the overlay (forwarded by the gateway)"
[ "$udp" -ge 6 ] || fail "no encrypted traffic between h1 and the gateway"
[ "$leak" -eq 0 ] || fail "plaintext LAN traffic on the bridge"
[ "$fwd" -ge 3 ] || fail "the gateway did not forward into the LAN"
if grep -q -a "$marker" "$MV_TMP/wire.pcap"; then fail "marker seen in clear on the bridge"; fi

log_step "restart vpnd on h1"
grep -q "^net 198.19.0.0/24 " "$MV_TMP/h1/routes" || fail "h1 did not keep the gateway route in its state dir"
run_host h1 || fail "vpnd on h1 did not come back"
lan_routed || fail "no LAN route after the restart"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$lan:8080/") || fail "curl after the restart"
[ "$body" = "$marker" ] || fail "page body '$body' after the restart"
echo "after the restart: route back, curl to the LAN works"
echo "PASS: gateway to a LAN through mavpn"
