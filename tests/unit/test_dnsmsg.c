// SPDX-License-Identifier: GPL-2.0-only
/*
 * dnsmsg unit tests: queries are written byte by byte here (not with the
 * code under test), answers are checked byte by byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/dnsmsg.h"

/* Known hosts: h1 (v4), dual (v4 + v6), a-b-63... */
static int lookup(void *arg, const char *name, struct dnsmsg_host *h)
{
	(void)arg;
	memset(h, 0, sizeof(*h));
	if (!strcmp(name, "h1")) {
		h->has4 = true;
		h->v4 = htonl(0x64500002);
		return 0;
	}
	if (!strcmp(name, "dual")) {
		h->has4 = h->has6 = true;
		h->v4 = htonl(0x64500003);
		h->v6[0] = 0xfd;
		h->v6[15] = 3;
		return 0;
	}
	return -ENOENT;
}

static struct dnsmsg_zone zone = {
	.domain = "mavpn", .ttl = 10, .ready = true, .lookup = lookup,
};

struct qb {
	uint8_t b[1024];
	size_t len;
};

/* Header: id 0xbeef, RD, QDCOUNT 1; then @name ("h1.mavpn", "" = root),
 * @type, class IN, and @extra bytes of zeros (an additional section). */
static void q_build(struct qb *q, const char *name, uint16_t type)
{
	const char *p = name, *dot;
	size_t n;

	memset(q, 0, sizeof(*q));
	q->b[0] = 0xbe; q->b[1] = 0xef; q->b[2] = 0x01; q->b[5] = 1;
	q->len = 12;
	while (*p) {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		q->b[q->len++] = n;
		memcpy(q->b + q->len, p, n);
		q->len += n;
		p += n + (dot ? 1 : 0);
	}
	q->b[q->len++] = 0;
	q->b[q->len++] = type >> 8;
	q->b[q->len++] = type & 0xff;
	q->b[q->len++] = 0;
	q->b[q->len++] = 1;
}

static uint8_t out[DNSMSG_TCP_MAX];

static size_t respond(const struct qb *q, bool udp, struct dnsmsg_result *r)
{
	uint8_t *copy = malloc(q->len ? q->len : 1);	/* exact: ASan sees overreads */
	size_t n;

	memcpy(copy, q->b, q->len);
	memset(out, 0xaa, sizeof(out));
	n = dnsmsg_respond(copy, q->len, &zone, udp, out,
			   udp ? DNSMSG_UDP_MAX : DNSMSG_TCP_MAX, r);
	free(copy);
	if (udp)
		assert_true(n <= q->len * DNSMSG_AMP_FACTOR);
	return n;
}

static unsigned int rcode(void) { return out[3] & 0xf; }
static unsigned int ancount(void) { return out[6] << 8 | out[7]; }
static unsigned int qdcount(void) { return out[4] << 8 | out[5]; }

static void test_a(void **state)
{
	static const uint8_t rr[] = {
		0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 10, 0, 4, 100, 80, 0, 2,
	};
	struct dnsmsg_result r;
	struct qb q;
	size_t n;

	(void)state;
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	n = respond(&q, true, &r);
	assert_int_equal(n, q.len + sizeof(rr));
	assert_int_equal(out[0], 0xbe);
	assert_int_equal(out[1], 0xef);
	assert_int_equal(out[2], 0x85);	/* QR, AA, RD */
	assert_int_equal(out[3], 0x00);	/* RA 0, NOERROR */
	assert_int_equal(qdcount(), 1);
	assert_int_equal(ancount(), 1);
	assert_memory_equal(out + 12, q.b + 12, q.len - 12);	/* question */
	assert_memory_equal(out + q.len, rr, sizeof(rr));
	assert_true(r.answered);
	assert_int_equal(r.rcode, DNSMSG_NOERROR);
	assert_int_equal(r.ancount, 1);

	/* case-insensitive, and the question's case is echoed (0x20) */
	q_build(&q, "H1.MaVpN", DNSMSG_TYPE_A);
	n = respond(&q, true, &r);
	assert_int_equal(n, q.len + sizeof(rr));
	assert_memory_equal(out + 12, q.b + 12, q.len - 12);
	assert_int_equal(ancount(), 1);

	/* over TCP the same */
	n = respond(&q, false, &r);
	assert_int_equal(n, q.len + sizeof(rr));
}

static void test_aaaa_nodata_and_dual(void **state)
{
	struct dnsmsg_result r;
	struct qb q;
	size_t n;

	(void)state;
	/* a known IPv4-only host: NOERROR, no answer */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_AAAA);
	n = respond(&q, true, &r);
	assert_int_equal(n, q.len);
	assert_int_equal(rcode(), DNSMSG_NOERROR);
	assert_int_equal(ancount(), 0);
	/* MX of a known host: NODATA too */
	q_build(&q, "h1.mavpn", 15);
	n = respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_NOERROR);
	assert_int_equal(ancount(), 0);
	/* a host with an IPv6 address gets its AAAA */
	q_build(&q, "dual.mavpn", DNSMSG_TYPE_AAAA);
	n = respond(&q, true, &r);
	assert_int_equal(n, q.len + 12 + 16);
	assert_int_equal(ancount(), 1);
	assert_int_equal(out[q.len + 3], DNSMSG_TYPE_AAAA);
	assert_int_equal(out[q.len + 12], 0xfd);
	/* ANY: both */
	q_build(&q, "dual.mavpn", DNSMSG_TYPE_ANY);
	n = respond(&q, false, &r);
	assert_int_equal(ancount(), 2);
	assert_int_equal(n, q.len + 16 + 28);
}

static void test_nxdomain_refused(void **state)
{
	static const char *const nx[] = {
		"nobody.mavpn", "x.h1.mavpn", "h_1.mavpn", "h\001.mavpn",
	};
	static const char *const refused[] = {
		"", "mavpn.com", "h1.mavpn.com", "h1.notmavpn", "example.org",
		"avpn", "h1.xmavpn",
	};
	struct dnsmsg_result r;
	struct qb q;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(nx) / sizeof(nx[0]); i++) {
		q_build(&q, nx[i], DNSMSG_TYPE_A);
		n = respond(&q, true, &r);
		assert_int_equal(n, q.len);
		if (rcode() != DNSMSG_NXDOMAIN)
			fail_msg("%s: rcode %u", nx[i], rcode());
		assert_int_equal(out[2] & 0x04, 0x04);	/* AA */
		assert_int_equal(qdcount(), 1);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		q_build(&q, refused[i], DNSMSG_TYPE_A);
		n = respond(&q, true, &r);
		assert_int_equal(n, q.len);
		if (rcode() != DNSMSG_REFUSED)
			fail_msg("%s: rcode %u", refused[i], rcode());
		assert_int_equal(out[2] & 0x04, 0);	/* not authoritative */
	}
	/* the apex: NODATA */
	q_build(&q, "mavpn", DNSMSG_TYPE_A);
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_NOERROR);
	assert_int_equal(ancount(), 0);
	/* not ready: SERVFAIL in the domain, REFUSED outside */
	zone.ready = false;
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_SERVFAIL);
	assert_int_equal(ancount(), 0);
	q_build(&q, "h1.example", DNSMSG_TYPE_A);
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_REFUSED);
	zone.ready = true;
	/* class CH: REFUSED */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	q.b[q.len - 1] = 3;
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_REFUSED);
}

static void test_multi_label_domain(void **state)
{
	struct dnsmsg_result r;
	struct qb q;

	(void)state;
	strcpy(zone.domain, "corp.example");
	q_build(&q, "h1.corp.example", DNSMSG_TYPE_A);
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_NOERROR);
	assert_int_equal(ancount(), 1);
	q_build(&q, "h1.example", DNSMSG_TYPE_A);
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_REFUSED);
	q_build(&q, "h1.xcorp.example", DNSMSG_TYPE_A);
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_REFUSED);
	q_build(&q, "corp.example", DNSMSG_TYPE_A);
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_NOERROR);
	assert_int_equal(ancount(), 0);
	strcpy(zone.domain, "mavpn");
}

static void test_malformed(void **state)
{
	struct dnsmsg_result r;
	struct qb q;
	size_t n, cut;

	(void)state;
	/* shorter than a header: nothing */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	for (cut = 0; cut < 12; cut++) {
		q.len = cut;
		assert_int_equal(respond(&q, true, &r), 0);
		assert_false(r.answered);
	}
	/* cut inside the question: FORMERR, header only */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	for (cut = 12; cut < q.len; cut++) {
		struct qb c = q;

		c.len = cut;
		n = respond(&c, true, &r);
		assert_int_equal(n, 12);
		assert_int_equal(rcode(), DNSMSG_FORMERR);
		assert_int_equal(qdcount(), 0);
		assert_int_equal(out[0], 0xbe);
	}
	/* a response: never answered */
	q.b[2] |= 0x80;
	assert_int_equal(respond(&q, true, &r), 0);
	/* QDCOUNT 0 and 2, ANCOUNT 1 */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	q.b[5] = 0;
	assert_int_equal(respond(&q, true, &r), 12);
	assert_int_equal(rcode(), DNSMSG_FORMERR);
	q.b[5] = 2;
	assert_int_equal(respond(&q, true, &r), 12);
	assert_int_equal(rcode(), DNSMSG_FORMERR);
	q.b[5] = 1;
	q.b[7] = 1;
	assert_int_equal(respond(&q, true, &r), 12);
	assert_int_equal(rcode(), DNSMSG_FORMERR);
	/* an additional section (EDNS OPT) is fine */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	q.b[11] = 1;
	memcpy(q.b + q.len, "\0\0\x29\x04\xd0\0\0\0\0\0\0", 11);
	q.len += 11;
	n = respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_NOERROR);
	assert_int_equal(ancount(), 1);
	assert_int_equal(n, q.len - 11 + 16);
	assert_int_equal(out[11], 0);	/* ARCOUNT: nothing echoed */
	/* opcode STATUS: NOTIMP */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	q.b[2] = 0x10;
	assert_int_equal(respond(&q, true, &r), 12);
	assert_int_equal(rcode(), DNSMSG_NOTIMP);
	/* a compression pointer in the question */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	q.b[12] = 0xc0;
	assert_int_equal(respond(&q, true, &r), 12);
	assert_int_equal(rcode(), DNSMSG_FORMERR);
	/* a label of 64 */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	q.b[12] = 64;
	assert_int_equal(respond(&q, true, &r), 12);
	assert_int_equal(rcode(), DNSMSG_FORMERR);
}

/* A query for labels of 'b' with the lengths @lens, type A. */
static void q_labels(struct qb *q, const unsigned int *lens, size_t n)
{
	size_t i;

	q_build(q, "", DNSMSG_TYPE_A);
	q->len = 12;
	for (i = 0; i < n; i++) {
		q->b[q->len++] = lens[i];
		memset(q->b + q->len, 'b', lens[i]);
		q->len += lens[i];
	}
	memcpy(q->b + q->len, "\0\0\1\0\1", 5);
	q->len += 5;
}

static void test_name_limits(void **state)
{
	static const unsigned int l257[] = { 63, 63, 63, 63 };
	static const unsigned int l255[] = { 63, 63, 63, 61 };
	char name[80];
	struct dnsmsg_result r;
	struct qb q;

	(void)state;
	/* 63-byte host label: fine (NXDOMAIN) */
	memset(name, 'a', 63);
	strcpy(name + 63, ".mavpn");
	q_build(&q, name, DNSMSG_TYPE_A);
	respond(&q, true, &r);
	assert_int_equal(rcode(), DNSMSG_NXDOMAIN);
	/* a wire name of 257 bytes: FORMERR */
	q_labels(&q, l257, 4);
	assert_int_equal(respond(&q, true, &r), 12);
	assert_int_equal(rcode(), DNSMSG_FORMERR);
	/* 255 exactly: parsed (REFUSED: not ours) */
	q_labels(&q, l255, 4);
	assert_int_equal(q.len, 12 + 255 + 4);
	assert_int_equal(respond(&q, true, &r), q.len);
	assert_int_equal(rcode(), DNSMSG_REFUSED);
}

static void test_truncation_bound(void **state)
{
	struct dnsmsg_result r;
	struct qb q;
	size_t n;

	(void)state;
	/* cap smaller than the answer: TC, question only */
	q_build(&q, "h1.mavpn", DNSMSG_TYPE_A);
	n = dnsmsg_respond(q.b, q.len, &zone, false, out, q.len + 15, &r);
	assert_int_equal(n, q.len);
	assert_int_equal(out[2] & 0x02, 0x02);
	assert_int_equal(ancount(), 0);
	assert_true(r.truncated);
	/* cap smaller than the question: header only, TC */
	n = dnsmsg_respond(q.b, q.len, &zone, false, out, 14, &r);
	assert_int_equal(n, 12);
	assert_int_equal(out[2] & 0x02, 0x02);
	/* cap under a header: nothing */
	assert_int_equal(dnsmsg_respond(q.b, q.len, &zone, false, out, 11, &r),
			 0);
	/* UDP: the amplification bound truncates a short name's ANY */
	q_build(&q, "dual.mavpn", DNSMSG_TYPE_ANY);
	n = respond(&q, true, &r);
	assert_true(n <= q.len * DNSMSG_AMP_FACTOR);
	assert_true(r.truncated);
	assert_int_equal(ancount(), 0);
	/* and TCP answers it whole */
	n = respond(&q, false, &r);
	assert_false(r.truncated);
	assert_int_equal(ancount(), 2);
}

static void test_domain_valid(void **state)
{
	char longd[200];

	(void)state;
	assert_true(dnsmsg_domain_valid("mavpn"));
	assert_true(dnsmsg_domain_valid("corp.example"));
	assert_true(dnsmsg_domain_valid("a-b.c0"));
	assert_false(dnsmsg_domain_valid(""));
	assert_false(dnsmsg_domain_valid("."));
	assert_false(dnsmsg_domain_valid("mavpn."));
	assert_false(dnsmsg_domain_valid(".mavpn"));
	assert_false(dnsmsg_domain_valid("a..b"));
	assert_false(dnsmsg_domain_valid("-a"));
	assert_false(dnsmsg_domain_valid("a-"));
	assert_false(dnsmsg_domain_valid("a-.b"));
	assert_false(dnsmsg_domain_valid("MAVPN"));
	assert_false(dnsmsg_domain_valid("ma vpn"));
	assert_false(dnsmsg_domain_valid("a_b"));
	memset(longd, 'a', 64);
	longd[64] = 0;
	assert_false(dnsmsg_domain_valid(longd));	/* label of 64 */
	longd[63] = 0;
	assert_true(dnsmsg_domain_valid(longd));
	memset(longd, 'a', sizeof(longd));
	for (int i = 50; i < 190; i += 50)
		longd[i] = '.';
	longd[127] = 0;
	assert_true(dnsmsg_domain_valid(longd));
	longd[127] = 'a';
	longd[128] = 0;
	assert_false(dnsmsg_domain_valid(longd));	/* 128 chars */
	assert_string_equal(dnsmsg_rcode_name(3), "NXDOMAIN");
	assert_string_equal(dnsmsg_rcode_name(9), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a),
		cmocka_unit_test(test_aaaa_nodata_and_dual),
		cmocka_unit_test(test_nxdomain_refused),
		cmocka_unit_test(test_multi_label_domain),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_truncation_bound),
		cmocka_unit_test(test_domain_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
