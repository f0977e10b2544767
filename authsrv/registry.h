/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv registry: the SQLite database of hosts and enrollment tokens.
 *
 * Schema (journal_mode=WAL, synchronous=FULL):
 *   meta(id=1, overlay TEXT "A.B.C.D/N", next_ip INTEGER host order)
 *   hosts(name PRIMARY KEY, overlay_ip TEXT UNIQUE, cert_serial TEXT,
 *         tags TEXT, routes TEXT, enrolled_at INTEGER, revoked INTEGER)
 *   tokens(id PRIMARY KEY, hash BLOB sha256(secret), name, expires_at,
 *          used INTEGER, tags TEXT, routes TEXT)
 *   policy(id=1, text, set_at)      the access policy (policy.h format)
 *   revoked_certs(serial PRIMARY KEY, name, revoked_at)
 * tags and routes are comma-separated lists.
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

/* Create a new database at @path (-EEXIST if there is one). */
int registry_create(const char *path, uint32_t net, uint8_t plen);
/* Open an existing database. NULL + errno (ENOENT if missing). */
struct registry *registry_open(const char *path);
void registry_close(struct registry *r);

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

#endif /* AUTHSRV_REGISTRY_H */
