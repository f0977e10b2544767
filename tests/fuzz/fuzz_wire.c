// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the data-plane header and the replay window, the two
 * things a datagram from anyone on the underlay reaches before (header) and
 * right after (window) authentication.
 *
 * The header decoder gets the raw input. The window gets a counter sequence
 * read from the input and is checked against a plain model: accept iff the
 * counter is not 0, not accepted before, and newer than the newest or at
 * most REPLAY_WINDOW behind it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mavpn/replay.h"
#include "mavpn/wire.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* Open-addressing set of accepted counters; inputs are short, so it never
 * fills (at most one counter per 3 input bytes). */
#define SET_SIZE 65536
static uint64_t set_keys[SET_SIZE];
static bool set_used[SET_SIZE];

static bool set_insert(uint64_t c)	/* false if already there */
{
	uint64_t h = c * 0x9e3779b97f4a7c15ull;
	size_t i = h >> 48;

	while (set_used[i]) {
		if (set_keys[i] == c)
			return false;
		i = (i + 1) & (SET_SIZE - 1);
	}
	set_used[i] = true;
	set_keys[i] = c;
	return true;
}

static bool set_has(uint64_t c)
{
	uint64_t h = c * 0x9e3779b97f4a7c15ull;
	size_t i = h >> 48;

	while (set_used[i]) {
		if (set_keys[i] == c)
			return true;
		i = (i + 1) & (SET_SIZE - 1);
	}
	return false;
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static void fuzz_header(const uint8_t *data, size_t size)
{
	uint8_t out[MAVPN_DATA_HDR_LEN], nonce[MAVPN_NONCE_LEN];
	struct wire_hdr h;

	if (wire_hdr_decode(data, size, &h) != 0) {
		CHECK(size < MAVPN_DATA_HDR_LEN + MAVPN_TAG_LEN + 1 ||
		      data[0] != MAVPN_MSG_DATA ||
		      data[1] != MAVPN_WIRE_VERSION || data[2] || data[3]);
		return;
	}
	wire_hdr_encode(out, h.key_id, h.counter);
	CHECK(memcmp(out, data, MAVPN_DATA_HDR_LEN) == 0);
	wire_nonce(nonce, h.counter);
	CHECK(memcmp(nonce + 4, data + 8, 8) == 0);
}

/*
 * Ops: one byte selects how the next counter is formed, so the fuzzer can
 * reach both small moves around the edge of the window and huge jumps.
 *   0x00-0x3f  top + 16-bit delta (forward)
 *   0x40-0x7f  top - 16-bit delta (backward, clamps at 0)
 *   0x80-0xbf  top - REPLAY_WINDOW + (op & 0x3f) - 32 (around the edge)
 *   0xc0-0xff  absolute 64-bit counter
 */
static void fuzz_replay(const uint8_t *p, size_t n)
{
	struct replay r;
	uint64_t top = 0, c, d;
	bool want, got;

	replay_init(&r);
	memset(set_used, 0, sizeof(set_used));
	/* Bound the ops so a huge -max_len can never fill the set. */
	if (n > SET_SIZE)
		n = SET_SIZE;
	while (n >= 1) {
		uint8_t op = *p++;

		n--;
		if (op < 0x80) {
			if (n < 2)
				break;
			d = get_be(p, 2);
			p += 2;
			n -= 2;
			c = op < 0x40 ? top + d : (top > d ? top - d : 0);
		} else if (op < 0xc0) {
			c = top + (op & 0x3f) - 32 - REPLAY_WINDOW;
			if (c > top)	/* wrapped below 0 */
				c = op & 0x3f;
		} else {
			if (n < 8)
				break;
			c = get_be(p, 8);
			p += 8;
			n -= 8;
		}
		want = c != 0 && (c > top || top - c <= REPLAY_WINDOW) &&
		       !set_has(c);
		got = replay_accept(&r, c);
		CHECK(got == want);
		if (got) {
			CHECK(set_insert(c));
			if (c > top)
				top = c;
		}
		CHECK(r.top == top);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_header(data, size);
	fuzz_replay(data, size);
	return 0;
}
