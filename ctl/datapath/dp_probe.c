// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data plane: the data port's messages besides data (mavpn/probe.h,
 * docs/protocol.md "Discovery, probes, keepalives").
 *
 * Discovery. Worker 0 sends DISCO_REQ from our data port (the kernel UDP
 * socket bound to it, so the source port is the one peers must reach) to
 * the server's UDP port, sealed with the per-connection probe key of
 * HELLO_ACK; the answer, sealed likewise, names the address and port the
 * server saw: our server-reflexive endpoint, which vpnd reports to the
 * server as a candidate. Not our own address and port: a NAT is between.
 * Data leaves from the flow-hash source port (RSS) only between two hosts
 * that know neither is behind a NAT (dp_probe_hashed()), else from the
 * data port: a hashed port would open one NAT mapping per flow, none of
 * them the one the peer knows.
 *
 * Paths. After a key install worker 0 sends a round of PROBEs, sealed
 * under the session key, to every candidate of the peer at once, each
 * DP_PROBE_RETRY_MS until one answers (DP_PROBE_ROUNDS fast rounds, then
 * one per keepalive interval while the peer is active): the first
 * authenticated PROBE_ACK of a round names the path (the fastest to
 * answer). A PROBE from the peer is answered to where it came from (the
 * two sides' probes open both NATs' mappings: hole punching) and, while
 * we have no live path, taken as the path. Authenticated data and
 * keepalives from the endpoint keep the path alive (confirmed_ms); from
 * elsewhere they move it (roaming). Worker 0 sends a KEEPALIVE to an
 * active peer (data either way within 3 keepalive intervals) every
 * keepalive interval, so NAT mappings stay open while it is in use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "mavpn/aead.h"
#include "mavpn/log.h"
#include "mavpn/probe.h"
#include "dp_decap.h"
#include "dp_internal.h"

static uint64_t ka_ms(const struct datapath *dp)
{
	return 1000ull * (dp->cfg.keepalive_s ? dp->cfg.keepalive_s :
			  DP_KEEPALIVE_DEFAULT_S);
}

void dp_probe_init(struct datapath *dp)
{
	pthread_mutex_init(&dp->disco.lock, NULL);
}

void dp_probe_fini(struct datapath *dp)
{
	aead_free(dp->disco.a);
	dp->disco.a = NULL;
	pthread_mutex_destroy(&dp->disco.lock);
}

static void send_udp(struct datapath *dp, const void *buf, size_t len,
		     uint32_t ip, uint16_t port)
{
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_port = htons(port),
		.sin_addr.s_addr = ip,
	};

	/* unreachable candidates fail here; the next round tries again */
	if (sendto(dp->udp_fd, buf, len, MSG_DONTWAIT,
		   (struct sockaddr *)&to, sizeof(to)) < 0) {
	}
}

static const char *ep_str(uint32_t ip, uint16_t port, char *buf, size_t n)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	snprintf(buf, n, "%s:%u", a, port);
	return buf;
}

/* --- discovery ----------------------------------------------------------- */

int datapath_disco_set(struct datapath *dp, const struct dp_endpoint *server,
		       uint32_t probe_id, const uint8_t key[AEAD_KEY_LEN])
{
	struct dp_disco *d;
	struct aead *a = NULL, *old;

	if (!dp || (server && (!server->ip || !server->port || !key)))
		return -EINVAL;
	d = &dp->disco;
	if (server) {
		a = aead_new(key);
		if (!a)
			return -errno;
	}
	pthread_mutex_lock(&d->lock);
	old = d->a;
	d->a = a;
	d->on = !!server;
	if (server) {
		d->server = *server;
		d->id = probe_id;
		d->ctr = 0;
		d->next_ms = 0;
		d->retry_ms = DP_DISCO_RETRY_MS;
	}
	pthread_mutex_unlock(&d->lock);
	aead_free(old);
	return 0;
}

int datapath_disco_result(struct datapath *dp, struct dp_endpoint *out,
			  int *nat)
{
	int known;

	if (!dp || !out)
		return -EINVAL;
	pthread_mutex_lock(&dp->disco.lock);
	known = dp->disco.known;
	if (known)
		*out = dp->disco.result;
	if (nat)
		*nat = DP_LOAD(dp->disco.nat);
	pthread_mutex_unlock(&dp->disco.lock);
	return known;
}

static void disco_step(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	struct dp_disco *d = &dp->disco;
	uint8_t body[PROBE_DISCO_BODY] = { 0 }, out[PROBE_DISCO_LEN];
	struct probe_disco h = { .type = MAVPN_MSG_DISCO_REQ };
	struct dp_endpoint to;
	int n;

	pthread_mutex_lock(&d->lock);
	if (!d->on || now < d->next_ms) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	h.id = d->id;
	h.counter = ++d->ctr;
	n = probe_disco_seal(d->a, &h, body, out);
	to = d->server;
	d->next_ms = now + d->retry_ms;
	d->retry_ms = d->retry_ms * 2 > DP_DISCO_RETRY_MAX_MS ?
		      DP_DISCO_RETRY_MAX_MS : d->retry_ms * 2;
	pthread_mutex_unlock(&d->lock);
	if (n != PROBE_DISCO_LEN)
		return;
	send_udp(dp, out, sizeof(out), to.ip, to.port);
	DP_WINC(w->st.events[DP_EVENT_DISCO_SENT]);
}

static void disco_rx(struct dp_worker *w, const uint8_t *pl, uint32_t len,
		     uint32_t src, uint16_t sport, uint64_t now)
{
	struct datapath *dp = w->dp;
	struct dp_disco *d = &dp->disco;
	uint8_t body[PROBE_DISCO_BODY];
	struct dp_endpoint ep, old;
	struct probe_disco h;
	int ok = 0, changed = 0, was_known, nat;
	char a[32], b[32];

	if (probe_disco_peek(pl, len, &h) || h.type != MAVPN_MSG_DISCO_RESP) {
		DP_WINC(w->st.drop[DP_DROP_MALFORMED]);
		return;
	}
	pthread_mutex_lock(&d->lock);
	/* only the answer to our last request, from the server itself */
	if (d->on && h.id == d->id && h.counter == d->ctr &&
	    src == d->server.ip && ntohs(sport) == d->server.port) {
		if (probe_disco_open(d->a, pl, len, body) ||
		    probe_ep_get(body, &ep.ip, &ep.port))
			ok = -1;
		else
			ok = 1;
	}
	if (ok > 0) {
		d->ctr++;		/* the same answer again: not new */
		was_known = d->known;
		old = d->result;
		changed = !was_known || old.ip != ep.ip || old.port != ep.port;
		d->known = 1;
		d->result = ep;
		d->next_ms = now + ka_ms(dp);
		d->retry_ms = DP_DISCO_RETRY_MS;
	}
	pthread_mutex_unlock(&d->lock);
	if (ok <= 0) {
		DP_WINC(w->st.drop[ok ? DP_DROP_AUTH : DP_DROP_MALFORMED]);
		return;
	}
	DP_WINC(w->st.events[DP_EVENT_DISCO_ANSWERS]);
	nat = ep.port != dp->cfg.port ||
	      ep.ip != dp_ifconf_ipv4(dp->ul_name);
	if (DP_LOAD(d->nat) != nat)
		DP_STORE(d->nat, nat);
	if (changed)
		log_info("datapath: discovered endpoint=%s nat=%s server=%s",
			 ep_str(ep.ip, ep.port, a, sizeof(a)),
			 nat ? "yes" : "no",
			 ep_str(src, ntohs(sport), b, sizeof(b)));
}

/* --- relay --------------------------------------------------------------- */

/*
 * Wrap the datagram at @buf + PROBE_RELAY_HDR (@len bytes; @buf has room
 * for the header before it and the tag after it) into a RELAY for the peer
 * @dst and send it to the server. 0 or -errno.
 */
static int relay_send(struct dp_worker *w, uint32_t dst, uint8_t *buf,
		      size_t cap, size_t len)
{
	struct datapath *dp = w->dp;
	struct dp_disco *d = &dp->disco;
	struct probe_relay r = {
		.dst = dst, .inner = buf + PROBE_RELAY_HDR, .inner_len = len,
	};
	struct dp_endpoint to;
	int n = -ENOTCONN;

	pthread_mutex_lock(&d->lock);
	if (d->on && d->known) {
		r.id = d->id;
		r.counter = ++d->relay_ctr;
		n = probe_relay_seal(d->a, &r, buf, cap);
		to = d->server;
	}
	pthread_mutex_unlock(&d->lock);
	if (n < 0)
		return n;
	send_udp(dp, buf, (size_t)n, to.ip, to.port);
	DP_WINC(w->st.events[DP_EVENT_RELAY_SENT]);
	return 0;
}

int dp_probe_relay_tx(struct dp_worker *w, struct dp_peer *p,
		      struct dp_session *s, const uint8_t *pkt, uint32_t len)
{
	uint8_t buf[PROBE_RELAY_HDR + MAVPN_DATA_HDR_LEN + DP_XSK_FRAME_SIZE +
		    2 * AEAD_TAG_LEN];
	uint8_t nonce[MAVPN_NONCE_LEN], *hdr = buf + PROBE_RELAY_HDR;
	uint64_t ctr;
	int n;

	if (len > DP_XSK_FRAME_SIZE)
		return -EMSGSIZE;
	ctr = __atomic_fetch_add(&s->tx_next, 1, __ATOMIC_RELAXED);
	wire_hdr_encode(hdr, s->key_id, ctr);
	wire_nonce(nonce, ctr);
	n = aead_seal(s->tx[w->id], nonce, hdr, MAVPN_DATA_HDR_LEN, pkt, len,
		      hdr + MAVPN_DATA_HDR_LEN);
	if (n < 0)
		return n;
	return relay_send(w, p->overlay_ip, buf, sizeof(buf),
			  MAVPN_DATA_HDR_LEN + (size_t)n);
}

/* A RELAYED from the server: the inner datagram as if it came, with no
 * source (it moves no endpoint). */
static void relayed_rx(struct dp_worker *w, const uint8_t *pl, uint32_t len,
		       uint32_t src, uint16_t sport, uint64_t now)
{
	struct datapath *dp = w->dp;
	struct dp_disco *d = &dp->disco;
	const uint8_t *inner;
	size_t ilen;
	uint32_t from;
	int ok;

	pthread_mutex_lock(&d->lock);
	ok = d->on && src == d->server.ip && ntohs(sport) == d->server.port;
	pthread_mutex_unlock(&d->lock);
	if (!ok || probe_relayed_peek(pl, len, &from, &inner, &ilen) ||
	    inner[0] == MAVPN_MSG_RELAYED || inner[0] == MAVPN_MSG_RELAY) {
		DP_WINC(w->st.drop[DP_DROP_MALFORMED]);
		return;
	}
	DP_WINC(w->st.events[DP_EVENT_RELAY_RECEIVED]);
	dp_rx_payload(w, inner, (uint32_t)ilen, 0, 0, now);
}

/* --- paths --------------------------------------------------------------- */

static int session_rx_live(const struct dp_session *s, uint64_t now)
{
	return !s->expires_ms || now < s->expires_ms + DP_RX_GRACE_MS;
}

/* Has the current endpoint been heard from lately? */
static int path_alive(const struct datapath *dp, const struct dp_peer *p,
		      uint64_t now)
{
	uint64_t c = DP_LOAD(p->path.confirmed_ms);

	return c && now - c < 3 * ka_ms(dp);
}

int dp_probe_path_alive(struct datapath *dp, const struct dp_peer *p)
{
	return path_alive(dp, p, mono_ms());
}

/* Send to @p at @ip:@port from now on. */
static void path_set(struct dp_worker *w, struct dp_peer *p, uint32_t ip,
		     uint16_t port, const char *why)
{
	uint32_t old_ip = DP_LOAD(p->underlay_ip);
	uint16_t old_port = DP_LOAD(p->port);
	char a[32], b[32];

	if (old_ip == ip && old_port == port)
		return;
	DP_STORE(p->port, port);
	DP_STORE(p->underlay_ip, ip);
	DP_WINC(w->st.events[DP_EVENT_PATH_CHANGES]);
	log_info("datapath: peer moved peer=%s underlay=%s new_underlay=%s via=%s",
		 p->name, ep_str(old_ip, old_port, a, sizeof(a)),
		 ep_str(ip, port, b, sizeof(b)), why);
	if (old_ip != ip)
		dp_neigh_ask(w, p);
}

/* Something authenticated came straight from the endpoint: the path is
 * alive, and direct. */
static void confirm(struct dp_peer *p, uint64_t now)
{
	if (DP_LOAD(p->path.confirmed_ms) != now)
		DP_STORE(p->path.confirmed_ms, now);
	if (DP_LOAD(p->path.relay)) {
		DP_STORE(p->path.relay, 0);
		log_info("datapath: peer=%s path=direct (was relay)", p->name);
	}
}

/* Seal a probe of @type for @p and send it to @ip:@port. */
static void peer_send(struct dp_worker *w, struct dp_peer *p, uint8_t type,
		      const struct probe_body *b, uint32_t ip, uint16_t port,
		      uint64_t now)
{
	struct dp_session *s = dp_tx_session(p, now);
	uint8_t buf[PROBE_RELAY_HDR + PROBE_PEER_LEN + AEAD_TAG_LEN];
	uint8_t *out = buf + PROBE_RELAY_HDR;
	uint64_t ctr;

	if (!dp_session_tx_live(s, now))
		return;
	/* the session's key, a counter range of its own (dp_peer.h) */
	ctr = DP_PROBE_CTR_BASE +
	      __atomic_fetch_add(&s->probe_tx_next, 1, __ATOMIC_RELAXED);
	if (probe_peer_seal(s->tx[w->id], type, s->key_id, ctr, b, out) !=
	    PROBE_PEER_LEN)
		return;
	if (ip)
		send_udp(w->dp, out, PROBE_PEER_LEN, ip, port);
	else		/* the probe came through the relay: answer so */
		relay_send(w, p->overlay_ip, buf, sizeof(buf), PROBE_PEER_LEN);
}

static uint8_t our_flags(const struct datapath *dp)
{
	return DP_LOAD(dp->disco.nat) ? PROBE_F_NAT : 0;
}

/* One probe round: every candidate and the current endpoint at once. */
static void probe_round(struct dp_worker *w, struct dp_peer *p, uint64_t now)
{
	struct dp_path *pa = &p->path;
	struct probe_body b = { .flags = our_flags(w->dp) };
	struct dp_endpoint to[DP_CANDS_MAX + 2];
	int n = 0, i, j;

	b.token = (now << 20) ^ ((uint64_t)p->overlay_ip << 8) ^
		  (pa->token + 0x9e3779b97f4a7c15ull);
	if (!b.token)
		b.token = 1;
	DP_STORE(pa->token, b.token);
	DP_STORE(pa->round_acked, 0);
	to[n].ip = DP_LOAD(p->underlay_ip);
	to[n++].port = DP_LOAD(p->port);
	if (DP_LOAD(pa->hint)) {
		to[n].ip = (uint32_t)(DP_LOAD(pa->hint) >> 16);
		to[n++].port = (uint16_t)DP_LOAD(pa->hint);
	}
	for (i = 0; i < pa->ncand && i < DP_CANDS_MAX; i++) {
		for (j = 0; j < n; j++)
			if (to[j].ip == pa->cand[i].ip &&
			    to[j].port == pa->cand[i].port)
				break;
		if (j == n)
			to[n++] = pa->cand[i];
	}
	for (i = 0; i < n; i++) {
		if (!to[i].ip || !to[i].port)
			continue;
		peer_send(w, p, MAVPN_MSG_PROBE, &b, to[i].ip, to[i].port, now);
		DP_WINC(w->st.events[DP_EVENT_PROBES_SENT]);
	}
	/*
	 * Through the relay as well, naming where we are now (our
	 * discovered endpoint), so that the peer probes it even when the
	 * candidates the server gave it are stale (our NAT changed since):
	 * the answer to a stale candidate never comes.
	 */
	if (DP_LOAD(pa->relay)) {
		struct dp_endpoint me;

		if (datapath_disco_result(w->dp, &me, NULL) == 1) {
			b.ip = me.ip;
			b.port = me.port;
			peer_send(w, p, MAVPN_MSG_PROBE, &b, 0, 0, now);
		}
	}
	pa->round_ms = now;
	if (pa->rounds < DP_PROBE_ROUNDS)
		pa->rounds++;
}

static void peer_step(struct dp_worker *w, struct dp_peer *p, uint64_t now)
{
	struct datapath *dp = w->dp;
	struct dp_path *pa = &p->path;
	uint64_t ka = ka_ms(dp), pkts, cnt[DP_PEER__COUNT], drop[DP_DROP__COUNT];
	int active, alive;

	if (!dp_session_tx_live(dp_tx_session(p, now), now))
		return;
	dp_peer_counts(&dp->peers, p, cnt, drop);
	pkts = cnt[DP_PEER_TX_PACKETS] + cnt[DP_PEER_RX_PACKETS];
	if (pkts != pa->seen_pkts) {
		pa->seen_pkts = pkts;
		pa->active_ms = now;
	}
	active = pa->active_ms && now - pa->active_ms < 3 * ka;
	alive = path_alive(dp, p, now);
	if (!alive && !DP_LOAD(pa->relay) &&
	    DP_LOAD(pa->rounds) >= DP_RELAY_AFTER && DP_LOAD(dp->disco.known)) {
		DP_STORE(pa->relay, 1);
		log_info("datapath: peer=%s path=relay (no direct path answered %u probe rounds)",
			 p->name, DP_LOAD(pa->rounds));
	}
	if (!alive && ((DP_LOAD(pa->rounds) < DP_PROBE_ROUNDS &&
			now - pa->round_ms >= DP_PROBE_RETRY_MS) ||
		       (active && now - pa->round_ms >= ka))) {
		probe_round(w, p, now);
		return;
	}
	if (active && !DP_LOAD(pa->relay) && now - pa->ka_ms >= ka &&
	    now - pa->round_ms >= ka) {
		struct probe_body b = { .flags = our_flags(dp) };

		pa->ka_ms = now;
		peer_send(w, p, MAVPN_MSG_KEEPALIVE, &b, DP_LOAD(p->underlay_ip),
			  DP_LOAD(p->port), now);
		DP_WINC(w->st.events[DP_EVENT_KEEPALIVES_SENT]);
	}
}

void dp_probe_step(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	struct dp_peer *p;
	unsigned int h;

	disco_step(w, now);
	if (now - DP_LOAD(dp->disco.step_ms) < DP_PROBE_STEP_MS)
		return;
	DP_STORE(dp->disco.step_ms, now);
	pthread_rwlock_rdlock(&dp->lock);
	for (h = 0; h < (1u << DP_HASH_BITS); h++)
		for (p = dp->peers.by_ip[h]; p; p = p->ip_next)
			if (p->cur)
				peer_step(w, p, now);
	pthread_rwlock_unlock(&dp->lock);
}

static void peer_rx(struct dp_worker *w, const uint8_t *pl, uint32_t len,
		    uint32_t src, uint16_t sport, uint64_t now)
{
	struct datapath *dp = w->dp;
	uint16_t sp = ntohs(sport);
	struct dp_session *s;
	struct probe_body b;
	struct wire_hdr h;
	struct dp_peer *p;
	uint8_t type;
	int fresh;

	if (probe_peer_peek(pl, len, &type, &h)) {
		DP_WINC(w->st.drop[DP_DROP_MALFORMED]);
		return;
	}
	s = dp_session_find(&dp->peers, h.key_id);
	if (!s) {
		/* not a data drop: the peer that installed the key first
		 * probes at once, before our grant arrives */
		DP_WINC(w->st.events[DP_EVENT_PROBES_UNKNOWN_KEY]);
		return;
	}
	p = s->peer;
	if (!session_rx_live(s, now)) {
		DP_WINC(p->wc[w->id].drop[DP_DROP_EXPIRED_KEY]);
		return;
	}
	if (probe_peer_open(s->rx[w->id], pl, len, &b)) {
		DP_WINC(p->wc[w->id].drop[DP_DROP_AUTH]);
		return;
	}
	pthread_spin_lock(&s->replay_lock);
	fresh = h.counter >= DP_PROBE_CTR_BASE &&
		replay_accept(&s->probe_replay, h.counter - DP_PROBE_CTR_BASE + 1);
	pthread_spin_unlock(&s->replay_lock);
	if (!fresh) {
		DP_WINC(p->wc[w->id].drop[DP_DROP_REPLAY]);
		return;
	}
	if (DP_LOAD(p->path.peer_direct) != !(b.flags & PROBE_F_NAT))
		DP_STORE(p->path.peer_direct, !(b.flags & PROBE_F_NAT));
	switch (type) {
	case MAVPN_MSG_PROBE: {
		struct probe_body a = {
			.token = b.token, .flags = our_flags(dp),
			.ip = src, .port = sp,
		};

		/* the answer goes where the probe came from: through the
		 * mapping the peer's NAT just made for it */
		peer_send(w, p, MAVPN_MSG_PROBE_ACK, &a, src, sp, now);
		DP_WINC(w->st.events[DP_EVENT_PROBES_ANSWERED]);
		if (!src && b.ip && b.port)	/* through the relay: a hint */
			DP_STORE(p->path.hint, (uint64_t)b.ip << 16 | b.port);
		if (src && !path_alive(dp, p, now)) {
			path_set(w, p, src, sp, "probe");
			confirm(p, now);
		}
		break;
	}
	case MAVPN_MSG_PROBE_ACK:
		DP_WINC(w->st.events[DP_EVENT_PROBE_ACKS]);
		if (!src)
			break;		/* through the relay: no direct path */
		if (b.token == DP_LOAD(p->path.token) &&
		    !__atomic_exchange_n(&p->path.round_acked, 1,
					 __ATOMIC_RELAXED)) {
			path_set(w, p, src, sp, "probe answer");
			confirm(p, now);
		} else if (src == DP_LOAD(p->underlay_ip) &&
			   sp == DP_LOAD(p->port)) {
			confirm(p, now);
		}
		break;
	case MAVPN_MSG_KEEPALIVE:
		if (!src)
			break;
		path_set(w, p, src, sp, "keepalive");
		confirm(p, now);
		break;
	}
}

void dp_probe_rx(struct dp_worker *w, const uint8_t *pl, uint32_t len,
		 uint32_t src, uint16_t sport, uint64_t now)
{
	if (len && pl[0] == MAVPN_MSG_DISCO_RESP)
		disco_rx(w, pl, len, src, sport, now);
	else if (len && pl[0] == MAVPN_MSG_RELAYED && src)
		relayed_rx(w, pl, len, src, sport, now);
	else
		peer_rx(w, pl, len, src, sport, now);
}

void dp_probe_data_rx(struct dp_worker *w, struct dp_peer *p, uint32_t src,
		      uint16_t sport, uint64_t now)
{
	uint16_t sp = ntohs(sport);
	int nat = !dp_probe_hashed(w->dp, p);

	if (!src) {
		/* through the relay: answer the same way while no direct
		 * path answers */
		if (!DP_LOAD(p->path.relay) && !path_alive(w->dp, p, now) &&
		    DP_LOAD(w->dp->disco.known)) {
			DP_STORE(p->path.relay, 1);
			log_info("datapath: peer=%s path=relay (its datagrams come through the relay)",
				 p->name);
		}
		return;
	}
	/* From a flow-hash port the peer believes neither side is behind a
	 * NAT (we may not know that yet, e.g. just restarted): its endpoint
	 * port stays its data port. */
	if (sp != DP_LOAD(p->port) && sp >= DP_SPORT_BASE &&
	    sp < DP_SPORT_BASE + DP_SPORT_SPAN)
		nat = 0;
	if (src == DP_LOAD(p->underlay_ip) && (!nat || sp == DP_LOAD(p->port))) {
		confirm(p, now);
		return;
	}
	/*
	 * Roaming: it opened under the peer's key and passed the replay
	 * check, so the peer sent it from there (as WireGuard does). The
	 * port too unless the peer sends from the flow hash (no NAT either
	 * side, dp_probe_hashed()): then ours go to its port.
	 */
	path_set(w, p, src, nat ? sp : DP_LOAD(p->port), "data");
	confirm(p, now);
}
