// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF_PROG_RUN test of bpf/xdp_underlay.bpf.c: crafted frames, expected
 * verdict reason (per-CPU counter slot). With no socket in the XSKMAP even
 * a match returns XDP_PASS (the redirect's fallback), so the counters are
 * what tells the cases apart. Build: see tests/dp/build.sh. Needs root.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "mavpn/xdp_abi.h"
#include "xdp_underlay.skel.h"

#define PORT	51820

struct tcase {
	const char *name;
	uint16_t ethertype;
	uint8_t ihl, proto;
	uint16_t frag, dport, udp_len;
	int truncate;		/* frame length override, 0 = full */
	int want;		/* enum mavpn_xdp_ul_reason */
};

static const struct tcase cases[] = {
	{ "arp", 0x0806, 5, 17, 0, PORT, 40, 0, MAVPN_XDP_UL_PASS_NOT_IPV4 },
	{ "tcp", 0x0800, 5, 6, 0, PORT, 40, 0, MAVPN_XDP_UL_PASS_NOT_UDP },
	{ "udp other port", 0x0800, 5, 17, 0, 53, 40, 0,
	  MAVPN_XDP_UL_PASS_OTHER_PORT },
	{ "udp ours", 0x0800, 5, 17, 0, PORT, 40, 0, MAVPN_XDP_UL_REDIRECT },
	{ "udp ours, ip options", 0x0800, 6, 17, 0, PORT, 40, 0,
	  MAVPN_XDP_UL_REDIRECT },
	{ "fragment", 0x0800, 5, 17, 0x2000, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_FRAGMENT },
	{ "ihl < 5", 0x0800, 4, 17, 0, PORT, 40, 0,
	  MAVPN_XDP_UL_PASS_MALFORMED },
	{ "udp len > ip", 0x0800, 5, 17, 0, PORT, 500, 0,
	  MAVPN_XDP_UL_PASS_MALFORMED },
	{ "truncated udp", 0x0800, 5, 17, 0, PORT, 40, 38,
	  MAVPN_XDP_UL_PASS_MALFORMED },
};

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
	udp = ip + (ihl < 20 ? 20 : ihl);
	*(uint16_t *)(udp + 2) = htons(t->dport);
	*(uint16_t *)(udp + 4) = htons(t->udp_len);
	return t->truncate ? t->truncate : len;
}

static uint64_t counter(struct xdp_underlay *skel, uint32_t k)
{
	int n = libbpf_num_possible_cpus(), c;
	uint64_t v[n], sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.ul_stats), &k, v))
		return 0;
	for (c = 0; c < n; c++)
		sum += v[c];
	return sum;
}

int main(void)
{
	struct xdp_underlay *skel;
	unsigned int i, fails = 0;
	uint8_t f[128];

	skel = xdp_underlay__open();
	if (!skel)
		return 1;
	skel->rodata->port = PORT;
	if (xdp_underlay__load(skel)) {
		fprintf(stderr, "SKIP: cannot load xdp_underlay\n");
		xdp_underlay__destroy(skel);
		return 77;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
			    .data_size_in = build(t, f));
		uint64_t before = counter(skel, t->want);
		int err;

		err = bpf_prog_test_run_opts(
			bpf_program__fd(skel->progs.xdp_underlay), &o);
		if (err || o.retval != XDP_PASS ||
		    counter(skel, t->want) != before + 1) {
			printf("FAIL %s: err=%d retval=%u\n", t->name, err,
			       o.retval);
			fails++;
		} else {
			printf("ok   %s\n", t->name);
		}
	}
	xdp_underlay__destroy(skel);
	return fails ? 1 : 0;
}
