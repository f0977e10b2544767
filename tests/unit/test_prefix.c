// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prefix module: the strict parser (good and bad inputs, both families,
 * the /0 /32 /128 edges), format round trips, masks, contains/overlaps,
 * and the longest-prefix-match table against a plain linear model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "mavpn/prefix.h"
#include "mavpn/util.h"

static struct prefix P(const char *s)
{
	struct prefix p;
	const char *why = NULL;

	if (prefix_parse(s, 0, &p, &why))
		fail_msg("bad test prefix %s: %s", s, why);
	return p;
}

struct good {
	const char *in;
	unsigned int flags;
	const char *out;	/* prefix_format() of the result */
};

static const struct good goods[] = {
	{ "10.0.0.0/8", 0, "10.0.0.0/8" },
	{ "0.0.0.0/0", 0, "0.0.0.0/0" },
	{ "255.255.255.255/32", 0, "255.255.255.255/32" },
	{ "192.168.1.128/25", 0, "192.168.1.128/25" },
	{ "100.64.0.0/10", PREFIX_PARSE_V4, "100.64.0.0/10" },
	{ "10.1.2.3/8", PREFIX_PARSE_CLEAR_HOST, "10.0.0.0/8" },
	{ "10.1.2.3/0", PREFIX_PARSE_CLEAR_HOST, "0.0.0.0/0" },
	{ "10.1.2.3", PREFIX_PARSE_ADDR, "10.1.2.3/32" },
	{ "0.0.0.0", PREFIX_PARSE_ADDR, "0.0.0.0/32" },
	{ "::/0", 0, "::/0" },
	{ "::1/128", 0, "::1/128" },
	{ "2001:db8::/32", 0, "2001:db8::/32" },
	{ "2001:DB8:0:0::/64", PREFIX_PARSE_V6, "2001:db8::/64" },
	{ "2001:db8::1/64", PREFIX_PARSE_CLEAR_HOST, "2001:db8::/64" },
	{ "fe80::1", PREFIX_PARSE_ADDR, "fe80::1/128" },
	{ "::ffff:10.0.0.1/128", 0, "::ffff:10.0.0.1/128" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 0,
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128" },
	{ "2001:db8:8000::/33", 0, "2001:db8:8000::/33" },
};

struct bad {
	const char *in;
	unsigned int flags;
	const char *why;
};

static const struct bad bads[] = {
	{ "", 0, "not an address" },
	{ "/8", 0, "not an address" },
	{ "10.0.0.0", 0, "expected A.B.C.D/N" },
	{ "2001:db8::", 0, "expected X:X::X/N" },
	{ "10.0.0.0/", 0, "bad prefix length" },
	{ "10.0.0.0/33", 0, "bad prefix length" },
	{ "10.0.0.0/08", 0, "bad prefix length" },
	{ "10.0.0.0/+8", 0, "bad prefix length" },
	{ "10.0.0.0/-0", 0, "bad prefix length" },
	{ "10.0.0.0/8 ", 0, "bad prefix length" },
	{ "10.0.0.0/8x", 0, "bad prefix length" },
	{ "10.0.0.0/8/8", 0, "bad prefix length" },
	{ "10.0.0.0/1000", 0, "bad prefix length" },
	{ "10.0.0.0/4294967304", 0, "bad prefix length" },
	{ " 10.0.0.0/8", 0, "not an IPv4 address" },
	{ "10.0.0/8", 0, "not an IPv4 address" },
	{ "10.0.0.0.0/8", 0, "not an IPv4 address" },
	{ "010.0.0.0/8", 0, "not an IPv4 address" },
	{ "10.00.0.0/16", 0, "not an IPv4 address" },
	{ "256.0.0.0/8", 0, "not an IPv4 address" },
	{ "1.2.3.-4/32", 0, "not an IPv4 address" },
	{ "0x0a.0.0.0/8", 0, "not an IPv4 address" },
	{ "10..0.0/8", 0, "not an IPv4 address" },
	{ "10.0.0.0\n/8", 0, "not an IPv4 address" },
	{ "10.0.0.1/8", 0, "host bits set" },
	{ "1.2.3.4/0", 0, "host bits set" },
	{ "10.0.0.0/8", PREFIX_PARSE_V6, "not an IPv6 address" },
	{ "2001:db8::/32", PREFIX_PARSE_V4, "not an IPv4 address" },
	{ "2001:db8::/129", 0, "bad prefix length" },
	{ "2001:db8::1/64", 0, "host bits set" },
	{ "fe80::1%eth0/64", 0, "not an IPv6 address" },
	{ "2001:db8:::/48", 0, "not an IPv6 address" },
	{ "12345::/16", 0, "not an IPv6 address" },
};

static void test_parse_good(void **state)
{
	char buf[PREFIX_STRLEN];
	struct prefix p, q;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(goods); i++) {
		why = NULL;
		if (prefix_parse(goods[i].in, goods[i].flags, &p, &why))
			fail_msg("%s refused: %s", goods[i].in, why);
		assert_true(prefix_valid(&p));
		assert_string_equal(prefix_format(&p, buf, sizeof(buf)),
				    goods[i].out);
		/* The printed form parses back to the same bytes. */
		assert_int_equal(prefix_parse(buf, 0, &q, NULL), 0);
		assert_memory_equal(&p, &q, sizeof(p));
	}
}

static void test_parse_bad(void **state)
{
	struct prefix p;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(bads); i++) {
		why = NULL;
		memset(&p, 0xa5, sizeof(p));
		if (prefix_parse(bads[i].in, bads[i].flags, &p, &why) != -EINVAL)
			fail_msg("\"%s\" accepted", bads[i].in);
		assert_non_null(why);
		if (strcmp(why, bads[i].why))
			fail_msg("\"%s\": why \"%s\", want \"%s\"", bads[i].in,
				 why, bads[i].why);
		/* Nothing half-parsed is left behind. */
		assert_int_equal(p.family, 0);
		assert_int_equal(p.plen, 0);
	}
	/* why may be NULL. */
	assert_int_equal(prefix_parse("x", 0, &p, NULL), -EINVAL);
}

static void test_addr_parse(void **state)
{
	struct prefix p;
	const char *why = NULL;
	char buf[PREFIX_STRLEN];

	(void)state;
	assert_int_equal(prefix_addr_parse("10.1.2.3", 0, &p, &why), 0);
	assert_true(prefix_is_host(&p));
	assert_int_equal(p.v4, htonl(0x0a010203));
	assert_int_equal(prefix_addr_parse("2001:db8::5", PREFIX_PARSE_V6, &p,
					   NULL), 0);
	assert_true(prefix_is_host(&p));
	assert_string_equal(prefix_format(&p, buf, sizeof(buf)),
			    "2001:db8::5/128");
	assert_int_equal(prefix_addr_parse("10.1.2.3/32", 0, &p, &why),
			 -EINVAL);
	assert_string_equal(why, "expected an address, not a prefix");
	assert_int_equal(prefix_addr_parse("10.1.2.3", PREFIX_PARSE_V6, &p,
					   &why), -EINVAL);
	assert_int_equal(prefix_addr_parse("10.1.2", 0, &p, &why), -EINVAL);
}

static void test_format(void **state)
{
	struct prefix p = P("192.168.100.0/24"), bad = p;
	char small[8], buf[PREFIX_STRLEN];

	(void)state;
	/* Truncated, still terminated. */
	assert_ptr_equal(prefix_format(&p, small, sizeof(small)), small);
	assert_string_equal(small, "192.168");
	bad.v4 |= htonl(1);
	assert_string_equal(prefix_format(&bad, buf, sizeof(buf)), "invalid");
	bad = p;
	bad.family = 99;
	assert_string_equal(prefix_format(&bad, buf, sizeof(buf)), "invalid");
	bad = p;
	bad.plen = 33;
	assert_string_equal(prefix_format(&bad, buf, sizeof(buf)), "invalid");
	/* The longest form fits PREFIX_STRLEN. */
	p = P("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128");
	prefix_format(&p, buf, sizeof(buf));
	assert_true(strlen(buf) < PREFIX_STRLEN);
}

static void test_masks(void **state)
{
	static const struct { unsigned int plen; uint32_t mask; } m4[] = {
		{ 0, 0 }, { 1, 0x80000000 }, { 8, 0xff000000 },
		{ 24, 0xffffff00 }, { 31, 0xfffffffe }, { 32, 0xffffffff },
		{ 33, 0xffffffff }, { 255, 0xffffffff },
	};
	uint8_t m6[16], want[16];
	unsigned int i, plen;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(m4); i++)
		assert_int_equal(prefix_mask4(m4[i].plen), htonl(m4[i].mask));
	for (plen = 0; plen <= 130; plen++) {
		memset(want, 0, sizeof(want));
		for (i = 0; i < 128 && i < plen; i++)
			want[i / 8] |= (uint8_t)(0x80 >> (i % 8));
		prefix_mask6(plen, m6);
		assert_memory_equal(m6, want, 16);
	}
}

static void test_from(void **state)
{
	uint8_t a[16];
	struct prefix p;

	(void)state;
	p = prefix_from4(htonl(0x0a0b0c0d), 16);
	assert_true(prefix_valid(&p));
	assert_int_equal(p.v4, htonl(0x0a0b0000));
	p = prefix_from4(htonl(0x0a0b0c0d), 0);
	assert_int_equal(p.v4, 0);
	assert_int_equal(p.plen, 0);
	p = prefix_from4(htonl(0x0a0b0c0d), 40);
	assert_int_equal(p.plen, 32);
	memset(a, 0xff, sizeof(a));
	p = prefix_from6(a, 12);
	assert_true(prefix_valid(&p));
	assert_int_equal(p.v6[0], 0xff);
	assert_int_equal(p.v6[1], 0xf0);
	assert_int_equal(p.v6[2], 0);
	p = prefix_from6(a, 200);
	assert_int_equal(p.plen, 128);
}

struct rel {
	const char *a, *b;
	bool a_contains_b, overlaps;
};

static const struct rel rels[] = {
	{ "10.0.0.0/8", "10.1.0.0/16", true, true },
	{ "10.1.0.0/16", "10.0.0.0/8", false, true },
	{ "10.0.0.0/8", "10.0.0.0/8", true, true },
	{ "10.0.0.0/8", "11.0.0.0/8", false, false },
	{ "0.0.0.0/0", "192.0.2.1/32", true, true },
	{ "0.0.0.0/0", "0.0.0.0/0", true, true },
	{ "192.0.2.1/32", "192.0.2.1/32", true, true },
	{ "192.0.2.1/32", "192.0.2.0/32", false, false },
	{ "192.0.2.0/25", "192.0.2.128/25", false, false },
	{ "192.0.2.0/24", "192.0.2.128/25", true, true },
	{ "::/0", "2001:db8::/32", true, true },
	{ "::/0", "0.0.0.0/0", false, false },		/* families differ */
	{ "0.0.0.0/0", "::/0", false, false },
	{ "2001:db8::/32", "2001:db8:1::/48", true, true },
	{ "2001:db8::/32", "2001:db9::/32", false, false },
	{ "2001:db8::/33", "2001:db8:8000::/33", false, false },
	{ "2001:db8::1/128", "2001:db8::1/128", true, true },
	{ "2001:db8::1/128", "2001:db8::2/128", false, false },
};

static void test_relations(void **state)
{
	struct prefix a, b;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(rels); i++) {
		a = P(rels[i].a);
		b = P(rels[i].b);
		if (prefix_contains(&a, &b) != rels[i].a_contains_b)
			fail_msg("contains(%s, %s) wrong", rels[i].a, rels[i].b);
		if (prefix_overlaps(&a, &b) != rels[i].overlaps ||
		    prefix_overlaps(&b, &a) != rels[i].overlaps)
			fail_msg("overlaps(%s, %s) wrong", rels[i].a, rels[i].b);
		assert_int_equal(prefix_equal(&a, &b), !strcmp(rels[i].a,
							       rels[i].b));
		assert_int_equal(prefix_cmp(&a, &b), -prefix_cmp(&b, &a));
	}
	a = P("10.0.0.0/8");
	assert_true(prefix_contains4(&a, htonl(0x0affffff)));
	assert_false(prefix_contains4(&a, htonl(0x0b000000)));
	a = P("0.0.0.0/0");
	assert_true(prefix_contains4(&a, htonl(0xffffffff)));
	a = P("::/0");
	assert_false(prefix_contains4(&a, 0));
}

static void test_list(void **state)
{
	static const struct {
		const char *in;
		int ret;		/* count or -errno */
		const char *out;	/* prefix_list_format() */
	} cases[] = {
		{ "", 0, "" },
		{ "10.0.0.0/8", 1, "10.0.0.0/8" },
		{ "10.0.0.0/8,192.168.1.0/24,2001:db8::/32", 3,
		  "10.0.0.0/8,192.168.1.0/24,2001:db8::/32" },
		{ "10.0.0.0/8,", -EINVAL, NULL },
		{ ",10.0.0.0/8", -EINVAL, NULL },
		{ "10.0.0.0/8,,11.0.0.0/8", -EINVAL, NULL },
		{ "10.0.0.0/8, 11.0.0.0/8", -EINVAL, NULL },
		{ "10.0.0.1/8", -EINVAL, NULL },
		{ "1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8,5.0.0.0/8", -ENOSPC,
		  NULL },
		{ "1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8", 4,
		  "1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8" },
	};
	struct prefix out[4];
	char buf[256];
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
		ret = prefix_list_parse(cases[i].in, 0, out, 4, NULL);
		if (ret != cases[i].ret)
			fail_msg("\"%s\": %d, want %d", cases[i].in, ret,
				 cases[i].ret);
		if (ret < 0)
			continue;
		assert_int_equal(prefix_list_format(out, (unsigned int)ret, buf,
						    sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].out);
	}
	/* Only IPv4 wanted. */
	assert_int_equal(prefix_list_parse("10.0.0.0/8,::/0", PREFIX_PARSE_V4,
					   out, 4, NULL), -EINVAL);
	/* A buffer too small keeps the whole entries that fit. */
	assert_int_equal(prefix_list_parse("10.0.0.0/8,11.0.0.0/8", 0, out, 4,
					   NULL), 2);
	assert_int_equal(prefix_list_format(out, 2, buf, 15), -ENOSPC);
	assert_string_equal(buf, "10.0.0.0/8");
	assert_int_equal(prefix_list_format(out, 2, buf, 22), 0);
	assert_int_equal(prefix_list_format(out, 2, buf, 21), -ENOSPC);
	assert_int_equal(prefix_list_format(out, 0, buf, 1), 0);
	assert_string_equal(buf, "");
}

/* ---- LPM table against a linear model ---- */

static void test_table_basics(void **state)
{
	struct prefix_table *t = prefix_table_new(4);
	struct prefix m, p = P("10.0.0.0/8"), q = P("10.1.0.0/16");
	uint64_t v;

	(void)state;
	assert_non_null(t);
	assert_int_equal(prefix_table_lookup4(t, htonl(0x0a010101), &m, &v),
			 -ENOENT);
	assert_int_equal(prefix_table_add(t, &p, 8), 0);
	assert_int_equal(prefix_table_add(t, &p, 9), -EEXIST);
	assert_int_equal(prefix_table_get(t, &p, &v), 0);
	assert_int_equal(v, 8);
	assert_int_equal(prefix_table_set(t, &p, 88), 0);
	assert_int_equal(prefix_table_get(t, &p, &v), 0);
	assert_int_equal(v, 88);
	assert_int_equal(prefix_table_add(t, &q, 16), 0);
	assert_int_equal(prefix_table_lookup4(t, htonl(0x0a010101), &m, &v), 0);
	assert_true(prefix_equal(&m, &q));
	assert_int_equal(v, 16);
	assert_int_equal(prefix_table_lookup4(t, htonl(0x0a020101), &m, &v), 0);
	assert_true(prefix_equal(&m, &p));
	assert_int_equal(v, 88);
	/* A prefix key: the longest entry containing all of it. */
	m = P("10.1.128.0/17");
	assert_int_equal(prefix_table_lookup(t, &m, NULL, &v), 0);
	assert_int_equal(v, 16);
	m = P("10.0.0.0/9");
	assert_int_equal(prefix_table_lookup(t, &m, NULL, &v), 0);
	assert_int_equal(v, 88);
	m = P("0.0.0.0/0");
	assert_int_equal(prefix_table_lookup(t, &m, NULL, &v), -ENOENT);
	/* Invalid prefixes are refused, not stored. */
	m = p;
	m.v4 |= htonl(1);
	assert_int_equal(prefix_table_add(t, &m, 1), -EINVAL);
	m.family = 0;
	assert_int_equal(prefix_table_add(t, &m, 1), -EINVAL);
	assert_int_equal(prefix_table_lookup(t, &m, NULL, NULL), -ENOENT);
	/* Capacity. */
	m = P("::/0");
	assert_int_equal(prefix_table_add(t, &m, 0), 0);
	m = P("192.0.2.7/32");
	assert_int_equal(prefix_table_add(t, &m, 32), 0);
	m = P("192.0.2.8/32");
	assert_int_equal(prefix_table_add(t, &m, 32), -ENOSPC);
	assert_int_equal(prefix_table_count(t), 4);
	/* /0 catches everything of its family, and only of it. */
	m = P("2001:db8::1/128");
	assert_int_equal(prefix_table_lookup(t, &m, &m, &v), 0);
	assert_int_equal(m.plen, 0);
	assert_int_equal(prefix_table_lookup4(t, htonl(0x0b000000), NULL, NULL),
			 -ENOENT);
	assert_int_equal(prefix_table_lookup4(t, htonl(0xc0000207), NULL, &v), 0);
	assert_int_equal(v, 32);
	/* Delete frees the slot. */
	assert_int_equal(prefix_table_del(t, &q), 0);
	assert_int_equal(prefix_table_del(t, &q), -ENOENT);
	assert_int_equal(prefix_table_lookup4(t, htonl(0x0a010101), NULL, &v), 0);
	assert_int_equal(v, 88);
	m = P("192.0.2.8/32");
	assert_int_equal(prefix_table_add(t, &m, 32), 0);
	prefix_table_clear(t);
	assert_int_equal(prefix_table_count(t), 0);
	assert_int_equal(prefix_table_lookup4(t, htonl(0x0a010101), NULL, NULL),
			 -ENOENT);
	prefix_table_free(t);
	prefix_table_free(NULL);
	assert_null(prefix_table_new(0));
	assert_int_equal(errno, EINVAL);
}

#define MODEL_MAX	64

struct model {
	struct prefix p[MODEL_MAX];
	uint64_t v[MODEL_MAX];
	int n;
};

static int model_lookup(const struct model *m, const struct prefix *key,
			uint64_t *val)
{
	int i, best = -1;

	for (i = 0; i < m->n; i++)
		if (prefix_contains(&m->p[i], key) &&
		    (best < 0 || m->p[i].plen > m->p[best].plen))
			best = i;
	if (best >= 0)
		*val = m->v[best];
	return best;
}

static int walk_sum(void *arg, const struct prefix *p, uint64_t val)
{
	(void)p;
	*(uint64_t *)arg += val;
	return 0;
}

static int walk_stop(void *arg, const struct prefix *p, uint64_t val)
{
	(void)p;
	(void)val;
	return ++*(int *)arg == 2 ? 7 : 0;
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* A random prefix from a small space, so that adds collide and nest. */
static struct prefix rnd_prefix(uint64_t *s)
{
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	if (rnd(s) & 1)
		return prefix_from4(htonl(0x0a000000 | (rnd(s) & 0x00ff00ff)),
				    rnd(s) % 33);
	a[4] = (uint8_t)rnd(s);
	a[15] = (uint8_t)rnd(s);
	return prefix_from6(a, rnd(s) % 129);
}

static void test_table_model(void **state)
{
	struct prefix_table *t = prefix_table_new(MODEL_MAX);
	struct model m = { .n = 0 };
	uint64_t seed = 42, v, mv, sum, msum;
	struct prefix p, key;
	int i, j, step, ret, mi, stops;

	(void)state;
	assert_non_null(t);
	for (step = 0; step < 20000; step++) {
		p = rnd_prefix(&seed);
		for (j = 0; j < m.n && !prefix_equal(&m.p[j], &p); j++)
			;
		switch (rnd(&seed) % 3) {
		case 0:		/* add */
			ret = prefix_table_add(t, &p, step);
			if (j < m.n)
				assert_int_equal(ret, -EEXIST);
			else if (m.n == MODEL_MAX)
				assert_int_equal(ret, -ENOSPC);
			else {
				assert_int_equal(ret, 0);
				m.p[m.n] = p;
				m.v[m.n++] = step;
			}
			break;
		case 1:		/* delete */
			ret = prefix_table_del(t, &p);
			if (j == m.n) {
				assert_int_equal(ret, -ENOENT);
				break;
			}
			assert_int_equal(ret, 0);
			m.p[j] = m.p[--m.n];
			m.v[j] = m.v[m.n];
			break;
		default:	/* lookup of a host in or near it */
			key = p;
			key.plen = p.family == AF_INET ? 32 : 128;
			if (p.family == AF_INET)
				key.v4 |= htonl(rnd(&seed) & 0xff);
			else
				key.v6[15] |= (uint8_t)rnd(&seed);
			mi = model_lookup(&m, &key, &mv);
			ret = prefix_table_lookup(t, &key, &p, &v);
			if (mi < 0) {
				assert_int_equal(ret, -ENOENT);
			} else {
				assert_int_equal(ret, 0);
				assert_int_equal(v, mv);
				assert_true(prefix_equal(&p, &m.p[mi]));
			}
		}
		assert_int_equal(prefix_table_count(t), m.n);
	}
	sum = 0;
	for (msum = 0, i = 0; i < m.n; i++)
		msum += m.v[i];
	assert_int_equal(prefix_table_walk(t, walk_sum, &sum), 0);
	assert_int_equal(sum, msum);
	stops = 0;
	if (m.n >= 2)
		assert_int_equal(prefix_table_walk(t, walk_stop, &stops), 7);
	prefix_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_from),
		cmocka_unit_test(test_relations),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_table_basics),
		cmocka_unit_test(test_table_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
