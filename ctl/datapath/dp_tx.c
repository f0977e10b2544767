// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data plane: overlay -> underlay. A worker parses the inner IPv4 packet
 * from mavpn0x, finds the peer (or the gateway behind a route), holds the
 * packet while there is no key or no next-hop MAC, else seals it and sends
 * it on its underlay XSK or, without one, batched by sendmmsg().
 *
 * Nonces: a session's tx counter (one per directional key, shared by all
 * workers) is taken with an atomic fetch-add, so a counter is never used
 * twice under one key whichever worker sends; it starts at 1 and a session
 * whose counter reached DP_COUNTER_MAX counts as expired. Restarts and
 * renewals always bring a new key (docs/protocol.md, "Nonce").
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "mavpn/aead.h"
#include "mavpn/wire.h"
#include "dp_decap.h"
#include "dp_internal.h"

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

/*
 * The outer UDP source port: a hash of the inner flow (addresses,
 * protocol, ports; not the ports of fragments, so all fragments of one
 * packet agree) into DP_SPORT_SPAN ports from DP_SPORT_BASE, so that a
 * multi-queue NIC's RSS spreads flows over the receiver's queues while
 * one flow stays on one queue (in order). The receiver checks only the
 * destination port (docs/protocol.md, "Outer header").
 */
static uint16_t flow_sport(const uint8_t *pkt, uint32_t len)
{
	const struct dp_ip4 *ip = (const void *)pkt;
	uint32_t ihl = (ip->vihl & 0xf) * 4, h, ports = 0;

	if ((ip->proto == IPPROTO_TCP || ip->proto == IPPROTO_UDP) &&
	    !(ip->frag_off & htons(0x3fff)) && len >= ihl + 4)
		memcpy(&ports, pkt + ihl, 4);
	h = ip->saddr * 0x9e3779b1u ^ ip->daddr;
	h = (h ^ ports) * 0x85ebca6bu ^ ip->proto;
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	return DP_SPORT_BASE + h % DP_SPORT_SPAN;
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
		dp_wake(dp->req_fd);
}

/* --- overlay -> underlay ------------------------------------------------ */

/* Send the sealed datagrams a worker without an underlay queue batched. */
void dp_kflush(struct dp_worker *w)
{
	unsigned int done = 0;
	int n;

	while (done < w->kn) {
		n = sendmmsg(w->dp->udp_fd, w->kmsg + done, w->kn - done,
			     MSG_DONTWAIT);
		if (n <= 0) {
			DP_WADD(w->st.drop[DP_DROP_TX_FULL], w->kn - done);
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

	if (dp_probe_relayed(p)) {	/* no direct path: dp_probe.c */
		if (dp_probe_relay_tx(w, p, s, pkt, len)) {
			DP_WINC(p->wc[w->id].drop[DP_DROP_TX_FULL]);
			return;
		}
		DP_WINC(p->wc[w->id].cnt[DP_PEER_TX_PACKETS]);
		DP_WADD(p->wc[w->id].cnt[DP_PEER_TX_BYTES], len);
		return;
	}
	if (xsk) {
		if (dp_xsk_frame_get(&w->ul, &addr)) {
			DP_WINC(p->wc[w->id].drop[DP_DROP_TX_FULL]);
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
		udp->sport = htons(dp_probe_sport(dp, p, flow_sport(pkt, len)));
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
		DP_WINC(p->wc[w->id].drop[DP_DROP_MALFORMED]);
		return;
	}
	if (xsk) {
		if (dp_xsk_tx(&w->ul, addr, DP_OUTER_LEN +
			      MAVPN_DATA_HDR_LEN + n)) {
			DP_WINC(p->wc[w->id].drop[DP_DROP_TX_FULL]);
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
			dp_kflush(w);
	}
	DP_WINC(p->wc[w->id].cnt[DP_PEER_TX_PACKETS]);
	DP_WADD(p->wc[w->id].cnt[DP_PEER_TX_BYTES], len);
	if (now - DP_LOAD(p->neigh_at_ms) > DP_NEIGH_REFRESH_MS)
		dp_neigh_ask(w, p);
}

/* Send what @p holds, if it can be sent now. */
void dp_flush_peer(struct dp_worker *w, struct dp_peer *p, uint64_t now)
{
	struct dp_pkt *q;

	if (!__atomic_load_n(&p->pend_head, __ATOMIC_RELAXED) ||
	    !dp_session_tx_live(dp_tx_session(p, now), now) || !dp_mac_known(p))
		return;
	pthread_mutex_lock(&p->pend_lock);
	dp_pending_expire(&w->dp->peers, p, now);
	while ((q = dp_pending_pop(&w->dp->peers, p))) {
		tx_sealed(w, p, dp_tx_session(p, now), q->data, q->len, now);
		free(q);
	}
	pthread_mutex_unlock(&p->pend_lock);
}

static void hold(struct dp_worker *w, struct dp_peer *p, const uint8_t *pkt,
		 uint32_t len, uint64_t now)
{
	struct datapath *dp = w->dp;
	int err;

	pthread_mutex_lock(&p->pend_lock);
	err = dp_pending_push(&dp->peers, p, pkt, len, now);
	pthread_mutex_unlock(&p->pend_lock);
	if (err)
		DP_WINC(p->wc[w->id].drop[DP_DROP_PENDING]);
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
		DP_WINC(w->st.events[DP_EVENT_ICMP_TOO_BIG]);
}

void dp_rx_overlay_frame(struct dp_worker *w, const uint8_t *f,
			 uint32_t len, uint64_t now)
{
	struct datapath *dp = w->dp;
	const struct dp_eth *eth = (const void *)f;
	const struct dp_ip4 *ip = (const void *)(f + MAVPN_ETH_HLEN);
	const struct dp_route *r;
	struct dp_peer *p;
	uint32_t tot, ihl, nh;

	DP_WINC(w->st.frames[DP_FRAME_OVERLAY]);
	if (len < MAVPN_ETH_HLEN + MAVPN_IP4_HLEN ||
	    eth->proto != htons(DP_ETH_P_IP) || (ip->vihl >> 4) != 4) {
		DP_WINC(w->st.drop[DP_DROP_MALFORMED]);
		return;
	}
	ihl = (ip->vihl & 0xf) * 4;
	tot = ntohs(ip->tot_len);
	if (ihl < MAVPN_IP4_HLEN || tot < ihl ||
	    tot > len - MAVPN_ETH_HLEN) {
		DP_WINC(w->st.drop[DP_DROP_MALFORMED]);
		return;
	}
	if (tot > dp->inner_max) {
		DP_WINC(w->st.drop[DP_DROP_TOO_BIG]);
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
			DP_WINC(w->st.drop[DP_DROP_NO_KEY]);
			return;
		}
		nh = r->gw;
	}

	p = dp_peer_find(&dp->peers, nh);
	if (!p) {
		/* First packet to a new destination: insert under wrlock. */
		pthread_rwlock_unlock(&dp->lock);
		pthread_rwlock_wrlock(&dp->lock);
		p = dp_peer_get(&dp->peers, nh, now);
		pthread_rwlock_unlock(&dp->lock);
		pthread_rwlock_rdlock(&dp->lock);
		/* unlocked for a moment: look it up again. By @nh, not the
		 * inner destination: behind a gateway they differ. */
		if (p)
			p = dp_peer_find(&dp->peers, nh);
		if (!p) {
			DP_WINC(w->st.drop[DP_DROP_NO_KEY]);
			return;
		}
	}
	if (!dp_session_tx_live(dp_tx_session(p, now), now)) {
		hold(w, p, (const uint8_t *)ip, tot, now);
		request_key(dp, p, now);
		return;
	}
	if (!dp_mac_known(p)) {
		hold(w, p, (const uint8_t *)ip, tot, now);
		dp_neigh_ask(w, p);
		return;
	}
	dp_flush_peer(w, p, now);	/* keep order behind held packets */
	tx_sealed(w, p, dp_tx_session(p, now), (const uint8_t *)ip, tot, now);
}
