// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket shim: cgroup/connect4 and cgroup/sendmsg4 on the cgroups an
 * operator attached. A flow towards the overlay prefix is reported to vpnd
 * through a ring buffer before its first packet leaves, so the key request
 * is already in flight when the data plane sees that packet. The verdict is
 * always "allow": the interface-level shim holds packets until a key exists,
 * and enforcement per application is a later step.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "mavpn/shim_abi.h"

/* Set by vpnd before load; network order. */
const volatile __u32 overlay_net = 0;
const volatile __u32 overlay_mask = 0;
/* Our own overlay address: local traffic, no key needed. */
const volatile __u32 self_ip = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SHIM_RINGBUF_BYTES);
} events SEC(".maps");

/* daddr -> last report time; LRU so a scan of the overlay cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHIM_DEDUP_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} dedup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SHIM_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* Returns nothing: the caller's verdict does not depend on reporting. */
static __always_inline void report(struct bpf_sock_addr *ctx, __u8 hook)
{
	__u32 daddr = ctx->user_ip4;
	struct shim_event *e;
	__u64 now, *last;

	if (!overlay_mask || (daddr & overlay_mask) != overlay_net ||
	    daddr == self_ip)
		return;
	count(SHIM_CNT_SEEN);

	now = bpf_ktime_get_ns();
	last = bpf_map_lookup_elem(&dedup, &daddr);
	if (last && now - *last < SHIM_REEMIT_NS) {
		count(SHIM_CNT_DEDUP);
		return;
	}
	/* Racing CPUs may both emit once; vpnd dedups in-flight requests. */
	bpf_map_update_elem(&dedup, &daddr, &now, BPF_ANY);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(SHIM_CNT_DROPS);
		/* Forget the report time so the next call retries. */
		bpf_map_delete_elem(&dedup, &daddr);
		return;
	}
	e->version = SHIM_EVENT_VERSION;
	e->daddr = daddr;
	/* user_port holds the port in network order in its low 16 bits. */
	e->dport = bpf_ntohs((__u16)ctx->user_port);
	e->proto = (__u8)ctx->protocol;
	e->hook = hook;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->ts_ns = now;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	count(SHIM_CNT_EVENTS);
}

SEC("cgroup/connect4")
int shim_connect4(struct bpf_sock_addr *ctx)
{
	report(ctx, SHIM_HOOK_CONNECT4);
	return 1;
}

SEC("cgroup/sendmsg4")
int shim_sendmsg4(struct bpf_sock_addr *ctx)
{
	report(ctx, SHIM_HOOK_SENDMSG4);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
