#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Component test of the data plane (ctl/dp_*.c, bpf/xdp_*.bpf.c) with two
# hosts made of network namespaces, keys given by hand (no authsrv):
#
#   ns A                                         ns B
#   mavpn0 100.80.0.2/24                         mavpn0 100.80.0.3/24
#     |veth| mavpn0x [XDP->XSK]                    |veth| mavpn0x [XDP->XSK]
#   dp_pair (initiator, key on request)          dp_pair (responder, key now)
#   ulA 198.18.0.1/24 [XDP->XSK] ===== veth ===== ulB 198.18.0.2/24 [XDP->XSK]
#
# Checks: ping -c 3 and an HTTP download (python3 http.server + curl, sha256
# compared) across the overlay; on the underlay tcpdump sees only ARP and
# UDP to the data port; counters agree; the overlay veth is gone on stop.
# Exit 0 PASS, 1 FAIL, 77 SKIP. Needs root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PORT=${PORT:-51999}
id=$$
nsA=mvdpA$id
nsB=mvdpB$id
ulA=dpa$id
ulB=dpb$id
tmp=$(mktemp -d /tmp/mavpn-dp.XXXXXX)
pids=()

log() { echo "dp_pair: $*"; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	ip netns del "$nsA" 2>/dev/null
	ip netns del "$nsB" 2>/dev/null
	ip link del "$ulA" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || { log "SKIP: needs root"; exit 77; }
for t in ip nsenter tcpdump curl python3 ping sha256sum; do
	command -v $t >/dev/null || { log "SKIP: $t missing"; exit 77; }
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null

drv=$("$root/tests/dp/build.sh" | tail -1) || fail "build"
drv=$root/$drv

inA() { ip netns exec "$nsA" "$@"; }
inB() { ip netns exec "$nsB" "$@"; }

ip netns add "$nsA" && ip netns add "$nsB" || fail "netns add"
ip link add "$ulA" type veth peer name "$ulB" || fail "veth add"
ip link set "$ulA" netns "$nsA" && ip link set "$ulB" netns "$nsB" ||
	fail "veth move"
inA ip addr add 198.18.0.1/24 dev "$ulA"
inB ip addr add 198.18.0.2/24 dev "$ulB"
for ns in "$nsA" "$nsB"; do
	ip -n "$ns" link set lo up
done
inA ip link set "$ulA" up
inB ip link set "$ulB" up

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
keyid=$(( (RANDOM << 15 | RANDOM) + 1 ))

# nsenter (not ip netns exec) keeps /sys/fs/bpf, which libxdp wants.
nsenter --net=/run/netns/"$nsA" "$drv" --underlay "$ulA" \
	--overlay 100.80.0.2/24 --port "$PORT" --peer-overlay 100.80.0.3 \
	--peer-underlay 198.18.0.2 --peer-port "$PORT" --key-id "$keyid" \
	--secret "$secret" --initiator 1 --on-request \
	>"$tmp/A.out" 2>"$tmp/A.err" &
pids+=($!)
nsenter --net=/run/netns/"$nsB" "$drv" --underlay "$ulB" \
	--overlay 100.80.0.3/24 --port "$PORT" --peer-overlay 100.80.0.2 \
	--peer-underlay 198.18.0.1 --peer-port "$PORT" --key-id "$keyid" \
	--secret "$secret" --initiator 0 \
	>"$tmp/B.out" 2>"$tmp/B.err" &
pids+=($!)

for i in $(seq 50); do
	grep -q ready "$tmp/A.out" && grep -q ready "$tmp/B.out" && break
	sleep 0.1
done
grep -q ready "$tmp/A.out" && grep -q ready "$tmp/B.out" || {
	cat "$tmp"/*.err; fail "datapath did not start"; }
log "datapaths up: $(grep -h 'datapath: up' "$tmp/A.err" | head -1)"

inA tcpdump -i "$ulA" -nn -U -w "$tmp/ul.pcap" 2>"$tmp/tcpdump.err" &
pids+=($!)
sleep 1

# 1. ping: the first echo is held until A's datapath asks for the key.
inA ping -c 3 -W 2 100.80.0.3 >"$tmp/ping.out" 2>&1 ||
	{ cat "$tmp/ping.out" "$tmp"/*.err; fail "ping"; }
log "ping: $(grep 'packets transmitted' "$tmp/ping.out")"
grep -q '^installed' "$tmp/A.out" || fail "A never requested a key"

# 2. TCP: 8 MiB over HTTP, compared byte for byte.
mkdir "$tmp/www" && head -c 8388608 /dev/urandom >"$tmp/www/blob"
inB python3 -m http.server 8080 --bind 100.80.0.3 --directory "$tmp/www" \
	>"$tmp/http.log" 2>&1 &
pids+=($!)
for i in $(seq 50); do
	inB ss -ltn 2>/dev/null | grep -q '100.80.0.3:8080' && break
	sleep 0.1
done
inA curl -sS --max-time 60 -o "$tmp/got" http://100.80.0.3:8080/blob ||
	{ cat "$tmp"/*.err; fail "curl"; }
[ "$(sha256sum <"$tmp/got")" = "$(sha256sum <"$tmp/www/blob")" ] ||
	fail "downloaded file differs"
log "http: 8 MiB downloaded, sha256 matches"

sleep 0.5
kill "${pids[2]}" 2>/dev/null; wait "${pids[2]}" 2>/dev/null
# 3. The wire: nothing but ARP and UDP to the data port.
total=$(tcpdump -r "$tmp/ul.pcap" -nn 2>/dev/null | wc -l)
udp=$(tcpdump -r "$tmp/ul.pcap" -nn "udp port $PORT" 2>/dev/null | wc -l)
other=$(tcpdump -r "$tmp/ul.pcap" -nn "not arp and not udp port $PORT" \
	2>/dev/null | wc -l)
log "underlay capture: $total frames, $udp UDP to port $PORT, $other other"
[ "$udp" -gt 100 ] || fail "too little UDP on the underlay"
[ "$other" -eq 0 ] || {
	tcpdump -r "$tmp/ul.pcap" -nn "not arp and not udp port $PORT" | head
	fail "non-data traffic on the underlay"; }
tcpdump -r "$tmp/ul.pcap" -nn -A "udp port $PORT" 2>/dev/null |
	grep -q 'GET /blob' && fail "plaintext HTTP visible on the underlay"

# 4. Stop both; counters and cleanup.
kill "${pids[0]}" "${pids[1]}"
wait "${pids[0]}" || fail "driver A exit"
wait "${pids[1]}" || fail "driver B exit"
for s in A B; do
	log "$s: $(grep '^stats' "$tmp/$s.out")"
	log "$s: $(grep '^peer' "$tmp/$s.out")"
	grep -q 'drop_auth=0 ' "$tmp/$s.out" || fail "$s: auth drops"
	grep -q 'drop_replay=0 ' "$tmp/$s.out" || fail "$s: replay drops"
	grep -Eq 'rx_packets=[1-9]' "$tmp/$s.out" || fail "$s: no rx"
done
inA ip link show mavpn0 >/dev/null 2>&1 && fail "A: mavpn0 left behind"
inB ip link show mavpn0 >/dev/null 2>&1 && fail "B: mavpn0 left behind"
log "PASS"
exit 0
