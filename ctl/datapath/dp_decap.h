/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Decapsulation of one datagram from the underlay: outer Ethernet/IPv4/UDP
 * parsing, data header, session lookup, AES-256-GCM open, anti-replay
 * window, inner-address check. A pure function of the frame and the peer
 * table (no sockets, no AF_XDP), so that tests/fuzz/fuzz_decap.c can drive
 * it with any input. Every rejection names one reason from enum dp_drop
 * (mavpn/datapath.h).
 */
#ifndef MAVPN_CTL_DATAPATH_DP_DECAP_H
#define MAVPN_CTL_DATAPATH_DP_DECAP_H

#include <stdint.h>

#include "dp_peer.h"

/* Outer and inner headers as the workers read and write them (any
 * alignment: a frame's headers sit at arbitrary offsets). */
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

_Static_assert(sizeof(struct dp_ip4) == 20, "IPv4 header without options");
_Static_assert(sizeof(struct dp_udp) == 8, "UDP header");

struct dp_decap_ctx {
	struct dp_peers *peers;	/* read-locked by the caller */
	uint32_t self_ip;	/* our overlay address, network order */
	uint8_t overlay_plen;	/* the overlay prefix around self_ip; 0: none */
	const struct dp_route *routes;	/* gateway routes, read-locked */
	int nroutes;
	int worker;		/* which per-worker AEAD context to use */
	uint64_t now_ms;
};

/* Accept rx on a session this long past its tx expiry (renewal overlap). */
#define DP_RX_GRACE_MS		30000
_Static_assert(DP_TX_GRACE_MS < DP_RX_GRACE_MS,
	       "a peer must accept what we send in our tx grace");

/* Longest prefix match of @ip over @r[0..n); NULL if none. */
const struct dp_route *dp_route_lookup(const struct dp_route *r, int n,
				       uint32_t ip);

/*
 * Find the UDP payload of an outer Ethernet frame of @len bytes.
 * Returns 0 (and @pl/@pllen) or DP_DROP_MALFORMED.
 */
enum dp_drop dp_decap_outer(const uint8_t *f, uint32_t len,
			    const uint8_t **pl, uint32_t *pllen);

/*
 * Open the UDP payload @pl (@len bytes) into @out, which must have room
 * for @len bytes. On DP_DROP_NONE, *@inner_len is the inner IPv4 packet's
 * length (trailing bytes cut off) and the window has moved. *@sp is set
 * whenever a session was found (so drops can be counted on its peer),
 * else NULL.
 */
enum dp_drop dp_decap(const struct dp_decap_ctx *c, const uint8_t *pl,
		      uint32_t len, uint8_t *out, uint32_t *inner_len,
		      struct dp_session **sp);

#endif /* MAVPN_CTL_DATAPATH_DP_DECAP_H */
