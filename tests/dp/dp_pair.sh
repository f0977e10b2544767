#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Component test of the data plane (ctl/datapath/*.c, bpf/xdp_*.bpf.c) with two
# hosts made of network namespaces, keys given by hand (no authsrv):
#
#   ns A                                         ns B
#   mavpn0 100.80.0.2/24                         mavpn0 100.80.0.3/24
#     |veth| mavpn0x [XDP->XSK]                    |veth| mavpn0x [XDP->XSK]
#   dp_pair (initiator, key on request)          dp_pair (responder, key now)
#   ulA 198.18.0.1/24 [XDP->XSK]                 ulB 198.18.0.2/24 [XDP->XSK]
#        \___veth___ ns W: bridge br0 (tcpdump) ___veth___/
#
# ns W is the "wire": tcpdump on ulA/ulB themselves cannot see our frames
# (native XDP redirects them before the capture taps; AF_XDP copy-mode TX
# uses dev_direct_xmit, which skips them too), so the capture runs on a
# plain bridge between the two hosts.
#
# Checks: ping -c 3 and an HTTP download (python3 http.server + curl, sha256
# compared) across the overlay; on the wire tcpdump sees only ARP and UDP
# to the data port, no plaintext; counters agree; the overlay veth is gone
# on stop. Exit 0 PASS, 1 FAIL, 77 SKIP. Needs root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PORT=${PORT:-51999}
id=$$
nsA=mvdpA$id
nsB=mvdpB$id
nsW=mvdpW$id
ulA=dpa$id
ulB=dpb$id
wA=dpwa$id
wB=dpwb$id
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
	ip netns del "$nsW" 2>/dev/null
	ip link del "$ulA" 2>/dev/null
	ip link del "$ulB" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "$root/tests/lib/need.sh"
need_root
need_cmd ip nsenter tcpdump curl python3 ping sha256sum ss sysctl
# the interpreter itself, not a pyenv shim, so that $! is the server
py=$(python3 -c 'import sys; print(sys.executable)') || py=python3
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null

drv=$("$root/tests/dp/build.sh" | tail -1) || fail "build"
drv=$root/$drv

# Foreground helpers only: background jobs use ip netns exec directly so
# that $! is the PID of the program itself (ip netns exec execs it).
# BPF_PROG_RUN test of both XDP programs first: cheap, no netns.
"$root/build/tests/test_xdp_run" >"$tmp/xdp_run.out" 2>&1 ||
	{ cat "$tmp/xdp_run.out"; fail "test_xdp_run"; }
log "XDP BPF_PROG_RUN: $(grep -c '^\[       OK \]' "$tmp/xdp_run.out") cases ok"

inA() { ip netns exec "$nsA" "$@"; }
inB() { ip netns exec "$nsB" "$@"; }

ip netns add "$nsA" && ip netns add "$nsB" && ip netns add "$nsW" ||
	fail "netns add"
ip link add "$ulA" type veth peer name "$wA" &&
	ip link add "$ulB" type veth peer name "$wB" || fail "veth add"
ip link set "$ulA" netns "$nsA" && ip link set "$ulB" netns "$nsB" &&
	ip link set "$wA" netns "$nsW" && ip link set "$wB" netns "$nsW" ||
	fail "veth move"
ip -n "$nsW" link add br0 type bridge || fail "bridge"
ip -n "$nsW" link set "$wA" master br0
ip -n "$nsW" link set "$wB" master br0
ip -n "$nsA" addr add 198.18.0.1/24 dev "$ulA"
ip -n "$nsB" addr add 198.18.0.2/24 dev "$ulB"
for ns in "$nsA" "$nsB" "$nsW"; do
	ip -n "$ns" link set lo up
	# no IPv6 link-local chatter: the capture should show only our frames
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
done
ip -n "$nsA" link set "$ulA" up
ip -n "$nsB" link set "$ulB" up
ip -n "$nsW" link set "$wA" up
ip -n "$nsW" link set "$wB" up
ip -n "$nsW" link set br0 up

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

ip netns exec "$nsW" tcpdump -i br0 -nn -U -w "$tmp/ul.pcap" \
	2>"$tmp/tcpdump.err" &
pids+=($!)
sleep 1

# 1. ping: the first echo is held until A's datapath asks for the key.
inA ping -c 3 -W 2 100.80.0.3 >"$tmp/ping.out" 2>&1 ||
	{ cat "$tmp/ping.out" "$tmp"/*.err; fail "ping"; }
log "ping: $(grep 'packets transmitted' "$tmp/ping.out")"
grep -q '^installed' "$tmp/A.out" || fail "A never requested a key"

# 2. TCP: 8 MiB over HTTP, compared byte for byte.
mkdir "$tmp/www" && head -c 8388608 /dev/urandom >"$tmp/www/blob"
ip netns exec "$nsB" "$py" -m http.server 8080 --bind 100.80.0.3 --directory "$tmp/www" \
	>"$tmp/http.log" 2>&1 &
pids+=($!)
for i in $(seq 50); do
	inB ss -ltn 2>/dev/null | grep -q '100.80.0.3:8080' && break
	sleep 0.1
done
t0=$(date +%s.%N)
inA curl -sS --max-time 60 -o "$tmp/got" http://100.80.0.3:8080/blob ||
	{ cat "$tmp"/*.err; fail "curl"; }
[ "$(sha256sum <"$tmp/got")" = "$(sha256sum <"$tmp/www/blob")" ] ||
	fail "downloaded file differs"
t1=$(date +%s.%N)
log "http: 8 MiB downloaded in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, sha256 matches"

sleep 0.5
kill "${pids[2]}" 2>/dev/null; wait "${pids[2]}" 2>/dev/null
# 3. The wire: nothing but ARP and UDP to the data port.
pcap() { tcpdump -r "$tmp/ul.pcap" -nn "$@" 2>/dev/null; }
total=$(pcap | wc -l)
udp=$(pcap "udp dst port $PORT" | wc -l)
# IGMP reports of the bridge itself are the only other IPv4 allowed
other=$(pcap "not arp and not igmp and not udp dst port $PORT" | wc -l)
overlay=$(pcap "net 100.80.0.0/24" | wc -l)
log "wire capture: $total frames, $udp UDP to port $PORT, $other other," \
	"$overlay with overlay addresses"
[ "$udp" -gt 1000 ] || fail "too little UDP on the wire"
[ "$other" -eq 0 ] || {
	pcap "not arp and not igmp and not udp dst port $PORT" | head
	fail "non-data traffic on the wire"; }
[ "$overlay" -eq 0 ] || fail "overlay addresses visible on the wire"
pcap -A "udp port $PORT" | grep -q 'GET /blob' &&
	fail "plaintext HTTP visible on the wire"

# 4. A destination without a key that the "server" refuses: held, asked
# for once, dropped on refusal; nothing leaves.
inA ping -c 1 -W 1 100.80.0.9 >/dev/null 2>&1 && fail "ping to keyless peer"
grep -q 'request overlay=100.80.0.9' "$tmp/A.out" ||
	fail "no key request for 100.80.0.9"

# 5. Attacks from A's kernel stack to B's port: a replayed datagram, a
# forged tag, an unknown key id. Expect exactly one drop of each kind.
inA "$py" "$here/inject.py" "$tmp/ul.pcap" 198.18.0.2 "$PORT" "$keyid" ||
	fail "inject"
sleep 0.5

# 6. Stop both; counters and cleanup.
kill "${pids[0]}" "${pids[1]}"
wait "${pids[0]}" || fail "driver A exit"
wait "${pids[1]}" || fail "driver B exit"
for s in A B; do
	log "$s: $(grep '^stats' "$tmp/$s.out")"
	log "$s: $(grep '^peer' "$tmp/$s.out" | grep 'key_id=[1-9]')"
	grep -Eq 'rx_packets=[1-9]' "$tmp/$s.out" || fail "$s: no rx"
done
# peer FIELD=VALUE... on some peer line of a driver's output
peer_has() { # file field=value...
	local f=$1 l
	shift
	grep '^peer' "$f" | while read -r l; do
		for kv in "$@"; do [[ " $l " == *" $kv "* ]] || continue 2; done
		echo ok
	done | grep -q ok
}
peer_has "$tmp/A.out" drop_auth=0 drop_pending=0 || fail "A: drops"
grep -q '^stats .*drop_no_key=1 ' "$tmp/A.out" || fail "A: refused packet not counted"
peer_has "$tmp/B.out" drop_replay=1 drop_auth=1 ||
	fail "B: replay/forgery not counted exactly once"
grep -q '^stats .*drop_unknown_key=1 ' "$tmp/B.out" || fail "B: unknown key not counted"
log "A: $(grep '^request' "$tmp/A.out" | tr '\n' ' ')"
inA ip link show mavpn0 >/dev/null 2>&1 && fail "A: mavpn0 left behind"
inB ip link show mavpn0 >/dev/null 2>&1 && fail "B: mavpn0 left behind"
log "PASS"
exit 0
