// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rate limit of failed authentications, per source IPv4 address (see
 * ratelimit.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "authsrv.h"
#include "mavpn/log.h"
#include "mavpn/util.h"
#include "ratelimit.h"

/*
 * A direct-mapped table of token buckets: a slot is taken over by another
 * address only when its bucket is full again (nothing to remember). An
 * attacker with many addresses can evict others' buckets, but each of its
 * addresses is still held to the same burst and rate.
 */
static struct ratelimit_entry *ratelimit_slot(struct ratelimit *rl,
					      uint32_t ip, uint64_t now,
					      bool create)
{
	struct ratelimit_entry *r = &rl->slot[(ip * 2654435761u) >> 20];
	double t;

	_Static_assert(RATELIMIT_SLOTS == 1 << 12, "rl hash width");
	if (r->ip == ip) {
		t = r->tokens + (double)(now - r->last_ms) * RATELIMIT_PER_S /
				1000.0;
		r->tokens = t > RATELIMIT_BURST ? RATELIMIT_BURST : t;
		r->last_ms = now;
		return r;
	}
	if (!create)
		return NULL;
	if (r->ip) {
		t = r->tokens + (double)(now - r->last_ms) * RATELIMIT_PER_S /
				1000.0;
		if (t < RATELIMIT_BURST)
			return NULL;	/* still remembering: keep it */
	}
	memset(r, 0, sizeof(*r));
	r->ip = ip;
	r->tokens = RATELIMIT_BURST;
	r->last_ms = now;
	return r;
}

void ratelimit_auth_failed(struct ratelimit *rl, uint32_t ip)
{
	struct ratelimit_entry *r = ratelimit_slot(rl, ip, mono_ms(),
						   true);

	if (r && r->tokens >= 1)
		r->tokens -= 1;
}

bool ratelimit_admit(struct ratelimit *rl, uint32_t ip, const char *addr)
{
	uint64_t now = mono_ms();
	struct ratelimit_entry *r = ratelimit_slot(rl, ip, now, false);

	if (!r || r->tokens >= 1)
		return true;
	r->refused++;
	if (now - r->logged_ms >= 1000) {
		char why[96];

		snprintf(why, sizeof(why),
			 "too many failed authentications: %u connections refused",
			 r->refused);
		log_warn("rate limited addr=%s refused=%u", addr, r->refused);
		audit_write(rl->audit, &(struct audit_rec){
			.event = "auth_ratelimited", .addr = addr,
			.reason = why });
		r->logged_ms = now;
		r->refused = 0;
	}
	return false;
}
