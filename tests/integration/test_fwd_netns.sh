#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Traffic forwarded into the overlay from another network namespace
# (issue 12 item 3):
#
#   ns sw: br0 ── srv (authsrv), h1 (vpnd), h2 (vpnd, http :8080 on its overlay address)
#   ns c1 ("a container"): eth0 10.77.0.2/24, default via h1 (veth vc1 10.77.0.1),
#                           h1 forwards and NATs it (nft masquerade out mavpn0)
#
# No process in c1 is attached. Proves: c1's curl to h2 over the overlay is
# dropped on h1's mavpn0 (shim.blocked_forwarded) until `vpnctl attach
# /run/netns/<c1>`; then it works; detach stops it again; a namespace
# known by a PID is refused as /proc/PID/ns/net (vpnd may not open it)
# with a hint, and works once named with `ip netns attach`. On the code
# before, c1 reached h2 at once.
set -u
. "$(dirname "$0")/../lib/topo.sh"
# an overlay of its own: shims of other runs on this machine act on theirs
MV_OVERLAY=100.$((81 + RANDOM % 40)).0.0/16
trap topo_down EXIT
need_cmd curl
need_cmd nft
need_cmd sysctl

blocked_fwd() { vpnctl_on h1 --json status | json_get 'd["shim"]["blocked_forwarded"]'; }
c1_curl() { in_ns c1 curl -sS --max-time "$(mv_t "$1")" "http://$h2ip:8080/"; }

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1"
start_host h2 || fail "h2"
h2ip=$(vpnctl_on h2 --json status | json_get 'd["self"]["overlay_ip"]')
mkdir -p "$MV_TMP/www" && echo fwd-page > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http-h2.log" $(nsx h2) python3 -m http.server --bind "$h2ip" --directory "$MV_TMP/www" 8080
wait_for 10 "http on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"

log_step "a container namespace c1 routed and NATed by h1"
c1ns=$(ns_name c1)
ip netns add "$c1ns"
MV_NETNS+=("$c1ns")
ip link add "c$MV_ID" type veth peer name eth0 netns "$c1ns"
ip link set "c$MV_ID" netns "$(ns_name h1)"
in_ns h1 ip link set "c$MV_ID" name vc1
in_ns h1 ip addr add 10.77.0.1/24 dev vc1
in_ns h1 ip link set vc1 up
in_ns c1 ip addr add 10.77.0.2/24 dev eth0
in_ns c1 ip link set eth0 up
in_ns c1 ip link set lo up
in_ns c1 ip route add default via 10.77.0.1
in_ns h1 sysctl -qw net.ipv4.ip_forward=1
in_ns h1 nft -f - <<'NFT' || fail "nft"
table ip mvtest {
	chain post {
		type nat hook postrouting priority 100;
		ip saddr 10.77.0.0/24 oifname "mavpn0" masquerade
	}
}
NFT

log_step "not attached: c1 does not reach h2"
b0=$(blocked_fwd)
if c1_curl 4 >/dev/null 2>&1; then
	fail "c1 reached h2 through h1's overlay without being attached"
fi
b1=$(blocked_fwd)
echo "blocked_forwarded $b0 -> $b1"
[ "$b1" -gt "$b0" ] || fail "h1 did not count the forwarded packets it dropped"

log_step "vpnctl attach /run/netns/$c1ns: c1 reaches h2"
vpnctl_on h1 attach "/run/netns/$c1ns" || fail "attach netns"
vpnctl_on h1 --json status | json_get 'd["shim"]["attached_netns"]' | grep -q "$c1ns" \
	|| fail "status does not list the attached namespace"
body=$(c1_curl 10) || fail "c1 -> h2 after attach"
[ "$body" = fwd-page ] || fail "body '$body'"

log_step "detach: dropped again"
vpnctl_on h1 detach "/run/netns/$c1ns" || fail "detach netns"
b2=$(blocked_fwd)
if c1_curl 4 >/dev/null 2>&1; then
	fail "c1 reached h2 after detach"
fi
[ "$(blocked_fwd)" -gt "$b2" ] || fail "no drop counted after detach"

log_step "a container's namespace by its PID: named with ip netns attach, then attached"
bg_start "$MV_TMP/c1-sleep.log" $(nsx c1) sleep 600
pid=${MV_PIDS[-1]}
wait_for 5 "sleep in c1" bash -c "[ \"\$(stat -L -c %i /proc/$pid/ns/net)\" = \"\$(stat -L -c %i /run/netns/$c1ns)\" ]"
if vpnctl_on h1 attach "/proc/$pid/ns/net" 2>"$MV_TMP/proc.err"; then
	fail "vpnd opened another process's /proc/PID/ns/net (it keeps no CAP_SYS_PTRACE)"
fi
grep -q "ip netns attach NAME PID" "$MV_TMP/proc.err" || fail "no hint: $(cat "$MV_TMP/proc.err")"
c1b=$(ns_name c1b)
ip netns attach "$c1b" "$pid" || fail "ip netns attach"
MV_NETNS+=("$c1b")
vpnctl_on h1 attach "/run/netns/$c1b" || fail "attach /run/netns/$c1b"
body=$(c1_curl 10) || fail "c1 -> h2 after attach by PID"
[ "$body" = fwd-page ] || fail "body '$body'"
if vpnctl_on h1 attach /proc/self/ns/net 2>"$MV_TMP/own.err"; then
	fail "attaching a namespace with no link from h1 into it succeeded"
fi
grep -q "no interface of this host leads into that network namespace" "$MV_TMP/own.err" \
	|| fail "unexpected error: $(cat "$MV_TMP/own.err")"
echo "PASS: forwarded traffic enters the overlay only from attached namespaces"
