// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mavpn/aead.h"
#include "dp_peer.h"

static unsigned int hash32(uint32_t v)
{
	return (v * 2654435761u) >> (32 - DP_HASH_BITS);
}

struct dp_peer *dp_peer_find(struct dp_peers *t, uint32_t overlay_ip)
{
	struct dp_peer *p;

	for (p = t->by_ip[hash32(overlay_ip)]; p; p = p->ip_next)
		if (p->overlay_ip == overlay_ip)
			return p;
	return NULL;
}

/*
 * Reclaim. Every destination a packet went to gets an entry, key or not,
 * so traffic to DP_MAX_PEERS distinct overlay addresses (a sweep of the
 * prefix, denied destinations) would fill the table for good; hence a full
 * table frees one idle key-less entry to make room. This is done here, in
 * dp_peer_get(), because its only callers already hold dp->lock for
 * writing: the control thread in datapath_install_key(), and a worker in
 * dp_rx_overlay_frame(), which drops its read lock and takes the write lock
 * just to insert a new peer. With the write lock held no worker is inside
 * a batch, and none keeps a peer pointer across it (dp_rx_overlay_frame()
 * looks the peer up again after relocking, the batch loops keep none), so
 * the entry can be freed at once. Only pointers that outlive the lock
 * matter, and they rule a peer out: a session's ->peer (so cur, prev and
 * next must all be NULL), worker 0's resolve list (neigh_queued, and
 * neigh_flag, a lookup asked for). Packets held for a key-less peer do
 * not keep it: they are dropped with it (counted as drop "pending"), so a
 * sweep of the prefix cannot pin the table with a packet per address. The
 * state of a key request still in flight (asked less than DP_REQ_RETRY_MS
 * ago) keeps it, which also throttles requests after a refusal or
 * removal; the key request queue holds addresses, not pointers, and a key
 * arriving for a reclaimed address simply creates it again. A peer younger
 * than DP_REQ_RETRY_MS is kept too, so that workers inserting different
 * destinations into a full table do not evict each other's new entries
 * before their first packet was held and the key requested.
 */
static int peer_idle(const struct dp_peer *p, uint64_t now)
{
	return !p->cur && !p->prev && !p->next &&
	       !p->neigh_queued && !DP_LOAD(p->neigh_flag) &&
	       now - p->created_ms >= DP_REQ_RETRY_MS &&
	       !(DP_LOAD(p->requested) &&
		 now - DP_LOAD(p->requested_ms) < DP_REQ_RETRY_MS);
}

/* Write lock held: free one idle peer; 1 if one was found. The scan starts
 * one bucket after the last reclaim so that entries go round-robin. */
static int peer_reclaim(struct dp_peers *t, uint64_t now)
{
	const unsigned int nb = 1u << DP_HASH_BITS;
	uint64_t cnt[DP_PEER__COUNT], drop[DP_DROP__COUNT];
	struct dp_peer **pp, *p;
	unsigned int i, h;
	int r;

	for (i = 0; i < nb; i++) {
		h = (t->reclaim_h + i) % nb;
		for (pp = &t->by_ip[h]; (p = *pp); pp = &p->ip_next) {
			if (!peer_idle(p, now))
				continue;
			*pp = p->ip_next;
			DP_ADD(p->drop[DP_DROP_PENDING],
			       dp_pending_drop(t, p));
			DP_INC(t->ev[DP_EVENT_PEERS_RECLAIMED]);
			dp_peer_counts(t, p, cnt, drop);
			for (r = 0; r < DP_DROP__COUNT; r++)
				t->gone_drop[r] += drop[r];
			pthread_mutex_destroy(&p->pend_lock);
			free(p);
			t->npeers--;
			t->reclaim_h = (h + 1) % nb;
			return 1;
		}
	}
	return 0;
}

static int peer_slots(const struct dp_peers *t)
{
	return t->workers > 0 ? t->workers : 1;
}

void dp_peer_counts(const struct dp_peers *t, const struct dp_peer *p,
		    uint64_t cnt[DP_PEER__COUNT], uint64_t drop[DP_DROP__COUNT])
{
	int w, k;

	for (k = 0; k < DP_PEER__COUNT; k++)
		cnt[k] = DP_LOAD(p->cnt[k]);
	for (k = 0; k < DP_DROP__COUNT; k++)
		drop[k] = DP_LOAD(p->drop[k]);
	for (w = 0; w < peer_slots(t); w++) {
		for (k = 0; k < DP_PEER__COUNT; k++)
			cnt[k] += DP_LOAD(p->wc[w].cnt[k]);
		for (k = 0; k < DP_DROP__COUNT; k++)
			drop[k] += DP_LOAD(p->wc[w].drop[k]);
	}
}

struct dp_peer *dp_peer_get(struct dp_peers *t, uint32_t overlay_ip,
			    uint64_t now_ms)
{
	struct dp_peer *p = dp_peer_find(t, overlay_ip);
	unsigned int h;
	void *mem;
	size_t sz;

	if (p)
		return p;
	if (t->npeers >= DP_MAX_PEERS && !peer_reclaim(t, now_ms)) {
		errno = ENOSPC;
		return NULL;
	}
	sz = sizeof(*p) + (size_t)peer_slots(t) * sizeof(p->wc[0]);
	/* wc[] slots on their own cache lines */
	if (posix_memalign(&mem, 64, sz)) {
		errno = ENOMEM;
		return NULL;
	}
	p = memset(mem, 0, sz);
	p->overlay_ip = overlay_ip;
	p->created_ms = now_ms;
	pthread_mutex_init(&p->pend_lock, NULL);
	h = hash32(overlay_ip);
	p->ip_next = t->by_ip[h];
	t->by_ip[h] = p;
	t->npeers++;
	return p;
}

struct dp_session *dp_session_find(struct dp_peers *t, uint32_t key_id)
{
	struct dp_session *s;

	for (s = t->by_kid[hash32(key_id)]; s; s = s->kid_next)
		if (s->key_id == key_id)
			return s;
	return NULL;
}

static void session_free(struct dp_session *s)
{
	int i;

	for (i = 0; i < DP_WORKERS_MAX; i++) {
		aead_free(s->tx[i]);	/* wipes the expanded key */
		aead_free(s->rx[i]);
	}
	aead_wipe(s, sizeof(*s));
	free(s);
}

struct dp_session *dp_session_new(const struct dp_key *k, int workers,
				  uint64_t now_ms)
{
	uint8_t tx[AEAD_KEY_LEN], rx[AEAD_KEY_LEN];
	struct dp_session *s;
	int i, err = -ENOMEM;

	if (workers < 1 || workers > DP_WORKERS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key_id = k->key_id;
	s->tx_next = 1;
	s->expires_ms = k->lifetime ? now_ms + (uint64_t)k->lifetime * 1000 : 0;
	/* counters start at 1: max_packets sends leave tx_next at max + 1 */
	s->tx_limit = k->max_packets ? (uint64_t)k->max_packets + 1 : 0;
	replay_init(&s->replay);
	pthread_spin_init(&s->replay_lock, PTHREAD_PROCESS_PRIVATE);

	err = aead_derive_keys(k->secret, k->initiator, tx, rx);
	if (err)
		goto err_wipe;
	for (i = 0; i < workers; i++) {
		s->tx[i] = aead_new(tx);
		s->rx[i] = aead_new(rx);
		if (!s->tx[i] || !s->rx[i]) {
			err = -errno;
			goto err_wipe;
		}
	}
	aead_wipe(tx, sizeof(tx));
	aead_wipe(rx, sizeof(rx));
	return s;

err_wipe:
	aead_wipe(tx, sizeof(tx));
	aead_wipe(rx, sizeof(rx));
	session_free(s);
	errno = err < 0 ? -err : EIO;
	return NULL;
}

void dp_session_retire(struct dp_peers *t, struct dp_session *s)
{
	struct dp_session **pp;

	if (!s)
		return;
	for (pp = &t->by_kid[hash32(s->key_id)]; *pp; pp = &(*pp)->kid_next) {
		if (*pp == s) {
			*pp = s->kid_next;
			break;
		}
	}
	session_free(s);
}

static void session_link(struct dp_peers *t, struct dp_peer *p,
			 struct dp_session *s)
{
	unsigned int h = hash32(s->key_id);

	s->peer = p;
	s->kid_next = t->by_kid[h];
	t->by_kid[h] = s;
}

/* cur <- @s, keeping the outgoing one for receive. */
static void session_shift(struct dp_peers *t, struct dp_peer *p,
			  struct dp_session *s)
{
	/*
	 * Keep the outgoing session for receive only: the peer may still
	 * send with it for a moment after it switched (key renewal without
	 * loss). The one before that is gone for good.
	 */
	dp_session_retire(t, p->prev);
	p->prev = p->cur;
	p->cur = s;
}

void dp_session_install(struct dp_peers *t, struct dp_peer *p,
			struct dp_session *s)
{
	/* A pending next key is newer than cur: it goes first. */
	if (p->next) {
		session_shift(t, p, p->next);
		p->next = NULL;
	}
	session_shift(t, p, s);
	session_link(t, p, s);
}

void dp_session_install_next(struct dp_peers *t, struct dp_peer *p,
			     struct dp_session *s)
{
	if (p->next) {
		/* Used by the peer: it is the current one now. Unused: the
		 * peer has moved on to @s, nothing will come under it. */
		if (__atomic_load_n(&p->next->rx_used, __ATOMIC_RELAXED))
			session_shift(t, p, p->next);
		else
			dp_session_retire(t, p->next);
	}
	p->next = s;
	session_link(t, p, s);
}

struct dp_pkt *dp_pending_pop(struct dp_peers *t, struct dp_peer *p)
{
	struct dp_pkt *q = p->pend_head;

	if (!q)
		return NULL;
	p->pend_head = q->next;
	if (!p->pend_head)
		p->pend_tail = NULL;
	__atomic_fetch_sub(&p->pending, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&t->held_pkts, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&t->held_bytes, DP_HELD_COST(q->len),
			   __ATOMIC_RELAXED);
	return q;
}

uint64_t dp_pending_expire(struct dp_peers *t, struct dp_peer *p,
			   uint64_t now_ms)
{
	uint64_t freed = 0;
	struct dp_pkt *q;

	/* FIFO: the oldest is at the head */
	while (p->pend_head &&
	       now_ms - p->pend_head->at_ms > DP_PENDING_TTL_MS) {
		q = dp_pending_pop(t, p);
		freed += DP_HELD_COST(q->len);
		free(q);
		DP_INC(p->drop[DP_DROP_PENDING]);
		DP_INC(t->ev[DP_EVENT_HELD_EXPIRED]);
	}
	return freed;
}

int dp_pending_push(struct dp_peers *t, struct dp_peer *p, const uint8_t *pkt,
		    uint32_t len, uint64_t now_ms)
{
	uint64_t cost = DP_HELD_COST(len);
	struct dp_pkt *q;

	/* Make room by expiring what waited too long; the sender retries. */
	dp_pending_expire(t, p, now_ms);
	if (p->pending >= DP_PENDING_MAX)
		return -ENOBUFS;
	/* reserve first: workers push concurrently (each under its peer's
	 * lock), the sum must never pass the cap */
	if (__atomic_add_fetch(&t->held_bytes, cost, __ATOMIC_RELAXED) >
	    DP_HELD_BYTES_MAX) {
		__atomic_fetch_sub(&t->held_bytes, cost, __ATOMIC_RELAXED);
		DP_INC(t->ev[DP_EVENT_HELD_CAP]);
		return -ENOSPC;
	}
	q = malloc(sizeof(*q) + len);
	if (!q) {
		__atomic_fetch_sub(&t->held_bytes, cost, __ATOMIC_RELAXED);
		return -ENOBUFS;
	}
	q->next = NULL;
	q->at_ms = now_ms;
	q->len = len;
	memcpy(q->data, pkt, len);
	if (p->pend_tail)
		p->pend_tail->next = q;
	else
		p->pend_head = q;
	p->pend_tail = q;
	DP_INC(p->pending);
	DP_INC(t->held_pkts);
	return 0;
}

uint32_t dp_pending_drop(struct dp_peers *t, struct dp_peer *p)
{
	uint32_t n = 0;

	while (p->pend_head) {
		free(dp_pending_pop(t, p));
		n++;
	}
	return n;
}

void dp_peers_free(struct dp_peers *t)
{
	unsigned int h;

	for (h = 0; h < (1u << DP_HASH_BITS); h++) {
		while (t->by_ip[h]) {
			struct dp_peer *p = t->by_ip[h];

			t->by_ip[h] = p->ip_next;
			dp_session_retire(t, p->prev);
			dp_session_retire(t, p->cur);
			dp_session_retire(t, p->next);
			dp_pending_drop(t, p);
			free(p);
		}
	}
	t->npeers = 0;
}
