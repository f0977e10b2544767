// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for records (lib/record.c): the header decoder on raw
 * input, and the reassembly on a sequence of datagrams read from the
 * input — lost, reordered, duplicated, truncated, with clashing cnt and
 * time jumps — checked against its contract: every buffer handed to
 * rec_add() comes back exactly once (completed, refused, or dropped),
 * never more than REC_SLOTS records are held, and a completed record has
 * cnt pieces of one seg each but the last (1..seg).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "mavpn/record.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

#define MAX_OPS 4096
enum { NEVER, HELD, BACK };
static uint8_t state[MAX_OPS];
static unsigned int held;

static void on_drop(void *arg, uint64_t handle)
{
	(void)arg;
	CHECK(handle < MAX_OPS && state[handle] == HELD);
	state[handle] = BACK;
	held--;
}

static void fuzz_header(const uint8_t *data, size_t size)
{
	uint8_t out[REC_HDR_LEN];
	struct rec_hdr h;

	if (rec_hdr_decode(data, size, &h)) {
		CHECK(size < REC_HDR_LEN + MAVPN_TAG_LEN + 1 || data[0] != 16 ||
		      data[1] != 2 || data[3] < 2 || data[3] > REC_DGRAMS_MAX ||
		      data[2] >= data[3] ||
		      h.counter <= h.idx);
		return;
	}
	CHECK(h.idx < h.cnt && h.cnt >= 2 && h.cnt <= REC_DGRAMS_MAX);
	CHECK(rec_base(&h) >= 1);
	rec_hdr_encode(out, &h);
	CHECK(memcmp(out, data, REC_HDR_LEN) == 0);
}

/* A completed slot: its pieces are well shaped; take its buffers back. */
static void take(struct rec_reasm *r, int s)
{
	const struct rec_slot *sl = &r->slot[s];
	unsigned int i;

	CHECK(sl->used && sl->have == sl->cnt);
	for (i = 0; i < sl->cnt; i++) {
		CHECK(sl->mask & (1u << i));
		CHECK(sl->len[i] >= 1 && sl->len[i] <= REC_SEG_MAX);
		if (i + 1 < sl->cnt)
			CHECK(sl->len[i] == sl->len[0]);
		else
			CHECK(sl->len[i] <= sl->len[0]);
		CHECK(sl->buf[i] < MAX_OPS && state[sl->buf[i]] == HELD);
		state[sl->buf[i]] = BACK;
		held--;
	}
	rec_slot_release(r, s);
}

/*
 * Ops of 5 bytes: key (2 bits) and base (6 bits, + 1); idx; cnt (raw:
 * some out of range); length selector (seg-ish or small); time step.
 */
static void fuzz_reasm(const uint8_t *p, size_t n)
{
	static struct rec_reasm r;
	uint64_t now = 1000;
	unsigned int ops = 0, i, used;
	int ret;

	rec_reasm_init(&r, on_drop, NULL);
	memset(state, 0, sizeof(state));
	held = 0;
	while (n >= 5 && ops < MAX_OPS) {
		struct rec_hdr h = {
			.key_id = p[0] >> 6,
			.idx = p[1],
			.cnt = p[2] % 20,
		};
		uint32_t len = p[3] < 128 ? 1400 : p[3] < 192 ? 1399 :
			       (uint32_t)(p[3] - 191) * 40;

		h.counter = (uint64_t)(p[0] & 0x3f) + 1 + h.idx;
		now += p[4] < 200 ? 0 : (uint64_t)(p[4] - 199);
		p += 5;
		n -= 5;
		state[ops] = HELD;
		held++;
		ret = rec_add(&r, &h, len, ops, now);
		if (ret == -EBADMSG) {
			CHECK(state[ops] == HELD);	/* not taken */
			state[ops] = BACK;
			held--;
		} else if (ret >= 0) {
			CHECK(ret < REC_SLOTS);
			take(&r, ret);
		} else {
			CHECK(ret == -EINPROGRESS);
		}
		used = 0;
		for (i = 0; i < REC_SLOTS; i++)
			used += r.slot[i].used;
		CHECK(used <= REC_SLOTS);
		CHECK(held <= REC_SLOTS * REC_DGRAMS_MAX);
		ops++;
	}
	rec_flush(&r);
	CHECK(held == 0);
	for (i = 0; i < ops; i++)
		CHECK(state[i] == BACK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_header(data, size);
	fuzz_reasm(data, size);
	return 0;
}
