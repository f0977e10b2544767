// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv gateway index: longest-prefix lookup over the gateways' routes
 * (ties to the gateway whose name sorts first), updates at enrollment and
 * revocation, the CTLA_ROUTEs of HELLO_ACK and key messages (and the cut
 * of a full message), and
 * the load from a real registry (revoked hosts and hosts without routes
 * left out). Built with authsrv/gwindex.c, registry.c and authsrv.c.
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

#include "../../authsrv/gwindex.h"
#include "../../authsrv/registry.h"
#include "mavpn/ctlmsg.h"
#include "mavpn/prefix.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* The gateway for @addr, or "-" when none. */
static const char *gw_of(const struct gwindex *gw, const char *addr)
{
	const char *name;

	return gwindex_lookup(gw, ip(addr), &name) ? "-" : name;
}

static void test_lookup(void **state)
{
	struct gwindex *gw = gwindex_new();

	(void)state;
	assert_non_null(gw);
	assert_string_equal(gw_of(gw, "10.1.2.3"), "-");
	assert_int_equal(gwindex_add(gw, "zeta", ip("100.80.0.9"),
				     "10.0.0.0/8,192.168.7.0/24"), 0);
	/* Both a /8 and a longer /16 in one gateway, listed wide first. */
	assert_int_equal(gwindex_add(gw, "alpha", ip("100.80.0.2"),
				     "10.0.0.0/12,10.1.0.0/16"), 0);
	assert_int_equal(gwindex_add(gw, "beta", ip("100.80.0.3"),
				     "192.168.7.0/24,0.0.0.0/0"), 0);
	assert_int_equal(gwindex_add(gw, "empty", ip("100.80.0.4"), ""), 0);

	assert_string_equal(gw_of(gw, "10.1.2.3"), "alpha");	/* /16 */
	assert_string_equal(gw_of(gw, "10.2.0.1"), "alpha");	/* /12 */
	assert_string_equal(gw_of(gw, "10.200.0.1"), "zeta");	/* /8 */
	assert_string_equal(gw_of(gw, "192.168.7.77"), "beta");	/* tie: name */
	assert_string_equal(gw_of(gw, "8.8.8.8"), "beta");	/* /0 */

	gwindex_remove(gw, "beta");
	assert_string_equal(gw_of(gw, "192.168.7.77"), "zeta");
	assert_string_equal(gw_of(gw, "8.8.8.8"), "-");
	gwindex_remove(gw, "nosuch");
	/* Re-adding replaces: alpha now fronts only 172.16.0.0/12. */
	assert_int_equal(gwindex_add(gw, "alpha", ip("100.80.0.2"),
				     "172.16.0.0/12"), 0);
	assert_string_equal(gw_of(gw, "10.1.2.3"), "zeta");
	assert_string_equal(gw_of(gw, "172.31.255.255"), "alpha");
	assert_string_equal(gw_of(gw, "172.32.0.0"), "-");
	gwindex_free(gw);
}

/* The routes of @m as "cidr=gw,..." (to compare in one string). */
static const char *routes_str(const struct ctlmsg *m, char *buf, size_t cap)
{
	char p[PREFIX_STRLEN], g[INET_ADDRSTRLEN];
	size_t len = 0;
	uint32_t i;

	buf[0] = '\0';
	for (i = 0; i < m->n_routes; i++) {
		inet_ntop(AF_INET, &m->routes[i].gw, g, sizeof(g));
		len += (size_t)snprintf(buf + len, cap - len, "%s%s=%s",
					i ? "," : "",
					prefix_format(&m->routes[i].prefix, p,
						      sizeof(p)), g);
	}
	return buf;
}

static void test_net_routes(void **state)
{
	static struct ctlmsg m;		/* 24 KiB of routes */
	struct gwindex *gw = gwindex_new();
	char buf[1024];
	int i;

	(void)state;
	assert_int_equal(gwindex_add(gw, "gw-b", ip("100.80.0.3"),
				     "1.0.0.0/8"), 0);
	assert_int_equal(gwindex_add(gw, "gw-a", ip("100.80.0.2"),
				     "10.1.0.0/16,10.9.0.0/24"), 0);
	ctlmsg_init(&m, CTLMSG_HELLO_ACK);
	assert_int_equal(gwindex_net_routes(gw, "h1", &m), 0);
	assert_string_equal(routes_str(&m, buf, sizeof(buf)),
			    "10.1.0.0/16=100.80.0.2,10.9.0.0/24=100.80.0.2,"
			    "1.0.0.0/8=100.80.0.3");
	assert_true(m.present & CTLA_BIT(CTLA_ROUTE));
	ctlmsg_init(&m, CTLMSG_HELLO_ACK);
	assert_int_equal(gwindex_net_routes(gw, "gw-a", &m), 0);
	assert_string_equal(routes_str(&m, buf, sizeof(buf)),
			    "1.0.0.0/8=100.80.0.3");
	/* A registry list: junk entries skipped; a full message is cut. */
	ctlmsg_init(&m, CTLMSG_KEY_PUSH);
	assert_int_equal(gwindex_add_routes(&m, "10.0.0.1/8,x,10.2.0.0/16",
					    ip("100.80.0.7")), 0);
	assert_string_equal(routes_str(&m, buf, sizeof(buf)),
			    "10.2.0.0/16=100.80.0.7");
	for (i = 1; i < CTLMSG_ROUTES_MAX; i++)
		assert_int_equal(gwindex_add_routes(&m, "10.3.0.0/16",
						    ip("100.80.0.7")), 0);
	assert_int_equal(gwindex_net_routes(gw, "h1", &m), -ENOSPC);
	assert_int_equal(m.n_routes, CTLMSG_ROUTES_MAX);
	gwindex_free(gw);
}

static void test_load(void **state)
{
	char dir[] = "/tmp/mavpn-test-gwindex.XXXXXX", path[256], cmd[300];
	struct reg_host h = { .cert_serial = "01" };
	struct registry *reg;
	struct gwindex *gw;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/registry.db", dir);
	assert_int_equal(registry_create(path, ip("100.80.0.0"), 16), 0);
	reg = registry_open(path);
	assert_non_null(reg);
	snprintf(h.name, sizeof(h.name), "gw1");
	h.overlay_ip = ip("100.80.0.2");
	snprintf(h.routes, sizeof(h.routes), "10.1.0.0/16");
	assert_int_equal(registry_host_add(reg, &h), 0);
	snprintf(h.name, sizeof(h.name), "gw2");
	h.overlay_ip = ip("100.80.0.3");
	snprintf(h.routes, sizeof(h.routes), "10.2.0.0/16");
	assert_int_equal(registry_host_add(reg, &h), 0);
	snprintf(h.name, sizeof(h.name), "plain");
	h.overlay_ip = ip("100.80.0.4");
	h.routes[0] = '\0';
	assert_int_equal(registry_host_add(reg, &h), 0);
	assert_int_equal(registry_revoke(reg, "gw2", 1, &h), 0);

	gw = gwindex_new();
	assert_int_equal(gwindex_load(gw, reg), 0);
	assert_string_equal(gw_of(gw, "10.1.0.1"), "gw1");
	assert_string_equal(gw_of(gw, "10.2.0.1"), "-");	/* revoked */
	gwindex_free(gw);
	registry_close(reg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_net_routes),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests_name("gwindex", tests, NULL, NULL);
}
