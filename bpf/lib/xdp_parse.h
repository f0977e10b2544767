/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bounds-checked packet access for the data-plane XDP programs. Every
 * helper returns NULL when the header does not fit in the frame, so the
 * caller decides the verdict.
 */
#ifndef MAVPN_BPF_XDP_PARSE_H
#define MAVPN_BPF_XDP_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAVPN_ETH_P_IP		0x0800
#define MAVPN_IP_MF		0x2000
#define MAVPN_IP_OFFMASK	0x1fff

/* A pointer to @len bytes at @off, or NULL if the frame is shorter. */
static __always_inline void *xdp_ptr(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (data + off + len > end)
		return NULL;
	return data + off;
}

/* Count one verdict in a per-CPU array of __u64. */
#define XDP_COUNT(map, reason)						\
	({								\
		__u32 __k = (reason);					\
		__u64 *__v = bpf_map_lookup_elem(&(map), &__k);		\
		if (__v)						\
			*__v += 1;					\
	})

#endif /* MAVPN_BPF_XDP_PARSE_H */
