// SPDX-License-Identifier: GPL-2.0-only
/*
 * rtnetlink module against the real kernel. main() forks; the child
 * unshares a fresh network namespace and runs every case there, so links,
 * addresses and routes it makes vanish with it (nothing to clean up, and
 * the host's namespace is never touched). Without the privilege to
 * unshare, the cases that need the kernel are skipped; the message
 * builder and parser cases run anyway.
 *
 *   netns B (the test)                 netns A (the far side)
 *   nlt0 10.9.0.1/24  ══ veth ══  nlt1 10.9.0.2/24
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>

#include <cmocka.h>

#include "mavpn/nl.h"
#include "mavpn/util.h"

static bool have_netns;
static int ns_a = -1, ns_b = -1;	/* the far side, and ours */

#define NEED_NETNS() do { if (!have_netns) skip(); } while (0)

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct prefix P(const char *s)
{
	struct prefix p;

	assert_int_equal(prefix_parse(s, PREFIX_PARSE_ADDR, &p, NULL), 0);
	return p;
}

/* ---- reading a link back (RTM_GETLINK) ---- */

struct link_info {
	bool found;
	unsigned int flags, mtu, rxq, txq;
	uint8_t mac[NL_ETH_ALEN];
};

static void link_cb(void *arg, const struct nlmsghdr *h)
{
	const struct rtattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct link_info *li = arg;

	if (h->nlmsg_type != RTM_NEWLINK ||
	    nl_attr_parse(h, sizeof(*ifi), tb, IFLA_MAX))
		return;
	li->found = true;
	li->flags = ifi->ifi_flags;
	nl_attr_get(tb[IFLA_MTU], &li->mtu, 4);
	nl_attr_get(tb[IFLA_NUM_RX_QUEUES], &li->rxq, 4);
	nl_attr_get(tb[IFLA_NUM_TX_QUEUES], &li->txq, 4);
	nl_attr_get(tb[IFLA_ADDRESS], li->mac, NL_ETH_ALEN);
}

static int link_get(struct nl *nl, const char *name, struct link_info *li)
{
	char buf[512] __attribute__((aligned(4)));
	struct nl_msg m;

	memset(li, 0, sizeof(*li));
	assert_non_null(nl_msg_init(&m, buf, sizeof(buf), RTM_GETLINK, 0,
				    sizeof(struct ifinfomsg)));
	nl_attr_put_str(&m, IFLA_IFNAME, name);
	return nl_transact(nl, &m, link_cb, li);
}

/* ---- no kernel needed ---- */

static void test_msg_build_parse(void **state)
{
	char buf[128] __attribute__((aligned(4))), tiny[24];
	const struct rtattr *tb[8], *in[8];
	struct rtattr *nest;
	struct ifinfomsg *ifi;
	struct nl_msg m;
	uint32_t v;

	(void)state;
	ifi = nl_msg_init(&m, buf, sizeof(buf), RTM_NEWLINK, NLM_F_CREATE,
			  sizeof(*ifi));
	assert_non_null(ifi);
	ifi->ifi_index = 7;
	assert_non_null(nl_attr_put_u32(&m, 1, 0x11223344));
	nest = nl_nest_start(&m, 2, 0);
	assert_non_null(nl_attr_put_str(&m, 3, "veth"));
	assert_non_null(nl_attr_put_u32(&m, 4, 5));
	nl_nest_end(&m, nest);
	assert_non_null(nl_attr_put(&m, 5, "x", 1));	/* padded to 8 */
	assert_int_equal(m.err, 0);
	assert_int_equal(m.nlh->nlmsg_len % 4, 0);

	assert_int_equal(nl_attr_parse(m.nlh, sizeof(*ifi), tb, 7), 0);
	assert_int_equal(nl_attr_get(tb[1], &v, 4), 0);
	assert_int_equal(v, 0x11223344);
	assert_int_equal(nl_attr_get(tb[1], &v, 2), -EBADMSG);
	assert_null(tb[6]);
	assert_int_equal(nl_attr_get(tb[6], &v, 4), -EBADMSG);
	assert_int_equal(nl_attr_parse_nested(tb[2], 0, in, 7), 0);
	assert_string_equal((const char *)RTA_DATA(in[3]), "veth");
	assert_int_equal(nl_attr_get(in[4], &v, 4), 0);
	assert_int_equal(v, 5);
	assert_null(in[1]);
	/* A type above max is skipped, not an error. */
	assert_int_equal(nl_attr_parse(m.nlh, sizeof(*ifi), tb, 2), 0);
	/* Truncated: the last attribute announces more than there is. */
	m.nlh->nlmsg_len -= 4;
	assert_int_equal(nl_attr_parse(m.nlh, sizeof(*ifi), tb, 7), -EBADMSG);

	/* Overflow is sticky and refuses the send. */
	assert_non_null(nl_msg_init(&m, tiny, sizeof(tiny), RTM_NEWLINK, 0, 4));
	assert_null(nl_attr_put_u32(&m, 1, 1));
	assert_int_equal(m.err, -EMSGSIZE);
	assert_null(nl_attr_put(&m, 1, NULL, 0));
	assert_int_equal(nl_transact(&(struct nl){ .fd = -1 }, &m, NULL, NULL),
			 -EMSGSIZE);
	assert_null(nl_msg_init(&m, tiny, sizeof(tiny), RTM_NEWLINK, 0, 64));
	assert_int_equal(m.err, -EMSGSIZE);
	/* Close accepts a never-opened socket. */
	nl_close(&(struct nl){ .fd = -1 });
	nl_close(NULL);
}

/* ---- links ---- */

static void test_veth_link(void **state)
{
	struct nl_veth v = { .name = "nlt0", .peer = "nlt1", .mtu = 1400,
			     .queues = 3 };
	struct link_info li;
	struct nl nl;
	int idx;

	(void)state;
	NEED_NETNS();
	assert_int_equal(nl_open(&nl), 0);
	assert_int_equal(nl_veth_create(&nl, &v), 0);
	assert_int_equal(nl_veth_create(&nl, &v), -EEXIST);
	idx = (int)if_nametoindex("nlt0");
	assert_true(idx > 0);
	assert_int_equal(link_get(&nl, "nlt0", &li), 0);
	assert_true(li.found);
	assert_int_equal(li.mtu, 1400);
	assert_int_equal(li.rxq, 3);
	assert_int_equal(li.txq, 3);
	assert_false(li.flags & IFF_UP);
	assert_int_equal(link_get(&nl, "nlt1", &li), 0);
	assert_int_equal(li.mtu, 1400);
	assert_int_equal(li.rxq, 3);

	assert_int_equal(nl_link_up(&nl, idx, true), 0);
	assert_int_equal(link_get(&nl, "nlt0", &li), 0);
	assert_true(li.flags & IFF_UP);
	assert_true(li.flags & IFF_NOARP);
	assert_int_equal(nl_link_up(&nl, idx, false), 0);
	assert_int_equal(link_get(&nl, "nlt0", &li), 0);
	assert_false(li.flags & IFF_NOARP);
	assert_int_equal(nl_link_set_mtu(&nl, idx, 1300), 0);
	assert_int_equal(link_get(&nl, "nlt0", &li), 0);
	assert_int_equal(li.mtu, 1300);
	assert_int_equal(nl_link_set_mtu(&nl, idx, 0), -EINVAL);
	assert_int_equal(nl_link_down(&nl, idx), 0);
	assert_int_equal(link_get(&nl, "nlt0", &li), 0);
	assert_false(li.flags & IFF_UP);

	/* The peer goes with it. */
	assert_int_equal(nl_link_del(&nl, "nlt0"), 0);
	assert_int_equal(if_nametoindex("nlt0"), 0);
	assert_int_equal(if_nametoindex("nlt1"), 0);
	assert_int_equal(nl_link_del(&nl, "nlt0"), -ENODEV);
	assert_int_equal(link_get(&nl, "nlt0", &li), -ENODEV);

	/* A kind without data (a veth then names its peer itself; "dummy"
	 * would do, but is not built into every kernel). */
	assert_int_equal(nl_link_create(&nl, "nltd", "veth"), 0);
	assert_true(if_nametoindex("nltd") > 0);
	assert_int_equal(nl_link_del(&nl, "nltd"), 0);
	assert_int_equal(nl_link_create(&nl, "nltd", "no-such-kind"),
			 -EOPNOTSUPP);
	nl_close(&nl);
}

/* Run @fn in netns A with a socket of its own, then come back to B. */
static void in_ns_a(void (*fn)(struct nl *nl))
{
	struct nl nl;

	assert_int_equal(setns(ns_a, CLONE_NEWNET), 0);
	assert_int_equal(nl_open(&nl), 0);
	fn(&nl);
	nl_close(&nl);
	assert_int_equal(setns(ns_b, CLONE_NEWNET), 0);
}

static void far_side_up(struct nl *nl)
{
	uint32_t a = ip4("10.9.0.2");
	int idx = (int)if_nametoindex("nlt1");

	assert_true(idx > 0);
	assert_int_equal(nl_addr_add(nl, idx, AF_INET, &a, 24), 0);
	assert_int_equal(nl_link_up(nl, idx, false), 0);
}

/* nlt0 here, nlt1 in A, both up, addressed. Returns nlt0's index. */
static int pair_up(struct nl *nl)
{
	struct nl_veth v = { .name = "nlt0", .peer = "nlt1",
			     .peer_netns_fd = ns_a };
	uint32_t a = ip4("10.9.0.1");
	int idx;

	nl_link_del(nl, "nlt0");	/* left by a failed case before */
	assert_int_equal(nl_veth_create(nl, &v), 0);
	assert_int_equal(if_nametoindex("nlt1"), 0);	/* not here */
	idx = (int)if_nametoindex("nlt0");
	assert_true(idx > 0);
	assert_int_equal(nl_addr_add(nl, idx, AF_INET, &a, 24), 0);
	assert_int_equal(nl_addr_add(nl, idx, AF_INET, &a, 24), 0); /* replace */
	assert_int_equal(nl_link_up(nl, idx, false), 0);
	in_ns_a(far_side_up);
	return idx;
}

/* ---- routes ---- */

struct dump_count {
	int routes, blackholes;
};

static void dump_cb(void *arg, const struct nlmsghdr *h)
{
	const struct rtmsg *rtm = NLMSG_DATA(h);
	struct dump_count *c = arg;

	if (h->nlmsg_type != RTM_NEWROUTE || rtm->rtm_table != RT_TABLE_MAIN)
		return;
	c->routes++;
	if (rtm->rtm_type == RTN_BLACKHOLE)
		c->blackholes++;
}

static void test_routes(void **state)
{
	struct nl_route dev = { .dst = P("192.0.2.0/24"), .src = P("10.9.0.1") };
	struct nl_route bh = { .dst = P("192.0.2.0/24"), .blackhole = true,
			       .metric = 0xffffffffu };
	struct nl_route via = { .dst = P("203.0.113.0/24"), .gw = P("10.9.0.2") };
	char buf[256] __attribute__((aligned(4)));
	struct dump_count dc = { 0 };
	struct nl_route_hop hop;
	struct rtmsg *rtm;
	struct nl_msg m;
	struct nl nl;
	uint32_t d;
	int idx;

	(void)state;
	NEED_NETNS();
	assert_int_equal(nl_open(&nl), 0);
	idx = pair_up(&nl);
	dev.oif = idx;
	via.oif = idx;

	d = ip4("192.0.2.5");
	assert_int_equal(nl_route_get(&nl, AF_INET, &d, &hop), -ENETUNREACH);
	/* The blackhole under the device route, as vpnd lays them. */
	assert_int_equal(nl_route_add(&nl, &bh), 0);
	assert_int_equal(nl_route_add(&nl, &bh), -EEXIST);
	assert_int_equal(nl_route_replace(&nl, &dev), 0);
	assert_int_equal(nl_route_replace(&nl, &dev), 0);
	assert_int_equal(nl_route_add(&nl, &dev), -EEXIST);
	assert_int_equal(nl_route_get(&nl, AF_INET, &d, &hop), 0);
	assert_int_equal(hop.oif, idx);
	assert_int_equal(hop.family, AF_INET);
	assert_int_equal(hop.nexthop.v4, d);		/* on-link */
	assert_true(hop.has_src);
	assert_int_equal(hop.src.v4, ip4("10.9.0.1"));
	/* Through a gateway: the next hop is the gateway. */
	assert_int_equal(nl_route_add(&nl, &via), 0);
	d = ip4("203.0.113.9");
	assert_int_equal(nl_route_get(&nl, AF_INET, &d, &hop), 0);
	assert_int_equal(hop.nexthop.v4, ip4("10.9.0.2"));
	assert_int_equal(hop.oif, idx);

	/* A dump sees them (NLMSG_DONE ends the transaction). */
	rtm = nl_msg_init(&m, buf, sizeof(buf), RTM_GETROUTE, NLM_F_DUMP,
			  sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	assert_int_equal(nl_transact(&nl, &m, dump_cb, &dc), 0);
	assert_true(dc.routes >= 4);	/* 10.9.0.0/24, dev, blackhole, via */
	assert_int_equal(dc.blackholes, 1);

	/* Without the device route the blackhole answers. */
	assert_int_equal(nl_route_del(&nl, &dev), 0);
	assert_int_equal(nl_route_del(&nl, &dev), -ESRCH);
	d = ip4("192.0.2.5");
	assert_true(nl_route_get(&nl, AF_INET, &d, &hop) < 0);
	assert_int_equal(nl_route_del(&nl, &bh), 0);
	assert_int_equal(nl_route_del(&nl, &bh), -ESRCH);
	assert_int_equal(nl_route_get(&nl, AF_INET, &d, &hop), -ENETUNREACH);
	assert_int_equal(nl_route_del(&nl, &via), 0);

	/* Refused before the kernel sees them. */
	bh.oif = idx;				/* both */
	assert_int_equal(nl_route_add(&nl, &bh), -EINVAL);
	dev.oif = 0;				/* neither */
	assert_int_equal(nl_route_add(&nl, &dev), -EINVAL);
	dev.oif = idx;
	dev.src = P("2001:db8::1");		/* family mismatch */
	assert_int_equal(nl_route_add(&nl, &dev), -EINVAL);
	dev.src.family = 0;
	dev.dst.v4 |= htonl(1);			/* host bits */
	assert_int_equal(nl_route_add(&nl, &dev), -EINVAL);
	assert_int_equal(nl_route_get(&nl, AF_UNSPEC, &d, &hop), -EINVAL);

	/* IPv6 the same way (no DAD wait: no source address asked). */
	{
		struct nl_route r6 = { .dst = P("2001:db8:1::/48"), .oif = idx };
		uint8_t a6[16], d6[16];

		inet_pton(AF_INET6, "2001:db8::1", a6);
		assert_int_equal(nl_addr_add(&nl, idx, AF_INET6, a6, 64), 0);
		assert_int_equal(nl_route_add(&nl, &r6), 0);
		inet_pton(AF_INET6, "2001:db8:1::5", d6);
		assert_int_equal(nl_route_get(&nl, AF_INET6, d6, &hop), 0);
		assert_int_equal(hop.oif, idx);
		assert_int_equal(hop.family, AF_INET6);
		assert_memory_equal(hop.nexthop.v6, d6, 16);
		assert_int_equal(nl_route_del(&nl, &r6), 0);
		assert_int_equal(nl_addr_del(&nl, idx, AF_INET6, a6, 64), 0);
		assert_int_equal(nl_addr_del(&nl, idx, AF_INET6, a6, 64),
				 -EADDRNOTAVAIL);
	}
	assert_int_equal(nl_addr_add(&nl, idx, AF_INET, &d, 33), -EINVAL);
	assert_int_equal(nl_link_del(&nl, "nlt0"), 0);
	nl_close(&nl);
}

/* ---- neighbours ---- */

struct seen {
	int n, ifindex;
	uint32_t ip;
};

static void neigh_cb(void *arg, int ifindex, int family, const void *addr)
{
	struct seen *s = arg;

	if (family != AF_INET)
		return;
	s->n++;
	s->ifindex = ifindex;
	memcpy(&s->ip, addr, 4);
}

static struct link_info far_li;

static void far_mac(struct nl *nl)
{
	assert_int_equal(link_get(nl, "nlt1", &far_li), 0);
}

static void test_neighbours(void **state)
{
	enum nl_neigh_state st;
	uint8_t mac[NL_ETH_ALEN] = { 0 };
	struct nl nl, ev;
	struct seen seen = { 0 };
	struct pollfd pfd;
	uint32_t far = ip4("10.9.0.2");
	uint64_t end;
	int idx, n;

	(void)state;
	NEED_NETNS();
	assert_int_equal(nl_open(&nl), 0);
	assert_int_equal(nl_open_events(&ev, RTMGRP_NEIGH), 0);
	idx = pair_up(&nl);
	in_ns_a(far_mac);

	/* Nothing known yet: NONE, not an error. */
	assert_int_equal(nl_neigh_get(&nl, idx, AF_INET, &far, mac, &st), 0);
	assert_int_equal(st, NL_NEIGH_NONE);
	assert_int_equal(nl_neigh_events(&ev, neigh_cb, &seen), 0);
	/* NTF_USE makes the kernel resolve it: ARP goes out, A answers. */
	assert_int_equal(nl_neigh_use(&nl, idx, AF_INET, &far), 0);
	end = mono_ms() + 3000;
	do {
		usleep(20000);
		assert_int_equal(nl_neigh_get(&nl, idx, AF_INET, &far, mac,
					      &st), 0);
	} while (st != NL_NEIGH_VALID && mono_ms() < end);
	assert_int_equal(st, NL_NEIGH_VALID);
	assert_memory_equal(mac, far_li.mac, NL_ETH_ALEN);

	/* The event socket saw the entry appear and resolve. */
	pfd = (struct pollfd){ .fd = ev.fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	n = nl_neigh_events(&ev, neigh_cb, &seen);
	assert_true(n >= 1);
	assert_int_equal(n, seen.n);
	assert_int_equal(seen.ifindex, idx);
	assert_int_equal(seen.ip, far);

	/* Deleting the link deletes the entry: one more event. */
	seen.n = 0;
	assert_int_equal(nl_link_del(&nl, "nlt0"), 0);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_true(nl_neigh_events(&ev, neigh_cb, &seen) >= 1);
	assert_true(seen.n >= 1);
	assert_int_equal(nl_neigh_use(&nl, idx, AF_INET, &far), -ENODEV);
	assert_int_equal(nl_neigh_get(&nl, 0, AF_UNSPEC, &far, mac, &st),
			 -EINVAL);
	nl_close(&ev);
	nl_close(&nl);
}

static int test_nl_run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_build_parse),
		cmocka_unit_test(test_veth_link),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_neighbours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* A: the far side's namespace; B: ours, where the test runs. */
		if (unshare(CLONE_NEWNET) == 0) {
			ns_a = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
			if (ns_a >= 0 && unshare(CLONE_NEWNET) == 0) {
				ns_b = open("/proc/self/ns/net",
					    O_RDONLY | O_CLOEXEC);
				have_netns = ns_b >= 0;
			}
		}
		if (!have_netns)
			fprintf(stderr, "test_nl: cannot unshare a network "
				"namespace (%s): kernel cases skipped\n",
				strerror(errno));
		status = test_nl_run();
		fflush(stdout);
		fflush(stderr);
		_exit(status ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "test_nl: child killed by signal %d\n",
			WTERMSIG(status));
		return 1;
	}
	return WEXITSTATUS(status);
}
