// SPDX-License-Identifier: GPL-2.0-only
/*
 * dp_decap unit tests: the inner-address check of a packet sealed with a
 * real session key. The peer (10.0.0.2) is a gateway whose route is
 * 0.0.0.0/0 (full tunnel) and 192.168.7.0/24; our overlay is 10.0.0.0/24.
 * It may send from its own address and from its LAN, never from another
 * overlay host's address (10.0.0.3), even though its default route covers
 * that address.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/aead.h"
#include "mavpn/datapath.h"
#include "mavpn/wire.h"
#include "dp_decap.h"

#define KID		0x01020304u

static struct dp_peers peers;
static struct aead *peer_tx;		/* the peer's tx key = our rx key */
static uint64_t ctr = 1;

static int setup(void **state)
{
	struct dp_key k = {
		.key_id = KID, .initiator = 0, .peer_name = "gw",
		.peer_underlay_ip = 1, .peer_port = 1,
	};
	uint8_t tx[AEAD_KEY_LEN], rx[AEAD_KEY_LEN];
	struct dp_session *s;
	struct dp_peer *p;

	(void)state;
	memset(k.secret, 0x42, sizeof(k.secret));
	k.peer_overlay_ip = inet_addr("10.0.0.2");
	s = dp_session_new(&k, 1, 0);
	p = dp_peer_get(&peers, k.peer_overlay_ip, 0);
	assert_non_null(s);
	assert_non_null(p);
	dp_session_install(&peers, p, s);
	assert_int_equal(aead_derive_keys(k.secret, 1, tx, rx), 0);
	peer_tx = aead_new(tx);
	assert_non_null(peer_tx);
	return 0;
}

/* Seal an IPv4 header src -> dst (20 bytes, no payload) as the peer
 * would, open it as we would. */
static enum dp_drop send_from(const char *src, const char *dst)
{
	static const struct dp_route routes[] = {
		{ .prefix = { .family = AF_INET, .plen = 0 } },
		{ .prefix = { .family = AF_INET, .plen = 24 } },
	};
	struct dp_route r[2];
	struct dp_decap_ctx c = {
		.peers = &peers, .self_ip = inet_addr("10.0.0.1"),
		.overlay_plen = 24, .routes = r, .nroutes = 2, .now_ms = 1,
	};
	uint8_t inner[20] = { 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17 };
	uint8_t pl[MAVPN_DATA_HDR_LEN + sizeof(inner) + MAVPN_TAG_LEN];
	uint8_t nonce[MAVPN_NONCE_LEN], out[sizeof(pl)];
	uint32_t s_ip = inet_addr(src), d_ip = inet_addr(dst), n = 0;
	struct dp_session *s;
	int m;

	memcpy(r, routes, sizeof(r));
	r[0].gw = r[1].gw = inet_addr("10.0.0.2");
	r[1].prefix.v4 = inet_addr("192.168.7.0");
	memcpy(inner + 12, &s_ip, 4);
	memcpy(inner + 16, &d_ip, 4);
	wire_hdr_encode(pl, KID, ctr);
	wire_nonce(nonce, ctr);
	ctr++;
	m = aead_seal(peer_tx, nonce, pl, MAVPN_DATA_HDR_LEN, inner,
		      sizeof(inner), pl + MAVPN_DATA_HDR_LEN);
	assert_true(m > 0);
	return dp_decap(&c, pl, MAVPN_DATA_HDR_LEN + (uint32_t)m, out, &n, &s);
}

static void test_own_address(void **state)
{
	(void)state;
	assert_int_equal(send_from("10.0.0.2", "10.0.0.1"), DP_DROP_NONE);
}

static void test_lan_address(void **state)
{
	(void)state;
	assert_int_equal(send_from("192.168.7.9", "10.0.0.1"), DP_DROP_NONE);
	/* anywhere under its full-tunnel route, outside the overlay */
	assert_int_equal(send_from("198.51.100.7", "10.0.0.1"), DP_DROP_NONE);
}

static void test_other_overlay_host(void **state)
{
	(void)state;
	/* 0.0.0.0/0 via the gateway covers 10.0.0.3: still refused */
	assert_int_not_equal(send_from("10.0.0.3", "10.0.0.1"), DP_DROP_NONE);
	assert_int_not_equal(send_from("10.0.0.1", "10.0.0.1"), DP_DROP_NONE);
}

static void test_not_to_us(void **state)
{
	(void)state;
	assert_int_not_equal(send_from("10.0.0.2", "10.0.0.9"), DP_DROP_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_address),
		cmocka_unit_test(test_lan_address),
		cmocka_unit_test(test_other_overlay_host),
		cmocka_unit_test(test_not_to_us),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
