/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data plane of vpnd, as seen by its control side: create the overlay
 * interface, attach the XDP programs, run the AF_XDP workers, install keys,
 * report which destinations need one, and give counters.
 */
#ifndef MAVPN_DATAPATH_H
#define MAVPN_DATAPATH_H

#include <stdint.h>

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
	uint8_t secret[32];		/* server-minted; wiped by the caller */
	int initiator;			/* 1: we requested it (aead_derive_keys) */
	uint32_t lifetime;		/* seconds */
	char peer_name[DP_NAME_MAX];
	uint32_t peer_overlay_ip;	/* network order */
	uint32_t peer_underlay_ip;	/* network order */
	uint16_t peer_port;		/* host order */
};

struct dp_peer_stats {
	char name[DP_NAME_MAX];
	uint32_t overlay_ip, underlay_ip;	/* network order */
	uint16_t port;
	uint32_t key_id;
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t drop_replay, drop_auth, drop_pending;
	uint32_t pending;			/* packets waiting for a key */
};

struct dp_stats {
	int workers;
	uint64_t rx_frames_overlay, rx_frames_underlay;
	uint64_t drop_malformed, drop_unknown_key, drop_no_key, drop_tx_full;
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

/* True if a live key exists for @overlay_ip (network order). */
int datapath_has_key(struct datapath *dp, uint32_t overlay_ip);

/* Copy up to @max peers' counters into @out; returns how many. Only
 * peers that have (or had) an installed key are listed. */
int datapath_peer_stats(struct datapath *dp, struct dp_peer_stats *out, int max);
void datapath_stats(struct datapath *dp, struct dp_stats *out);

#endif /* MAVPN_DATAPATH_H */
