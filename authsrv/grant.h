/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv pending grants (grant.c): the second half of a key request,
 * after keysvc.c has checked it.
 *
 *   grant_start():     mint key id and key, KEY_PUSH{key_id, key, A's
 *                      name/overlay/underlay/port} to B
 *   grant_push_ack():  B --KEY_PUSH_ACK{key_id}--> srv: B has installed
 *                      the key; KEY_GRANT{req_id, key_id, key, B's
 *                      name/overlay/underlay/port} to A
 *   B silent for GRANT_ACK_TIMEOUT_MS (grant_tick) or gone
 *   (grant_session_gone): KEY_DENY to A.
 * The key lives in memory only between PUSH and GRANT and is wiped after.
 */
#ifndef AUTHSRV_GRANT_H
#define AUTHSRV_GRANT_H

#include <stdint.h>

#include "metrics.h"	/* enum deny_class */

#define GRANT_ACK_TIMEOUT_MS	5000
#define GRANT_MAX_PENDING	256	/* per requesting session */

struct audit;
struct grant_set;
struct keyid;
struct registry;
struct session;

struct grant_cfg {
	uint32_t lifetime_s;		/* KEY_PUSH/KEY_GRANT lifetime */
	uint32_t max_packets;		/* 0: not sent */
};

/* Pending grants, with their key ids in @ids. @reg: a host's LAN routes
 * for the key messages; @audit: key_grant and key_deny lines; @mt: the
 * denials by class. */
struct grant_set *grant_new(struct keyid *ids, struct registry *reg,
			    struct audit *audit, struct metrics *mt,
			    const struct grant_cfg *cfg);
void grant_free(struct grant_set *gs);

/* Mint a key for @a -> @b (@dst_ip as requested, @app may be NULL) and
 * push it to @b; on failure @a gets KEY_DENY. */
void grant_start(struct grant_set *gs, struct session *a, struct session *b,
		 uint32_t req_id, uint32_t dst_ip, const char *app,
		 uint64_t now_ms);
/* @b confirmed @key_id: KEY_GRANT to its requester. */
void grant_push_ack(struct grant_set *gs, struct session *b, uint32_t key_id);
/* @s leaves ONLINE: deny what waits for it, forget what it asked for. */
void grant_session_gone(struct grant_set *gs, struct session *s);
/* Deny the pushes unacknowledged for GRANT_ACK_TIMEOUT_MS. */
void grant_tick(struct grant_set *gs, uint64_t now_ms);

/* KEY_DENY{req_id, dst, reason} to @a, nothing else. */
void grant_deny_msg(struct session *a, uint32_t req_id, uint32_t dst,
		    const char *reason);
/* KEY_DENY to @a, counted as @cls, with its audit and log line (@peer
 * NULL: the address). */
void grant_deny(struct audit *audit, struct metrics *mt, struct session *a,
		uint32_t req_id, uint32_t dst, const char *peer, const char *app,
		enum deny_class cls, const char *reason);

#endif /* AUTHSRV_GRANT_H */
