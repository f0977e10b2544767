#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `make bench`: one run, one topology, five contenders.
#
#   ns sw: br0 ── srv 198.18.0.1   (authsrv, for mavpn)
#              ├─ h1  198.18.0.11  client side (iperf3 -c, ping)
#              └─ h2  198.18.0.12  server side (iperf3 -s)
#
# Contenders between h1 and h2: plain (the underlay itself, the ceiling),
# mavpn, wireguard-go, OpenVPN, nebula (AES-256-GCM). For each: TCP 1 and 4 streams,
# UDP received packets/s at 64 and 1400 bytes, RTT, first-packet latency to a
# never-seen peer, CPU seconds per Gbit/s. Prints a table with mavpn/peer
# ratios, writes build/bench/results.{txt,json} and a PNG chart.
#
# BENCH_BRNF=1 leaves br_netfilter's hooks on for the bridge (the default
# turns bridge-nf-call-{iptables,ip6tables,arptables} off in the switch's
# namespace: they charge every contender's bridged frames to iptables).
# BENCH_SCALE=0 skips tests/bench/scale.sh (BENCH_PEERS="1 16 48 256" peers,
# 1 and 10,000 flows; build/bench/scale.txt). BENCH_BP=USEC (default 50; 0 skips) also measures vpnd --busy-poll USEC
# as "mavpn-bp". BENCH_BASE_BIN=DIR also measures DIR/vpnd as "mavpn-base" (e.g. the
# build of an older commit) with the default workers, for an A/B in one run.
set -u
. "$(dirname "$0")/../lib/topo.sh"
OUT=$MV_ROOT/build/bench
DUR=${BENCH_SECONDS:-5}
mkdir -p "$OUT"
trap 'stop_contender; topo_down' EXIT
CONT_PIDS=()

stop_contender() {
	local p
	for p in "${CONT_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	CONT_PIDS=()
}
cbg() { local log=$1; shift; "$@" >"$log" 2>&1 & CONT_PIDS+=($!); }

# mavpn enforces per-application access: its measurements run in a cgroup
# attached on both hosts (CG set), the others in the bare namespace.
CG=
run_on() { if [ -n "$CG" ]; then in_cg "$CG" "$@"; else in_ns "$@"; fi; }

cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; } # jiffies

# iperf3 from h1 to $1; prints "gbps cpu_s_per_gbit"
tcp_run() { # dst streams
	local dst=$1 n=$2 c0 c1 gbps
	c0=$(cpu_busy)
	run_on h1 iperf3 -c "$dst" -t "$DUR" -P "$n" -J > "$OUT/iperf.json" 2>/dev/null || { echo "0 0"; return; }
	c1=$(cpu_busy)
	gbps=$(python3 -c "import json;d=json.load(open('$OUT/iperf.json'));print(d['end']['sum_received']['bits_per_second']/1e9)" 2>/dev/null)
	[ -n "$gbps" ] || { echo "0 0"; return; }
	python3 -c "g=$gbps; cpu=($c1-$c0)/100.0/$DUR; print(f'{g:.3f}', f'{(cpu/g if g>0 else 0):.3f}')"
}

udp_run() { # dst size -> received packets/s
	local dst=$1 len=$2
	run_on h1 iperf3 -c "$dst" -u -b 0 -l "$len" -t "$DUR" -J > "$OUT/iperf.json" 2>/dev/null || { echo 0; return; }
	python3 -c "
import json; d=json.load(open('$OUT/iperf.json')); s=d['end']['sum']
print(int(s['packets']*(1-s.get('lost_percent',0)/100.0)/s['seconds']))" 2>/dev/null || echo 0
}

rtt_run() { # dst -> avg ms
	run_on h1 ping -q -c 50 -i 0.02 "$1" 2>/dev/null | awk -F/ '/^rtt/{print $5}'
}

declare -A R
measure() { # name dst first_ms
	local name=$1 dst=$2
	echo "--- $name: measuring towards $dst"
	bg_iperf=$(mktemp)
	run_on h2 iperf3 -s -D -B "$dst" --pidfile "$OUT/iperf3-$name.pid" >/dev/null 2>&1 || true
	sleep 0.5
	read -r R[$name,tcp1] R[$name,cpu] < <(tcp_run "$dst" 1)
	read -r R[$name,tcp4] _ < <(tcp_run "$dst" 4)
	R[$name,udp64]=$(udp_run "$dst" 64)
	R[$name,udp1400]=$(udp_run "$dst" 1400)
	R[$name,rtt]=$(rtt_run "$dst")
	R[$name,first]=$3
	[ -f "$OUT/iperf3-$name.pid" ] && kill "$(cat "$OUT/iperf3-$name.pid")" 2>/dev/null
	rm -f "$bg_iperf"
	echo "    tcp1=${R[$name,tcp1]} Gbit/s tcp4=${R[$name,tcp4]} udp64=${R[$name,udp64]} pps udp1400=${R[$name,udp1400]} pps rtt=${R[$name,rtt]} ms first=${R[$name,first]} ms cpu/Gbit=${R[$name,cpu]}"
}

# Time from "send the first ping" to "reply" when nothing is set up yet.
first_ping_ms() { # ns dst
	run_on "$1" ping -c 1 -W 5 "$2" 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | head -n1
}

# Restart both vpnd with the current MV_VPND_ARGS / MV_BIN (same state).
restart_mavpn() {
	local h pid i
	for h in h1 h2; do
		pid=${MV_HOST_PID[$h]}
		kill "$pid"; wait "$pid" 2>/dev/null
		# forget it, so topo_down never signals a reused PID
		for i in "${!MV_PIDS[@]}"; do
			[ "${MV_PIDS[$i]}" = "$pid" ] && unset "MV_PIDS[$i]"
		done
	done
	# (vpnd re-attaches the cgroup itself from its --state on restart)
	run_host h1 && run_host h2
}

topo_up
brnf=${BENCH_BRNF:-0}
for k in iptables ip6tables arptables; do
	f=/proc/sys/net/bridge/bridge-nf-call-$k
	[ -e "$f" ] && in_ns sw bash -c "echo $brnf > $f"
done
echo "br_netfilter hooks in the bench bridge: $([ "$brnf" = 1 ] && echo on || echo off)" \
	"(iptables=$(in_ns sw cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo n/a))"
for h in h1 h2; do in_ns "$h" ethtool -K eth0 gro off gso off tso off >/dev/null 2>&1 || true; done

# --- plain veth
measure plain 198.18.0.12 "$(first_ping_ms h1 198.18.0.12)"

# --- mavpn
# Default --workers (min(CPUs, underlay queues): 1 on this 1-queue veth),
# then --workers 2 (BENCH_W2=0 skips): the second worker only seals and
# sends through the kernel's UDP socket; on a 2-CPU VM the workers share
# the cores with iperf3 and both stacks.
if start_authsrv && start_host h1 && start_host h2; then
	ip2=$(vpnctl_on h1 resolve h2)
	cg_new bench CG
	vpnctl_on h1 attach "$CG" >/dev/null && vpnctl_on h2 attach "$CG" >/dev/null
	first=$(first_ping_ms h1 "$ip2")
	measure mavpn "$ip2" "$first"
	if [ "${BENCH_W2:-1}" = 1 ]; then
		MV_VPND_ARGS="--workers 2"
		restart_mavpn && measure mavpn-w2 "$ip2" "$(first_ping_ms h1 "$ip2")"
		MV_VPND_ARGS=
	fi
	# kernel busy polling on the AF_XDP sockets (BENCH_BP=0 skips)
	if [ "${BENCH_BP:-50}" != 0 ]; then
		MV_VPND_ARGS="--busy-poll ${BENCH_BP:-50}"
		restart_mavpn && measure mavpn-bp "$ip2" "$(first_ping_ms h1 "$ip2")"
		MV_VPND_ARGS=
	fi
	if [ -n "${BENCH_BASE_BIN:-}" ] && [ -x "$BENCH_BASE_BIN/vpnd" ]; then
		bin=$MV_BIN
		MV_BIN=$MV_TMP/basebin
		mkdir -p "$MV_BIN"
		ln -sf "$BENCH_BASE_BIN/vpnd" "$MV_BIN/vpnd"
		ln -sf "$bin/vpnctl" "$MV_BIN/vpnctl"
		restart_mavpn && measure mavpn-base "$ip2" "$(first_ping_ms h1 "$ip2")"
		MV_BIN=$bin
	fi
	MAVPN_CG=$CG
	CG=
else
	echo "mavpn: could not start (see logs)"; for f in "$MV_TMP"/*.log; do tail -n 5 "$f"; done
fi

# --- wireguard-go
if command -v wireguard-go >/dev/null && command -v wg >/dev/null; then
	# The UAPI socket lives in /var/run/wireguard, shared by all namespaces:
	# interface names must be unique on the machine.
	wgif=wgb$RANDOM
	(umask 077; wg genkey > "$MV_TMP/wg1.key"; wg genkey > "$MV_TMP/wg2.key")
	for i in 1 2; do
		cbg "$MV_TMP/wg$i.log" env WG_PROCESS_FOREGROUND=1 $(nsx h$i) wireguard-go "$wgif$i"
	done
	if ! wait_for 10 "wireguard-go up" in_ns h1 ip link show "${wgif}1" ||
	   ! wait_for 10 "wireguard-go up" in_ns h2 ip link show "${wgif}2"; then
		cat "$MV_TMP"/wg*.log
	fi
	for i in 1 2; do
		j=$((3 - i))
		in_ns h$i wg set "$wgif$i" private-key "$MV_TMP/wg$i.key" listen-port 51900 \
			peer "$(wg pubkey < "$MV_TMP/wg$j.key")" allowed-ips "100.90.0.$j/32" \
			endpoint "198.18.0.1$j:51900"
		in_ns h$i ip addr add "100.90.0.$i/24" dev "$wgif$i"
		in_ns h$i ip link set "$wgif$i" mtu 1420 up
	done
	measure wireguard-go 100.90.0.2 "$(first_ping_ms h1 100.90.0.2)"
	stop_contender
else
	echo "SKIP: wireguard-go not installed"
fi

# --- OpenVPN, TLS mode (AES-256-GCM data channel), point to point
if command -v openvpn >/dev/null; then
	d=$MV_TMP/ovpn; mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=bench-ca -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	for n in s c; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
			-keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 1 -out "$d/$n.pem" 2>/dev/null
	done
	common="--dev tun --proto udp --port 51901 --ca $d/ca.pem --data-ciphers AES-256-GCM --cipher AES-256-GCM --verb 1 --tun-mtu 1420"
	cbg "$MV_TMP/ovpn-s.log" $(nsx h2) openvpn $common --tls-server --dh none \
		--cert "$d/s.pem" --key "$d/s.key" --ifconfig 100.91.0.2 100.91.0.1
	cbg "$MV_TMP/ovpn-c.log" $(nsx h1) openvpn $common --tls-client --remote 198.18.0.12 \
		--cert "$d/c.pem" --key "$d/c.key" --ifconfig 100.91.0.1 100.91.0.2
	if wait_for 20 "OpenVPN tunnel" grep -q "Initialization Sequence Completed" "$MV_TMP/ovpn-c.log"; then
		measure openvpn 100.91.0.2 "$(first_ping_ms h1 100.91.0.2)"
	else
		echo "openvpn: tunnel did not come up"; tail -n 5 "$MV_TMP"/ovpn-*.log
	fi
	stop_contender
else
	echo "SKIP: openvpn not installed"
fi

# --- nebula (Debian package; AES-256-GCM, static host map, no lighthouse)
if command -v nebula >/dev/null && command -v nebula-cert >/dev/null; then
	nd=$MV_TMP/nebula
	mkdir -p "$nd"
	nebula-cert ca -name mv-bench -out-crt "$nd/ca.crt" -out-key "$nd/ca.key"
	for i in 1 2; do
		nebula-cert sign -ca-crt "$nd/ca.crt" -ca-key "$nd/ca.key" -name "h$i" \
			-ip "100.92.0.$i/24" -out-crt "$nd/h$i.crt" -out-key "$nd/h$i.key"
		o=$((3 - i))
		cat > "$nd/h$i.yml" <<EOF
pki: {ca: $nd/ca.crt, cert: $nd/h$i.crt, key: $nd/h$i.key}
static_host_map: {"100.92.0.$o": ["198.18.0.1$o:4242"]}
lighthouse: {am_lighthouse: false}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
cipher: aes
tun: {dev: nebula$i, mtu: 1420}
logging: {level: warning}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
EOF
		cbg "$MV_TMP/nebula$i.log" $(nsx h$i) nebula -config "$nd/h$i.yml"
	done
	if wait_for 10 "nebula up" in_ns h1 ip link show nebula1 &&
	   wait_for 10 "nebula up" in_ns h2 ip link show nebula2 &&
	   wait_for 10 "nebula tunnel" in_ns h1 ping -c 1 -W 1 100.92.0.2; then
		# the handshake is done by now: first packet after the tunnel is up
		measure nebula 100.92.0.2 "$(first_ping_ms h1 100.92.0.2)"
	else
		echo "nebula: tunnel did not come up"; tail -n 5 "$MV_TMP"/nebula*.log
	fi
	stop_contender
else
	echo "SKIP: nebula not installed"
fi

# --- cost growth: 1/16/256 peers, 10,000 flows (BENCH_SCALE=0 skips). Last:
# every extra vpnd attaches its shim programs to the cgroup root, which
# every other contender's sockets would then run through.
if [ "${BENCH_SCALE:-1}" = 1 ] && [ -n "${MAVPN_CG:-}" ]; then
	CG=$MAVPN_CG
	. "$(dirname "$0")/scale.sh"
	CG=
fi

for k in "${!R[@]}"; do echo "$k=${R[$k]}"; done | python3 "$MV_ROOT/tests/bench/report.py" "$OUT"
