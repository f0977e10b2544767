// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd's data plane (include/mavpn/datapath.h): overlay veth, XDP, a pool
 * of AF_XDP workers, key table.
 *
 *   host stack -> mavpn0 ==veth, N queues== mavpn0x [xdp_overlay: rxq i
 *        -> XSK ov[i]]  worker i: parse inner IPv4, find peer, seal
 *   -> XSK ul[i] on underlay queue i (Eth/IPv4/UDP built here), or, for a
 *      worker beyond the NIC's queues, sendmmsg on the UDP socket
 *   peer -> underlay NIC [xdp_underlay: UDP to our port, rxq i -> XSK ul[i]]
 *        worker i: dp_decap() (open, replay window, inner check), add Eth
 *   -> XSK ov[i] -> mavpn0x ==veth== mavpn0 -> host stack
 *
 * Threads and locking. The control thread (vpnd's event loop) calls the
 * datapath_* functions. Worker i owns its two AF_XDP sockets and AEAD
 * contexts s->tx[i], s->rx[i] of every session; worker 0 also owns the
 * netlink sockets (next-hop lookups, neighbour events), the kernel UDP
 * socket's receive side and the flush of held packets when a key arrives.
 * dp->lock is an rwlock: workers hold it for reading once per batch, the
 * control thread takes it for writing to change the table's shape (insert
 * a peer, install or retire a session, drop held packets) and for reading
 * to answer queries. Since workers never run while a writer holds the
 * lock, a session can be freed (and its keys wiped) right when it is
 * retired: no RCU needed. A worker takes the write lock only to insert a
 * peer it has never seen. Per packet there is no lock: per-worker
 * contexts, relaxed atomic counters, the nonce fetch-add below, and a
 * per-session spinlock around the replay window's update (dp_decap.c).
 *
 * Nonces: a session's tx counter (one per directional key, shared by all
 * workers) is taken with an atomic fetch-add, so a counter is never used
 * twice under one key whichever worker sends; it starts at 1 and a session
 * whose counter reached DP_COUNTER_MAX counts as expired. Restarts and
 * renewals always bring a new key (docs/protocol.md, "Nonce").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mavpn/aead.h"
#include "mavpn/datapath.h"
#include "mavpn/log.h"
#include "mavpn/wire.h"
#include "dp_bpf.h"
#include "dp_decap.h"
#include "dp_netlink.h"
#include "dp_peer.h"
#include "dp_xsk.h"

#define DP_REQ_MAX		1024	/* queued key requests */
#define DP_REQ_RETRY_MS		2000	/* re-ask if no key came by then */
#define DP_NEIGH_REFRESH_MS	5000	/* re-read the kernel's entry */
#define DP_NEIGH_GIVEUP_MS	3000	/* drop held packets after this */
#define DP_COUNTER_MAX		(1ull << 60)	/* renew long before wrap */
#define DP_ETH_P_IP		0x0800

struct dp_eth {
	uint8_t dst[6], src[6];
	uint16_t proto;
} __attribute__((packed));

_Static_assert(sizeof(struct dp_eth) == MAVPN_ETH_HLEN, "eth");

#define DP_OUTER_LEN	(MAVPN_ETH_HLEN + MAVPN_IP4_HLEN + MAVPN_UDP_HLEN)

/*
 * One worker: a thread with its own AF_XDP socket on overlay queue @id and,
 * when the underlay NIC has that many queues, its own socket on underlay
 * queue @id. A worker beyond the underlay's queues still takes its share
 * of the overlay (plaintext -> seal) and sends the sealed datagrams with
 * sendmmsg() on the kernel UDP socket, one syscall per batch: an AF_XDP
 * socket per (device, queue) is all the kernel allows, and sharing one
 * between threads would need a lock per packet. Nothing here is shared:
 * each worker uses its own AEAD context of a session (s->tx[id],
 * s->rx[id]).
 */
struct dp_worker {
	struct datapath *dp;
	int id;
	struct dp_xsk ov;
	struct dp_xsk ul;		/* ul.fd < 0: no underlay queue of ours */
	int wake_fd;			/* worker 0: the datapath's wake_fd */
	uint64_t icmp_ms;		/* last ICMP too-big sent (rate limit) */
	pthread_t thread;
	int started;
	/* no underlay queue: a batch of sealed datagrams for sendmmsg */
	unsigned int kn;
	struct mmsghdr kmsg[DP_XSK_BATCH];
	struct iovec kiov[DP_XSK_BATCH];
	struct sockaddr_in kto[DP_XSK_BATCH];
	uint8_t kbuf[DP_XSK_BATCH][DP_XSK_FRAME_SIZE];
};

struct datapath {
	struct dp_config cfg;
	char ov_name[IFNAMSIZ], far_name[IFNAMSIZ], ul_name[IFNAMSIZ];
	uint32_t net_mask;		/* overlay prefix mask, network order */
	int ul_ifindex, ov_ifindex, far_ifindex;
	uint8_t ul_mac[DP_ETH_ALEN], ov_mac[DP_ETH_ALEN], far_mac[DP_ETH_ALEN];
	uint32_t ul_ip;			/* fallback source address */
	unsigned int ov_mtu;		/* mavpn0's MTU, from the underlay's */
	/*
	 * Largest inner packet we send: the overlay MTU as set at start, not
	 * the (larger) one the underlay could carry, because it is also what
	 * the peer's mavpn0 accepts (veth drops frames above its MTU).
	 */
	unsigned int inner_max;

	struct dp_nl nl_ctl;		/* control thread: links, addresses */
	struct dp_nl nl_wrk;		/* worker 0: routes, neighbours */
	struct dp_nl nl_ev;		/* worker 0: neighbour-table events */
	struct dp_xdp xdp;
	struct dp_worker *w[DP_WORKERS_MAX];
	int nworkers;
	int ul_queues;			/* underlay rx queues we bind */
	int udp_fd;			/* kernel path for the same port */
	int wake_fd;			/* control -> worker 0 */
	int req_fd;			/* worker -> control */
	int veth_made;

	pthread_rwlock_t lock;
	struct dp_peers peers;

	pthread_mutex_t req_lock;
	uint32_t req[DP_REQ_MAX];
	unsigned int req_head, req_len;

	/* worker 0 only */
	struct dp_peer *neigh_list[DP_MAX_PEERS];
	int neigh_n;

	int stop;			/* atomic */
	struct dp_stats st;		/* atomic counters */

	/* gateway routes; changed under the wrlock, read under rdlock */
	struct dp_route routes[DP_ROUTES_MAX];
	int nroutes;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t ip_csum(const void *hdr, size_t len)
{
	const uint16_t *p = hdr;
	uint32_t sum = 0;

	for (; len > 1; len -= 2)
		sum += *p++;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int session_tx_live(const struct dp_session *s, uint64_t now)
{
	return s && (!s->expires_ms || now < s->expires_ms) &&
	       DP_LOAD(s->tx_next) < DP_COUNTER_MAX &&
	       (!s->tx_limit || DP_LOAD(s->tx_next) < s->tx_limit);
}

/* The session to send with: cur, or the pushed renewal (p->next) once the
 * peer has used it or cur ran out (make before break, see dp_peer.h). */
static struct dp_session *tx_session(const struct dp_peer *p, uint64_t now)
{
	struct dp_session *n = p->next;

	if (n && (DP_LOAD(n->rx_used) || !session_tx_live(p->cur, now)))
		return n;
	return p->cur;
}

static void wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* counter saturated: the reader is awake anyway */
	}
}

/* --- key requests (worker -> control) ---------------------------------- */

static int requested_recently(struct dp_peer *p, uint64_t now)
{
	return DP_LOAD(p->requested) &&
	       now - DP_LOAD(p->requested_ms) < DP_REQ_RETRY_MS;
}

/* Any worker; req_lock also serialises the peer's request state. */
static void request_key(struct datapath *dp, struct dp_peer *p, uint64_t now)
{
	int queued = 0;

	if (requested_recently(p, now))
		return;
	pthread_mutex_lock(&dp->req_lock);
	/* another worker may have asked since the unlocked check */
	if (!requested_recently(p, now) && dp->req_len < DP_REQ_MAX) {
		dp->req[(dp->req_head + dp->req_len++) % DP_REQ_MAX] =
			p->overlay_ip;
		DP_STORE(p->requested, 1);
		DP_STORE(p->requested_ms, now);
		queued = 1;
	}
	pthread_mutex_unlock(&dp->req_lock);
	if (queued)
		wake(dp->req_fd);
}

/* --- neighbour resolution (worker 0) ------------------------------------ */

static int mac_known(struct dp_peer *p)
{
	return DP_LOAD(p->mac) != 0;
}

static void neigh_want(struct datapath *dp, struct dp_peer *p)
{
	if (p->neigh_queued || dp->neigh_n >= DP_MAX_PEERS)
		return;
	p->neigh_queued = 1;
	dp->neigh_list[dp->neigh_n++] = p;
}

/* Any worker: have worker 0 (the only one with a resolve list) look up
 * @p's next hop. The flag makes this one wakeup per lookup, not per packet. */
static void neigh_ask(struct dp_worker *w, struct dp_peer *p)
{
	if (!w->id) {
		neigh_want(w->dp, p);
		return;
	}
	if (!__atomic_exchange_n(&p->neigh_flag, 1, __ATOMIC_ACQ_REL))
		wake(w->dp->wake_fd);
}

/*
 * Look the peer's next hop up in the kernel: route, then neighbour entry.
 * A STALE entry is used (like the kernel does) while NTF_USE makes the
 * kernel re-confirm it: our traffic bypasses the stack, so nothing else
 * would keep the entry fresh. Returns 1 if a MAC is known.
 */
static int neigh_resolve(struct datapath *dp, struct dp_peer *p, uint64_t now)
{
	static unsigned long rl;
	enum dp_neigh_state st;
	uint32_t nh, src;
	uint8_t mac[DP_ETH_ALEN];
	int oif, err;

	err = dp_nl_route_get(&dp->nl_wrk, p->underlay_ip, &nh, &oif, &src);
	if (!err && oif != dp->ul_ifindex)
		err = -EXDEV;
	if (err) {
		if (log_ratelimited(&rl))
			log_warn("datapath: no route to peer via underlay peer=%s underlay=%s err=%s",
				 p->name, inet_ntoa((struct in_addr){ p->underlay_ip }),
				 strerror(-err));
		return mac_known(p);
	}
	DP_STORE(p->src_ip, src ? src : dp->ul_ip);
	p->nh_ip = nh;
	err = dp_nl_neigh_get(&dp->nl_wrk, oif, nh, mac, &st);
	if (err)
		return mac_known(p);
	if (st != DP_NEIGH_NONE) {
		uint64_t m = 0;

		memcpy(&m, mac, DP_ETH_ALEN);
		/* one store: the other workers see the old or the new MAC */
		__atomic_store_n(&p->mac, m, __ATOMIC_RELEASE);
		DP_STORE(p->neigh_at_ms, now);
		p->neigh_wait_ms = 0;
	}
	if (st != DP_NEIGH_VALID)
		dp_nl_neigh_use(&dp->nl_wrk, oif, nh);
	return mac_known(p);
}

/* --- overlay -> underlay ------------------------------------------------ */

/* Send the sealed datagrams a worker without an underlay queue batched. */
static void kflush(struct dp_worker *w)
{
	unsigned int done = 0;
	int n;

	while (done < w->kn) {
		n = sendmmsg(w->dp->udp_fd, w->kmsg + done, w->kn - done,
			     MSG_DONTWAIT);
		if (n <= 0) {
			DP_ADD(w->dp->st.drop_tx_full, w->kn - done);
			break;
		}
		done += n;
	}
	w->kn = 0;
}

/* Seal one inner packet for @p and queue it for the underlay. */
static void tx_sealed(struct dp_worker *w, struct dp_peer *p,
		      struct dp_session *s, const uint8_t *pkt, uint32_t len,
		      uint64_t now)
{
	struct datapath *dp = w->dp;
	uint8_t nonce[MAVPN_NONCE_LEN];
	struct dp_eth *eth;
	struct dp_ip4 *ip;
	struct dp_udp *udp;
	uint8_t *f, *hdr;
	uint64_t addr = 0, ctr, mac;
	uint32_t udplen = MAVPN_UDP_HLEN + MAVPN_DATA_HDR_LEN + len +
			  MAVPN_TAG_LEN;
	int n, xsk = w->ul.fd >= 0;

	if (xsk) {
		if (dp_xsk_frame_get(&w->ul, &addr)) {
			DP_INC(dp->st.drop_tx_full);
			return;
		}
		f = dp_xsk_data(&w->ul, addr);
	} else {
		f = w->kbuf[w->kn];
	}
	/* The nonce: see the block at the top of this file. */
	ctr = __atomic_fetch_add(&s->tx_next, 1, __ATOMIC_RELAXED);

	if (xsk) {
		eth = (struct dp_eth *)f;
		mac = __atomic_load_n(&p->mac, __ATOMIC_ACQUIRE);
		memcpy(eth->dst, &mac, DP_ETH_ALEN);
		memcpy(eth->src, dp->ul_mac, DP_ETH_ALEN);
		eth->proto = htons(DP_ETH_P_IP);

		ip = (struct dp_ip4 *)(eth + 1);
		ip->vihl = 0x45;
		ip->tos = 0;
		ip->tot_len = htons(MAVPN_IP4_HLEN + udplen);
		ip->id = 0;
		/* DF: the overlay MTU is sized so that we never need fragments */
		ip->frag_off = htons(0x4000);
		ip->ttl = 64;
		ip->proto = IPPROTO_UDP;
		ip->csum = 0;
		ip->saddr = DP_LOAD(p->src_ip);
		ip->daddr = p->underlay_ip;
		ip->csum = ip_csum(ip, sizeof(*ip));

		udp = (struct dp_udp *)(ip + 1);
		udp->sport = htons(dp->cfg.port);
		udp->dport = htons(p->port);
		udp->len = htons(udplen);
		/* IPv4 allows no UDP checksum; the GCM tag covers the payload. */
		udp->csum = 0;
	}

	hdr = f + DP_OUTER_LEN;
	wire_hdr_encode(hdr, s->key_id, ctr);
	wire_nonce(nonce, ctr);
	n = aead_seal(s->tx[w->id], nonce, hdr, MAVPN_DATA_HDR_LEN, pkt, len,
		      hdr + MAVPN_DATA_HDR_LEN);
	if (n < 0) {
		if (xsk)
			dp_xsk_frame_put(&w->ul, addr);
		DP_INC(dp->st.drop_malformed);
		return;
	}
	if (xsk) {
		if (dp_xsk_tx(&w->ul, addr, DP_OUTER_LEN +
			      MAVPN_DATA_HDR_LEN + n)) {
			DP_INC(dp->st.drop_tx_full);
			return;
		}
	} else {
		struct sockaddr_in *to = &w->kto[w->kn];

		to->sin_family = AF_INET;
		to->sin_port = htons(p->port);
		to->sin_addr.s_addr = p->underlay_ip;
		w->kiov[w->kn].iov_base = hdr;
		w->kiov[w->kn].iov_len = MAVPN_DATA_HDR_LEN + n;
		w->kmsg[w->kn].msg_hdr = (struct msghdr){
			.msg_name = to, .msg_namelen = sizeof(*to),
			.msg_iov = &w->kiov[w->kn], .msg_iovlen = 1,
		};
		if (++w->kn == DP_XSK_BATCH)
			kflush(w);
	}
	DP_INC(p->tx_packets);
	DP_ADD(p->tx_bytes, len);
	if (now - DP_LOAD(p->neigh_at_ms) > DP_NEIGH_REFRESH_MS)
		neigh_ask(w, p);
}

/* Send what @p holds, if it can be sent now. */
static void flush_peer(struct dp_worker *w, struct dp_peer *p, uint64_t now)
{
	struct dp_pkt *q;

	if (!__atomic_load_n(&p->pend_head, __ATOMIC_RELAXED) ||
	    !session_tx_live(tx_session(p, now), now) || !mac_known(p))
		return;
	pthread_mutex_lock(&p->pend_lock);
	while ((q = dp_pending_pop(p))) {
		if (now - q->at_ms > DP_PENDING_TTL_MS)
			DP_INC(p->drop_pending);
		else
			tx_sealed(w, p, tx_session(p, now), q->data, q->len,
				  now);
		free(q);
	}
	pthread_mutex_unlock(&p->pend_lock);
}

static void hold(struct dp_peer *p, const uint8_t *pkt, uint32_t len,
		 uint64_t now)
{
	int err;

	pthread_mutex_lock(&p->pend_lock);
	err = dp_pending_push(p, pkt, len, now);
	pthread_mutex_unlock(&p->pend_lock);
	if (err)
		DP_INC(p->drop_pending);
}

/* Is @dst a unicast address of the overlay prefix other than ours? */
static int overlay_unicast(const struct datapath *dp, uint32_t dst)
{
	uint32_t m = dp->net_mask;

	if ((dst & m) != (dp->cfg.overlay_ip & m) || dst == dp->cfg.overlay_ip)
		return 0;
	/* network and broadcast addresses, where they exist */
	if (dp->cfg.overlay_plen < 31 && ((dst & ~m) == 0 || (dst | m) == ~0u))
		return 0;
	return 1;
}

/*
 * An inner packet too large for one underlay frame, DF set: answer like a
 * router would, with ICMP "fragmentation needed" carrying the MTU we can
 * take, sent back into the host through the overlay veth. The source is
 * the packet's destination (the peer's overlay address): the host drops
 * ICMP claiming to come from one of its own addresses as martian. Only
 * seen when someone raised mavpn0's MTU above what datapath_start() set,
 * or for forwarded traffic; at most one per millisecond per worker.
 */
static void icmp_too_big(struct dp_worker *w, const struct dp_ip4 *in,
			 uint32_t ihl, uint32_t tot, uint64_t now)
{
	struct datapath *dp = w->dp;
	uint32_t quote = ihl + 8 < tot ? ihl + 8 : tot;
	uint32_t icmplen = 8 + quote;
	struct dp_eth *eth;
	struct dp_ip4 *ip;
	uint8_t *icmp, *f;
	uint64_t addr;

	if (w->icmp_ms == now || dp_xsk_frame_get(&w->ov, &addr))
		return;
	w->icmp_ms = now;
	f = dp_xsk_data(&w->ov, addr);
	eth = (struct dp_eth *)f;
	memcpy(eth->dst, dp->ov_mac, DP_ETH_ALEN);
	memcpy(eth->src, dp->far_mac, DP_ETH_ALEN);
	eth->proto = htons(DP_ETH_P_IP);
	ip = (struct dp_ip4 *)(eth + 1);
	*ip = (struct dp_ip4){
		.vihl = 0x45, .tos = 0xc0, .ttl = 64, .proto = IPPROTO_ICMP,
		.tot_len = htons(MAVPN_IP4_HLEN + icmplen),
		.saddr = in->daddr, .daddr = in->saddr,
	};
	ip->csum = ip_csum(ip, sizeof(*ip));
	icmp = (uint8_t *)(ip + 1);
	memset(icmp, 0, 8);
	icmp[0] = 3;			/* destination unreachable */
	icmp[1] = 4;			/* fragmentation needed, DF set */
	icmp[6] = dp->inner_max >> 8;	/* next-hop MTU */
	icmp[7] = dp->inner_max & 0xff;
	memcpy(icmp + 8, in, quote);
	if (quote & 1)
		icmp[8 + quote] = 0;	/* pad for the checksum */
	*(uint16_t *)(icmp + 2) = ip_csum(icmp, icmplen + (quote & 1));
	if (!dp_xsk_tx(&w->ov, addr, MAVPN_ETH_HLEN + MAVPN_IP4_HLEN +
		       icmplen))
		DP_INC(dp->st.icmp_too_big);
}

static void rx_overlay_frame(struct dp_worker *w, const uint8_t *f,
			     uint32_t len, uint64_t now)
{
	struct datapath *dp = w->dp;
	const struct dp_eth *eth = (const void *)f;
	const struct dp_ip4 *ip = (const void *)(f + MAVPN_ETH_HLEN);
	const struct dp_route *r;
	struct dp_peer *p;
	uint32_t tot, ihl, nh;

	DP_INC(dp->st.rx_frames_overlay);
	if (len < MAVPN_ETH_HLEN + MAVPN_IP4_HLEN ||
	    eth->proto != htons(DP_ETH_P_IP) || (ip->vihl >> 4) != 4) {
		DP_INC(dp->st.drop_malformed);
		return;
	}
	ihl = (ip->vihl & 0xf) * 4;
	tot = ntohs(ip->tot_len);
	if (ihl < MAVPN_IP4_HLEN || tot < ihl ||
	    tot > len - MAVPN_ETH_HLEN) {
		DP_INC(dp->st.drop_malformed);
		return;
	}
	if (tot > dp->inner_max) {
		DP_INC(dp->st.drop_too_big);
		if (ip->frag_off & htons(0x4000))
			icmp_too_big(w, ip, ihl, tot, now);
		return;
	}
	nh = ip->daddr;
	if (!overlay_unicast(dp, nh)) {
		/* A LAN behind a gateway goes to that gateway's key. */
		r = dp_route_lookup(dp->routes, dp->nroutes, nh);
		if (!r || r->local || !r->gw) {
			/* no key can exist for it: multicast, broadcast,
			 * off-prefix, gateway not known yet */
			DP_INC(dp->st.drop_no_key);
			return;
		}
		nh = r->gw;
	}

	p = dp_peer_find(&dp->peers, nh);
	if (!p) {
		/* First packet to a new destination: insert under wrlock. */
		pthread_rwlock_unlock(&dp->lock);
		pthread_rwlock_wrlock(&dp->lock);
		p = dp_peer_get(&dp->peers, nh);
		pthread_rwlock_unlock(&dp->lock);
		pthread_rwlock_rdlock(&dp->lock);
		/* unlocked for a moment: look it up again. By @nh, not the
		 * inner destination: behind a gateway they differ. */
		if (p)
			p = dp_peer_find(&dp->peers, nh);
		if (!p) {
			DP_INC(dp->st.drop_no_key);
			return;
		}
	}
	if (!session_tx_live(tx_session(p, now), now)) {
		hold(p, (const uint8_t *)ip, tot, now);
		request_key(dp, p, now);
		return;
	}
	if (!mac_known(p)) {
		hold(p, (const uint8_t *)ip, tot, now);
		neigh_ask(w, p);
		return;
	}
	flush_peer(w, p, now);		/* keep order behind held packets */
	tx_sealed(w, p, tx_session(p, now), (const uint8_t *)ip, tot, now);
}

/* --- underlay -> overlay ------------------------------------------------ */

/* Count a drop of @why on the peer when the session tells us which. */
static void count_drop(struct datapath *dp, enum dp_drop why,
		       struct dp_session *s)
{
	struct dp_peer *p = s ? s->peer : NULL;

	switch (why) {
	case DP_DROP_AUTH:
		DP_INC(p->drop_auth);
		break;
	case DP_DROP_REPLAY:
		DP_INC(p->drop_replay);
		break;
	case DP_DROP_UNKNOWN_KEY:
		DP_INC(dp->st.drop_unknown_key);
		break;
	case DP_DROP_EXPIRED_KEY:
		DP_INC(p->drop_expired);
		DP_INC(dp->st.drop_expired);
		break;
	default:
		/* authenticated but bad inside: the peer's fault */
		if (p)
			DP_INC(p->drop_malformed);
		DP_INC(dp->st.drop_malformed);
		break;
	}
}

/* One UDP payload from the underlay, from the XSK or the kernel socket. */
static void rx_payload(struct dp_worker *w, const uint8_t *pl, uint32_t len,
		       uint64_t now)
{
	struct datapath *dp = w->dp;
	struct dp_decap_ctx c = {
		.peers = &dp->peers,
		.self_ip = dp->cfg.overlay_ip,
		.routes = dp->routes,
		.nroutes = dp->nroutes,
		.worker = w->id,
		.now_ms = now,
	};
	struct dp_session *s;
	struct dp_eth *eth;
	enum dp_drop why;
	uint32_t n = 0;
	uint64_t addr;
	uint8_t *f;

	if (len > DP_XSK_FRAME_SIZE - MAVPN_ETH_HLEN) {
		DP_INC(dp->st.drop_malformed);
		return;
	}
	if (dp_xsk_frame_get(&w->ov, &addr)) {
		DP_INC(dp->st.drop_tx_full);
		return;
	}
	f = dp_xsk_data(&w->ov, addr);
	why = dp_decap(&c, pl, len, f + MAVPN_ETH_HLEN, &n, &s);
	if (why != DP_DROP_NONE) {
		dp_xsk_frame_put(&w->ov, addr);
		count_drop(dp, why, s);
		return;
	}
	eth = (struct dp_eth *)f;
	memcpy(eth->dst, dp->ov_mac, DP_ETH_ALEN);
	memcpy(eth->src, dp->far_mac, DP_ETH_ALEN);
	eth->proto = htons(DP_ETH_P_IP);
	if (dp_xsk_tx(&w->ov, addr, MAVPN_ETH_HLEN + n)) {
		DP_INC(dp->st.drop_tx_full);
		return;
	}
	DP_INC(s->peer->rx_packets);
	DP_ADD(s->peer->rx_bytes, n);
}

static void rx_underlay_frame(struct dp_worker *w, const uint8_t *f,
			      uint32_t len, uint64_t now)
{
	struct datapath *dp = w->dp;
	const uint8_t *pl;
	uint32_t pllen;

	DP_INC(dp->st.rx_frames_underlay);
	if (dp_decap_outer(f, len, &pl, &pllen) != DP_DROP_NONE) {
		DP_INC(dp->st.drop_malformed);
		return;
	}
	rx_payload(w, pl, pllen, now);
}

/* --- the worker --------------------------------------------------------- */

typedef void (*rx_fn)(struct dp_worker *w, const uint8_t *f, uint32_t len,
		      uint64_t now);

/* One batch from @x; returns how many frames it took. */
static unsigned int rx_batch(struct dp_worker *w, struct dp_xsk *x, rx_fn fn,
			     uint64_t now)
{
	struct datapath *dp = w->dp;
	uint32_t idx, n, i;

	n = xsk_ring_cons__peek(&x->rx, DP_XSK_BATCH, &idx);
	if (!n)
		return 0;
	pthread_rwlock_rdlock(&dp->lock);
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx,
								  idx + i);

		fn(w, dp_xsk_data(x, d->addr), d->len, now);
		dp_xsk_frame_put(x, d->addr);
	}
	pthread_rwlock_unlock(&dp->lock);
	xsk_ring_cons__release(&x->rx, n);
	return n;
}

/* Datagrams the kernel delivered to our UDP socket (see xdp_underlay). */
static unsigned int rx_udp(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	uint8_t buf[DP_XSK_FRAME_SIZE];
	unsigned int n = 0;

	while (n < DP_XSK_BATCH) {
		ssize_t len = recv(dp->udp_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (len < 0)
			break;
		n++;
		DP_INC(dp->st.rx_frames_underlay);
		pthread_rwlock_rdlock(&dp->lock);
		rx_payload(w, buf, len, now);
		pthread_rwlock_unlock(&dp->lock);
	}
	return n;
}

/* Worker 0, when woken: flush held packets, collect neighbour requests. */
static void flush_all(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	unsigned int h;
	struct dp_peer *p;

	pthread_rwlock_rdlock(&dp->lock);
	for (h = 0; h < (1u << DP_HASH_BITS); h++) {
		for (p = dp->peers.by_ip[h]; p; p = p->ip_next) {
			if (__atomic_exchange_n(&p->neigh_flag, 0,
						__ATOMIC_ACQ_REL))
				neigh_want(dp, p);
			if (!p->pend_head)
				continue;
			if (session_tx_live(tx_session(p, now), now) &&
			    !mac_known(p))
				neigh_want(dp, p);
			flush_peer(w, p, now);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
}

/* A neighbour entry changed: re-resolve every peer behind that next hop. */
static void neigh_event(void *arg, int ifindex, uint32_t ip)
{
	struct datapath *dp = arg;
	struct dp_peer *p;
	unsigned int h;

	if (ifindex != dp->ul_ifindex)
		return;
	for (h = 0; h < (1u << DP_HASH_BITS); h++)
		for (p = dp->peers.by_ip[h]; p; p = p->ip_next)
			if (p->underlay_ip && (p->nh_ip == ip || ip == 0))
				neigh_want(dp, p);
}

/*
 * Worker 0: drain neighbour events. This is what makes the outer MAC
 * follow the kernel's table at once (a peer's new MAC, announced by
 * gratuitous ARP, or an ARP reply we were waiting for with packets held)
 * rather than at the next periodic refresh.
 */
static void neigh_events(struct dp_worker *w)
{
	struct datapath *dp = w->dp;

	pthread_rwlock_rdlock(&dp->lock);
	if (dp_nl_neigh_events(&dp->nl_ev, neigh_event, dp) == -ENOBUFS)
		neigh_event(dp, dp->ul_ifindex, 0);	/* lost some: all */
	pthread_rwlock_unlock(&dp->lock);
}

static void neigh_step(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	int i, keep = 0;

	if (!dp->neigh_n)
		return;
	pthread_rwlock_rdlock(&dp->lock);
	for (i = 0; i < dp->neigh_n; i++) {
		struct dp_peer *p = dp->neigh_list[i];
		int had = mac_known(p);

		if (p->underlay_ip && neigh_resolve(dp, p, now) &&
		    (!had || p->neigh_at_ms == now)) {
			p->neigh_queued = 0;
			flush_peer(w, p, now);
			continue;
		}
		if (!p->neigh_wait_ms)
			p->neigh_wait_ms = now;
		if (now - p->neigh_wait_ms > DP_NEIGH_GIVEUP_MS) {
			/* unresolvable: stop holding, the next packet retries */
			uint32_t k;

			pthread_mutex_lock(&p->pend_lock);
			k = dp_pending_drop(p);
			pthread_mutex_unlock(&p->pend_lock);
			DP_ADD(p->drop_pending, k);
			p->neigh_wait_ms = 0;
			p->neigh_queued = 0;
			continue;
		}
		dp->neigh_list[keep++] = p;
	}
	dp->neigh_n = keep;
	pthread_rwlock_unlock(&dp->lock);
}

/*
 * The loop of every worker: sleep in poll() until a socket has frames,
 * then take a batch from each ring, kick TX once per batch (copy mode
 * needs a syscall per kick), and give rx frames back to the kernel.
 * While a ring yields full batches the worker polls without sleeping.
 * Worker 0 also drains the kernel UDP socket, resolves next hops and
 * flushes held packets when the control thread installs a key.
 */
static void *worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct datapath *dp = w->dp;
	struct pollfd pfd[5];
	int npfd = 0, i_ul = -1, i_udp = -1, i_ev = -1, i_wake, busy = 0;

	pfd[npfd++] = (struct pollfd){ .fd = w->ov.fd, .events = POLLIN };
	if (w->ul.fd >= 0) {
		i_ul = npfd;
		pfd[npfd++] = (struct pollfd){ .fd = w->ul.fd, .events = POLLIN };
	}
	if (!w->id) {
		i_udp = npfd;
		pfd[npfd++] = (struct pollfd){ .fd = dp->udp_fd, .events = POLLIN };
		i_ev = npfd;
		pfd[npfd++] = (struct pollfd){ .fd = dp->nl_ev.fd, .events = POLLIN };
	}
	i_wake = npfd;
	pfd[npfd++] = (struct pollfd){ .fd = w->wake_fd, .events = POLLIN };

	while (!__atomic_load_n(&dp->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now, v;
		int timeout = busy ? 0 : (!w->id && dp->neigh_n) ? 10 : 200;

		if (poll(pfd, npfd, timeout) < 0 && errno != EINTR)
			break;
		now = now_ms();
		if ((pfd[i_wake].revents & POLLIN) &&
		    read(w->wake_fd, &v, sizeof(v)) > 0 && !w->id)
			flush_all(w, now);
		busy = rx_batch(w, &w->ov, rx_overlay_frame, now) ==
		       DP_XSK_BATCH;
		if (i_ul >= 0)
			busy |= rx_batch(w, &w->ul, rx_underlay_frame, now) ==
				DP_XSK_BATCH;
		if (i_udp >= 0 && (pfd[i_udp].revents & POLLIN))
			busy |= rx_udp(w, now) == DP_XSK_BATCH;
		if (i_ev >= 0 && (pfd[i_ev].revents & POLLIN))
			neigh_events(w);
		if (!w->id)
			neigh_step(w, now);
		if (w->kn)
			kflush(w);
		if (i_ul >= 0)
			dp_xsk_kick(&w->ul);
		dp_xsk_kick(&w->ov);
		dp_xsk_refill(&w->ov);
		if (i_ul >= 0)
			dp_xsk_refill(&w->ul);
	}
	return NULL;
}

/* --- setup and teardown ------------------------------------------------- */

static int udp_open(uint16_t port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	int fd, err, one = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Like the AF_XDP path: no UDP checksum, the GCM tag covers it all. */
	setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static uint32_t if_ipv4(const char *ifname)
{
	struct ifreq ifr = { 0 };
	uint32_t ip = 0;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (!ioctl(fd, SIOCGIFADDR, &ifr))
		ip = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
	close(fd);
	return ip;
}

static int check_config(const struct dp_config *cfg)
{
	if (!cfg || !cfg->underlay_ifname || !cfg->overlay_ifname ||
	    !cfg->port || !cfg->overlay_ip || cfg->overlay_plen < 1 ||
	    cfg->overlay_plen > 30) {
		log_err("datapath: invalid configuration");
		return -EINVAL;
	}
	if (strlen(cfg->overlay_ifname) + 2 > IFNAMSIZ ||
	    strlen(cfg->underlay_ifname) + 1 > IFNAMSIZ) {
		log_err("datapath: interface name too long overlay=%s underlay=%s",
			cfg->overlay_ifname, cfg->underlay_ifname);
		return -EINVAL;
	}
	if (cfg->workers < 1 || cfg->workers > DP_WORKERS_MAX) {
		log_err("datapath: workers=%d out of range (1..%d)",
			cfg->workers, DP_WORKERS_MAX);
		return -EINVAL;
	}
	return 0;
}

/*
 * Size the overlay from the underlay: an inner packet plus our overhead
 * (outer IPv4, UDP, header, tag) must fit one underlay frame, and one umem
 * frame. mavpn0's MTU leaves another 20 bytes for a later IPv6 outer header
 * (1500 -> 1420, as WireGuard does), so the host stack never hands us a
 * packet we cannot carry: its own PMTU logic (EMSGSIZE locally, ICMP for
 * forwarded traffic, fragmentation without DF) works against that MTU.
 */
static int overlay_mtu(struct datapath *dp)
{
	unsigned int ul;
	int err;

	err = dp_if_mtu(dp->ul_name, &ul);
	if (err) {
		log_err("datapath: cannot read MTU iface=%s err=%s",
			dp->ul_name, strerror(-err));
		return err;
	}
	if (ul > DP_XSK_FRAME_SIZE - MAVPN_ETH_HLEN)
		ul = DP_XSK_FRAME_SIZE - MAVPN_ETH_HLEN;	/* jumbo */
	if (ul < 576) {
		log_err("datapath: underlay MTU too small iface=%s mtu=%u (need >= 576)",
			dp->ul_name, ul);
		return -EINVAL;
	}
	dp->ov_mtu = ul - (MAVPN_UNDERLAY_MTU - MAVPN_OVERLAY_MTU);
	dp->inner_max = dp->ov_mtu;
	return 0;
}

/* Create the overlay veth pair and bring it up; replaces a leftover. */
static int overlay_create(struct datapath *dp)
{
	struct dp_nl *nl = &dp->nl_ctl;
	const char *what;
	int err;

	what = "create veth";
	err = dp_nl_veth_create(nl, dp->ov_name, dp->far_name,
				dp->ov_mtu, dp->nworkers);
	if (err == -EEXIST) {
		/* a previous vpnd in this netns died without cleaning up */
		log_warn("datapath: replacing existing interface %s",
			 dp->ov_name);
		dp_nl_link_del(nl, dp->ov_name);
		err = dp_nl_veth_create(nl, dp->ov_name, dp->far_name,
					dp->ov_mtu, dp->nworkers);
	}
	if (err)
		goto fail;
	dp->veth_made = 1;
	dp->ov_ifindex = if_nametoindex(dp->ov_name);
	dp->far_ifindex = if_nametoindex(dp->far_name);
	what = "read veth";
	err = -ENODEV;
	if (!dp->ov_ifindex || !dp->far_ifindex)
		goto fail;
	err = dp_if_mac(dp->ov_name, dp->ov_mac);
	if (!err)
		err = dp_if_mac(dp->far_name, dp->far_mac);
	if (err)
		goto fail;
	what = "disable offloads";
	err = dp_if_disable_offloads(dp->ov_name);
	if (!err)
		err = dp_if_disable_offloads(dp->far_name);
	if (err)
		goto fail;
	/* Router solicitations etc. would only be counted and dropped. */
	dp_if_ipv6_sysctl(dp->ov_name, "disable_ipv6", "1");
	dp_if_ipv6_sysctl(dp->far_name, "disable_ipv6", "1");
	what = "bring up veth";
	err = dp_nl_link_up(nl, dp->far_ifindex, 1);
	if (!err)
		err = dp_nl_link_up(nl, dp->ov_ifindex, 1);
	if (err)
		goto fail;
	what = "add overlay address";
	err = dp_nl_addr_add(nl, dp->ov_ifindex, dp->cfg.overlay_ip,
			     dp->cfg.overlay_plen);
	if (err)
		goto fail;
	return 0;
fail:
	log_err("datapath: %s failed overlay=%s err=%s", what, dp->ov_name,
		strerror(-err));
	return err;
}

/* Stop every worker and free what workers_open() made; partial ok. */
static void workers_close(struct datapath *dp)
{
	int i;

	/* all stop before any socket goes: a worker may use any of them */
	__atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < dp->nworkers; i++)
		if (dp->w[i] && dp->w[i]->started)
			wake(dp->w[i]->wake_fd);
	for (i = 0; i < dp->nworkers; i++) {
		struct dp_worker *w = dp->w[i];

		if (!w)
			continue;
		if (w->started)
			pthread_join(w->thread, NULL);
		dp_xsk_close(&w->ul);
		dp_xsk_close(&w->ov);
		if (i && w->wake_fd >= 0)
			close(w->wake_fd);
		free(w);
		dp->w[i] = NULL;
	}
}

/*
 * Worker i: AF_XDP socket on overlay queue i (the veth has one queue per
 * worker) and on underlay queue i if the NIC has it; then the threads.
 */
static int workers_open(struct datapath *dp)
{
	struct dp_worker *w;
	int i, err;

	for (i = 0; i < dp->nworkers; i++) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		dp->w[i] = w;
		w->dp = dp;
		w->id = i;
		w->ov.fd = w->ul.fd = -1;
		w->wake_fd = i ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) :
				 dp->wake_fd;
		if (w->wake_fd < 0) {
			err = -errno;
			log_err("datapath: eventfd failed err=%s",
				strerror(-err));
			return err;
		}
		err = dp_xsk_open(&w->ov, dp->far_name, i,
				  dp_xdp_ov_xskmap(&dp->xdp));
		if (err) {
			log_err("datapath: AF_XDP socket failed iface=%s queue=%d err=%s",
				dp->far_name, i, strerror(-err));
			return err;
		}
		if (i >= dp->ul_queues)
			continue;
		err = dp_xsk_open(&w->ul, dp->ul_name, i,
				  dp_xdp_ul_xskmap(&dp->xdp));
		if (err) {
			log_err("datapath: AF_XDP socket failed iface=%s queue=%d err=%s",
				dp->ul_name, i, strerror(-err));
			return err;
		}
	}
	for (i = 0; i < dp->nworkers; i++) {
		w = dp->w[i];
		err = -pthread_create(&w->thread, NULL, worker_main, w);
		if (err) {
			log_err("datapath: worker thread failed err=%s",
				strerror(-err));
			return err;
		}
		w->started = 1;
	}
	return 0;
}

struct datapath *datapath_start(const struct dp_config *cfg)
{
	struct datapath *dp;
	int err;

	err = check_config(cfg);
	if (err)
		goto err_out;
	err = -ENOMEM;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		goto err_out;
	dp->cfg = *cfg;
	dp->udp_fd = dp->wake_fd = dp->req_fd = -1;
	dp->nl_ctl.fd = dp->nl_wrk.fd = dp->nl_ev.fd = -1;
	dp->nworkers = cfg->workers;
	strcpy(dp->ov_name, cfg->overlay_ifname);
	snprintf(dp->far_name, sizeof(dp->far_name), "%sx", cfg->overlay_ifname);
	strcpy(dp->ul_name, cfg->underlay_ifname);
	dp->cfg.overlay_ifname = dp->ov_name;
	dp->cfg.underlay_ifname = dp->ul_name;
	dp->net_mask = htonl(~0u << (32 - cfg->overlay_plen));
	dp->st.workers = cfg->workers;
	pthread_rwlock_init(&dp->lock, NULL);
	pthread_mutex_init(&dp->req_lock, NULL);

	dp->ul_ifindex = if_nametoindex(dp->ul_name);
	if (!dp->ul_ifindex) {
		err = -errno;
		log_err("datapath: no underlay interface iface=%s", dp->ul_name);
		goto err_free;
	}
	err = dp_if_mac(dp->ul_name, dp->ul_mac);
	if (err) {
		log_err("datapath: cannot read MAC iface=%s err=%s",
			dp->ul_name, strerror(-err));
		goto err_free;
	}
	dp->ul_ip = if_ipv4(dp->ul_name);
	err = overlay_mtu(dp);
	if (err)
		goto err_free;
	/* Workers beyond the NIC's queues send by sendmmsg (see dp_worker). */
	dp->ul_queues = dp_if_rx_queues(dp->ul_name);
	if (dp->ul_queues > dp->nworkers)
		dp->ul_queues = dp->nworkers;

	dp->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dp->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dp->wake_fd < 0 || dp->req_fd < 0) {
		err = -errno;
		log_err("datapath: eventfd failed err=%s", strerror(-err));
		goto err_fds;
	}
	err = dp_nl_open(&dp->nl_ctl);
	if (!err)
		err = dp_nl_open(&dp->nl_wrk);
	if (!err)
		err = dp_nl_open_events(&dp->nl_ev);
	if (err) {
		log_err("datapath: rtnetlink socket failed err=%s",
			strerror(-err));
		goto err_nl;
	}

	err = overlay_create(dp);
	if (err)
		goto err_veth;

	err = dp_xdp_attach_overlay(&dp->xdp, dp->far_ifindex);
	if (err) {
		log_err("datapath: XDP attach failed iface=%s err=%s",
			dp->far_name, strerror(-err));
		goto err_xdp;
	}
	err = dp_xdp_attach_underlay(&dp->xdp, dp->ul_ifindex, cfg->port,
				     dp->ul_ip);
	if (err) {
		log_err("datapath: XDP attach failed iface=%s err=%s",
			dp->ul_name, strerror(-err));
		goto err_xdp;
	}

	dp->udp_fd = udp_open(cfg->port);
	if (dp->udp_fd < 0) {
		err = dp->udp_fd;
		log_err("datapath: cannot bind UDP port=%u err=%s", cfg->port,
			strerror(-err));
		goto err_udp;
	}

	err = workers_open(dp);
	if (err)
		goto err_workers;
	log_info("datapath: up overlay=%s/%u far=%s underlay=%s port=%u workers=%d underlay_queues=%d xdp_overlay=%s xdp_underlay=%s",
		 dp->ov_name, cfg->overlay_plen, dp->far_name, dp->ul_name,
		 cfg->port, cfg->workers, dp->ul_queues,
		 dp_xdp_mode(&dp->xdp.ov_link),
		 dp_xdp_mode(&dp->xdp.ul_link));
	return dp;

err_workers:
	workers_close(dp);
	close(dp->udp_fd);
err_udp:
err_xdp:
	dp_xdp_detach(&dp->xdp);
err_veth:
	if (dp->veth_made)
		dp_nl_link_del(&dp->nl_ctl, dp->ov_name);
err_nl:
	dp_nl_close(&dp->nl_ev);
	dp_nl_close(&dp->nl_wrk);
	dp_nl_close(&dp->nl_ctl);
err_fds:
	if (dp->wake_fd >= 0)
		close(dp->wake_fd);
	if (dp->req_fd >= 0)
		close(dp->req_fd);
err_free:
	pthread_mutex_destroy(&dp->req_lock);
	pthread_rwlock_destroy(&dp->lock);
	free(dp);
err_out:
	errno = -err;
	return NULL;
}

void datapath_stop(struct datapath *dp)
{
	uint64_t c[MAVPN_XDP_UL_NR];

	if (!dp)
		return;
	workers_close(dp);
	if (!dp_xdp_ul_counters(&dp->xdp, c))
		log_info("datapath: xdp_underlay redirect=%llu pass_not_ipv4=%llu pass_not_udp=%llu pass_other_port=%llu pass_fragment=%llu pass_malformed=%llu",
			 (unsigned long long)c[MAVPN_XDP_UL_REDIRECT],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_NOT_IPV4],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_NOT_UDP],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_OTHER_PORT],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_FRAGMENT],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_MALFORMED]);
	close(dp->udp_fd);
	dp_xdp_detach(&dp->xdp);
	if (dp->veth_made)
		dp_nl_link_del(&dp->nl_ctl, dp->ov_name);
	dp_nl_close(&dp->nl_ev);
	dp_nl_close(&dp->nl_wrk);
	dp_nl_close(&dp->nl_ctl);
	close(dp->wake_fd);
	close(dp->req_fd);
	dp_peers_free(&dp->peers);	/* wipes every session's keys */
	pthread_mutex_destroy(&dp->req_lock);
	pthread_rwlock_destroy(&dp->lock);
	free(dp);
}

/* --- control-thread API ------------------------------------------------- */

int datapath_set_routes(struct datapath *dp, const struct dp_route *r, int n)
{
	if (!dp || n < 0 || n > DP_ROUTES_MAX || (n && !r))
		return -EINVAL;
	/* Workers read the table under the rdlock, once per batch. */
	pthread_rwlock_wrlock(&dp->lock);
	memcpy(dp->routes, r, (size_t)n * sizeof(*r));
	dp->nroutes = n;
	pthread_rwlock_unlock(&dp->lock);
	return 0;
}

int datapath_install_key(struct datapath *dp, const struct dp_key *k)
{
	struct dp_session *s;
	struct dp_peer *p;
	int err = 0;

	if (!dp || !k || !k->peer_overlay_ip || !k->peer_underlay_ip ||
	    !k->peer_port)
		return -EINVAL;
	s = dp_session_new(k, dp->cfg.workers, now_ms());
	if (!s)
		return -errno;

	pthread_rwlock_wrlock(&dp->lock);
	/*
	 * A key id names one secret: installing it again would restart its
	 * tx counter at 1 and reuse nonces. Renewal comes with a new id.
	 */
	if (dp_session_find(&dp->peers, k->key_id)) {
		err = -EEXIST;
		goto out;
	}
	p = dp_peer_get(&dp->peers, k->peer_overlay_ip);
	if (!p) {
		err = -errno;
		goto out;
	}
	snprintf(p->name, sizeof(p->name), "%s", k->peer_name);
	if (p->underlay_ip != k->peer_underlay_ip) {
		p->underlay_ip = k->peer_underlay_ip;
		DP_STORE(p->mac, 0);	/* a new next hop, maybe */
		p->neigh_at_ms = 0;
	}
	p->port = k->peer_port;
	/* A responder keeps sending under its live key until the initiator,
	 * which gets the new one a round trip later, uses it. The live key is
	 * the one we send with now: cur, or an earlier renewal still waiting
	 * in p->next that the peer already used (cur may have expired). */
	if (!k->initiator && session_tx_live(tx_session(p, now_ms()), now_ms()))
		dp_session_install_next(&dp->peers, p, s);
	else
		dp_session_install(&dp->peers, p, s);
	s = NULL;
	p->requested = 0;
out:
	pthread_rwlock_unlock(&dp->lock);
	if (s)
		dp_session_retire(&dp->peers, s);	/* not linked: frees */
	if (!err)
		wake(dp->wake_fd);	/* the worker flushes held packets */
	return err;
}

int datapath_remove_peer(struct datapath *dp, uint32_t overlay_ip)
{
	struct dp_peer *p;
	int had = 0;

	if (!dp)
		return -EINVAL;
	pthread_rwlock_wrlock(&dp->lock);
	p = dp_peer_find(&dp->peers, overlay_ip);
	if (p) {
		/* Workers are out (wrlock): the keys are wiped right here. */
		had = p->cur || p->prev || p->next;
		dp_session_retire(&dp->peers, p->next);
		dp_session_retire(&dp->peers, p->prev);
		dp_session_retire(&dp->peers, p->cur);
		p->next = p->prev = p->cur = NULL;
		DP_ADD(dp->st.drop_no_key, dp_pending_drop(p));
		/* new requests only after the retry interval */
		DP_STORE(p->requested, 1);
		DP_STORE(p->requested_ms, now_ms());
	}
	pthread_rwlock_unlock(&dp->lock);
	return had ? 0 : -ENOENT;
}

void datapath_key_refused(struct datapath *dp, uint32_t overlay_ip)
{
	struct dp_peer *p;

	if (!dp)
		return;
	pthread_rwlock_wrlock(&dp->lock);
	p = dp_peer_find(&dp->peers, overlay_ip);
	if (p) {
		DP_ADD(dp->st.drop_no_key, dp_pending_drop(p));
		/* ask again only after the retry interval, not per packet */
		p->requested = 1;
		p->requested_ms = now_ms();
	}
	pthread_rwlock_unlock(&dp->lock);
}

int datapath_request_fd(struct datapath *dp)
{
	return dp ? dp->req_fd : -EINVAL;
}

int datapath_next_request(struct datapath *dp, uint32_t *overlay_ip)
{
	uint64_t v;
	int got = 0;

	if (!dp || !overlay_ip)
		return -EINVAL;
	pthread_mutex_lock(&dp->req_lock);
	if (dp->req_len) {
		*overlay_ip = dp->req[dp->req_head];
		dp->req_head = (dp->req_head + 1) % DP_REQ_MAX;
		dp->req_len--;
		got = 1;
	}
	/* Drain the eventfd only when empty, so level-triggered polls work. */
	if (!dp->req_len && read(dp->req_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
	pthread_mutex_unlock(&dp->req_lock);
	return got;
}

int datapath_has_key(struct datapath *dp, uint32_t overlay_ip)
{
	struct dp_peer *p;
	int live = 0;

	if (!dp)
		return 0;
	pthread_rwlock_rdlock(&dp->lock);
	p = dp_peer_find(&dp->peers, overlay_ip);
	if (p)
		live = session_tx_live(tx_session(p, now_ms()), now_ms());
	pthread_rwlock_unlock(&dp->lock);
	return live;
}

int datapath_peer_stats(struct datapath *dp, struct dp_peer_stats *out,
			int max)
{
	struct dp_peer *p;
	unsigned int h;
	int n = 0;

	if (!dp || !out || max <= 0)
		return 0;
	pthread_rwlock_rdlock(&dp->lock);
	for (h = 0; h < (1u << DP_HASH_BITS) && n < max; h++) {
		for (p = dp->peers.by_ip[h]; p && n < max; p = p->ip_next) {
			struct dp_peer_stats *o;

			/* keyless destinations are not peers (yet) */
			if (!p->cur)
				continue;
			o = &out[n++];

			memset(o, 0, sizeof(*o));
			snprintf(o->name, sizeof(o->name), "%s", p->name);
			o->overlay_ip = p->overlay_ip;
			o->underlay_ip = p->underlay_ip;
			o->port = p->port;
			/* the key we send with */
			o->key_id = tx_session(p, now_ms())->key_id;
			o->tx_packets = DP_LOAD(p->tx_packets);
			o->tx_bytes = DP_LOAD(p->tx_bytes);
			o->rx_packets = DP_LOAD(p->rx_packets);
			o->rx_bytes = DP_LOAD(p->rx_bytes);
			o->drop_replay = DP_LOAD(p->drop_replay);
			o->drop_auth = DP_LOAD(p->drop_auth);
			o->drop_pending = DP_LOAD(p->drop_pending);
			o->drop_expired = DP_LOAD(p->drop_expired);
			o->drop_malformed = DP_LOAD(p->drop_malformed);
			o->pending = DP_LOAD(p->pending);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
	return n;
}

void datapath_stats(struct datapath *dp, struct dp_stats *out)
{
	struct dp_peer *p;
	unsigned int h;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!dp)
		return;
	out->workers = dp->st.workers;
	out->rx_frames_overlay = DP_LOAD(dp->st.rx_frames_overlay);
	out->rx_frames_underlay = DP_LOAD(dp->st.rx_frames_underlay);
	out->drop_malformed = DP_LOAD(dp->st.drop_malformed);
	out->drop_unknown_key = DP_LOAD(dp->st.drop_unknown_key);
	out->drop_no_key = DP_LOAD(dp->st.drop_no_key);
	out->drop_tx_full = DP_LOAD(dp->st.drop_tx_full);
	out->drop_expired = DP_LOAD(dp->st.drop_expired);
	out->drop_too_big = DP_LOAD(dp->st.drop_too_big);
	out->icmp_too_big = DP_LOAD(dp->st.icmp_too_big);
	/* per-peer reasons: summed here, not on the packet path */
	pthread_rwlock_rdlock(&dp->lock);
	for (h = 0; h < (1u << DP_HASH_BITS); h++) {
		for (p = dp->peers.by_ip[h]; p; p = p->ip_next) {
			out->drop_auth += DP_LOAD(p->drop_auth);
			out->drop_replay += DP_LOAD(p->drop_replay);
			out->drop_pending += DP_LOAD(p->drop_pending);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
}

/* getsockopt reads kernel counters: safe while the worker uses the rings. */
int datapath_ring_stats(struct datapath *dp,
			struct dp_ring_stats out[DP_RING_MAX])
{
	int k;
	struct xdp_statistics xs;
	socklen_t len;
	int i;

	memset(out, 0, sizeof(*out) * DP_RING_MAX);
	/* summed over the workers' sockets */
	for (k = 0; k < dp->nworkers; k++) {
		struct dp_xsk *x[DP_RING_MAX] = { &dp->w[k]->ov, &dp->w[k]->ul };

		for (i = 0; i < DP_RING_MAX; i++) {
			if (!x[i]->xsk)
				continue;
			memset(&xs, 0, sizeof(xs));
			len = sizeof(xs);
			if (getsockopt(xsk_socket__fd(x[i]->xsk), SOL_XDP,
				       XDP_STATISTICS, &xs, &len))
				return -errno;
			out[i].rx_dropped += xs.rx_dropped;
			out[i].rx_invalid_descs += xs.rx_invalid_descs;
			out[i].tx_invalid_descs += xs.tx_invalid_descs;
			out[i].rx_ring_full += xs.rx_ring_full;
			out[i].rx_fill_ring_empty_descs +=
				xs.rx_fill_ring_empty_descs;
			out[i].tx_ring_empty_descs += xs.tx_ring_empty_descs;
		}
	}
	return 0;
}
