// SPDX-License-Identifier: GPL-2.0-only
/*
 * SQLite registry backend. One connection per process; the server keeps
 * it open, the admin CLI opens it briefly: WAL lets them run side by side,
 * and a busy timeout covers the short write transactions.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "mavpn/log.h"
#include "mavpn/prefix.h"
#include "registry.h"
#include "registry_sqlite.h"

struct registry_sqlite {
	struct registry base;	/* first: (struct registry *) casts */
	sqlite3 *db;
	/* The two lookups every key request makes, prepared once. */
	sqlite3_stmt *st_by_name, *st_by_ip;
	bool batch;		/* server: reads share one transaction */
	bool in_read;		/* that transaction is open */
};

static const struct registry_ops registry_sqlite_ops;

#define RS(r) ((struct registry_sqlite *)(r))

/*
 * Read batching (server only). Each SQLite read outside a transaction
 * takes and drops the WAL read lock with fcntl(2): measurable at thousands
 * of key requests a second. With batching on, lookups join one read
 * transaction that the server ends once per event-loop pass
 * (registry_read_end), before any write and before acting on the admin
 * socket, so what it reads is never older than one pass.
 */
static void registry_sqlite_read_begin(struct registry_sqlite *r)
{
	if (!r->batch || r->in_read || !sqlite3_get_autocommit(r->db))
		return;
	if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
		r->in_read = true;
}

static void registry_sqlite_read_end(struct registry *reg)
{
	struct registry_sqlite *r = RS(reg);

	if (!r->in_read)
		return;
	sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	r->in_read = false;
}

static void registry_sqlite_read_batch(struct registry *reg, bool on)
{
	struct registry_sqlite *r = RS(reg);

	registry_sqlite_read_end(&r->base);
	r->batch = on;
}

/*
 * Forward migrations: entry i takes the schema from version i to i + 1.
 * Append only; never edit one that has shipped. Version 1 and 2 use IF NOT
 * EXISTS: registries from before schema_version existed (version 0 here)
 * already have some of these tables, and are brought forward by the same
 * steps.
 */
static const char *const registry_sqlite_migrations[REGISTRY_SCHEMA_VERSION] = {
	/* 1: hosts, tokens, the overlay */
	"CREATE TABLE IF NOT EXISTS meta ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  overlay TEXT NOT NULL,"
	"  next_ip INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS hosts ("
	"  name TEXT PRIMARY KEY,"
	"  overlay_ip TEXT NOT NULL UNIQUE,"
	"  cert_serial TEXT NOT NULL,"
	"  tags TEXT NOT NULL DEFAULT '',"
	"  routes TEXT NOT NULL DEFAULT '',"
	"  enrolled_at INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS tokens ("
	"  id TEXT PRIMARY KEY,"
	"  hash BLOB NOT NULL,"
	"  name TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used INTEGER NOT NULL DEFAULT 0,"
	"  tags TEXT NOT NULL DEFAULT '',"
	"  routes TEXT NOT NULL DEFAULT '');",
	/* 2: the stored policy, certificates refused for good */
	"CREATE TABLE IF NOT EXISTS policy ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  text TEXT NOT NULL,"
	"  set_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS revoked_certs ("
	"  serial TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  revoked_at INTEGER NOT NULL);",
	/* 3: when a token was used (audit) */
	"ALTER TABLE tokens ADD COLUMN used_at INTEGER;",
	/* 4: replicas and who holds which host (used with PostgreSQL only:
	 * one server holds a SQLite file; same schema, same meaning) */
	"CREATE TABLE IF NOT EXISTS replicas ("
	"  id TEXT PRIMARY KEY,"
	"  addr TEXT NOT NULL,"
	"  seen_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS online ("
	"  name TEXT PRIMARY KEY,"
	"  replica TEXT NOT NULL,"
	"  since INTEGER NOT NULL);",
};

static int registry_sqlite_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st;
	int ret = -EIO;

	if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1,
			       &st, NULL) != SQLITE_OK)
		return -EIO;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*version = sqlite3_column_int(st, 0);
		ret = 0;
		break;
	case SQLITE_DONE:
		*version = 0;
		ret = 0;
		break;
	}
	sqlite3_finalize(st);
	return ret;
}

/*
 * Bring the schema to REGISTRY_SCHEMA_VERSION in one IMMEDIATE
 * transaction (a second process waits on the lock, then finds nothing to
 * do). -EPROTO if the database is newer than this program.
 */
static int registry_sqlite_migrate(sqlite3 *db, int *version)
{
	char sql[128];
	int v, ret;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE;"
			     "CREATE TABLE IF NOT EXISTS schema_version ("
			     "  version INTEGER NOT NULL);", NULL, NULL,
			 NULL) != SQLITE_OK)
		goto err;
	if (registry_sqlite_version(db, &v))
		goto err;
	if (v > REGISTRY_SCHEMA_VERSION) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		*version = v;
		return -EPROTO;
	}
	for (ret = v; ret < REGISTRY_SCHEMA_VERSION; ret++) {
		if (sqlite3_exec(db, registry_sqlite_migrations[ret], NULL, NULL,
				 NULL) != SQLITE_OK) {
			registry_set_error("migration to schema version %d failed: %s",
					   ret + 1, sqlite3_errmsg(db));
			goto err;
		}
		log_debug("registry: schema migrated version=%d", ret + 1);
	}
	snprintf(sql, sizeof(sql), "DELETE FROM schema_version;"
		 "INSERT INTO schema_version (version) VALUES (%d)", ret);
	if (v != ret && sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		goto err;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto err;
	*version = ret;
	return 0;
err:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -EIO;
}

static int registry_sqlite_setup(sqlite3 *db)
{
	sqlite3_busy_timeout(db, 5000);
	return sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
				"PRAGMA synchronous=FULL;"
				"PRAGMA foreign_keys=ON;", NULL, NULL, NULL) ==
	       SQLITE_OK ? 0 : -EIO;
}

int registry_sqlite_create(const char *path, uint32_t net, uint8_t plen)
{
	char overlay[INET_ADDRSTRLEN + 4], addr[INET_ADDRSTRLEN];
	sqlite3_stmt *st;
	sqlite3 *db;
	int fd, v, ret = -EIO;

	/* Claim the name first: never open somebody else's database. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		goto err_db;
	if (registry_sqlite_setup(db) || registry_sqlite_migrate(db, &v))
		goto err_db;
	inet_ntop(AF_INET, &net, addr, sizeof(addr));
	snprintf(overlay, sizeof(overlay), "%s/%u", addr, plen);
	if (sqlite3_prepare_v2(db, "INSERT INTO meta (id, overlay, next_ip) "
				   "VALUES (1, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		goto err_db;
	sqlite3_bind_text(st, 1, overlay, -1, SQLITE_STATIC);
	/* First candidate: network + 2 (.1 is the server's). */
	sqlite3_bind_int64(st, 2, (int64_t)ntohl(net) + 2);
	if (sqlite3_step(st) == SQLITE_DONE)
		ret = 0;
	sqlite3_finalize(st);
	if (ret)
		goto err_db;
	sqlite3_close(db);
	return 0;

err_db:
	sqlite3_close(db);
	unlink(path);
	return ret;
}

struct registry *registry_sqlite_open(const char *path)
{
	struct registry_sqlite *r;
	int v, ret;

	if (access(path, R_OK | W_OK))
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->base.ops = &registry_sqlite_ops;
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || registry_sqlite_setup(r->db)) {
		ret = -EIO;
		goto err;
	}
	ret = registry_sqlite_migrate(r->db, &v);
	if (ret) {
		if (ret == -EPROTO)
			registry_set_error("schema version %d is newer than this authsrv's (%d): upgrade authsrv",
					   v, REGISTRY_SCHEMA_VERSION);
		else if (!*registry_error())
			registry_set_error("cannot bring the schema to version %d",
					   REGISTRY_SCHEMA_VERSION);
		goto err;
	}
	return &r->base;
err:
	sqlite3_close(r->db);
	free(r);
	errno = -ret;
	return NULL;
}

static void registry_sqlite_close(struct registry *reg)
{
	struct registry_sqlite *r = RS(reg);

	registry_sqlite_read_end(reg);
	sqlite3_finalize(r->st_by_name);
	sqlite3_finalize(r->st_by_ip);
	sqlite3_close(r->db);
	free(r);
}

static int registry_sqlite_schema_version(struct registry *reg)
{
	int v;

	return registry_sqlite_version(RS(reg)->db, &v) ? -EIO : v;
}

static int registry_prepare(struct registry_sqlite *r, const char *sql,
			    sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(r->db, sql, -1, st, NULL) != SQLITE_OK) {
		log_err("registry: prepare failed error=\"%s\"",
			sqlite3_errmsg(r->db));
		return -EIO;
	}
	return 0;
}

static int registry_sqlite_overlay(struct registry *reg, uint32_t *net, uint8_t *plen)
{
	struct registry_sqlite *r = RS(reg);
	const unsigned char *text;
	sqlite3_stmt *st;
	struct prefix p;
	int ret = -EIO;

	if (registry_prepare(r, "SELECT overlay FROM meta WHERE id = 1", &st))
		return -EIO;
	text = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) :
						NULL;
	if (text && !prefix_parse((const char *)text, PREFIX_PARSE_V4, &p,
				  NULL) && p.plen >= 8) {
		*net = p.v4;
		*plen = p.plen;
		ret = 0;
	}
	sqlite3_finalize(st);
	return ret;
}

static int registry_sqlite_token_add(struct registry *reg, const char *id,
		       const uint8_t hash[32], const char *name,
		       int64_t expires_at, const char *tags,
		       const char *routes)
{
	struct registry_sqlite *r = RS(reg);
	sqlite3_stmt *st;
	int ret = -EIO;

	if (registry_prepare(r, "INSERT INTO tokens (id, hash, name, "
			     "expires_at, used, tags, routes) "
			     "VALUES (?, ?, ?, ?, 0, ?, ?)", &st))
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, expires_at);
	sqlite3_bind_text(st, 5, tags, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, routes, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		ret = 0;
	sqlite3_finalize(st);
	return ret;
}

static void registry_copy(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

#define HOST_COLS "name, overlay_ip, cert_serial, tags, routes, enrolled_at, revoked"

static int registry_row_host(sqlite3_stmt *st, struct reg_host *h)
{
	struct in_addr in;

	memset(h, 0, sizeof(*h));
	registry_copy(h->name, sizeof(h->name), sqlite3_column_text(st, 0));
	if (inet_pton(AF_INET, (const char *)sqlite3_column_text(st, 1), &in) != 1)
		return -EIO;
	h->overlay_ip = in.s_addr;
	registry_copy(h->cert_serial, sizeof(h->cert_serial),
		      sqlite3_column_text(st, 2));
	registry_copy(h->tags, sizeof(h->tags), sqlite3_column_text(st, 3));
	registry_copy(h->routes, sizeof(h->routes), sqlite3_column_text(st, 4));
	h->enrolled_at = sqlite3_column_int64(st, 5);
	h->revoked = sqlite3_column_int(st, 6) != 0;
	return 0;
}

static int registry_host_query(struct registry_sqlite *r, const char *sql,
			       sqlite3_stmt **cache, const char *key,
			       struct reg_host *h)
{
	sqlite3_stmt *st;
	int ret;

	if (!*cache && sqlite3_prepare_v3(r->db, sql, -1,
					  SQLITE_PREPARE_PERSISTENT, cache,
					  NULL) != SQLITE_OK) {
		log_err("registry: prepare failed error=\"%s\"",
			sqlite3_errmsg(r->db));
		return -EIO;
	}
	st = *cache;
	registry_sqlite_read_begin(r);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		ret = registry_row_host(st, h);
		break;
	case SQLITE_DONE:
		ret = -ENOENT;
		break;
	default:
		ret = -EIO;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static int registry_sqlite_host_by_name(struct registry *reg, const char *name,
			  struct reg_host *h)
{
	struct registry_sqlite *r = RS(reg);

	return registry_host_query(r, "SELECT " HOST_COLS
				   " FROM hosts WHERE name = ?",
				   &r->st_by_name, name, h);
}

static int registry_sqlite_host_by_ip(struct registry *reg, uint32_t ip, struct reg_host *h)
{
	struct registry_sqlite *r = RS(reg);
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	return registry_host_query(r, "SELECT " HOST_COLS
				   " FROM hosts WHERE overlay_ip = ?",
				   &r->st_by_ip, addr, h);
}

static int registry_sqlite_host_foreach(struct registry *reg,
			  int (*cb)(const struct reg_host *h, void *arg),
			  void *arg)
{
	struct registry_sqlite *r = RS(reg);
	struct reg_host h;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (registry_prepare(r, "SELECT " HOST_COLS " FROM hosts ORDER BY name",
			     &st))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = registry_row_host(st, &h);
		if (!ret)
			ret = cb(&h, arg);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = -EIO;
	sqlite3_finalize(st);
	return ret;
}

static int registry_sqlite_begin(struct registry *reg)
{
	struct registry_sqlite *r = RS(reg);

	registry_sqlite_read_end(&r->base);
	return sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	       SQLITE_OK ? 0 : -EIO;
}

static void registry_sqlite_rollback(struct registry *reg)
{
	struct registry_sqlite *r = RS(reg);

	if (!sqlite3_get_autocommit(r->db))
		sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

static int registry_sqlite_commit(struct registry *reg)
{
	struct registry_sqlite *r = RS(reg);

	if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	registry_sqlite_rollback(&r->base);
	return -EIO;
}

static int registry_sqlite_token_take(struct registry *reg, const char *id,
			const uint8_t hash[32], int64_t now,
			struct reg_token *t, const char **why)
{
	struct registry_sqlite *r = RS(reg);
	sqlite3_stmt *st;
	int ret;

	if (registry_prepare(r, "SELECT hash, name, expires_at, used, tags, "
			     "routes FROM tokens WHERE id = ?", &st))
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	ret = sqlite3_step(st);
	if (ret != SQLITE_ROW) {
		sqlite3_finalize(st);
		*why = "unknown token id";
		return ret == SQLITE_DONE ? -EACCES : -EIO;
	}
	ret = -EACCES;
	if (sqlite3_column_bytes(st, 0) != 32 ||
	    CRYPTO_memcmp(sqlite3_column_blob(st, 0), hash, 32)) {
		*why = "token secret does not match";
		goto out;
	}
	if (sqlite3_column_int(st, 3)) {
		*why = "token already used";
		goto out;
	}
	if (sqlite3_column_int64(st, 2) <= now) {
		*why = "token expired";
		goto out;
	}
	registry_copy(t->name, sizeof(t->name), sqlite3_column_text(st, 1));
	registry_copy(t->tags, sizeof(t->tags), sqlite3_column_text(st, 4));
	registry_copy(t->routes, sizeof(t->routes), sqlite3_column_text(st, 5));
	ret = 0;
out:
	sqlite3_finalize(st);
	if (ret)
		return ret;
	if (registry_prepare(r, "UPDATE tokens SET used = 1, used_at = ? "
			     "WHERE id = ?", &st))
		return -EIO;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	ret = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return ret;
}

static int registry_sqlite_next_ip_get(struct registry *reg, uint32_t *next)
{
	struct registry_sqlite *r = RS(reg);
	sqlite3_stmt *st;
	int ret = -EIO;

	if (registry_prepare(r, "SELECT next_ip FROM meta WHERE id = 1", &st))
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*next = (uint32_t)sqlite3_column_int64(st, 0);
		ret = 0;
	}
	sqlite3_finalize(st);
	return ret;
}

static int registry_sqlite_next_ip_set(struct registry *reg, uint32_t next)
{
	struct registry_sqlite *r = RS(reg);
	sqlite3_stmt *st;
	int ret;

	if (registry_prepare(r, "UPDATE meta SET next_ip = ? WHERE id = 1", &st))
		return -EIO;
	sqlite3_bind_int64(st, 1, next);
	ret = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return ret;
}

static int registry_sqlite_host_add(struct registry *reg, const struct reg_host *h)
{
	struct registry_sqlite *r = RS(reg);
	char addr[INET_ADDRSTRLEN];
	sqlite3_stmt *st;
	int rc, ret;

	inet_ntop(AF_INET, &h->overlay_ip, addr, sizeof(addr));
	if (registry_prepare(r, "INSERT INTO hosts (" HOST_COLS ") "
			     "VALUES (?, ?, ?, ?, ?, ?, ?)", &st))
		return -EIO;
	sqlite3_bind_text(st, 1, h->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, h->cert_serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, h->tags, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, h->routes, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, h->enrolled_at);
	sqlite3_bind_int(st, 7, h->revoked);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = 0;
	else if ((sqlite3_extended_errcode(r->db) & 0xff) == SQLITE_CONSTRAINT)
		ret = -EEXIST;
	else
		ret = -EIO;
	sqlite3_finalize(st);
	return ret;
}

static int registry_sqlite_revoke(struct registry *reg, const char *name, int64_t now,
		    struct reg_host *h)
{
	struct registry_sqlite *r = RS(reg);
	sqlite3_stmt *st = NULL;
	int ret;

	ret = registry_sqlite_begin(&r->base);
	if (ret)
		return ret;
	ret = registry_sqlite_host_by_name(&r->base, name, h);
	if (ret)
		goto err;
	ret = -EIO;
	if (registry_prepare(r, "UPDATE hosts SET revoked = 1 WHERE name = ?",
			     &st))
		goto err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto err;
	sqlite3_finalize(st);
	/* The serial too: even a restored old registry row cannot bring the
	 * certificate back. */
	if (registry_prepare(r, "INSERT OR IGNORE INTO revoked_certs "
			     "(serial, name, revoked_at) VALUES (?, ?, ?)", &st))
		goto err;
	sqlite3_bind_text(st, 1, h->cert_serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto err;
	sqlite3_finalize(st);
	st = NULL;
	ret = registry_sqlite_commit(&r->base);
	if (ret)
		goto err;
	return 0;

err:
	sqlite3_finalize(st);
	registry_sqlite_rollback(&r->base);
	return ret;
}

static int registry_sqlite_serial_revoked(struct registry *reg, const char *serial)
{
	struct registry_sqlite *r = RS(reg);
	sqlite3_stmt *st;
	int ret;

	if (registry_prepare(r, "SELECT 1 FROM revoked_certs WHERE serial = ?",
			     &st))
		return -EIO;
	registry_sqlite_read_begin(r);
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		ret = 1;
		break;
	case SQLITE_DONE:
		ret = 0;
		break;
	default:
		ret = -EIO;
	}
	sqlite3_finalize(st);
	return ret;
}

static int registry_sqlite_policy_get(struct registry *reg, char **text)
{
	struct registry_sqlite *r = RS(reg);
	sqlite3_stmt *st;
	int ret;

	*text = NULL;
	if (registry_prepare(r, "SELECT text FROM policy WHERE id = 1", &st))
		return -EIO;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*text = strdup((const char *)sqlite3_column_text(st, 0) ?
			       (const char *)sqlite3_column_text(st, 0) : "");
		ret = *text ? 0 : -ENOMEM;
		break;
	case SQLITE_DONE:
		ret = -ENOENT;
		break;
	default:
		ret = -EIO;
	}
	sqlite3_finalize(st);
	return ret;
}

static int registry_sqlite_policy_set(struct registry *reg, const char *text, int64_t now)
{
	struct registry_sqlite *r = RS(reg);
	sqlite3_stmt *st;
	int ret = -EIO;

	if (registry_prepare(r, "INSERT OR REPLACE INTO policy (id, text, set_at) "
			     "VALUES (1, ?, ?)", &st))
		return -EIO;
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) == SQLITE_DONE)
		ret = 0;
	sqlite3_finalize(st);
	return ret;
}

static const struct registry_ops registry_sqlite_ops = {
	.name = "sqlite",
	.close = registry_sqlite_close,
	.schema_version = registry_sqlite_schema_version,
	.overlay = registry_sqlite_overlay,
	.token_add = registry_sqlite_token_add,
	.host_by_name = registry_sqlite_host_by_name,
	.host_by_ip = registry_sqlite_host_by_ip,
	.host_foreach = registry_sqlite_host_foreach,
	.begin = registry_sqlite_begin,
	.commit = registry_sqlite_commit,
	.rollback = registry_sqlite_rollback,
	.token_take = registry_sqlite_token_take,
	.next_ip_get = registry_sqlite_next_ip_get,
	.next_ip_set = registry_sqlite_next_ip_set,
	.host_add = registry_sqlite_host_add,
	.read_batch = registry_sqlite_read_batch,
	.read_end = registry_sqlite_read_end,
	.revoke = registry_sqlite_revoke,
	.serial_revoked = registry_sqlite_serial_revoked,
	.policy_get = registry_sqlite_policy_get,
	.policy_set = registry_sqlite_policy_set,
};
