// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd: flows and keys. A destination that needs a key (socket shim
 * event, data plane request) becomes a KEY_REQ; grants and pushes are
 * installed in the data plane; keys in use are renewed before they
 * expire; a revoked peer loses its keys at once.
 *
 * Key requests: a destination D gets at most one KEY_REQ in flight. The
 * flow table (v->flows) remembers D while the request is out (or while the
 * channel is down and it waits to be sent), and for a few seconds after a
 * DENY so a busy app cannot make us hammer the server with requests it
 * refuses.
 */
#include <errno.h>
#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "mavpn/aead.h"
#include "mavpn/log.h"
#include "mavpn/nl.h"
#include "mavpn/util.h"
#include "chan.h"
#include "flowlog.h"
#include "gw.h"
#include "route.h"
#include "shim.h"
#include "keys.h"
#include "verbs.h"
#include "vpnd.h"

/* A KEY_REQ without an answer is given up after this. */
#define VPND_KEY_REQ_MS		10000
/* After a DENY, no new request for the same destination for this long. */
#define VPND_DENY_HOLD_MS	5000

#define KEYS_DESC(id, name, prom, help) \
	{ name, help, COUNTER_COUNTER, NULL, prom },
const struct counter_desc keys_desc[KEYS__COUNT] = {
	KEYS_COUNTERS(KEYS_DESC)
};

/* ---- users ------------------------------------------------------------- */

/* @u for @uid/@gid (SHIM_GID_NONE: the user's primary group), with their
 * names from this host's user database. */
static void keys_user(struct flow_user *u, uint32_t uid, uint32_t gid)
{
	char buf[4096];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;

	memset(u, 0, sizeof(*u));
	u->has = true;
	u->uid = uid;
	u->gid = gid;
	if (!getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) && pwp) {
		snprintf(u->user, sizeof(u->user), "%s", pw.pw_name);
		if (gid == SHIM_GID_NONE)
			u->gid = pw.pw_gid;
	}
	if (u->gid != SHIM_GID_NONE &&
	    !getgrgid_r(u->gid, &gr, buf, sizeof(buf), &grp) && grp)
		snprintf(u->group, sizeof(u->group), "%s", gr.gr_name);
}

static void keys_put_user(struct ctlmsg *m, const struct flow_user *u)
{
	if (!u->has)
		return;
	m->uid = u->uid;
	m->present |= CTLA_BIT(CTLA_UID);
	if (u->gid != SHIM_GID_NONE) {
		m->gid = u->gid;
		m->present |= CTLA_BIT(CTLA_GID);
	}
	if (u->user[0]) {
		snprintf(m->user, sizeof(m->user), "%s", u->user);
		m->present |= CTLA_BIT(CTLA_USER);
	}
	if (u->group[0]) {
		snprintf(m->group, sizeof(m->group), "%s", u->group);
		m->present |= CTLA_BIT(CTLA_GROUP);
	}
}

/* ---- key requests ------------------------------------------------------ */

static struct flow *flow_find(struct vpnd *v, uint32_t dst)
{
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++)
		if (v->flows[i].state != FLOW_FREE && v->flows[i].dst == dst)
			return &v->flows[i];
	return NULL;
}

static struct flow *flow_by_req(struct vpnd *v, uint32_t req_id)
{
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++)
		if (v->flows[i].state == FLOW_REQUESTED &&
		    v->flows[i].req_id == req_id)
			return &v->flows[i];
	return NULL;
}

static void flow_send(struct vpnd *v, struct flow *f, uint64_t now)
{
	struct ctlmsg *m = chan_msg(v->ch, CTLMSG_KEY_REQ);
	char ip[INET_ADDRSTRLEN];
	int ret;

	m->req_id = ++v->next_req_id;
	m->overlay_ip = f->dst;
	m->present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_OVERLAY_IP);
	if (f->app[0]) {
		snprintf(m->app, sizeof(m->app), "%s", f->app);
		m->present |= CTLA_BIT(CTLA_APP);
	}
	/* Policy may allow only some ports: say which flow asks. */
	if (f->proto) {
		m->proto = f->proto;
		m->present |= CTLA_BIT(CTLA_PROTO);
	}
	if (f->dport) {
		m->dst_port = f->dport;
		m->present |= CTLA_BIT(CTLA_DST_PORT);
	}
	keys_put_user(m, &f->u);
	ret = chan_send(v->ch, m);
	if (ret < 0) {
		f->state = FLOW_WAITING;	/* sent when the link is back */
		return;
	}
	f->state = FLOW_REQUESTED;
	f->req_id = m->req_id;
	f->until = now + VPND_KEY_REQ_MS;
	v->cnt[KEYS_REQUESTS]++;
	log_info("key: request req_id=%u dst=%s app=\"%s\"", f->req_id,
		 vpnd_ip4(f->dst, ip), f->app);
}

/* A flow towards @dst started (shim) or a packet waits for it (datapath);
 * @renew: the key is still live but due for renewal. */
static void flow_trigger(struct vpnd *v, uint32_t dst, const char *app,
			 uint16_t dport, uint8_t proto,
			 const struct flow_user *u, bool renew)
{
	uint64_t now = mono_ms();
	struct flow *f = NULL;
	int i;

	/* A LAN address whose gateway we do not know yet: the server maps
	 * it to the gateway and the grant teaches us the route. */
	if (((dst & v->mask) != v->net && !gw_is_remote(v->gw, dst)) ||
	    dst == v->st.overlay_ip)
		return;
	if (flow_find(v, dst) || (!renew && datapath_has_key(v->dp, dst)))
		return;
	for (i = 0; i < VPND_MAX_FLOWS && !f; i++)
		if (v->flows[i].state == FLOW_FREE)
			f = &v->flows[i];
	if (!f) {
		v->cnt[KEYS_REQUESTS_DROPPED]++;
		if (log_ratelimited(&v->flows_full_rl))
			log_warn("key: too many destinations waiting for a key");
		return;
	}
	f->dst = dst;
	f->req_id = 0;
	f->until = now + VPND_KEY_REQ_MS;
	f->dport = dport;
	f->proto = proto;
	if (u)
		f->u = *u;
	else
		memset(&f->u, 0, sizeof(f->u));
	snprintf(f->app, sizeof(f->app), "%s", app ? app : "");
	f->state = FLOW_WAITING;
	if (chan_up(v->ch))
		flow_send(v, f, now);
}

void keys_flow_expire(struct vpnd *v, uint64_t now)
{
	char ip[INET_ADDRSTRLEN];
	struct flow *f;
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++) {
		f = &v->flows[i];
		if (f->state == FLOW_FREE || now < f->until)
			continue;
		if (f->state != FLOW_DENIED) {
			/* Drop what the data plane holds so that the next
			 * packet triggers a fresh request. */
			log_warn("key: no answer for dst=%s state=%s",
				 vpnd_ip4(f->dst, ip), f->state == FLOW_WAITING ?
				 "not connected" : "requested");
			v->cnt[KEYS_TIMEOUTS]++;
			flowlog_settle(v->fl, f->dst, FLOWLOG_DENIED);
			datapath_key_refused(v->dp, f->dst);
		}
		f->state = FLOW_FREE;
	}
}

static void key_from_msg(struct dp_key *k, const struct ctlmsg *m,
			 int initiator)
{
	memset(k, 0, sizeof(*k));
	k->key_id = m->key_id;
	memcpy(k->secret, m->key, sizeof(k->secret));
	k->initiator = initiator;
	k->lifetime = m->lifetime;
	snprintf(k->peer_name, sizeof(k->peer_name), "%s", m->name);
	k->peer_overlay_ip = m->overlay_ip;
	k->peer_underlay_ip = m->underlay_ip;
	k->peer_port = m->udp_port;
	k->max_packets = (m->present & CTLA_BIT(CTLA_MAX_PACKETS)) ?
			 m->max_packets : 0;
}

/* Does the kernel route @ip (network order) out of our underlay? */
static bool via_underlay(struct nl *nl, unsigned int ul, uint32_t ip)
{
	struct nl_route_hop hop;

	return !nl_route_get(nl, AF_INET, &ip, &hop) && hop.oif == (int)ul;
}

/* Add @ip:@port to @k's candidates unless there or full. */
static void key_add_cand(struct dp_key *k, uint32_t ip, uint16_t port)
{
	int i;

	for (i = 0; i < k->ncand; i++)
		if (k->cand[i].ip == ip && k->cand[i].port == port)
			return;
	if (k->ncand < DP_CANDS_MAX)
		k->cand[k->ncand++] = (struct dp_endpoint){ ip, port };
}

/*
 * Where the peer's datagrams go: the first of its candidate endpoints the
 * kernel routes out of our underlay interface (a multi-homed peer reached
 * the server over another link), else the address its control connection
 * came from. Sets @k's peer_underlay_ip and peer_port, and its candidates
 * for the data plane's probes: those routed out of our underlay, and the
 * control connection's address with the peer's port.
 */
static void key_pick_endpoint(struct vpnd *v, struct dp_key *k,
			      const struct ctlmsg *m)
{
	bool picked = false;
	unsigned int ul;
	struct nl nl;
	uint32_t i;

	ul = if_nametoindex(v->iface);
	if (!ul || nl_open(&nl) < 0)
		return;
	for (i = 0; i < m->n_endpoints; i++) {
		const struct ctlmsg_endpoint *ep = &m->endpoints[i];

		if (ep->family != AF_INET)
			continue;	/* the data plane's underlay is IPv4 */
		if (!via_underlay(&nl, ul, ep->v4))
			continue;
		key_add_cand(k, ep->v4, ep->port);
		if (picked)
			continue;
		picked = true;
		k->peer_underlay_ip = ep->v4;
		k->peer_port = ep->port;
	}
	if (via_underlay(&nl, ul, m->underlay_ip))
		key_add_cand(k, m->underlay_ip, m->udp_port);
	nl_close(&nl);
}

/*
 * Endpoint discovery: the server's HELLO_ACK gave a probe id and key; the
 * data plane asks the server's UDP port from our data port, if the server
 * is reached through our underlay (a multi-homed host that reaches it
 * over a management link would learn that link's address: useless).
 */
static void keys_disco_start(struct vpnd *v, const struct ctlmsg *m)
{
	uint64_t need = CTLA_BIT(CTLA_PROBE_ID) | CTLA_BIT(CTLA_PROBE_KEY);
	struct dp_endpoint srv;
	char ip[INET_ADDRSTRLEN];
	unsigned int ul;
	struct nl nl;
	bool ok;
	int ret;

	if ((m->present & need) != need ||
	    chan_server_addr(v->ch, &srv.ip, &srv.port))
		return;
	ul = if_nametoindex(v->iface);
	if (!ul || nl_open(&nl) < 0)
		return;
	ok = via_underlay(&nl, ul, srv.ip);
	nl_close(&nl);
	if (!ok) {
		log_info("disco: server=%s not reached through iface=%s, no endpoint discovery",
			 vpnd_ip4(srv.ip, ip), v->iface);
		datapath_disco_set(v->dp, NULL, 0, NULL);
		return;
	}
	ret = datapath_disco_set(v->dp, &srv, m->probe_id, m->probe_key);
	if (ret)
		log_warn("disco: cannot start: %s", strerror(-ret));
}

void keys_disco_tick(struct vpnd *v)
{
	struct ctlmsg_endpoint ep = { .family = AF_INET };
	struct dp_endpoint d;

	if (datapath_disco_result(v->dp, &d, NULL) != 1)
		return;
	ep.v4 = d.ip;
	ep.port = d.port;
	chan_set_reflexive(v->ch, &ep);
}

static int key_install(struct vpnd *v, const struct ctlmsg *m, int initiator)
{
	char ip[INET_ADDRSTRLEN], uip[INET_ADDRSTRLEN];
	struct dp_key k;
	uint32_t uaddr;
	uint16_t uport;
	int ret;

	key_from_msg(&k, m, initiator);
	key_pick_endpoint(v, &k, m);
	uaddr = k.peer_underlay_ip;
	uport = k.peer_port;
	ret = datapath_install_key(v->dp, &k);
	aead_wipe(&k, sizeof(k));
	if (ret < 0) {
		v->cnt[KEYS_INSTALL_FAILED]++;
		log_err("key: install failed key_id=%u peer=%s: %s", m->key_id,
			m->name, strerror(-ret));
		return ret;
	}
	log_info("key: installed key_id=%u peer=%s overlay_ip=%s underlay=%s:%u role=%s lifetime=%u",
		 m->key_id, m->name, vpnd_ip4(m->overlay_ip, ip),
		 vpnd_ip4(uaddr, uip), uport,
		 initiator ? "initiator" : "responder", m->lifetime);
	return 0;
}

/* ---- per-flow decisions ------------------------------------------------ */

/*
 * While the server has a policy, every new flow of an attached application
 * (cgroup, uid, destination, protocol, port) needs the server's decision:
 * the shim drops its packets at egress and reports it, we send FLOW_REQ,
 * and the FLOW_VERDICT goes into the kernel's `flows` map with its TTL
 * (the shim then passes or refuses the flow itself). One FLOW_REQ per flow
 * in flight; an allowed flow still in use near its expiry is asked again
 * before it runs out. FLOW_FLUSH (policy changed), KEY_REVOKE and every
 * HELLO_ACK forget all cached decisions at once.
 */
#define VPND_FLOW_REQ_MS	5000

static struct fdec *fdec_find(struct vpnd *v, const struct shim_fkey *k)
{
	int i;

	for (i = 0; i < VPND_MAX_FDECS; i++)
		if (v->fdecs[i].req_id &&
		    !memcmp(&v->fdecs[i].k, k, sizeof(*k)))
			return &v->fdecs[i];
	return NULL;
}

static struct fdec *fdec_by_req(struct vpnd *v, uint32_t req_id)
{
	int i;

	for (i = 0; i < VPND_MAX_FDECS; i++)
		if (v->fdecs[i].req_id == req_id)
			return &v->fdecs[i];
	return NULL;
}

/* No decision cached for @k, or an allowed one close to its end. */
static bool fdec_needed(struct vpnd *v, const struct shim_fkey *k)
{
	uint64_t left;
	bool allow;

	if (shim_flow_get(v->shim, k, &left, &allow))
		return true;
	return allow && left < SHIM_FLOW_REFRESH_NS;
}

static void fdec_ask(struct vpnd *v, const struct shim_fkey *k,
		     const struct flow_user *u, const char *app)
{
	uint64_t now = mono_ms();
	struct fdec *d = fdec_find(v, k);
	struct ctlmsg *m;
	int i;

	if (d && now < d->until)
		return;			/* asked already */
	for (i = 0; i < VPND_MAX_FDECS && !d; i++)
		if (!v->fdecs[i].req_id || now >= v->fdecs[i].until)
			d = &v->fdecs[i];
	if (!d) {
		v->cnt[KEYS_REQUESTS_DROPPED]++;
		if (log_ratelimited(&v->flows_full_rl))
			log_warn("flow: too many flows waiting for a decision");
		return;
	}
	if (!chan_up(v->ch))
		return;			/* the next packet asks again */
	m = chan_msg(v->ch, CTLMSG_FLOW_REQ);
	m->req_id = ++v->next_req_id;
	m->overlay_ip = k->daddr;
	m->proto = k->proto;
	m->present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_OVERLAY_IP) |
		     CTLA_BIT(CTLA_PROTO);
	if (k->dport) {
		m->dst_port = k->dport;
		m->present |= CTLA_BIT(CTLA_DST_PORT);
	}
	if (app && app[0]) {
		snprintf(m->app, sizeof(m->app), "%s", app);
		m->present |= CTLA_BIT(CTLA_APP);
	}
	keys_put_user(m, u);
	d->k = *k;
	d->req_id = m->req_id;
	d->until = now + VPND_FLOW_REQ_MS;
	d->u = *u;
	snprintf(d->app, sizeof(d->app), "%s", app ? app : "");
	if (chan_send(v->ch, m) < 0) {
		d->req_id = 0;
		return;
	}
	v->cnt[KEYS_FLOW_REQUESTS]++;
}

static void fdec_verdict(struct vpnd *v, const struct ctlmsg *m)
{
	struct fdec *d = fdec_by_req(v, m->req_id);
	char ip[INET_ADDRSTRLEN];
	uint32_t dst;
	int ret;

	if (!d)
		return;		/* flushed meanwhile: the next packet asks */
	ret = shim_flow_set(v->shim, &d->k, m->verdict, m->lifetime);
	if (ret)
		log_warn("flow: cannot cache the decision: %s", strerror(-ret));
	flowlog_settle_flow(v->fl, d->k.daddr, d->k.dport, d->k.proto,
			    d->k.uid, m->verdict ? FLOWLOG_FLOW_ALLOWED :
						   FLOWLOG_FLOW_DENIED);
	if (!m->verdict) {
		v->cnt[KEYS_FLOW_DENIED]++;
		log_info("flow: denied dst=%s proto=%u port=%u uid=%u app=\"%s\" reason=\"%s\"",
			 vpnd_ip4(d->k.daddr, ip), d->k.proto, d->k.dport,
			 d->k.uid, d->app, m->reason);
		d->req_id = 0;
		return;
	}
	v->cnt[KEYS_FLOW_ALLOWED]++;
	log_debug("flow: allowed dst=%s proto=%u port=%u uid=%u ttl=%u",
		  vpnd_ip4(d->k.daddr, ip), d->k.proto, d->k.dport, d->k.uid,
		  m->lifetime);
	/* the flow may start: a key for it if there is none */
	dst = gw_key_dst(v->gw, d->k.daddr);
	if (!dst)
		dst = d->k.daddr;
	flow_trigger(v, dst, d->app, d->k.dport, d->k.proto, &d->u, false);
	d->req_id = 0;
}

static void fdec_flush(struct vpnd *v, bool open, const char *why)
{
	int n;

	v->policy_open = open;
	shim_set_open(v->shim, open);
	memset(v->fdecs, 0, sizeof(v->fdecs));
	n = shim_flow_flush(v->shim);
	if (n < 0)
		log_warn("flow: cannot flush cached decisions: %s",
			 strerror(-n));
	v->cnt[KEYS_FLOW_FLUSHES]++;
	log_info("flow: cached decisions flushed n=%d why=%s policy=%s", n,
		 why, open ? "none (all allowed)" : "per flow");
}

/*
 * A new session with the server (reconnect, server restart): with a
 * policy, allowed decisions in use are asked again before they end, within
 * SHIM_FLOW_REFRESH_NS, so established flows lose nothing (the shim asks
 * for renewal in that window); denied ones are forgotten at once.
 */
static void fdec_rehello(struct vpnd *v, bool open)
{
	int n;

	if (open || v->policy_open) {
		fdec_flush(v, open, "hello");
		return;
	}
	memset(v->fdecs, 0, sizeof(v->fdecs));
	n = shim_flow_shorten(v->shim, SHIM_FLOW_REFRESH_NS);
	if (n < 0)
		log_warn("flow: cannot shorten cached decisions: %s",
			 strerror(-n));
	log_info("flow: cached decisions re-asked within %llu s n=%d why=hello",
		 (unsigned long long)(SHIM_FLOW_REFRESH_NS / 1000000000ULL), n);
}

/* ---- key renewal and revocation ---------------------------------------- */

/*
 * Key renewal (make-before-break): for each key we requested, ask for the
 * next one at VPND_RENEW_PCT of its lifetime if the peer saw traffic since
 * the last grant; an idle key is left to expire (the next packet asks
 * again). The data plane keeps the old key for receive until the new one
 * is in use on both ends.
 */
#define VPND_RENEW_PCT		80

/* Packets both ways with @dst so far; 0 if it has no key. */
static uint64_t peer_activity(struct vpnd *v, uint32_t dst)
{
	struct dp_peer_stats *p;
	uint64_t pkts = 0;
	int i, n;

	p = vpnd_peers(v, &n);
	for (i = 0; i < n; i++)
		if (p[i].overlay_ip == dst)
			pkts = p[i].cnt[DP_PEER_TX_PACKETS] +
			       p[i].cnt[DP_PEER_RX_PACKETS];
	free(p);
	return pkts;
}

static struct renew *renew_find(struct vpnd *v, uint32_t dst, bool create)
{
	struct renew *free_slot = NULL;
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++) {
		if (v->renews[i].dst == dst)
			return &v->renews[i];
		if (!v->renews[i].dst && !free_slot)
			free_slot = &v->renews[i];
	}
	if (create && free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->dst = dst;
	}
	return create ? free_slot : NULL;
}

/* We installed a key we asked for (@f: the request, if still known). */
static void renew_schedule(struct vpnd *v, const struct ctlmsg *m,
			   const struct flow *f)
{
	struct renew *r = renew_find(v, m->overlay_ip, true);

	if (!r || !m->lifetime)
		return;
	r->at = mono_ms() + (uint64_t)m->lifetime * 10 * VPND_RENEW_PCT;
	r->pkts = peer_activity(v, m->overlay_ip);
	if (f) {
		r->dport = f->dport;
		r->proto = f->proto;
		r->u = f->u;
		snprintf(r->app, sizeof(r->app), "%s", f->app);
	}
}

void keys_renew_tick(struct vpnd *v, uint64_t now)
{
	char ip[INET_ADDRSTRLEN];
	struct renew *r;
	uint64_t pkts;
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++) {
		r = &v->renews[i];
		if (!r->dst || now < r->at)
			continue;
		pkts = peer_activity(v, r->dst);
		if (pkts == r->pkts || !chan_up(v->ch)) {
			r->dst = 0;	/* idle (or no server): let it expire */
			continue;
		}
		r->at = UINT64_MAX;	/* until the grant reschedules it */
		v->cnt[KEYS_RENEWALS]++;
		log_info("key: renewing dst=%s", vpnd_ip4(r->dst, ip));
		flow_trigger(v, r->dst, r->app, r->dport, r->proto, &r->u,
			     true);
	}
}

/* The server revoked host @m->name: forget every key with it, now. */
static void key_revoked(struct vpnd *v, const struct ctlmsg *m)
{
	char ip[INET_ADDRSTRLEN];
	struct renew *r;
	struct flow *f;
	int ret;

	ret = datapath_remove_peer(v->dp, m->overlay_ip);
	r = renew_find(v, m->overlay_ip, false);
	if (r)
		r->dst = 0;
	f = flow_find(v, m->overlay_ip);
	if (f)
		f->state = FLOW_FREE;
	/* The server repeats every revocation at each HELLO: only one that
	 * took keys away is worth a warning, the counter and a flush of the
	 * decisions about flows to it (or through it); with no key, no flow
	 * of ours reaches it and the server refuses a new one. */
	if (ret != -ENOENT && !v->policy_open)
		fdec_flush(v, false, "peer revoked");
	if (ret == -ENOENT) {
		log_debug("key: peer revoked by the server name=%s overlay_ip=%s keys=none",
			  m->name, vpnd_ip4(m->overlay_ip, ip));
		return;
	}
	v->cnt[KEYS_REVOKED]++;
	log_warn("key: peer revoked by the server name=%s overlay_ip=%s keys=%s",
		 m->name, vpnd_ip4(m->overlay_ip, ip),
		 ret == 0 ? "removed" : strerror(-ret));
}

/*
 * A DENY that answers our renewal: the server no longer allows what the
 * live key allows (policy changed, peer revoked...). The key must not
 * carry the traffic on until it expires: remove it now; the next packet
 * asks again (after the DENY hold-down).
 */
static void key_renewal_denied(struct vpnd *v, const struct ctlmsg *m)
{
	char ip[INET_ADDRSTRLEN];
	struct renew *r = renew_find(v, m->overlay_ip, false);
	int ret;

	if (!r || r->at != UINT64_MAX)
		return;
	r->dst = 0;
	ret = datapath_remove_peer(v->dp, m->overlay_ip);
	if (ret == -ENOENT)
		return;
	v->cnt[KEYS_REVOKED]++;
	log_warn("key: renewal denied, keys removed dst=%s reason=\"%s\" keys=%s",
		 vpnd_ip4(m->overlay_ip, ip), m->reason,
		 ret == 0 ? "removed" : strerror(-ret));
}

/* ---- control channel messages ------------------------------------------ */

/* A key's peer brought its LAN prefixes: route them to it. */
static void keys_learn_routes(struct vpnd *v, const struct ctlmsg *m)
{
	struct gw_changes ch;

	if (gw_learn(v->gw, m->overlay_ip, m->routes, m->n_routes, &ch) > 0)
		route_apply(v->rt, v->gw, &ch);
}

void keys_on_chan_msg(void *arg, struct ctlmsg *m)
{
	struct gw_changes ch;
	struct vpnd *v = arg;
	char ip[INET_ADDRSTRLEN];
	struct ctlmsg *ack;
	struct flow *f;
	uint32_t key_id;
	int ret;

	switch (m->type) {
	case CTLMSG_KEY_GRANT:
		f = flow_by_req(v, m->req_id);
		if (f)
			f->state = FLOW_FREE;
		/* Routes first: held LAN packets flush with the key. */
		keys_learn_routes(v, m);
		if (!key_install(v, m, 1)) {
			renew_schedule(v, m, f);
			v->cnt[KEYS_GRANTED]++;
			flowlog_settle(v->fl, m->overlay_ip, FLOWLOG_GRANTED);
			/* asked for a LAN address, granted its gateway */
			if (f && f->dst != m->overlay_ip)
				flowlog_settle(v->fl, f->dst, FLOWLOG_GRANTED);
		}
		break;
	case CTLMSG_KEY_PUSH:
		key_id = m->key_id;
		keys_learn_routes(v, m);
		/* The server grants to the initiator only after our ACK: ACK
		 * only what the data plane really holds. */
		if (key_install(v, m, 0))
			break;
		v->cnt[KEYS_PUSHED]++;
		ack = chan_msg(v->ch, CTLMSG_KEY_PUSH_ACK);
		ack->key_id = key_id;
		ack->present = CTLA_BIT(CTLA_KEY_ID);
		chan_send(v->ch, ack);
		break;
	case CTLMSG_NAME_ADD:
	case CTLMSG_NAME_DEL:
	case CTLMSG_NAMES_END:
		dns_on_chan_msg(v->dns, m);
		break;
	case CTLMSG_HELLO_ACK:
		dns_on_chan_msg(v->dns, m);	/* the domain; a new name list */
		/* What we cached under another session may be stale. */
		fdec_rehello(v, (m->present & CTLA_BIT(CTLA_POLICY_OPEN)) &&
			     m->policy_open);
		keys_disco_start(v, m);
		/* Gateway routes: ours, and the LANs behind other hosts. */
		ret = gw_hello(v->gw, m->routes, m->n_routes, &ch);
		if (ret)
			log_warn("gw: bad routes in HELLO_ACK: %s",
				 strerror(-ret));
		else
			route_apply(v->rt, v->gw, &ch);
		break;
	case CTLMSG_KEY_DENY:
		v->cnt[KEYS_DENIED]++;
		log_warn("key: denied req_id=%u dst=%s reason=\"%s\"",
			 m->req_id, vpnd_ip4(m->overlay_ip, ip), m->reason);
		f = flow_by_req(v, m->req_id);
		if (!f)
			f = flow_find(v, m->overlay_ip);
		if (f) {
			f->state = FLOW_DENIED;
			f->until = mono_ms() + VPND_DENY_HOLD_MS;
			flowlog_settle(v->fl, f->dst, FLOWLOG_DENIED);
		}
		flowlog_settle(v->fl, m->overlay_ip, FLOWLOG_DENIED);
		datapath_key_refused(v->dp, m->overlay_ip);
		key_renewal_denied(v, m);
		break;
	case CTLMSG_RESOLVE_RESP:
		verbs_resolve_answer(v, m);
		break;
	case CTLMSG_KEY_REVOKE:
		key_revoked(v, m);
		break;
	case CTLMSG_FLOW_VERDICT:
		fdec_verdict(v, m);
		break;
	case CTLMSG_FLOW_FLUSH:
		fdec_flush(v, m->policy_open, "policy changed");
		break;
	default:
		log_warn("chan: unexpected message type=%s",
			 ctlmsg_type_name(m->type));
		break;
	}
}

void keys_on_chan_link(void *arg, bool up)
{
	struct vpnd *v = arg;
	uint64_t now = mono_ms();
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++) {
		struct flow *f = &v->flows[i];

		if (up && f->state == FLOW_WAITING)
			flow_send(v, f, now);
		else if (!up && f->state == FLOW_REQUESTED)
			f->state = FLOW_WAITING;	/* answer is lost */
	}
	if (up)
		return;
	for (i = 0; i < VPND_MAX_RESOLVES; i++) {
		if (!v->resolves[i].req)
			continue;
		linesock_reply_err(v->resolves[i].req,
				   "connection to the server lost");
		v->resolves[i].req = NULL;
	}
}

/* ---- flow sources ------------------------------------------------------ */

void keys_on_shim_event(void *arg, const struct shim_event *e)
{
	struct vpnd *v = arg;
	struct flowlog_entry fe = {
		.daddr = e->daddr, .dport = e->dport, .proto = e->proto,
		.hook = e->hook, .pid = e->pid, .uid = e->uid,
	};
	struct shim_fkey k = {
		.cgroup_id = e->cgroup_id, .uid = e->uid, .daddr = e->daddr,
		.dport = e->dport, .proto = e->proto,
	};
	uint32_t dst = e->daddr;
	struct flow_user u;

	/* A LAN behind a gateway: the key is the gateway's. */
	fe.via = gw_key_dst(v->gw, dst);
	if (fe.via)
		dst = fe.via;
	memcpy(fe.comm, e->comm, sizeof(fe.comm));
	shim_cgroup_path(v->shim, e->cgroup_id, fe.app, sizeof(fe.app));
	keys_user(&u, e->uid, e->gid);
	memcpy(fe.user, u.user, sizeof(fe.user));
	if (e->verdict == SHIM_VERDICT_BLOCKED ||
	    e->verdict == SHIM_VERDICT_DENIED) {
		fe.verdict = e->verdict == SHIM_VERDICT_BLOCKED ?
			     FLOWLOG_BLOCKED : FLOWLOG_FLOW_DENIED;
		flowlog_add(v->fl, &fe);
		return;
	}
	if (!v->policy_open && fdec_needed(v, &k)) {
		fe.verdict = FLOWLOG_FLOW_ASKED;
		flowlog_add(v->fl, &fe);
		fdec_ask(v, &k, &u, fe.app);
		return;
	}
	if (datapath_has_key(v->dp, dst))
		fe.verdict = FLOWLOG_PASS;
	else if (flow_find(v, dst))
		fe.verdict = FLOWLOG_PENDING;
	else
		fe.verdict = FLOWLOG_REQUESTED;
	flowlog_add(v->fl, &fe);
	if (fe.verdict == FLOWLOG_REQUESTED)
		flow_trigger(v, dst, fe.app, e->dport, e->proto, &u, false);
}

void keys_dp_requests(struct vpnd *v)
{
	struct pollfd p = { .fd = datapath_request_fd(v->dp), .events = POLLIN };
	uint64_t cnt;
	uint32_t dst;

	/* Reset the eventfd before draining so no wakeup is lost. */
	if (poll(&p, 1, 0) == 1 && read(p.fd, &cnt, sizeof(cnt)) < 0 &&
	    errno != EAGAIN)
		log_warn("datapath: request fd read failed err=\"%s\"",
			 strerror(errno));
	while (datapath_next_request(v->dp, &dst) == 1) {
		struct flowlog_entry fe = { .daddr = dst,
					    .uid = SHIM_GID_NONE };

		v->cnt[KEYS_DP_REQUESTS]++;
		if (flow_find(v, dst) || datapath_has_key(v->dp, dst))
			continue;
		fe.verdict = FLOWLOG_REQUESTED;
		flowlog_add(v->fl, &fe);
		flow_trigger(v, dst, NULL, 0, 0, NULL, false);
	}
}
