// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket shim and per-application enforcement. One object, two program sets
 * sharing the maps (protected prefixes, allowed cgroups, ring buffer):
 *
 * report  (shim_*)   cgroup/connect4, connect6, sendmsg4, sendmsg6 on the
 *                    cgroups an operator attached. A flow towards a
 *                    protected destination (overlay prefix, gateway routes)
 *                    is reported to vpnd before its first packet leaves, so
 *                    the key request is in flight when the data plane sees
 *                    that packet. Verdict: always allow.
 * enforce (enf_*)    the same four hooks plus cgroup/sock_create and
 *                    cgroup_skb/egress + ingress on the ROOT of the cgroup2
 *                    hierarchy (links = BPF_F_ALLOW_MULTI: they coexist
 *                    with other users). A process whose cgroup (or an
 *                    ancestor) is not in `allowed` gets EPERM from
 *                    connect()/sendmsg() to a protected destination; its
 *                    raw/ICMP packets there are dropped at egress. A packet
 *                    for our overlay address must come in through mavpn0
 *                    (or lo): one that arrives on the underlay in clear
 *                    would reach a service without any key (ingress drop).
 *
 * Per-flow decisions (issue 12 item 1). Once the server has a policy
 * (`flows_open` = 0), an attached application's flow (cgroup, uid,
 * destination, protocol, port) also needs the server's decision, cached in
 * `flows` by vpnd with a TTL: a cached deny is EPERM at connect()/sendmsg()
 * and a drop at egress; a flow without a decision passes the socket layer
 * but its packets are dropped at egress (reported: vpnd asks the server;
 * TCP retransmits its SYN, ping its next echo) until the decision is in.
 * Passive traffic needs no decision of ours: accepted TCP connections
 * (marked by sockops) and UDP answers to a peer that reached us through
 * the overlay (`replies`, filled at ingress). So a key pushed to us lets us
 * receive and answer; a new flow of ours needs policy in our direction.
 *
 * Every program runs for every socket of the machine, so each one first
 * checks that the socket lives in vpnd's own network namespace: the
 * sock_addr and sock programs compare bpf_get_netns_cookie() with the
 * cookie set before load; the cgroup_skb ones, which cannot call it on
 * older kernels (6.1), look for the mark sock_create put on our sockets.
 * Several vpnd (one per netns) never act on each other's traffic.
 *
 * IPv6: a v4-mapped destination (::ffff:a.b.c.d on an AF_INET6 socket) is
 * handled as the IPv4 address it carries. Native IPv6 destinations are not
 * part of the overlay (it is IPv4 only) and pass untouched.
 *
 * recvmsg4/6 are not needed: no program here rewrites a destination address
 * (the overlay and LAN addresses are the real ones, routed to mavpn0), so a
 * UDP application already sees its peer's true address in recvfrom().
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "mavpn/shim_abi.h"

#define SHIM_ETH_P_IP		0x0800
#define SHIM_LO_IFINDEX		1	/* loopback is always 1 in a netns */
#define SHIM_IPPROTO_TCP	6
#define SHIM_IPPROTO_UDP	17
#define SHIM_SOCK_RAW		3
#define SHIM_ETH_HLEN		14
#define SHIM_TC_ACT_OK		0
#define SHIM_TC_ACT_SHOT	2

/* Set by vpnd before load. */
const volatile __u64 netns_cookie = 0;
/* 1: this kernel has bpf_get_netns_cookie() for cgroup_skb (6.1 has not),
 * so egress can also check TCP/UDP sockets created before enforcement. */
const volatile __u8 skb_netns = 0;
/* Our own overlay address (network order): local traffic, no key needed. */
const volatile __u32 self_ip = 0;
/* ifindex of the overlay interface (mavpn0) in our netns. Not rodata: the
 * shim is loaded before the data plane makes mavpn0 (so that enforcement is
 * up first); vpnd writes it once mavpn0 exists. Until then nothing for our
 * overlay address gets in from anywhere but lo. */
volatile __u32 overlay_ifindex = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SHIM_RINGBUF_BYTES);
} events SEC(".maps");

/* Flow (application, destination, verdict) -> last report time; LRU so a
 * scan of the overlay cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHIM_DEDUP_ENTRIES);
	__type(key, struct shim_flow_key);
	__type(value, __u64);
} dedup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SHIM_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Per-flow decisions of the server, cached by vpnd (TTL in the value). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHIM_FLOWS_MAX);
	__type(key, struct shim_fkey);
	__type(value, struct shim_fval);
} flows SEC(".maps");

/* UDP flows peers opened to us through the overlay -> last seen (ns). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHIM_REPLIES_MAX);
	__type(key, struct shim_rkey);
	__type(value, __u64);
} replies SEC(".maps");

/* LANs behind us (our own gateway routes): their traffic is forwarded
 * into the overlay by design. Filled by vpnd. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SHIM_PROTECTED_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct shim_prefix);
	__type(value, __u8);
} own_lan SEC(".maps");

/* ifindex (in our netns) -> 1: forwarded traffic that came in there may
 * enter the overlay (an attached network namespace's veth). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHIM_FWD_MAX);
	__type(key, __u32);
	__type(value, __u8);
} fwd_allowed SEC(".maps");

/* 1: the server has no policy, every attached flow is allowed without a
 * decision; 0: decisions needed. Written by vpnd (HELLO_ACK, FLOW_FLUSH). */
volatile __u32 flows_open = 0;

/* Overlay prefix and gateway routes; filled by vpnd. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SHIM_PROTECTED_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* required for LPM tries */
	__type(key, struct shim_prefix);
	__type(value, __u8);
} protected SEC(".maps");

/* cgroup id -> 1 for every attached cgroup; filled by vpnd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHIM_ALLOWED_MAX);
	__type(key, __u64);
	__type(value, __u8);
} allowed SEC(".maps");

/* Marks user sockets created in our netns: cgroup_skb cannot read the
 * netns cookie on older kernels (6.1), sock_create can. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* required for sk storage */
	__type(key, int);
	__type(value, __u8);
} ours SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline int is_protected(__u32 daddr)
{
	struct shim_prefix k = { .prefixlen = 32, .addr = daddr };

	if (daddr == self_ip)
		return 0;
	return bpf_map_lookup_elem(&protected, &k) != NULL;
}

/*
 * The IPv4 destination of a sock_addr call, 0 if it has none (native v6).
 * @v6 is a constant per program: the verifier allows user_ip4 only in the
 * *4 hooks and user_ip6 only in the *6 hooks.
 */
static __always_inline __u32 dst4(struct bpf_sock_addr *ctx, int v6)
{
	if (!v6)
		return ctx->user_ip4;
	/* ::ffff:a.b.c.d; 4-byte loads: the only size the verifier allows. */
	if (ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 &&
	    ctx->user_ip6[2] == bpf_htonl(0xffff))
		return ctx->user_ip6[3];
	return 0;
}

static __always_inline int current_allowed(void)
{
	__u64 id;
	int i;

	/* Bounded: the verifier needs a constant trip count. */
	for (i = 0; i < SHIM_CGROUP_DEPTH_MAX; i++) {
		id = bpf_get_current_ancestor_cgroup_id(i);
		if (!id)
			return 0;
		if (bpf_map_lookup_elem(&allowed, &id))
			return 1;
	}
	return 0;
}

static __always_inline int skb_allowed(struct __sk_buff *skb)
{
	__u64 id;
	int i;

	for (i = 0; i < SHIM_CGROUP_DEPTH_MAX; i++) {
		id = bpf_skb_ancestor_cgroup_id(skb, i);
		if (!id)
			return 0;
		if (bpf_map_lookup_elem(&allowed, &id))
			return 1;
	}
	return 0;
}

/*
 * Tell vpnd about a flow, at most once per cgroup, destination, port,
 * protocol and verdict per SHIM_REEMIT_NS: an application opening many
 * sockets to one service is reported once. The caller's verdict does not
 * depend on reporting.
 */
static __always_inline void report(__u32 daddr, __u16 dport, __u8 proto,
				   __u8 hook, __u8 verdict, __u64 cgroup_id,
				   __u32 uid, __u32 gid)
{
	struct shim_flow_key key = {
		.cgroup_id = cgroup_id, .daddr = daddr, .dport = dport,
		.proto = proto, .verdict = verdict, .uid = uid,
	};
	struct shim_event *e;
	__u64 now, *last;

	now = bpf_ktime_get_ns();
	last = bpf_map_lookup_elem(&dedup, &key);
	if (last && now - *last < SHIM_REEMIT_NS) {
		count(SHIM_CNT_DEDUP);
		return;
	}
	/* Racing CPUs may both emit once; vpnd dedups in-flight requests. */
	bpf_map_update_elem(&dedup, &key, &now, BPF_ANY);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(SHIM_CNT_DROPS);
		/* Forget the report time so the next call retries. */
		bpf_map_delete_elem(&dedup, &key);
		return;
	}
	e->version = SHIM_EVENT_VERSION;
	e->daddr = daddr;
	e->dport = dport;
	e->proto = proto;
	e->hook = hook;
	e->cgroup_id = cgroup_id;
	e->ts_ns = now;
	/* cgroup_skb has no "current" task (it may run in softirq). */
	if (hook == SHIM_HOOK_EGRESS) {
		e->pid = 0;
		__builtin_memset(e->comm, 0, sizeof(e->comm));
	} else {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	e->verdict = verdict;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	e->uid = uid;
	e->gid = gid;
	e->pad2 = 0;
	bpf_ringbuf_submit(e, 0);
	count(SHIM_CNT_EVENTS);
}

/*
 * The cached decision for @k: 1 allow, 0 deny, -1 none (or expired). Sets
 * *@refresh when an allowed flow is near its expiry (vpnd renews it).
 */
static __always_inline int flow_verdict(const struct shim_fkey *k,
					int *refresh)
{
	struct shim_fval *v = bpf_map_lookup_elem(&flows, k);
	__u64 now;

	if (!v)
		return -1;
	now = bpf_ktime_get_ns();
	if (now >= v->expires_ns)
		return -1;
	if (!v->allow)
		return 0;
	if (v->expires_ns - now < SHIM_FLOW_REFRESH_NS)
		*refresh = 1;
	return 1;
}

/* A UDP datagram to @peer:@pport from our port @lport answers a flow the
 * peer opened through the overlay. */
static __always_inline int is_reply(__u32 peer, __u16 pport, __u16 lport)
{
	struct shim_rkey k = { .peer = peer, .pport = pport, .lport = lport };
	__u64 *t = bpf_map_lookup_elem(&replies, &k);

	return t && bpf_ktime_get_ns() - *t < SHIM_REPLY_NS;
}

/* ---- report: attached cgroups ------------------------------------------ */

static __always_inline int shim_report(struct bpf_sock_addr *ctx, __u8 hook,
				       int v6)
{
	__u32 daddr;
	__u64 ug;

	if (bpf_get_netns_cookie(ctx) != netns_cookie)
		return 1;
	daddr = dst4(ctx, v6);
	if (!daddr || !is_protected(daddr))
		return 1;
	count(SHIM_CNT_SEEN);
	/* an answer to a peer's UDP flow needs no decision: not reported */
	if (ctx->protocol == SHIM_IPPROTO_UDP && ctx->sk &&
	    is_reply(daddr, bpf_ntohs((__u16)ctx->user_port),
		     (__u16)ctx->sk->src_port))
		return 1;
	ug = bpf_get_current_uid_gid();
	/* user_port holds the port in network order in its low 16 bits. */
	report(daddr, bpf_ntohs((__u16)ctx->user_port), (__u8)ctx->protocol,
	       hook, SHIM_VERDICT_REPORT, bpf_get_current_cgroup_id(),
	       (__u32)ug, (__u32)(ug >> 32));
	return 1;
}

SEC("cgroup/connect4")
int shim_connect4(struct bpf_sock_addr *ctx)
{
	return shim_report(ctx, SHIM_HOOK_CONNECT4, 0);
}

SEC("cgroup/sendmsg4")
int shim_sendmsg4(struct bpf_sock_addr *ctx)
{
	return shim_report(ctx, SHIM_HOOK_SENDMSG4, 0);
}

SEC("cgroup/connect6")
int shim_connect6(struct bpf_sock_addr *ctx)
{
	return shim_report(ctx, SHIM_HOOK_CONNECT6, 1);
}

SEC("cgroup/sendmsg6")
int shim_sendmsg6(struct bpf_sock_addr *ctx)
{
	return shim_report(ctx, SHIM_HOOK_SENDMSG6, 1);
}

/* ---- enforce: cgroup2 root --------------------------------------------- */

/*
 * 1: allow, 0: EPERM to the caller. An attached caller is refused only by
 * a cached deny; a flow without a decision passes here (its packets wait
 * at egress) and is reported by the report set.
 */
static __always_inline int enf_addr(struct bpf_sock_addr *ctx, __u8 hook,
				    int v6)
{
	struct shim_fkey k = {};
	struct bpf_sock *sk;
	int refresh = 0;
	__u32 daddr;
	__u16 dport;
	__u64 ug;

	if (bpf_get_netns_cookie(ctx) != netns_cookie)
		return 1;
	daddr = dst4(ctx, v6);
	if (!daddr || !is_protected(daddr))
		return 1;
	dport = bpf_ntohs((__u16)ctx->user_port);
	ug = bpf_get_current_uid_gid();
	if (!current_allowed()) {
		count(SHIM_CNT_BLOCKED);
		report(daddr, dport, (__u8)ctx->protocol, hook,
		       SHIM_VERDICT_BLOCKED, bpf_get_current_cgroup_id(),
		       (__u32)ug, (__u32)(ug >> 32));
		return 0;
	}
	if (flows_open)
		return 1;
	/* an unconnected UDP server answering a peer's datagram */
	sk = ctx->sk;
	if (ctx->protocol == SHIM_IPPROTO_UDP && sk &&
	    is_reply(daddr, dport, (__u16)sk->src_port))
		return 1;
	k.cgroup_id = bpf_get_current_cgroup_id();
	k.uid = (__u32)ug;
	k.daddr = daddr;
	k.dport = dport;
	k.proto = (__u8)ctx->protocol;
	if (flow_verdict(&k, &refresh) != 0)
		return 1;
	count(SHIM_CNT_FLOW_DENIED);
	report(daddr, dport, (__u8)ctx->protocol, hook, SHIM_VERDICT_DENIED,
	       k.cgroup_id, (__u32)ug, (__u32)(ug >> 32));
	return 0;
}

SEC("cgroup/connect4")
int enf_connect4(struct bpf_sock_addr *ctx)
{
	return enf_addr(ctx, SHIM_HOOK_CONNECT4, 0);
}

SEC("cgroup/sendmsg4")
int enf_sendmsg4(struct bpf_sock_addr *ctx)
{
	return enf_addr(ctx, SHIM_HOOK_SENDMSG4, 0);
}

SEC("cgroup/connect6")
int enf_connect6(struct bpf_sock_addr *ctx)
{
	return enf_addr(ctx, SHIM_HOOK_CONNECT6, 1);
}

SEC("cgroup/sendmsg6")
int enf_sendmsg6(struct bpf_sock_addr *ctx)
{
	return enf_addr(ctx, SHIM_HOOK_SENDMSG6, 1);
}

/* Runs for user sockets only (inet_create skips it for kernel sockets, e.g.
 * the ICMP socket that sends echo replies): mark the ones in our netns. */
SEC("cgroup/sock_create")
int enf_sock_create(struct bpf_sock *sk)
{
	__u8 *mark;

	if (bpf_get_netns_cookie(sk) != netns_cookie)
		return 1;
	mark = bpf_sk_storage_get(&ours, sk, NULL,
				  BPF_SK_STORAGE_GET_F_CREATE);
	if (mark)
		*mark = SHIM_MARK_CREATED;
	return 1;
}

/* A TCP connection accepted by a listener: its replies are not an active
 * open, whatever cgroup the server runs in. Marked so that egress leaves it
 * to the sock_addr hooks like every other socket it knows (below). */
SEC("sockops")
int enf_sockops(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	__u8 *mark;

	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	/* The cgroup root is shared by every netns: a vpnd in another one
	 * (same overlay addresses, other ifindexes) must not mark ours. */
	if (bpf_get_netns_cookie(skops) != netns_cookie)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	mark = bpf_sk_storage_get(&ours, sk, NULL,
				  BPF_SK_STORAGE_GET_F_CREATE);
	if (mark)
		*mark = SHIM_MARK_PASSIVE;
	return 1;
}

/*
 * Raw and ICMP sockets never pass connect/sendmsg hooks (ping, traceroute):
 * their packets are checked here, whatever protocol the raw socket was
 * opened with (a SOCK_RAW socket of protocol IPPROTO_UDP or IPPROTO_TCP
 * writes its own headers too). TCP and UDP sockets created while we
 * enforce (marked by sock_create) or accepted (marked by sockops) are left
 * to the sock_addr hooks above, which see only the active side: a server
 * in an unattached cgroup can still answer a peer that reached it through
 * the VPN. A TCP/UDP socket with no mark was created while no enforcement
 * was linked (connected before vpnd started): its packets to protected
 * destinations are checked here, in our netns, where the kernel lets
 * cgroup_skb read the netns cookie. Every packet of an attached
 * application to a protected destination (TCP, UDP, raw, ICMP) then needs
 * its flow's decision while a policy is in force (see the top), unless it
 * answers a peer's flow (accepted connection, `replies`).
 */
SEC("cgroup_skb/egress")
int enf_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct shim_fkey k = {};
	__u16 ports[2] = {}, sport = 0, dport = 0;
	int tcpudp, refresh = 0, v;
	__u8 *mark, vihl, proto;
	__u32 daddr;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	mark = bpf_sk_storage_get(&ours, sk, NULL, 0);
	tcpudp = sk->type != SHIM_SOCK_RAW &&
		 (sk->protocol == SHIM_IPPROTO_TCP ||
		  sk->protocol == SHIM_IPPROTO_UDP);
	if (tcpudp && !mark) {
		if (!skb_netns)
			return 1;
		/* a SYN-ACK is charged to its listener: passive, passes */
		if (sk->state == BPF_TCP_LISTEN ||
		    sk->state == BPF_TCP_NEW_SYN_RECV)
			return 1;
		if (bpf_get_netns_cookie(skb) != netns_cookie)
			return 1;
	} else if (!mark) {
		return 1;
	}
	/* an accepted connection answers a peer's flow */
	if (mark && *mark == SHIM_MARK_PASSIVE)
		return 1;
	/* no policy: marked TCP/UDP sockets were judged at connect() and
	 * sendmsg(); the per-packet checks below are for flow decisions */
	if (tcpudp && mark && flows_open)
		return 1;
	if (skb->protocol != bpf_htons(SHIM_ETH_P_IP))
		return 1;
	/* cgroup_skb data starts at the IP header; daddr is at 16. */
	if (bpf_skb_load_bytes(skb, 16, &daddr, sizeof(daddr)))
		return 1;
	if (!is_protected(daddr))
		return 1;
	if (!skb_allowed(skb)) {
		/* marked TCP/UDP sockets were judged at connect()/sendmsg() */
		if (tcpudp && mark)
			return 1;
		count(SHIM_CNT_BLOCKED_PKT);
		report(daddr, 0, (__u8)sk->protocol, SHIM_HOOK_EGRESS,
		       SHIM_VERDICT_BLOCKED, bpf_skb_cgroup_id(skb),
		       bpf_get_socket_uid(skb), SHIM_GID_NONE);
		return 0;
	}
	if (flows_open)
		return 1;
	/* The flow as the packet says it (a raw socket writes its own
	 * headers): protocol, and ports for TCP/UDP. Unreadable: dropped. */
	if (bpf_skb_load_bytes(skb, 0, &vihl, 1) ||
	    bpf_skb_load_bytes(skb, 9, &proto, 1))
		return 0;
	if (proto == SHIM_IPPROTO_TCP || proto == SHIM_IPPROTO_UDP) {
		if (bpf_skb_load_bytes(skb, (vihl & 0xf) * 4, ports,
				       sizeof(ports)))
			return 0;
		sport = bpf_ntohs(ports[0]);
		dport = bpf_ntohs(ports[1]);
	}
	if (proto == SHIM_IPPROTO_UDP && is_reply(daddr, dport, sport))
		return 1;
	k.cgroup_id = bpf_skb_cgroup_id(skb);
	k.uid = bpf_get_socket_uid(skb);
	k.daddr = daddr;
	k.dport = dport;
	k.proto = proto;
	v = flow_verdict(&k, &refresh);
	if (v == 1) {
		if (refresh)
			report(daddr, dport, proto, SHIM_HOOK_EGRESS,
			       SHIM_VERDICT_REPORT, k.cgroup_id, k.uid,
			       SHIM_GID_NONE);
		return 1;
	}
	count(v ? SHIM_CNT_UNDECIDED : SHIM_CNT_FLOW_DENIED);
	report(daddr, dport, proto, SHIM_HOOK_EGRESS,
	       v ? SHIM_VERDICT_UNDECIDED : SHIM_VERDICT_DENIED, k.cgroup_id,
	       k.uid, SHIM_GID_NONE);
	return 0;
}

/*
 * The kernel accepts a packet for any of its addresses on any interface
 * (weak host model): without this, a host on the underlay could talk to a
 * service bound to our overlay address in clear, past every key check.
 * UDP that came in through the overlay is remembered (`replies`): our
 * socket may answer that peer's flow (egress, sendmsg).
 */
SEC("cgroup_skb/ingress")
int enf_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct shim_rkey rk = {};
	__u16 ports[2];
	__u8 vihl, proto;
	__u32 daddr;
	__u64 now;

	if (!sk || skb->protocol != bpf_htons(SHIM_ETH_P_IP))
		return 1;
	if (skb->ifindex == SHIM_LO_IFINDEX)
		return 1;
	if (skb_netns && bpf_get_netns_cookie(skb) != netns_cookie)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk || !bpf_sk_storage_get(&ours, sk, NULL, 0))
		return 1;
	if (overlay_ifindex && skb->ifindex == overlay_ifindex) {
		if (sk->protocol != SHIM_IPPROTO_UDP ||
		    bpf_skb_load_bytes(skb, 0, &vihl, 1) ||
		    bpf_skb_load_bytes(skb, 9, &proto, 1) ||
		    proto != SHIM_IPPROTO_UDP ||
		    bpf_skb_load_bytes(skb, 12, &rk.peer, sizeof(rk.peer)) ||
		    bpf_skb_load_bytes(skb, (vihl & 0xf) * 4, ports,
				       sizeof(ports)))
			return 1;
		rk.pport = bpf_ntohs(ports[0]);
		rk.lport = bpf_ntohs(ports[1]);
		now = bpf_ktime_get_ns();
		bpf_map_update_elem(&replies, &rk, &now, BPF_ANY);
		return 1;
	}
	if (bpf_skb_load_bytes(skb, 16, &daddr, sizeof(daddr)) ||
	    daddr != self_ip)
		return 1;
	count(SHIM_CNT_BLOCKED_IN);
	return 0;
}

/*
 * tc egress on mavpn0. The socket programs above see only sockets of our
 * network namespace; a packet routed into mavpn0 from elsewhere has no
 * socket here (skb->sk NULL, skb->ingress_ifindex = where it came in):
 * a container whose netns the host routes (and NATs) would reach every
 * protected peer with no application of it attached. Such a packet
 * passes only if it came in on an attached namespace's interface
 * (`fwd_allowed`, `vpnctl attach --netns`) or from a LAN behind us
 * (source in our own gateway routes, `own_lan`); anything else is
 * dropped and counted. Locally sent packets (a socket, or none and no
 * ingress interface) were judged by the socket programs.
 */
SEC("tc")
int enf_forward(struct __sk_buff *skb)
{
	struct shim_prefix k = { .prefixlen = 32 };
	__u32 ifi = skb->ingress_ifindex;

	if (skb->sk || !ifi || skb->protocol != bpf_htons(SHIM_ETH_P_IP))
		return SHIM_TC_ACT_OK;
	if (bpf_map_lookup_elem(&fwd_allowed, &ifi))
		return SHIM_TC_ACT_OK;
	/* mavpn0 is Ethernet: the IPv4 source is at 14 + 12 */
	if (bpf_skb_load_bytes(skb, SHIM_ETH_HLEN + 12, &k.addr,
			       sizeof(k.addr)))
		return SHIM_TC_ACT_SHOT;
	if (bpf_map_lookup_elem(&own_lan, &k))
		return SHIM_TC_ACT_OK;
	count(SHIM_CNT_BLOCKED_FWD);
	return SHIM_TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
