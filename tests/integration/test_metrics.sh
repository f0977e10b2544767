#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Prometheus metrics of authsrv and vpnd, scraped with curl:
#
#   ns sw: br0 ── srv 198.18.0.1  authsrv --metrics 127.0.0.1:9100 (srv's lo)
#              ├─ h1  198.18.0.11 vpnd    --metrics 127.0.0.1:9100 (h1's lo)
#              └─ h2  198.18.0.12 vpnd    --metrics 127.0.0.1:9100 (h2's lo)
#
# Proves: both endpoints answer GET /metrics in the text format (every
# sample line parses, HELP/TYPE present), 404 for other paths; before any
# traffic the server shows 2 connected/enrolled hosts and no grants; after
# a curl from h1 to h2 through the VPN the grant, push, live-key, per-peer
# packet/byte and datapath counters have moved; a request for an unknown
# overlay address shows up as a denial with reason "unknown_peer"; a TLS
# client without ALPN counts as a handshake failure; text and JSON status
# show the same counters, and JSON status, JSON peers and both drop metrics
# the same drop reasons (one table per counter family).
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd curl openssl

MPORT=9100

scrape() { # ns path -> body on stdout
	in_ns "$1" curl -sS --max-time "$(mv_t 5)" "http://127.0.0.1:$MPORT${2:-/metrics}"
}

# metric NAME [LABEL-SUBSTRING] < exposition: the first matching sample's value
metric() {
	python3 -c '
import sys
name, want = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
for line in sys.stdin:
    if line.startswith("#") or not line.strip():
        continue
    key, val = line.rsplit(" ", 1)
    base = key.split("{", 1)[0]
    if base == name and want in key:
        print(int(float(val))); sys.exit(0)
print("missing"); sys.exit(1)' "$@"
}

# Every line is a comment or `name{labels} value`; every family has TYPE.
check_format() { # file
	python3 - "$1" <<'PY'
import re, sys
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$')
types, seen = set(), set()
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if line.startswith("# TYPE "):
        types.add(line.split()[2]); continue
    if line.startswith("# HELP ") or not line:
        continue
    m = sample.match(line)
    if not m:
        sys.exit(f"line {n} is not a sample: {line!r}")
    seen.add(m.group(1))
missing = seen - types
if missing:
    sys.exit(f"no TYPE for {sorted(missing)}")
print(f"format ok: {len(seen)} families with samples, {len(types)} declared")
PY
}

start_host_metrics() { # name
	local h=$1 tok
	tok=$("$MV_BIN/authsrv" token create "$h" --state "$MV_TMP/srv") || return 1
	in_ns "$h" "$MV_BIN/vpnd" enroll --state "$MV_TMP/$h" \
		--server "$MV_SUBNET.1:$MV_PORT_SRV" --token "$tok" || return 1
	bg_start "$MV_TMP/vpnd-$h.log" $(nsx "$h") "$MV_BIN/vpnd" run --state "$MV_TMP/$h" \
		--iface eth0 --sock "$MV_TMP/$h.sock" --metrics "127.0.0.1:$MPORT"
	wait_for 15 "vpnd on $h connected" host_connected "$h"
}

topo_up || fail "topology"
"$MV_BIN/authsrv" init --state "$MV_TMP/srv" >"$MV_TMP/srv-init.log" 2>&1 || fail "authsrv init"
bg_start "$MV_TMP/authsrv.log" $(nsx srv) "$MV_BIN/authsrv" serve --state "$MV_TMP/srv" \
	--listen "0.0.0.0:$MV_PORT_SRV" --metrics "127.0.0.1:$MPORT"
wait_for 10 "authsrv listening" in_ns srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$MV_PORT_SRV" ||
	fail "authsrv did not start"
start_host_metrics h1 || fail "h1 did not enroll/connect"
start_host_metrics h2 || fail "h2 did not enroll/connect"

log_step "scrape before traffic"
scrape srv > "$MV_TMP/srv-0.prom" || fail "authsrv scrape"
scrape h1 > "$MV_TMP/h1-0.prom" || fail "vpnd h1 scrape"
scrape h2 > "$MV_TMP/h2-0.prom" || fail "vpnd h2 scrape"
for f in srv-0 h1-0 h2-0; do check_format "$MV_TMP/$f.prom" || fail "$f: bad exposition format"; done
code=$(in_ns srv curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nope")
[ "$code" = 404 ] || fail "GET /nope answered $code, not 404"
code=$(in_ns h1 curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MPORT/metrics")
[ "$code" = 405 ] || fail "POST /metrics answered $code, not 405"

m() { metric "$@" < "$MV_TMP/$F.prom"; }
F=srv-0
[ "$(m mavpn_authsrv_hosts_connected)" = 2 ] || fail "authsrv: hosts_connected != 2"
[ "$(m mavpn_authsrv_hosts_enrolled)" = 2 ] || fail "authsrv: hosts_enrolled != 2"
[ "$(m mavpn_authsrv_enrollments_total)" = 2 ] || fail "authsrv: enrollments_total != 2"
[ "$(m mavpn_authsrv_key_grants_total)" = 0 ] || fail "authsrv: grants before traffic"
F=h1-0
[ "$(m mavpn_vpnd_server_up)" = 1 ] || fail "h1: server_up != 1"
[ "$(m mavpn_vpnd_info 'name="h1"')" = 1 ] || fail "h1: no info{name=h1}"
[ "$(m mavpn_vpnd_peers)" = 0 ] || fail "h1: peers before traffic"
echo "before: authsrv 2 hosts connected, 0 grants; h1 server_up=1, 0 peers"

log_step "traffic h1 -> h2 through the VPN"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
mkdir -p "$MV_TMP/www" && echo "metrics-$RANDOM" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080" || fail "http server"
vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" -o /dev/null "http://$h2ip:8080/" ||
	fail "curl through the VPN failed"
# An address in the overlay that nobody has: the server must refuse.
vpnctl_on h1 run -- curl -s --max-time "$(mv_t 2)" -o /dev/null "http://100.80.0.250:8080/"
denied() { scrape srv | grep -q 'key_denials_total{reason="unknown_peer"} [1-9]'; }
wait_for 10 "denial counted" denied ||
	fail "no unknown_peer denial in the authsrv metrics"
# A TLS client without ALPN is refused in the handshake.
in_ns srv timeout "$(mv_t 5)" openssl s_client -connect "127.0.0.1:$MV_PORT_SRV" </dev/null >/dev/null 2>&1

log_step "scrape after traffic"
mv_sleep 0.5	# the counters of the refused handshake settle
scrape srv > "$MV_TMP/srv-1.prom" || fail "authsrv scrape"
scrape h1 > "$MV_TMP/h1-1.prom" || fail "vpnd h1 scrape"
scrape h2 > "$MV_TMP/h2-1.prom" || fail "vpnd h2 scrape"
for f in srv-1 h1-1 h2-1; do check_format "$MV_TMP/$f.prom" || fail "$f: bad exposition format"; done

F=srv-1
grants=$(m mavpn_authsrv_key_grants_total); pushes=$(m mavpn_authsrv_key_pushes_total)
live=$(m mavpn_authsrv_keys_live); tlsf=$(m mavpn_authsrv_tls_handshake_failures_total)
echo "authsrv: grants=$grants pushes=$pushes keys_live=$live tls_failures=$tlsf"
[ "$grants" -ge 1 ] && [ "$pushes" -ge 1 ] || fail "authsrv: no grant/push counted"
[ "$live" -ge 1 ] || fail "authsrv: keys_live did not move"
[ "$tlsf" -ge 1 ] || fail "authsrv: TLS handshake failure not counted"
[ "$(m mavpn_authsrv_messages_received_total 'type="KEY_REQ"')" -ge 2 ] || fail "authsrv: KEY_REQ not counted"

F=h1-1
req=$(m mavpn_vpnd_key_requests_total); gr=$(m mavpn_vpnd_key_grants_total)
den=$(m mavpn_vpnd_key_denials_total)
tx=$(m mavpn_vpnd_peer_tx_packets_total 'name="h2"'); txb=$(m mavpn_vpnd_peer_tx_bytes_total 'name="h2"')
rx=$(m mavpn_vpnd_peer_rx_packets_total "overlay_ip=\"$h2ip\"")
ov0=$(metric mavpn_vpnd_dp_rx_frames_total 'side="overlay"' < "$MV_TMP/h1-0.prom")
ov1=$(m mavpn_vpnd_dp_rx_frames_total 'side="overlay"')
echo "h1: key requests=$req grants=$gr denials=$den peer h2 tx=$tx/${txb}B rx=$rx, overlay frames $ov0 -> $ov1"
[ "$req" -ge 2 ] && [ "$gr" -ge 1 ] && [ "$den" -ge 1 ] || fail "h1: key counters did not move"
[ "$tx" -gt 0 ] && [ "$txb" -gt 0 ] && [ "$rx" -gt 0 ] || fail "h1: per-peer counters did not move"
[ "$ov1" -gt "$ov0" ] || fail "h1: datapath overlay frames did not move"
[ "$(m mavpn_vpnd_peers)" -ge 1 ] || fail "h1: peers gauge"
for s in overlay underlay; do
	[ "$(m mavpn_vpnd_xsk_rx_ring_full_total "side=\"$s\"")" != missing ] ||
		fail "h1: no AF_XDP ring statistics for the $s socket"
done

log_step "one table per family: status text, status JSON, peers JSON and metrics agree"
vpnctl_on h1 --json status > "$MV_TMP/st.json" || fail "status json"
vpnctl_on h1 status > "$MV_TMP/st.txt" || fail "status text"
vpnctl_on h1 --json peers > "$MV_TMP/peers.json" || fail "peers json"
python3 - "$MV_TMP/st.json" "$MV_TMP/st.txt" "$MV_TMP/peers.json" "$MV_TMP/h1-1.prom" <<'PY' || fail "counter outputs drifted"
import json, re, sys
st, text = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
peers, prom = json.load(open(sys.argv[3])), open(sys.argv[4]).read()
lines = {l.split()[0]: int(l.split()[1]) for l in text.splitlines()
         if l.startswith("  ") and len(l.split()) == 2}
for sect in ("dp_stats", "keys", "shim"):
    for k, v in st[sect].items():
        if isinstance(v, int) and not (sect == "shim" and k == "datapath_requests"):
            assert k in lines, f"text status lacks {sect}.{k}"
json_n = sum(1 for s in ("dp_stats", "keys", "shim") for k, v in st[s].items()
             if isinstance(v, int)) - 1
assert len(lines) == json_n, f"text has {len(lines)} counters, JSON {json_n}"
def reasons(metric):
    return {m for m in re.findall(metric + r'\{[^}]*reason="([a-z_]+)"', prom)}
drops = {k[5:] for k in st["dp_stats"] if k.startswith("drop_")}
assert reasons("mavpn_vpnd_dp_drops_total") == drops, (reasons("mavpn_vpnd_dp_drops_total"), drops)
assert peers and reasons("mavpn_vpnd_peer_drops_total") == drops
for p in peers:
    assert {k[5:] for k in p if k.startswith("drop_")} == drops, p
print(f"{len(lines)} counters in text and JSON status; {len(drops)} drop reasons in JSON, peers and metrics")
PY

F=h2-1
[ "$(m mavpn_vpnd_key_pushes_total)" -ge 1 ] || fail "h2: key push not counted"
rx=$(m mavpn_vpnd_peer_rx_packets_total 'name="h1"')
ul=$(m mavpn_vpnd_dp_rx_frames_total 'side="underlay"')
echo "h2: key pushes=$(m mavpn_vpnd_key_pushes_total) peer h1 rx=$rx underlay frames=$ul"
[ "$rx" -gt 0 ] && [ "$ul" -gt 0 ] || fail "h2: receive counters did not move"

log_step "daemon logs: one structured line per event"
for f in authsrv vpnd-h1 vpnd-h2; do
	bad=$(grep -cvE '^(authsrv|vpnd)\[[0-9]+\]: level=(error|warn|info|debug) [a-z]' "$MV_TMP/$f.log")
	[ "$bad" = 0 ] || fail "$f.log: $bad lines are not 'prog[pid]: level=L event key=value...'"
done
grep -q 'level=info key: installed key_id=[0-9]* peer=h2 ' "$MV_TMP/vpnd-h1.log" || fail "h1 did not log the key install"
grep -q '^authsrv\[[0-9]*\]: level=info .* host=h1 ' "$MV_TMP/authsrv.log" || fail "authsrv logged no host=h1 event"
echo "logs: every line is prog[pid]: level=L event key=value..."

echo "PASS: metrics of authsrv and vpnd scraped and moving"
