#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Revocation after a server restart:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv: stopped and started again)
#              ├─ h1  198.18.0.11  vpnd ── ping ──┐ overlay, keys h1<->h2
#              └─ h2  198.18.0.12  vpnd ◀─────────┘   granted by the first server
#
# Proves: the restarted server knows nothing of the keys the first one
# granted, and still `client revoke h1` makes h2 drop its keys with h1
# within 1 s (KEY_REVOKE goes to every online host, not only the ones the
# in-memory key records name): h1's pings (10/s) get no reply from h2 later
# than 1 s after the revocation, and `vpnctl peers` on h2 lists no h1.
# A host authenticated but not yet past HELLO (h3, openssl s_client with its
# credential) gets ERROR "host h3 is revoked" at its revocation.
set -u
. "$(dirname "$0")/../lib/topo.sh"
need_cmd openssl
trap topo_down EXIT

peers_with() { # host name
	vpnctl_on "$1" --json peers | json_get "len([p for p in d if p['name']=='$2'])"
}

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
srv_pid=${MV_PIDS[-1]}
start_host h1 || fail "h1"
start_host h2 || fail "h2"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve h2"

log_step "keys h1<->h2 from the first server"
vpnctl_on h1 run -- ping -q -c 3 -i 0.2 -W "$(mv_t 2)" "$h2ip" >/dev/null || fail "ping h1->h2"
[ "$(peers_with h2 h1)" -ge 1 ] || fail "h2 holds no key with h1"

log_step "restart the server"
kill "$srv_pid"
wait "$srv_pid" 2>/dev/null
bg_start "$MV_TMP/authsrv2.log" $(nsx srv) "$MV_BIN/authsrv" serve \
	--state "$MV_TMP/srv" --listen "0.0.0.0:$MV_PORT_SRV"
back() { [ "$(grep -c 'host online' "$MV_TMP/authsrv2.log")" -ge 2 ]; }
wait_for 40 "h1 and h2 back online" back || fail "hosts did not reconnect"
[ "$(peers_with h2 h1)" -ge 1 ] || fail "h2 lost its key with h1 over the restart"
bg_start "$MV_TMP/ping.log" $(nsx h1) "$MV_BIN/vpnctl" --sock "$MV_TMP/h1.sock" run -- \
	ping -D -i 0.1 -W "$(mv_t 1)" "$h2ip"
wait_for 1 "a reply after the restart" grep -q "bytes from" "$MV_TMP/ping.log" ||
	fail "no traffic h1->h2 after the restart"

log_step "revoke h1 on the restarted server"
t0=$(date +%s.%N)
out=$("$MV_BIN/authsrv" client revoke h1 --state "$MV_TMP/srv") || fail "revoke: $out"
echo "$out"
# Each reply carries its time (ping -D): the last one must come within 1 s
# of the command's start, which includes starting `authsrv client revoke`:
# 1 s x MV_TIME_SCALE (as test_authsrv_revoke.sh).
mv_sleep 2
last=$(grep "bytes from" "$MV_TMP/ping.log" | tail -n 1 | sed 's/^\[\([0-9.]*\)\].*/\1/')
[ -n "$last" ] || fail "no ping reply recorded"
dt=$(python3 -c "print(round($last - $t0, 3))")
echo "last reply from h2 ${dt}s after the revocation"
python3 -c "import sys; sys.exit(0 if $dt <= $MV_TIME_SCALE else 1)" ||
	fail "h1 reached h2 ${dt}s after the revocation (> $MV_TIME_SCALE s)"
[ "$(peers_with h2 h1)" = 0 ] || fail "h2 still holds keys with h1"
grep -q "peer revoked by the server name=h1" "$MV_TMP/vpnd-h2.log" || fail "h2 did not log the revocation"
grep -q "host revoked host=h1 online=yes peers_notified=1" "$MV_TMP/authsrv2.log" \
	|| fail "server did not tell h2"

log_step "a host revoked between authentication and HELLO is refused"
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
tok=$("$MV_BIN/authsrv" token create h3 --state "$MV_TMP/srv") || fail "token h3"
in_ns h2 "$MV_BIN/vpnd" enroll --state "$MV_TMP/h3" --server "$MV_SUBNET.1:$MV_PORT_SRV" \
	--token "$tok" >/dev/null || fail "enroll h3"
# h3's real credential, TLS done, no HELLO yet; revoked once authenticated.
(mv_sleep 4) | in_ns h2 timeout "$(mv_t 10)" openssl s_client -quiet -connect "$MV_SUBNET.1:$MV_PORT_SRV" \
	-alpn mavpn/2 -cert "$MV_TMP/h3/host.pem" -key "$MV_TMP/h3/host.key" \
	-CAfile "$MV_TMP/srv/ca.pem" > "$MV_TMP/prehello.out" 2>&1 &
sc=$!
wait_for 1.5 "h3 authenticated" grep -q 'authenticated addr=198.18.0.12:[0-9]* host=h3' "$MV_TMP/authsrv2.log" ||
	fail "h3 did not authenticate"
"$MV_BIN/authsrv" client revoke h3 --state "$MV_TMP/srv" >/dev/null || fail "revoke h3"
wait_for 1 "h3's session closed" grep -aq "host h3 is revoked" "$MV_TMP/prehello.out" ||
	fail "h3's session (before HELLO) not closed at the revocation"
wait "$sc" 2>/dev/null
grep -q "host online host=h3" "$MV_TMP/authsrv2.log" && fail "revoked h3 came online"
echo "PASS: a revocation after a server restart reaches the peers within 1 s; a revoked host is refused before HELLO"
