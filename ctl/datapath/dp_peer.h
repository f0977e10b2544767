/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data plane's peer table: peers by overlay address, their sessions
 * (keys) by key id, and the bounded queue of packets held for a peer until
 * it has a key and a next-hop MAC.
 *
 * Locking (see dp_internal.h for the full picture): the table's shape
 * (insertions, session install/retire) changes only under the datapath's
 * rwlock held for writing; workers hold it for reading once per batch.
 * Next-hop fields are written by worker 0 only; the pending queue has its
 * own mutex (slow path); counters are relaxed atomics so the control thread
 * may read them anytime.
 */
#ifndef MAVPN_CTL_DATAPATH_DP_PEER_H
#define MAVPN_CTL_DATAPATH_DP_PEER_H

#include <pthread.h>
#include <stdint.h>

#include "mavpn/datapath.h"
#include "mavpn/replay.h"

#define DP_PENDING_MAX		128	/* held packets per peer */
#define DP_PENDING_TTL_MS	2000	/* older held packets are dropped */
/*
 * All peers together hold at most this much (packet, header and malloc's
 * overhead, DP_HELD_COST): without it, DP_PENDING_MAX x DP_MAX_PEERS
 * full-size packets would be hundreds of MB for an app that sprays unused
 * overlay addresses. Worker 0 expires held packets every
 * DP_HOLD_SWEEP_MS, whether more packets come for that peer or not.
 */
#define DP_HELD_BYTES_MAX	(4u << 20)
#define DP_HOLD_SWEEP_MS	250
#define DP_HELD_COST(len)	(sizeof(struct dp_pkt) + (len) + 16)
#define DP_REQ_RETRY_MS		2000	/* re-ask if no key came by then */
#define DP_TX_GRACE_MS		5000	/* see dp_session_tx_live() */
#define DP_COUNTER_MAX		(1ull << 60)	/* renew long before wrap */
#define DP_HASH_BITS		8

#define DP_INC(x)	__atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)
#define DP_ADD(x, n)	__atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define DP_LOAD(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define DP_STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* A counter only one thread writes: a plain add (no locked instruction,
 * no cache line bouncing between workers), readers load it relaxed. */
#define DP_WINC(x)	DP_STORE(x, DP_LOAD(x) + 1)
#define DP_WADD(x, n)	DP_STORE(x, DP_LOAD(x) + (n))

struct aead;
struct dp_peer;

struct dp_pkt {
	struct dp_pkt *next;
	uint64_t at_ms;			/* when it was held */
	uint32_t len;
	uint8_t data[];			/* the inner IPv4 packet */
};

/*
 * A peer's counters of one worker: written by that worker alone
 * (DP_WINC), read by the control thread, which sums the workers' slots
 * (dp_peer_counts()). Per packet, then, nothing is shared between
 * workers but the session's nonce counter. One cache line apart, so
 * workers do not false-share.
 */
struct dp_peer_wcnt {
	uint64_t cnt[DP_PEER__COUNT];	/* PENDING unused */
	uint64_t drop[DP_DROP__COUNT];
} __attribute__((aligned(64)));

struct dp_session {
	uint32_t key_id;
	struct dp_peer *peer;
	struct aead *tx[DP_WORKERS_MAX];	/* one context per worker */
	struct aead *rx[DP_WORKERS_MAX];
	uint64_t tx_next;		/* atomic: next counter to use, from 1 */
	/* probes and keepalives (dp_probe.c): their own counters, from
	 * DP_PROBE_CTR_BASE (data stays below DP_COUNTER_MAX), and their
	 * own window, so a keepalive late in the kernel socket never costs
	 * data a slot of the data window (nor counts as its replay) */
	uint64_t probe_tx_next;		/* atomic, 0 = DP_PROBE_CTR_BASE */
	struct replay probe_replay;	/* under replay_lock */
	uint64_t expires_ms;		/* 0: no lifetime given */
	uint64_t tx_limit;		/* tx_next must stay below; 0 = none */
	int rx_used;			/* atomic: the peer sent with it */
	pthread_spinlock_t replay_lock;	/* only around replay_accept() */
	struct replay replay;
	struct dp_session *kid_next;	/* key-id hash chain */
};

/*
 * The path to a peer (dp_probe.c): its candidates from the key install,
 * the probe rounds and keepalives worker 0 sends, and what the workers
 * learn from authenticated probes, answers and keepalives.
 */
struct dp_path {
	int ncand;			/* written under the wrlock */
	struct dp_endpoint cand[DP_CANDS_MAX];
	int64_t installed_s;		/* real time of the last key install */
	uint64_t token;			/* atomic: this probe round's */
	int round_acked;		/* atomic: an answer took the round */
	uint64_t round_ms;		/* worker 0: last round sent */
	unsigned int rounds;		/* worker 0: rounds since a restart;
					 * 0: start again (atomic store) */
	uint64_t ka_ms;			/* worker 0: last keepalive */
	uint64_t seen_pkts;		/* worker 0: tx+rx at the last step */
	uint64_t active_ms;		/* worker 0: data seen either way */
	uint64_t confirmed_ms;		/* atomic: authenticated from there */
	int peer_direct;		/* atomic: the peer's last probe said it
					 * is not behind a NAT (no PROBE_F_NAT) */
	int relay;			/* atomic: send through the relay */
	uint64_t hint;			/* atomic: ip << 16 | port the peer said
					 * (through the relay) it is at now */
};

struct dp_peer {
	uint32_t overlay_ip;		/* network order; the table key */
	char name[DP_NAME_MAX];
	uint32_t underlay_ip;		/* network order, 0 until a key */
	uint16_t port;			/* host order */
	struct dp_session *cur;		/* tx and rx */
	struct dp_session *prev;	/* rx only, until the next install */
	/*
	 * A renewed key we got pushed (responder) while cur was live: rx at
	 * once, tx only once the peer has used it (rx_used) or cur ran out,
	 * because the peer can decrypt it only after its grant arrived
	 * (make before break). Promoted to cur by the next install.
	 */
	struct dp_session *next;

	/*
	 * Next hop. Worker 0 alone resolves it and writes these; the other
	 * workers read them (atomically: the MAC is one 64-bit word, 0 =
	 * unknown, so nobody sends with half an old and half a new MAC) and
	 * ask worker 0 for a lookup through neigh_flag.
	 */
	uint64_t mac;			/* atomic; bytes 0-5 in wire order */
	uint32_t src_ip;		/* our source address toward it */
	uint32_t nh_ip;			/* worker 0: next hop, for events */
	int neigh_flag;			/* atomic: a worker wants a lookup */
	int neigh_queued;		/* on worker 0's resolve list */
	uint64_t neigh_at_ms;		/* last successful lookup */
	uint64_t neigh_wait_ms;		/* first failed lookup, 0 = none */

	/*
	 * Packets waiting for key or MAC: the slow path, so a mutex is fine
	 * (any worker may hold or flush; control drops under the wrlock).
	 */
	pthread_mutex_t pend_lock;
	struct dp_pkt *pend_head, *pend_tail;
	uint32_t pending;		/* atomic for readers */
	int requested;			/* key request queued, not answered */
	uint64_t requested_ms;
	uint64_t created_ms;		/* inserted; young peers are kept */

	struct dp_path path;

	/* counters of the slow paths, any thread (atomic adds): held
	 * packets dropped, keys refused; cnt[] unused but for the sum */
	uint64_t cnt[DP_PEER__COUNT];
	uint64_t drop[DP_DROP__COUNT];

	struct dp_peer *ip_next;	/* overlay-address hash chain */
	/* the packet path's counters, one slot per worker (dp_peers.workers) */
	struct dp_peer_wcnt wc[];
};

struct dp_peers {
	int workers;			/* wc[] slots per peer; 0 counts as 1 */
	struct dp_peer *by_ip[1 << DP_HASH_BITS];
	struct dp_session *by_kid[1 << DP_HASH_BITS];
	int npeers;
	unsigned int reclaim_h;		/* bucket the next reclaim scan starts at */
	/* drop counters of reclaimed peers (totals stay monotonic) */
	uint64_t gone_drop[DP_DROP__COUNT];
	/* held packets of all peers (atomic): the global cap's account */
	uint64_t held_bytes, held_pkts;
	/* atomic; the held_* and peers_reclaimed events counted here
	 * (datapath_stats() adds them to the data plane's) */
	uint64_t ev[DP_EVENT__COUNT];
};

/*
 * May we send under @s at @now? Within its packet limit, and within its
 * lifetime or, if the peer has used it, DP_TX_GRACE_MS past it. The two
 * copies of a key do not end together: each side counts the lifetime from
 * its own install, and the responder installs a round trip before the
 * initiator (push, ack, grant). Without the grace the responder's copy
 * ran out while the initiator, renewal not yet granted, still sent under
 * it, and the responder's answers went under the renewed key the
 * initiator did not have yet: lost (with a control plane slower than the
 * renewal margin, 20 % of the lifetime, both sides also stalled). The
 * peer accepts a key for longer still (DP_RX_GRACE_MS, dp_decap.h).
 */
static inline int dp_session_tx_live(const struct dp_session *s, uint64_t now)
{
	if (!s || DP_LOAD(s->tx_next) >= DP_COUNTER_MAX ||
	    (s->tx_limit && DP_LOAD(s->tx_next) >= s->tx_limit))
		return 0;
	return !s->expires_ms || now < s->expires_ms ||
	       (now < s->expires_ms + DP_TX_GRACE_MS &&
		DP_LOAD(s->rx_used));
}

/* The session to send with: cur, or the pushed renewal (p->next) once the
 * peer has used it or cur ran out (make before break, see above). */
static inline struct dp_session *dp_tx_session(const struct dp_peer *p,
					       uint64_t now)
{
	struct dp_session *n = p->next;

	if (n && (DP_LOAD(n->rx_used) || !dp_session_tx_live(p->cur, now)))
		return n;
	return p->cur;
}

struct dp_peer *dp_peer_find(struct dp_peers *t, uint32_t overlay_ip);
/*
 * Find or create; the table's write lock must be held. When the table is
 * full, an idle key-less peer is reclaimed (freed) to make room (see
 * dp_peer.c); NULL (errno ENOSPC/ENOMEM) if none is idle.
 */
struct dp_peer *dp_peer_get(struct dp_peers *t, uint32_t overlay_ip,
			    uint64_t now_ms);
struct dp_session *dp_session_find(struct dp_peers *t, uint32_t key_id);
/* @p's counters: the shared ones plus every worker's slot, summed. */
void dp_peer_counts(const struct dp_peers *t, const struct dp_peer *p,
		    uint64_t cnt[DP_PEER__COUNT], uint64_t drop[DP_DROP__COUNT]);

/*
 * A session for @k with one tx/rx context per worker: the secret is
 * expanded with aead_derive_keys() and every copy of key material on the
 * way is wiped. NULL with errno set.
 */
struct dp_session *dp_session_new(const struct dp_key *k, int workers,
				  uint64_t now_ms);
/* Make @s the peer's current session; retires the one before previous. */
void dp_session_install(struct dp_peers *t, struct dp_peer *p,
			struct dp_session *s);
/* Install @s as the peer's next session (see struct dp_peer). */
void dp_session_install_next(struct dp_peers *t, struct dp_peer *p,
			     struct dp_session *s);
/* Unlink from the key-id table, wipe, free. NULL ok. */
void dp_session_retire(struct dp_peers *t, struct dp_session *s);

/*
 * The held-packet queue; the caller holds p->pend_lock (or the table's
 * write lock). Push holds a copy of @len bytes after expiring what is
 * older than DP_PENDING_TTL_MS: -ENOBUFS when the peer's queue is full,
 * -ENOSPC when all peers together hold DP_HELD_BYTES_MAX (counted as
 * held_cap). Every packet dropped (for whatever reason) is counted by the
 * caller, except the expired ones: the functions count those (drop
 * "pending" on the peer and event held_expired).
 */
int dp_pending_push(struct dp_peers *t, struct dp_peer *p, const uint8_t *pkt,
		    uint32_t len, uint64_t now_ms);
/* The oldest held packet, unaccounted; free() it. */
struct dp_pkt *dp_pending_pop(struct dp_peers *t, struct dp_peer *p);
/* Drop what waited longer than DP_PENDING_TTL_MS; returns the bytes freed. */
uint64_t dp_pending_expire(struct dp_peers *t, struct dp_peer *p,
			   uint64_t now_ms);
/* Drop everything held; returns how many. */
uint32_t dp_pending_drop(struct dp_peers *t, struct dp_peer *p);

/* Free every peer and session (wiping keys). */
void dp_peers_free(struct dp_peers *t);

#endif /* MAVPN_CTL_DATAPATH_DP_PEER_H */
