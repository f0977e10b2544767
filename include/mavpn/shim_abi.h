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

#define SHIM_EVENT_VERSION	3
#define SHIM_COMM_LEN		16
/* A destination is reported again after this long (dedup window). */
#define SHIM_REEMIT_NS		1000000000ULL
#define SHIM_DEDUP_ENTRIES	4096
#define SHIM_RINGBUF_BYTES	(64 * 1024)
/* Protected prefixes: the overlay plus every gateway route we learnt. */
#define SHIM_PROTECTED_MAX	256
/* Attached cgroups allowed to reach protected destinations. */
#define SHIM_ALLOWED_MAX	1024
/* Ancestor levels searched for an allowed cgroup (deeper ones are not). */
#define SHIM_CGROUP_DEPTH_MAX	16
/* Flow decisions cached in the kernel (LRU: the oldest go first). */
#define SHIM_FLOWS_MAX		16384
/* An allowed flow used this close to its expiry is reported again, so
 * vpnd renews the decision before packets see it expired. */
#define SHIM_FLOW_REFRESH_NS	10000000000ULL
/* Inbound UDP through the overlay (a peer's flow) that our sockets may
 * answer: remembered this long after the last datagram. */
#define SHIM_REPLIES_MAX	8192
#define SHIM_REPLY_NS		120000000000ULL

/* Interfaces whose forwarded traffic may enter the overlay (the host side
 * of an attached network namespace's veth). */
#define SHIM_FWD_MAX		256

/* Socket-storage marks (the `ours` map). */
#define SHIM_MARK_CREATED	1	/* sock_create in our netns */
#define SHIM_MARK_PASSIVE	2	/* accepted (sockops): a peer's flow */

/* Which hook saw the flow. */
enum shim_hook {
	SHIM_HOOK_CONNECT4	= 1,
	SHIM_HOOK_SENDMSG4	= 2,
	SHIM_HOOK_CONNECT6	= 3,	/* v4-mapped destination */
	SHIM_HOOK_SENDMSG6	= 4,	/* v4-mapped destination */
	SHIM_HOOK_EGRESS	= 5,	/* cgroup_skb: a packet (raw/ICMP, or a
					 * flow without a decision) */
};

/* What the kernel did with the flow. */
enum shim_verdict {
	SHIM_VERDICT_REPORT	= 0,	/* attached cgroup: allowed, key wanted */
	SHIM_VERDICT_BLOCKED	= 1,	/* not attached: EPERM / dropped */
	SHIM_VERDICT_UNDECIDED	= 2,	/* attached, no decision cached yet
					 * (or expired): the packet is dropped,
					 * vpnd asks the server */
	SHIM_VERDICT_DENIED	= 3,	/* the server's cached decision: deny */
};

/*
 * Key of the `flows` map: one flow decision of the server, cached with a
 * TTL. The application (cgroup id), the user (uid), the destination as the
 * application addressed it (overlay or LAN address), the IP protocol and
 * the destination port (0 for protocols without ports).
 */
struct shim_fkey {
	__u64 cgroup_id;
	__u32 uid;
	__u32 daddr;			/* network order */
	__u16 dport;			/* host order */
	__u8 proto;
	__u8 pad[5];
};

struct shim_fval {
	__u64 expires_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u8 allow;			/* 1 allow, 0 deny */
	__u8 pad[7];
};

/* Key of the `replies` map: a UDP flow a peer opened to us through the
 * overlay, which our socket on @lport may answer whatever its cgroup's
 * own decisions say. */
struct shim_rkey {
	__u32 peer;			/* network order */
	__u16 pport;			/* host order */
	__u16 lport;			/* host order */
};

/* Key of the dedup LRU: one report per flow and SHIM_REEMIT_NS. */
struct shim_flow_key {
	__u64 cgroup_id;
	__u32 daddr;			/* network order */
	__u16 dport;			/* host order */
	__u8 proto;
	__u8 verdict;
	__u32 uid;
	__u32 pad;
};

/* Key of the protected-prefix LPM trie (struct bpf_lpm_trie_key layout). */
struct shim_prefix {
	__u32 prefixlen;
	__u32 addr;			/* network order */
};

/*
 * Indexes of the counter array map, X(ID, name, prom, help): name is the
 * field of `vpnctl status` (shim{}), prom the metric stem
 * (mavpn_vpnd_PROM_total). Append only (never renumber).
 */
#define SHIM_COUNTERS(X) \
	X(SEEN, "seen", "shim_seen", "connect()/sendmsg() calls to a protected destination the socket shim looked at.") \
	X(EVENTS, "events", "shim_events", "Ring-buffer events from the socket shim (new protected destinations).") \
	X(DEDUP, "dedup", "shim_dedup", "Shim events suppressed as repeats within the dedup window.") \
	X(DROPS, "drops", "shim_ringbuf_drops", "Shim events lost because the ring buffer was full.") \
	X(BLOCKED, "blocked", "shim_blocked", "Connections and sends the socket shim refused (EPERM).") \
	X(BLOCKED_PKT, "blocked_packets", "shim_blocked_packets", "Raw/ICMP packets the shim dropped at egress.") \
	X(BLOCKED_IN, "blocked_inbound", "shim_blocked_inbound", "Packets to our overlay address that did not come through the overlay interface.") \
	X(UNDECIDED, "undecided", NULL, "Packets of attached applications dropped while their flow waited for the server's decision.") \
	X(FLOW_DENIED, "flow_denied", NULL, "Connections, sends and packets refused by a cached per-flow policy decision.") \
	X(BLOCKED_FWD, "blocked_forwarded", NULL, "Packets forwarded into the overlay from a network namespace that is not attached (dropped on mavpn0).")

enum shim_counter {
#define SHIM_CNT_ENUM(id, name, prom, help) SHIM_CNT_##id,
	SHIM_COUNTERS(SHIM_CNT_ENUM)
#undef SHIM_CNT_ENUM
	SHIM_CNT_MAX
};

/*
 * One new flow towards a protected destination, seen at connect()/sendmsg()
 * time (verdict REPORT), or one refused because its cgroup is not attached
 * (verdict BLOCKED, from the enforcement programs on the cgroup2 root).
 */
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
	__u8 verdict;			/* enum shim_verdict */
	__u8 pad[3];
	__u32 uid;			/* connect/sendmsg: the caller's; egress:
					 * the socket owner's */
	__u32 gid;			/* the caller's; egress: SHIM_GID_NONE */
	__u32 pad2;
};

#define SHIM_GID_NONE		0xffffffffu

_Static_assert(sizeof(struct shim_event) == 64, "shim_event is 64 bytes");
_Static_assert(__builtin_offsetof(struct shim_event, cgroup_id) == 16,
	       "cgroup_id is 8-byte aligned at 16");
_Static_assert(__builtin_offsetof(struct shim_event, comm) == 32,
	       "comm at 32");
_Static_assert(__builtin_offsetof(struct shim_event, verdict) == 48,
	       "verdict at 48");
_Static_assert(sizeof(struct shim_prefix) == 8, "shim_prefix is 8 bytes");
_Static_assert(sizeof(struct shim_flow_key) == 24, "shim_flow_key is 24 bytes");
_Static_assert(sizeof(struct shim_fkey) == 24, "shim_fkey is 24 bytes");
_Static_assert(sizeof(struct shim_fval) == 16, "shim_fval is 16 bytes");
_Static_assert(sizeof(struct shim_rkey) == 8, "shim_rkey is 8 bytes");

#endif /* MAVPN_SHIM_ABI_H */
