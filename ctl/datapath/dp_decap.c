// SPDX-License-Identifier: GPL-2.0-only
/*
 * Underlay -> overlay decapsulation (see dp_decap.h). Order of the checks:
 * cheap structure first, then the key id, then authentication, and only
 * an authenticated counter may move the replay window: a forged datagram
 * must not be able to push the window forward and make real traffic look
 * old.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>

#include "mavpn/aead.h"
#include "mavpn/prefix.h"
#include "mavpn/wire.h"
#include "dp_decap.h"

/* Can @s still receive at @now? */
static int dp_session_rx_live(const struct dp_session *s, uint64_t now)
{
	return s && (!s->expires_ms || now < s->expires_ms + DP_RX_GRACE_MS);
}

enum dp_drop dp_decap_outer(const uint8_t *f, uint32_t len,
			    const uint8_t **pl, uint32_t *pllen)
{
	const struct dp_ip4 *ip = (const void *)(f + MAVPN_ETH_HLEN);
	const struct dp_udp *udp;
	uint32_t ihl, tot, ulen;

	/* xdp_underlay checked the basics; the worker trusts no one. */
	if (len < MAVPN_ETH_HLEN + MAVPN_IP4_HLEN)
		return DP_DROP_MALFORMED;
	ihl = (ip->vihl & 0xf) * 4;
	tot = ntohs(ip->tot_len);
	if ((ip->vihl >> 4) != 4 || ihl < MAVPN_IP4_HLEN ||
	    ip->proto != IPPROTO_UDP || tot > len - MAVPN_ETH_HLEN ||
	    tot < ihl + MAVPN_UDP_HLEN)
		return DP_DROP_MALFORMED;
	udp = (const void *)((const uint8_t *)ip + ihl);
	ulen = ntohs(udp->len);
	if (ulen < MAVPN_UDP_HLEN || ulen > tot - ihl)
		return DP_DROP_MALFORMED;
	*pl = (const uint8_t *)(udp + 1);
	*pllen = ulen - MAVPN_UDP_HLEN;
	return DP_DROP_NONE;
}

const struct dp_route *dp_route_lookup(const struct dp_route *r, int n,
				       uint32_t ip)
{
	const struct dp_route *best = NULL;
	int i;

	for (i = 0; i < n; i++)
		if (prefix_contains4(&r[i].prefix, ip) &&
		    (!best || r[i].prefix.plen > best->prefix.plen))
			best = &r[i];
	return best;
}

/*
 * The peer may only speak for its own overlay address, or for the LAN it
 * is the gateway of, and only to us, or to the LAN we are the gateway of.
 * An overlay address is never a LAN address: a gateway route that covers
 * the overlay (0.0.0.0/0 of a full-tunnel gateway) does not let it speak
 * for another host.
 */
static int inner_ok(const struct dp_decap_ctx *c, const struct dp_peer *p,
		    const uint8_t *pkt, uint32_t n)
{
	const struct dp_ip4 *ip = (const void *)pkt;
	const struct dp_route *rs, *rd;
	uint32_t ihl, tot;

	if (n < MAVPN_IP4_HLEN || (ip->vihl >> 4) != 4)
		return 0;
	ihl = (ip->vihl & 0xf) * 4;
	tot = ntohs(ip->tot_len);
	if (ihl < MAVPN_IP4_HLEN || tot < ihl || tot > n)
		return 0;
	if (c->overlay_plen && ip->saddr != p->overlay_ip &&
	    !((ip->saddr ^ c->self_ip) & prefix_mask4(c->overlay_plen)))
		return 0;
	rs = ip->saddr == p->overlay_ip ? NULL :
	     dp_route_lookup(c->routes, c->nroutes, ip->saddr);
	rd = ip->daddr == c->self_ip ? NULL :
	     dp_route_lookup(c->routes, c->nroutes, ip->daddr);
	return (ip->saddr == p->overlay_ip ||
		(rs && !rs->local && rs->gw == p->overlay_ip)) &&
	       (ip->daddr == c->self_ip || (rd && rd->local));
}

enum dp_drop dp_decap(const struct dp_decap_ctx *c, const uint8_t *pl,
		      uint32_t len, uint8_t *out, uint32_t *inner_len,
		      struct dp_session **sp)
{
	uint8_t nonce[MAVPN_NONCE_LEN];
	struct dp_session *s;
	struct wire_hdr h;
	int n, fresh;

	*sp = NULL;
	if (wire_hdr_decode(pl, len, &h))
		return DP_DROP_MALFORMED;
	s = dp_session_find(c->peers, h.key_id);
	if (!s)
		return DP_DROP_UNKNOWN_KEY;
	*sp = s;
	if (!dp_session_rx_live(s, c->now_ms))
		return DP_DROP_EXPIRED_KEY;
	wire_nonce(nonce, h.counter);
	n = aead_open(s->rx[c->worker], nonce, pl, MAVPN_DATA_HDR_LEN,
		      pl + MAVPN_DATA_HDR_LEN, len - MAVPN_DATA_HDR_LEN, out);
	if (n == -EBADMSG)
		return DP_DROP_AUTH;
	if (n < 0)
		return DP_DROP_MALFORMED;
	/*
	 * Several workers may receive for one session (multi-queue NIC, the
	 * kernel-socket fallback): the window is the one piece of rx state
	 * they share, so only its update is serialised, per session.
	 */
	pthread_spin_lock(&s->replay_lock);
	fresh = replay_accept(&s->replay, h.counter);
	pthread_spin_unlock(&s->replay_lock);
	if (!fresh)
		return DP_DROP_REPLAY;
	if (!inner_ok(c, s->peer, out, n))
		return DP_DROP_MALFORMED;
	/* The peer sends under it: a pending renewed key (p->next) becomes
	 * ours to send with, an expired one keeps its grace
	 * (dp_session_tx_live()). */
	if (!__atomic_load_n(&s->rx_used, __ATOMIC_RELAXED))
		__atomic_store_n(&s->rx_used, 1, __ATOMIC_RELAXED);
	*inner_len = ntohs(((const struct dp_ip4 *)out)->tot_len);
	return DP_DROP_NONE;
}
