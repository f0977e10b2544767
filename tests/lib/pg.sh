# SPDX-License-Identifier: GPL-2.0-only
# A throw-away PostgreSQL 15 cluster for one test (sourced after topo.sh).
#
#   pg_up        initdb + pg_ctl start as the unprivileged "postgres" user,
#                listening on a unix socket in its own temp directory only
#                (no TCP port); sets MV_PG_URL (database "mavpn", trust
#                auth for the local socket) and MV_PG_DIR
#   pg_psql SQL  run SQL in that database, tuples only, unaligned
#   pg_stop      stop it (pg_restart_db: stop and start on the same data)
#   pg_down      stop it and remove its directory (call from the EXIT trap)
#
# Debian's postgresql-15 (packaging/deps.tsv); its programs are not in PATH.

MV_PG_BIN=${MV_PG_BIN:-/usr/lib/postgresql/15/bin}
MV_PG_DIR=
MV_PG_URL=

pg_need() {
	[ -x "$MV_PG_BIN/initdb" ] && [ -x "$MV_PG_BIN/pg_ctl" ] && [ -x "$MV_PG_BIN/psql" ] ||
		mv_skip "PostgreSQL 15 not found in $MV_PG_BIN (Debian package postgresql-15): run \`make deps\`"
	id -u postgres >/dev/null 2>&1 ||
		mv_skip "no \"postgres\" user (created by Debian's postgresql-15): run \`make deps\`"
	need_cmd setpriv
}

# As the postgres user (initdb and the server refuse to run as root).
pg_as() { setpriv --reuid postgres --regid postgres --clear-groups "$@"; }

pg_up() {
	pg_need
	MV_PG_DIR=$(mktemp -d "/tmp/mavpn-pg.$MV_ID.XXXXXX") || return 1
	chown postgres: "$MV_PG_DIR"
	pg_as "$MV_PG_BIN/initdb" -D "$MV_PG_DIR/data" -U mavpn --auth=trust \
		--no-sync -E UTF8 >"$MV_PG_DIR/initdb.log" 2>&1 || {
		cat "$MV_PG_DIR/initdb.log" >&2; return 1; }
	pg_start_db || return 1
	pg_as "$MV_PG_BIN/createdb" -h "$MV_PG_DIR" -U mavpn mavpn || return 1
	MV_PG_URL="postgresql:///mavpn?host=$MV_PG_DIR&user=mavpn"
}

pg_start_db() {
	pg_as "$MV_PG_BIN/pg_ctl" -D "$MV_PG_DIR/data" -l "$MV_PG_DIR/server.log" -w \
		-t "$(mv_t 30 | cut -d. -f1)" \
		-o "-c listen_addresses= -c unix_socket_directories=$MV_PG_DIR -c fsync=off" \
		start >/dev/null || { tail -n 20 "$MV_PG_DIR/server.log" >&2; return 1; }
}

pg_stop() {
	[ -n "$MV_PG_DIR" ] && [ -d "$MV_PG_DIR/data" ] || return 0
	pg_as "$MV_PG_BIN/pg_ctl" -D "$MV_PG_DIR/data" -m fast -w stop >/dev/null 2>&1
}

pg_psql() { # SQL
	"$MV_PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 -h "$MV_PG_DIR" -U mavpn -d mavpn -c "$1"
}

pg_down() {
	[ -n "$MV_PG_DIR" ] || return 0
	pg_stop || pg_as "$MV_PG_BIN/pg_ctl" -D "$MV_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$MV_PG_DIR"
	MV_PG_DIR=
}
