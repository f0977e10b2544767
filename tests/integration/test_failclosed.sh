#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fail closed: vpnd killed with SIGKILL, then restarted.
#
#   ns sw: br0 (tcpdump) ── srv 198.18.0.1 (authsrv)
#                        ├─ h1  198.18.0.11  vpnd (kill -9, restart) ── cgroup CG (attached)
#                        └─ h2  198.18.0.12  vpnd ── http.server :8080
#
# Proves: while h1's vpnd is dead, mavpn0 and its route stay and the XDP
# program on mavpn0x drops what the dead workers would have encrypted, so
# curl, UDP and ping from h1 (attached or not) to h2's overlay address get
# nothing; with mavpn0 deleted too, the blackhole route vpnd left keeps the
# prefix unreachable; the bridge carries no frame with an overlay address
# or TCP 8080 in clear throughout; the enforcement programs stay linked to
# the cgroup root through their bpffs pins, so an unattached curl gets EPERM
# at once (exit 7, not a timeout) while vpnd is dead; the restarted vpnd
# replaces the pins, makes a new interface, re-attaches CG from its state
# dir (no operator step) and CG's curl works again while an unattached curl
# gets EPERM again; a clean stop removes the pins.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd curl ping tcpdump

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
mkdir -p "$MV_TMP/www" && echo "failclosed-ok" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"

cg_new app cg || fail "cgroup"
vpnctl_on h1 attach "$cg" >/dev/null || fail "attach"
body=$(in_cg "$cg" h1 curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") || fail "curl before the kill"
[ "$body" = failclosed-ok ] || fail "body '$body'"
echo "before: curl from the attached cgroup: $body"

pins=$(sed -n 's/.*shim: enforcing.* pinned=\([^ ]*\).*/\1/p' "$MV_TMP/vpnd-h1.log" | tail -1)
[ -n "$pins" ] && [ "$(ls "$pins"/enf_* | wc -l)" -eq 8 ] && [ -e "$pins/ours" ] || fail "no 8 enforcement pins and the socket marks in '$pins'"
echo "enforcement pinned in $pins: $(ls "$pins" | tr '\n' ' ')"

log_step "kill -9 vpnd on h1"
bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -i br0 -U -n -w "$MV_TMP/wire.pcap"
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump.log"
kill -9 "${MV_HOST_PID[h1]}"
wait "${MV_HOST_PID[h1]}" 2>/dev/null
in_ns h1 ip -o link show mavpn0 >/dev/null || fail "mavpn0 vanished with vpnd"
in_ns h1 ip route get "$h2ip" | grep -q "dev mavpn0" || fail "no route to the overlay via mavpn0"
in_ns h1 ip -o link show mavpn0x | grep -q xdp || fail "no XDP program left on mavpn0x"
echo "after the kill: mavpn0 and its route are there, mavpn0x still has XDP"
in_cg "$cg" h1 curl -sS --max-time "$(mv_t 3)" "http://$h2ip:8080/" >/dev/null 2>&1 && fail "attached curl got through"
[ "$(ls "$pins"/enf_* | wc -l)" -eq 8 ] || fail "the pins went with vpnd"
# The connect itself is timed (not the process: starting curl or python
# under TCG on a loaded host takes seconds) and its errno named.
connect_errno() { in_ns h1 python3 - "$h2ip" "$(mv_t 3)" <<'PY'
import errno, socket, sys, time
s = socket.socket()
s.settimeout(float(sys.argv[2]))
t0 = time.monotonic()
try:
    s.connect((sys.argv[1], 8080))
    r = "connected"
except OSError as e:
    r = errno.errorcode.get(e.errno, "timeout" if isinstance(e, socket.timeout) else str(e))
print(r, int((time.monotonic() - t0) * 1000))
PY
}
read -r err ms < <(connect_errno)
[ "$err" = EPERM ] && [ "$ms" -lt $((500 * MV_TIME_SCALE)) ] ||
	fail "unattached connect while vpnd is dead: $err after $ms ms, want EPERM at once"
echo "vpnd dead: unattached connect() $err after $ms ms (the pinned programs refuse)"
in_ns h1 ping -c 3 -i 0.2 -W "$(mv_t 1)" "$h2ip" >/dev/null 2>&1 && fail "ping got an answer"
in_cg "$cg" h1 bash -c "echo plaintext-udp > /dev/udp/$h2ip/9000"
echo "curl (attached and not), ping and UDP from h1 got nothing"
# Worst case: the leftover interface is gone too (deleted by hand, or a
# restart failed half-way). The blackhole route keeps the prefix closed.
in_ns h1 ip route show type blackhole | grep -q "^blackhole ${MV_OVERLAY:-100.80.0.0/16}" \
	|| fail "no blackhole route for the overlay"
in_ns h1 ip link del mavpn0
in_ns h1 curl -sS --max-time "$(mv_t 3)" "http://$h2ip:8080/" >/dev/null 2>&1 && fail "curl got through without mavpn0"
in_ns h1 ping -c 2 -i 0.2 -W "$(mv_t 1)" "$h2ip" >/dev/null 2>&1 && fail "ping got through without mavpn0"
echo "mavpn0 deleted as well: $(in_ns h1 ip route get "$h2ip" 2>&1 | head -1)"
mv_sleep 1	# the capture catches up
kill "${MV_PIDS[-1]}"; wait "${MV_PIDS[-1]}" 2>/dev/null
total=$(pcap_count "$MV_TMP/wire.pcap")
leak=$(pcap_count "$MV_TMP/wire.pcap" "ip and (net ${MV_OVERLAY:-100.80.0.0/16} or tcp port 8080 or udp port 9000 or icmp)")
ul=$(pcap_count "$MV_TMP/wire.pcap" udp port 51820 and src host 198.18.0.11)
echo "capture while vpnd was dead: $total frames, $leak with overlay addresses/8080/9000/ICMP, $ul encrypted from h1"
[ "$leak" -eq 0 ] || fail "plaintext to a protected destination on the wire"
[ "$ul" -eq 0 ] || fail "h1 sent datagrams without a vpnd"

log_step "restart vpnd on h1"
run_host h1 || fail "vpnd on h1 did not come back"
vpnctl_on h1 --json status | json_get 'd["shim"]["attached"]' | tee "$MV_TMP/att.txt"
grep -qF "$cg" "$MV_TMP/att.txt" || fail "the cgroup was not re-attached"
grep -q "shim: replaced 8 enforcement links a previous vpnd left in $pins" "$MV_TMP/vpnd-h1.log" \
	|| fail "the restarted vpnd did not replace the pins"
[ "$(ls "$pins"/enf_* | wc -l)" -eq 8 ] || fail "after the restart: not 8 pins in $pins"
body=$(in_cg "$cg" h1 curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") || fail "curl after the restart"
[ "$body" = failclosed-ok ] || fail "body '$body' after the restart"
echo "after the restart: curl from the re-attached cgroup: $body"
read -r err ms < <(connect_errno)
[ "$err" = EPERM ] || fail "unattached connect after the restart: $err after $ms ms, want EPERM"
echo "after the restart: unattached connect() $err after $ms ms"
n=$(in_ns h1 ip -o link show | grep -c 'mavpn0')
[ "$n" -eq 2 ] || fail "expected one overlay veth pair, found $n links"
vpnctl_on h1 detach "$cg" >/dev/null || fail "detach"
kill "${MV_HOST_PID[h1]}"; wait "${MV_HOST_PID[h1]}" 2>/dev/null
[ -e "$pins" ] && fail "a clean stop left the pins in $pins"
echo "clean stop: $pins removed"
echo "PASS: fail closed across kill -9, service back after restart"
