// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the control-channel codec: the input is what a peer
 * could put on the TLS stream. Beyond "no crash, no out-of-bounds read",
 * whatever decodes must survive encode -> decode unchanged, and the
 * encoding of the result must be canonical (encode(decode(encode(m))) is
 * byte-identical), so the two sides can never disagree about a message.
 * The seeds include HELLO_ACK and KEY_GRANT with repeated CTLA_ROUTE.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mavpn/ctlmsg.h"

#define FRAME_CAP (CTLMSG_HDR_LEN + CTLMSG_MAX_BODY)

static struct ctlmsg m1, m2;
static uint8_t enc1[FRAME_CAP], enc2[FRAME_CAP];

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void check_round_trip(const uint8_t *buf, size_t len)
{
	uint32_t i;
	int n1, n2;

	if (ctlmsg_decode(buf, len, &m1) != 0)
		return;
	CHECK(ctlmsg_type_known(m1.type));
	for (i = 0; i < 64; i++)
		CHECK(!(m1.present & CTLA_BIT(i)) || ctlmsg_attr_known(i));
	/* the repeated attribute: bounded, its bit iff any, each canonical */
	CHECK(m1.n_routes <= CTLMSG_ROUTES_MAX);
	CHECK(!(m1.present & CTLA_BIT(CTLA_ROUTE)) == !m1.n_routes);
	for (i = 0; i < m1.n_routes; i++)
		CHECK(prefix_valid(&m1.routes[i].prefix));
	n1 = ctlmsg_encode(&m1, enc1, sizeof(enc1));
	CHECK(n1 > 0 && (size_t)n1 <= len);
	CHECK(ctlmsg_frame_len(enc1, n1) == n1);
	CHECK(ctlmsg_decode(enc1, n1, &m2) == 0);
	CHECK(memcmp(&m1, &m2, sizeof(m1)) == 0);
	n2 = ctlmsg_encode(&m2, enc2, sizeof(enc2));
	CHECK(n2 == n1 && memcmp(enc1, enc2, n1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fl;

	fl = ctlmsg_frame_len(data, size);
	CHECK(fl == 0 || fl == -EMSGSIZE ||
	      (fl >= 8 && (size_t)fl <= size && fl <= FRAME_CAP));

	/* The input as one frame, and the first frame of the input as the
	 * stream reader would cut it. */
	check_round_trip(data, size);
	if (fl > 0 && (size_t)fl != size)
		check_round_trip(data, fl);
	return 0;
}
