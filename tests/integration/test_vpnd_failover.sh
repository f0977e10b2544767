#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# vpnd fails over between replicas (vpnd enroll --server A:P,B:P):
#
#   PostgreSQL 15 (throw-away cluster) ◀── authsrv A :7443 (kill -9) ─┐ ns srv
#                                      ◀── authsrv B :7444 ───────────┘
#   ns h1 vpnd ── ping every 0.1 s, keys live 6 s ──▶ ns h2 vpnd
#
# Proves: the list is stored and both hosts start on A; when A dies, both
# are connected to B within 10 s; the pings between them do not stop (0
# lost: installed keys stay valid); the keys are renewed through B (more
# than one key id seen, the last one granted after A died); status names
# B as the server.
set -u
. "$(dirname "$0")/../lib/topo.sh"
. "$(dirname "$0")/../lib/pg.sh"
trap 'pg_down; topo_down' EXIT
need_cmd ping cp

pg_up || fail "PostgreSQL did not start"
topo_up || fail "topology"
"$MV_BIN/authsrv" init --state "$MV_TMP/srv" --db "$MV_PG_URL" >"$MV_TMP/init.log" 2>&1 ||
	fail "init --db: $(cat "$MV_TMP/init.log")"
cp -a "$MV_TMP/srv" "$MV_TMP/srv2"
A=$MV_SUBNET.1:$MV_PORT_SRV B=$MV_SUBNET.1:7444

serve() { # dir port log
	bg_start "$MV_TMP/$3" $(nsx srv) "$MV_BIN/authsrv" serve --state "$MV_TMP/$1" \
		--listen "0.0.0.0:$2" --key-lifetime 6
	wait_for 10 "authsrv :$2 listening" in_ns srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$2"
}
serve srv "$MV_PORT_SRV" authsrv-a.log || fail "A did not start"
a_pid=${MV_PIDS[-1]}
serve srv2 7444 authsrv-b.log || fail "B did not start"

for h in h1 h2; do
	tok=$("$MV_BIN/authsrv" token create "$h" --state "$MV_TMP/srv") || fail "token $h"
	printf '%s\n' "$tok" | in_ns "$h" "$MV_BIN/vpnd" enroll --state "$MV_TMP/$h" \
		--server "$A,$B" --token-file - >/dev/null || fail "enroll $h"
	grep -qx "server=$A,$B" "$MV_TMP/$h/host.conf" || fail "$h: the server list was not stored"
	run_host "$h" || fail "$h did not connect"
done
server_of() { vpnctl_on "$1" --json status | json_get 'd["server"]["address"]'; }
[ "$(server_of h1)" = "$A" ] && [ "$(server_of h2)" = "$A" ] || fail "the hosts did not start on A"

log_step "pings h1 -> h2, then kill -9 A"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve"
bg_start "$MV_TMP/ping.log" $(nsx h1) "$MV_BIN/vpnctl" --sock "$MV_TMP/h1.sock" run -- \
	ping -q -c 150 -i 0.1 -W "$(mv_t 2)" "$h2ip"
ping_pid=${MV_PIDS[-1]}
key_of_h1() { vpnctl_on h1 --json peers | json_get '[p["key_id"] for p in d if p["name"]=="h2"][0]'; }
wait_for 10 "h1 has a key for h2" key_of_h1 || fail "no key before the kill"
kill -9 "$a_pid"
t0=${EPOCHREALTIME/./}
# timed on vpnd's own log lines (a grep per try: a JSON status parsed per
# try costs seconds on a loaded machine); the status is checked after
on_b() { grep -q "chan: connected server=$B" "$MV_TMP/vpnd-h1.log" &&
	 grep -q "chan: connected server=$B" "$MV_TMP/vpnd-h2.log"; }
wait_for 10 "both hosts connected to B" on_b || fail "the hosts did not fail over to B within 10 s"
dt=$((${EPOCHREALTIME/./} - t0))
printf 'both hosts on B %d.%03ds after A died\n' $((dt / 1000000)) $((dt % 1000000 / 1000))
# the product's promise is 10 s (the wait above is scaled for slow machines)
[ "$dt" -le $((10000000 * MV_TIME_SCALE)) ] || fail "failover took longer than 10 s"
[ "$(server_of h1)" = "$B" ] && [ "$(server_of h2)" = "$B" ] && host_connected h1 &&
	host_connected h2 || fail "status does not show both hosts connected to B"

log_step "the pings go on; keys are renewed through B"
wait "$ping_pid" 2>/dev/null
tail -n 2 "$MV_TMP/ping.log"
grep -q "150 packets transmitted, 150 received" "$MV_TMP/ping.log" || fail "pings lost across the failover"
n=$(awk -v b="chan: connected server=$B" 'index($0, b) { on = 1 } on && /key: installed/ { n++ } END { print n + 0 }' \
	"$MV_TMP/vpnd-h1.log")
echo "keys installed on h1 after it moved to B: $n"
[ "$n" -ge 1 ] || fail "no key renewed after A died"
grep -q "key_grant" "$MV_TMP/srv2/audit.log" || fail "B granted no key"
echo "PASS: failover to the second replica within 10 s, no ping lost, keys renewed through it"
