#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Interface-level trigger: traffic that never calls connect() gets its key
# on demand through the data plane.
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv)
#              ├─ h1  198.18.0.11  vpnd ── vpnctl run ping -I <h1 overlay> <h2 overlay>
#              └─ h2  198.18.0.12  vpnd
#
# `ping -I ADDR` skips iputils' UDP connect() probe, so the only thing that
# sees the first echo request is mavpn0's XDP program: the worker holds the
# packet, asks vpnd for a key (flows: hook "datapath"), and flushes it when
# the key arrives. Proves: a fresh pair without keys answers every echo
# request from the first one, both peers then list the key, and the socket
# shim reported nothing (the key came through the data plane).
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd ping

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
h1ip=$(vpnctl_on h1 --json status | json_get 'd["self"]["overlay_ip"]') || fail "status"

n=$(vpnctl_on h1 --json peers | json_get 'len(d)')
[ "$n" -eq 0 ] || fail "h1 already has $n peers before the first ping"

# -i 0.2: all three within the key's first round trip window and after it.
vpnctl_on h1 run -- ping -c 3 -i 0.2 -W "$(mv_t 3)" -I "$h1ip" "$h2ip" >"$MV_TMP/ping.txt" 2>&1 \
	|| { cat "$MV_TMP/ping.txt"; fail "ping through the VPN"; }
cat "$MV_TMP/ping.txt"
grep -q '3 packets transmitted, 3 received' "$MV_TMP/ping.txt" \
	|| fail "not every echo request was answered (first packet lost?)"
grep -q 'icmp_seq=1 ' "$MV_TMP/ping.txt" || fail "no answer to the first echo request"

for h in h1 h2; do
	vpnctl_on "$h" --json peers > "$MV_TMP/peers-$h.json" || fail "peers on $h"
	python3 - "$MV_TMP/peers-$h.json" <<'PY' || fail "no key on $h"
import json, sys
p = json.load(open(sys.argv[1]))
assert len(p) == 1 and p[0]["key_id"] and p[0]["tx_packets"] >= 3 and p[0]["rx_packets"] >= 3, p
print("peer", p[0]["name"], "key", p[0]["key_id"], "tx", p[0]["tx_packets"], "rx", p[0]["rx_packets"])
PY
done
vpnctl_on h1 --json status > "$MV_TMP/status.json" || fail "status"
python3 - "$MV_TMP/status.json" <<'PY' || fail "the key did not come through the data plane"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["shim"]["datapath_requests"] >= 1, s["shim"]
assert s["shim"]["events"] == 0, s["shim"]
print("datapath_requests", s["shim"]["datapath_requests"], "shim events", s["shim"]["events"])
PY
vpnctl_on h1 --json flows | json_get '[(f["hook"], f["dst"], f["verdict"]) for f in d]' \
	| tee "$MV_TMP/flows.txt"
grep -q "('datapath', '$h2ip', 'key-granted')" "$MV_TMP/flows.txt" || fail "flows: no datapath key-granted entry"
echo "PASS: ping gets its key on demand through the data plane"
