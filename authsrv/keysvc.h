/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv key service (keysvc.c): the KEY_REQ entry. It checks a request
 * and wires the modules that do the work:
 *
 *   A --KEY_REQ{req_id, dst}--> srv     keyrate.h  per-session rate limit
 *                                       checks: A not revoked, dst known
 *                                       (registry, else gwindex.h: a LAN
 *                                       behind a gateway), != A, not
 *                                       revoked, policy, online
 *   srv --KEY_PUSH--> B, B --KEY_PUSH_ACK--> srv, srv --KEY_GRANT--> A
 *                                       grant.h (key ids: keyid.h)
 *   revocation, KEY_REVOKE at HELLO     revoke.h
 *
 * It receives what it uses (registry, gateway index, audit log, policy,
 * a way to find online sessions), not the server.
 */
#ifndef AUTHSRV_KEYSVC_H
#define AUTHSRV_KEYSVC_H

#include <stdbool.h>
#include <stdint.h>

#include "mavpn/ctlmsg.h"

#define KEYSVC_LIFETIME_S	300	/* default of --key-lifetime */
#define KEYSVC_FLOW_TTL_S	60	/* default of --flow-ttl */

struct audit;
struct metrics;
struct gwindex;
struct keysvc;
struct policy;
struct reg_host;
struct registry;
struct session;

struct keysvc_cfg {
	uint32_t key_lifetime;		/* seconds, --key-lifetime */
	uint32_t key_max_packets;	/* --key-packets, 0 = not sent */
	uint32_t key_rate;		/* --key-rate, 0 = unlimited */
	uint32_t flow_ttl;		/* --flow-ttl: seconds a host caches
					 * a flow decision */
};

/* The server's online sessions, by host name and by overlay address. */
struct keysvc_online {
	struct session *(*by_name)(void *arg, const char *name);
	struct session *(*by_ip)(void *arg, uint32_t ip);
	struct session *(*sessions)(void *arg);	/* first live session */
	void *arg;
};

struct keysvc *keysvc_new(struct registry *reg, struct gwindex *gw,
			  struct audit *audit, struct metrics *mt,
			  const struct keysvc_cfg *cfg,
			  const struct keysvc_online *online);
void keysvc_free(struct keysvc *k);
/* Read the revoked hosts from the registry (at start): 0 or -errno. */
int keysvc_load_revoked(struct keysvc *k);
/* The policy in force (NULL: all enrolled may talk); owned by the caller. */
void keysvc_set_policy(struct keysvc *k, const struct policy *p);

void keysvc_key_req(struct keysvc *k, struct session *a,
		    const struct ctlmsg *m);
void keysvc_push_ack(struct keysvc *k, struct session *b,
		     const struct ctlmsg *m);
/* FLOW_REQ from @a: FLOW_VERDICT at once (policy, revocation). */
void keysvc_flow_req(struct keysvc *k, struct session *a,
		     const struct ctlmsg *m);
/* true while no policy is stored (HELLO_ACK's policy_open). */
bool keysvc_policy_open(const struct keysvc *k);
/* The policy changed: FLOW_FLUSH to every online host. */
void keysvc_flow_flush(struct keysvc *k);
/* @s leaves ONLINE: deny what waits for it, forget what it asked for. */
void keysvc_session_gone(struct keysvc *k, struct session *s);

/*
 * Gateway routes for the HELLO_ACK of host @name, as CTLA_ROUTEs: its own
 * routes (gateway: its overlay address) and every other non-revoked
 * gateway's (gateway: that host's); cut at CTLMSG_ROUTES_MAX.
 */
void keysvc_hello_routes(struct keysvc *k, const char *name,
			 struct ctlmsg *r);
/* @s said HELLO: KEY_REVOKE for every revoked host (revoke.h). */
void keysvc_hello_revokes(struct keysvc *k, struct session *s);
/* @h was revoked: it fronts no LAN any more, and every online host that
 * may still hold a key with it gets KEY_REVOKE{h}. Returns how many were
 * told. */
int keysvc_revoke(struct keysvc *k, const struct reg_host *h);
/* Whether the host at @ip was revoked (loaded or keysvc_revoke()d). */
bool keysvc_is_revoked(const struct keysvc *k, uint32_t ip);
/* Time out unacknowledged pushes, expire remembered key ids. */
void keysvc_tick(struct keysvc *k, uint64_t now_ms);

#endif /* AUTHSRV_KEYSVC_H */
