# SPDX-License-Identifier: GPL-2.0-only
# How mavpn's cost grows, sourced by tests/bench/run.sh (BENCH_SCALE=0
# skips) with authsrv, h1 and h2 up and h1's cgroup $CG attached.
#
# Peers: N = each of BENCH_PEERS (default "1 16 48 256") more hosts p1..pN,
# each its own namespace on the bench bridge (198.18.1.2 ... on a /16) with
# a real vpnd (default workers: 1). h1 sends UDP datagrams (1400-byte IP
# packets: 1372 bytes of payload, below the 1420-byte overlay MTU)
# round-robin to all N peers' overlay addresses (one Python sender in the
# attached cgroup) for BENCH_SECONDS; "received" is the sum over the peers
# of rx_packets from h1 (what their data planes opened and delivered).
# Memory: h1's vpnd VmRSS with N peers keyed and busy, and per peer
# (VmRSS - VmRSS of the freshly started h1, no peer yet) / N; a peer's own
# vpnd RSS (p1). h1 and h2 are restarted with the default options first.
#
# One machine runs at most about 60 vpnd: each attaches its shim programs
# to the cgroup root, and the kernel takes at most 64 programs per cgroup
# hook (-E2BIG); other jobs' vpnd count too. A peer that does not start
# ends the peer rows ("not measured") and the flows are measured anyway.
#
# Flows: the same sender from h1 to h2 with 1 flow (one destination port)
# and with 10,000 flows (10,000 destination ports, round-robin); received
# = h2's rx_packets from h1.

SC_OUT=$OUT/scale.txt
SC_PY=$MV_TMP/udpgen.py
cat > "$SC_PY" <<'EOF'
import socket, sys, time
dsts, dur, size, nports = sys.argv[1].split(","), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
msg, n, i, nd = b"x" * size, 0, 0, len(dsts)
targets = [(d, 20000 + p) for p in range(nports) for d in dsts][:max(nd * nports, 1)]
nt, end = len(targets), time.monotonic() + dur
while True:
    for _ in range(256):
        try:
            s.sendto(msg, targets[i])
            n += 1
        except OSError:
            pass
        i = i + 1 if i + 1 < nt else 0
    if time.monotonic() >= end:
        break
print(n)
EOF

sc_rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; } # pid -> KiB
# rx_packets that host $1 counts from the peer named $2
sc_rx() {
	vpnctl_on "$1" --json peers 2>/dev/null | python3 -c '
import json, sys
print(sum(p["rx_packets"] for p in json.load(sys.stdin) if p["name"] == sys.argv[1]))' "$2" 2>/dev/null || echo 0
}
sc_keys() { vpnctl_on h1 --json peers 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0; }
sc_keyed() { [ "$(sc_keys)" -ge "$1" ]; }

sc_add_peer() { # index
	local i=$1 name=p$1 ns oct3 oct4
	oct3=$((1 + (i - 1) / 250)); oct4=$(((i - 1) % 250 + 2))
	ns=$(ns_name "$name")
	ip netns add "$ns" || return 1
	MV_NETNS+=("$ns")
	ip link add "v$MV_ID$name" type veth peer name eth0 netns "$ns" || return 1
	ip link set "v$MV_ID$name" netns "$(ns_name sw)"
	in_ns sw ip link set "v$MV_ID$name" master br0 up
	in_ns "$name" ip addr add "198.18.$oct3.$oct4/16" dev eth0
	in_ns "$name" ip link set eth0 up
	in_ns "$name" ip link set lo up
	in_ns "$name" ethtool -K eth0 gro off gso off tso off >/dev/null 2>&1
	local tok
	tok=$("$MV_BIN/authsrv" token create "$name" --state "$MV_TMP/srv") || return 1
	printf '%s\n' "$tok" | in_ns "$name" "$MV_BIN/vpnd" enroll --state "$MV_TMP/$name" \
		--server "$MV_SUBNET.1:$MV_PORT_SRV" --token-file - >/dev/null || return 1
	bg_start "$MV_TMP/vpnd-$name.log" $(nsx "$name") "$MV_BIN/vpnd" run --state "$MV_TMP/$name" \
		--iface eth0 --sock "$MV_TMP/$name.sock"
	MV_HOST_PID[$name]=${MV_PIDS[-1]}
}

sc_run() { # label dsts nports -> "received_pps sent_pps"
	local dsts=$2 nports=$3 sent before=0 after=0 n h
	for h in ${4:-}; do before=$((before + $(sc_rx "$h" h1))); done
	sent=$(in_cg "$CG" h1 python3 "$SC_PY" "$dsts" "$DUR" 1372 "$nports" 2>/dev/null || echo 0)
	sleep 0.5
	for h in ${4:-}; do after=$((after + $(sc_rx "$h" h1))); done
	n=$(( (after - before) / DUR ))
	echo "$n $((sent / DUR))"
}

sc_main() {
	local have=0 n i r dsts hosts rss0 rss ip rx tx pr pings
	: > "$SC_OUT"
	MV_VPND_ARGS=
	restart_mavpn || { echo "scale: restart failed"; return 1; }
	# the peers live on 198.18.0.0/16; h1 and srv have a /24
	in_ns h1 ip route add 198.18.0.0/16 dev eth0 2>/dev/null
	in_ns srv ip route add 198.18.0.0/16 dev eth0 2>/dev/null
	rss0=$(sc_rss "${MV_HOST_PID[h1]}")
	printf '%-34s %12s %12s %14s %16s\n' "peers (UDP 1400 B, round-robin)" "rx pkt/s" "tx pkt/s" "h1 vpnd RSS KiB" "RSS KiB per peer" | tee -a "$SC_OUT"
	for n in ${BENCH_PEERS:-1 16 48 256}; do
		for ((i = have + 1; i <= n; i++)); do
			sc_add_peer "$i" || { echo "scale: peer p$i failed"; break 2; }
		done
		for ((i = have + 1; i <= n; i++)); do
			if ! wait_for 60 "vpnd on p$i connected" host_connected "p$i"; then
				# e.g. the kernel's 64 programs per cgroup hook: every
				# vpnd on this one machine attaches its shim to the
				# same cgroup root (docs/performance.md)
				echo "scale: p$i did not connect: $n peers not measured"
				tail -n 2 "$MV_TMP/vpnd-p$i.log"
				printf '%-34s %12s\n' "$n peers" "not measured: p$i did not start" >> "$SC_OUT"
				break 2
			fi
		done
		have=$n
		dsts=; hosts=
		for ((i = 1; i <= n; i++)); do
			ip=$(vpnctl_on h1 resolve "p$i") || { echo "scale: resolve p$i failed"; return 1; }
			dsts+=${dsts:+,}$ip
			hosts+=" p$i"
		done
		# a ping to every peer until h1 has all keys (the server's key
		# rate limit, a burst of 64 then 32/s, refuses part of the first
		# round; vpnd asks again on the next packet after 2 s)
		for ((r = 0; r < 40; r++)); do
			sc_keyed "$n" && break
			pings=()
			for ip in ${dsts//,/ }; do
				in_cg "$CG" h1 ping -c 1 -W 1 "$ip" >/dev/null 2>&1 &
				pings+=($!)
			done
			# (not a bare wait: that would wait for the daemons too)
			for i in "${pings[@]}"; do wait "$i"; done
			sleep 1
		done
		sc_keyed "$n" || echo "scale: h1 has keys for $(sc_keys) of $n peers"
		read -r rx tx < <(sc_run "peers$n" "$dsts" 1 "$hosts")
		rss=$(sc_rss "${MV_HOST_PID[h1]}")
		pr=$(sc_rss "${MV_HOST_PID[p1]}")
		printf '%-34s %12s %12s %14s %16s\n' "$n peers (p1 vpnd RSS $pr KiB)" "$rx" "$tx" "$rss" "$(( (rss - rss0) / n ))" | tee -a "$SC_OUT"
		R[peers$n,rx]=$rx; R[peers$n,rss_kib]=$rss; R[peers$n,rss_per_peer_kib]=$(( (rss - rss0) / n ))
	done
	printf '%-34s %12s %12s\n' "flows h1 -> h2 (UDP 1400 B)" "rx pkt/s" "tx pkt/s" | tee -a "$SC_OUT"
	for n in 1 10000; do
		read -r rx tx < <(sc_run "flows$n" "$ip2" "$n" h2)
		printf '%-34s %12s %12s\n' "$n flows" "$rx" "$tx" | tee -a "$SC_OUT"
		R[flows$n,rx]=$rx
	done
}
sc_main
