#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Walking skeleton, end to end:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv)
#              ├─ h1  198.18.0.11  vpnd ── `vpnctl run curl` ──┐ overlay
#              └─ h2  198.18.0.12  vpnd ── python3 http.server ◀┘ 100.80.0.0/16
#
# Proves: hosts enroll with one-time tokens; an unmodified curl in a cgroup
# attached by `vpnctl run` reaches h2's overlay address; the page (with a
# unique marker) arrives; on the bridge there are UDP datagrams between the
# underlay addresses and never the marker; both vpnd count packets.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd curl tcpdump


topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"

h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
echo "h2 overlay address: $h2ip"
h1ip=$(vpnctl_on h1 --json status | json_get 'd["self"]["overlay_ip"]') || fail "status"
[ "$h1ip" != "$h2ip" ] || fail "both hosts got $h1ip"

marker="mavpn-marker-$RANDOM$RANDOM$RANDOM"
mkdir -p "$MV_TMP/www" && echo "$marker" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"

bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -i br0 -U -n -w "$MV_TMP/wire.pcap" ip
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump.log"

body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") \
	|| fail "curl through the VPN failed"
[ "$body" = "$marker" ] || fail "page body '$body' is not the marker"
echo "curl got the marker through the VPN"
mv_sleep 1	# the capture catches up
kill "${MV_PIDS[-1]}"; wait "${MV_PIDS[-1]}" 2>/dev/null

udp=$(pcap_count "$MV_TMP/wire.pcap" udp and src host 198.18.0.11 and dst host 198.18.0.12)
udp_back=$(pcap_count "$MV_TMP/wire.pcap" udp and src host 198.18.0.12 and dst host 198.18.0.11)
tcp_direct=$(pcap_count "$MV_TMP/wire.pcap" tcp port 8080)
echo "capture: $udp UDP h1->h2, $udp_back UDP h2->h1, $tcp_direct plaintext TCP:8080"
[ "$udp" -ge 3 ] && [ "$udp_back" -ge 3 ] || fail "no encrypted UDP between the hosts on the wire"
[ "$tcp_direct" -eq 0 ] || fail "plaintext HTTP seen on the wire"
if grep -q -a "$marker" "$MV_TMP/wire.pcap"; then fail "marker seen in clear on the wire"; fi

for h in h1 h2; do
	vpnctl_on "$h" --json peers > "$MV_TMP/peers-$h.json" || fail "peers on $h"
	python3 - "$MV_TMP/peers-$h.json" <<'PY' || fail "counters on $h"
import json, sys
peers = json.load(open(sys.argv[1]))
assert isinstance(peers, list) and peers, "no peers"
p = peers[0]
for k in ("name", "overlay_ip", "key_id", "tx_packets", "rx_packets", "drop_replay", "drop_auth"):
    assert k in p, k
assert p["tx_packets"] > 0 and p["rx_packets"] > 0, p
print("peer", p["name"], p["overlay_ip"], "key", p["key_id"], "tx", p["tx_packets"], "rx", p["rx_packets"])
PY
done
echo "PASS: e2e curl through mavpn"
