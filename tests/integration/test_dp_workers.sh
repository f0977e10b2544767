#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The worker pool on a multi-queue underlay, and beyond the NIC's queues.
#
#   ns sw: br0 ── srv 198.18.0.1  authsrv
#              ├─ h1  198.18.0.11 vpnd --workers 3 ── 8 parallel curl
#              └─ h2  198.18.0.12 vpnd --workers 3 ── python3 http.server (4 MiB file)
#   eth0 of h1/h2: veth with 2 rx/tx queues (MV_UL_QUEUES=2)
#
# Workers 0 and 1 own an AF_XDP socket on NIC queues 0 and 1; worker 2 has
# none and sends by sendmmsg. mavpn0 has 3 queues and the host hashes flows
# over them, so 8 TCP flows almost surely use all three workers (all miss
# one with probability (2/3)^8 < 4 %). Every download must arrive intact,
# with no authentication or replay drops. The outer UDP source port
# follows the inner flow: 8 flows leave h1 from several source ports
# (all in one of 64 with probability 64^-7). veth has no AF_XDP zero copy:
# the default --xdp-mode auto lands on copy (status says so) and
# --xdp-mode zerocopy fails with one error line. Without --workers, vpnd
# starts min(online CPUs, underlay rx queues) workers: on the 2-queue NIC
# min(nproc, 2), and 1 once `ethtool -L` left the NIC one queue. With
# --busy-poll 50 (SO_BUSY_POLL etc. on the AF_XDP sockets, which the
# kernel refuses without CAP_NET_ADMIN: vpnd would not start) the tunnel
# still carries traffic and status says so.
set -u
export MV_UL_QUEUES=2 MV_VPND_ARGS="--workers 3"
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd python3 curl nsenter sha256sum tcpdump ethtool
need_root
py=$(python3 -c 'import sys; print(sys.executable)')

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
grep -h "datapath: up" "$MV_TMP/vpnd-h1.log" | sed 's/.*datapath: //'
grep -q "workers=3 underlay_queues=2" "$MV_TMP/vpnd-h1.log" ||
	fail "h1 did not start 3 workers on a 2-queue underlay"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
cg_new app CG || fail "cgroup"
vpnctl_on h1 attach "$CG" >/dev/null || fail "attach on h1"
vpnctl_on h2 attach "$CG" >/dev/null || fail "attach on h2"

mkdir -p "$MV_TMP/www"
head -c $((4 << 20)) /dev/urandom > "$MV_TMP/www/blob"
want=$(sha256sum < "$MV_TMP/www/blob")
bg_start "$MV_TMP/http.log" $(nsx h2) "$py" -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_cg "$CG" h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"

# h1's frames on the bridge side of its "NIC" (XDP on h2 runs before taps)
bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -n -l -i "v${MV_ID}h1" \
	-c 2000 udp and dst port 51820
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump.log"
pids=()
for i in $(seq 8); do
	in_cg "$CG" h1 curl -sS --max-time "$(mv_t 30)" -o "$MV_TMP/got$i" "http://$h2ip:8080/blob" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a download failed"; done
for i in $(seq 8); do
	[ "$(sha256sum < "$MV_TMP/got$i")" = "$want" ] || fail "download $i corrupted"
done
echo "8 x 4 MiB downloaded through 3 workers, sha256 matches"
nsport=$(grep -o '198\.18\.0\.11\.[0-9]* >' "$MV_TMP/tcpdump.log" | sort -u | wc -l)
echo "outer source ports seen from h1: $nsport"
[ "$nsport" -ge 2 ] || fail "8 inner flows used one outer source port"

for h in h1 h2; do
	vpnctl_on "$h" --json peers > "$MV_TMP/peers-$h.json" || fail "peers on $h"
	vpnctl_on "$h" --json status > "$MV_TMP/status-$h.json" || fail "status on $h"
	python3 - "$MV_TMP/peers-$h.json" "$MV_TMP/status-$h.json" "$h" <<'PY' || fail "counters on $h"
import json, sys
p = json.load(open(sys.argv[1]))[0]
s = json.load(open(sys.argv[2]))
d = s["dp_stats"]
print(sys.argv[3], "workers", s["workers"], "tx", p["tx_packets"], "rx", p["rx_packets"],
      "drop_auth", p["drop_auth"], "drop_replay", p["drop_replay"],
      "drop_tx_full", d["drop_tx_full"], "drop_malformed", d["drop_malformed"])
assert s["workers"] == 3, s["workers"]
assert s["datapath"]["xdp_mode"] == "copy", s["datapath"]
assert s["datapath"]["xdp_mode_requested"] == "auto", s["datapath"]
assert p["tx_packets"] > 1000 and p["rx_packets"] > 1000, p
assert p["drop_auth"] == 0 and p["drop_replay"] == 0, p
assert d["drop_malformed"] == 0, d
PY
done
vpnctl_on h1 status | grep -q "^xdp mode:  copy (requested auto)" ||
	fail "status text without the xdp mode"

# zero copy on veth: vpnd must refuse with one error line, not fall back
kill "${MV_HOST_PID[h1]}"
wait "${MV_HOST_PID[h1]}" 2>/dev/null
rc=0
in_ns h1 timeout "$(mv_t 20)" "$MV_BIN/vpnd" run --state "$MV_TMP/h1" --iface eth0 \
	--sock "$MV_TMP/h1zc.sock" --xdp-mode zerocopy 2> "$MV_TMP/zc.err" || rc=$?
cat "$MV_TMP/zc.err"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "--xdp-mode zerocopy on veth: rc=$rc"
[ "$(grep -c 'zero-copy not available iface=eth0' "$MV_TMP/zc.err")" = 1 ] ||
	fail "--xdp-mode zerocopy on veth: no clear error line"

# the default pool: min(online CPUs, underlay rx queues)
default_workers() { # expected-workers expected-queues
	MV_VPND_ARGS= run_host h1 || fail "h1 did not restart"
	vpnctl_on h1 --json status > "$MV_TMP/status-def.json" || fail "status"
	grep -h "datapath: up" "$MV_TMP/vpnd-h1.log" | tail -n1 | sed 's/.*datapath: //'
	python3 -c 'import json,sys; w=json.load(open(sys.argv[1]))["workers"]; print("default workers:", w); sys.exit(w != int(sys.argv[2]))' \
		"$MV_TMP/status-def.json" "$1" || fail "default workers: want $1"
	grep "datapath: up" "$MV_TMP/vpnd-h1.log" | tail -n1 |
		grep -q "workers=$1 underlay_queues=$2" || fail "log: want workers=$1 underlay_queues=$2"
	kill "${MV_HOST_PID[h1]}"
	wait "${MV_HOST_PID[h1]}" 2>/dev/null
}
ncpu=$(nproc)
default_workers "$(( ncpu < 2 ? ncpu : 2 ))" "$(( ncpu < 2 ? ncpu : 2 ))"
# (native XDP on a veth wants no fewer rx queues than its peer's tx queues)
in_ns sw ethtool -L "v${MV_ID}h1" rx 1 tx 1 && in_ns h1 ethtool -L eth0 rx 1 tx 1 ||
	fail "ethtool -L on h1's NIC"
default_workers 1 1

MV_VPND_ARGS="--busy-poll 50" run_host h1 || fail "h1 with --busy-poll did not start"
vpnctl_on h1 --json status | python3 -c 'import json,sys; d=json.load(sys.stdin)["datapath"]; print("busy poll:", d); sys.exit(d["busy_poll_us"] != 50)' ||
	fail "status without busy_poll_us 50"
vpnctl_on h1 status | grep -q "^busy poll: 50 us" || fail "status text without the busy poll"
in_cg "$CG" h1 ping -c 3 -i 0.2 -W 2 "$h2ip" > "$MV_TMP/ping-bp.log" || { cat "$MV_TMP/ping-bp.log"; fail "no ping through the tunnel with --busy-poll"; }
in_cg "$CG" h1 curl -sS --max-time "$(mv_t 30)" -o "$MV_TMP/got-bp" "http://$h2ip:8080/blob" || fail "download with --busy-poll"
[ "$(sha256sum < "$MV_TMP/got-bp")" = "$want" ] || fail "download with --busy-poll corrupted"
echo "--busy-poll 50: ping and 4 MiB download through the tunnel"
echo "PASS: worker pool over a 2-queue underlay"
