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
#include "mavpn/counters.h"
#include "mavpn/prefix.h"

#define DP_NAME_MAX	64
#define DP_WORKERS_MAX	16	/* worker threads (AEAD contexts per session) */
#define DP_MAX_PEERS	4096	/* peers known, with or without key */

/* How the underlay's AF_XDP sockets bind (vpnd run --xdp-mode). */
enum dp_xdp_mode {
	DP_XDP_MODE_AUTO,	/* zero copy if the driver has it, else copy */
	DP_XDP_MODE_COPY,	/* XDP_COPY */
	DP_XDP_MODE_ZEROCOPY,	/* XDP_ZEROCOPY or fail */
};

/* "auto", "copy", "zerocopy"; parse: 0 or -EINVAL. */
const char *datapath_xdp_mode_name(enum dp_xdp_mode m);
int datapath_xdp_mode_parse(const char *s, enum dp_xdp_mode *out);

struct dp_config {
	const char *underlay_ifname;	/* --iface */
	const char *overlay_ifname;	/* host side of the overlay veth */
	uint16_t port;			/* UDP port we receive on (host order) */
	/* 1..DP_WORKERS_MAX; 0: min(online CPUs, underlay rx queues),
	 * so that every worker owns a NIC queue (dp_stats.workers says
	 * how many it became) */
	int workers;
	uint32_t overlay_ip;		/* our overlay address, network order */
	uint8_t overlay_plen;		/* the overlay prefix length */
	enum dp_xdp_mode xdp_mode;	/* underlay sockets; the overlay veth
					 * is always copy */
	/*
	 * Kernel busy polling (vpnd run --busy-poll USEC), 0: off. Every
	 * AF_XDP socket gets SO_BUSY_POLL=USEC, SO_PREFER_BUSY_POLL and
	 * SO_BUSY_POLL_BUDGET (a batch), and a worker whose rings ran dry
	 * drives the devices' NAPI from its own context (recvfrom() on its
	 * sockets) for up to USEC before it sleeps in poll(). Off by
	 * default: it lost on 2 vCPUs (docs/performance.md).
	 */
	unsigned int busy_poll_us;
	/*
	 * Run first in every worker thread, e.g. to drop capabilities (they
	 * are per thread); non-zero fails datapath_start(). NULL: nothing.
	 * A worker needs CAP_NET_ADMIN (next-hop resolution asks the kernel
	 * with RTM_NEWNEIGH/NTF_USE) and no other capability.
	 */
	int (*worker_init)(void *arg);
	void *worker_arg;
	/* NAT keepalive to active peers and discovery refresh, seconds
	 * (vpnd run --keepalive); 0: DP_KEEPALIVE_DEFAULT_S. */
	uint32_t keepalive_s;
};

#define DP_KEEPALIVE_DEFAULT_S	25
#define DP_CANDS_MAX		8	/* a peer's candidate endpoints */

/* An IPv4 underlay endpoint. */
struct dp_endpoint {
	uint32_t ip;			/* network order */
	uint16_t port;			/* host order */
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
	/* Where else the peer may be reached (its local addresses, its
	 * server-reflexive endpoint): probed all at once with the session
	 * key, the first to answer becomes the path (docs/protocol.md). */
	int ncand;
	struct dp_endpoint cand[DP_CANDS_MAX];
};

/* The secret arrives as CTLA_KEY and is handed to aead_derive_keys(). */
_Static_assert(sizeof(((struct dp_key *)0)->secret) == AEAD_KEY_LEN,
	       "dp_key.secret = AEAD key");

/*
 * Counter families of the data plane (see mavpn/counters.h): one line per
 * counter, X(ID, name, help); the enums index the arrays below and the
 * datapath_*_desc tables name them for every output.
 *
 * Drop reasons: every packet the data plane drops is counted once, under
 * one reason, on the peer when the data plane knows which peer it was for
 * or from, else on the data plane itself; dp_stats.drop[] is the total of
 * both (peers reclaimed from a full table included). Append only: the
 * names are printed and scraped (`drop_NAME` in JSON, reason="NAME").
 */
#define DP_DROP_REASONS(X) \
	X(MALFORMED, "malformed", "bad outer headers, data header or inner packet") \
	X(UNKNOWN_KEY, "unknown_key", "no session with that key id") \
	X(NO_KEY, "no_key", "no key for the destination and none to ask for, or the server refused one") \
	X(TX_FULL, "tx_full", "no room: no free umem frame, TX ring or socket buffer") \
	X(EXPIRED_KEY, "expired", "received under a key past its lifetime") \
	X(AUTH, "auth", "GCM tag mismatch") \
	X(REPLAY, "replay", "counter outside the anti-replay window or seen before") \
	X(PENDING, "pending", "the queue of packets waiting for a key or next hop was full or timed out") \
	X(TOO_BIG, "too_big", "inner packet larger than the underlay can carry")

/* Why a packet was dropped; DP_DROP_NONE: it was not. */
enum dp_drop {
	DP_DROP_NONE = -1,
#define DP_DROP_ENUM(id, name, help) DP_DROP_##id,
	DP_DROP_REASONS(DP_DROP_ENUM)
#undef DP_DROP_ENUM
	DP_DROP__COUNT
};

/* Per-peer traffic, X(ID, name, kind, unit, help). */
#define DP_PEER_COUNTERS(X) \
	X(TX_PACKETS, "tx_packets", COUNTER_COUNTER, "packets", "Packets sealed and sent to this peer.") \
	X(TX_BYTES, "tx_bytes", COUNTER_COUNTER, "bytes", "Bytes sent to this peer (inner packets).") \
	X(RX_PACKETS, "rx_packets", COUNTER_COUNTER, "packets", "Packets from this peer opened and delivered.") \
	X(RX_BYTES, "rx_bytes", COUNTER_COUNTER, "bytes", "Bytes received from this peer (inner packets).") \
	X(PENDING, "pending", COUNTER_GAUGE, "packets", "Packets held for this peer while waiting for a key.")

enum dp_peer_counter {
#define DP_PEER_ENUM(id, name, kind, unit, help) DP_PEER_##id,
	DP_PEER_COUNTERS(DP_PEER_ENUM)
#undef DP_PEER_ENUM
	DP_PEER__COUNT
};

/* Frames into the workers, by side. */
#define DP_FRAMES(X) \
	X(OVERLAY, "overlay", "plaintext from the host to seal") \
	X(UNDERLAY, "underlay", "ciphertext from peers to open")

enum dp_frame {
#define DP_FRAME_ENUM(id, name, help) DP_FRAME_##id,
	DP_FRAMES(DP_FRAME_ENUM)
#undef DP_FRAME_ENUM
	DP_FRAME__COUNT
};

/* Other events of the data plane as a whole. */
#define DP_EVENTS(X) \
	X(ICMP_TOO_BIG, "icmp_too_big", "ICMP fragmentation-needed answers sent for too-big packets with DF") \
	X(HELD_EXPIRED, "held_expired", "held packets dropped because no key or next hop came within the hold time") \
	X(HELD_CAP, "held_cap", "packets not held because all peers together already held the global maximum") \
	X(PEERS_RECLAIMED, "peers_reclaimed", "key-less peer entries freed to make room in a full table") \
	X(DISCO_SENT, "disco_sent", "endpoint discovery requests sent to the server from the data port") \
	X(DISCO_ANSWERS, "disco_answers", "authenticated discovery answers from the server") \
	X(PROBES_SENT, "probes_sent", "path probes sent to a peer's candidate endpoints") \
	X(PROBE_ACKS, "probe_acks", "authenticated answers to our path probes") \
	X(PROBES_ANSWERED, "probes_answered", "authenticated path probes of peers answered") \
	X(KEEPALIVES_SENT, "keepalives_sent", "keepalives sent to active peers (NAT mappings)") \
	X(PATH_CHANGES, "path_changes", "a peer's endpoint changed after an authenticated probe, answer or keepalive") \
	X(RELAY_SENT, "relay_sent", "datagrams sent to a peer through the relay (no direct path)") \
	X(RELAY_RECEIVED, "relay_received", "datagrams of peers received through the relay") \
	X(PROBES_UNKNOWN_KEY, "probes_unknown_key", "probes and keepalives under a key not installed here (yet: the responder probes first)")

enum dp_event {
#define DP_EVENT_ENUM(id, name, help) DP_EVENT_##id,
	DP_EVENTS(DP_EVENT_ENUM)
#undef DP_EVENT_ENUM
	DP_EVENT__COUNT
};

extern const struct counter_desc datapath_drop_desc[DP_DROP__COUNT];
extern const struct counter_desc datapath_peer_desc[DP_PEER__COUNT];
extern const struct counter_desc datapath_frame_desc[DP_FRAME__COUNT];
/* Levels of the data plane as a whole, X(ID, name, kind, unit, help). */
#define DP_LEVELS(X) \
	X(PEERS, "peers", COUNTER_GAUGE, NULL, "Entries in the peer table, with a key or waiting for one.") \
	X(HELD_PACKETS, "held_packets", COUNTER_GAUGE, "packets", "Packets held for all peers, waiting for a key or next hop.") \
	X(HELD_BYTES, "held_bytes", COUNTER_GAUGE, "bytes", "Memory those held packets take, bounded by the global hold cap.")

enum dp_level {
#define DP_LEVEL_ENUM(id, name, kind, unit, help) DP_LEVEL_##id,
	DP_LEVELS(DP_LEVEL_ENUM)
#undef DP_LEVEL_ENUM
	DP_LEVEL__COUNT
};

extern const struct counter_desc datapath_event_desc[DP_EVENT__COUNT];
extern const struct counter_desc datapath_level_desc[DP_LEVEL__COUNT];

/* How a peer is reached. */
enum dp_path_state {
	DP_PATH_UNKNOWN,	/* no probe answered yet: the endpoint the
				 * server named */
	DP_PATH_DIRECT,		/* an authenticated probe, answer, keepalive or
				 * datagram came from the endpoint */
	DP_PATH_RELAY,		/* no direct path answered: through the relay */
};

const char *datapath_path_name(enum dp_path_state s);

struct dp_peer_stats {
	char name[DP_NAME_MAX];
	uint32_t overlay_ip, underlay_ip;	/* network order */
	uint16_t port;
	enum dp_path_state path;
	int64_t last_handshake;			/* real seconds: last key
						 * install, 0 never */
	uint32_t key_id;
	uint64_t cnt[DP_PEER__COUNT];
	uint64_t drop[DP_DROP__COUNT];		/* counted on this peer */
};

struct dp_stats {
	int workers;
	unsigned int busy_poll_us;		/* as configured; 0: off */
	/* underlay AF_XDP: "zerocopy", "copy", or "udp" (no XSK: the
	 * kernel's UDP socket) */
	const char *xdp_mode;
	uint64_t frames[DP_FRAME__COUNT];
	uint64_t drop[DP_DROP__COUNT];		/* totals, peers included */
	uint64_t events[DP_EVENT__COUNT];
	uint64_t levels[DP_LEVEL__COUNT];
};

struct datapath;

/* Build everything; NULL with errno set and one line logged on failure.
 * Runs in the calling thread's network namespace: the overlay veth, the
 * sockets and the XDP attachments all live there. */
struct datapath *datapath_start(const struct dp_config *cfg);
/* Stop the workers, detach XDP, delete the overlay interface. NULL ok. */
void datapath_stop(struct datapath *dp);
/* 1 if libxdp's dispatcher holds one of our XDP programs: detaching it
 * (datapath_stop) then needs CAP_SYS_ADMIN (libxdp reads the dispatcher
 * back by program id). 0 for programs attached alone. */
int datapath_xdp_dispatcher(const struct datapath *dp);

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

/*
 * Endpoint discovery: send authenticated DISCO_REQ from our data port to
 * the server at @server (UDP), with the probe id and key the server gave
 * in HELLO_ACK, until it answers, then every keepalive interval. NULL
 * @server: stop. 0 or -errno.
 */
int datapath_disco_set(struct datapath *dp, const struct dp_endpoint *server,
		       uint32_t probe_id, const uint8_t key[AEAD_KEY_LEN]);
/* Our data port as the server sees it: 1 and @out, 0 if not known yet.
 * @nat: 1 when it is not our own address and port (a NAT between). */
int datapath_disco_result(struct datapath *dp, struct dp_endpoint *out,
			  int *nat);

/* True if a live key exists for @overlay_ip (network order). */
int datapath_has_key(struct datapath *dp, uint32_t overlay_ip);

/* Copy up to @max peers' counters into @out; returns how many. Only
 * peers that have (or had) an installed key are listed. */
int datapath_peer_stats(struct datapath *dp, struct dp_peer_stats *out, int max);
void datapath_stats(struct datapath *dp, struct dp_stats *out);

/* The kernel's counters of one AF_XDP socket (XDP_STATISTICS). */
#define DP_XSK_COUNTERS(X) \
	X(RX_DROPPED, "rx_dropped", "Frames the kernel dropped for this AF_XDP socket (no room).") \
	X(RX_RING_FULL, "rx_ring_full", "Times the AF_XDP rx ring was full (the worker lagged).") \
	X(FILL_RING_EMPTY, "fill_ring_empty", "Times the AF_XDP fill ring was empty (no umem frame to receive into).") \
	X(TX_RING_EMPTY, "tx_ring_empty", "Kicks with an empty AF_XDP tx ring.") \
	X(RX_INVALID_DESCS, "rx_invalid_descs", "Invalid rx descriptors seen by the kernel.") \
	X(TX_INVALID_DESCS, "tx_invalid_descs", "Invalid tx descriptors seen by the kernel.")

enum dp_xsk_counter {
#define DP_XSK_ENUM(id, name, help) DP_XSK_##id,
	DP_XSK_COUNTERS(DP_XSK_ENUM)
#undef DP_XSK_ENUM
	DP_XSK__COUNT
};

extern const struct counter_desc datapath_xsk_desc[DP_XSK__COUNT];

struct dp_ring_stats {
	uint64_t cnt[DP_XSK__COUNT];
};

enum { DP_RING_OVERLAY, DP_RING_UNDERLAY, DP_RING_MAX };

/* Ring statistics of the overlay and underlay AF_XDP sockets, indexed by
 * DP_RING_*; callable from the control thread. 0 or -errno. */
int datapath_ring_stats(struct datapath *dp,
			struct dp_ring_stats out[DP_RING_MAX]);

#endif /* MAVPN_DATAPATH_H */
