/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv key ids (keyid.c): random, nonzero 32-bit values, unique among
 * the ids this server issued in the last key lifetime + KEYID_SLACK_S
 * seconds, so no two live keys anywhere share one (pending ones included).
 * A hash set answers "in use?", a FIFO in issue order expires them in O(1)
 * (one lifetime per server run, so issue order is expiry order).
 *
 * Each record also says which two hosts (overlay addresses) may hold its
 * key: revocation asks keyid_peers_of() whom to tell. No key material.
 */
#ifndef AUTHSRV_KEYID_H
#define AUTHSRV_KEYID_H

#include <stddef.h>
#include <stdint.h>

#define KEYID_SLACK_S	60
/* Ids live lifetime + slack: at 20k grants/s and 300 s that is ~7M of
 * them, so chains stay short only with a table this size (8 MiB). */
#define KEYID_BUCKETS	(1u << 20)

struct grant;

struct keyid_rec {
	uint32_t id;
	uint32_t a_ip, b_ip;		/* requester, peer; 0 after a revoke */
	uint64_t expires_ms;
	struct grant *grant;		/* while pushed, not yet granted */
	struct keyid_rec *hnext;	/* hash chain */
	struct keyid_rec *fnext;	/* FIFO, oldest first */
};

struct keyid;

struct keyid *keyid_new(void);
void keyid_free(struct keyid *t);
/* A fresh id for a key between @a_ip and @b_ip, remembered until
 * @now_ms + @lifetime_s + KEYID_SLACK_S. NULL: no randomness or memory. */
struct keyid_rec *keyid_alloc(struct keyid *t, uint64_t now_ms,
			      uint32_t lifetime_s, uint32_t a_ip,
			      uint32_t b_ip);
struct keyid_rec *keyid_find(const struct keyid *t, uint32_t id);
/* Forget the ids that cannot be live anywhere any more. */
void keyid_expire(struct keyid *t, uint64_t now_ms);
/*
 * The hosts that may still hold a live key with @ip, sorted, each once
 * (malloc'd into @peers, count in @n; free() it). Their records forget
 * both addresses: a host is told once. Out of memory cuts the list
 * short (those keys still expire), so this returns 0.
 */
int keyid_peers_of(struct keyid *t, uint32_t ip, uint64_t now_ms,
		   uint32_t **peers, size_t *n);

#endif /* AUTHSRV_KEYID_H */
