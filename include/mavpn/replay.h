/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Anti-replay sliding window in the style of RFC 6479: a ring of 64-bit
 * words; a counter is accepted once, if it is newer than the newest seen or
 * within REPLAY_WINDOW of it and not seen yet. Not thread safe: the caller
 * serialises per window.
 */
#ifndef MAVPN_REPLAY_H
#define MAVPN_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_WORDS	64		/* ring size in 64-bit words (power of 2) */
/* Counters this far behind the newest are still accepted once:
 * top - REPLAY_WINDOW is accepted, top - REPLAY_WINDOW - 1 is not. */
#define REPLAY_WINDOW	((REPLAY_WORDS - 1) * 64)	/* 4032 */

struct replay {
	uint64_t top;			/* newest accepted counter, 0 = none */
	uint64_t bits[REPLAY_WORDS];
};

void replay_init(struct replay *r);

/*
 * Check @counter (must be >= 1) and, if it is acceptable, record it.
 * Returns true if accepted. Call only after the datagram authenticated.
 * Counter 0 is always refused.
 */
bool replay_accept(struct replay *r, uint64_t counter);

#endif /* MAVPN_REPLAY_H */
