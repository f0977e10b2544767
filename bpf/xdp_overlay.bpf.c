// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP on the far side of the overlay veth: every frame the host sent into
 * the overlay is plaintext for a peer, so all of it goes to the AF_XDP
 * socket of its rx queue. With no socket bound to that queue the frame is
 * dropped (the redirect's fallback verdict): fail closed, plaintext never
 * goes anywhere else.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "mavpn/xdp_abi.h"
#include "lib/xdp_parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAVPN_XSK_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAVPN_XDP_OV_NR);
	__type(key, __u32);
	__type(value, __u64);
} ov_stats SEC(".maps");

SEC("xdp")
int xdp_overlay(struct xdp_md *ctx)
{
	XDP_COUNT(ov_stats, MAVPN_XDP_OV_REDIRECT);
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_DROP);
}

char LICENSE[] SEC("license") = "GPL";
