// SPDX-License-Identifier: GPL-2.0-only
/*
 * The record codec (lib/record.c, docs/protocol.md "Records"): header
 * round trip and rejects, the sender's split, and reassembly: in order,
 * reordered, a lost datagram (the record is dropped on the timeout and
 * every buffer comes back), duplicated and truncated datagrams, a cnt
 * that disagrees, slots exhausted (the oldest record goes), two keys.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/record.h"

#define T0	5000ull

static uint64_t dropped[256];
static unsigned int ndropped;

static void on_drop(void *arg, uint64_t handle)
{
	(void)arg;
	assert_true(ndropped < 256);
	dropped[ndropped++] = handle;
}

static int setup(void **state)
{
	static struct rec_reasm r;

	rec_reasm_init(&r, on_drop, NULL);
	ndropped = 0;
	*state = &r;
	return 0;
}

static struct rec_hdr hdr(uint32_t key, uint64_t base, unsigned int idx,
			  unsigned int cnt)
{
	return (struct rec_hdr){ .idx = (uint8_t)idx, .cnt = (uint8_t)cnt,
				 .key_id = key, .counter = base + idx };
}

static void test_header(void **state)
{
	uint8_t b[REC_HDR_LEN + MAVPN_TAG_LEN + 1] = { 0 };
	struct rec_hdr h = hdr(0xdeadbeef, 0x0102030405060708ull, 3, 16), g;

	(void)state;
	rec_hdr_encode(b, &h);
	assert_int_equal(b[0], 16);
	assert_int_equal(b[1], 2);
	assert_int_equal(b[2], 3);
	assert_int_equal(b[3], 16);
	assert_int_equal(rec_hdr_decode(b, sizeof(b), &g), 0);
	assert_int_equal(g.idx, 3);
	assert_int_equal(g.cnt, 16);
	assert_int_equal(g.key_id, 0xdeadbeef);
	assert_true(g.counter == h.counter);
	assert_true(rec_base(&g) == 0x0102030405060708ull);

	/* truncated: header + tag, no ciphertext */
	assert_int_equal(rec_hdr_decode(b, sizeof(b) - 1, &g), -EBADMSG);
	b[0] = MAVPN_MSG_DATA;			/* a type-1 datagram */
	assert_int_equal(rec_hdr_decode(b, sizeof(b), &g), -EBADMSG);
	b[0] = 16;
	b[1] = 1;				/* wrong version */
	assert_int_equal(rec_hdr_decode(b, sizeof(b), &g), -EBADMSG);
	b[1] = 2;
	b[3] = 1;				/* a record of one */
	assert_int_equal(rec_hdr_decode(b, sizeof(b), &g), -EBADMSG);
	b[3] = 17;				/* above REC_DGRAMS_MAX */
	assert_int_equal(rec_hdr_decode(b, sizeof(b), &g), -EBADMSG);
	b[3] = 3;				/* idx 3 of 3 */
	assert_int_equal(rec_hdr_decode(b, sizeof(b), &g), -EBADMSG);
	h = hdr(1, 0, 2, 4);			/* base 0: counters start at 1 */
	rec_hdr_encode(b, &h);
	assert_int_equal(rec_hdr_decode(b, sizeof(b), &g), -EBADMSG);
}

static void test_split(void **state)
{
	unsigned int n = 0;

	(void)state;
	assert_int_equal(rec_split(1420, 1420, &n), -EINVAL);	/* one datagram */
	assert_int_equal(rec_split(1421, 1420, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rec_piece_off(1420, 1), 1420);
	assert_int_equal(rec_piece_len(1421, 1420, 0), 1420);
	assert_int_equal(rec_piece_len(1421, 1420, 1), 1);
	assert_int_equal(rec_split(16 * 1420, 1420, &n), 0);
	assert_int_equal(n, 16);
	assert_int_equal(rec_piece_len(16 * 1420, 1420, 15), 1420);
	assert_int_equal(rec_split(16 * 1420 + 1, 1420, &n), -EMSGSIZE);
	assert_int_equal(rec_split(5000, 0, &n), -EINVAL);
	assert_int_equal(rec_split(5000, REC_SEG_MAX + 1, &n), -EINVAL);
}

/* Feed a whole record split at @seg in the order @order; returns the
 * result of the last rec_add(). */
static int feed(struct rec_reasm *r, uint32_t key, uint64_t base,
		uint32_t len, uint32_t seg, const unsigned int *order,
		unsigned int n, uint64_t now)
{
	unsigned int cnt, i;
	int ret = -1;

	assert_int_equal(rec_split(len, seg, &cnt), 0);
	for (i = 0; i < n; i++) {
		struct rec_hdr h = hdr(key, base, order[i], cnt);

		ret = rec_add(r, &h, rec_piece_len(len, seg, order[i]),
			      base * 100 + order[i], now);
		if (i + 1 < n)
			assert_int_equal(ret, -EINPROGRESS);
	}
	return ret;
}

static void test_in_order(void **state)
{
	static const unsigned int order[] = { 0, 1, 2 };
	struct rec_reasm *r = *state;
	int s, i;

	s = feed(r, 7, 10, 3000, 1400, order, 3, T0);
	assert_true(s >= 0);
	assert_int_equal(r->slot[s].cnt, 3);
	assert_int_equal(rec_slot_len(&r->slot[s]), 3000);
	for (i = 0; i < 3; i++)
		assert_true(r->slot[s].buf[i] == 1000u + (unsigned int)i);
	assert_int_equal(r->slot[s].len[2], 200);
	rec_slot_release(r, s);
	assert_false(r->slot[s].used);
	assert_int_equal(ndropped, 0);
	assert_int_equal(r->records_done, 1);
	assert_int_equal(r->records_dropped, 0);
}

/* The last datagram first: seg is learnt later and checked then. */
static void test_reordered(void **state)
{
	static const unsigned int order[] = { 3, 1, 0, 2 };
	struct rec_reasm *r = *state;
	int s;

	s = feed(r, 7, 20, 4 * 1420 - 7, 1420, order, 4, T0);
	assert_true(s >= 0);
	assert_int_equal(rec_slot_len(&r->slot[s]), 4 * 1420 - 7);
	assert_true(r->slot[s].buf[0] == 2000 && r->slot[s].buf[3] == 2003);
	rec_slot_release(r, s);
	assert_int_equal(ndropped, 0);
}

/* One datagram lost: the record is dropped on the timeout, once, and
 * the buffers of the others come back. */
static void test_lost(void **state)
{
	static const unsigned int order[] = { 0, 2 };
	struct rec_reasm *r = *state;

	assert_int_equal(feed(r, 7, 30, 3000, 1400, order, 2, T0),
			 -EINPROGRESS);
	assert_int_equal(rec_expire(r, T0 + REC_TIMEOUT_MS - 1), 0);
	assert_int_equal(ndropped, 0);
	assert_int_equal(rec_expire(r, T0 + REC_TIMEOUT_MS), 1);
	assert_int_equal(ndropped, 2);
	assert_true(dropped[0] == 3000 && dropped[1] == 3002);
	assert_int_equal(r->records_dropped, 1);
	/* the missing one arriving late starts a new record, which times
	 * out in turn */
	{
		struct rec_hdr h = hdr(7, 30, 1, 3);

		assert_int_equal(rec_add(r, &h, 1400, 3001, T0 + 100),
				 -EINPROGRESS);
		rec_flush(r);
		assert_int_equal(ndropped, 3);
		assert_int_equal(r->records_dropped, 2);
	}
}

/* A second datagram for a held position is refused (not taken, the
 * record survives); a truncated one (wrong length) drops the record. */
static void test_duplicate_truncated(void **state)
{
	struct rec_reasm *r = *state;
	struct rec_hdr h0 = hdr(9, 40, 0, 3), h1 = hdr(9, 40, 1, 3),
		       h2 = hdr(9, 40, 2, 3);

	assert_int_equal(rec_add(r, &h0, 1400, 1, T0), -EINPROGRESS);
	assert_int_equal(rec_add(r, &h0, 1400, 99, T0), -EBADMSG);
	assert_int_equal(ndropped, 0);
	assert_true(rec_add(r, &h2, 10, 3, T0) == -EINPROGRESS);
	assert_true(rec_add(r, &h1, 1400, 2, T0) >= 0);
	rec_slot_release(r, 0);

	/* non-last shorter than seg */
	assert_int_equal(rec_add(r, &h0, 1400, 1, T0), -EINPROGRESS);
	assert_int_equal(rec_add(r, &h1, 1399, 2, T0), -EBADMSG);
	assert_int_equal(ndropped, 1);		/* h0's buffer back */
	assert_true(dropped[0] == 1);
	assert_int_equal(r->records_dropped, 1);

	/* last longer than seg, learnt afterwards */
	assert_int_equal(rec_add(r, &h2, 1401, 3, T0), -EINPROGRESS);
	assert_int_equal(rec_add(r, &h0, 1400, 1, T0), -EBADMSG);
	assert_int_equal(ndropped, 2);
	assert_int_equal(r->records_dropped, 2);
	/* empty */
	assert_int_equal(rec_add(r, &h0, 0, 1, T0), -EBADMSG);
}

static void test_cnt_mismatch(void **state)
{
	struct rec_reasm *r = *state;
	struct rec_hdr a = hdr(9, 50, 0, 3), b = hdr(9, 50, 1, 4);

	assert_int_equal(rec_add(r, &a, 1400, 1, T0), -EINPROGRESS);
	assert_int_equal(rec_add(r, &b, 1400, 2, T0), -EBADMSG);
	assert_int_equal(ndropped, 1);
	assert_int_equal(r->records_dropped, 1);
	b.idx = 5;				/* idx >= cnt */
	assert_int_equal(rec_add(r, &b, 1400, 2, T0), -EBADMSG);
}

/* All slots busy: a new record evicts the oldest; memory stays bounded. */
static void test_slots_bounded(void **state)
{
	struct rec_reasm *r = *state;
	unsigned int i, used = 0;

	for (i = 0; i < REC_SLOTS; i++) {
		struct rec_hdr h = hdr(1, 100 + 10 * i, 0, 2);

		assert_int_equal(rec_add(r, &h, 1000, i, T0 + i), -EINPROGRESS);
	}
	{
		struct rec_hdr h = hdr(1, 999, 0, 2);

		assert_int_equal(rec_add(r, &h, 1000, 77, T0 + 10),
				 -EINPROGRESS);
	}
	assert_int_equal(ndropped, 1);
	assert_true(dropped[0] == 0);		/* the oldest */
	for (i = 0; i < REC_SLOTS; i++)
		used += r->slot[i].used;
	assert_int_equal(used, REC_SLOTS);
	/* the same base under another key is another record */
	{
		struct rec_hdr h = hdr(2, 999, 1, 2), k = hdr(1, 999, 1, 2);
		int s1, s2;

		assert_int_equal(rec_add(r, &h, 5, 78, T0 + 11), -EINPROGRESS);
		s1 = rec_add(r, &k, 5, 79, T0 + 11);
		assert_true(s1 >= 0);
		assert_true(r->slot[s1].buf[0] == 77 && r->slot[s1].buf[1] == 79);
		rec_slot_release(r, s1);
		h.idx = 0;
		h.counter = 999;
		s2 = rec_add(r, &h, 1000, 80, T0 + 11);
		assert_true(s2 >= 0);
		rec_slot_release(r, s2);
	}
	rec_flush(r);
	for (i = 0; i < REC_SLOTS; i++)
		assert_false(r->slot[i].used);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_split),
		cmocka_unit_test_setup(test_in_order, setup),
		cmocka_unit_test_setup(test_reordered, setup),
		cmocka_unit_test_setup(test_lost, setup),
		cmocka_unit_test_setup(test_duplicate_truncated, setup),
		cmocka_unit_test_setup(test_cnt_mismatch, setup),
		cmocka_unit_test_setup(test_slots_bounded, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
