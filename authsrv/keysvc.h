/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv key service: mints peer-to-peer keys and hands them over.
 *
 *   A --KEY_REQ{req_id, dst}--> srv        checks: dst known, != A, not
 *                                          revoked, policy, online
 *   srv --KEY_PUSH{key_id, key, A's name/overlay/underlay/port}--> B
 *   B --KEY_PUSH_ACK{key_id}--> srv        B has installed the key
 *   srv --KEY_GRANT{req_id, key_id, key, B's name/overlay/underlay/port}--> A
 * B silent for KEYSVC_ACK_TIMEOUT_MS or gone: KEY_DENY to A. The key lives
 * in memory only between PUSH and GRANT and is wiped after.
 */
#ifndef AUTHSRV_KEYSVC_H
#define AUTHSRV_KEYSVC_H

#include <stdint.h>

#include "mavpn/ctlmsg.h"

#define KEYSVC_LIFETIME_S	300	/* default of --key-lifetime */
#define KEYSVC_ACK_TIMEOUT_MS	5000
#define KEYSVC_MAX_PENDING	256	/* per requesting session */
#define KEYSVC_KEY_RATE		32	/* default --key-rate: KEY_REQ/s per
					 * session, after a burst of */
#define KEYSVC_KEY_BURST(rate)	(2 * (double)(rate))

struct server;
struct session;
struct keysvc;
struct reg_host;

struct keysvc *keysvc_new(void);
void keysvc_free(struct keysvc *k);
void keysvc_key_req(struct server *srv, struct session *a,
		    const struct ctlmsg *m);
void keysvc_push_ack(struct server *srv, struct session *b,
		     const struct ctlmsg *m);
/* @s leaves ONLINE: deny what waits for it, forget what it asked for. */
void keysvc_session_gone(struct server *srv, struct session *s);

/*
 * Gateway routes for the HELLO_ACK of host @name, as CTLA_ROUTEs: its own
 * routes (gateway: its overlay address) and every other non-revoked
 * gateway's (gateway: that host's); cut at CTLMSG_ROUTES_MAX.
 */
void keysvc_hello_routes(struct server *srv, const char *name,
			 struct ctlmsg *r);
/* @h was revoked: send KEY_REVOKE{h} to every online host that may still
 * hold a key with it, and remember @h for later HELLOs. Returns how many
 * were told. */
int keysvc_revoke(struct server *srv, const struct reg_host *h);
/* Read the revoked hosts from the registry (at start): 0 or -errno. */
int keysvc_load_revoked(struct server *srv);
/* @s said HELLO: KEY_REVOKE{name, overlay_ip} for every revoked host, so a
 * host that was offline at a revocation drops its keys with that host. */
void keysvc_hello_revokes(struct server *srv, struct session *s);
/* Time out unacknowledged pushes, expire remembered key ids. */
void keysvc_tick(struct server *srv, uint64_t now_ms);

#endif /* AUTHSRV_KEYSVC_H */
