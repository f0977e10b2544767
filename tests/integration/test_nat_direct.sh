#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Direct paths through NAT: hole punching with authenticated probes, and
# keepalives while a peer is active (issue 13 item 2).
#
#   ns sw: br0 ── srv 198.18.0.1, h1 .11 (public),
#                 r3 .23 (NAT) ── h3 10.3.0.2, r4 .24 (NAT) ── h4 10.4.0.2
#   r3, r4: nftables masquerade (endpoint-independent), WAN input of new
#   connections dropped; vpnd run --keepalive 1
#
# Proves: h3 and h4, each behind its own NAT, talk directly: a curl h3 ->
# h4 gets its page, the WAN bridge carries the encrypted UDP between the
# two NATs' addresses (port 51820 both ends: the data leaves from the data
# port once a NAT is known), none of it through the server, nothing in
# clear; both sides show the other at its NAT's address, path "direct",
# a last_handshake. Public h1 <-> h3 too. Keepalives go out while the peer
# is active and stop once it is idle.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd ping tcpdump curl python3

KA=1
export MV_VPND_ARGS="--keepalive $KA"
peer_field() { # host peer field
	vpnctl_on "$1" --json peers | json_get "[p['$3'] for p in d if p['name']=='$2'][0]"
}
ka_sent() { vpnctl_on "$1" --json status | json_get 'd["dp_stats"]["keepalives_sent"]'; }

topo_up || fail "topology"
topo_add_nat_host h3 r3 23 3 || fail "NAT topology r3"
topo_add_nat_host h4 r4 24 4 || fail "NAT topology r4"
start_authsrv || fail "authsrv did not start"
for h in h1 h3 h4; do start_host $h || fail "$h did not enroll/connect"; done
for h in h3 h4; do
	wait_for 10 "$h discovered its endpoint" grep -q "discovered endpoint=.* nat=yes" \
		"$MV_TMP/vpnd-$h.log" || fail "$h did not discover its endpoint"
	wait_for 5 "the server got $h's candidates" grep -q "host endpoints host=$h n=2" \
		"$MV_TMP/authsrv.log" || fail "$h did not report its endpoint"
done

h4ip=$(vpnctl_on h3 resolve h4) || fail "vpnctl resolve h4"
h3ip=$(vpnctl_on h1 resolve h3) || fail "vpnctl resolve h3"
marker="mavpn-nat-$RANDOM$RANDOM$RANDOM"
mkdir -p "$MV_TMP/www" && echo "$marker" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h4) python3 -m http.server --bind "$h4ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h4" in_ns h4 bash -c "exec 3<>/dev/tcp/$h4ip/8080"
bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -i br0 -U -n -w "$MV_TMP/wan.pcap" ip
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump.log"

log_step "NAT <-> NAT: curl h3 -> h4"
body=$(vpnctl_on h3 run -- curl -sS --max-time "$(mv_t 15)" --retry 2 "http://$h4ip:8080/") || {
	for h in h3 h4; do vpnctl_on $h --json peers; vpnctl_on $h --json status; done > "$MV_TMP/dump.out" 2>&1
	fail "curl h3 -> h4 through two NATs failed"
}
[ "$body" = "$marker" ] || fail "page body '$body' is not the marker"
vpnctl_on h3 run -- ping -n -c 5 -i 0.3 -W "$(mv_t 2)" "$h4ip" > "$MV_TMP/ping34.out" \
	|| fail "ping h3 -> h4"

log_step "public <-> NAT: ping h1 -> h3 and h3 -> h1"
vpnctl_on h1 run -- ping -n -c 3 -W "$(mv_t 2)" "$h3ip" > "$MV_TMP/ping13.out" || fail "ping h1 -> h3"
h1ip=$(vpnctl_on h3 resolve h1) || fail "vpnctl resolve h1"
vpnctl_on h3 run -- ping -n -c 3 -W "$(mv_t 2)" "$h1ip" > "$MV_TMP/ping31.out" || fail "ping h3 -> h1"

log_step "the peers' view"
for pair in "h3 h4 $MV_SUBNET.24:51820" "h4 h3 $MV_SUBNET.23:51820" "h1 h3 $MV_SUBNET.23:51820" \
	    "h3 h1 $MV_SUBNET.11:51820"; do
	set -- $pair
	ep=$(peer_field $1 $2 endpoint) || fail "$1 peers"
	path=$(peer_field $1 $2 path)
	hs=$(peer_field $1 $2 last_handshake)
	echo "$1 -> $2: endpoint $ep path $path last_handshake $hs"
	[ "$ep" = "$3" ] || fail "$1 sends to $2 at $ep, not $3"
	[ "$path" = direct ] || fail "$1 -> $2 path is $path"
	[ "$hs" -gt 0 ] || fail "$1 -> $2: no last_handshake"
done

log_step "the wire: direct between the NATs, encrypted"
mv_sleep 1
kill "${MV_PIDS[-1]}"; wait "${MV_PIDS[-1]}" 2>/dev/null
a=$MV_SUBNET.23 b=$MV_SUBNET.24
fwd=$(pcap_count "$MV_TMP/wan.pcap" udp and src host $a and src port 51820 and dst host $b and dst port 51820)
back=$(pcap_count "$MV_TMP/wan.pcap" udp and src host $b and src port 51820 and dst host $a and dst port 51820)
other=$(pcap_count "$MV_TMP/wan.pcap" udp and '(' host $a or host $b ')' and not port 7443 and not port 51820)
viasrv=$(pcap_count "$MV_TMP/wan.pcap" udp and host $MV_SUBNET.1 and not port 7443)
clear=$(pcap_count "$MV_TMP/wan.pcap" tcp port 8080)
echo "r3 -> r4: $fwd, r4 -> r3: $back (UDP 51820 both ends); other UDP of the NATs: $other; UDP via the server: $viasrv; clear HTTP: $clear"
[ "$fwd" -ge 5 ] && [ "$back" -ge 5 ] || fail "no direct UDP between the two NATs"
[ "$viasrv" -eq 0 ] || fail "data went through the server"
[ "$clear" -eq 0 ] || fail "plaintext HTTP on the WAN"
if grep -q -a "$marker" "$MV_TMP/wan.pcap"; then fail "marker in clear on the WAN"; fi

log_step "keepalives: while active, not when idle"
k0=$(ka_sent h3)
bg_start "$MV_TMP/slowping.out" $(nsx h3) "$MV_BIN/vpnctl" --sock "$MV_TMP/h3.sock" \
	run -- ping -n -c 4 -i 1 "$h4ip"
wait "${MV_PIDS[-1]}"
mv_sleep 1
k1=$(ka_sent h3)
echo "keepalives sent by h3 while active: $k0 -> $k1"
[ "$k1" -gt "$k0" ] || fail "no keepalive while the peer was active"
# idle: data stopped, 3 keepalive intervals later they stop
sleep $((3 * KA + 2))
k2=$(ka_sent h3)
sleep $((3 * KA + 1))
k3=$(ka_sent h3)
echo "keepalives when idle: $k2 -> $k3"
[ "$k3" -eq "$k2" ] || fail "keepalives go on while the peer is idle ($k2 -> $k3)"
echo "PASS: direct paths through NAT, keepalives while active"
