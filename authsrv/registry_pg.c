// SPDX-License-Identifier: GPL-2.0-only
/*
 * PostgreSQL registry backend (libpq). Same tables and meaning as the
 * SQLite one (registry.h); several servers (replicas) may share one
 * database, so every write that two of them could race on is decided by
 * PostgreSQL:
 *   - a token is taken by UPDATE ... WHERE NOT used RETURNING: of two
 *     servers racing on one token, the second waits for the first's
 *     commit, then matches no row;
 *   - an address is allocated under SELECT ... FOR UPDATE of meta's row;
 *   - a host name or address taken twice is a unique violation (-EEXIST).
 * Revocations and policy changes also NOTIFY channel "mavpn_registry" in
 * their transaction (payload "revoke NAME" / "policy"), delivered on commit
 * to every server that LISTENs (registry_listen()).
 *
 * One connection per process, synchronous queries. A connection lost
 * outside a transaction (database restarted) is re-opened once per query;
 * inside one, the transaction fails and the caller's rollback ends it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "mavpn/log.h"
#include "mavpn/prefix.h"
#include "mavpn/util.h"
#include "registry.h"
#include "registry_pg.h"

struct registry_pg {
	struct registry base;	/* first: (struct registry *) casts */
	PGconn *conn;
	bool in_tx;		/* BEGIN sent, no COMMIT/ROLLBACK yet */
	bool listening;		/* LISTEN again after a reconnect */
	bool resync;		/* reconnected: notifications may be lost */
	uint64_t retry_at;	/* no reconnect before (mono ms) */
};

static const struct registry_ops registry_pg_ops;

#define RP(r) ((struct registry_pg *)(r))

#define PG_CHANNEL	"mavpn_registry"
/* pg_advisory_xact_lock key of the migrations ("mavp") */
#define PG_MIGRATE_LOCK	"1835103856"

/*
 * Forward migrations: entry i takes the schema from version i to i + 1
 * (the same steps as registry_sqlite.c's, in PostgreSQL's types). Append
 * only; never edit one that has shipped.
 */
static const char *const registry_pg_migrations[REGISTRY_SCHEMA_VERSION] = {
	/* 1: hosts, tokens, the overlay */
	"CREATE TABLE meta ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  overlay TEXT NOT NULL,"
	"  next_ip BIGINT NOT NULL);"
	"CREATE TABLE hosts ("
	"  name TEXT PRIMARY KEY,"
	"  overlay_ip TEXT NOT NULL UNIQUE,"
	"  cert_serial TEXT NOT NULL,"
	"  tags TEXT NOT NULL DEFAULT '',"
	"  routes TEXT NOT NULL DEFAULT '',"
	"  enrolled_at BIGINT NOT NULL,"
	"  revoked BOOLEAN NOT NULL DEFAULT false);"
	"CREATE TABLE tokens ("
	"  id TEXT PRIMARY KEY,"
	"  hash BYTEA NOT NULL,"
	"  name TEXT NOT NULL,"
	"  expires_at BIGINT NOT NULL,"
	"  used BOOLEAN NOT NULL DEFAULT false,"
	"  tags TEXT NOT NULL DEFAULT '',"
	"  routes TEXT NOT NULL DEFAULT '');",
	/* 2: the stored policy, certificates refused for good */
	"CREATE TABLE policy ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  text TEXT NOT NULL,"
	"  set_at BIGINT NOT NULL);"
	"CREATE TABLE revoked_certs ("
	"  serial TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  revoked_at BIGINT NOT NULL);",
	/* 3: when a token was used (audit) */
	"ALTER TABLE tokens ADD COLUMN used_at BIGINT;",
	/* 4: replicas and who holds which host */
	"CREATE TABLE replicas ("
	"  id TEXT PRIMARY KEY,"
	"  addr TEXT NOT NULL,"
	"  seen_at BIGINT NOT NULL);"
	"CREATE TABLE online ("
	"  name TEXT PRIMARY KEY,"
	"  replica TEXT NOT NULL,"
	"  since BIGINT NOT NULL);",
};

static bool registry_pg_ok(const PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The server's message without its newline: registry_error(), and a
 * log line where the program asked for them (the server). */
static void registry_pg_log(struct registry_pg *r, const char *what)
{
	const char *msg = PQerrorMessage(r->conn);
	int n = (int)strcspn(msg, "\n");

	registry_set_error("PostgreSQL %s failed: %.*s", what, n, msg);
	if (registry_logging())
		log_err("registry: %s failed error=\"%.*s\"", what, n, msg);
}

static int registry_pg_relisten(struct registry_pg *r)
{
	PGresult *res;
	int ret;

	res = PQexec(r->conn, "LISTEN " PG_CHANNEL);
	ret = registry_pg_ok(res) ? 0 : -EIO;
	PQclear(res);
	return ret;
}

/*
 * Reconnect a broken connection, at most once per REGISTRY_PG_RETRY_MS
 * (with the database down, every query would otherwise wait for its own
 * connect: the server's loop must not). 0 or -EIO.
 */
#define REGISTRY_PG_RETRY_MS	1000

static int registry_pg_reset(struct registry_pg *r)
{
	uint64_t now = mono_ms();

	if (now < r->retry_at)
		return -EIO;
	if (registry_logging())
		log_warn("registry: connection lost, reconnecting");
	PQreset(r->conn);
	if (PQstatus(r->conn) != CONNECTION_OK) {
		r->retry_at = now + REGISTRY_PG_RETRY_MS;
		registry_pg_log(r, "reconnect");
		return -EIO;
	}
	if (r->listening && registry_pg_relisten(r)) {
		registry_pg_log(r, "LISTEN");
		return -EIO;
	}
	r->resync = r->listening;
	return 0;
}

/*
 * Run @sql with text parameters (@fmt: NULL, or 1 for a binary one of
 * @lens bytes). A connection found broken outside a transaction is reset
 * and the query run once more. The caller PQclear()s the result, which
 * may be an error result or NULL.
 */
static PGresult *registry_pg_exec(struct registry_pg *r, const char *sql,
				  int n, const char *const *vals,
				  const int *lens, const int *fmts)
{
	PGresult *res;
	int attempt;

	for (attempt = 0;; attempt++) {
		/* Without parameters: the simple protocol, which takes
		 * several statements (the migrations). */
		res = n ? PQexecParams(r->conn, sql, n, NULL, vals, lens,
				       fmts, 0) : PQexec(r->conn, sql);
		if (registry_pg_ok(res) || attempt ||
		    PQstatus(r->conn) != CONNECTION_BAD || r->in_tx)
			break;
		PQclear(res);
		if (registry_pg_reset(r))
			return NULL;
	}
	if (!registry_pg_ok(res))
		registry_pg_log(r, "query");
	return res;
}

/* A statement without result rows: 0 or -EIO (-EEXIST: unique violation). */
static int registry_pg_cmd(struct registry_pg *r, const char *sql, int n,
			   const char *const *vals)
{
	PGresult *res = registry_pg_exec(r, sql, n, vals, NULL, NULL);
	const char *state;
	int ret = 0;

	if (!registry_pg_ok(res)) {
		state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		ret = state && !strcmp(state, "23505") ? -EEXIST : -EIO;
	}
	PQclear(res);
	return ret;
}

/* Notices ("relation already exists, skipping") are not news. */
static void registry_pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/*
 * Defaults a URL may override (they come first, the URL's own values after
 * them win): a connect that gives up after 5 s and TCP keepalives that
 * notice a dead database server within about 20 s, so that a server's loop
 * never hangs on the network for long.
 */
static PGconn *registry_pg_connect(const char *url)
{
	static const char *const keys[] = {
		"connect_timeout", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count",
		"application_name", "dbname", NULL,
	};
	const char *vals[] = { "5", "1", "10", "5", "2", "mavpn-authsrv", url,
			       NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	const char *msg;

	if (PQstatus(conn) != CONNECTION_OK) {
		msg = PQerrorMessage(conn);
		registry_set_error("cannot connect to PostgreSQL: %.*s",
				   (int)strcspn(msg, "\n"), msg);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, registry_pg_quiet, NULL);
	return conn;
}

/*
 * Bring the schema to REGISTRY_SCHEMA_VERSION in one transaction under an
 * advisory lock (two replicas starting at once: the second waits, then
 * finds nothing to do). -EPROTO if the database is newer than us.
 */
static int registry_pg_migrate(struct registry_pg *r, int *version)
{
	char buf[16];
	const char *vals[1] = { buf };
	PGresult *res;
	int v, i;

	/* The common case, one round trip: nothing to do (a missing table
	 * is an error result here, and the locked path below makes it). */
	res = PQexec(r->conn, "SELECT version FROM schema_version");
	v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ?
	    atoi(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	*version = v;
	if (v > REGISTRY_SCHEMA_VERSION)
		return -EPROTO;
	if (v == REGISTRY_SCHEMA_VERSION)
		return 0;
	if (registry_pg_cmd(r, "BEGIN", 0, NULL))
		return -EIO;
	r->in_tx = true;
	if (registry_pg_cmd(r, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")",
			    0, NULL) ||
	    registry_pg_cmd(r, "CREATE TABLE IF NOT EXISTS schema_version ("
			    "  version INTEGER NOT NULL)", 0, NULL))
		goto err;
	res = registry_pg_exec(r, "SELECT version FROM schema_version", 0,
			       NULL, NULL, NULL);
	if (!registry_pg_ok(res)) {
		PQclear(res);
		goto err;
	}
	v = PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	*version = v;
	if (v > REGISTRY_SCHEMA_VERSION) {
		registry_pg_cmd(r, "ROLLBACK", 0, NULL);
		r->in_tx = false;
		return -EPROTO;
	}
	for (i = v; i < REGISTRY_SCHEMA_VERSION; i++) {
		if (registry_pg_cmd(r, registry_pg_migrations[i], 0, NULL)) {
			registry_set_error("migration to schema version %d failed: %s",
					   i + 1, registry_error());
			goto err;
		}
		log_debug("registry: schema migrated version=%d", i + 1);
	}
	snprintf(buf, sizeof(buf), "%d", i);
	if (v != i && (registry_pg_cmd(r, "DELETE FROM schema_version", 0, NULL) ||
		       registry_pg_cmd(r, "INSERT INTO schema_version (version) "
				       "VALUES ($1)", 1, vals)))
		goto err;
	r->in_tx = false;
	if (registry_pg_cmd(r, "COMMIT", 0, NULL))
		return -EIO;
	*version = i;
	return 0;
err:
	registry_pg_cmd(r, "ROLLBACK", 0, NULL);
	r->in_tx = false;
	return -EIO;
}

static struct registry_pg *registry_pg_new(const char *url, int *err)
{
	struct registry_pg *r = calloc(1, sizeof(*r));
	int v, ret;

	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	r->base.ops = &registry_pg_ops;
	r->conn = registry_pg_connect(url);
	if (!r->conn) {
		free(r);
		*err = -ECONNREFUSED;
		return NULL;
	}
	ret = registry_pg_migrate(r, &v);
	if (ret) {
		if (ret == -EPROTO)
			registry_set_error("schema version %d is newer than this authsrv's (%d): upgrade authsrv",
					   v, REGISTRY_SCHEMA_VERSION);
		else if (!*registry_error())
			registry_set_error("cannot bring the schema to version %d",
					   REGISTRY_SCHEMA_VERSION);
		PQfinish(r->conn);
		free(r);
		*err = ret;
		return NULL;
	}
	return r;
}

int registry_pg_create(const char *url, uint32_t net, uint8_t plen)
{
	char overlay[INET_ADDRSTRLEN + 4], addr[INET_ADDRSTRLEN], next[16];
	const char *vals[2] = { overlay, next };
	struct registry_pg *r;
	PGresult *res;
	int ret = -EIO;

	r = registry_pg_new(url, &ret);
	if (!r)
		return ret;
	inet_ntop(AF_INET, &net, addr, sizeof(addr));
	snprintf(overlay, sizeof(overlay), "%s/%u", addr, plen);
	/* First candidate: network + 2 (.1 is the server's). */
	snprintf(next, sizeof(next), "%" PRIu32, ntohl(net) + 2);
	/* Refuses to overwrite: a database that has a registry keeps it. */
	res = registry_pg_exec(r, "INSERT INTO meta (id, overlay, next_ip) "
			       "VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
			       2, vals, NULL, NULL);
	if (registry_pg_ok(res))
		ret = atoi(PQcmdTuples(res)) == 1 ? 0 : -EEXIST;
	PQclear(res);
	r->base.ops->close(&r->base);
	return ret;
}

struct registry *registry_pg_open(const char *url)
{
	struct registry_pg *r;
	int ret;

	r = registry_pg_new(url, &ret);
	if (!r) {
		errno = -ret;
		return NULL;
	}
	return &r->base;
}

static void registry_pg_close(struct registry *reg)
{
	PQfinish(RP(reg)->conn);
	free(reg);
}

static int registry_pg_schema_version(struct registry *reg)
{
	PGresult *res = registry_pg_exec(RP(reg), "SELECT version FROM "
					 "schema_version", 0, NULL, NULL, NULL);
	int v = -EIO;

	if (registry_pg_ok(res) && PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static int registry_pg_overlay(struct registry *reg, uint32_t *net,
			       uint8_t *plen)
{
	PGresult *res = registry_pg_exec(RP(reg), "SELECT overlay FROM meta "
					 "WHERE id = 1", 0, NULL, NULL, NULL);
	struct prefix p;
	int ret = -EIO;

	if (registry_pg_ok(res) && PQntuples(res) == 1 &&
	    !prefix_parse(PQgetvalue(res, 0, 0), PREFIX_PARSE_V4, &p, NULL) &&
	    p.plen >= 8) {
		*net = p.v4;
		*plen = p.plen;
		ret = 0;
	}
	PQclear(res);
	return ret;
}

static int registry_pg_token_add(struct registry *reg, const char *id,
				 const uint8_t hash[32], const char *name,
				 int64_t expires_at, const char *tags,
				 const char *routes)
{
	char exp[24];
	const char *vals[6] = { id, (const char *)hash, name, exp, tags,
				routes };
	const int lens[6] = { 0, 32, 0, 0, 0, 0 };
	const int fmts[6] = { 0, 1, 0, 0, 0, 0 };
	PGresult *res;
	int ret;

	snprintf(exp, sizeof(exp), "%" PRId64, expires_at);
	res = registry_pg_exec(RP(reg), "INSERT INTO tokens (id, hash, name, "
			       "expires_at, used, tags, routes) "
			       "VALUES ($1, $2, $3, $4, false, $5, $6)", 6, vals,
			       lens, fmts);
	ret = registry_pg_ok(res) ? 0 : -EIO;
	PQclear(res);
	return ret;
}

#define HOST_COLS "name, overlay_ip, cert_serial, tags, routes, enrolled_at, revoked"

static int registry_pg_row_host(const PGresult *res, int row,
				struct reg_host *h)
{
	struct in_addr in;

	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", PQgetvalue(res, row, 0));
	if (inet_pton(AF_INET, PQgetvalue(res, row, 1), &in) != 1)
		return -EIO;
	h->overlay_ip = in.s_addr;
	snprintf(h->cert_serial, sizeof(h->cert_serial), "%s",
		 PQgetvalue(res, row, 2));
	snprintf(h->tags, sizeof(h->tags), "%s", PQgetvalue(res, row, 3));
	snprintf(h->routes, sizeof(h->routes), "%s", PQgetvalue(res, row, 4));
	h->enrolled_at = strtoll(PQgetvalue(res, row, 5), NULL, 10);
	h->revoked = PQgetvalue(res, row, 6)[0] == 't';
	return 0;
}

static int registry_pg_host_query(struct registry_pg *r, const char *sql,
				  const char *key, struct reg_host *h)
{
	const char *vals[1] = { key };
	PGresult *res = registry_pg_exec(r, sql, 1, vals, NULL, NULL);
	int ret = -EIO;

	if (registry_pg_ok(res))
		ret = PQntuples(res) ? registry_pg_row_host(res, 0, h) : -ENOENT;
	PQclear(res);
	return ret;
}

static int registry_pg_host_by_name(struct registry *reg, const char *name,
				    struct reg_host *h)
{
	return registry_pg_host_query(RP(reg), "SELECT " HOST_COLS
				      " FROM hosts WHERE name = $1", name, h);
}

static int registry_pg_host_by_ip(struct registry *reg, uint32_t ip,
				  struct reg_host *h)
{
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	return registry_pg_host_query(RP(reg), "SELECT " HOST_COLS
				      " FROM hosts WHERE overlay_ip = $1", addr,
				      h);
}

static int registry_pg_host_foreach(struct registry *reg,
				    int (*cb)(const struct reg_host *h,
					      void *arg),
				    void *arg)
{
	PGresult *res = registry_pg_exec(RP(reg), "SELECT " HOST_COLS
					 " FROM hosts ORDER BY name", 0, NULL,
					 NULL, NULL);
	struct reg_host h;
	int i, ret = -EIO;

	if (registry_pg_ok(res)) {
		ret = 0;
		for (i = 0; !ret && i < PQntuples(res); i++) {
			ret = registry_pg_row_host(res, i, &h);
			if (!ret)
				ret = cb(&h, arg);
		}
	}
	PQclear(res);
	return ret;
}

static int registry_pg_begin(struct registry *reg)
{
	struct registry_pg *r = RP(reg);

	if (registry_pg_cmd(r, "BEGIN", 0, NULL))
		return -EIO;
	r->in_tx = true;
	return 0;
}

static void registry_pg_rollback(struct registry *reg)
{
	struct registry_pg *r = RP(reg);

	if (!r->in_tx)
		return;
	r->in_tx = false;
	registry_pg_cmd(r, "ROLLBACK", 0, NULL);
}

static int registry_pg_commit(struct registry *reg)
{
	struct registry_pg *r = RP(reg);
	PGresult *res;
	int ret;

	/* A failed transaction answers COMMIT with ROLLBACK: not an error
	 * result, so the command tag tells. */
	res = registry_pg_exec(r, "COMMIT", 0, NULL, NULL, NULL);
	ret = registry_pg_ok(res) && !strcmp(PQcmdStatus(res), "COMMIT") ?
	      0 : -EIO;
	PQclear(res);
	r->in_tx = false;
	return ret;
}

static int registry_pg_hex(const char *s, uint8_t *out, size_t n)
{
	size_t i;
	unsigned int b;

	if (strncmp(s, "\\x", 2) || strlen(s) != 2 + 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		out[i] = (uint8_t)b;
	}
	return 0;
}

/*
 * The token is taken by the UPDATE (the row lock decides a race between
 * servers); if it then turns out wrong (secret, expiry) the caller's
 * rollback gives it back.
 */
static int registry_pg_token_take(struct registry *reg, const char *id,
				  const uint8_t hash[32], int64_t now,
				  struct reg_token *t, const char **why)
{
	struct registry_pg *r = RP(reg);
	char nows[24];
	const char *vals[2] = { id, nows };
	uint8_t stored[32];
	PGresult *res;
	int ret;

	snprintf(nows, sizeof(nows), "%" PRId64, now);
	res = registry_pg_exec(r, "UPDATE tokens SET used = true, used_at = $2 "
			       "WHERE id = $1 AND NOT used "
			       "RETURNING hash, name, expires_at, tags, routes",
			       2, vals, NULL, NULL);
	if (!registry_pg_ok(res)) {
		PQclear(res);
		return -EIO;
	}
	if (!PQntuples(res)) {
		PQclear(res);
		res = registry_pg_exec(r, "SELECT 1 FROM tokens WHERE id = $1",
				       1, vals, NULL, NULL);
		ret = registry_pg_ok(res) ? -EACCES : -EIO;
		*why = registry_pg_ok(res) && PQntuples(res) ?
		       "token already used" : "unknown token id";
		PQclear(res);
		return ret;
	}
	ret = -EACCES;
	if (registry_pg_hex(PQgetvalue(res, 0, 0), stored, sizeof(stored)) ||
	    CRYPTO_memcmp(stored, hash, 32)) {
		*why = "token secret does not match";
		goto out;
	}
	if (strtoll(PQgetvalue(res, 0, 2), NULL, 10) <= now) {
		*why = "token expired";
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%s", PQgetvalue(res, 0, 1));
	snprintf(t->tags, sizeof(t->tags), "%s", PQgetvalue(res, 0, 3));
	snprintf(t->routes, sizeof(t->routes), "%s", PQgetvalue(res, 0, 4));
	ret = 0;
out:
	PQclear(res);
	return ret;
}

static int registry_pg_next_ip_get(struct registry *reg, uint32_t *next)
{
	PGresult *res = registry_pg_exec(RP(reg), "SELECT next_ip FROM meta "
					 "WHERE id = 1 FOR UPDATE", 0, NULL,
					 NULL, NULL);
	int ret = -EIO;

	if (registry_pg_ok(res) && PQntuples(res) == 1) {
		*next = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
		ret = 0;
	}
	PQclear(res);
	return ret;
}

static int registry_pg_next_ip_set(struct registry *reg, uint32_t next)
{
	char buf[16];
	const char *vals[1] = { buf };

	snprintf(buf, sizeof(buf), "%" PRIu32, next);
	return registry_pg_cmd(RP(reg), "UPDATE meta SET next_ip = $1 "
			       "WHERE id = 1", 1, vals);
}

static int registry_pg_host_add(struct registry *reg, const struct reg_host *h)
{
	char addr[INET_ADDRSTRLEN], at[24];
	const char *vals[7] = { h->name, addr, h->cert_serial, h->tags,
				h->routes, at, h->revoked ? "true" : "false" };

	inet_ntop(AF_INET, &h->overlay_ip, addr, sizeof(addr));
	snprintf(at, sizeof(at), "%" PRId64, h->enrolled_at);
	return registry_pg_cmd(RP(reg), "INSERT INTO hosts (" HOST_COLS ") "
			       "VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, vals);
}

static int registry_pg_notify(struct registry_pg *r, const char *payload)
{
	const char *vals[1] = { payload };

	return registry_pg_cmd(r, "SELECT pg_notify('" PG_CHANNEL "', $1)", 1,
			       vals);
}

static int registry_pg_revoke(struct registry *reg, const char *name,
			      int64_t now, struct reg_host *h)
{
	struct registry_pg *r = RP(reg);
	char at[24], note[CTLMSG_NAME_MAX + 8];
	const char *vals[3] = { name, NULL, at };
	int ret;

	ret = registry_pg_begin(reg);
	if (ret)
		return ret;
	ret = registry_pg_host_query(r, "SELECT " HOST_COLS " FROM hosts "
				     "WHERE name = $1 FOR UPDATE", name, h);
	if (ret)
		goto err;
	vals[1] = h->cert_serial;
	snprintf(at, sizeof(at), "%" PRId64, now);
	snprintf(note, sizeof(note), "revoke %s", name);
	/* The serial too: even a restored old registry row cannot bring the
	 * certificate back. */
	ret = registry_pg_cmd(r, "UPDATE hosts SET revoked = true "
			      "WHERE name = $1", 1, vals);
	if (!ret)
		ret = registry_pg_cmd(r, "INSERT INTO revoked_certs (serial, "
				      "name, revoked_at) VALUES ($2, $1, $3) "
				      "ON CONFLICT (serial) DO NOTHING", 3,
				      vals);
	if (!ret)
		ret = registry_pg_notify(r, note);
	if (!ret)
		ret = registry_pg_commit(reg);
	if (!ret)
		return 0;
err:
	registry_pg_rollback(reg);
	return ret;
}

static int registry_pg_serial_revoked(struct registry *reg,
				      const char *serial)
{
	const char *vals[1] = { serial };
	PGresult *res = registry_pg_exec(RP(reg), "SELECT 1 FROM revoked_certs "
					 "WHERE serial = $1", 1, vals, NULL,
					 NULL);
	int ret = registry_pg_ok(res) ? PQntuples(res) > 0 : -EIO;

	PQclear(res);
	return ret;
}

static int registry_pg_policy_get(struct registry *reg, char **text)
{
	PGresult *res = registry_pg_exec(RP(reg), "SELECT text FROM policy "
					 "WHERE id = 1", 0, NULL, NULL, NULL);
	int ret = -EIO;

	*text = NULL;
	if (registry_pg_ok(res)) {
		if (!PQntuples(res)) {
			ret = -ENOENT;
		} else {
			*text = strdup(PQgetvalue(res, 0, 0));
			ret = *text ? 0 : -ENOMEM;
		}
	}
	PQclear(res);
	return ret;
}

static int registry_pg_policy_set(struct registry *reg, const char *text,
				  int64_t now)
{
	struct registry_pg *r = RP(reg);
	char at[24];
	const char *vals[2] = { text, at };
	int ret;

	snprintf(at, sizeof(at), "%" PRId64, now);
	ret = registry_pg_begin(reg);
	if (ret)
		return ret;
	ret = registry_pg_cmd(r, "INSERT INTO policy (id, text, set_at) "
			      "VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE "
			      "SET text = EXCLUDED.text, set_at = EXCLUDED.set_at",
			      2, vals);
	if (!ret)
		ret = registry_pg_notify(r, "policy");
	if (!ret)
		ret = registry_pg_commit(reg);
	if (ret)
		registry_pg_rollback(reg);
	return ret;
}

/* ---- replicas ---- */

static int registry_pg_listen(struct registry *reg)
{
	struct registry_pg *r = RP(reg);
	int ret = registry_pg_relisten(r);

	if (ret)
		registry_pg_log(r, "LISTEN");
	else
		r->listening = true;
	return ret;
}

static int registry_pg_fd(struct registry *reg)
{
	return PQsocket(RP(reg)->conn);
}

/*
 * What arrived on the socket, and what libpq kept aside while it ran our
 * other queries. A connection that broke is reset here (the server polls
 * this once per tick), so notifications start again without waiting for
 * a query to notice; what was sent while it was down is lost, and the
 * caller resynchronises (@cb with "resync").
 */
static int registry_pg_notifications(struct registry *reg,
				     void (*cb)(void *arg, const char *payload),
				     void *arg)
{
	struct registry_pg *r = RP(reg);
	PGnotify *n;
	int count = 0;

	if (!PQconsumeInput(r->conn) && PQstatus(r->conn) == CONNECTION_BAD &&
	    !r->in_tx && registry_pg_reset(r))
		return -EIO;
	if (r->resync) {
		r->resync = false;
		cb(arg, "resync");
	}
	while ((n = PQnotifies(r->conn))) {
		cb(arg, n->extra);
		PQfreemem(n);
		count++;
	}
	return count;
}

static int registry_pg_replica_beat(struct registry *reg, const char *id,
				    const char *addr, int64_t now, bool reset)
{
	struct registry_pg *r = RP(reg);
	char at[24];
	const char *vals[3] = { id, addr, at };
	int ret;

	snprintf(at, sizeof(at), "%" PRId64, now);
	ret = registry_pg_cmd(r, "INSERT INTO replicas (id, addr, seen_at) "
			      "VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE "
			      "SET addr = EXCLUDED.addr, seen_at = EXCLUDED.seen_at",
			      3, vals);
	if (!ret && reset)
		ret = registry_pg_cmd(r, "DELETE FROM online WHERE replica = $1",
				      1, vals);
	return ret;
}

/* "{a,b,c}": names are [a-z0-9-], no quoting needed. */
static char *registry_pg_array(const char *const *names, const int64_t *since,
			       size_t n)
{
	size_t i, len = 3, off;
	char *a;

	for (i = 0; i < n; i++)
		len += (names ? strlen(names[i]) : 21) + 1;
	a = malloc(len);
	if (!a)
		return NULL;
	off = 0;
	a[off++] = '{';
	for (i = 0; i < n; i++)
		off += (size_t)(names ?
			snprintf(a + off, len - off, "%s%s", i ? "," : "",
				 names[i]) :
			snprintf(a + off, len - off, "%s%" PRId64, i ? "," : "",
				 since[i]));
	snprintf(a + off, len - off, "}");
	return a;
}

static int registry_pg_online_sync(struct registry *reg, const char *id,
				   const char *const *names,
				   const int64_t *since, size_t n)
{
	struct registry_pg *r = RP(reg);
	char *an = registry_pg_array(names, NULL, n);
	char *as = registry_pg_array(NULL, since, n);
	const char *vals[3] = { id, an, as };
	int ret = -ENOMEM;

	if (!an || !as)
		goto out;
	ret = registry_pg_begin(reg);
	if (ret)
		goto out;
	/* Online status is soft state: no fsync wait on the hot path. */
	ret = registry_pg_cmd(r, "SET LOCAL synchronous_commit = off", 0, NULL);
	if (!ret)
		ret = registry_pg_cmd(r, "DELETE FROM online WHERE replica = $1",
				      1, vals);
	if (!ret && n)
		ret = registry_pg_cmd(r, "INSERT INTO online (name, replica, since) "
				      "SELECT u.name, $1, u.since FROM "
				      "unnest($2::text[], $3::bigint[]) AS u(name, since) "
				      "ON CONFLICT (name) DO UPDATE SET "
				      "replica = EXCLUDED.replica, since = EXCLUDED.since",
				      3, vals);
	if (!ret)
		ret = registry_pg_commit(reg);
	if (ret)
		registry_pg_rollback(reg);
out:
	free(an);
	free(as);
	return ret;
}

static int registry_pg_online_foreach(struct registry *reg,
				      int64_t alive_since,
				      int (*cb)(const char *name,
						const char *replica, void *arg),
				      void *arg)
{
	char at[24];
	const char *vals[1] = { at };
	PGresult *res;
	int i, ret = -EIO;

	snprintf(at, sizeof(at), "%" PRId64, alive_since);
	res = registry_pg_exec(RP(reg), "SELECT o.name, o.replica FROM online o "
			       "JOIN replicas r ON r.id = o.replica "
			       "WHERE r.seen_at >= $1 ORDER BY o.name", 1, vals,
			       NULL, NULL);
	if (registry_pg_ok(res)) {
		ret = 0;
		for (i = 0; !ret && i < PQntuples(res); i++)
			ret = cb(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				 arg);
	}
	PQclear(res);
	return ret;
}

static const struct registry_ops registry_pg_ops = {
	.name = "postgresql",
	.close = registry_pg_close,
	.schema_version = registry_pg_schema_version,
	.overlay = registry_pg_overlay,
	.token_add = registry_pg_token_add,
	.host_by_name = registry_pg_host_by_name,
	.host_by_ip = registry_pg_host_by_ip,
	.host_foreach = registry_pg_host_foreach,
	.begin = registry_pg_begin,
	.commit = registry_pg_commit,
	.rollback = registry_pg_rollback,
	.token_take = registry_pg_token_take,
	.next_ip_get = registry_pg_next_ip_get,
	.next_ip_set = registry_pg_next_ip_set,
	.host_add = registry_pg_host_add,
	.revoke = registry_pg_revoke,
	.serial_revoked = registry_pg_serial_revoked,
	.policy_get = registry_pg_policy_get,
	.policy_set = registry_pg_policy_set,
	.listen = registry_pg_listen,
	.fd = registry_pg_fd,
	.notifications = registry_pg_notifications,
	.replica_beat = registry_pg_replica_beat,
	.online_sync = registry_pg_online_sync,
	.online_foreach = registry_pg_online_foreach,
};
