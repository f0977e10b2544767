#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Revocation reaches a host that was cut off from the server at the time:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv; stopped, h2 revoked, restarted)
#              ├─ h1  198.18.0.11  vpnd, curl ──▶ h2 (key h1<->h2)
#              └─ h2  198.18.0.12  vpnd, http server (revoked while the
#                                  server is down)
#
# Proves: h1 keeps its key with h2 while it has no channel (nobody can tell
# it), `authsrv client revoke h2` works with no server (registry only), and
# within a few seconds of h1 reconnecting to the restarted server h1 holds
# no key with h2 (the server sends KEY_REVOKE for every revoked host after
# HELLO), and h1 -> h2 traffic fails.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd curl

h2_keys() { vpnctl_on h1 --json peers | json_get 'len([p for p in d if p["name"]=="h2" and p["key_id"]])'; }
h1_offline() { ! host_connected h1; }
h1_no_h2_key() { [ "$(h2_keys)" = 0 ]; }

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
srv_pid=${MV_PIDS[-1]}
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve h2"
mkdir -p "$MV_TMP/www" && echo ok-page > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http-h2.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"

log_step "h1 and h2 share a key"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") || fail "curl h1->h2"
[ "$body" = ok-page ] || fail "curl h1->h2 body '$body'"
[ "$(h2_keys)" -ge 1 ] || fail "h1 has no key with h2"

log_step "stop the server, revoke h2 offline"
kill "$srv_pid"
wait_for 10 "h1 notices the server is gone" h1_offline \
	|| fail "h1 still connected after the server stopped"
out=$("$MV_BIN/authsrv" client revoke h2 --state "$MV_TMP/srv" 2>&1) || fail "offline revoke: $out"
echo "$out"
[ "$(h2_keys)" -ge 1 ] || fail "h1 lost its key with h2 before anyone told it"

log_step "restart the server: h1 is told at HELLO"
bg_start "$MV_TMP/authsrv2.log" $(nsx srv) "$MV_BIN/authsrv" serve \
	--state "$MV_TMP/srv" --listen "0.0.0.0:$MV_PORT_SRV"
wait_for 40 "h1 reconnected" host_connected h1 || fail "h1 did not reconnect"
t0=$(date +%s)
wait_for 5 "h1 drops its keys with h2" h1_no_h2_key \
	|| fail "h1 still holds a key with h2 $(( $(date +%s) - t0 ))s after reconnecting"
grep -q "peer revoked by the server name=h2" "$MV_TMP/vpnd-h1.log" || fail "h1 did not log the revocation"
grep -q "revoked hosts=1" "$MV_TMP/authsrv2.log" || fail "the server did not load the revoked host"
if vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 3)" "http://$h2ip:8080/" >/dev/null 2>&1; then
	fail "curl h1->h2 still works after the revocation"
fi
if host_connected h2; then fail "revoked h2 is connected again"; fi
echo "PASS: a host offline at a revocation drops its keys when it reconnects"
