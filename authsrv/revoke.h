/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv revocation on the running server (revoke.c): the revoked set,
 * telling the peers of a revoked host, and repeating it at HELLO.
 *
 * A host that is offline when a peer is revoked keeps its keys with that
 * peer (its data plane runs on without the channel) and would never hear
 * KEY_REVOKE. So every HELLO is followed by KEY_REVOKE for every revoked
 * host: harmless to a host that holds no key with it. The set lives in
 * memory (loaded at start, so a revocation made while the server was down
 * counts; extended by revoke_host()), because reading the registry at
 * every HELLO would cost a table scan per connection. Revoked hosts keep
 * their registry row, so their overlay address is never given to another
 * host and the message cannot hit an innocent peer.
 */
#ifndef AUTHSRV_REVOKE_H
#define AUTHSRV_REVOKE_H

#include <stdbool.h>
#include <stdint.h>

struct audit;
struct keyid;
struct metrics;
struct registry;
struct revoke;
struct session;

/* The first of the server's live sessions (a ->next list), or NULL. */
typedef struct session *(*revoke_sessions_fn)(void *arg);

/* @ids: who may hold keys with whom (for the audit); @sessions: whom to
 * tell (every online one). */
struct revoke *revoke_new(struct keyid *ids, struct audit *audit,
			  struct metrics *mt, revoke_sessions_fn sessions,
			  void *arg);
void revoke_free(struct revoke *rv);
/* Read the revoked hosts from @reg (at start): 0 or -errno. */
int revoke_load(struct revoke *rv, struct registry *reg);
/* @name (@ip) was revoked: remember it for later HELLOs and send
 * KEY_REVOKE{name, ip} to every online host (any may hold a key with it:
 * the server's key records do not survive a restart). Returns how many
 * were told. */
int revoke_host(struct revoke *rv, const char *name, uint32_t ip);
/* Whether @ip is in the revoked set (replicas: acted on already). */
bool revoke_has(const struct revoke *rv, uint32_t ip);
/* @s said HELLO: KEY_REVOKE{name, overlay_ip} for every revoked host. */
void revoke_hello(const struct revoke *rv, struct session *s);

#endif /* AUTHSRV_REVOKE_H */
