#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The registry in PostgreSQL (authsrv init --db postgresql://...):
#
#   PostgreSQL 15, throw-away cluster on a unix socket in a temp dir
#        ▲ libpq                     ▲ libpq
#   ns srv 198.18.0.1: authsrv :7443 (DIR srv)   authsrv :7444 (DIR srv2 = copy)
#   ns h1  198.18.0.11 vpnd ── ping ──▶ ns h2 198.18.0.12 vpnd
#
# Proves: the registry driver's cases pass on PostgreSQL (tests/unit/
# test_registry.c: migrations, tokens, races, hosts, policy, replicas); init --db
# keeps no SQLite file and refuses a database that already has a registry;
# hosts enroll and talk through a server on PostgreSQL; one token raced
# by two servers on one database enrolls exactly one host (three rounds);
# revoke, policy set (through the copy's DIR) and token create land in the
# database; the database restarted under a running server: the server
# reconnects and answers; kill -9 and restart of the server: hosts
# reconnect, the revocation stands; the schema holds no key
# material (its columns are exactly the known ones).
set -u
. "$(dirname "$0")/../lib/topo.sh"
. "$(dirname "$0")/../lib/pg.sh"
trap 'pg_down; topo_down' EXIT
need_cmd ping cp

log_step "throw-away PostgreSQL 15"
pg_up || fail "PostgreSQL did not start"

log_step "the registry driver on PostgreSQL"
MAVPN_TEST_PG_URL=$MV_PG_URL "$MV_ROOT/build/tests/test_registry" >"$MV_TMP/unit.out" 2>&1 ||
	fail "test_registry on PostgreSQL: $(grep -E 'FAILED|Error|error' "$MV_TMP/unit.out" | head -5)"
grep -q '^\[  PASSED  \] 7 test' "$MV_TMP/unit.out" || fail "test_registry did not pass its 7 cases"
pg_psql "DROP TABLE schema_version, meta, hosts, tokens, policy, revoked_certs, replicas, online" || fail "reset"

log_step "init --db"
topo_up || fail "topology"
"$MV_BIN/authsrv" init --state "$MV_TMP/srv" --db "$MV_PG_URL" >"$MV_TMP/init.log" 2>&1 ||
	fail "init --db: $(cat "$MV_TMP/init.log")"
[ ! -e "$MV_TMP/srv/registry.db" ] || fail "init --db made a SQLite file"
[ "$(stat -c %a "$MV_TMP/srv/registry.url")" = 600 ] || fail "registry.url is not 0600"
[ "$(pg_psql "SELECT version FROM schema_version")" = 4 ] || fail "schema version"
if "$MV_BIN/authsrv" init --state "$MV_TMP/other" --db "$MV_PG_URL" 2>"$MV_TMP/init2.err"; then
	fail "a second init on the same database succeeded"
fi
grep -q "already holds a registry" "$MV_TMP/init2.err" || fail "second init: $(cat "$MV_TMP/init2.err")"
[ "$(wc -l < "$MV_TMP/init2.err")" = 1 ] || fail "second init: not one line on stderr"
[ ! -e "$MV_TMP/other" ] || fail "the refused init left a state directory"
cp -a "$MV_TMP/srv" "$MV_TMP/srv2"

serve() { # dir port log
	bg_start "$MV_TMP/$3" $(nsx srv) "$MV_BIN/authsrv" serve --state "$MV_TMP/$1" \
		--listen "0.0.0.0:$2"
	wait_for 10 "authsrv :$2 listening" in_ns srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$2"
}
serve srv "$MV_PORT_SRV" authsrv.log || fail "server 1 did not start"
srv_pid=${MV_PIDS[-1]}
serve srv2 7444 authsrv-2.log || fail "server 2 did not start"

log_step "hosts enroll and talk"
start_host h1 || fail "h1"
start_host h2 || fail "h2"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve h2"
vpnctl_on h1 run -- ping -c 3 -i 0.2 -W "$(mv_t 2)" "$h2ip" >"$MV_TMP/ping1.out" 2>&1 ||
	fail "ping h1->h2 over the overlay"
[ "$(pg_psql "SELECT string_agg(name, ',' ORDER BY name) FROM hosts")" = "h1,h2" ] ||
	fail "hosts in PostgreSQL: $(pg_psql 'SELECT name FROM hosts')"

log_step "one token, two servers racing: one wins"
for round in 1 2 3; do
	tok=$("$MV_BIN/authsrv" token create "race$round" --state "$MV_TMP/srv2") || fail "token"
	# who starts first alternates: either server may win
	enroll_a() { in_ns h1 "$MV_BIN/vpnd" enroll --state "$MV_TMP/ra$round" --token "$tok" \
		--server "$MV_SUBNET.1:$MV_PORT_SRV" >"$MV_TMP/race-a$round.out" 2>&1; }
	enroll_b() { in_ns h2 "$MV_BIN/vpnd" enroll --state "$MV_TMP/rb$round" --token "$tok" \
		--server "$MV_SUBNET.1:7444" >"$MV_TMP/race-b$round.out" 2>&1; }
	if [ $((round % 2)) = 1 ]; then
		enroll_a & pa=$!; enroll_b & pb=$!
	else
		enroll_b & pb=$!; enroll_a & pa=$!
	fi
	wait $pa; ra=$?
	wait $pb; rb=$?
	echo "round $round: server 1 exit $ra, server 2 exit $rb"
	[ $((ra == 0)) -ne $((rb == 0)) ] || fail "round $round: exits $ra and $rb (want exactly one 0): $(cat "$MV_TMP"/race-?"$round".out)"
	grep -qi "token" "$MV_TMP"/race-?"$round".out || fail "round $round: the loser does not say why"
	[ "$(pg_psql "SELECT count(*) FROM hosts WHERE name = 'race$round'")" = 1 ] || fail "round $round: hosts"
	[ "$(pg_psql "SELECT used AND used_at IS NOT NULL FROM tokens WHERE name = 'race$round'")" = t ] ||
		fail "round $round: token not marked used"
done

log_step "revoke and policy through the database"
"$MV_BIN/authsrv" client revoke race1 --state "$MV_TMP/srv" >/dev/null || fail "revoke race1"
[ "$(pg_psql "SELECT revoked FROM hosts WHERE name = 'race1'")" = t ] || fail "revoked flag"
[ "$(pg_psql "SELECT count(*) FROM revoked_certs WHERE name = 'race1'")" = 1 ] || fail "revoked serial"
printf 'allow * -> *\n' > "$MV_TMP/all.policy"
"$MV_BIN/authsrv" policy set "$MV_TMP/all.policy" --state "$MV_TMP/srv2" >/dev/null || fail "policy set"
[ "$(pg_psql 'SELECT text FROM policy')" = "allow * -> *" ] || fail "policy not in the database"
"$MV_BIN/authsrv" client list --state "$MV_TMP/srv2" --json > "$MV_TMP/list.json" || fail "client list"
python3 - "$MV_TMP/list.json" <<'PY' || fail "client list through the copy"
import json, sys
d = {h["name"]: h for h in json.load(open(sys.argv[1]))}
assert set(d) == {"h1", "h2", "race1", "race2", "race3"}, d.keys()
assert d["race1"]["revoked"] is True and d["h1"]["revoked"] is False, d
PY

log_step "the database restarted under the servers"
pg_stop || fail "pg stop"
pg_start_db || fail "pg start"
wait_for 10 "h1 resolves h2 after the database restart" vpnctl_on h1 resolve h2 ||
	fail "the server did not come back to the database"
vpnctl_on h1 run -- ping -c 2 -i 0.2 -W "$(mv_t 2)" "$h2ip" >/dev/null 2>&1 ||
	fail "ping after the database restart"
grep -q "registry: connection lost, reconnecting" "$MV_TMP/authsrv.log" "$MV_TMP/authsrv-2.log" ||
	fail "no reconnect logged"

log_step "kill -9 server 1, restart it on the same database"
kill -9 "$srv_pid"
serve srv "$MV_PORT_SRV" authsrv-3.log || fail "server 1 did not restart"
wait_for 40 "h1 reconnected" host_connected h1 || fail "h1 did not reconnect"
wait_for 40 "h2 reconnected" host_connected h2 || fail "h2 did not reconnect"
grep -q "policy loaded rules=1" "$MV_TMP/authsrv-3.log" || fail "the policy from the database was not loaded"
"$MV_BIN/authsrv" client list --state "$MV_TMP/srv" --json | \
	json_get '[h["revoked"] for h in d if h["name"]=="race1"][0]' | grep -qx True ||
	fail "race1 is not revoked after the restart"

log_step "no key material in the schema"
cols=$(pg_psql "SELECT string_agg(table_name || '.' || column_name, ' ' ORDER BY table_name, column_name)
	FROM information_schema.columns WHERE table_schema = 'public'")
want="hosts.cert_serial hosts.enrolled_at hosts.name hosts.overlay_ip hosts.revoked hosts.routes hosts.tags meta.id meta.next_ip meta.overlay online.name online.replica online.since policy.id policy.set_at policy.text replicas.addr replicas.id replicas.seen_at revoked_certs.name revoked_certs.revoked_at revoked_certs.serial schema_version.version tokens.expires_at tokens.hash tokens.id tokens.name tokens.routes tokens.tags tokens.used tokens.used_at"
[ "$cols" = "$want" ] || fail "schema columns changed: $cols"
echo "PASS: registry in PostgreSQL: enroll, single-use tokens across two servers, revoke, policy, database and server restarts"
