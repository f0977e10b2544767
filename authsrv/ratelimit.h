/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv: rate limit of failed authentications, per source IPv4 address
 * (ratelimit.c): a token bucket per address in a direct-mapped table.
 */
#ifndef AUTHSRV_RATELIMIT_H
#define AUTHSRV_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct audit;

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

/* The table; all zero = empty. Refusals are audited to @audit. */
struct ratelimit {
	struct audit *audit;
	struct ratelimit_entry slot[RATELIMIT_SLOTS];
};

/* A failed authentication from @ip (network order): spends a token. */
void ratelimit_auth_failed(struct ratelimit *rl, uint32_t ip);
/* May a new connection from @ip (@addr for the log) start? Refusals are
 * logged and audited once a second. */
bool ratelimit_admit(struct ratelimit *rl, uint32_t ip, const char *addr);

#endif /* AUTHSRV_RATELIMIT_H */
