// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd's data plane (include/mavpn/datapath.h): overlay veth, XDP, AF_XDP
 * worker, key table.
 *
 *   host stack -> mavpn0 ==veth== mavpn0x [xdp_overlay -> XSK ov]
 *        worker: parse inner IPv4, find peer, seal, add Eth/IPv4/UDP
 *   [XSK ul] -> underlay NIC -> peer
 *   peer -> underlay NIC [xdp_underlay: UDP to our port -> XSK ul]
 *        worker: open, replay check, inner check, add Eth
 *   [XSK ov] -> mavpn0x ==veth== mavpn0 -> host stack
 *
 * Threads and locking. The control thread (vpnd's event loop) calls the
 * datapath_* functions; one worker thread owns both AF_XDP sockets, the
 * netlink socket for neighbour lookups and the pending queues' heads.
 * dp->lock is an rwlock: the worker holds it for reading once per batch,
 * the control thread takes it for writing to change the table's shape
 * (insert a peer, install or retire a session, drop held packets) and for
 * reading to answer queries. Since workers never run while a writer holds
 * the lock, a session can be freed (and its keys wiped) right when it is
 * retired: no RCU needed. The worker itself takes the write lock only to
 * insert a peer it has never seen.
 *
 * Nonces: each session's tx counter is taken with an atomic fetch-add, so
 * a counter is never used twice under one key even with several workers;
 * it starts at 1 and a session whose counter ran out counts as expired.
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
#include "dp_netlink.h"
#include "dp_peer.h"
#include "dp_xsk.h"

#define DP_REQ_MAX		1024	/* queued key requests */
#define DP_REQ_RETRY_MS		2000	/* re-ask if no key came by then */
#define DP_NEIGH_REFRESH_MS	5000	/* re-read the kernel's entry */
#define DP_NEIGH_GIVEUP_MS	3000	/* drop held packets after this */
#define DP_RX_GRACE_MS		30000	/* accept rx this long past expiry */
#define DP_COUNTER_MAX		(1ull << 60)	/* renew long before wrap */
/* Largest inner packet that fits one underlay frame. */
#define DP_INNER_MAX		(MAVPN_UNDERLAY_MTU - MAVPN_OVERHEAD)
#define DP_ETH_P_IP		0x0800

struct dp_eth {
	uint8_t dst[6], src[6];
	uint16_t proto;
} __attribute__((packed));

struct dp_ip4 {
	uint8_t vihl, tos;
	uint16_t tot_len, id, frag_off;
	uint8_t ttl, proto;
	uint16_t csum;
	uint32_t saddr, daddr;
} __attribute__((packed));

struct dp_udp {
	uint16_t sport, dport, len, csum;
} __attribute__((packed));

_Static_assert(sizeof(struct dp_eth) == MAVPN_ETH_HLEN, "eth");
_Static_assert(sizeof(struct dp_ip4) == MAVPN_IP4_HLEN, "ip4");
_Static_assert(sizeof(struct dp_udp) == MAVPN_UDP_HLEN, "udp");

#define DP_OUTER_LEN	(MAVPN_ETH_HLEN + MAVPN_IP4_HLEN + MAVPN_UDP_HLEN)

struct datapath {
	struct dp_config cfg;
	char ov_name[IFNAMSIZ], far_name[IFNAMSIZ], ul_name[IFNAMSIZ];
	uint32_t net_mask;		/* overlay prefix mask, network order */
	int ul_ifindex, ov_ifindex, far_ifindex;
	uint8_t ul_mac[DP_ETH_ALEN], ov_mac[DP_ETH_ALEN], far_mac[DP_ETH_ALEN];
	uint32_t ul_ip;			/* fallback source address */

	struct dp_nl nl_ctl;		/* control thread: links, addresses */
	struct dp_nl nl_wrk;		/* worker: routes, neighbours */
	struct dp_xdp xdp;
	struct dp_xsk xsk_ov, xsk_ul;
	int udp_fd;			/* kernel path for the same port */
	int wake_fd;			/* control -> worker */
	int req_fd;			/* worker -> control */
	int veth_made;

	pthread_rwlock_t lock;
	struct dp_peers peers;

	pthread_mutex_t req_lock;
	uint32_t req[DP_REQ_MAX];
	unsigned int req_head, req_len;

	/* worker-only */
	struct dp_peer *neigh_list[DP_MAX_PEERS];
	int neigh_n;

	pthread_t thread;
	int thread_started;
	int stop;			/* atomic */
	struct dp_stats st;		/* atomic counters */
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
	       DP_LOAD(s->tx_next) < DP_COUNTER_MAX;
}

static int session_rx_live(const struct dp_session *s, uint64_t now)
{
	return s && (!s->expires_ms || now < s->expires_ms + DP_RX_GRACE_MS);
}

static void wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* counter saturated: the reader is awake anyway */
	}
}

/* --- key requests (worker -> control) ---------------------------------- */

static void request_key(struct datapath *dp, struct dp_peer *p, uint64_t now)
{
	if (p->requested && now - p->requested_ms < DP_REQ_RETRY_MS)
		return;
	pthread_mutex_lock(&dp->req_lock);
	if (dp->req_len < DP_REQ_MAX) {
		dp->req[(dp->req_head + dp->req_len++) % DP_REQ_MAX] =
			p->overlay_ip;
		p->requested = 1;
		p->requested_ms = now;
	}
	pthread_mutex_unlock(&dp->req_lock);
	wake(dp->req_fd);
}

/* --- neighbour resolution (worker) ------------------------------------- */

static void neigh_want(struct datapath *dp, struct dp_peer *p)
{
	if (p->neigh_queued || dp->neigh_n >= DP_MAX_PEERS)
		return;
	p->neigh_queued = 1;
	dp->neigh_list[dp->neigh_n++] = p;
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
		return p->mac_ok;
	}
	p->src_ip = src ? src : dp->ul_ip;
	err = dp_nl_neigh_get(&dp->nl_wrk, oif, nh, mac, &st);
	if (err)
		return p->mac_ok;
	if (st != DP_NEIGH_NONE) {
		memcpy(p->mac, mac, DP_ETH_ALEN);
		p->mac_ok = 1;
		p->neigh_at_ms = now;
		p->neigh_wait_ms = 0;
	}
	if (st != DP_NEIGH_VALID)
		dp_nl_neigh_use(&dp->nl_wrk, oif, nh);
	return p->mac_ok;
}

/* --- overlay -> underlay ------------------------------------------------ */

/* Seal one inner packet for @p and queue it on the underlay socket. */
static void tx_sealed(struct datapath *dp, struct dp_peer *p,
		      struct dp_session *s, const uint8_t *pkt, uint32_t len,
		      uint64_t now)
{
	uint8_t nonce[MAVPN_NONCE_LEN];
	struct dp_eth *eth;
	struct dp_ip4 *ip;
	struct dp_udp *udp;
	uint8_t *f, *hdr;
	uint64_t addr, ctr;
	uint32_t udplen = MAVPN_UDP_HLEN + MAVPN_DATA_HDR_LEN + len +
			  MAVPN_TAG_LEN;
	int n;

	if (dp_xsk_frame_get(&dp->xsk_ul, &addr)) {
		DP_INC(dp->st.drop_tx_full);
		return;
	}
	f = dp_xsk_data(&dp->xsk_ul, addr);
	ctr = __atomic_fetch_add(&s->tx_next, 1, __ATOMIC_RELAXED);

	eth = (struct dp_eth *)f;
	memcpy(eth->dst, p->mac, DP_ETH_ALEN);
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
	ip->saddr = p->src_ip;
	ip->daddr = p->underlay_ip;
	ip->csum = ip_csum(ip, sizeof(*ip));

	udp = (struct dp_udp *)(ip + 1);
	udp->sport = htons(dp->cfg.port);
	udp->dport = htons(p->port);
	udp->len = htons(udplen);
	/* IPv4 allows no UDP checksum; the GCM tag covers the payload. */
	udp->csum = 0;

	hdr = (uint8_t *)(udp + 1);
	wire_hdr_encode(hdr, s->key_id, ctr);
	wire_nonce(nonce, ctr);
	n = aead_seal(s->tx[0], nonce, hdr, MAVPN_DATA_HDR_LEN, pkt, len,
		      hdr + MAVPN_DATA_HDR_LEN);
	if (n < 0) {
		dp_xsk_frame_put(&dp->xsk_ul, addr);
		DP_INC(dp->st.drop_malformed);
		return;
	}
	if (dp_xsk_tx(&dp->xsk_ul, addr, DP_OUTER_LEN + MAVPN_DATA_HDR_LEN +
		      n)) {
		DP_INC(dp->st.drop_tx_full);
		return;
	}
	DP_INC(p->tx_packets);
	DP_ADD(p->tx_bytes, len);
	if (now - p->neigh_at_ms > DP_NEIGH_REFRESH_MS)
		neigh_want(dp, p);
}

/* Send what @p holds, if it can be sent now. */
static void flush_peer(struct datapath *dp, struct dp_peer *p, uint64_t now)
{
	struct dp_pkt *q;

	if (!p->pend_head || !session_tx_live(p->cur, now) || !p->mac_ok)
		return;
	while ((q = dp_pending_pop(p))) {
		if (now - q->at_ms > DP_PENDING_TTL_MS)
			DP_INC(p->drop_pending);
		else
			tx_sealed(dp, p, p->cur, q->data, q->len, now);
		free(q);
	}
}

static void hold(struct datapath *dp, struct dp_peer *p, const uint8_t *pkt,
		 uint32_t len, uint64_t now)
{
	(void)dp;
	if (dp_pending_push(p, pkt, len, now))
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

static void rx_overlay_frame(struct datapath *dp, const uint8_t *f,
			     uint32_t len, uint64_t now)
{
	const struct dp_eth *eth = (const void *)f;
	const struct dp_ip4 *ip = (const void *)(f + MAVPN_ETH_HLEN);
	struct dp_peer *p;
	uint32_t tot, ihl;

	DP_INC(dp->st.rx_frames_overlay);
	if (len < MAVPN_ETH_HLEN + MAVPN_IP4_HLEN ||
	    eth->proto != htons(DP_ETH_P_IP) || (ip->vihl >> 4) != 4) {
		DP_INC(dp->st.drop_malformed);
		return;
	}
	ihl = (ip->vihl & 0xf) * 4;
	tot = ntohs(ip->tot_len);
	if (ihl < MAVPN_IP4_HLEN || tot < ihl ||
	    tot > len - MAVPN_ETH_HLEN || tot > DP_INNER_MAX) {
		DP_INC(dp->st.drop_malformed);
		return;
	}
	if (!overlay_unicast(dp, ip->daddr)) {
		/* no key can exist for it: multicast, broadcast, off-prefix */
		DP_INC(dp->st.drop_no_key);
		return;
	}

	p = dp_peer_find(&dp->peers, ip->daddr);
	if (!p) {
		/* First packet to a new destination: insert under wrlock. */
		pthread_rwlock_unlock(&dp->lock);
		pthread_rwlock_wrlock(&dp->lock);
		p = dp_peer_get(&dp->peers, ip->daddr);
		pthread_rwlock_unlock(&dp->lock);
		pthread_rwlock_rdlock(&dp->lock);
		if (!p) {
			DP_INC(dp->st.drop_no_key);
			return;
		}
	}
	if (!session_tx_live(p->cur, now)) {
		hold(dp, p, (const uint8_t *)ip, tot, now);
		request_key(dp, p, now);
		return;
	}
	if (!p->mac_ok) {
		hold(dp, p, (const uint8_t *)ip, tot, now);
		neigh_want(dp, p);
		return;
	}
	flush_peer(dp, p, now);		/* keep order behind held packets */
	tx_sealed(dp, p, p->cur, (const uint8_t *)ip, tot, now);
}

/* --- underlay -> overlay ------------------------------------------------ */

/* One UDP payload from the underlay, from the XSK or the kernel socket. */
static void rx_payload(struct datapath *dp, const uint8_t *pl, uint32_t len,
		       uint64_t now)
{
	uint8_t nonce[MAVPN_NONCE_LEN];
	const struct dp_ip4 *ip;
	struct dp_session *s;
	struct dp_eth *eth;
	struct wire_hdr h;
	struct dp_peer *p;
	uint64_t addr;
	uint8_t *f;
	int n;

	if (wire_hdr_decode(pl, len, &h)) {
		DP_INC(dp->st.drop_malformed);
		return;
	}
	s = dp_session_find(&dp->peers, h.key_id);
	if (!s || !session_rx_live(s, now)) {
		DP_INC(dp->st.drop_unknown_key);
		return;
	}
	p = s->peer;
	if (dp_xsk_frame_get(&dp->xsk_ov, &addr)) {
		DP_INC(dp->st.drop_tx_full);
		return;
	}
	f = dp_xsk_data(&dp->xsk_ov, addr);
	wire_nonce(nonce, h.counter);
	n = aead_open(s->rx[0], nonce, pl, MAVPN_DATA_HDR_LEN,
		      pl + MAVPN_DATA_HDR_LEN, len - MAVPN_DATA_HDR_LEN,
		      f + MAVPN_ETH_HLEN);
	if (n < 0) {
		dp_xsk_frame_put(&dp->xsk_ov, addr);
		if (n == -EBADMSG)
			DP_INC(p->drop_auth);
		else
			DP_INC(dp->st.drop_malformed);
		return;
	}
	/* Only now, authenticated, may the counter move the window. */
	if (!replay_accept(&s->replay, h.counter)) {
		dp_xsk_frame_put(&dp->xsk_ov, addr);
		DP_INC(p->drop_replay);
		return;
	}
	/* The peer may only speak for its own overlay address, to us. */
	ip = (const void *)(f + MAVPN_ETH_HLEN);
	if (n < MAVPN_IP4_HLEN || (ip->vihl >> 4) != 4 ||
	    (ip->vihl & 0xf) < 5 || ntohs(ip->tot_len) > n ||
	    ntohs(ip->tot_len) < (ip->vihl & 0xf) * 4 ||
	    ip->saddr != p->overlay_ip || ip->daddr != dp->cfg.overlay_ip) {
		dp_xsk_frame_put(&dp->xsk_ov, addr);
		DP_INC(dp->st.drop_malformed);
		return;
	}
	n = ntohs(ip->tot_len);
	eth = (struct dp_eth *)f;
	memcpy(eth->dst, dp->ov_mac, DP_ETH_ALEN);
	memcpy(eth->src, dp->far_mac, DP_ETH_ALEN);
	eth->proto = htons(DP_ETH_P_IP);
	if (dp_xsk_tx(&dp->xsk_ov, addr, MAVPN_ETH_HLEN + n)) {
		DP_INC(dp->st.drop_tx_full);
		return;
	}
	DP_INC(p->rx_packets);
	DP_ADD(p->rx_bytes, n);
}

static void rx_underlay_frame(struct datapath *dp, const uint8_t *f,
			      uint32_t len, uint64_t now)
{
	const struct dp_ip4 *ip = (const void *)(f + MAVPN_ETH_HLEN);
	const struct dp_udp *udp;
	uint32_t ihl, tot, ulen;

	DP_INC(dp->st.rx_frames_underlay);
	/* xdp_underlay checked the basics; the worker trusts no one. */
	if (len < MAVPN_ETH_HLEN + MAVPN_IP4_HLEN)
		goto bad;
	ihl = (ip->vihl & 0xf) * 4;
	tot = ntohs(ip->tot_len);
	if ((ip->vihl >> 4) != 4 || ihl < MAVPN_IP4_HLEN ||
	    ip->proto != IPPROTO_UDP || tot > len - MAVPN_ETH_HLEN ||
	    tot < ihl + MAVPN_UDP_HLEN)
		goto bad;
	udp = (const void *)((const uint8_t *)ip + ihl);
	ulen = ntohs(udp->len);
	if (ulen < MAVPN_UDP_HLEN || ulen > tot - ihl)
		goto bad;
	rx_payload(dp, (const uint8_t *)(udp + 1), ulen - MAVPN_UDP_HLEN, now);
	return;
bad:
	DP_INC(dp->st.drop_malformed);
}

/* --- the worker --------------------------------------------------------- */

typedef void (*rx_fn)(struct datapath *dp, const uint8_t *f, uint32_t len,
		      uint64_t now);

/* One batch from @x; returns how many frames it took. */
static unsigned int rx_batch(struct datapath *dp, struct dp_xsk *x, rx_fn fn,
			     uint64_t now)
{
	uint32_t idx, n, i;

	n = xsk_ring_cons__peek(&x->rx, DP_XSK_BATCH, &idx);
	if (!n)
		return 0;
	pthread_rwlock_rdlock(&dp->lock);
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx,
								  idx + i);

		fn(dp, dp_xsk_data(x, d->addr), d->len, now);
		dp_xsk_frame_put(x, d->addr);
	}
	pthread_rwlock_unlock(&dp->lock);
	xsk_ring_cons__release(&x->rx, n);
	return n;
}

/* Datagrams the kernel delivered to our UDP socket (see xdp_underlay). */
static unsigned int rx_udp(struct datapath *dp, uint64_t now)
{
	uint8_t buf[DP_XSK_FRAME_SIZE];
	unsigned int n = 0;

	while (n < DP_XSK_BATCH) {
		ssize_t len = recv(dp->udp_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (len < 0)
			break;
		n++;
		DP_INC(dp->st.rx_frames_underlay);
		pthread_rwlock_rdlock(&dp->lock);
		rx_payload(dp, buf, len, now);
		pthread_rwlock_unlock(&dp->lock);
	}
	return n;
}

static void flush_all(struct datapath *dp, uint64_t now)
{
	unsigned int h;
	struct dp_peer *p;

	pthread_rwlock_rdlock(&dp->lock);
	for (h = 0; h < (1u << DP_HASH_BITS); h++) {
		for (p = dp->peers.by_ip[h]; p; p = p->ip_next) {
			if (!p->pend_head)
				continue;
			if (session_tx_live(p->cur, now) && !p->mac_ok)
				neigh_want(dp, p);
			flush_peer(dp, p, now);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
}

static void neigh_step(struct datapath *dp, uint64_t now)
{
	int i, keep = 0;

	if (!dp->neigh_n)
		return;
	pthread_rwlock_rdlock(&dp->lock);
	for (i = 0; i < dp->neigh_n; i++) {
		struct dp_peer *p = dp->neigh_list[i];
		int had = p->mac_ok;

		if (p->underlay_ip && neigh_resolve(dp, p, now) &&
		    (!had || p->neigh_at_ms == now)) {
			p->neigh_queued = 0;
			flush_peer(dp, p, now);
			continue;
		}
		if (!p->neigh_wait_ms)
			p->neigh_wait_ms = now;
		if (now - p->neigh_wait_ms > DP_NEIGH_GIVEUP_MS) {
			/* unresolvable: stop holding, the next packet retries */
			uint32_t k = dp_pending_drop(p);

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

static void *worker_main(void *arg)
{
	struct datapath *dp = arg;
	struct pollfd pfd[4] = {
		{ .fd = dp->xsk_ov.fd, .events = POLLIN },
		{ .fd = dp->xsk_ul.fd, .events = POLLIN },
		{ .fd = dp->udp_fd, .events = POLLIN },
		{ .fd = dp->wake_fd, .events = POLLIN },
	};
	int busy = 0;

	while (!__atomic_load_n(&dp->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now, v;
		int timeout = busy ? 0 : dp->neigh_n ? 10 : 200;

		if (poll(pfd, 4, timeout) < 0 && errno != EINTR)
			break;
		now = now_ms();
		if (pfd[3].revents & POLLIN) {
			if (read(dp->wake_fd, &v, sizeof(v)) > 0)
				flush_all(dp, now);
		}
		busy = rx_batch(dp, &dp->xsk_ov, rx_overlay_frame, now) ==
		       DP_XSK_BATCH;
		busy |= rx_batch(dp, &dp->xsk_ul, rx_underlay_frame, now) ==
			DP_XSK_BATCH;
		if (pfd[2].revents & POLLIN)
			busy |= rx_udp(dp, now) == DP_XSK_BATCH;
		neigh_step(dp, now);
		dp_xsk_kick(&dp->xsk_ul);
		dp_xsk_kick(&dp->xsk_ov);
		dp_xsk_refill(&dp->xsk_ov);
		dp_xsk_refill(&dp->xsk_ul);
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
	int fd, err;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
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
	if (cfg->workers != 1) {
		/*
		 * One XSK pair per queue and one queue per veth today; more
		 * workers need multi-queue veth and RSS on the underlay.
		 */
		log_err("datapath: workers=%d not supported (this build runs exactly 1 worker)",
			cfg->workers);
		return -EINVAL;
	}
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
				MAVPN_OVERLAY_MTU);
	if (err == -EEXIST) {
		/* a previous vpnd in this netns died without cleaning up */
		log_warn("datapath: replacing existing interface %s",
			 dp->ov_name);
		dp_nl_link_del(nl, dp->ov_name);
		err = dp_nl_veth_create(nl, dp->ov_name, dp->far_name,
					MAVPN_OVERLAY_MTU);
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
	dp->nl_ctl.fd = dp->nl_wrk.fd = -1;
	dp->xsk_ov.fd = dp->xsk_ul.fd = -1;
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
	err = dp_xdp_attach_underlay(&dp->xdp, dp->ul_ifindex, cfg->port);
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

	err = dp_xsk_open(&dp->xsk_ov, dp->far_name, 0,
			  dp_xdp_ov_xskmap(&dp->xdp));
	if (err) {
		log_err("datapath: AF_XDP socket failed iface=%s err=%s",
			dp->far_name, strerror(-err));
		goto err_xsk_ov;
	}
	err = dp_xsk_open(&dp->xsk_ul, dp->ul_name, 0,
			  dp_xdp_ul_xskmap(&dp->xdp));
	if (err) {
		log_err("datapath: AF_XDP socket failed iface=%s err=%s",
			dp->ul_name, strerror(-err));
		goto err_xsk_ul;
	}

	err = -pthread_create(&dp->thread, NULL, worker_main, dp);
	if (err) {
		log_err("datapath: worker thread failed err=%s",
			strerror(-err));
		goto err_thread;
	}
	dp->thread_started = 1;
	log_info("datapath: up overlay=%s/%u far=%s underlay=%s port=%u workers=%d xdp_overlay=%s xdp_underlay=%s",
		 dp->ov_name, cfg->overlay_plen, dp->far_name, dp->ul_name,
		 cfg->port, cfg->workers, dp_xdp_mode(&dp->xdp.ov_link),
		 dp_xdp_mode(&dp->xdp.ul_link));
	return dp;

err_thread:
	dp_xsk_close(&dp->xsk_ul);
err_xsk_ul:
	dp_xsk_close(&dp->xsk_ov);
err_xsk_ov:
	close(dp->udp_fd);
err_udp:
err_xdp:
	dp_xdp_detach(&dp->xdp);
err_veth:
	if (dp->veth_made)
		dp_nl_link_del(&dp->nl_ctl, dp->ov_name);
err_nl:
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
	if (dp->thread_started) {
		__atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
		wake(dp->wake_fd);
		pthread_join(dp->thread, NULL);
	}
	if (!dp_xdp_ul_counters(&dp->xdp, c))
		log_info("datapath: xdp_underlay redirect=%llu pass_not_ipv4=%llu pass_not_udp=%llu pass_other_port=%llu pass_fragment=%llu pass_malformed=%llu",
			 (unsigned long long)c[MAVPN_XDP_UL_REDIRECT],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_NOT_IPV4],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_NOT_UDP],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_OTHER_PORT],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_FRAGMENT],
			 (unsigned long long)c[MAVPN_XDP_UL_PASS_MALFORMED]);
	dp_xsk_close(&dp->xsk_ul);
	dp_xsk_close(&dp->xsk_ov);
	close(dp->udp_fd);
	dp_xdp_detach(&dp->xdp);
	if (dp->veth_made)
		dp_nl_link_del(&dp->nl_ctl, dp->ov_name);
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
		p->mac_ok = 0;		/* a new next hop, maybe */
		p->neigh_at_ms = 0;
	}
	p->port = k->peer_port;
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
		live = session_tx_live(p->cur, now_ms());
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
			o->key_id = p->cur ? p->cur->key_id : 0;
			o->tx_packets = DP_LOAD(p->tx_packets);
			o->tx_bytes = DP_LOAD(p->tx_bytes);
			o->rx_packets = DP_LOAD(p->rx_packets);
			o->rx_bytes = DP_LOAD(p->rx_bytes);
			o->drop_replay = DP_LOAD(p->drop_replay);
			o->drop_auth = DP_LOAD(p->drop_auth);
			o->drop_pending = DP_LOAD(p->drop_pending);
			o->pending = DP_LOAD(p->pending);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
	return n;
}

void datapath_stats(struct datapath *dp, struct dp_stats *out)
{
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
}
