#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Per-flow policy decisions in both directions (issue 12 item 1):
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv)
#              ├─ h1  198.18.0.11  vpnd, http :8080 (unattached), UDP echo :9000 (attached)
#              └─ h2  198.18.0.12  vpnd, http :8081 and :8082 (unattached)
#   clients (curl, nc, ping, a UDP client) run in attached cgroups.
#
# 1. `allow h2 -> h1`: h2 reaches h1:8080, so h1 holds the pushed key; h1
#    still cannot open a flow to h2 (curl, nc: the server refuses h1's
#    flow, the kernel drops/refuses it), while h1's attached UDP server
#    answers h2's datagrams (a reply, no decision of h1's needed).
# 2. `allow h1 -> h2 proto tcp port 8081`: h1 reaches h2:8081; h2:8082 is
#    refused although the key to h2 exists (decided per flow, not per key);
#    `vpnctl flows` shows the refusal with the user.
# 3. A policy change reaches running flows: an allowed ping (proto icmp)
#    stops within 1 s of `authsrv policy set` that no longer allows it.
# 4. Users (issue 12 item 2): `allow h1 -> h2 user nobody ...`: in the same
#    attached cgroup, curl as nobody (setpriv) reaches h2:8082, curl as root
#    does not; `vpnctl flows` and the audit log name both users.
# Each step passes traffic on the code before per-flow decisions.
set -u
. "$(dirname "$0")/../lib/topo.sh"
# an overlay of its own: shims of other runs on this machine act on theirs
MV_OVERLAY=100.$((81 + RANDOM % 40)).0.0/16
trap topo_down EXIT
need_cmd curl
need_cmd nc
need_cmd ping
need_cmd setpriv

dump() { # on failure: what each host's shim and data plane saw
	local h
	for h in h1 h2; do
		echo "--- $h"; vpnctl_on "$h" status | grep -v ' 0$'; vpnctl_on "$h" flows
	done
}

policy() { # text
	printf '%b\n' "$1" > "$MV_TMP/p.policy"
	"$MV_BIN/authsrv" policy set "$MV_TMP/p.policy" --state "$MV_TMP/srv" >/dev/null \
		|| fail "policy set: $1"
}

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1"
start_host h2 || fail "h2"
h1ip=$(vpnctl_on h1 --json status | json_get 'd["self"]["overlay_ip"]')
h2ip=$(vpnctl_on h2 --json status | json_get 'd["self"]["overlay_ip"]')

mkdir -p "$MV_TMP/www" && echo flow-page > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http-h1.log" $(nsx h1) python3 -m http.server --bind "$h1ip" --directory "$MV_TMP/www" 8080
bg_start "$MV_TMP/http-h2a.log" $(nsx h2) python3 -m http.server --bind "$h2ip" --directory "$MV_TMP/www" 8081
bg_start "$MV_TMP/http-h2b.log" $(nsx h2) python3 -m http.server --bind "$h2ip" --directory "$MV_TMP/www" 8082
wait_for 10 "http on h1" in_ns h1 bash -c "exec 3<>/dev/tcp/$h1ip/8080"
wait_for 10 "http on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8081"
wait_for 10 "http on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8082"

cg_new c1 cg1 || fail "cgroup"
cg_new c2 cg2 || fail "cgroup"
vpnctl_on h1 attach "$cg1" >/dev/null || fail "attach on h1"
vpnctl_on h2 attach "$cg2" >/dev/null || fail "attach on h2"

# h1's UDP echo server, attached: it answers with sendto() (an active send)
bg_start "$MV_TMP/echo-h1.log" in_cg "$cg1" h1 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9000))
while True:
    d, a = s.recvfrom(2048)
    print("from", a, flush=True)
    s.sendto(b"echo:" + d, a)
' "$h1ip"
udp_ask() { # host cgroup dst: one answer within tries
	in_cg "$2" "$1" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
for _ in range(int(float(sys.argv[2]))):
    try:
        s.sendto(b"hi", (sys.argv[1], 9000))
        d, _ = s.recvfrom(2048)
        print(d.decode()); sys.exit(0)
    except socket.timeout:
        pass
    except PermissionError:	# dropped while the decision is asked
        time.sleep(1.0)
sys.exit(1)
' "$3" "$(mv_t 8)"
}

log_step "1. allow h2 -> h1: h2 reaches h1 (h1 gets the pushed key)"
policy 'allow h2 -> h1'
body=$(in_cg "$cg2" h2 curl -sS --max-time "$(mv_t 10)" "http://$h1ip:8080/") || { dump; fail "curl h2->h1"; }
[ "$body" = flow-page ] || fail "body '$body'"
vpnctl_on h1 --json peers | grep -q "$h2ip" || fail "h1 holds no key with h2"

log_step "1. h1's attached UDP server answers h2 (a reply needs no decision of h1's)"
out=$(udp_ask h2 "$cg2" "$h1ip") || { dump; fail "no UDP answer from h1's server"; }
[ "$out" = "echo:hi" ] || fail "UDP answer '$out'"

log_step "1. h1 cannot open flows to h2 although it holds the key"
if in_cg "$cg1" h1 curl -sS --max-time "$(mv_t 4)" "http://$h2ip:8081/" >/dev/null 2>&1; then
	fail "h1 reached h2:8081 against 'allow h2 -> h1'"
fi
if in_cg "$cg1" h1 nc -z -w "$(mv_t 3)" "$h2ip" 8081 >/dev/null 2>&1; then
	fail "nc h1 -> h2:8081 connected against 'allow h2 -> h1'"
fi
vpnctl_on h1 --json flows | python3 -c '
import json, sys
f = [e for e in json.load(sys.stdin) if e["dport"] == 8081 and e["verdict"] == "flow-denied"]
sys.exit(0 if f else 1)' || fail "h1's flows show no flow-denied for h2:8081"
grep -q '"event":"flow_deny","host":"h1","peer":"h2"' "$MV_TMP/srv/audit.log" \
	|| fail "no flow_deny for h1 -> h2 in the audit log"

log_step "2. allow h1 -> h2 tcp/8081 only: 8081 passes, 8082 is refused (key exists)"
policy 'allow h2 -> h1\nallow h1 -> h2 proto tcp port 8081'
body=$(in_cg "$cg1" h1 curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8081/") || fail "curl h1->h2:8081"
[ "$body" = flow-page ] || fail "body '$body'"
if in_cg "$cg1" h1 curl -sS --max-time "$(mv_t 4)" "http://$h2ip:8082/" >/dev/null 2>&1; then
	fail "h1 reached h2:8082, only tcp/8081 is allowed"
fi
vpnctl_on h1 flows | grep -E "flow-denied +$h2ip:8082 +tcp .* root\(0\)" \
	|| fail "vpnctl flows does not show the refused 8082 flow with its user"

log_step "3. a policy change stops a running ping within 1 s"
policy 'allow h2 -> h1\nallow h1 -> h2 proto tcp port 8081\nallow h1 -> h2 proto icmp'
bg_start "$MV_TMP/ping.log" in_cg "$cg1" h1 ping -D -n -i 0.2 -W 1 "$h2ip"
ping_pid=${MV_PIDS[-1]}
wait_for 10 "ping h1 -> h2 answered" grep -q 'bytes from' "$MV_TMP/ping.log"
mv_sleep 1
policy 'allow h2 -> h1\nallow h1 -> h2 proto tcp port 8081'
t_set=$EPOCHREALTIME
mv_sleep 3
kill "$ping_pid"
last=$(sed -n 's/^\[\([0-9.]*\)\] .*bytes from.*/\1/p' "$MV_TMP/ping.log" | tail -1)
echo "policy set returned at $t_set, last echo reply at $last"
python3 -c "import sys; sys.exit(0 if float('$last') <= float('$t_set') + $(mv_t 1) else 1)" \
	|| fail "ping still answered $(python3 -c "print(round($last - $t_set, 2))") s after the policy change"
python3 -c "import sys; sys.exit(0 if float('$last') >= float('$t_set') - 1 else 1)" \
	|| fail "ping had stopped before the policy change"

log_step "4. users: nobody may reach h2:8082, root in the same cgroup may not"
policy 'allow h2 -> h1\nallow h1 -> h2 user nobody group nogroup proto tcp port 8082'
body=$(in_cg "$cg1" h1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8082/") || { dump; fail "curl as nobody h1->h2:8082"; }
[ "$body" = flow-page ] || fail "body '$body'"
if in_cg "$cg1" h1 curl -sS --max-time "$(mv_t 4)" "http://$h2ip:8082/" >/dev/null 2>&1; then
	fail "root reached h2:8082, only nobody may"
fi
vpnctl_on h1 flows | grep -E "flow-allowed +$h2ip:8082 +tcp .* nobody\(65534\)" \
	|| fail "vpnctl flows does not show nobody's allowed flow"
vpnctl_on h1 flows | grep -E "flow-denied +$h2ip:8082 +tcp .* root\(0\)" \
	|| fail "vpnctl flows does not show root's refused flow"
grep -q '"event":"flow_allow","host":"h1","peer":"h2".*"user":"nobody(65534)"' "$MV_TMP/srv/audit.log" \
	|| fail "no flow_allow for nobody in the audit log"
grep -q '"event":"flow_deny","host":"h1","peer":"h2".*"user":"root(0)".*"reason":"policy: h1 (app [^ ]* user root(0)) may not reach h2 tcp/8082"' \
	"$MV_TMP/srv/audit.log" || fail "no flow_deny for root (with the user in the reason) in the audit log"
echo "PASS: flows decided per flow, direction and user; a policy change reaches running flows within 1 s"
