#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Replayed, tampered and unknown-key datagrams injected on the wire are
# dropped, counted, and never reach the application.
#
#   ns sw: br0 ── srv 198.18.0.1  authsrv; also the attacker on the wire
#              ├─ h1  198.18.0.11 vpnd ── `vpnctl run` curl, then one UDP datagram
#              └─ h2  198.18.0.12 vpnd ── http.server + UDP listener on its
#                                         overlay address (counts what arrives)
#
# Real server flow: curl through the VPN makes authsrv mint the key. Then h1
# sends one UDP datagram with a unique payload to h2's listener; tcpdump on
# br0 captures its encrypted form. From srv we send to h2:51820: (1) the
# captured datagram again, (2) it with one ciphertext bit flipped, (3) it
# with another key id, (4) a runt. h2 must count exactly one drop_replay,
# one drop_auth (vpnctl --json peers), one drop_unknown_key and one
# drop_malformed (vpnctl --json status, dp_stats), and the listener must
# have seen the payload exactly once.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd tcpdump python3 curl nsenter
need_root
py=$(python3 -c 'import sys; print(sys.executable)')

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"

# The application: a UDP listener on h2's overlay address, one line per datagram.
bg_start "$MV_TMP/udp.log" $(nsx h2) "$py" -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9999))
print("listening", flush=True)
while True:
    d, a = s.recvfrom(65535)
    print("got", d.decode(errors="replace"), flush=True)
' "$h2ip"
wait_for 10 "UDP listener" grep -q listening "$MV_TMP/udp.log"

mkdir -p "$MV_TMP/www" && echo ok > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) "$py" -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") ||
	fail "curl through the VPN (key grant) failed"
[ "$body" = ok ] || fail "curl got '$body'"

bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -i br0 -U --immediate-mode -n -w "$MV_TMP/wire.pcap" \
	udp and dst host 198.18.0.12 and dst port 51820
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump.log"

# 49 bytes: an inner packet of 77, a UDP payload of 109 on the wire
marker="mavpn-replay-$(printf '%036d' "$RANDOM$RANDOM")"
vpnctl_on h1 run -- "$py" -c '
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), (sys.argv[1], 9999))
' "$h2ip" "$marker" || fail "send through the VPN"
wait_for 5 "datagram delivered" grep -q "got $marker" "$MV_TMP/udp.log" ||
	fail "the original datagram did not arrive"
mv_sleep 0.5	# the capture catches up
kill "${MV_PIDS[-1]}"; wait "${MV_PIDS[-1]}" 2>/dev/null

counters() { # host -> "replay auth unknown malformed"
	local p s
	p=$(vpnctl_on "$1" --json peers) || return 1
	s=$(vpnctl_on "$1" --json status) || return 1
	python3 -c '
import json, sys
p = json.loads(sys.argv[1]); s = json.loads(sys.argv[2])["dp_stats"]
print(sum(x["drop_replay"] for x in p), sum(x["drop_auth"] for x in p),
      s["drop_unknown_key"], s["drop_malformed"])' "$p" "$s"
}
before=$(counters h2) || fail "counters before"

# The attacker on the wire: four datagrams from srv to h2's data port.
in_ns srv python3 - "$MV_TMP/wire.pcap" $((16 + 20 + 8 + ${#marker} + 16)) <<'PY' || fail "inject"
import socket, struct, sys
data = open(sys.argv[1], "rb").read()
want, off, dgram = int(sys.argv[2]), 24, None
while off + 16 <= len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    f = data[off + 16:off + 16 + incl]
    off += 16 + incl
    udp = 14 + (f[14] & 0xF) * 4
    if struct.unpack_from("!H", f, udp + 4)[0] - 8 == want:
        dgram = f[udp + 8:udp + 8 + want]
if dgram is None:
    sys.exit("no captured datagram of %d bytes" % want)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = ("198.18.0.12", 51820)
s.sendto(dgram, dst)                                   # replay
t = bytearray(dgram); t[24] ^= 1
s.sendto(bytes(t), dst)                                # tampered ciphertext
u = bytearray(dgram); u[4] ^= 0x5A
s.sendto(bytes(u), dst)                                # unknown key id
s.sendto(dgram[:20], dst)                              # runt: header, no tag
print("injected 4 datagrams of", len(dgram), "bytes")
PY
mv_sleep 1	# h2's workers see and count the four
after=$(counters h2) || fail "counters after"
echo "h2 drops (replay auth unknown_key malformed): before $before, after $after"
read -r r0 a0 u0 m0 <<<"$before"
read -r r1 a1 u1 m1 <<<"$after"
[ $((r1 - r0)) -eq 1 ] || fail "drop_replay moved by $((r1 - r0)), want 1"
[ $((a1 - a0)) -eq 1 ] || fail "drop_auth moved by $((a1 - a0)), want 1"
[ $((u1 - u0)) -eq 1 ] || fail "drop_unknown_key moved by $((u1 - u0)), want 1"
[ $((m1 - m0)) -eq 1 ] || fail "drop_malformed moved by $((m1 - m0)), want 1"
n=$(grep -c "got $marker" "$MV_TMP/udp.log")
[ "$n" -eq 1 ] || fail "the application saw the payload $n times, want 1"
echo "PASS: replayed, tampered, unknown-key and runt datagrams dropped and counted; payload delivered once"
