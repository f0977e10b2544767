// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway table (ctl/vpnd/gw.c), linked as an ordinary object: a pure
 * table, so no kernel, shim or data plane to stub. HELLO_ACK with own and
 * network routes, KEY_GRANT learning, removal, longest-prefix lookups over
 * overlapping prefixes, the change lists route_apply() would get, and
 * STATE/routes across a restart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw.h"

static char dir[64];
static struct gw_changes ch;

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct ctlmsg_route rt(const char *cidr, const char *gw)
{
	struct ctlmsg_route r = { .gw = gw ? ip(gw) : 0 };

	assert_int_equal(prefix_parse(cidr, 0, &r.prefix, NULL), 0);
	return r;
}

#define SELF	"100.80.0.5"

/* "+own 192.168.5.0/24", "-net 198.19.7.0/24 100.80.0.3", ... */
static void expect_changes(const char *const *want, unsigned int n)
{
	char got[96], cidr[PREFIX_STRLEN], gw[INET_ADDRSTRLEN];
	const struct gw_change *c;
	unsigned int i;

	for (i = 0; i < ch.n && i < n; i++) {
		c = &ch.c[i];
		prefix_format(&c->r.prefix, cidr, sizeof(cidr));
		inet_ntop(AF_INET, &c->r.gw, gw, sizeof(gw));
		if (c->r.own)
			snprintf(got, sizeof(got), "%cown %s",
				 c->op == GW_ADD ? '+' : '-', cidr);
		else
			snprintf(got, sizeof(got), "%cnet %s %s",
				 c->op == GW_ADD ? '+' : '-', cidr, gw);
		if (strcmp(got, want[i]))
			fail_msg("change %u: got \"%s\", want \"%s\"", i, got,
				 want[i]);
	}
	assert_int_equal(ch.n, n);
}

#define EXPECT(...) do {						\
	static const char *const w_[] = { __VA_ARGS__ };		\
	expect_changes(w_, sizeof(w_) / sizeof(w_[0]));		\
} while (0)

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_route.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char path[96];

	(void)state;
	snprintf(path, sizeof(path), "%s/routes", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* The table after one HELLO_ACK with own and overlapping net routes. */
static struct gw *hello_table(void)
{
	const struct ctlmsg_route r[] = {
		rt("198.19.0.0/16", "100.80.0.2"),
		rt("192.168.5.0/24", SELF),		/* ours */
		rt("198.19.7.0/24", "100.80.0.3"),	/* inside the /16 */
		rt("10.1.0.0/16", NULL),		/* gateway unknown */
	};
	struct gw *g = gw_new(dir, ip(SELF), &ch);

	assert_non_null(g);
	assert_int_equal(ch.n, 0);		/* nothing to restore */
	assert_int_equal(gw_hello(g, r, 4, &ch), 0);
	return g;
}

static void test_hello(void **state)
{
	struct gw_route r[GW_ROUTES_MAX];
	struct gw *g = hello_table();

	(void)state;
	/* own first, then net, each in prefix order */
	EXPECT("+own 192.168.5.0/24", "+net 10.1.0.0/16 0.0.0.0",
	       "+net 198.19.0.0/16 100.80.0.2",
	       "+net 198.19.7.0/24 100.80.0.3");
	assert_int_equal(gw_n_own(g), 1);
	assert_int_equal(gw_routes(g, r, GW_ROUTES_MAX), 4);
	assert_true(r[0].own);
	assert_false(r[1].own);
	assert_int_equal(gw_routes(g, r, 2), 2);	/* bounded */
	gw_free(g);
}

static void test_lookup(void **state)
{
	struct gw *g = hello_table();

	(void)state;
	/* longest prefix: the /24 inside the /16 wins */
	assert_int_equal(gw_key_dst(g, ip("198.19.7.10")), ip("100.80.0.3"));
	assert_int_equal(gw_key_dst(g, ip("198.19.0.10")), ip("100.80.0.2"));
	assert_int_equal(gw_key_dst(g, ip("198.19.8.1")), ip("100.80.0.2"));
	/* a known prefix whose gateway is not */
	assert_int_equal(gw_key_dst(g, ip("10.1.2.3")), 0);
	assert_true(gw_is_remote(g, ip("10.1.2.3")));
	/* off every prefix, and our own LAN */
	assert_int_equal(gw_key_dst(g, ip("198.20.0.1")), 0);
	assert_false(gw_is_remote(g, ip("198.20.0.1")));
	assert_false(gw_is_remote(g, ip("192.168.5.1")));
	assert_false(gw_is_remote(NULL, ip("198.19.0.1")));
	assert_int_equal(gw_key_dst(NULL, ip("198.19.0.1")), 0);
	gw_free(g);
}

static void test_learn(void **state)
{
	const struct ctlmsg_route r[] = {
		rt("10.1.0.0/16", "100.80.0.4"),
		rt("192.168.5.0/24", "100.80.0.4"),	/* ours: never */
		rt("172.16.0.0/12", "100.80.0.4"),	/* new */
		rt("fd00::/8", "100.80.0.4"),		/* IPv6: ignored */
	};
	struct gw *g = hello_table();

	(void)state;
	/* the gateway is the key's peer, whatever the route says */
	assert_int_equal(gw_learn(g, ip("100.80.0.4"), r, 4, &ch), 2);
	EXPECT("+net 10.1.0.0/16 100.80.0.4",
	       "+net 172.16.0.0/12 100.80.0.4");
	assert_int_equal(gw_key_dst(g, ip("10.1.2.3")), ip("100.80.0.4"));
	assert_int_equal(gw_key_dst(g, ip("172.20.0.1")), ip("100.80.0.4"));
	assert_false(gw_is_remote(g, ip("192.168.5.1")));
	/* the same again: nothing changes */
	assert_int_equal(gw_learn(g, ip("100.80.0.4"), r, 4, &ch), 0);
	assert_int_equal(ch.n, 0);
	/* a prefix moves to another gateway */
	assert_int_equal(gw_learn(g, ip("100.80.0.6"), r, 1, &ch), 1);
	EXPECT("+net 10.1.0.0/16 100.80.0.6");
	gw_free(g);
}

static void test_remove(void **state)
{
	const struct ctlmsg_route r[] = {
		rt("198.19.0.0/16", "100.80.0.2"),
		rt("10.1.0.0/16", NULL),
	};
	const struct ctlmsg_route l = rt("10.1.0.0/16", "100.80.0.4");
	struct gw *g = hello_table();

	(void)state;
	assert_int_equal(gw_learn(g, ip("100.80.0.4"), &l, 1, &ch), 1);
	/* our route and the /24 are gone; 10.1/16 keeps the learnt gw */
	assert_int_equal(gw_hello(g, r, 2, &ch), 0);
	EXPECT("-own 192.168.5.0/24", "-net 198.19.7.0/24 100.80.0.3",
	       "+net 10.1.0.0/16 100.80.0.4",
	       "+net 198.19.0.0/16 100.80.0.2");
	assert_int_equal(gw_n_own(g), 0);
	assert_int_equal(gw_key_dst(g, ip("198.19.7.10")), ip("100.80.0.2"));
	assert_int_equal(gw_key_dst(g, ip("10.1.2.3")), ip("100.80.0.4"));
	/* an empty HELLO_ACK: no gateway routes at all */
	assert_int_equal(gw_hello(g, NULL, 0, &ch), 0);
	EXPECT("-net 10.1.0.0/16 100.80.0.4",
	       "-net 198.19.0.0/16 100.80.0.2");
	assert_false(gw_is_remote(g, ip("198.19.0.1")));
	gw_free(g);
}

static void test_limits(void **state)
{
	static struct ctlmsg_route r[GW_ROUTES_MAX + 1];
	struct ctlmsg_route extra = rt("11.0.0.0/8", "100.80.0.9");
	struct gw *g = hello_table();
	unsigned int i;

	(void)state;
	for (i = 0; i < GW_ROUTES_MAX + 1; i++)
		r[i] = (struct ctlmsg_route){
			.prefix = prefix_from4(htonl(0x0a000000 | i << 8), 24),
			.gw = ip("100.80.0.7"),
		};
	/* too many: refused whole, the table as it was */
	assert_int_equal(gw_hello(g, r, GW_ROUTES_MAX + 1, &ch), -E2BIG);
	assert_int_equal(ch.n, 0);
	assert_int_equal(gw_key_dst(g, ip("198.19.7.10")), ip("100.80.0.3"));
	/* exactly full */
	assert_int_equal(gw_hello(g, r, GW_ROUTES_MAX, &ch), 0);
	assert_int_equal(ch.n, 4 + GW_ROUTES_MAX);
	/* a full table learns no new prefix, but a gateway can move */
	assert_int_equal(gw_learn(g, ip("100.80.0.9"), &extra, 1, &ch), 0);
	assert_false(gw_is_remote(g, ip("11.0.0.1")));
	assert_int_equal(gw_learn(g, ip("100.80.0.9"), r, 1, &ch), 1);
	assert_int_equal(gw_key_dst(g, ip("10.0.0.1")), ip("100.80.0.9"));
	gw_free(g);
}

static void test_restore(void **state)
{
	char path[96], line[128], text[512] = "";
	struct gw *g = hello_table();
	FILE *f;

	(void)state;
	gw_free(g);
	snprintf(path, sizeof(path), "%s/routes", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		strcat(text, line);
	fclose(f);
	assert_string_equal(text, "own 192.168.5.0/24\n"
				  "net 10.1.0.0/16 -\n"
				  "net 198.19.0.0/16 100.80.0.2\n"
				  "net 198.19.7.0/24 100.80.0.3\n");
	/* a restarted vpnd routes them all before the server answers */
	g = gw_new(dir, ip(SELF), &ch);
	assert_non_null(g);
	EXPECT("+own 192.168.5.0/24", "+net 10.1.0.0/16 0.0.0.0",
	       "+net 198.19.0.0/16 100.80.0.2",
	       "+net 198.19.7.0/24 100.80.0.3");
	assert_int_equal(gw_key_dst(g, ip("198.19.7.10")), ip("100.80.0.3"));
	gw_free(g);
	/* junk lines are skipped, host bits cleared */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("own 192.168.5.9/24\nnet junk 1.2.3.4\nfoo 1.0.0.0/8\n"
	      "net 198.19.0.0/16 not-an-ip\n", f);
	fclose(f);
	g = gw_new(dir, ip(SELF), &ch);
	assert_non_null(g);
	EXPECT("+own 192.168.5.0/24", "+net 198.19.0.0/16 0.0.0.0");
	gw_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_learn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
