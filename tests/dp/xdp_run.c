// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF_PROG_RUN tests of the data-plane XDP programs on crafted frames, as
 * a cmocka driver (built as build/tests/test_xdp_run, run by make check).
 *
 * xdp_underlay (loaded with port PORT, local_ip LOCAL): with no socket in
 * the XSKMAP even a match returns XDP_PASS
 * (the redirect's fallback), so the per-reason counter slot is what tells
 * the cases apart. xdp_overlay: with no socket it must return XDP_DROP
 * (fail closed: plaintext goes nowhere). Needs root (CAP_BPF); skipped,
 * not passed, without it.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "mavpn/xdp_abi.h"
#include "xdp_overlay.skel.h"
#include "xdp_underlay.skel.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PORT		51820
#define LOCAL		0xc612000b	/* 198.18.0.11: the underlay address */
#define OTHER		0xc612000c	/* 198.18.0.12: transit to someone else */

struct tcase {
	const char *name;
	uint16_t ethertype;
	uint8_t ihl, proto;
	uint16_t frag, dport, udp_len;
	int truncate;		/* frame length override, 0 = full */
	int want;		/* enum mavpn_xdp_ul_reason */
	uint32_t daddr;		/* host order; 0 = LOCAL */
};

static const struct tcase cases[] = {
	{ "arp", 0x0806, 5, 17, 0, PORT, 40, 0, MAVPN_XDP_UL_PASS_NOT_IPV4, 0 },
	{ "ipv6", 0x86dd, 5, 17, 0, PORT, 40, 0, MAVPN_XDP_UL_PASS_NOT_IPV4, 0 },
	{ "tcp", 0x0800, 5, 6, 0, PORT, 40, 0, MAVPN_XDP_UL_PASS_NOT_UDP, 0 },
	{ "icmp", 0x0800, 5, 1, 0, PORT, 40, 0, MAVPN_XDP_UL_PASS_NOT_UDP, 0 },
	{ "udp other port", 0x0800, 5, 17, 0, 53, 40, 0,
	  MAVPN_XDP_UL_PASS_OTHER_PORT, 0 },
	{ "udp ours", 0x0800, 5, 17, 0, PORT, 40, 0, MAVPN_XDP_UL_REDIRECT, 0 },
	{ "udp ours, ip options", 0x0800, 6, 17, 0, PORT, 40, 0,
	  MAVPN_XDP_UL_REDIRECT, 0 },
	{ "first fragment (MF)", 0x0800, 5, 17, 0x2000, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_FRAGMENT, 0 },
	{ "later fragment", 0x0800, 5, 17, 0x0010, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_FRAGMENT, 0 },
	{ "DF set is not a fragment", 0x0800, 5, 17, 0x4000, PORT, 40, 0,
	  MAVPN_XDP_UL_REDIRECT, 0 },
	{ "ihl < 5", 0x0800, 4, 17, 0, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_MALFORMED, 0 },
	{ "udp len > ip", 0x0800, 5, 17, 0, PORT, 500, 0,
	  MAVPN_XDP_UL_PASS_MALFORMED, 0 },
	{ "udp len < 8", 0x0800, 5, 17, 0, PORT, 4, 0,
	  MAVPN_XDP_UL_PASS_MALFORMED, 0 },
	{ "truncated udp", 0x0800, 5, 17, 0, PORT, 40, 38,
	  MAVPN_XDP_UL_PASS_MALFORMED, 0 },
	{ "truncated ip", 0x0800, 5, 17, 0, PORT, 40, 20,
	  MAVPN_XDP_UL_PASS_MALFORMED, 0 },
	/* A forwarding host must not swallow transit UDP to our port. */
	{ "udp our port, transit", 0x0800, 5, 17, 0, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_NOT_LOCAL, OTHER },
	{ "udp our port, transit, ip options", 0x0800, 6, 17, 0, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_NOT_LOCAL, OTHER },
	{ "udp our port, broadcast", 0x0800, 5, 17, 0, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_NOT_LOCAL, 0xffffffff },
	{ "udp other port, transit", 0x0800, 5, 17, 0, 53, 40, 0,
	  MAVPN_XDP_UL_PASS_OTHER_PORT, OTHER },
	{ "tcp, transit", 0x0800, 5, 6, 0, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_NOT_UDP, OTHER },
};

static struct xdp_underlay *ul;
static struct xdp_overlay *ov;

static int build(const struct tcase *t, uint8_t *f)
{
	uint8_t *ip = f + 14, *udp;
	int ihl = t->ihl * 4, len = 14 + (ihl < 20 ? 20 : ihl) + 40;

	memset(f, 0, 128);
	f[12] = t->ethertype >> 8;
	f[13] = t->ethertype & 0xff;
	ip[0] = 0x40 | t->ihl;
	*(uint16_t *)(ip + 2) = htons(len - 14);
	*(uint16_t *)(ip + 6) = htons(t->frag);
	ip[8] = 64;
	ip[9] = t->proto;
	*(uint32_t *)(ip + 16) = htonl(t->daddr ? t->daddr : LOCAL);
	udp = ip + (ihl < 20 ? 20 : ihl);
	*(uint16_t *)(udp + 2) = htons(t->dport);
	*(uint16_t *)(udp + 4) = htons(t->udp_len);
	return t->truncate ? t->truncate : len;
}

static uint64_t counter(int map_fd, uint32_t k)
{
	int n = libbpf_num_possible_cpus(), c;
	uint64_t v[n], sum = 0;

	if (bpf_map_lookup_elem(map_fd, &k, v))
		return 0;
	for (c = 0; c < n; c++)
		sum += v[c];
	return sum;
}

static int setup(void **state)
{
	(void)state;
	libbpf_set_print(NULL);
	ul = xdp_underlay__open();
	ov = xdp_overlay__open();
	if (!ul || !ov)
		return 0;
	ul->rodata->port = PORT;
	ul->rodata->local_ip = htonl(LOCAL);
	if (xdp_underlay__load(ul) || xdp_overlay__load(ov)) {
		xdp_underlay__destroy(ul);
		xdp_overlay__destroy(ov);
		ul = NULL;
		ov = NULL;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	xdp_underlay__destroy(ul);
	xdp_overlay__destroy(ov);
	return 0;
}

static void test_underlay_case(void **state)
{
	const struct tcase *t = *state;
	int map_fd, err;
	uint64_t before;
	uint8_t f[128];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
		    .data_size_in = build(t, f));

	if (!ul)
		skip();		/* not root / no BPF */
	map_fd = bpf_map__fd(ul->maps.ul_stats);
	before = counter(map_fd, t->want);
	err = bpf_prog_test_run_opts(bpf_program__fd(ul->progs.xdp_underlay),
				     &o);
	assert_int_equal(err, 0);
	/* every verdict is XDP_PASS: a match's fallback with no socket */
	assert_int_equal(o.retval, XDP_PASS);
	assert_int_equal(counter(map_fd, t->want), before + 1);
}

/* No AF_XDP socket on the queue: the overlay frame must be dropped. */
static void test_overlay_fail_closed(void **state)
{
	uint8_t f[128];
	int map_fd, err;
	uint64_t before;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
		    .data_size_in = build(&cases[5], f));

	(void)state;
	if (!ov)
		skip();
	map_fd = bpf_map__fd(ov->maps.ov_stats);
	before = counter(map_fd, MAVPN_XDP_OV_REDIRECT);
	err = bpf_prog_test_run_opts(bpf_program__fd(ov->progs.xdp_overlay),
				     &o);
	assert_int_equal(err, 0);
	assert_int_equal(o.retval, XDP_DROP);
	assert_int_equal(counter(map_fd, MAVPN_XDP_OV_REDIRECT), before + 1);
}

/* Even a runt frame (no Ethernet header) never passes in clear. */
static void test_overlay_runt(void **state)
{
	uint8_t f[14] = { 0 };
	int err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = 14);

	(void)state;
	if (!ov)
		skip();
	err = bpf_prog_test_run_opts(bpf_program__fd(ov->progs.xdp_overlay),
				     &o);
	assert_int_equal(err, 0);
	assert_int_equal(o.retval, XDP_DROP);
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(cases) + 2];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(
			test_underlay_case, (void *)&cases[i]);
		tests[i].name = cases[i].name;
	}
	tests[i++] = (struct CMUnitTest)cmocka_unit_test(
		test_overlay_fail_closed);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test(test_overlay_runt);
	return _cmocka_run_group_tests("xdp_prog_run", tests, i, setup,
				       teardown);
}
