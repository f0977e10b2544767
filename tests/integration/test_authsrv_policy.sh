#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Access policy, decided by the server per key request:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv)
#              ├─ h1  198.18.0.11  vpnd  tag client ── curl ──▶ h2:8080  allowed
#              ├─ h2  198.18.0.12  vpnd  tag web    ◀── http server :8080
#              └─ h3  198.18.0.13  vpnd  tag other  ── curl ──▶ h2:8080  refused,
#                                                                then allowed
# Policy (allow rules, default deny once set):
#   allow tag:client -> tag:web app */mavpn-run.* proto tcp port 8080
#
# Proves: a bad file is refused with its line; `policy set` reaches the
# running server; h1 (tag, app, port match) gets a key; h3's flow gets a
# FLOW_VERDICT deny with the reason "policy: h3 (app ... user root(0)) may
# not reach h2 tcp/8080", which its vpnd logs and counts; a reloaded policy
# lets h3 in; the audit log has the refusal (with the user) and both
# policy changes. (Per-flow and per-direction checks: test_flow_policy.sh.)
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd curl


# start_host with --tag: enroll with a tagged token, run vpnd.
start_tagged() { # name tag
	local h=$1 tok
	tok=$("$MV_BIN/authsrv" token create "$h" --tag "$2" --state "$MV_TMP/srv") || return 1
	in_ns "$h" "$MV_BIN/vpnd" enroll --state "$MV_TMP/$h" \
		--server "$MV_SUBNET.1:$MV_PORT_SRV" --token "$tok" || return 1
	bg_start "$MV_TMP/vpnd-$h.log" $(nsx "$h") "$MV_BIN/vpnd" run --state "$MV_TMP/$h" \
		--iface eth0 --sock "$MV_TMP/$h.sock"
	wait_for 15 "vpnd on $h connected" host_connected "$h"
}
denied() { vpnctl_on "$1" --json status | json_get 'd["keys"]["flows_denied"]'; }

topo_up || fail "topology"
topo_add_host h3 13 || fail "topology h3"
start_authsrv || fail "authsrv did not start"
start_tagged h1 client || fail "h1"
start_tagged h2 web || fail "h2"
start_tagged h3 other || fail "h3"

log_step "a bad policy is refused with its line number"
printf 'allow tag:client -> tag:web\nallow h1 => h2\n' > "$MV_TMP/bad.policy"
out=$("$MV_BIN/authsrv" policy set "$MV_TMP/bad.policy" --state "$MV_TMP/srv" 2>&1) \
	&& fail "bad policy accepted"
echo "$out"
echo "$out" | grep -q "line 2" || fail "error does not name line 2: $out"

log_step "set the policy on the running server"
cat > "$MV_TMP/web.policy" <<'POL'
# clients may reach the web tier, from `vpnctl run` cgroups, on tcp/8080 only
allow tag:client -> tag:web app */mavpn-run.* proto tcp port 8080
POL
out=$("$MV_BIN/authsrv" policy set "$MV_TMP/web.policy" --state "$MV_TMP/srv") || fail "policy set: $out"
echo "$out"
echo "$out" | grep -q "policy loaded: 1 rule" || fail "server did not load it: $out"

h1ip=$(vpnctl_on h1 --json status | json_get 'd["self"]["overlay_ip"]')
h2ip=$(vpnctl_on h2 --json status | json_get 'd["self"]["overlay_ip"]')
mkdir -p "$MV_TMP/www" && echo policy-page > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http-h2.log" $(nsx h2) python3 -m http.server --bind "$h2ip" --directory "$MV_TMP/www" 8080
bg_start "$MV_TMP/http-h1.log" $(nsx h1) python3 -m http.server --bind "$h1ip" --directory "$MV_TMP/www" 8080
wait_for 10 "http on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"
wait_for 10 "http on h1" in_ns h1 bash -c "exec 3<>/dev/tcp/$h1ip/8080"

log_step "h1 (client) -> h2 (web) tcp/8080: allowed"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") || fail "curl h1->h2"
[ "$body" = policy-page ] || fail "body '$body'"

log_step "h3 (other) -> h2: refused with a reason"
d0=$(denied h3)
if vpnctl_on h3 run -- curl -sS --max-time "$(mv_t 3)" "http://$h2ip:8080/" >/dev/null 2>&1; then
	fail "curl h3->h2 works although the policy refuses it"
fi
d1=$(denied h3)
[ "$d1" -gt "$d0" ] || fail "h3 did not count the refusal (keys.denied $d0 -> $d1)"
grep -E 'flow: denied .*reason="policy: h3 \(app /[^)]*mavpn-run[^)]* user root\(0\)\) may not reach h2 tcp/8080"' \
	"$MV_TMP/vpnd-h3.log" || fail "h3 did not log the policy reason"
grep -q '"event":"flow_deny","host":"h3","peer":"h2".*"user":"root(0)".*"reason":"policy: h3' "$MV_TMP/srv/audit.log" \
	|| fail "no flow_deny with the user in the audit log"

log_step "reload: allow h3 -> h2 tcp/8080"
printf 'allow tag:client -> tag:web app */mavpn-run.* proto tcp port 8080\nallow h3 -> h2 proto tcp port 8000-8100\n' \
	> "$MV_TMP/web2.policy"
"$MV_BIN/authsrv" policy set "$MV_TMP/web2.policy" --state "$MV_TMP/srv" || fail "policy set 2"
# the reload flushed the cached deny on every host: no hold-down to wait
body=$(vpnctl_on h3 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") || fail "curl h3->h2 after reload"
[ "$body" = policy-page ] || fail "body '$body'"
grep -c '"event":"policy_set"' "$MV_TMP/srv/audit.log" | grep -qx 2 || fail "policy_set events in the audit log"
echo "PASS: policy decides key requests, reasons reach vpnd"
