// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data plane: the control thread's side of include/mavpn/datapath.h
 * (key install and removal, gateway routes, key requests, statistics).
 * Table changes take dp->lock for writing (see dp_internal.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp_internal.h"

/* --- counter families (mavpn/datapath.h) -------------------------------- */

#define DP_PEER_DESC(id, name, kind, unit, help) \
	{ name, help, kind, unit, NULL },

const struct counter_desc datapath_drop_desc[DP_DROP__COUNT] = {
	DP_DROP_REASONS(COUNTER_DESC_COUNTER)
};
const struct counter_desc datapath_peer_desc[DP_PEER__COUNT] = {
	DP_PEER_COUNTERS(DP_PEER_DESC)
};
const struct counter_desc datapath_frame_desc[DP_FRAME__COUNT] = {
	DP_FRAMES(COUNTER_DESC_COUNTER)
};
const struct counter_desc datapath_event_desc[DP_EVENT__COUNT] = {
	DP_EVENTS(COUNTER_DESC_COUNTER)
};
const struct counter_desc datapath_level_desc[DP_LEVEL__COUNT] = {
	DP_LEVELS(DP_PEER_DESC)
};
const struct counter_desc datapath_xsk_desc[DP_XSK__COUNT] = {
	DP_XSK_COUNTERS(COUNTER_DESC_COUNTER)
};

/* --- control-thread API ------------------------------------------------- */

int datapath_set_routes(struct datapath *dp, const struct dp_route *r, int n)
{
	int i;

	if (!dp || n < 0 || n > DP_ROUTES_MAX || (n && !r))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (r[i].prefix.family != AF_INET || !prefix_valid(&r[i].prefix))
			return -EINVAL;
	/* Workers read the table under the rdlock, once per batch. */
	pthread_rwlock_wrlock(&dp->lock);
	memcpy(dp->routes, r, (size_t)n * sizeof(*r));
	dp->nroutes = n;
	pthread_rwlock_unlock(&dp->lock);
	return 0;
}

int datapath_install_key(struct datapath *dp, const struct dp_key *k)
{
	struct dp_session *s;
	struct dp_peer *p;
	int err = 0;

	if (!dp || !k || !k->peer_overlay_ip || !k->peer_underlay_ip ||
	    !k->peer_port)
		return -EINVAL;
	s = dp_session_new(k, dp->cfg.workers, mono_ms());
	if (!s)
		return -errno;

	pthread_rwlock_wrlock(&dp->lock);
	/*
	 * A key id names one secret: installing it again would restart its
	 * tx counter at 1 and reuse nonces. Renewal comes with a new id.
	 */
	if (dp_session_find(&dp->peers, k->key_id)) {
		err = -EEXIST;
		goto out;
	}
	p = dp_peer_get(&dp->peers, k->peer_overlay_ip, mono_ms());
	if (!p) {
		err = -errno;
		goto out;
	}
	snprintf(p->name, sizeof(p->name), "%s", k->peer_name);
	p->path.ncand = k->ncand < 0 ? 0 : k->ncand > DP_CANDS_MAX ?
			DP_CANDS_MAX : k->ncand;
	memcpy(p->path.cand, k->cand, p->path.ncand * sizeof(k->cand[0]));
	p->path.installed_s = real_s();
	DP_STORE(p->path.rounds, 0);	/* probe the candidates again */
	/* A renewal keeps a path that answers (probes found it, or the
	 * peer roamed there); otherwise the server's choice. */
	if (dp_probe_path_alive(dp, p)) {
		/* keep p->underlay_ip and p->port */
	} else if (p->underlay_ip != k->peer_underlay_ip) {
		DP_STORE(p->path.confirmed_ms, 0);	/* not heard from there */
		p->underlay_ip = k->peer_underlay_ip;
		DP_STORE(p->mac, 0);	/* a new next hop, maybe */
		p->neigh_at_ms = 0;
	}
	if (!dp_probe_path_alive(dp, p))
		p->port = k->peer_port;
	/* A responder keeps sending under its live key until the initiator,
	 * which gets the new one a round trip later, uses it. The live key is
	 * the one we send with now: cur, or an earlier renewal still waiting
	 * in p->next that the peer already used (cur may have expired). */
	if (!k->initiator &&
	    dp_session_tx_live(dp_tx_session(p, mono_ms()), mono_ms()))
		dp_session_install_next(&dp->peers, p, s);
	else
		dp_session_install(&dp->peers, p, s);
	s = NULL;
	p->requested = 0;
out:
	pthread_rwlock_unlock(&dp->lock);
	if (s)
		dp_session_retire(&dp->peers, s);	/* not linked: frees */
	if (!err) {
		/* the first probe round at once: behind a NAT, the pushed
		 * side's probe opens its mapping before the grant reaches
		 * the requester and its held packets come */
		DP_STORE(dp->disco.step_ms, 0);
		dp_wake(dp->wake_fd);	/* the worker flushes held packets */
	}
	return err;
}

int datapath_remove_peer(struct datapath *dp, uint32_t overlay_ip)
{
	struct dp_peer *p;
	int had = 0;

	if (!dp)
		return -EINVAL;
	pthread_rwlock_wrlock(&dp->lock);
	p = dp_peer_find(&dp->peers, overlay_ip);
	if (p) {
		/* Workers are out (wrlock): the keys are wiped right here. */
		had = p->cur || p->prev || p->next;
		dp_session_retire(&dp->peers, p->next);
		dp_session_retire(&dp->peers, p->prev);
		dp_session_retire(&dp->peers, p->cur);
		p->next = p->prev = p->cur = NULL;
		DP_ADD(p->drop[DP_DROP_NO_KEY], dp_pending_drop(&dp->peers, p));
		/* new requests only after the retry interval */
		DP_STORE(p->requested, 1);
		DP_STORE(p->requested_ms, mono_ms());
	}
	pthread_rwlock_unlock(&dp->lock);
	return had ? 0 : -ENOENT;
}

void datapath_key_refused(struct datapath *dp, uint32_t overlay_ip)
{
	struct dp_peer *p;

	if (!dp)
		return;
	pthread_rwlock_wrlock(&dp->lock);
	p = dp_peer_find(&dp->peers, overlay_ip);
	if (p) {
		DP_ADD(p->drop[DP_DROP_NO_KEY], dp_pending_drop(&dp->peers, p));
		/* ask again only after the retry interval, not per packet */
		p->requested = 1;
		p->requested_ms = mono_ms();
	}
	pthread_rwlock_unlock(&dp->lock);
}

int datapath_request_fd(struct datapath *dp)
{
	return dp ? dp->req_fd : -EINVAL;
}

int datapath_next_request(struct datapath *dp, uint32_t *overlay_ip)
{
	uint64_t v;
	int got = 0;

	if (!dp || !overlay_ip)
		return -EINVAL;
	pthread_mutex_lock(&dp->req_lock);
	if (dp->req_len) {
		*overlay_ip = dp->req[dp->req_head];
		dp->req_head = (dp->req_head + 1) % DP_REQ_MAX;
		dp->req_len--;
		got = 1;
	}
	/* Drain the eventfd only when empty, so level-triggered polls work. */
	if (!dp->req_len && read(dp->req_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
	pthread_mutex_unlock(&dp->req_lock);
	return got;
}

int datapath_has_key(struct datapath *dp, uint32_t overlay_ip)
{
	struct dp_peer *p;
	int live = 0;

	if (!dp)
		return 0;
	pthread_rwlock_rdlock(&dp->lock);
	p = dp_peer_find(&dp->peers, overlay_ip);
	if (p)
		live = dp_session_tx_live(dp_tx_session(p, mono_ms()),
					  mono_ms());
	pthread_rwlock_unlock(&dp->lock);
	return live;
}

int datapath_peer_stats(struct datapath *dp, struct dp_peer_stats *out,
			int max)
{
	struct dp_peer *p;
	unsigned int h;
	int n = 0;

	if (!dp || !out || max <= 0)
		return 0;
	pthread_rwlock_rdlock(&dp->lock);
	for (h = 0; h < (1u << DP_HASH_BITS) && n < max; h++) {
		for (p = dp->peers.by_ip[h]; p && n < max; p = p->ip_next) {
			struct dp_peer_stats *o;

			/* keyless destinations are not peers (yet) */
			if (!p->cur)
				continue;
			o = &out[n++];

			memset(o, 0, sizeof(*o));
			snprintf(o->name, sizeof(o->name), "%s", p->name);
			o->overlay_ip = p->overlay_ip;
			o->underlay_ip = p->underlay_ip;
			o->port = p->port;
			o->path = dp_probe_relayed(p) ? DP_PATH_RELAY :
				  DP_LOAD(p->path.confirmed_ms) ?
				  DP_PATH_DIRECT : DP_PATH_UNKNOWN;
			o->last_handshake = p->path.installed_s;
			/* the key we send with */
			o->key_id = dp_tx_session(p, mono_ms())->key_id;
			dp_peer_counts(&dp->peers, p, o->cnt, o->drop);
			o->cnt[DP_PEER_PENDING] = DP_LOAD(p->pending);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
	return n;
}

const char *datapath_path_name(enum dp_path_state s)
{
	return s == DP_PATH_DIRECT ? "direct" : s == DP_PATH_RELAY ? "relay" :
	       "unconfirmed";
}

const char *datapath_xdp_mode_name(enum dp_xdp_mode m)
{
	switch (m) {
	case DP_XDP_MODE_COPY: return "copy";
	case DP_XDP_MODE_ZEROCOPY: return "zerocopy";
	default: return "auto";
	}
}

int datapath_xdp_mode_parse(const char *s, enum dp_xdp_mode *out)
{
	enum dp_xdp_mode m;

	for (m = DP_XDP_MODE_AUTO; m <= DP_XDP_MODE_ZEROCOPY; m++)
		if (!strcmp(s, datapath_xdp_mode_name(m))) {
			*out = m;
			return 0;
		}
	return -EINVAL;
}

void datapath_stats(struct datapath *dp, struct dp_stats *out)
{
	uint64_t cnt[DP_PEER__COUNT], drop[DP_DROP__COUNT];
	struct dp_peer *p;
	unsigned int h;
	int i, k;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!dp)
		return;
	out->workers = dp->nworkers;
	out->busy_poll_us = dp->cfg.busy_poll_us;
	out->xdp_mode = !dp->w[0] || dp->w[0]->ul.fd < 0 ? "udp" :
			dp->w[0]->ul.zerocopy ? "zerocopy" : "copy";
	/* the workers' own counters, summed here, not on the packet path */
	for (i = 0; i < dp->nworkers; i++) {
		const struct dp_wstats *st;

		if (!dp->w[i])
			continue;
		st = &dp->w[i]->st;
		for (k = 0; k < DP_FRAME__COUNT; k++)
			out->frames[k] += DP_LOAD(st->frames[k]);
		for (k = 0; k < DP_EVENT__COUNT; k++)
			out->events[k] += DP_LOAD(st->events[k]);
		for (k = 0; k < DP_DROP__COUNT; k++)
			out->drop[k] += DP_LOAD(st->drop[k]);
	}
	for (k = 0; k < DP_EVENT__COUNT; k++)
		out->events[k] += DP_LOAD(dp->peers.ev[k]);
	out->levels[DP_LEVEL_HELD_PACKETS] = DP_LOAD(dp->peers.held_pkts);
	out->levels[DP_LEVEL_HELD_BYTES] = DP_LOAD(dp->peers.held_bytes);
	/* drops: the workers', plus every peer's, plus those of peers
	 * reclaimed from a full table */
	pthread_rwlock_rdlock(&dp->lock);
	for (k = 0; k < DP_DROP__COUNT; k++)
		out->drop[k] += dp->peers.gone_drop[k];
	out->levels[DP_LEVEL_PEERS] = dp->peers.npeers;
	for (h = 0; h < (1u << DP_HASH_BITS); h++)
		for (p = dp->peers.by_ip[h]; p; p = p->ip_next) {
			dp_peer_counts(&dp->peers, p, cnt, drop);
			for (k = 0; k < DP_DROP__COUNT; k++)
				out->drop[k] += drop[k];
		}
	pthread_rwlock_unlock(&dp->lock);
}

/* getsockopt reads kernel counters: safe while the worker uses the rings. */
int datapath_ring_stats(struct datapath *dp,
			struct dp_ring_stats out[DP_RING_MAX])
{
	int k;
	struct xdp_statistics xs;
	socklen_t len;
	uint64_t *c;
	int i;

	memset(out, 0, sizeof(*out) * DP_RING_MAX);
	/* summed over the workers' sockets */
	for (k = 0; k < dp->nworkers; k++) {
		struct dp_xsk *x[DP_RING_MAX] = { &dp->w[k]->ov, &dp->w[k]->ul };

		for (i = 0; i < DP_RING_MAX; i++) {
			if (!x[i]->xsk)
				continue;
			memset(&xs, 0, sizeof(xs));
			len = sizeof(xs);
			if (getsockopt(xsk_socket__fd(x[i]->xsk), SOL_XDP,
				       XDP_STATISTICS, &xs, &len))
				return -errno;
			c = out[i].cnt;
			c[DP_XSK_RX_DROPPED] += xs.rx_dropped;
			c[DP_XSK_RX_RING_FULL] += xs.rx_ring_full;
			c[DP_XSK_FILL_RING_EMPTY] += xs.rx_fill_ring_empty_descs;
			c[DP_XSK_TX_RING_EMPTY] += xs.tx_ring_empty_descs;
			c[DP_XSK_RX_INVALID_DESCS] += xs.rx_invalid_descs;
			c[DP_XSK_TX_INVALID_DESCS] += xs.tx_invalid_descs;
		}
	}
	return 0;
}
