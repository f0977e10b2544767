// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for vpnd's DNS query parser (lib/dnsmsg.c): anyone who
 * reaches the overlay address's port 53 sends these bytes.
 *
 * Checks, for UDP and TCP limits: never a response over the capacity, over
 * UDP never over DNSMSG_AMP_FACTOR x the query; a response echoes the id,
 * has QR set, carries at most one question and is itself never answered
 * (no ping-pong between two servers); no response to a query under a
 * header or with QR set.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mavpn/dnsmsg.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int lookup(void *arg, const char *name, struct dnsmsg_host *h)
{
	(void)arg;
	CHECK(strlen(name) <= DNSMSG_LABEL_MAX);
	memset(h, 0, sizeof(*h));
	if (name[0] == 'h') {		/* every name starting with h exists */
		h->has4 = true;
		h->v4 = 0x0200500a;
		h->has6 = name[1] == '6';
		return 0;
	}
	return -1;
}

static uint8_t out[DNSMSG_TCP_MAX], again[DNSMSG_TCP_MAX];

static void one(const uint8_t *data, size_t size, const struct dnsmsg_zone *z,
		bool udp)
{
	size_t cap = udp ? DNSMSG_UDP_MAX : DNSMSG_TCP_MAX, n;
	struct dnsmsg_result r;

	n = dnsmsg_respond(data, size, z, udp, out, cap, &r);
	CHECK(n <= cap);
	CHECK(r.answered == (n > 0));
	if (size < DNSMSG_HDR_LEN || (data[2] & 0x80)) {
		CHECK(n == 0);
		return;
	}
	CHECK(n >= DNSMSG_HDR_LEN);
	if (udp)
		CHECK(n <= size * DNSMSG_AMP_FACTOR);
	CHECK(out[0] == data[0] && out[1] == data[1]);
	CHECK(out[2] & 0x80);
	CHECK(out[4] == 0 && out[5] <= 1);
	CHECK((out[3] & 0xf) == r.rcode);
	CHECK(dnsmsg_respond(out, n, z, udp, again, cap, NULL) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct dnsmsg_zone z1 = {
		.domain = "mavpn", .ttl = 10, .ready = true, .lookup = lookup,
	};
	static const struct dnsmsg_zone z2 = {
		.domain = "corp.example", .ttl = 10, .ready = false, .lookup = lookup,
	};

	one(data, size, &z1, true);
	one(data, size, &z1, false);
	one(data, size, &z2, true);
	return 0;
}
