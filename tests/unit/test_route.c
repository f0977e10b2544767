// SPDX-License-Identifier: GPL-2.0-only
/*
 * Gateway route lists (ctl/vpnd/route.c, gw.c): the "cidr,cidr" parser, table-driven,
 * and the gateway table's longest-prefix lookup, with the kernel, socket
 * shim and data plane stubbed out (the module is compiled in).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../ctl/vpnd/route.c"
#include "../../ctl/vpnd/gw.c"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Stubs: the table logic is under test, not the kernel. */
int shim_protect(struct shim *s, uint32_t net, uint8_t plen)
{
	(void)s; (void)net; (void)plen;
	return 0;
}

int shim_unprotect(struct shim *s, uint32_t net, uint8_t plen)
{
	(void)s; (void)net; (void)plen;
	return 0;
}

int datapath_set_routes(struct datapath *dp, const struct dp_route *r, int n)
{
	(void)dp; (void)r; (void)n;
	return 0;
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static const struct {
	const char *in;
	int n;			/* expected count or -EINVAL */
	const char *first;	/* canonical first route */
} parse_cases[] = {
	{ "", 0, NULL },
	{ "198.19.0.0/24", 1, "198.19.0.0/24" },
	{ "198.19.0.7/24", 1, "198.19.0.0/24" },	/* host bits cleared */
	{ "10.0.0.0/8,198.19.0.0/24", 2, "10.0.0.0/8" },
	{ "0.0.0.0/0", 1, "0.0.0.0/0" },
	{ "1.2.3.4/32", 1, "1.2.3.4/32" },
	{ "198.19.0.0", -EINVAL, NULL },		/* no length */
	{ "198.19.0.0/33", -EINVAL, NULL },
	{ "198.19.0.0/-1", -EINVAL, NULL },
	{ "198.19.0.0/24,", -EINVAL, NULL },		/* empty item */
	{ ",198.19.0.0/24", -EINVAL, NULL },
	{ "198.19.0/24", -EINVAL, NULL },
	{ "198.19.0.0/24x", -EINVAL, NULL },
	{ "fd00::/8", -EINVAL, NULL },
	{ "198.19.0.0/024/1", -EINVAL, NULL },
};

static void test_parse(void **state)
{
	struct route r[ROUTE_MAX];
	char buf[24];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		n = route_parse(parse_cases[i].in, ip("100.80.0.2"), r,
				ROUTE_MAX);
		if (n != parse_cases[i].n)
			fail_msg("\"%s\": got %d, want %d", parse_cases[i].in,
				 n, parse_cases[i].n);
		if (n > 0) {
			assert_string_equal(route_str(&r[0], buf, sizeof(buf)),
					    parse_cases[i].first);
			assert_int_equal(r[0].gw, ip("100.80.0.2"));
		}
	}
}

static void test_parse_limit(void **state)
{
	struct route r[2];

	(void)state;
	assert_int_equal(route_parse("1.0.0.0/8,2.0.0.0/8", 0, r, 2), 2);
	assert_int_equal(route_parse("1.0.0.0/8,2.0.0.0/8,3.0.0.0/8", 0, r, 2),
			 -EINVAL);
}

static void test_lookup(void **state)
{
	struct gw g = { .n_net = 3 };

	(void)state;
	route_parse("198.19.0.0/16", ip("100.80.0.2"), &g.net[0], 1);
	route_parse("198.19.7.0/24", ip("100.80.0.3"), &g.net[1], 1);
	route_parse("10.1.0.0/16", 0, &g.net[2], 1);	/* gateway unknown */
	assert_int_equal(gw_key_dst(&g, ip("198.19.0.10")), ip("100.80.0.2"));
	assert_int_equal(gw_key_dst(&g, ip("198.19.7.10")), ip("100.80.0.3"));
	assert_int_equal(gw_key_dst(&g, ip("10.1.2.3")), 0);
	assert_true(gw_is_remote(&g, ip("10.1.2.3")));
	assert_int_equal(gw_key_dst(&g, ip("198.20.0.1")), 0);
	assert_false(gw_is_remote(&g, ip("198.20.0.1")));
	assert_false(gw_is_remote(NULL, ip("198.19.0.1")));
}

static void test_net_list(void **state)
{
	struct route r[ROUTE_MAX];

	(void)state;
	assert_int_equal(gw_parse_net("198.19.0.0/24=100.80.0.2,10.0.0.0/8",
				      r, ROUTE_MAX), 2);
	assert_int_equal(r[0].gw, ip("100.80.0.2"));
	assert_int_equal(r[1].gw, 0);
	assert_int_equal(gw_parse_net("198.19.0.0/24=100.80.0", r, ROUTE_MAX),
			 -EINVAL);
	assert_int_equal(gw_parse_net("=100.80.0.2", r, ROUTE_MAX), -EINVAL);
	assert_int_equal(gw_parse_net("", r, ROUTE_MAX), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_limit),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_net_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
