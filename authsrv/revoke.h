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

#include <stdint.h>

struct audit;
struct keyid;
struct metrics;
struct registry;
struct revoke;
struct session;

/* The online session with overlay address @ip, or NULL. */
typedef struct session *(*revoke_online_fn)(void *arg, uint32_t ip);

/* @ids: who may hold keys with whom; @online finds whom to tell. */
struct revoke *revoke_new(struct keyid *ids, struct audit *audit,
			  struct metrics *mt, revoke_online_fn online,
			  void *arg);
void revoke_free(struct revoke *rv);
/* Read the revoked hosts from @reg (at start): 0 or -errno. */
int revoke_load(struct revoke *rv, struct registry *reg);
/* @name (@ip) was revoked: remember it for later HELLOs and send
 * KEY_REVOKE{name, ip} to every online host that may still hold a key
 * with it. Returns how many were told. */
int revoke_host(struct revoke *rv, const char *name, uint32_t ip);
/* @s said HELLO: KEY_REVOKE{name, overlay_ip} for every revoked host. */
void revoke_hello(const struct revoke *rv, struct session *s);

#endif /* AUTHSRV_REVOKE_H */
