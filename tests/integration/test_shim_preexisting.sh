#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Sockets from before enforcement: no bypass either way.
#
#   ns sw: br0 ── srv 198.18.0.1  authsrv
#              ├─ h1  198.18.0.11 python3: UDP socket connected before vpnd ran
#              └─ h2  198.18.0.12 http.server on 0.0.0.0:8080, started before vpnd
#
# Proves: a UDP socket an unattached process connected to h2's overlay
# address while h1 had no vpnd (so no enforcement was linked and the
# sock_addr hooks never saw it) cannot send there once vpnd runs: egress
# drops it and send() gets EPERM; a TCP server whose listening socket
# predates h2's vpnd, in an unattached cgroup, still answers a peer that
# reached it through the VPN (accepted connections are marked by sockops);
# an attached curl from h1 gets the page.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd python3 curl nsenter mkfifo bpftool
need_root
bpftool feature probe kernel 2>/dev/null | sed -n '/cgroup_skb/,/^$/p' | grep -q bpf_get_netns_cookie ||
	mv_skip "this kernel has no bpf_get_netns_cookie for cgroup_skb (6.1): sockets from before enforcement are not checked"

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
mkdir -p "$MV_TMP/www" && echo "preexisting-ok" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind 0.0.0.0 \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/127.0.0.1/8080"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h2 --json status | json_get 'd["self"]["overlay_ip"]') || fail "h2 status"

log_step "h1 without vpnd: an unattached process connects a UDP socket to $h2ip"
cat > "$MV_TMP/early.py" <<'PY'
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], 9000))
print("connected", flush=True)
open(sys.argv[2]).read()		# wait until vpnd runs
try:
    for _ in range(3):
        s.send(b"sent-before-enforcement")
    print("result ok", flush=True)
except OSError as e:
    print("result", errno.errorcode.get(e.errno, str(e)), flush=True)
PY
mkfifo "$MV_TMP/go"
# a route so that connect() finds one; nothing is sent by a UDP connect
in_ns h1 ip route add "$h2ip/32" dev eth0
bg_start "$MV_TMP/early.log" $(nsx h1) python3 "$MV_TMP/early.py" "$h2ip" "$MV_TMP/go"
early=${MV_PIDS[-1]}
wait_for 10 "early socket connected" grep -q connected "$MV_TMP/early.log" || fail "early connect"
in_ns h1 ip route del "$h2ip/32" dev eth0

log_step "vpnd starts on h1"
start_host h1 || fail "h1 did not enroll/connect"
bp0=$(vpnctl_on h1 --json status | json_get 'd["shim"]["blocked_packets"]')
echo go > "$MV_TMP/go"
wait "$early"
r=$(sed -n 's/^result //p' "$MV_TMP/early.log")
bp=$(vpnctl_on h1 --json status | json_get 'd["shim"]["blocked_packets"]')
[ "$r" = EPERM ] && [ "$bp" -gt "$bp0" ] ||
	fail "send() on a UDP socket connected before vpnd: $r, blocked_packets $bp0 -> $bp (want EPERM)"
echo "send() on the UDP socket connected before vpnd: $r, blocked_packets $bp0 -> $bp"

log_step "a server listening since before h2's vpnd answers through the VPN"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") || { vpnctl_on h2 --json status | json_get "d[\"shim\"]"; vpnctl_on h1 --json status | json_get "d[\"shim\"]"; fail "attached curl to h2 early server"; }
[ "$body" = preexisting-ok ] || fail "body '$body'"
echo "attached curl from h1 to $h2ip:8080: $body"
echo "PASS: sockets from before enforcement are checked at egress; accepted ones answer"
