/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data plane of vpnd, as seen by its control side: create the overlay
 * interface, attach the XDP programs, run the AF_XDP workers, install keys,
 * report which destinations need one, and give counters.
 */
#ifndef MAVPN_DATAPATH_H
#define MAVPN_DATAPATH_H

#include <stdint.h>

#include "mavpn/aead.h"
#include "mavpn/prefix.h"

#define DP_NAME_MAX	64

struct dp_config {
	const char *underlay_ifname;	/* --iface */
	const char *overlay_ifname;	/* host side of the overlay veth */
	uint16_t port;			/* UDP port we receive on (host order) */
	int workers;			/* >= 1 */
	uint32_t overlay_ip;		/* our overlay address, network order */
	uint8_t overlay_plen;		/* the overlay prefix length */
};

struct dp_key {
	uint32_t key_id;
	uint8_t secret[AEAD_KEY_LEN];	/* server-minted; wiped by the caller */
	int initiator;			/* 1: we requested it (aead_derive_keys) */
	uint32_t lifetime;		/* seconds */
	uint32_t max_packets;		/* per direction; 0 = the default */
	char peer_name[DP_NAME_MAX];
	uint32_t peer_overlay_ip;	/* network order */
	uint32_t peer_underlay_ip;	/* network order */
	uint16_t peer_port;		/* host order */
};

/* The secret arrives as CTLA_KEY and is handed to aead_derive_keys(). */
_Static_assert(sizeof(((struct dp_key *)0)->secret) == AEAD_KEY_LEN,
	       "dp_key.secret = AEAD key");

struct dp_peer_stats {
	char name[DP_NAME_MAX];
	uint32_t overlay_ip, underlay_ip;	/* network order */
	uint16_t port;
	uint32_t key_id;
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t drop_replay, drop_auth, drop_pending;
	uint64_t drop_expired;			/* rx under a key past its life */
	uint64_t drop_malformed;		/* authenticated, bad inner packet */
	uint32_t pending;			/* packets waiting for a key */
};

struct dp_stats {
	int workers;
	uint64_t rx_frames_overlay, rx_frames_underlay;
	uint64_t drop_malformed, drop_unknown_key, drop_no_key, drop_tx_full;
	uint64_t drop_expired;		/* rx under a key past its lifetime */
	/*
	 * Totals over all peers of the per-peer reasons, so one status shows
	 * every reason: bad tag, replay, pending queue full. drop_tx_full is
	 * the "no room" reason (no free umem frame or TX ring slot).
	 */
	uint64_t drop_auth, drop_replay, drop_pending;
	/* inner packets larger than the underlay can carry; DF ones answered
	 * with ICMP fragmentation-needed (icmp_too_big sent) */
	uint64_t drop_too_big, icmp_too_big;
};

struct datapath;

/* Build everything; NULL with errno set and one line logged on failure.
 * Runs in the calling thread's network namespace: the overlay veth, the
 * sockets and the XDP attachments all live there. workers must be 1 in
 * this version (EINVAL otherwise). */
struct datapath *datapath_start(const struct dp_config *cfg);
/* Stop the workers, detach XDP, delete the overlay interface. NULL ok. */
void datapath_stop(struct datapath *dp);

/* Install (or replace) the key for a peer; flushes its held packets.
 * Callable from the control thread while workers run. 0 or -errno. */
int datapath_install_key(struct datapath *dp, const struct dp_key *k);

/* The server revoked the peer @overlay_ip: retire (and wipe) all its
 * sessions and drop what is held for it. 0, or -ENOENT if it had none. */
int datapath_remove_peer(struct datapath *dp, uint32_t overlay_ip);

/* The server refused a key for @overlay_ip: drop what was held for it. */
void datapath_key_refused(struct datapath *dp, uint32_t overlay_ip);

/*
 * Interface-level trigger: when a worker holds a packet for a destination
 * that has no key and no request yet, it queues the destination; this fd
 * (an eventfd) becomes readable. datapath_next_request() returns 1 and one
 * overlay address (network order) at a time, 0 when empty.
 */
int datapath_request_fd(struct datapath *dp);
int datapath_next_request(struct datapath *dp, uint32_t *overlay_ip);

/*
 * Gateway routes. local: a prefix behind us (we are its gateway): inner
 * destinations inside it are accepted from peers and handed to the kernel,
 * which forwards them. Otherwise a prefix behind the peer whose overlay
 * address is @gw: outbound packets to it go to that peer (longest prefix
 * match), and that peer may send us packets from inside it. gw 0 and not
 * local: gateway unknown yet, packets to it are dropped (counted no-key).
 */
struct dp_route {
	struct prefix prefix;		/* IPv4 */
	uint32_t gw;			/* network order */
	uint8_t local;
};

#define DP_ROUTES_MAX	128

/* Replace the whole route table (at most DP_ROUTES_MAX, valid IPv4
 * prefixes). 0 or -errno. */
int datapath_set_routes(struct datapath *dp, const struct dp_route *r, int n);

/* True if a live key exists for @overlay_ip (network order). */
int datapath_has_key(struct datapath *dp, uint32_t overlay_ip);

/* Copy up to @max peers' counters into @out; returns how many. Only
 * peers that have (or had) an installed key are listed. */
int datapath_peer_stats(struct datapath *dp, struct dp_peer_stats *out, int max);
void datapath_stats(struct datapath *dp, struct dp_stats *out);

/* The kernel's counters of one AF_XDP socket (XDP_STATISTICS). */
struct dp_ring_stats {
	uint64_t rx_dropped;		/* no room in the rx ring or umem */
	uint64_t rx_invalid_descs, tx_invalid_descs;
	uint64_t rx_ring_full;		/* rx ring full: the worker lagged */
	uint64_t rx_fill_ring_empty_descs; /* fill ring empty */
	uint64_t tx_ring_empty_descs;	/* kicked with nothing to send */
};

enum { DP_RING_OVERLAY, DP_RING_UNDERLAY, DP_RING_MAX };

/* Ring statistics of the overlay and underlay AF_XDP sockets, indexed by
 * DP_RING_*; callable from the control thread. 0 or -errno. */
int datapath_ring_stats(struct datapath *dp,
			struct dp_ring_stats out[DP_RING_MAX]);

#endif /* MAVPN_DATAPATH_H */
