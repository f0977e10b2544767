/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv: rate limit of failed authentications, per source IPv4 address
 * (ratelimit.c): a token bucket per address in a direct-mapped table.
 */
#ifndef AUTHSRV_RATELIMIT_H
#define AUTHSRV_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct server;
struct session;

#define RATELIMIT_SLOTS		4096	/* failure rate limit, per source IP */
#define RATELIMIT_BURST		20	/* failures allowed in a burst */
#define RATELIMIT_PER_S		1	/* then this many per second */

/* Failed authentications per source address (token bucket). */
struct ratelimit_entry {
	uint32_t ip;			/* network order; 0 = free slot */
	uint32_t refused;		/* connections refused since last log */
	double tokens;
	uint64_t last_ms, logged_ms;
};

/* A failed authentication from @s's address: spends a rate-limit token. */
void ratelimit_auth_failed(struct server *srv, struct session *s);
/* May a new connection from @ip (@addr for the log) start? Refusals are
 * logged and audited once a second. */
bool ratelimit_admit(struct server *srv, uint32_t ip, const char *addr);

#endif /* AUTHSRV_RATELIMIT_H */
