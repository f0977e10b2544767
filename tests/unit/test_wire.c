// SPDX-License-Identifier: GPL-2.0-only
/* wire unit tests: the exact header bytes, every rejection, nonce layout. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/wire.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN_LEN (MAVPN_DATA_HDR_LEN + MAVPN_TAG_LEN + 1)

static void test_encode_bytes(void **state)
{
	static const uint8_t want[MAVPN_DATA_HDR_LEN] = {
		0x01, 0x01, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	uint8_t out[MAVPN_DATA_HDR_LEN];
	struct mavpn_data_hdr h;

	(void)state;
	wire_hdr_encode(out, 0xdeadbeef, 0x0102030405060708ull);
	assert_memory_equal(out, want, sizeof(want));
	/* the packed struct describes the same layout */
	memcpy(&h, out, sizeof(h));
	assert_int_equal(h.type, MAVPN_MSG_DATA);
	assert_int_equal(h.version, MAVPN_WIRE_VERSION);
	assert_int_equal(h.reserved, 0);
	assert_int_equal(offsetof(struct mavpn_data_hdr, key_id), 4);
	assert_int_equal(offsetof(struct mavpn_data_hdr, counter), 8);
}

static void test_round_trip(void **state)
{
	static const struct {
		uint32_t key_id;
		uint64_t counter;
	} cases[] = {
		{ 0, 0 },
		{ 1, 1 },
		{ 0x7fffffff, 0x8000000000000000ull },
		{ 0xffffffff, UINT64_MAX },
		{ 0x00010203, 0x00000000ffffffffull },
		{ 0x80000000, 0x0000000100000000ull },
	};
	uint8_t buf[MIN_LEN + 100];
	struct wire_hdr h;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(buf, 0xcc, sizeof(buf));
		wire_hdr_encode(buf, cases[i].key_id, cases[i].counter);
		memset(&h, 0, sizeof(h));
		assert_int_equal(wire_hdr_decode(buf, MIN_LEN, &h), 0);
		assert_int_equal(h.key_id, cases[i].key_id);
		assert_true(h.counter == cases[i].counter);
		assert_int_equal(wire_hdr_decode(buf, sizeof(buf), &h), 0);
	}
}

static void test_reject(void **state)
{
	static const struct {
		const char *name;
		size_t len;
		int byte;	/* -1: none patched */
		uint8_t val;
		int want;
	} cases[] = {
		{ "minimum length", MIN_LEN, -1, 0, 0 },
		{ "empty", 0, -1, 0, -EBADMSG },
		{ "header only", MAVPN_DATA_HDR_LEN, -1, 0, -EBADMSG },
		{ "header and tag, no ciphertext", MIN_LEN - 1, -1, 0, -EBADMSG },
		{ "one byte", 1, -1, 0, -EBADMSG },
		{ "type 0", MIN_LEN, 0, 0, -EBADMSG },
		{ "type 2", MIN_LEN, 0, 2, -EBADMSG },
		{ "type 255", MIN_LEN, 0, 255, -EBADMSG },
		{ "version 0", MIN_LEN, 1, 0, -EBADMSG },
		{ "version 2", MIN_LEN, 1, 2, -EBADMSG },
		{ "reserved high byte", MIN_LEN, 2, 1, -EBADMSG },
		{ "reserved low byte", MIN_LEN, 3, 0x80, -EBADMSG },
		{ "key id is free", MIN_LEN, 4, 0xff, 0 },
		{ "counter is free", MIN_LEN, 15, 0xff, 0 },
	};
	uint8_t buf[MIN_LEN];
	struct wire_hdr h;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(buf, 0, sizeof(buf));
		wire_hdr_encode(buf, 7, 9);
		if (cases[i].byte >= 0)
			buf[cases[i].byte] = cases[i].val;
		ret = wire_hdr_decode(buf, cases[i].len, &h);
		if (ret != cases[i].want)
			fail_msg("case \"%s\": got %d, want %d", cases[i].name,
				 ret, cases[i].want);
	}
}

static void test_nonce(void **state)
{
	static const struct {
		uint64_t counter;
		uint8_t nonce[MAVPN_NONCE_LEN];
	} cases[] = {
		{ 0, { 0 } },
		{ 1, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } },
		{ 0x0102030405060708ull,
		  { 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 } },
		{ UINT64_MAX, { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				0xff, 0xff } },
	};
	uint8_t n[MAVPN_NONCE_LEN], hdr[MAVPN_DATA_HDR_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(n, 0xaa, sizeof(n));
		wire_nonce(n, cases[i].counter);
		assert_memory_equal(n, cases[i].nonce, sizeof(n));
		/* the nonce's unique part is the header's counter field */
		wire_hdr_encode(hdr, 1, cases[i].counter);
		assert_memory_equal(n + 4, hdr + 8, 8);
	}
	assert_int_equal(MAVPN_OVERHEAD, 60);
	assert_true(MAVPN_OVERLAY_MTU + MAVPN_OVERHEAD <= MAVPN_UNDERLAY_MTU);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_bytes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_nonce),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
