/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv registry: hosts, enrollment tokens, revocations and the policy.
 * One interface, two backends chosen by where the registry lives:
 *   DIR/registry.db    SQLite, embedded (the default; registry_sqlite.c)
 *   DIR/registry.url   one line "postgresql://...": PostgreSQL through
 *                      libpq (registry_pg.c); replicas share it
 *
 * Schema (same tables and meaning in both; versioned, see
 * registry_migrate() and docs/operations.md "Registry schema"):
 *   schema_version(version)         one row: migrations applied
 *   meta(id=1, overlay TEXT "A.B.C.D/N", next_ip INTEGER host order)
 *   hosts(name PRIMARY KEY, overlay_ip TEXT UNIQUE, cert_serial TEXT,
 *         tags TEXT, routes TEXT, enrolled_at INTEGER, revoked BOOL)
 *   tokens(id PRIMARY KEY, hash BLOB sha256(secret), name, expires_at,
 *          used BOOL, tags TEXT, routes TEXT, used_at INTEGER)
 *   policy(id=1, text, set_at)      the access policy (policy.h format)
 *   revoked_certs(serial PRIMARY KEY, name, revoked_at)
 *   replicas(id PRIMARY KEY, addr, seen_at)   servers sharing the registry
 *   online(name PRIMARY KEY, replica, since)  which replica holds which host
 * tags and routes are comma-separated lists. No session key is ever
 * stored: keys live in the servers' memory only.
 */
#ifndef AUTHSRV_REGISTRY_H
#define AUTHSRV_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "authsrv.h"
#include "mavpn/ctlmsg.h"

struct registry;

struct reg_host {
	char name[CTLMSG_NAME_MAX];
	uint32_t overlay_ip;		/* network order */
	char cert_serial[AUTHSRV_SERIAL_HEX_MAX];
	char tags[512];
	char routes[512];
	int64_t enrolled_at;
	bool revoked;
};

struct reg_token {
	char name[CTLMSG_NAME_MAX];
	char tags[512];
	char routes[512];
};

/*
 * @where: a file path (SQLite) or a "postgresql://" / "postgres://" URL
 * (PostgreSQL). Create a new registry there (-EEXIST if there is one; the
 * schema is made by the migrations, then the overlay is stored).
 */
int registry_create(const char *where, uint32_t net, uint8_t plen);
/* Open an existing registry and bring its schema up to date (forward
 * migrations, in order, in one transaction). NULL + errno: ENOENT if
 * missing, EPROTO if its schema is newer than this program's, EIO. */
struct registry *registry_open(const char *where);
void registry_close(struct registry *r);

/* Why the last registry_open/_create failed, one line ("" if unknown). */
const char *registry_error(void);
void registry_set_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Backends log query failures only when asked (the server); the CLI
 * reports registry_error() in its one line instead. */
void registry_log_errors(bool on);
bool registry_logging(void);
/* true for a PostgreSQL URL. */
bool registry_is_url(const char *where);
/* Where the registry of state directory @dir lives: the URL in
 * DIR/registry.url if that file exists, else DIR/registry.db.
 * 0, -ENAMETOOLONG, -EINVAL (a registry.url that is not one URL line). */
int registry_locate(const char *dir, char *where, size_t len);
/* @where for messages: a URL's password replaced by "***". */
const char *registry_describe(const char *where, char *buf, size_t len);
/* The schema version this program writes, and the one @r has. */
#define REGISTRY_SCHEMA_VERSION	4
int registry_schema_version(struct registry *r);

int registry_overlay(struct registry *r, uint32_t *net, uint8_t *plen);

int registry_token_add(struct registry *r, const char *id,
		       const uint8_t hash[32], const char *name,
		       int64_t expires_at, const char *tags,
		       const char *routes);

/* 0, -ENOENT, -EIO */
int registry_host_by_name(struct registry *r, const char *name,
			  struct reg_host *h);
int registry_host_by_ip(struct registry *r, uint32_t ip, struct reg_host *h);
/* Calls @cb for each host ordered by name; stops at a non-zero return. */
int registry_host_foreach(struct registry *r,
			  int (*cb)(const struct reg_host *h, void *arg),
			  void *arg);

/* Enrollment transaction: begin (IMMEDIATE), take the token, allocate an
 * address, add the host, commit. Any failure: rollback. */
int registry_begin(struct registry *r);
int registry_commit(struct registry *r);
void registry_rollback(struct registry *r);
/*
 * Inside a transaction: check token @id against sha256(secret) @hash (in
 * constant time), unused and not expired at @now; mark it used. 0, or
 * -EACCES with @why (for the audit log only: the client always hears the
 * same generic reason), -EIO.
 */
int registry_token_take(struct registry *r, const char *id,
			const uint8_t hash[32], int64_t now,
			struct reg_token *t, const char **why);
/* Next free overlay address (skips network, .1 = server, broadcast). */
int registry_alloc_ip(struct registry *r, uint32_t *ip);
/* -EEXIST if the name is taken. */
int registry_host_add(struct registry *r, const struct reg_host *h);

/* Server: let lookups share one read transaction, ended by
 * registry_read_end() once per event-loop pass (see registry.c). */
void registry_read_batch(struct registry *r, bool on);
void registry_read_end(struct registry *r);

/* Mark @name revoked and its certificate serial refused, in one
 * transaction; @h gets the host as it was. 0, -ENOENT, -EIO. */
int registry_revoke(struct registry *r, const char *name, int64_t now,
		    struct reg_host *h);
/* 1 if @serial was revoked, 0 if not, -EIO. */
int registry_serial_revoked(struct registry *r, const char *serial);
/* The stored policy text (malloc'd) or -ENOENT when none was set. */
int registry_policy_get(struct registry *r, char **text);
int registry_policy_set(struct registry *r, const char *text, int64_t now);

/*
 * Replicas: several servers on one PostgreSQL registry (-EOPNOTSUPP on
 * SQLite, where one server holds the file).
 *
 * registry_listen(): LISTEN for fleet changes; registry_fd() is the
 * socket to poll for them (it changes after a reconnect: ask after every
 * pass). registry_notifications() reads what arrived and calls @cb with
 * each payload: "revoke NAME", "policy".
 */
bool registry_shared(struct registry *r);
int registry_listen(struct registry *r);
int registry_fd(struct registry *r);
int registry_notifications(struct registry *r,
			   void (*cb)(void *arg, const char *payload),
			   void *arg);
/* This replica (@id, reachable at @addr) is alive at @now; with @reset,
 * forget the hosts an earlier run of it held. */
int registry_replica_beat(struct registry *r, const char *id,
			  const char *addr, int64_t now, bool reset);
/* The hosts @id holds now (@n names with their since), replacing what
 * it held before; not synchronous to disk (a lost row only costs an
 * "online" that the next beat repairs). */
int registry_online_sync(struct registry *r, const char *id,
			 const char *const *names, const int64_t *since,
			 size_t n);
/* Hosts online on a replica seen at or after @alive_since: @cb(name,
 * replica id, arg). */
int registry_online_foreach(struct registry *r, int64_t alive_since,
			    int (*cb)(const char *name, const char *replica,
				      void *arg),
			    void *arg);

/* ---- for the backends only ---- */

/* Each backend fills one table; registry.c dispatches. A NULL hook is a
 * no-op (read batching is SQLite's). */
struct registry_ops {
	const char *name;
	void (*close)(struct registry *r);
	int (*schema_version)(struct registry *r);
	int (*overlay)(struct registry *r, uint32_t *net, uint8_t *plen);
	int (*token_add)(struct registry *r, const char *id,
			 const uint8_t hash[32], const char *name,
			 int64_t expires_at, const char *tags,
			 const char *routes);
	int (*host_by_name)(struct registry *r, const char *name,
			    struct reg_host *h);
	int (*host_by_ip)(struct registry *r, uint32_t ip, struct reg_host *h);
	int (*host_foreach)(struct registry *r,
			    int (*cb)(const struct reg_host *h, void *arg),
			    void *arg);
	int (*begin)(struct registry *r);
	int (*commit)(struct registry *r);
	void (*rollback)(struct registry *r);
	int (*token_take)(struct registry *r, const char *id,
			  const uint8_t hash[32], int64_t now,
			  struct reg_token *t, const char **why);
	/* Inside a transaction: meta.next_ip, locked until the commit. */
	int (*next_ip_get)(struct registry *r, uint32_t *next);
	int (*next_ip_set)(struct registry *r, uint32_t next);
	int (*host_add)(struct registry *r, const struct reg_host *h);
	void (*read_batch)(struct registry *r, bool on);
	void (*read_end)(struct registry *r);
	int (*revoke)(struct registry *r, const char *name, int64_t now,
		      struct reg_host *h);
	int (*serial_revoked)(struct registry *r, const char *serial);
	int (*policy_get)(struct registry *r, char **text);
	int (*policy_set)(struct registry *r, const char *text, int64_t now);
	/* replicas (NULL: not shared) */
	int (*listen)(struct registry *r);
	int (*fd)(struct registry *r);
	int (*notifications)(struct registry *r,
			     void (*cb)(void *arg, const char *payload),
			     void *arg);
	int (*replica_beat)(struct registry *r, const char *id,
			    const char *addr, int64_t now, bool reset);
	int (*online_sync)(struct registry *r, const char *id,
			   const char *const *names, const int64_t *since,
			   size_t n);
	int (*online_foreach)(struct registry *r, int64_t alive_since,
			      int (*cb)(const char *name, const char *replica,
					void *arg),
			      void *arg);
};

/* The first member of each backend's own struct. */
struct registry {
	const struct registry_ops *ops;
};

#endif /* AUTHSRV_REGISTRY_H */
