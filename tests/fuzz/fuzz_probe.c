// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the data port's discovery, probe and relay messages
 * (lib/probe.c): what authsrv's UDP responder and vpnd's data plane parse
 * from anyone on the underlay before and after authentication. Checks:
 * nothing is read outside the input, only exact-size messages of the right
 * types pass the structure checks, a forged tag never opens, and what we
 * seal opens back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "mavpn/probe.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static struct aead *key_a;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t k[AEAD_KEY_LEN] = { 1, 2, 3, 4, 5 };
	uint8_t body[PROBE_DISCO_BODY], buf[PROBE_PEER_LEN], type;
	struct probe_disco dh;
	struct probe_body b, b2;
	struct wire_hdr wh;
	uint32_t ip;
	uint16_t port;
	uint8_t *copy;

	if (!key_a)
		key_a = aead_new(k);
	CHECK(key_a);
	/* the input as a datagram, from a heap copy (ASan sees overreads) */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	if (!probe_disco_peek(copy, size, &dh)) {
		CHECK(size == PROBE_DISCO_LEN);
		CHECK(dh.type == MAVPN_MSG_DISCO_REQ ||
		      dh.type == MAVPN_MSG_DISCO_RESP);
		/* random bytes do not carry a valid tag */
		CHECK(probe_disco_open(key_a, copy, size, body) == -EBADMSG);
	} else {
		CHECK(probe_disco_open(key_a, copy, size, body) == -EBADMSG);
	}
	if (!probe_peer_peek(copy, size, &type, &wh)) {
		CHECK(size == PROBE_PEER_LEN && wh.counter);
		CHECK(probe_peer_open(key_a, copy, size, &b) == -EBADMSG);
	}
	{
		struct probe_relay r;
		const uint8_t *inner;
		size_t ilen;
		uint32_t src;

		if (!probe_relay_peek(copy, size, &r)) {
			CHECK(r.inner == copy + PROBE_RELAY_HDR && r.inner_len &&
			      r.inner_len + PROBE_RELAY_HDR + AEAD_TAG_LEN == size);
			CHECK(probe_relay_verify(key_a, copy, size) == -EBADMSG);
		}
		if (!probe_relayed_peek(copy, size, &src, &inner, &ilen))
			CHECK(ilen && ilen + PROBE_RELAYED_HDR == size);
	}
	if (size >= PROBE_EP_LEN && !probe_ep_get(copy, &ip, &port))
		CHECK(ip && port);
	if (size >= PROBE_PEER_BODY && !probe_body_get(copy, &b)) {
		uint8_t again[PROBE_PEER_BODY];

		probe_body_put(again, &b);
		CHECK(!memcmp(again, copy, PROBE_PEER_BODY));
	}
	free(copy);

	/* round trip: what we seal from the input opens to the same */
	if (size >= PROBE_PEER_BODY + 13) {
		memset(&b, 0, sizeof(b));
		memcpy(&b.token, data, 8);
		b.flags = data[8];
		memcpy(&b.ip, data + 9, 4);
		b.port = (uint16_t)(data[13] << 8 | data[14]);
		CHECK(probe_peer_seal(key_a, MAVPN_MSG_PROBE_ACK, 7,
				      1 + data[15], &b, buf) == PROBE_PEER_LEN);
		CHECK(!probe_peer_open(key_a, buf, sizeof(buf), &b2));
		CHECK(b2.token == b.token && b2.flags == b.flags &&
		      b2.ip == b.ip && b2.port == b.port);
		buf[size % PROBE_PEER_LEN] ^= (uint8_t)(1 + data[16 % size] % 255);
		CHECK(probe_peer_open(key_a, buf, sizeof(buf), &b2) != 0);
	}
	return 0;
}
