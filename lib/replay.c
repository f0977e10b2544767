// SPDX-License-Identifier: GPL-2.0-only
/*
 * RFC 6479 anti-replay window.
 *
 * The bitmap is a ring of REPLAY_WORDS 64-bit words; counter c lives in
 * word (c / 64) % REPLAY_WORDS, bit c % 64. When a newer counter arrives
 * only the words it skips over are cleared, so the cost of advancing is
 * bounded by the ring size, not by the size of the jump. One word is always
 * being recycled, which is why the usable window is (REPLAY_WORDS - 1) * 64
 * counters behind the newest, not REPLAY_WORDS * 64.
 */
#include <string.h>

#include "mavpn/replay.h"

#define REPLAY_BITS_LOG2	6	/* 64 bits per word */
#define REPLAY_WORD_MASK	(REPLAY_WORDS - 1)
#define REPLAY_BIT_MASK		63

_Static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0,
	       "REPLAY_WORDS must be a power of two");

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool replay_accept(struct replay *r, uint64_t counter)
{
	uint64_t index, index_top, diff, i, bit;

	/* Counters start at 1; 0 is what an all-zero (forged or buggy)
	 * header carries, and top == 0 means "nothing seen". */
	if (counter == 0)
		return false;

	index = counter >> REPLAY_BITS_LOG2;
	if (counter > r->top) {
		index_top = r->top >> REPLAY_BITS_LOG2;
		diff = index - index_top;
		if (diff > REPLAY_WORDS)
			diff = REPLAY_WORDS;
		/* Clear the words the window slides over, including the one
		 * the new counter lands in (it held counters one ring ago). */
		for (i = 1; i <= diff; i++)
			r->bits[(index_top + i) & REPLAY_WORD_MASK] = 0;
		r->top = counter;
	} else if (r->top - counter > REPLAY_WINDOW) {
		/* Older than the window: its bit may already be recycled.
		 * top - REPLAY_WINDOW itself is still tracked (word
		 * index_top - 63) and accepted once, as replay.h says. */
		return false;
	}

	bit = 1ull << (counter & REPLAY_BIT_MASK);
	index &= REPLAY_WORD_MASK;
	if (r->bits[index] & bit)
		return false;
	r->bits[index] |= bit;
	return true;
}
