// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctlmsg unit tests. Malformed frames are crafted byte by byte with a tiny
 * frame builder, so every test says exactly which bytes it sends rather than
 * relying on the encoder it is testing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/ctlmsg.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FRAME_MAX (CTLMSG_HDR_LEN + CTLMSG_MAX_BODY + 2048)

#define B(a) CTLA_BIT(CTLA_##a)
#define CTLA_HDR_LEN_TEST 4	/* be16 id | be16 len */

/* Required attributes per type: the header's list, written out again here
 * so a table edit in ctlmsg.c that drifts from the header fails a test. */
static const uint64_t required[CTLMSG_TYPE_MAX] = {
	[CTLMSG_ENROLL_REQ]	= B(TOKEN) | B(CSR),
	[CTLMSG_ENROLL_RESP]	= B(NAME) | B(OVERLAY_IP) | B(OVERLAY_PLEN) |
				  B(CERT) | B(CA),
	[CTLMSG_HELLO]		= B(UDP_PORT),
	[CTLMSG_HELLO_ACK]	= B(NAME) | B(OVERLAY_IP) | B(OVERLAY_PLEN),
	[CTLMSG_KEY_REQ]	= B(REQ_ID) | B(OVERLAY_IP),
	[CTLMSG_KEY_GRANT]	= B(REQ_ID) | B(KEY_ID) | B(KEY) | B(LIFETIME) |
				  B(NAME) | B(OVERLAY_IP) | B(UNDERLAY_IP) |
				  B(UDP_PORT),
	[CTLMSG_KEY_DENY]	= B(REQ_ID) | B(OVERLAY_IP) | B(REASON),
	[CTLMSG_KEY_PUSH]	= B(KEY_ID) | B(KEY) | B(LIFETIME) | B(NAME) |
				  B(OVERLAY_IP) | B(UNDERLAY_IP) | B(UDP_PORT),
	[CTLMSG_KEY_PUSH_ACK]	= B(KEY_ID),
	[CTLMSG_RESOLVE_REQ]	= B(REQ_ID) | B(NAME),
	[CTLMSG_RESOLVE_RESP]	= B(REQ_ID) | B(NAME),
	[CTLMSG_ERROR]		= B(REASON),
	[CTLMSG_PING]		= B(REQ_ID),
	[CTLMSG_PONG]		= B(REQ_ID),
	[CTLMSG_KEY_REVOKE]	= B(NAME) | B(OVERLAY_IP),
	[CTLMSG_FLOW_REQ]	= B(REQ_ID) | B(OVERLAY_IP) | B(PROTO),
	[CTLMSG_FLOW_VERDICT]	= B(REQ_ID) | B(OVERLAY_IP) | B(VERDICT) |
				  B(LIFETIME),
	[CTLMSG_FLOW_FLUSH]	= B(POLICY_OPEN),
	[CTLMSG_NAME_ADD]	= B(NAME),
	[CTLMSG_NAME_DEL]	= B(NAME),
	[CTLMSG_NAMES_END]	= 0,
};

/* Every attribute id this version knows (19, 20: retired in version 2;
 * the reserved ranges are gaps). */
static uint64_t all_attrs(void)
{
	uint64_t m = 0;
	unsigned int a;

	for (a = 1; a < CTLA_MAX; a++)
		if (ctlmsg_attr_known(a))
			m |= CTLA_BIT(a);
	assert_false(m & (CTLA_BIT(19) | CTLA_BIT(20)));
	return m;
}

#define ALL_ATTRS all_attrs()

/* ---- frame builder ---- */

struct fb {
	uint8_t buf[FRAME_MAX];
	size_t len;
};

static void fb_start(struct fb *f, uint8_t version, uint8_t type,
		     uint16_t reserved)
{
	memset(f, 0, sizeof(*f));
	f->len = CTLMSG_HDR_LEN;
	f->buf[f->len++] = version;
	f->buf[f->len++] = type;
	f->buf[f->len++] = reserved >> 8;
	f->buf[f->len++] = reserved & 0xff;
}

static void fb_raw(struct fb *f, const void *p, size_t n)
{
	assert_true(f->len + n <= sizeof(f->buf));
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

static void fb_attr(struct fb *f, uint16_t id, uint16_t len, const void *val)
{
	uint8_t h[4] = { id >> 8, id & 0xff, len >> 8, len & 0xff };

	fb_raw(f, h, 4);
	if (len)
		fb_raw(f, val, len);
}

static void fb_be32(struct fb *f, uint16_t id, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	fb_attr(f, id, 4, b);
}

/* Write the prefix that matches the body. */
static void fb_finish(struct fb *f)
{
	uint32_t body = f->len - CTLMSG_HDR_LEN;

	f->buf[0] = body >> 24;
	f->buf[1] = body >> 16;
	f->buf[2] = body >> 8;
	f->buf[3] = body;
}

static void fb_prefix(struct fb *f, uint32_t v)
{
	f->buf[0] = v >> 24;
	f->buf[1] = v >> 16;
	f->buf[2] = v >> 8;
	f->buf[3] = v;
}

/* Decode from an exact-size heap copy, so ASan/valgrind catch overreads. */
static int decode_exact(const uint8_t *buf, size_t len, struct ctlmsg *m)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	ret = ctlmsg_decode(copy, len, m);
	free(copy);
	return ret;
}

/* ---- a distinctive value for every attribute ---- */

static void add_route(struct ctlmsg *m, const char *cidr, uint32_t gw)
{
	struct prefix p;

	assert_int_equal(prefix_parse(cidr, 0, &p, NULL), 0);
	assert_int_equal(ctlmsg_add_route(m, &p, gw), 0);
}

static void set_attr(struct ctlmsg *m, unsigned int a)
{
	size_t i;

	switch (a) {
	case CTLA_REQ_ID: m->req_id = 0xa1b2c3d4; break;
	case CTLA_KEY_ID: m->key_id = 0x01020304; break;
	case CTLA_KEY:
		for (i = 0; i < CTLMSG_KEY_LEN; i++)
			m->key[i] = (uint8_t)(0xf0 ^ i);
		break;
	case CTLA_LIFETIME: m->lifetime = 3600; break;
	case CTLA_NAME: strcpy(m->name, "host-b"); break;
	case CTLA_OVERLAY_IP: m->overlay_ip = htonl(0x0a630002); break;
	case CTLA_OVERLAY_PLEN: m->overlay_plen = 24; break;
	case CTLA_UNDERLAY_IP: m->underlay_ip = htonl(0xc0a80102); break;
	case CTLA_UDP_PORT: m->udp_port = 51820; break;
	case CTLA_TOKEN: strcpy(m->token, "tok-0123456789abcdef"); break;
	case CTLA_CSR: strcpy(m->csr, "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"); break;
	case CTLA_CERT: strcpy(m->cert, "-----BEGIN CERTIFICATE-----\nMIIC\n"); break;
	case CTLA_CA: strcpy(m->ca, "-----BEGIN CERTIFICATE-----\nMIID\n"); break;
	case CTLA_REASON: strcpy(m->reason, "policy: \"deny\" a->b"); break;
	case CTLA_APP: strcpy(m->app, "/sys/fs/cgroup/unified/mavpn/app1"); break;
	case CTLA_DST_PORT: m->dst_port = 8080; break;
	case CTLA_PROTO: m->proto = 6; break;
	case CTLA_MAX_PACKETS: m->max_packets = 0x80000001u; break;
	case CTLA_DOMAIN: strcpy(m->domain, "corp.example"); break;
	case CTLA_ROUTE:	/* repeated: IPv4, the default route, IPv6 */
		add_route(m, "198.19.0.0/24", htonl(0x64500002));
		add_route(m, "0.0.0.0/0", 0);
		add_route(m, "fd00:1::/48", htonl(0x64500003));
		break;
	case CTLA_ENDPOINT: {	/* repeated: IPv4, IPv6 */
		struct ctlmsg_endpoint e4 = { .family = AF_INET, .port = 51820,
					      .v4 = htonl(0xc6140b01) };
		struct ctlmsg_endpoint e6 = { .family = AF_INET6, .port = 1,
					      .v6 = { 0xfd, 0, 1 } };

		assert_int_equal(ctlmsg_add_endpoint(m, &e4), 0);
		assert_int_equal(ctlmsg_add_endpoint(m, &e6), 0);
		break;
	}
	case CTLA_UID: m->uid = 1001; break;
	case CTLA_GID: m->gid = 0xfffffffeu; break;
	case CTLA_USER: strcpy(m->user, "alice"); break;
	case CTLA_GROUP: strcpy(m->group, "staff"); break;
	case CTLA_VERDICT: m->verdict = 1; break;
	case CTLA_POLICY_OPEN: m->policy_open = 1; break;
	case CTLA_PROBE_ID: m->probe_id = 0xfeedf00d; break;
	case CTLA_PROBE_KEY:
		memset(m->probe_key, 0x5a, sizeof(m->probe_key));
		break;
	default: fail_msg("no test value for attribute %u", a);
	}
	m->present |= CTLA_BIT(a);
}

static void fill(struct ctlmsg *m, uint8_t type, uint64_t attrs)
{
	unsigned int a;

	ctlmsg_init(m, type);
	for (a = 1; a < CTLA_MAX; a++)
		if (attrs & CTLA_BIT(a))
			set_attr(m, a);
}

static uint8_t frame[FRAME_MAX];
static struct ctlmsg m1, m2;	/* big: keep them off the stack */

/* Attribute ids of an encoded frame must be strictly ascending, but for
 * the one repeated attribute. */
static void assert_ascending(const uint8_t *buf, int len)
{
	int off = CTLMSG_HDR_LEN + 4, last = 0;

	while (off < len) {
		int id = buf[off] << 8 | buf[off + 1];
		int alen = buf[off + 2] << 8 | buf[off + 3];

		assert_true(id > last || (id == last && (id == CTLA_ROUTE ||
							  id == CTLA_ENDPOINT)));
		last = id;
		off += 4 + alen;
	}
	assert_int_equal(off, len);
}

static void test_round_trip(void **state)
{
	unsigned int t;
	int pass, len;

	(void)state;
	for (t = 1; t < CTLMSG_TYPE_MAX; t++) {
		if (!ctlmsg_type_known(t))
			continue;
		/* pass 0: exactly the required attributes; 1: every one */
		for (pass = 0; pass < 2; pass++) {
			fill(&m1, t, pass ? ALL_ATTRS : required[t]);
			len = ctlmsg_encode(&m1, frame, sizeof(frame));
			if (len <= 0)
				fail_msg("%s pass %d: encode %d",
					 ctlmsg_type_name(t), pass, len);
			assert_int_equal(ctlmsg_frame_len(frame, len), len);
			assert_ascending(frame, len);
			memset(&m2, 0xee, sizeof(m2));
			if (decode_exact(frame, len, &m2))
				fail_msg("%s pass %d: decode failed",
					 ctlmsg_type_name(t), pass);
			assert_int_equal(m2.type, t);
			assert_int_equal(m2.present, m1.present);
			assert_memory_equal(&m1, &m2, sizeof(m1));
		}
	}
}

static void test_exact_bytes(void **state)
{
	static const uint8_t ping[] = {
		0x00, 0x00, 0x00, 0x0c, CTLMSG_VERSION, CTLMSG_PING, 0x00, 0x00,
		0x00, 0x01, 0x00, 0x04, 0xa1, 0xb2, 0xc3, 0xd4,
	};
	static const uint8_t key_req[] = {
		0x00, 0x00, 0x00, 0x19, CTLMSG_VERSION, CTLMSG_KEY_REQ, 0x00, 0x00,
		0x00, 0x01, 0x00, 0x04, 0xa1, 0xb2, 0xc3, 0xd4,	/* req_id */
		0x00, 0x06, 0x00, 0x04, 0x0a, 0x63, 0x00, 0x02,	/* overlay_ip */
		0x00, 0x0f, 0x00, 0x01, 'x',			/* app */
	};
	static const uint8_t hello[] = {
		0x00, 0x00, 0x00, 0x0a, CTLMSG_VERSION, CTLMSG_HELLO, 0x00, 0x00,
		0x00, 0x09, 0x00, 0x02, 0xca, 0x6c,		/* 51820 */
	};
	int len;

	(void)state;
	fill(&m1, CTLMSG_PING, B(REQ_ID));
	len = ctlmsg_encode(&m1, frame, sizeof(frame));
	assert_int_equal(len, sizeof(ping));
	assert_memory_equal(frame, ping, sizeof(ping));

	fill(&m1, CTLMSG_KEY_REQ, B(REQ_ID) | B(OVERLAY_IP));
	strcpy(m1.app, "x");
	m1.present |= B(APP);
	len = ctlmsg_encode(&m1, frame, sizeof(frame));
	assert_int_equal(len, sizeof(key_req));
	assert_memory_equal(frame, key_req, sizeof(key_req));
	assert_int_equal(decode_exact(key_req, sizeof(key_req), &m2), 0);
	assert_int_equal(m2.overlay_ip, htonl(0x0a630002));
	assert_string_equal(m2.app, "x");

	fill(&m1, CTLMSG_HELLO, B(UDP_PORT));
	len = ctlmsg_encode(&m1, frame, sizeof(frame));
	assert_int_equal(len, sizeof(hello));
	assert_memory_equal(frame, hello, sizeof(hello));
	assert_int_equal(decode_exact(hello, sizeof(hello), &m2), 0);
	assert_int_equal(m2.udp_port, 51820);
}

static void test_encode_errors(void **state)
{
	unsigned int t, a;
	size_t cap;
	int len;

	(void)state;
	/* every required attribute, removed one at a time */
	for (t = 1; t < CTLMSG_TYPE_MAX; t++) {
		if (!ctlmsg_type_known(t))
			continue;
		for (a = 1; a < CTLA_MAX; a++) {
			if (!(required[t] & CTLA_BIT(a)))
				continue;
			fill(&m1, t, required[t] & ~CTLA_BIT(a));
			if (ctlmsg_encode(&m1, frame, sizeof(frame)) != -EINVAL)
				fail_msg("%s without attr %u encoded",
					 ctlmsg_type_name(t), a);
		}
	}
	/* unknown types */
	fill(&m1, 0, ALL_ATTRS);
	assert_int_equal(ctlmsg_encode(&m1, frame, sizeof(frame)), -EINVAL);
	fill(&m1, CTLMSG_TYPE_MAX, ALL_ATTRS);
	assert_int_equal(ctlmsg_encode(&m1, frame, sizeof(frame)), -EINVAL);
	/* a string that fills its field has no NUL: refuse, never overread */
	fill(&m1, CTLMSG_RESOLVE_REQ, required[CTLMSG_RESOLVE_REQ]);
	memset(m1.name, 'n', sizeof(m1.name));
	assert_int_equal(ctlmsg_encode(&m1, frame, sizeof(frame)), -EINVAL);
	m1.name[sizeof(m1.name) - 1] = '\0';	/* longest that fits */
	len = ctlmsg_encode(&m1, frame, sizeof(frame));
	assert_int_equal(len, CTLMSG_HDR_LEN + 4 + 8 + 4 + CTLMSG_NAME_MAX - 1);
	assert_int_equal(decode_exact(frame, len, &m2), 0);
	assert_memory_equal(&m1, &m2, sizeof(m1));
	/* every capacity short of the frame */
	fill(&m1, CTLMSG_KEY_GRANT, ALL_ATTRS);
	len = ctlmsg_encode(&m1, frame, sizeof(frame));
	assert_true(len > 0);
	for (cap = 0; cap < (size_t)len; cap++)
		if (ctlmsg_encode(&m1, frame, cap) != -EMSGSIZE)
			fail_msg("cap %zu < %d did not give -EMSGSIZE", cap,
				 len);
	assert_int_equal(ctlmsg_encode(&m1, frame, len), len);
	/* the largest message the struct can hold still fits a body */
	fill(&m1, CTLMSG_ENROLL_RESP, ALL_ATTRS);
	memset(m1.csr, 'c', CTLMSG_PEM_MAX - 1);
	memset(m1.cert, 'e', CTLMSG_PEM_MAX - 1);
	memset(m1.ca, 'a', CTLMSG_PEM_MAX - 1);
	memset(m1.token, 't', CTLMSG_TOKEN_MAX - 1);
	memset(m1.reason, 'r', CTLMSG_REASON_MAX - 1);
	memset(m1.app, 'p', CTLMSG_APP_MAX - 1);
	memset(m1.name, 'n', CTLMSG_NAME_MAX - 1);
	len = ctlmsg_encode(&m1, frame, sizeof(frame));
	assert_true(len > 0 && len <= CTLMSG_HDR_LEN + CTLMSG_MAX_BODY);
	assert_int_equal(decode_exact(frame, len, &m2), 0);
	assert_memory_equal(&m1, &m2, sizeof(m1));
}

/* A valid KEY_REQ frame, the base most malformed cases patch. */
static void base_key_req(struct fb *f)
{
	uint8_t ip[4] = { 10, 99, 0, 2 };

	fb_start(f, CTLMSG_VERSION, CTLMSG_KEY_REQ, 0);
	fb_be32(f, CTLA_REQ_ID, 42);
	fb_attr(f, CTLA_OVERLAY_IP, 4, ip);
}

enum mut { M_NONE, M_VERSION, M_TYPE, M_RESERVED, M_PREFIX, M_TAIL,
	   M_ATTR };

static const uint8_t zeros[CTLMSG_PEM_MAX + 8];
static uint8_t filler[CTLMSG_PEM_MAX + 8];

static const struct dcase {
	const char *name;
	enum mut mut;
	uint32_t val;		/* version/type/reserved/prefix delta */
	uint16_t id, len;	/* M_ATTR / M_TAIL: what to append */
	int fill;		/* M_ATTR: value bytes: 0 zeros, 1 'a's */
	int want;
} dcases[] = {
	{ "valid base", M_NONE, 0, 0, 0, 0, 0 },
	{ "version 0", M_VERSION, 0, 0, 0, 0, -EBADMSG },
	{ "version 1 (string routes)", M_VERSION, 1, 0, 0, 0, -EBADMSG },
	{ "version 3", M_VERSION, 3, 0, 0, 0, -EBADMSG },
	{ "version 255", M_VERSION, 255, 0, 0, 0, -EBADMSG },
	{ "type 0", M_TYPE, 0, 0, 0, 0, -EBADMSG },
	{ "type TYPE_MAX", M_TYPE, CTLMSG_TYPE_MAX, 0, 0, 0, -EBADMSG },
	{ "reserved type 16", M_TYPE, 16, 0, 0, 0, -EBADMSG },
	{ "type 255", M_TYPE, 255, 0, 0, 0, -EBADMSG },
	{ "reserved 1", M_RESERVED, 1, 0, 0, 0, -EBADMSG },
	{ "reserved 0x100", M_RESERVED, 0x100, 0, 0, 0, -EBADMSG },
	{ "prefix one more", M_PREFIX, 1, 0, 0, 0, -EBADMSG },
	{ "prefix one less", M_PREFIX, (uint32_t)-1, 0, 0, 0, -EBADMSG },
	{ "prefix huge", M_PREFIX, 0x7ffff000, 0, 0, 0, -EBADMSG },
	/* M_TAIL: id 0 appends @len bytes of a bare attribute header; else a
	 * header (id, len) followed by only 4 value bytes */
	{ "1 trailing byte", M_TAIL, 0, 0, 1, 0, -EBADMSG },
	{ "3 trailing bytes", M_TAIL, 0, 0, 3, 0, -EBADMSG },
	{ "attr len overruns body by 1", M_TAIL, 0, CTLA_APP, 5, 0, -EBADMSG },
	{ "attr len 0xffff", M_TAIL, 0, 99, 0xffff, 0, -EBADMSG },
	{ "duplicate req_id", M_ATTR, 0, CTLA_REQ_ID, 4, 0, -EBADMSG },
	{ "duplicate overlay_ip", M_ATTR, 0, CTLA_OVERLAY_IP, 4, 0, -EBADMSG },
	{ "be32 len 3", M_ATTR, 0, CTLA_KEY_ID, 3, 0, -EBADMSG },
	{ "be32 len 5", M_ATTR, 0, CTLA_LIFETIME, 5, 0, -EBADMSG },
	{ "be32 len 0", M_ATTR, 0, CTLA_KEY_ID, 0, 0, -EBADMSG },
	{ "ip4 len 3", M_ATTR, 0, CTLA_UNDERLAY_IP, 3, 0, -EBADMSG },
	{ "ip4 len 16", M_ATTR, 0, CTLA_UNDERLAY_IP, 16, 0, -EBADMSG },
	{ "u8 len 0", M_ATTR, 0, CTLA_OVERLAY_PLEN, 0, 0, -EBADMSG },
	{ "u8 len 2", M_ATTR, 0, CTLA_OVERLAY_PLEN, 2, 0, -EBADMSG },
	{ "be16 len 1", M_ATTR, 0, CTLA_UDP_PORT, 1, 0, -EBADMSG },
	{ "be16 len 4", M_ATTR, 0, CTLA_UDP_PORT, 4, 0, -EBADMSG },
	{ "key len 31", M_ATTR, 0, CTLA_KEY, 31, 0, -EBADMSG },
	{ "key len 33", M_ATTR, 0, CTLA_KEY, 33, 0, -EBADMSG },
	{ "key len 32", M_ATTR, 0, CTLA_KEY, 32, 0, 0 },
	{ "string with NUL", M_ATTR, 0, CTLA_APP, 3, 0, -EBADMSG },
	{ "name 63", M_ATTR, 0, CTLA_NAME, CTLMSG_NAME_MAX - 1, 1, 0 },
	{ "name 64", M_ATTR, 0, CTLA_NAME, CTLMSG_NAME_MAX, 1, -EBADMSG },
	{ "token 159", M_ATTR, 0, CTLA_TOKEN, CTLMSG_TOKEN_MAX - 1, 1, 0 },
	{ "token 160", M_ATTR, 0, CTLA_TOKEN, CTLMSG_TOKEN_MAX, 1, -EBADMSG },
	{ "reason 160", M_ATTR, 0, CTLA_REASON, CTLMSG_REASON_MAX, 1, -EBADMSG },
	{ "app 255", M_ATTR, 0, CTLA_APP, CTLMSG_APP_MAX - 1, 1, 0 },
	{ "app 256", M_ATTR, 0, CTLA_APP, CTLMSG_APP_MAX, 1, -EBADMSG },
	{ "csr 4095", M_ATTR, 0, CTLA_CSR, CTLMSG_PEM_MAX - 1, 1, 0 },
	{ "csr 4096", M_ATTR, 0, CTLA_CSR, CTLMSG_PEM_MAX, 1, -EBADMSG },
	{ "cert 4096", M_ATTR, 0, CTLA_CERT, CTLMSG_PEM_MAX, 1, -EBADMSG },
	{ "ca 4096", M_ATTR, 0, CTLA_CA, CTLMSG_PEM_MAX, 1, -EBADMSG },
	{ "domain 127", M_ATTR, 0, CTLA_DOMAIN, CTLMSG_DOMAIN_MAX - 1, 1, 0 },
	{ "domain 128", M_ATTR, 0, CTLA_DOMAIN, CTLMSG_DOMAIN_MAX, 1, -EBADMSG },
	{ "reserved attr 29 skipped", M_ATTR, 0, 29, 7, 0, 0 },
	{ "empty string", M_ATTR, 0, CTLA_REASON, 0, 1, 0 },
	{ "route len 0", M_ATTR, 0, CTLA_ROUTE, 0, 0, -EBADMSG },
	{ "route family 0", M_ATTR, 0, CTLA_ROUTE, CTLMSG_ROUTE_LEN4, 0, -EBADMSG },
	{ "route 'a's", M_ATTR, 0, CTLA_ROUTE, CTLMSG_ROUTE_LEN6, 1, -EBADMSG },
	{ "version 1 routes (19) skipped", M_ATTR, 0, 19, 13, 1, 0 },
	{ "version 1 net_routes (20) skipped", M_ATTR, 0, 20, 13, 1, 0 },
	{ "unknown attr 0 skipped", M_ATTR, 0, 0, 4, 0, 0 },
	{ "unknown attr CTLA_MAX skipped", M_ATTR, 0, CTLA_MAX, 7, 0, 0 },
	{ "unknown attr 0xffff skipped", M_ATTR, 0, 0xffff, 0, 0, 0 },
	{ "unknown attr with NUL skipped", M_ATTR, 0, 200, 100, 0, 0 },
};

static void test_decode_cases(void **state)
{
	struct fb *f = malloc(sizeof(*f));
	size_t i;
	int ret;

	(void)state;
	assert_non_null(f);
	memset(filler, 'a', sizeof(filler));
	for (i = 0; i < ARRAY_SIZE(dcases); i++) {
		const struct dcase *c = &dcases[i];
		uint8_t tail[4] = { c->id >> 8, c->id & 0xff, c->len >> 8,
				    c->len & 0xff };

		base_key_req(f);
		switch (c->mut) {
		case M_NONE:
			fb_finish(f);
			break;
		case M_VERSION:
			fb_finish(f);
			f->buf[4] = c->val;
			break;
		case M_TYPE:
			fb_finish(f);
			f->buf[5] = c->val;
			break;
		case M_RESERVED:
			fb_finish(f);
			f->buf[6] = c->val >> 8;
			f->buf[7] = c->val & 0xff;
			break;
		case M_PREFIX:
			fb_prefix(f, f->len - CTLMSG_HDR_LEN + c->val);
			break;
		case M_TAIL:	/* c->len bytes of an attribute header, or a
				 * header announcing more than follows */
			if (c->id) {
				fb_raw(f, tail, 4);
				fb_raw(f, "abcd", 4);
			} else {
				fb_raw(f, tail, c->len);
			}
			fb_finish(f);
			break;
		case M_ATTR:
			if (!strcmp(c->name, "string with NUL"))
				fb_attr(f, c->id, 3, "a\0b");
			else
				fb_attr(f, c->id, c->len,
					c->fill ? filler : zeros);
			fb_finish(f);
			break;
		}
		memset(&m2, 0xee, sizeof(m2));
		ret = decode_exact(f->buf, f->len, &m2);
		if (ret != c->want)
			fail_msg("case \"%s\": got %d, want %d", c->name, ret,
				 c->want);
		if (!ret) {
			assert_int_equal(m2.type, CTLMSG_KEY_REQ);
			assert_int_equal(m2.req_id, 42);
			assert_int_equal(m2.overlay_ip, htonl(0x0a630002));
			assert_int_equal(m2.present & ~ALL_ATTRS, 0);
		} else {
			/* nothing usable, no key material left behind */
			assert_int_equal(m2.present, 0);
			assert_memory_equal(m2.key, zeros, CTLMSG_KEY_LEN);
		}
	}
	free(f);
}

static void test_decode_short_and_big(void **state)
{
	static const uint8_t short_frames[][8] = {
		{ 0 },
		{ 0, 0, 0, 0 },
		{ 0, 0, 0, 3, 1, CTLMSG_PING, 0 },
	};
	static const size_t short_lens[] = { 0, 4, 7 };
	struct fb *f = malloc(sizeof(*f));
	size_t i;

	(void)state;
	assert_non_null(f);
	for (i = 0; i < ARRAY_SIZE(short_lens); i++)
		assert_int_equal(decode_exact(short_frames[i], short_lens[i],
					      &m2), -EBADMSG);
	/* missing required attribute, only the header */
	fb_start(f, CTLMSG_VERSION, CTLMSG_PING, 0);
	fb_finish(f);
	assert_int_equal(decode_exact(f->buf, f->len, &m2), -EBADMSG);
	/* a required attribute hidden inside an unknown one does not count */
	fb_start(f, CTLMSG_VERSION, CTLMSG_PING, 0);
	fb_attr(f, 77, 8, "\0\x01\0\x04" "abcd");
	fb_finish(f);
	assert_int_equal(decode_exact(f->buf, f->len, &m2), -EBADMSG);
	/* a consistent prefix above CTLMSG_MAX_BODY, made of unknown attrs */
	base_key_req(f);
	while (f->len <= CTLMSG_HDR_LEN + CTLMSG_MAX_BODY)
		fb_attr(f, 100, 1000, zeros);
	fb_finish(f);
	assert_int_equal(decode_exact(f->buf, f->len, &m2), -EBADMSG);
	/* the same with exactly CTLMSG_MAX_BODY bytes of body is fine */
	base_key_req(f);
	while (f->len + 4 + 1000 <= CTLMSG_HDR_LEN + CTLMSG_MAX_BODY)
		fb_attr(f, 100, 1000, zeros);
	fb_attr(f, 100, CTLMSG_HDR_LEN + CTLMSG_MAX_BODY - f->len - 4, zeros);
	fb_finish(f);
	assert_int_equal(f->len, CTLMSG_HDR_LEN + CTLMSG_MAX_BODY);
	assert_int_equal(ctlmsg_frame_len(f->buf, f->len), f->len);
	assert_int_equal(decode_exact(f->buf, f->len, &m2), 0);
	free(f);
}

/*
 * Every prefix of every valid frame: the stream reader must wait for more
 * (frame_len 0) and the decoder must refuse it, without reading outside the
 * exact-size copy. With a prefix rewritten to match the cut, a cut inside an
 * attribute is always malformed.
 */
static void test_truncation(void **state)
{
	uint8_t *copy;
	unsigned int t;
	int len, cut, ret;

	(void)state;
	for (t = 1; t < CTLMSG_TYPE_MAX; t++) {
		if (!ctlmsg_type_known(t))
			continue;
		fill(&m1, t, ALL_ATTRS);
		len = ctlmsg_encode(&m1, frame, sizeof(frame));
		assert_true(len > 0);
		for (cut = 0; cut < len; cut++) {
			copy = malloc(cut ? cut : 1);
			assert_non_null(copy);
			memcpy(copy, frame, cut);
			if (ctlmsg_frame_len(copy, cut) != 0)
				fail_msg("%s cut %d: frame_len %d",
					 ctlmsg_type_name(t), cut,
					 ctlmsg_frame_len(copy, cut));
			if (ctlmsg_decode(copy, cut, &m2) != -EBADMSG)
				fail_msg("%s cut %d decoded",
					 ctlmsg_type_name(t), cut);
			if (cut >= CTLMSG_HDR_LEN) {
				uint32_t body = cut - CTLMSG_HDR_LEN;

				copy[0] = body >> 24;
				copy[1] = body >> 16;
				copy[2] = body >> 8;
				copy[3] = body;
				ret = ctlmsg_decode(copy, cut, &m2);
				assert_true(ret == 0 || ret == -EBADMSG);
			}
			free(copy);
		}
	}
}

static void test_frame_len(void **state)
{
	static const struct {
		const char *name;
		uint8_t buf[12];
		size_t avail;
		int want;
	} cases[] = {
		{ "nothing", { 0 }, 0, 0 },
		{ "1 byte", { 0 }, 1, 0 },
		{ "3 bytes", { 0, 0, 0 }, 3, 0 },
		{ "body 0", { 0, 0, 0, 0 }, 4, -EMSGSIZE },
		{ "body 3", { 0, 0, 0, 3 }, 8, -EMSGSIZE },
		{ "body 4, all there", { 0, 0, 0, 4, 1, 13 }, 8, 8 },
		{ "body 4, 3 there", { 0, 0, 0, 4 }, 7, 0 },
		{ "body 4, more there", { 0, 0, 0, 4 }, 12, 8 },
		{ "body 8, 4 there", { 0, 0, 0, 8 }, 8, 0 },
		{ "max body, prefix only", { 0, 0, 0x80, 0x00 }, 4, 0 },
		{ "max body + 1", { 0, 0, 0x80, 0x01 }, 4, -EMSGSIZE },
		{ "2^31", { 0x80, 0, 0, 0 }, 4, -EMSGSIZE },
		{ "2^32 - 1", { 0xff, 0xff, 0xff, 0xff }, 12, -EMSGSIZE },
	};
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ret = ctlmsg_frame_len(cases[i].buf, cases[i].avail);
		if (ret != cases[i].want)
			fail_msg("case \"%s\": got %d, want %d", cases[i].name,
				 ret, cases[i].want);
	}
	/* two frames back to back: the first one's length */
	fill(&m1, CTLMSG_PING, B(REQ_ID));
	ret = ctlmsg_encode(&m1, frame, sizeof(frame));
	assert_int_equal(ctlmsg_encode(&m1, frame + ret, sizeof(frame) - ret),
			 ret);
	assert_int_equal(ctlmsg_frame_len(frame, 2 * ret), ret);
	assert_int_equal(ctlmsg_frame_len(frame + ret, ret), ret);
}

/* The attributes added for policy and key lifetimes: exact bytes. */
static void test_new_attrs(void **state)
{
	static const uint8_t want[] = {
		0, 0, 0, 25, CTLMSG_VERSION, CTLMSG_KEY_REVOKE, 0, 0,
		0, 5, 0, 3, 'h', '-', '2',
		0, 6, 0, 4, 100, 80, 0, 3,
		0, 16, 0, 2, 0x1f, 0x90,
	};
	static const uint8_t req[] = {
		0, 0, 0, 31, CTLMSG_VERSION, CTLMSG_KEY_REQ, 0, 0,
		0, 1, 0, 4, 0, 0, 0, 7,
		0, 6, 0, 4, 100, 80, 0, 3,
		0, 16, 0, 2, 0x1f, 0x90,
		0, 17, 0, 1, 6,
	};
	uint8_t buf[128];
	int n;

	(void)state;
	ctlmsg_init(&m1, CTLMSG_KEY_REVOKE);
	strcpy(m1.name, "h-2");
	m1.overlay_ip = htonl(0x64500003);
	m1.dst_port = 8080;	/* not required, carried anyway */
	m1.present = B(NAME) | B(OVERLAY_IP) | B(DST_PORT);
	n = ctlmsg_encode(&m1, buf, sizeof(buf));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* KEY_REVOKE without overlay_ip is malformed */
	m1.present = B(NAME);
	assert_int_equal(ctlmsg_encode(&m1, buf, sizeof(buf)), -EINVAL);

	assert_int_equal(decode_exact(req, sizeof(req), &m2), 0);
	assert_int_equal(m2.type, CTLMSG_KEY_REQ);
	assert_int_equal(m2.req_id, 7);
	assert_int_equal(m2.dst_port, 8080);
	assert_int_equal(m2.proto, 6);
	assert_int_equal(m2.present, B(REQ_ID) | B(OVERLAY_IP) | B(DST_PORT) |
			 B(PROTO));
	assert_string_equal(ctlmsg_type_name(CTLMSG_KEY_REVOKE), "KEY_REVOKE");
}

/* CTLA_ROUTE, repeated: exact bytes, order kept, IPv4 and IPv6. */
static void test_route_bytes(void **state)
{
	static const uint8_t want[] = {
		0, 0, 0, 76, CTLMSG_VERSION, CTLMSG_HELLO_ACK, 0, 0,
		0, 5, 0, 1, 'a',
		0, 6, 0, 4, 100, 80, 0, 5,
		0, 7, 0, 1, 16,
		/* own: gateway = the receiver */
		0, 21, 0, 10, 4, 24, 192, 168, 5, 0, 100, 80, 0, 5,
		/* behind 100.80.0.2 */
		0, 21, 0, 10, 4, 0, 0, 0, 0, 0, 100, 80, 0, 2,
		/* IPv6, gateway not known */
		0, 21, 0, 22, 6, 32, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t buf[128];
	int n;

	(void)state;
	ctlmsg_init(&m1, CTLMSG_HELLO_ACK);
	strcpy(m1.name, "a");
	m1.overlay_ip = htonl(0x64500005);
	m1.overlay_plen = 16;
	m1.present = B(NAME) | B(OVERLAY_IP) | B(OVERLAY_PLEN);
	add_route(&m1, "192.168.5.0/24", htonl(0x64500005));
	add_route(&m1, "0.0.0.0/0", htonl(0x64500002));
	add_route(&m1, "2001:db8::/32", 0);
	assert_int_equal(m1.present & B(ROUTE), B(ROUTE));
	n = ctlmsg_encode(&m1, buf, sizeof(buf));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(decode_exact(want, sizeof(want), &m2), 0);
	assert_int_equal(m2.n_routes, 3);
	assert_memory_equal(&m1, &m2, sizeof(m1));
	/* no route: no attribute, and not present */
	ctlmsg_init(&m1, CTLMSG_HELLO_ACK);
	strcpy(m1.name, "a");
	m1.present = B(NAME) | B(OVERLAY_IP) | B(OVERLAY_PLEN);
	n = ctlmsg_encode(&m1, buf, sizeof(buf));
	assert_int_equal(decode_exact(buf, n, &m2), 0);
	assert_int_equal(m2.n_routes, 0);
	assert_int_equal(m2.present & B(ROUTE), 0);
}

/* CTLA_ENDPOINT, repeated: exact bytes, order kept; bad values refused. */
static void test_endpoint_bytes(void **state)
{
	static const uint8_t want[] = {
		0, 0, 0, 46, CTLMSG_VERSION, CTLMSG_HELLO, 0, 0,
		0, 9, 0, 2, 0xca, 0x6c,
		0, 22, 0, 8, 4, 0, 0xca, 0x6c, 198, 20, 0, 11,
		0, 22, 0, 20, 6, 0, 0, 7, 0xfd, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 1,
	};
	struct ctlmsg_endpoint e4 = { .family = AF_INET, .port = 51820,
				      .v4 = htonl(0xc614000b) };
	struct ctlmsg_endpoint e6 = { .family = AF_INET6, .port = 7,
				      .v6 = { 0xfd, [15] = 1 } };
	struct ctlmsg_endpoint bad = e4;
	uint8_t buf[128], patched[sizeof(want)];
	int n;

	(void)state;
	ctlmsg_init(&m1, CTLMSG_HELLO);
	m1.udp_port = 51820;
	m1.present = B(UDP_PORT);
	assert_int_equal(ctlmsg_add_endpoint(&m1, &e4), 0);
	assert_int_equal(ctlmsg_add_endpoint(&m1, &e6), 0);
	n = ctlmsg_encode(&m1, buf, sizeof(buf));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(decode_exact(want, sizeof(want), &m2), 0);
	assert_int_equal(m2.n_endpoints, 2);
	assert_memory_equal(&m1, &m2, sizeof(m1));
	bad.port = 0;
	assert_int_equal(ctlmsg_add_endpoint(&m1, &bad), -EINVAL);
	bad = e4;
	bad.family = 4;
	assert_int_equal(ctlmsg_add_endpoint(&m1, &bad), -EINVAL);
	/* port 0, reserved byte set, wrong family: malformed */
	memcpy(patched, want, sizeof(want));
	patched[20] = patched[21] = 0;
	assert_int_equal(decode_exact(patched, sizeof(patched), &m2), -EBADMSG);
	memcpy(patched, want, sizeof(want));
	patched[19] = 1;
	assert_int_equal(decode_exact(patched, sizeof(patched), &m2), -EBADMSG);
	memcpy(patched, want, sizeof(want));
	patched[18] = 6;
	assert_int_equal(decode_exact(patched, sizeof(patched), &m2), -EBADMSG);
}

/* One route value on a valid KEY_REQ: decoded or -EBADMSG. */
static int decode_route(const uint8_t *val, uint16_t len)
{
	static struct fb f;

	base_key_req(&f);
	fb_attr(&f, CTLA_ROUTE, len, val);
	fb_finish(&f);
	return decode_exact(f.buf, f.len, &m2);
}

static void test_route_decode(void **state)
{
	static const struct {
		const char *name;
		uint8_t val[24];
		uint16_t len;
		int want;
	} cases[] = {
		{ "v4", { 4, 8, 10, 0, 0, 0, 1, 2, 3, 4 }, 10, 0 },
		{ "v4 /32", { 4, 32, 10, 1, 2, 3 }, 10, 0 },
		{ "v4 /0", { 4, 0 }, 10, 0 },
		{ "v4 /33", { 4, 33, 10, 0, 0, 0 }, 10, -EBADMSG },
		{ "v4 host bits", { 4, 8, 10, 0, 0, 1 }, 10, -EBADMSG },
		{ "v4 /0 host bits", { 4, 0, 0, 0, 0, 1 }, 10, -EBADMSG },
		{ "v4 len 9", { 4, 8, 10 }, 9, -EBADMSG },
		{ "v4 len 11", { 4, 8, 10 }, 11, -EBADMSG },
		{ "v4 len of v6", { 4, 8, 10 }, 22, -EBADMSG },
		{ "v6", { 6, 16, 0xfd, 0x01 }, 22, 0 },
		{ "v6 /128", { 6, 128, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
			       11, 12, 13, 14, 15 }, 22, 0 },
		{ "v6 /129", { 6, 129 }, 22, -EBADMSG },
		{ "v6 host bits", { 6, 8, 0xfd, 0x01 }, 22, -EBADMSG },
		{ "v6 len of v4", { 6, 8 }, 10, -EBADMSG },
		{ "family 2 (AF_INET)", { 2, 8, 10 }, 10, -EBADMSG },
		{ "family 10 (AF_INET6)", { 10, 8, 0xfd }, 22, -EBADMSG },
		{ "len 1", { 4 }, 1, -EBADMSG },
	};
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ret = decode_route(cases[i].val, cases[i].len);
		if (ret != cases[i].want)
			fail_msg("case \"%s\": got %d, want %d", cases[i].name,
				 ret, cases[i].want);
		if (ret)
			continue;
		assert_int_equal(m2.n_routes, 1);
		assert_true(prefix_valid(&m2.routes[0].prefix));
		assert_int_equal(m2.routes[0].prefix.plen, cases[i].val[1]);
	}
	/* the gateway, in network order */
	assert_int_equal(decode_route(cases[0].val, 10), 0);
	assert_int_equal(m2.routes[0].prefix.family, AF_INET);
	assert_int_equal(m2.routes[0].prefix.v4, htonl(0x0a000000));
	assert_int_equal(m2.routes[0].gw, htonl(0x01020304));
}

static void test_route_limits(void **state)
{
	static const uint8_t v6[CTLMSG_ROUTE_LEN6] = { 6, 0 };
	struct fb *f = malloc(sizeof(*f));
	struct prefix p;
	unsigned int i;
	int len;

	(void)state;
	assert_non_null(f);
	/* CTLMSG_ROUTES_MAX IPv6 routes fit a KEY_GRANT with every other
	 * attribute; one more is refused by both sides */
	fill(&m1, CTLMSG_KEY_GRANT, ALL_ATTRS);
	m1.n_routes = 0;
	for (i = 0; i < CTLMSG_ROUTES_MAX; i++) {
		uint8_t a[16] = { 0xfd, 0, 0, 0, i >> 8, i };

		p = prefix_from6(a, 48);
		assert_int_equal(ctlmsg_add_route(&m1, &p, htonl(i)), 0);
	}
	assert_int_equal(ctlmsg_add_route(&m1, &p, 0), -ENOSPC);
	len = ctlmsg_encode(&m1, frame, sizeof(frame));
	assert_true(len > 0 && len <= CTLMSG_HDR_LEN + CTLMSG_MAX_BODY);
	assert_int_equal(decode_exact(frame, len, &m2), 0);
	assert_int_equal(m2.n_routes, CTLMSG_ROUTES_MAX);
	assert_memory_equal(&m1, &m2, sizeof(m1));
	m1.n_routes = CTLMSG_ROUTES_MAX + 1;
	assert_int_equal(ctlmsg_encode(&m1, frame, sizeof(frame)), -EINVAL);
	/* the decoder's bound, with a frame the encoder would not write */
	base_key_req(f);
	for (i = 0; i <= CTLMSG_ROUTES_MAX; i++)
		fb_attr(f, CTLA_ROUTE, sizeof(v6), v6);
	fb_finish(f);
	assert_true(f->len <= CTLMSG_HDR_LEN + CTLMSG_MAX_BODY);
	assert_int_equal(decode_exact(f->buf, f->len, &m2), -EBADMSG);
	assert_int_equal(m2.n_routes, 0);
	f->len -= CTLA_HDR_LEN_TEST + sizeof(v6);
	fb_finish(f);
	assert_int_equal(decode_exact(f->buf, f->len, &m2), 0);
	assert_int_equal(m2.n_routes, CTLMSG_ROUTES_MAX);
	/* encoder: the bit without a route, an invalid prefix */
	fill(&m1, CTLMSG_KEY_PUSH, required[CTLMSG_KEY_PUSH] | B(ROUTE));
	m1.n_routes = 0;
	assert_int_equal(ctlmsg_encode(&m1, frame, sizeof(frame)), -EINVAL);
	add_route(&m1, "10.0.0.0/8", 0);
	m1.routes[0].prefix.v4 = htonl(0x0a000001);	/* host bits */
	assert_int_equal(ctlmsg_encode(&m1, frame, sizeof(frame)), -EINVAL);
	m1.routes[0].prefix.v4 = htonl(0x0a000000);
	assert_true(ctlmsg_encode(&m1, frame, sizeof(frame)) > 0);
	p.family = AF_UNIX;
	assert_int_equal(ctlmsg_add_route(&m1, &p, 0), -EINVAL);
	free(f);
}

static void test_names_init_wipe(void **state)
{
	unsigned int t;

	(void)state;
	for (t = 1; t < CTLMSG_TYPE_MAX; t++)
		if (ctlmsg_type_known(t))
			assert_string_not_equal(ctlmsg_type_name(t), "UNKNOWN");
		else
			assert_string_equal(ctlmsg_type_name(t), "UNKNOWN");
	assert_false(ctlmsg_type_known(19));	/* a reserved gap */
	assert_true(ctlmsg_type_known(CTLMSG_FLOW_FLUSH));
	assert_true(ctlmsg_attr_known(CTLA_POLICY_OPEN));
	assert_true(ctlmsg_type_known(CTLMSG_NAMES_END));
	assert_false(ctlmsg_attr_known(19));	/* retired */
	assert_false(ctlmsg_attr_known(CTLA_MAX));
	assert_true(ctlmsg_attr_known(CTLA_DOMAIN));
	assert_string_equal(ctlmsg_type_name(CTLMSG_KEY_REQ), "KEY_REQ");
	assert_string_equal(ctlmsg_type_name(CTLMSG_RESOLVE_RESP),
			    "RESOLVE_RESP");
	assert_string_equal(ctlmsg_type_name(0), "UNKNOWN");
	assert_string_equal(ctlmsg_type_name(CTLMSG_TYPE_MAX), "UNKNOWN");
	assert_string_equal(ctlmsg_type_name(100000), "UNKNOWN");

	memset(&m1, 0x55, sizeof(m1));
	ctlmsg_init(&m1, CTLMSG_PONG);
	assert_int_equal(m1.type, CTLMSG_PONG);
	assert_int_equal(m1.present, 0);
	assert_int_equal(m1.name[0], 0);
	fill(&m1, CTLMSG_KEY_PUSH, ALL_ATTRS);
	ctlmsg_wipe(&m1);
	memset(&m2, 0, sizeof(m2));
	assert_memory_equal(&m1, &m2, sizeof(m1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_decode_cases),
		cmocka_unit_test(test_decode_short_and_big),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_frame_len),
		cmocka_unit_test(test_names_init_wipe),
		cmocka_unit_test(test_new_attrs),
		cmocka_unit_test(test_route_bytes),
		cmocka_unit_test(test_endpoint_bytes),
		cmocka_unit_test(test_route_decode),
		cmocka_unit_test(test_route_limits),
	};

	return cmocka_run_group_tests_name("ctlmsg", tests, NULL, NULL);
}
