// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP on the underlay NIC: IPv4 UDP datagrams to our data port *and our
 * address* go to the AF_XDP socket of their rx queue; everything else (ARP,
 * the TLS control channel, other UDP, IPv6, and transit datagrams a
 * forwarding host routes on to someone else's port) continues into the
 * kernel stack untouched.
 *
 * If no socket is bound to the frame's queue (a multi-queue NIC where vpnd
 * binds fewer queues, or vpnd is between restarts) the datagram is passed
 * to the kernel, where vpnd's ordinary UDP socket on the same port picks it
 * up: slower, but nothing is lost. The same holds for IP fragments, which
 * only the kernel can reassemble.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "mavpn/xdp_abi.h"
#include "lib/xdp_parse.h"

/* Our UDP data port, host order; set by the loader before load. */
const volatile __u16 port = 0;
/*
 * The underlay interface's IPv4 address, network order; set by the loader
 * before load. Only datagrams addressed to it are ours. 0 (no address at
 * start) redirects nothing: the kernel then delivers our datagrams to
 * vpnd's UDP socket, the same fallback as a queue without a socket.
 */
const volatile __u32 local_ip = 0;

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAVPN_XSK_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAVPN_XDP_UL_NR);
	__type(key, __u32);
	__type(value, __u64);
} ul_stats SEC(".maps");

static __always_inline int ul_classify(struct xdp_md *ctx)
{
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 ihl;

	eth = xdp_ptr(ctx, 0, sizeof(*eth));
	if (!eth || eth->h_proto != bpf_htons(MAVPN_ETH_P_IP))
		return MAVPN_XDP_UL_PASS_NOT_IPV4;

	ip = xdp_ptr(ctx, sizeof(*eth), sizeof(*ip));
	if (!ip || ip->version != 4 || ip->ihl < 5)
		return MAVPN_XDP_UL_PASS_MALFORMED;
	if (ip->protocol != IPPROTO_UDP)
		return MAVPN_XDP_UL_PASS_NOT_UDP;
	if (ip->frag_off & bpf_htons(MAVPN_IP_MF | MAVPN_IP_OFFMASK))
		return MAVPN_XDP_UL_PASS_FRAGMENT;

	/* ihl is at most 15: the verifier sees a bounded offset. */
	ihl = ip->ihl * 4;
	udp = xdp_ptr(ctx, sizeof(*eth) + ihl, sizeof(*udp));
	if (!udp)
		return MAVPN_XDP_UL_PASS_MALFORMED;
	if (udp->dest != bpf_htons(port))
		return MAVPN_XDP_UL_PASS_OTHER_PORT;
	if (ip->daddr != local_ip)
		return MAVPN_XDP_UL_PASS_NOT_LOCAL;
	/* Lengths that disagree with the frame are the kernel's to reject. */
	if (bpf_ntohs(ip->tot_len) < ihl + sizeof(*udp) ||
	    bpf_ntohs(udp->len) < sizeof(*udp) ||
	    bpf_ntohs(udp->len) > bpf_ntohs(ip->tot_len) - ihl)
		return MAVPN_XDP_UL_PASS_MALFORMED;
	return MAVPN_XDP_UL_REDIRECT;
}

SEC("xdp")
int xdp_underlay(struct xdp_md *ctx)
{
	int reason = ul_classify(ctx);

	XDP_COUNT(ul_stats, reason);
	if (reason != MAVPN_XDP_UL_REDIRECT)
		return XDP_PASS;
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
