// SPDX-License-Identifier: GPL-2.0-only
/*
 * Replay window tests, table-driven like WireGuard's selftest/counter.c:
 * each sequence starts from a fresh window and lists counters with the
 * expected verdict. W is REPLAY_WINDOW: top - W is the oldest counter still
 * accepted, top - W - 1 the newest one refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/replay.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define W	((uint64_t)REPLAY_WINDOW)
#define RING	((uint64_t)REPLAY_WORDS * 64)	/* 4096 */
#define BIG	(1ull << 40)

struct step {
	uint64_t ctr;
	bool ok;
};

struct seq {
	const char *name;
	const struct step *steps;
	size_t n;
};

#define SEQ(name, ...) { name, (const struct step[]){ __VA_ARGS__ }, \
	sizeof((const struct step[]){ __VA_ARGS__ }) / sizeof(struct step) }

static const struct seq seqs[] = {
	SEQ("zero is never accepted",
	    { 0, false }, { 1, true }, { 0, false }, { 2, true }, { 0, false }),
	SEQ("in order",
	    { 1, true }, { 2, true }, { 3, true }, { 4, true }, { 5, true },
	    { 6, true }, { 63, true }, { 64, true }, { 65, true }),
	SEQ("duplicates",
	    { 1, true }, { 1, false }, { 2, true }, { 2, false }, { 1, false },
	    { 3, true }, { 3, false }, { 2, false }),
	SEQ("out of order inside the window",
	    { 10, true }, { 5, true }, { 9, true }, { 1, true }, { 5, false },
	    { 10, false }, { 11, true }, { 4, true }, { 4, false },
	    { 64, true }, { 63, true }, { 65, true }, { 64, false }),
	SEQ("exact window edge",
	    { W + 10, true }, { 10, true }, { 9, false }, { 10, false },
	    { 11, true }, { W + 9, true }, { W + 10, false },
	    { W + 11, true }, { 10, false }, { 11, false }, { 12, true }),
	SEQ("first counter already far",
	    { W + 5, true }, { 1, false }, { 4, false }, { 5, true },
	    { 6, true }, { W + 4, true }, { W + 5, false }),
	SEQ("far jump",
	    { 1, true }, { 2, true }, { BIG, true }, { 3, false },
	    { BIG - W, true }, { BIG - W - 1, false }, { BIG - 1, true },
	    { BIG, false }, { BIG + 1, true }, { BIG - W, false },
	    { BIG - W + 1, true }, { BIG - W + 1, false }),
	SEQ("ring word reused after a wrap is cleared",
	    /* 1..3 and 62, 63 sit in word 0; RING + x lands in word 0 too */
	    { 1, true }, { 2, true }, { 3, true }, { 62, true }, { 63, true },
	    { RING + 1, true }, { RING + 2, true }, { RING + 3, true },
	    { RING + 62, true }, { RING + 63, true }, { 2, false },
	    { RING + 2, false }),
	SEQ("jump of exactly one ring",
	    { 100, true }, { 100 + RING, true }, { 100, false },
	    { 100 + RING - W, true }, { 99 + RING - W, false },
	    { 100 + RING - 1, true }, { 100 + RING - W, false }),
	SEQ("jump of exactly the window",
	    { 1, true }, { 1 + W, true }, { 1, false }, { 2, true },
	    { 1 + W, false }, { 2 + W, true }, { 2, false }, { 3, true }),
	SEQ("jump of one word at a word boundary",
	    { 63, true }, { 64, true }, { 127, true }, { 128, true },
	    { 63, false }, { 126, true }, { 65, true }),
	SEQ("jump beyond the ring",
	    { 5, true }, { 6, true }, { 5 + 100000, true }, { 6, false },
	    { 5 + 100000 - W, true }, { 5 + 100000 - W - 1, false },
	    { 6 + 100000, true }),
	SEQ("top of the counter space",
	    { UINT64_MAX - 1, true }, { UINT64_MAX, true },
	    { UINT64_MAX, false }, { UINT64_MAX - 1, false },
	    { UINT64_MAX - W, true }, { UINT64_MAX - W - 1, false },
	    { 1, false }),
};

static void test_sequences(void **state)
{
	struct replay r;
	size_t s, i;
	bool got;

	(void)state;
	for (s = 0; s < ARRAY_SIZE(seqs); s++) {
		replay_init(&r);
		for (i = 0; i < seqs[s].n; i++) {
			got = replay_accept(&r, seqs[s].steps[i].ctr);
			if (got != seqs[s].steps[i].ok)
				fail_msg("sequence \"%s\" step %zu: counter "
					 "%llu %s, expected %s", seqs[s].name,
					 i + 1,
					 (unsigned long long)seqs[s].steps[i].ctr,
					 got ? "accepted" : "rejected",
					 seqs[s].steps[i].ok ? "accept" : "reject");
		}
	}
}

/* Every counter of a full window, newest first, is accepted exactly once. */
static void test_full_window(void **state)
{
	const uint64_t top = 3 * RING + 17;
	struct replay r;
	uint64_t c;
	int pass;

	(void)state;
	replay_init(&r);
	assert_true(replay_accept(&r, top));
	for (pass = 0; pass < 2; pass++) {
		for (c = top - 1; c >= top - W; c--)
			assert_int_equal(replay_accept(&r, c), pass == 0);
		assert_false(replay_accept(&r, top - W - 1));
		assert_false(replay_accept(&r, top));
	}
}

/*
 * Compare with an obvious model (a flag per counter) on a pseudo-random
 * stream that mostly moves forward, sometimes jumps, and often replays.
 */
static void test_model(void **state)
{
	enum { MAXC = 1 << 24, STEPS = 200000 };
	uint64_t top = 0, c;
	struct replay r;
	bool *seen, want, got;
	unsigned int x = 12345;
	int i;

	(void)state;
	seen = calloc(MAXC + 1, sizeof(*seen));
	assert_non_null(seen);
	replay_init(&r);
	for (i = 0; i < STEPS; i++) {
		x = x * 1103515245u + 12345u;
		switch ((x >> 16) % 64) {
		case 0:		/* jump ahead up to two rings */
			c = top + 1 + (x >> 8) % (2 * RING);
			break;
		case 1 ... 4:	/* just outside or inside the edge */
			c = top > W ? top - W - 1 + (x >> 8) % 3 : top + 1;
			break;
		default:	/* near the top, both sides */
			c = top + 64 > (x >> 8) % 4200 ?
			    top + 64 - (x >> 8) % 4200 : 1;
			break;
		}
		if (c > MAXC)
			break;
		want = c && !seen[c] && (c > top || top - c <= W);
		got = replay_accept(&r, c);
		if (got != want)
			fail_msg("step %d: counter %llu top %llu: got %d want %d",
				 i, (unsigned long long)c,
				 (unsigned long long)top, got, want);
		if (want) {
			seen[c] = true;
			if (c > top)
				top = c;
		}
	}
	print_message("model: %d steps, top %llu\n", i, (unsigned long long)top);
	assert_true(i > 1000);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_full_window),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
