/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Socket shim ABI: what bpf/shim_sock.bpf.c tells vpnd. Included by the BPF
 * program (after vmlinux.h) and by userspace, so the layout is declared once.
 * Fixed-width types, explicit padding, a version field; never reorder or
 * renumber, only append (and bump SHIM_EVENT_VERSION).
 */
#ifndef MAVPN_SHIM_ABI_H
#define MAVPN_SHIM_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SHIM_EVENT_VERSION	1
#define SHIM_COMM_LEN		16
/* A destination is reported again after this long (dedup window). */
#define SHIM_REEMIT_NS		1000000000ULL
#define SHIM_DEDUP_ENTRIES	4096
#define SHIM_RINGBUF_BYTES	(64 * 1024)

/* Which hook saw the flow. */
enum shim_hook {
	SHIM_HOOK_CONNECT4	= 1,
	SHIM_HOOK_SENDMSG4	= 2,
};

/* Indexes of the counter array map (never renumber). */
enum shim_counter {
	SHIM_CNT_SEEN		= 0,	/* calls to a protected destination */
	SHIM_CNT_EVENTS		= 1,	/* events written to the ring */
	SHIM_CNT_DEDUP		= 2,	/* suppressed: reported < 1 s ago */
	SHIM_CNT_DROPS		= 3,	/* ring full: event lost */
	SHIM_CNT_MAX
};

/* One new flow towards the overlay, seen at connect()/sendmsg() time. */
struct shim_event {
	__u32 version;			/* SHIM_EVENT_VERSION */
	__u32 daddr;			/* network order */
	__u16 dport;			/* host order */
	__u8 proto;			/* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u8 hook;			/* enum shim_hook */
	__u32 pid;			/* tgid of the caller */
	__u64 cgroup_id;		/* cgroup v2 id (kernfs inode) */
	__u64 ts_ns;			/* bpf_ktime_get_ns() */
	char comm[SHIM_COMM_LEN];
};

_Static_assert(sizeof(struct shim_event) == 48, "shim_event is 48 bytes");
_Static_assert(__builtin_offsetof(struct shim_event, cgroup_id) == 16,
	       "cgroup_id is 8-byte aligned at 16");
_Static_assert(__builtin_offsetof(struct shim_event, comm) == 32,
	       "comm at 32");

#endif /* MAVPN_SHIM_ABI_H */
