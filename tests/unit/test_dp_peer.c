// SPDX-License-Identifier: GPL-2.0-only
/*
 * The data plane's peer table (ctl/datapath/dp_peer.c): a table filled with
 * key-less destinations still takes a new peer (an idle entry is
 * reclaimed), an entry with a session, a key request in flight, a next-hop
 * lookup queued or a young age is never reclaimed, one with only held
 * packets is (they are dropped and counted); held packets expire after
 * DP_PENDING_TTL_MS and all peers together hold at most DP_HELD_BYTES_MAX.
 * And the session a peer sends with across a renewal (dp_peer.h): never a
 * renewed key the other side may not have yet while the old one, which the
 * other side still uses, is within its grace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_peer.h"

#define T0	1000000ull		/* "now" when the table was filled */
#define LATER	(T0 + DP_REQ_RETRY_MS)	/* fillers are idle by then */
#define BASE	0x0a400000u		/* 10.64.0.0, host order */

static uint32_t addr(uint32_t i)
{
	return htonl(BASE + i);
}

static int setup(void **state)
{
	struct dp_peers *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct dp_peers *t = *state;

	dp_peers_free(t);
	free(t);
	return 0;
}

/* DP_MAX_PEERS key-less peers created at T0 (addresses 1..MAX). */
static void fill(struct dp_peers *t)
{
	uint32_t i;

	for (i = 1; i <= DP_MAX_PEERS; i++)
		assert_non_null(dp_peer_get(t, addr(i), T0));
	assert_int_equal(t->npeers, DP_MAX_PEERS);
}

static struct dp_session *session(uint32_t key_id, uint32_t overlay_ip)
{
	struct dp_key k = {
		.key_id = key_id,
		.initiator = 1,
		.peer_name = "test",
		.peer_overlay_ip = overlay_ip,
		.peer_underlay_ip = htonl(0xc0a80002u),
		.peer_port = 4500,
	};
	struct dp_session *s;

	memset(k.secret, 0x5a, sizeof(k.secret));
	s = dp_session_new(&k, 1, T0);
	assert_non_null(s);
	return s;
}

static int count(struct dp_peers *t)
{
	struct dp_peer *p;
	unsigned int h;
	int n = 0;

	for (h = 0; h < (1u << DP_HASH_BITS); h++)
		for (p = t->by_ip[h]; p; p = p->ip_next)
			n++;
	return n;
}

static void test_get_finds_existing(void **state)
{
	struct dp_peers *t = *state;
	struct dp_peer *p = dp_peer_get(t, addr(1), T0);

	assert_non_null(p);
	assert_ptr_equal(dp_peer_get(t, addr(1), T0), p);
	assert_ptr_equal(dp_peer_find(t, addr(1)), p);
	assert_int_equal(t->npeers, 1);
}

/* The defect: a full table of key-less peers refused every new one. */
static void test_full_table_reclaims_keyless(void **state)
{
	struct dp_peers *t = *state;
	uint32_t i;

	fill(t);
	/* still young: kept, the table is full */
	errno = 0;
	assert_null(dp_peer_get(t, addr(DP_MAX_PEERS + 1), T0 + 1));
	assert_int_equal(errno, ENOSPC);
	/* idle later: each new destination takes an old entry's place */
	for (i = 1; i <= DP_MAX_PEERS; i++) {
		uint32_t a = addr(DP_MAX_PEERS + i);

		assert_non_null(dp_peer_get(t, a, LATER));
		assert_non_null(dp_peer_find(t, a));
		assert_int_equal(t->npeers, DP_MAX_PEERS);
	}
	for (i = 1; i <= DP_MAX_PEERS; i++)
		assert_null(dp_peer_find(t, addr(i)));
	/* the new ones are young now: kept */
	assert_null(dp_peer_get(t, addr(3 * DP_MAX_PEERS), LATER + 1));
	/* and idle in their turn, a retry interval later */
	for (i = 1; i <= DP_MAX_PEERS; i++)
		assert_non_null(dp_peer_get(t, addr(2 * DP_MAX_PEERS + i),
					    LATER + DP_REQ_RETRY_MS));
	assert_int_equal(t->npeers, DP_MAX_PEERS);
	assert_int_equal(count(t), DP_MAX_PEERS);
}

/* A key can be installed for a new peer in a table full of key-less ones
 * (the control thread's path, datapath_install_key()). */
static void test_full_table_key_install(void **state)
{
	struct dp_peers *t = *state;
	uint32_t a = addr(DP_MAX_PEERS + 7);
	struct dp_session *s = session(77, a);
	struct dp_peer *p;

	fill(t);
	p = dp_peer_get(t, a, LATER);
	assert_non_null(p);
	dp_session_install(t, p, s);
	assert_ptr_equal(dp_session_find(t, 77), s);
	assert_ptr_equal(s->peer, p);
}

/*
 * Every peer that is busy (session in cur, prev or next; held packets; a
 * recent key request; a queued next-hop lookup) survives any number of
 * reclaims; once only busy peers are left, dp_peer_get() fails instead.
 */
static void test_busy_never_reclaimed(void **state)
{
	struct dp_peers *t = *state;
	enum { CUR = 1, PREV, NEXT, REQ, NEIGH, FLAG, NBUSY = FLAG };
	struct dp_peer *busy[NBUSY + 1];
	struct dp_session *old;
	uint32_t i;

	fill(t);
	for (i = 1; i <= NBUSY; i++)
		busy[i] = dp_peer_find(t, addr(i));
	dp_session_install(t, busy[CUR], session(1, addr(CUR)));
	/* prev only: install two, then drop cur by hand (as removal would
	 * leave it, minus prev) */
	old = session(2, addr(PREV));
	dp_session_install(t, busy[PREV], old);
	dp_session_install(t, busy[PREV], session(3, addr(PREV)));
	assert_ptr_equal(busy[PREV]->prev, old);
	dp_session_retire(t, busy[PREV]->cur);
	busy[PREV]->cur = NULL;
	dp_session_install_next(t, busy[NEXT], session(4, addr(NEXT)));
	assert_null(busy[NEXT]->cur);
	assert_non_null(busy[NEXT]->next);
	busy[REQ]->requested = 1;
	/* asked just under the retry interval before LATER: in flight */
	busy[REQ]->requested_ms = LATER - DP_REQ_RETRY_MS + 1;
	busy[NEIGH]->neigh_queued = 1;
	busy[FLAG]->neigh_flag = 1;

	/* reclaim every other peer, and then some */
	for (i = 1; i <= DP_MAX_PEERS - NBUSY; i++)
		assert_non_null(dp_peer_get(t, addr(DP_MAX_PEERS + i), LATER));
	/* now only busy peers and young ones are left */
	errno = 0;
	assert_null(dp_peer_get(t, addr(3 * DP_MAX_PEERS), LATER));
	assert_int_equal(errno, ENOSPC);
	for (i = 1; i <= NBUSY; i++)
		assert_ptr_equal(dp_peer_find(t, addr(i)), busy[i]);
	assert_ptr_equal(dp_session_find(t, 1)->peer, busy[CUR]);
	assert_ptr_equal(dp_session_find(t, 2)->peer, busy[PREV]);
	assert_ptr_equal(dp_session_find(t, 4)->peer, busy[NEXT]);

	/* a moment later the request is stale (the peers made at LATER
	 * are still young): that peer, and only it, can go */
	assert_non_null(dp_peer_get(t, addr(3 * DP_MAX_PEERS), LATER + 1));
	assert_null(dp_peer_find(t, addr(REQ)));
	for (i = 1; i <= NBUSY; i++)
		if (i != REQ)
			assert_ptr_equal(dp_peer_find(t, addr(i)), busy[i]);
	assert_int_equal(t->npeers, DP_MAX_PEERS);
	assert_int_equal(count(t), DP_MAX_PEERS);
}

/* Drop counters of a reclaimed peer are kept in the table's totals. */
static void test_reclaim_keeps_drop_counters(void **state)
{
	struct dp_peers *t = *state;
	struct dp_peer *p;
	uint32_t next = DP_MAX_PEERS + 1;
	int r;

	fill(t);
	p = dp_peer_find(t, addr(1));
	for (r = 0; r < DP_DROP__COUNT; r++)
		p->drop[r] = r + 1;
	while (dp_peer_find(t, addr(1))) {
		assert_true(next <= 2 * DP_MAX_PEERS);
		assert_non_null(dp_peer_get(t, addr(next++), LATER));
	}
	for (r = 0; r < DP_DROP__COUNT; r++)
		assert_true(t->gone_drop[r] >= (uint64_t)r + 1);
}

/*
 * Per-worker counters: each worker has its own slot in every peer (one
 * cache line each), and a read sums the shared counters and all slots;
 * a reclaimed peer's drops from every slot reach the table's totals.
 */
static void test_per_worker_counters(void **state)
{
	uint64_t cnt[DP_PEER__COUNT], drop[DP_DROP__COUNT];
	struct dp_peers *t = *state;
	struct dp_peer *p;
	uint32_t next = DP_MAX_PEERS + 1;
	int w;

	t->workers = 3;
	p = dp_peer_get(t, addr(1), T0);
	assert_non_null(p);
	assert_int_equal((uintptr_t)&p->wc[0] % 64, 0);
	assert_true((char *)&p->wc[1] - (char *)&p->wc[0] >= 64);
	for (w = 0; w < 3; w++) {
		DP_WADD(p->wc[w].cnt[DP_PEER_TX_PACKETS], 10u << w);
		DP_WINC(p->wc[w].drop[DP_DROP_AUTH]);
	}
	DP_INC(p->drop[DP_DROP_AUTH]);
	DP_INC(p->drop[DP_DROP_NO_KEY]);
	dp_peer_counts(t, p, cnt, drop);
	assert_int_equal(cnt[DP_PEER_TX_PACKETS], 10 + 20 + 40);
	assert_int_equal(cnt[DP_PEER_RX_PACKETS], 0);
	assert_int_equal(drop[DP_DROP_AUTH], 4);
	assert_int_equal(drop[DP_DROP_NO_KEY], 1);

	for (w = 2; w <= DP_MAX_PEERS; w++)
		assert_non_null(dp_peer_get(t, addr(w), T0));
	while (dp_peer_find(t, addr(1))) {
		assert_true(next <= 2 * DP_MAX_PEERS);
		assert_non_null(dp_peer_get(t, addr(next++), LATER));
	}
	assert_int_equal(t->gone_drop[DP_DROP_AUTH], 4);
	assert_int_equal(t->gone_drop[DP_DROP_NO_KEY], 1);
}

/* A responder's session of @lifetime s, pushed at @at. */
static struct dp_session *pushed(uint32_t key_id, uint32_t lifetime,
				 uint64_t at)
{
	struct dp_key k = {
		.key_id = key_id,
		.initiator = 0,
		.lifetime = lifetime,
		.peer_name = "test",
		.peer_overlay_ip = addr(1),
		.peer_underlay_ip = htonl(0xc0a80002u),
		.peer_port = 4500,
	};
	struct dp_session *s;

	memset(k.secret, 0x5a, sizeof(k.secret));
	s = dp_session_new(&k, 1, at);
	assert_non_null(s);
	return s;
}

/*
 * The responder's side of a renewal under a slow control plane: its copy
 * of the old key runs out (it counts from the push) before the initiator,
 * granted the new key a round trip later, sends under it. Until then the
 * answers must keep going under the old key: the initiator cannot open
 * the new one yet. The defect: they went under the new key and were lost.
 */
static void test_renewal_tx_grace(void **state)
{
	struct dp_peers *t = *state;
	struct dp_peer *p = dp_peer_get(t, addr(1), T0);
	struct dp_session *old = pushed(1, 4, T0), *new;
	uint64_t end = T0 + 4000;

	assert_non_null(p);
	dp_session_install(t, p, old);
	assert_ptr_equal(dp_tx_session(p, T0), old);
	assert_true(dp_session_tx_live(old, end - 1));
	/* unused by the peer: it ends with its lifetime */
	assert_false(dp_session_tx_live(old, end));

	old->rx_used = 1;		/* the initiator sends under it */
	new = pushed(2, 4, end - 500);	/* the renewal, pushed at 3.5 s */
	dp_session_install_next(t, p, new);
	assert_ptr_equal(dp_tx_session(p, end - 500), old);
	/* ran out here, the initiator has not used the new key yet */
	assert_true(dp_session_tx_live(old, end + 100));
	assert_ptr_equal(dp_tx_session(p, end + 100), old);
	assert_ptr_equal(dp_tx_session(p, end + DP_TX_GRACE_MS - 1), old);
	/* the grace is bounded: then the renewed key, used or not */
	assert_false(dp_session_tx_live(old, end + DP_TX_GRACE_MS));
	assert_ptr_equal(dp_tx_session(p, end + DP_TX_GRACE_MS), new);
	/* the initiator sends under the new key: ours at once */
	new->rx_used = 1;
	assert_ptr_equal(dp_tx_session(p, end + 100), new);
	assert_ptr_equal(dp_tx_session(p, end - 500), new);
}

/* A packet limit is a hard end: no grace. */
static void test_packet_limit_no_grace(void **state)
{
	struct dp_peers *t = *state;
	struct dp_peer *p = dp_peer_get(t, addr(1), T0);
	struct dp_session *s = pushed(3, 4, T0);

	assert_non_null(p);
	dp_session_install(t, p, s);
	s->rx_used = 1;
	s->tx_limit = 301;
	s->tx_next = 300;
	assert_true(dp_session_tx_live(s, T0 + 1));
	s->tx_next = 301;
	assert_false(dp_session_tx_live(s, T0 + 1));
	s->tx_next = DP_COUNTER_MAX;
	s->tx_limit = 0;
	assert_false(dp_session_tx_live(s, T0 + 1));
}

/* A key-less peer that only holds packets is reclaimed, dropping them. */
static void test_held_only_reclaimed(void **state)
{
	struct dp_peers *t = *state;
	uint8_t pkt[100] = { 0x45 };
	uint32_t i, next = DP_MAX_PEERS + 1;

	fill(t);
	for (i = 1; i <= DP_MAX_PEERS; i++)
		assert_int_equal(dp_pending_push(t, dp_peer_find(t, addr(i)),
						 pkt, sizeof(pkt), T0 + 1), 0);
	assert_int_equal(t->held_pkts, DP_MAX_PEERS);
	/* the fillers hold a packet each and still make room */
	for (i = 0; i < 10; i++)
		assert_non_null(dp_peer_get(t, addr(next++), LATER));
	assert_int_equal(t->npeers, DP_MAX_PEERS);
	assert_int_equal(t->held_pkts, DP_MAX_PEERS - 10);
	assert_int_equal(t->held_bytes,
			 (DP_MAX_PEERS - 10) * DP_HELD_COST(sizeof(pkt)));
	assert_int_equal(t->ev[DP_EVENT_PEERS_RECLAIMED], 10);
	assert_int_equal(t->gone_drop[DP_DROP_PENDING], 10);
}

/* The global cap holds across peers; expiry frees and counts. */
static void test_held_cap_and_expiry(void **state)
{
	struct dp_peers *t = *state;
	static uint8_t pkt[1400] = { 0x45 };
	uint32_t i, ok = 0, capped = 0;
	struct dp_peer *p;
	int err;

	/* a few packets to each of many peers: the per-peer limit is far */
	for (i = 1; i <= 2000; i++) {
		p = dp_peer_get(t, addr(i), T0);
		assert_non_null(p);
		for (int k = 0; k < 4; k++) {
			err = dp_pending_push(t, p, pkt, sizeof(pkt), T0);
			if (!err)
				ok++;
			else if (err == -ENOSPC)
				capped++;
			else
				fail_msg("push: %d", err);
		}
	}
	assert_true(capped > 0);
	assert_true(t->held_bytes <= DP_HELD_BYTES_MAX);
	assert_true(t->held_bytes > DP_HELD_BYTES_MAX -
				    DP_HELD_COST(sizeof(pkt)));
	assert_int_equal(t->held_pkts, ok);
	assert_int_equal(t->ev[DP_EVENT_HELD_CAP], capped);
	assert_int_equal(t->ev[DP_EVENT_HELD_EXPIRED], 0);

	/* not yet: exactly the hold time is still fine */
	p = dp_peer_find(t, addr(1));
	assert_int_equal(dp_pending_expire(t, p, T0 + DP_PENDING_TTL_MS), 0);
	/* past it: every peer's packets go, the account is back to 0 */
	for (i = 1; i <= 2000; i++)
		dp_pending_expire(t, dp_peer_find(t, addr(i)),
				  T0 + DP_PENDING_TTL_MS + 1);
	assert_int_equal(t->held_bytes, 0);
	assert_int_equal(t->held_pkts, 0);
	assert_int_equal(t->ev[DP_EVENT_HELD_EXPIRED], ok);
	/* room again */
	assert_int_equal(dp_pending_push(t, p, pkt, sizeof(pkt),
					 T0 + DP_PENDING_TTL_MS + 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_finds_existing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_table_reclaims_keyless,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_table_key_install,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_never_reclaimed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_only_reclaimed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_cap_and_expiry,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_keeps_drop_counters,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_worker_counters,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_renewal_tx_grace,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_packet_limit_no_grace,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
