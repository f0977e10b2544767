// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv registry, both backends through the one interface (registry.h):
 * create/refuse to overwrite, schema version and forward migrations (from
 * an unversioned release-0 SQLite file and from a version-1 database; a
 * newer schema refused), tokens (secret, single use, expiry, unknown, and
 * two connections racing on one token: one wins), address allocation,
 * hosts (duplicates), revocation with the certificate serial, the policy,
 * replicas (notifications between connections, the online table).
 *
 * SQLite in a temp directory always; PostgreSQL when MAVPN_TEST_PG_URL
 * names a database (tests/integration/test_authsrv_pg.sh runs this driver
 * against a throw-away PostgreSQL 15 cluster). Each case starts from an
 * empty database.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "../../authsrv/registry.h"

static const char *pg_url;	/* NULL: SQLite */
static char where[512];		/* the registry of the current case */
static char tmpdir[64];

/* Raw SQL on the current database, outside the interface. */
static void raw(const char *sql)
{
	if (pg_url) {
		PGconn *c = PQconnectdb(pg_url);
		PGresult *res;

		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PQclear(PQexec(c, "SET client_min_messages = warning"));
		res = PQexec(c, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
	} else {
		sqlite3 *db;
		char *err = NULL;

		assert_int_equal(sqlite3_open(where, &db), SQLITE_OK);
		if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
			fail_msg("%s: %s", sql, err);
		sqlite3_close(db);
	}
}

static int setup(void **state)
{
	(void)state;
	if (pg_url) {
		snprintf(where, sizeof(where), "%s", pg_url);
		raw("DROP TABLE IF EXISTS schema_version, meta, hosts, tokens, "
		    "policy, revoked_certs, replicas, online CASCADE");
	} else {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/mavpn-test-registry.XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
		snprintf(where, sizeof(where), "%s/registry.db", tmpdir);
	}
	return 0;
}

static int teardown(void **state)
{
	char path[600];

	(void)state;
	if (!pg_url) {
		unlink(where);
		snprintf(path, sizeof(path), "%s-wal", where);
		unlink(path);
		snprintf(path, sizeof(path), "%s-shm", where);
		unlink(path);
		rmdir(tmpdir);
	}
	return 0;
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct registry *fresh(void)
{
	struct registry *r;

	assert_int_equal(registry_create(where, ip("100.80.0.0"), 29), 0);
	r = registry_open(where);
	assert_non_null(r);
	return r;
}

static void test_create(void **state)
{
	struct registry *r = fresh();
	uint32_t net;
	uint8_t plen;

	(void)state;
	assert_int_equal(registry_schema_version(r), REGISTRY_SCHEMA_VERSION);
	assert_int_equal(registry_overlay(r, &net, &plen), 0);
	assert_int_equal(net, ip("100.80.0.0"));
	assert_int_equal(plen, 29);
	registry_close(r);
	/* never overwritten */
	assert_int_equal(registry_create(where, ip("10.0.0.0"), 8), -EEXIST);
	r = registry_open(where);
	assert_int_equal(registry_overlay(r, &net, &plen), 0);
	assert_int_equal(plen, 29);
	registry_close(r);
}

static const uint8_t hash_a[32] = { 1, 2, 3 };
static const uint8_t hash_b[32] = { 1, 2, 4 };

static int take(struct registry *r, const char *id, const uint8_t *h,
		int64_t now, const char **why)
{
	struct reg_token t;
	int ret;

	*why = NULL;
	assert_int_equal(registry_begin(r), 0);
	ret = registry_token_take(r, id, h, now, &t, why);
	if (ret) {
		registry_rollback(r);
		return ret;
	}
	assert_string_equal(t.name, "h1");
	assert_string_equal(t.tags, "web,db");
	return registry_commit(r);
}

static void test_tokens(void **state)
{
	struct registry *r = fresh();
	const char *why;

	(void)state;
	assert_int_equal(registry_token_add(r, "aaaa", hash_a, "h1", 1000,
					    "web,db", ""), 0);
	assert_int_equal(registry_token_add(r, "bbbb", hash_a, "h1", 10,
					    "web,db", ""), 0);
	assert_int_equal(take(r, "aaaa", hash_b, 5, &why), -EACCES);
	assert_string_equal(why, "token secret does not match");
	/* the failed try left it unused */
	assert_int_equal(take(r, "aaaa", hash_a, 5, &why), 0);
	assert_int_equal(take(r, "aaaa", hash_a, 5, &why), -EACCES);
	assert_string_equal(why, "token already used");
	assert_int_equal(take(r, "cccc", hash_a, 5, &why), -EACCES);
	assert_string_equal(why, "unknown token id");
	assert_int_equal(take(r, "bbbb", hash_a, 10, &why), -EACCES);
	assert_string_equal(why, "token expired");
	assert_int_equal(take(r, "bbbb", hash_a, 9, &why), 0);
	registry_close(r);
}

struct racer {
	struct registry *r;
	int ret;
	const char *why;
};

static void *race_take(void *arg)
{
	struct racer *x = arg;

	x->ret = take(x->r, "race", hash_a, 5, &x->why);
	return NULL;
}

/*
 * Two connections (two servers) on one token: the first takes it in an
 * open transaction; the second, started meanwhile, must wait for the
 * commit and then lose.
 */
static void test_token_race(void **state)
{
	struct registry *r1 = fresh(), *r2 = registry_open(where);
	struct racer x = { .r = r2 };
	struct reg_token t;
	const char *why;
	pthread_t th;

	(void)state;
	assert_non_null(r2);
	assert_int_equal(registry_token_add(r1, "race", hash_a, "h1", 1000,
					    "web,db", ""), 0);
	assert_int_equal(registry_begin(r1), 0);
	assert_int_equal(registry_token_take(r1, "race", hash_a, 5, &t, &why), 0);
	assert_int_equal(pthread_create(&th, NULL, race_take, &x), 0);
	usleep(300 * 1000);
	assert_int_equal(registry_commit(r1), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(x.ret, -EACCES);
	assert_string_equal(x.why, "token already used");
	registry_close(r1);
	registry_close(r2);
}

static int count_host(const struct reg_host *h, void *arg)
{
	char *names = arg;

	strcat(names, h->name);
	strcat(names, h->revoked ? "! " : " ");
	return 0;
}

static void test_hosts(void **state)
{
	struct registry *r = fresh();
	struct reg_host h = {}, g;
	char names[256] = "";
	uint32_t a;
	int i;

	(void)state;
	/* a /29: .2 .. .6 (network, .1 = server, broadcast left out) */
	for (i = 0; i < 5; i++) {
		assert_int_equal(registry_begin(r), 0);
		assert_int_equal(registry_alloc_ip(r, &a), 0);
		snprintf(h.name, sizeof(h.name), "h%d", 5 - i);
		snprintf(h.cert_serial, sizeof(h.cert_serial), "0%d", i);
		h.overlay_ip = a;
		h.enrolled_at = 100 + i;
		assert_int_equal(registry_host_add(r, &h), 0);
		assert_int_equal(registry_commit(r), 0);
	}
	assert_int_equal(registry_host_by_name(r, "h5", &g), 0);
	assert_int_equal(g.overlay_ip, ip("100.80.0.2"));
	assert_int_equal(registry_host_by_ip(r, ip("100.80.0.6"), &g), 0);
	assert_string_equal(g.name, "h1");
	assert_int_equal(g.enrolled_at, 104);
	assert_false(g.revoked);
	assert_int_equal(registry_host_by_name(r, "nope", &g), -ENOENT);
	assert_int_equal(registry_begin(r), 0);
	assert_int_equal(registry_alloc_ip(r, &a), -ENOSPC);
	registry_rollback(r);
	/* duplicate name */
	h.overlay_ip = ip("100.80.0.7");
	snprintf(h.name, sizeof(h.name), "h1");
	assert_int_equal(registry_host_add(r, &h), -EEXIST);

	assert_int_equal(registry_serial_revoked(r, "03"), 0);
	assert_int_equal(registry_revoke(r, "h2", 200, &g), 0);
	assert_false(g.revoked);	/* as it was */
	assert_string_equal(g.cert_serial, "03");
	assert_int_equal(registry_serial_revoked(r, "03"), 1);
	assert_int_equal(registry_revoke(r, "h2", 201, &g), 0);
	assert_true(g.revoked);
	assert_int_equal(registry_revoke(r, "nope", 200, &g), -ENOENT);
	assert_int_equal(registry_host_foreach(r, count_host, names), 0);
	assert_string_equal(names, "h1 h2! h3 h4 h5 ");
	registry_close(r);
}

static void test_policy(void **state)
{
	struct registry *r = fresh();
	char *text;

	(void)state;
	assert_int_equal(registry_policy_get(r, &text), -ENOENT);
	assert_int_equal(registry_policy_set(r, "allow * -> *\n", 1), 0);
	assert_int_equal(registry_policy_get(r, &text), 0);
	assert_string_equal(text, "allow * -> *\n");
	free(text);
	assert_int_equal(registry_policy_set(r, "deny * -> *\n", 2), 0);
	assert_int_equal(registry_policy_get(r, &text), 0);
	assert_string_equal(text, "deny * -> *\n");
	free(text);
	registry_close(r);
}

struct notes {
	char got[8][64];
	int n;
};

static void note(void *arg, const char *payload)
{
	struct notes *x = arg;

	if (x->n < 8)
		snprintf(x->got[x->n++], sizeof(x->got[0]), "%s", payload);
}

/* Wait up to 5 s for @want notifications on @r. */
static void wait_notes(struct registry *r, struct notes *x, int want)
{
	struct pollfd pfd = { .fd = registry_fd(r), .events = POLLIN };
	int i;

	for (i = 0; i < 50 && x->n < want; i++) {
		assert_true(registry_notifications(r, note, x) >= 0);
		if (x->n < want)
			poll(&pfd, 1, 100);
	}
}

static int online_cb(const char *name, const char *replica, void *arg)
{
	char *out = arg;

	strcat(out, name);
	strcat(out, "@");
	strcat(out, replica);
	strcat(out, " ");
	return 0;
}

/*
 * Replicas share a PostgreSQL registry only: a revocation and a policy
 * change made through one connection are notified to another that
 * listens; the online table keeps what each replica holds, and a replica
 * not seen since the cut-off counts as offline.
 */
static void test_replicas(void **state)
{
	struct registry *r1 = fresh(), *r2 = registry_open(where);
	struct reg_host h = { .cert_serial = "01" }, g;
	const char *a[] = { "h1", "h2" }, *b[] = { "h3" };
	const int64_t since[] = { 5, 6 };
	struct notes x = {};
	char out[256] = "";

	(void)state;
	assert_non_null(r2);
	if (!pg_url) {
		assert_false(registry_shared(r1));
		assert_int_equal(registry_listen(r1), -EOPNOTSUPP);
		assert_int_equal(registry_online_sync(r1, "r", a, since, 2),
				 -EOPNOTSUPP);
		goto out;
	}
	assert_true(registry_shared(r1));
	assert_int_equal(registry_listen(r1), 0);
	assert_true(registry_fd(r1) >= 0);
	snprintf(h.name, sizeof(h.name), "h1");
	h.overlay_ip = ip("100.80.0.2");
	assert_int_equal(registry_host_add(r2, &h), 0);
	assert_int_equal(registry_revoke(r2, "h1", 9, &g), 0);
	assert_int_equal(registry_policy_set(r2, "allow * -> *\n", 9), 0);
	wait_notes(r1, &x, 2);
	assert_int_equal(x.n, 2);
	assert_string_equal(x.got[0], "revoke h1");
	assert_string_equal(x.got[1], "policy");

	assert_int_equal(registry_replica_beat(r1, "ra", "a:1", 100, true), 0);
	assert_int_equal(registry_replica_beat(r2, "rb", "b:1", 90, true), 0);
	assert_int_equal(registry_online_sync(r1, "ra", a, since, 2), 0);
	assert_int_equal(registry_online_sync(r2, "rb", b, since, 1), 0);
	assert_int_equal(registry_online_foreach(r1, 95, online_cb, out), 0);
	assert_string_equal(out, "h1@ra h2@ra ");	/* rb not seen since 95 */
	out[0] = '\0';
	assert_int_equal(registry_online_foreach(r1, 0, online_cb, out), 0);
	assert_string_equal(out, "h1@ra h2@ra h3@rb ");
	/* h2 moved to rb; ra now holds h1 only */
	b[0] = "h2";
	assert_int_equal(registry_online_sync(r2, "rb", b, since, 1), 0);
	assert_int_equal(registry_online_sync(r1, "ra", a, since, 1), 0);
	out[0] = '\0';
	assert_int_equal(registry_online_foreach(r1, 0, online_cb, out), 0);
	assert_string_equal(out, "h1@ra h2@rb ");
	/* a restarted ra forgets what it held */
	assert_int_equal(registry_replica_beat(r1, "ra", "a:1", 101, true), 0);
	out[0] = '\0';
	assert_int_equal(registry_online_foreach(r1, 0, online_cb, out), 0);
	assert_string_equal(out, "h2@rb ");
out:
	registry_close(r1);
	registry_close(r2);
}

/* A database as version 1 left it: its rows survive the migrations. */
static void test_migrate(void **state)
{
	struct registry *r;
	struct reg_host g;
	const char *why;

	(void)state;
	if (!pg_url) {
		/* SQLite: the release-0 file, before schema_version */
		raw("CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1),"
		    " overlay TEXT NOT NULL, next_ip INTEGER NOT NULL);"
		    "CREATE TABLE hosts (name TEXT PRIMARY KEY, overlay_ip TEXT "
		    " NOT NULL UNIQUE, cert_serial TEXT NOT NULL, tags TEXT NOT "
		    " NULL DEFAULT '', routes TEXT NOT NULL DEFAULT '', "
		    " enrolled_at INTEGER NOT NULL, revoked INTEGER NOT NULL "
		    " DEFAULT 0);"
		    "CREATE TABLE tokens (id TEXT PRIMARY KEY, hash BLOB NOT NULL,"
		    " name TEXT NOT NULL, expires_at INTEGER NOT NULL, used "
		    " INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '',"
		    " routes TEXT NOT NULL DEFAULT '');"
		    "INSERT INTO meta VALUES (1, '100.80.0.0/29', 1682964483);"
		    "INSERT INTO hosts VALUES ('old', '100.80.0.2', '0a', '', "
		    " '', 7, 0);"
		    "INSERT INTO tokens VALUES ('tttt', x'0102030000000000000000"
		    "000000000000000000000000000000000000000000', 'h1', 1000, 0,"
		    " 'web,db', '');");
	} else {
		/* PostgreSQL: version 1 */
		raw("CREATE TABLE schema_version (version INTEGER NOT NULL);"
		    "INSERT INTO schema_version VALUES (1);"
		    "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1),"
		    " overlay TEXT NOT NULL, next_ip BIGINT NOT NULL);"
		    "CREATE TABLE hosts (name TEXT PRIMARY KEY, overlay_ip TEXT "
		    " NOT NULL UNIQUE, cert_serial TEXT NOT NULL, tags TEXT NOT "
		    " NULL DEFAULT '', routes TEXT NOT NULL DEFAULT '', "
		    " enrolled_at BIGINT NOT NULL, revoked BOOLEAN NOT NULL "
		    " DEFAULT false);"
		    "CREATE TABLE tokens (id TEXT PRIMARY KEY, hash BYTEA NOT NULL,"
		    " name TEXT NOT NULL, expires_at BIGINT NOT NULL, used "
		    " BOOLEAN NOT NULL DEFAULT false, tags TEXT NOT NULL DEFAULT "
		    " '', routes TEXT NOT NULL DEFAULT '');"
		    "INSERT INTO meta VALUES (1, '100.80.0.0/29', 1682964483);"
		    "INSERT INTO hosts VALUES ('old', '100.80.0.2', '0a', '', "
		    " '', 7, false);"
		    "INSERT INTO tokens VALUES ('tttt', '\\x0102030000000000000000"
		    "000000000000000000000000000000000000000000', 'h1', 1000, "
		    "false, 'web,db', '');");
	}
	r = registry_open(where);
	assert_non_null(r);
	assert_int_equal(registry_schema_version(r), REGISTRY_SCHEMA_VERSION);
	assert_int_equal(registry_host_by_name(r, "old", &g), 0);
	assert_int_equal(g.enrolled_at, 7);
	/* version 2's tables and version 3's column are there */
	assert_int_equal(registry_revoke(r, "old", 8, &g), 0);
	assert_int_equal(registry_serial_revoked(r, "0a"), 1);
	assert_int_equal(take(r, "tttt", hash_a, 5, &why), 0);
	registry_close(r);
	/* opening again changes nothing */
	r = registry_open(where);
	assert_non_null(r);
	assert_int_equal(registry_schema_version(r), REGISTRY_SCHEMA_VERSION);
	registry_close(r);

	/* a schema from a newer authsrv is refused, not "migrated" */
	raw("UPDATE schema_version SET version = 99");
	errno = 0;
	assert_null(registry_open(where));
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(registry_error(), "newer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replicas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate, setup, teardown),
	};

	pg_url = getenv("MAVPN_TEST_PG_URL");
	if (pg_url && !*pg_url)
		pg_url = NULL;
	return cmocka_run_group_tests_name(pg_url ? "registry (postgresql)" :
					   "registry (sqlite)", tests, NULL,
					   NULL);
}
