// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data plane: underlay -> overlay. dp_decap() (dp_decap.c) does the work
 * as a pure function; here the frame comes from the XSK or the kernel UDP
 * socket, drops are counted and the packet goes to mavpn0x with an
 * Ethernet header.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "mavpn/log.h"
#include "mavpn/wire.h"
#include "dp_decap.h"
#include "dp_internal.h"

/* --- underlay -> overlay ------------------------------------------------ */

/* Count a drop of @why once: on the peer when the session tells us
 * which, else on the worker (datapath_stats() sums both). */
static void count_drop(struct dp_worker *w, enum dp_drop why,
		       struct dp_session *s)
{
	if (s)
		DP_WINC(s->peer->wc[w->id].drop[why]);
	else
		DP_WINC(w->st.drop[why]);
}

/* One UDP payload from the underlay, from the XSK or the kernel socket;
 * @src:@sport its outer source (network order). Types other than data
 * (discovery, probes, keepalives) go to dp_probe.c. */
void dp_rx_payload(struct dp_worker *w, const uint8_t *pl, uint32_t len,
		   uint32_t src, uint16_t sport, uint64_t now)
{
	struct datapath *dp = w->dp;
	struct dp_decap_ctx c = {
		.peers = &dp->peers,
		.self_ip = dp->cfg.overlay_ip,
		.overlay_plen = dp->cfg.overlay_plen,
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

	if (len && pl[0] != MAVPN_MSG_DATA) {
		dp_probe_rx(w, pl, len, src, sport, now);
		return;
	}
	if (len > DP_XSK_FRAME_SIZE - MAVPN_ETH_HLEN) {
		DP_WINC(w->st.drop[DP_DROP_MALFORMED]);
		return;
	}
	if (dp_xsk_frame_get(&w->ov, &addr)) {
		DP_WINC(w->st.drop[DP_DROP_TX_FULL]);
		return;
	}
	f = dp_xsk_data(&w->ov, addr);
	why = dp_decap(&c, pl, len, f + MAVPN_ETH_HLEN, &n, &s);
	if (why != DP_DROP_NONE) {
		dp_xsk_frame_put(&w->ov, addr);
		count_drop(w, why, s);
		return;
	}
	eth = (struct dp_eth *)f;
	memcpy(eth->dst, dp->ov_mac, DP_ETH_ALEN);
	memcpy(eth->src, dp->far_mac, DP_ETH_ALEN);
	eth->proto = htons(DP_ETH_P_IP);
	dp_probe_data_rx(w, s->peer, src, sport, now);
	if (dp_xsk_tx(&w->ov, addr, MAVPN_ETH_HLEN + n)) {
		DP_WINC(s->peer->wc[w->id].drop[DP_DROP_TX_FULL]);
		return;
	}
	DP_WINC(s->peer->wc[w->id].cnt[DP_PEER_RX_PACKETS]);
	DP_WADD(s->peer->wc[w->id].cnt[DP_PEER_RX_BYTES], n);
}

void dp_rx_underlay_frame(struct dp_worker *w, const uint8_t *f,
			  uint32_t len, uint64_t now)
{
	const uint8_t *pl;
	uint32_t pllen;

	DP_WINC(w->st.frames[DP_FRAME_UNDERLAY]);
	if (dp_decap_outer(f, len, &pl, &pllen) != DP_DROP_NONE) {
		DP_WINC(w->st.drop[DP_DROP_MALFORMED]);
		return;
	}
	dp_rx_payload(w, pl, pllen,
		   ((const struct dp_ip4 *)(f + MAVPN_ETH_HLEN))->saddr,
		   ((const struct dp_udp *)(pl - MAVPN_UDP_HLEN))->sport, now);
}

/* Datagrams the kernel delivered to our UDP socket (see xdp_underlay). */
unsigned int dp_rx_udp(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	uint8_t buf[DP_XSK_FRAME_SIZE];
	unsigned int n = 0;

	while (n < DP_XSK_BATCH) {
		struct sockaddr_in from = { 0 };
		socklen_t flen = sizeof(from);
		ssize_t len = recvfrom(dp->udp_fd, buf, sizeof(buf),
				       MSG_DONTWAIT, (struct sockaddr *)&from,
				       &flen);

		if (len < 0)
			break;
		n++;
		DP_WINC(w->st.frames[DP_FRAME_UNDERLAY]);
		pthread_rwlock_rdlock(&dp->lock);
		dp_rx_payload(w, buf, len, from.sin_family == AF_INET ?
			   from.sin_addr.s_addr : 0, from.sin_port, now);
		pthread_rwlock_unlock(&dp->lock);
	}
	return n;
}
