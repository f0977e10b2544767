// SPDX-License-Identifier: GPL-2.0-only
/*
 * Key minting and hand-over (see keysvc.h for the message flow).
 *
 * Key ids: random, nonzero 32-bit values, unique among the ids this server
 * issued in the last key lifetime + KEYSVC_ID_SLACK_S seconds (so no two
 * live keys anywhere share one, pending ones included). A hash set answers
 * "in use?", a FIFO in issue order expires them in O(1).
 *
 * The same records say which two hosts (overlay addresses) may hold each
 * live key: revocation walks them to find whom to send KEY_REVOKE. They
 * hold no key material.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "audit.h"
#include "authsrv.h"
#include "keysvc.h"
#include "metrics.h"
#include "mavpn/log.h"
#include "mavpn/prefix.h"
#include "policy.h"
#include "registry.h"
#include "server.h"

#define KEYSVC_ID_SLACK_S	60
/* Ids live lifetime + slack: at 20k grants/s and 300 s that is ~7M of
 * them, so chains stay short only with a table this size (8 MiB). */
#define KEYSVC_ID_BUCKETS	(1u << 20)

struct keysvc_id {
	uint32_t id;
	uint32_t a_ip, b_ip;		/* requester, peer; 0 after a revoke */
	uint64_t expires_ms;
	struct keysvc_grant *grant;	/* while pushed, not yet granted */
	struct keysvc_id *hnext;	/* hash chain */
	struct keysvc_id *fnext;	/* FIFO, oldest first */
};

struct keysvc_grant {
	struct keysvc_grant *next, *prev;
	struct keysvc_id *idrec;	/* its key id's record */
	uint32_t key_id;
	uint32_t req_id;
	uint8_t key[CTLMSG_KEY_LEN];
	struct session *a, *b;		/* requester, peer */
	uint32_t dst_ip;		/* as requested, network order */
	uint64_t deadline_ms;
	char app[CTLMSG_APP_MAX];
};

/* A revoked host, told again to every host that says HELLO. */
struct keysvc_revoked {
	char name[CTLMSG_NAME_MAX];
	uint32_t overlay_ip;		/* network order */
};

struct keysvc {
	struct keysvc_grant *pending;
	struct keysvc_revoked *revoked;	/* every revoked host, unordered */
	size_t nrevoked, caprevoked;
	struct keysvc_id *buckets[KEYSVC_ID_BUCKETS];
	struct keysvc_id *fifo_head, *fifo_tail;
};

struct keysvc *keysvc_new(void)
{
	return calloc(1, sizeof(struct keysvc));
}

static void keysvc_grant_free(struct keysvc_grant *g)
{
	OPENSSL_cleanse(g, sizeof(*g));
	free(g);
}

void keysvc_free(struct keysvc *k)
{
	struct keysvc_grant *g;
	struct keysvc_id *e;

	if (!k)
		return;
	while ((g = k->pending)) {
		k->pending = g->next;
		keysvc_grant_free(g);
	}
	while ((e = k->fifo_head)) {
		k->fifo_head = e->fnext;
		free(e);
	}
	free(k->revoked);
	free(k);
}

static unsigned int keysvc_bucket(uint32_t id)
{
	return (id * 2654435761u) >> 12;	/* 20 bits: KEYSVC_ID_BUCKETS */
}
_Static_assert(KEYSVC_ID_BUCKETS == 1u << 20, "bucket hash width");

static struct keysvc_id *keysvc_id_find(const struct keysvc *k, uint32_t id)
{
	struct keysvc_id *e;

	for (e = k->buckets[keysvc_bucket(id)]; e; e = e->hnext)
		if (e->id == id)
			return e;
	return NULL;
}

static bool keysvc_id_used(const struct keysvc *k, uint32_t id)
{
	return keysvc_id_find(k, id) != NULL;
}

/* A fresh key id, remembered until it cannot be live anywhere. 0 = error. */
static uint32_t keysvc_new_id(struct keysvc *k, uint64_t now_ms,
			      uint32_t lifetime_s, uint32_t a_ip, uint32_t b_ip)
{
	struct keysvc_id *e;
	uint32_t id;
	int tries;

	for (tries = 0; tries < 64; tries++) {
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			return 0;
		if (id && !keysvc_id_used(k, id))
			break;
	}
	if (tries == 64)
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e)
		return 0;
	e->id = id;
	e->a_ip = a_ip;
	e->b_ip = b_ip;
	e->expires_ms = now_ms + ((uint64_t)lifetime_s + KEYSVC_ID_SLACK_S) * 1000;
	e->hnext = k->buckets[keysvc_bucket(id)];
	k->buckets[keysvc_bucket(id)] = e;
	if (k->fifo_tail)
		k->fifo_tail->fnext = e;
	else
		k->fifo_head = e;
	k->fifo_tail = e;
	return id;
}

static void keysvc_expire_ids(struct keysvc *k, uint64_t now_ms)
{
	struct keysvc_id *e, **pp;

	while ((e = k->fifo_head) && e->expires_ms <= now_ms) {
		k->fifo_head = e->fnext;
		if (!k->fifo_head)
			k->fifo_tail = NULL;
		for (pp = &k->buckets[keysvc_bucket(e->id)]; *pp;
		     pp = &(*pp)->hnext) {
			if (*pp == e) {
				*pp = e->hnext;
				break;
			}
		}
		free(e);
	}
}

static void keysvc_deny(struct session *a, uint32_t req_id, uint32_t dst,
			const char *peer, const char *app, enum deny_class cls,
			const char *reason)
{
	char ip[INET_ADDRSTRLEN];
	struct ctlmsg m;

	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	ctlmsg_init(&m, CTLMSG_KEY_DENY);
	m.req_id = req_id;
	m.overlay_ip = dst;
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	m.present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_OVERLAY_IP) |
		    CTLA_BIT(CTLA_REASON);
	session_send(a, &m);
	metrics_denied(cls);
	audit_write(&(struct audit_rec){ .event = "key_deny", .host = a->name,
					 .peer = peer ? peer : ip,
					 .app = app, .reason = reason });
	log_info("key denied host=%s dst=%s app=\"%s\" reason=\"%s\"", a->name,
		 ip, app ? app : "", reason);
}

static const char *keysvc_proto_name(uint8_t proto, char buf[8])
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	}
	snprintf(buf, 8, "%u", proto);
	return buf;
}

/* Policy check; on refusal @reason says who, from what, to whom. */
static bool keysvc_policy_allows(struct server *srv, const struct reg_host *a,
				 const struct reg_host *b,
				 const struct ctlmsg *m, char *reason,
				 size_t len)
{
	struct policy_who wa = { .name = a->name, .tags = a->tags };
	struct policy_who wb = { .name = b->name, .tags = b->tags };
	struct policy_req rq = {
		.app = (m->present & CTLA_BIT(CTLA_APP)) ? m->app : NULL,
		.proto = (m->present & CTLA_BIT(CTLA_PROTO)) ? m->proto : 0,
		.port = (m->present & CTLA_BIT(CTLA_DST_PORT)) ? m->dst_port : 0,
	};
	char flow[32] = "", pn[8], full[CTLMSG_APP_MAX + 3 * CTLMSG_NAME_MAX];

	if (policy_allows(srv->policy, &wa, &wb, &rq))
		return true;
	if (rq.proto && rq.port)
		snprintf(flow, sizeof(flow), " %s/%u",
			 keysvc_proto_name(rq.proto, pn), rq.port);
	else if (rq.proto)
		snprintf(flow, sizeof(flow), " %s",
			 keysvc_proto_name(rq.proto, pn));
	snprintf(full, sizeof(full), "policy: %s (app %s) may not reach %s%s",
		 a->name, rq.app ? rq.app : "-", b->name, flow);
	full[len - 1] = '\0';	/* the wire's reason size */
	memcpy(reason, full, len);
	return false;
}

/*
 * KEY_PUSH or KEY_GRANT of @g's key, naming @other (the host the receiver
 * will talk to) and where its datagrams come from. Wipe @m after sending.
 */
static void keysvc_host_routes(struct ctlmsg *m, const struct reg_host *h);

static void keysvc_key_msg(struct ctlmsg *m, uint8_t type,
			   const struct server *srv,
			   const struct keysvc_grant *g,
			   const struct session *other)
{
	struct reg_host h;

	ctlmsg_init(m, type);
	m->key_id = g->key_id;
	memcpy(m->key, g->key, sizeof(m->key));
	m->lifetime = srv->key_lifetime;
	snprintf(m->name, sizeof(m->name), "%s", other->name);
	m->overlay_ip = other->overlay_ip;
	m->underlay_ip = other->peer_ip;
	m->udp_port = other->udp_port;
	m->present = CTLA_BIT(CTLA_KEY_ID) | CTLA_BIT(CTLA_KEY) |
		     CTLA_BIT(CTLA_LIFETIME) | CTLA_BIT(CTLA_NAME) |
		     CTLA_BIT(CTLA_OVERLAY_IP) | CTLA_BIT(CTLA_UNDERLAY_IP) |
		     CTLA_BIT(CTLA_UDP_PORT);
	if (srv->key_max_packets) {
		m->max_packets = srv->key_max_packets;
		m->present |= CTLA_BIT(CTLA_MAX_PACKETS);
	}
	/* The LAN behind @other: the receiver routes it to this key, and
	 * accepts packets from inside it under this key. */
	if (!registry_host_by_name(srv->reg, other->name, &h))
		keysvc_host_routes(m, &h);
}

/* ---- gateway routes ---------------------------------------------------- */

struct keysvc_gw_walk {
	uint32_t ip;			/* network order */
	int best_plen;			/* -1: none yet */
	struct reg_host *out;
	const char *skip;		/* HELLO: the receiving host */
	struct ctlmsg *msg;		/* routes added with gateway @ip */
};

/*
 * Call @fn for each prefix of a registry route list (the text `token
 * create --route` stored, "a.b.c.d/n,..."); stops at non-zero. An entry
 * that does not parse is skipped.
 */
static int keysvc_each_route(const char *routes,
			     int (*fn)(const struct prefix *p, void *arg),
			     void *arg)
{
	char buf[sizeof(((struct reg_host *)0)->routes)], *tok, *save = NULL;
	struct prefix p;
	int ret;

	snprintf(buf, sizeof(buf), "%s", routes);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (prefix_parse(tok, PREFIX_PARSE_V4, &p, NULL))
			continue;
		ret = fn(&p, arg);
		if (ret)
			return ret;
	}
	return 0;
}

/* One CTLA_ROUTE via @w->ip; a list past CTLMSG_ROUTES_MAX is cut. */
static int keysvc_route_add(const struct prefix *p, void *arg)
{
	struct keysvc_gw_walk *w = arg;

	return ctlmsg_add_route(w->msg, p, w->ip) ? 1 : 0;
}

static int keysvc_gw_match(const struct prefix *p, void *arg)
{
	struct keysvc_gw_walk *w = arg;

	if (prefix_contains4(p, w->ip) && p->plen > w->best_plen) {
		w->best_plen = p->plen;
		return 1;
	}
	return 0;
}

static int keysvc_gw_host(const struct reg_host *h, void *arg)
{
	struct keysvc_gw_walk *w = arg;

	if (!h->revoked && h->routes[0] &&
	    keysvc_each_route(h->routes, keysvc_gw_match, w))
		*w->out = *h;
	return 0;
}

/* The gateway whose routes hold @ip (longest prefix). 0 or -ENOENT. */
static int keysvc_gateway_by_ip(struct server *srv, uint32_t ip,
				struct reg_host *h)
{
	struct keysvc_gw_walk w = { .ip = ip, .best_plen = -1, .out = h };

	registry_host_foreach(srv->reg, keysvc_gw_host, &w);
	return w.best_plen < 0 ? -ENOENT : 0;
}

/* @h's routes into @m, via @h. */
static void keysvc_host_routes(struct ctlmsg *m, const struct reg_host *h)
{
	struct keysvc_gw_walk w = { .msg = m, .ip = h->overlay_ip };

	keysvc_each_route(h->routes, keysvc_route_add, &w);
}

static int keysvc_net_host(const struct reg_host *h, void *arg)
{
	struct keysvc_gw_walk *w = arg;

	if (h->revoked || !h->routes[0] || !strcmp(h->name, w->skip))
		return 0;
	w->ip = h->overlay_ip;
	return keysvc_each_route(h->routes, keysvc_route_add, w);
}

void keysvc_hello_routes(struct server *srv, const char *name,
			 struct ctlmsg *r)
{
	struct keysvc_gw_walk w = { .skip = name, .msg = r };
	struct reg_host h;

	/* Its own first (gateway: itself), then every other gateway's. */
	if (!registry_host_by_name(srv->reg, name, &h))
		keysvc_host_routes(r, &h);
	registry_host_foreach(srv->reg, keysvc_net_host, &w);
}

/*
 * Per-session token bucket of KEY_REQ: each request mints a key and pushes
 * it to a peer, so a compromised host could otherwise make the server push
 * keys at its peers as fast as it can send. Full at HELLO (burst = 2 x
 * --key-rate), refilled at --key-rate per second. Over it the request gets
 * KEY_DENY "rate limited ..."; the log and audit line for it is written at
 * most once a second per session, with the count, so the limit cannot be
 * turned into a flood of the audit log.
 */
static bool keysvc_rate_ok(struct server *srv, struct session *a,
			   uint64_t now)
{
	double burst = KEYSVC_KEY_BURST(srv->key_rate), t;

	if (!srv->key_rate)
		return true;
	if (!a->key_last_ms) {
		a->key_tokens = burst;
	} else {
		t = a->key_tokens +
		    (double)(now - a->key_last_ms) * srv->key_rate / 1000.0;
		a->key_tokens = t > burst ? burst : t;
	}
	a->key_last_ms = now;
	if (a->key_tokens >= 1) {
		a->key_tokens -= 1;
		return true;
	}
	return false;
}

static void keysvc_rate_deny(struct server *srv, struct session *a,
			     const struct ctlmsg *m, const char *app,
			     uint64_t now)
{
	char reason[CTLMSG_REASON_MAX], ip[INET_ADDRSTRLEN];
	struct ctlmsg d;

	snprintf(reason, sizeof(reason),
		 "rate limited: more than %u key requests per second",
		 srv->key_rate);
	ctlmsg_init(&d, CTLMSG_KEY_DENY);
	d.req_id = m->req_id;
	d.overlay_ip = m->overlay_ip;
	snprintf(d.reason, sizeof(d.reason), "%s", reason);
	d.present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_OVERLAY_IP) |
		    CTLA_BIT(CTLA_REASON);
	session_send(a, &d);
	metrics_denied(DENY_RATE_LIMITED);
	a->key_limited++;
	if (now - a->key_logged_ms < 1000)
		return;
	snprintf(reason, sizeof(reason),
		 "rate limited: more than %u key requests per second, %u denied",
		 srv->key_rate, a->key_limited);
	inet_ntop(AF_INET, &m->overlay_ip, ip, sizeof(ip));
	audit_write(&(struct audit_rec){ .event = "key_deny", .host = a->name,
					 .peer = ip, .app = app,
					 .reason = reason });
	log_warn("key requests rate limited host=%s denied=%u", a->name,
		 a->key_limited);
	a->key_logged_ms = now;
	a->key_limited = 0;
}

void keysvc_key_req(struct server *srv, struct session *a,
		    const struct ctlmsg *m)
{
	struct keysvc *k = srv->keys;
	char ip[INET_ADDRSTRLEN], reason[CTLMSG_REASON_MAX];
	const char *app = (m->present & CTLA_BIT(CTLA_APP)) ? m->app : NULL;
	struct keysvc_grant *g;
	struct reg_host hb, ha;
	struct session *b;
	struct ctlmsg p;
	uint64_t now = authsrv_mono_ms();
	int ret;

	inet_ntop(AF_INET, &m->overlay_ip, ip, sizeof(ip));
	if (!keysvc_rate_ok(srv, a, now)) {
		keysvc_rate_deny(srv, a, m, app, now);
		return;
	}
	if (a->pending >= KEYSVC_MAX_PENDING) {
		keysvc_deny(a, m->req_id, m->overlay_ip, NULL, app, DENY_BUSY,
			    "too many key requests in flight");
		return;
	}
	/* The requester may have been revoked since it authenticated. */
	ret = registry_host_by_name(srv->reg, a->name, &ha);
	if (ret || ha.revoked) {
		keysvc_deny(a, m->req_id, m->overlay_ip, NULL, app,
			    ret == -EIO ? DENY_REGISTRY : DENY_REQUESTER_REVOKED,
			    ret == -EIO ? "registry error" : "this host is revoked");
		return;
	}
	ret = registry_host_by_ip(srv->reg, m->overlay_ip, &hb);
	/* An address in a gateway's LAN: the key is for the gateway. */
	if (ret == -ENOENT)
		ret = keysvc_gateway_by_ip(srv, m->overlay_ip, &hb);
	if (ret) {
		snprintf(reason, sizeof(reason), ret == -ENOENT ?
			 "no host has overlay address %s" :
			 "registry error looking up %s", ip);
		keysvc_deny(a, m->req_id, m->overlay_ip, NULL, app,
			    ret == -ENOENT ? DENY_UNKNOWN_PEER : DENY_REGISTRY,
			    reason);
		return;
	}
	if (!strcmp(hb.name, a->name)) {
		snprintf(reason, sizeof(reason),
			 "%s is the requesting host's own address", ip);
		keysvc_deny(a, m->req_id, m->overlay_ip, hb.name, app, DENY_SELF,
			    reason);
		return;
	}
	if (hb.revoked) {
		snprintf(reason, sizeof(reason), "peer %s is revoked", hb.name);
		keysvc_deny(a, m->req_id, m->overlay_ip, hb.name, app,
			    DENY_PEER_REVOKED, reason);
		return;
	}
	if (!keysvc_policy_allows(srv, &ha, &hb, m, reason, sizeof(reason))) {
		keysvc_deny(a, m->req_id, m->overlay_ip, hb.name, app,
			    DENY_POLICY, reason);
		return;
	}
	b = session_find_online(srv, hb.name);
	if (!b) {
		snprintf(reason, sizeof(reason), "peer %s is offline", hb.name);
		keysvc_deny(a, m->req_id, m->overlay_ip, hb.name, app,
			    DENY_PEER_OFFLINE, reason);
		return;
	}

	g = calloc(1, sizeof(*g));
	if (!g) {
		keysvc_deny(a, m->req_id, m->overlay_ip, hb.name, app,
			    DENY_INTERNAL, "server out of memory");
		return;
	}
	g->key_id = keysvc_new_id(k, now, srv->key_lifetime, a->overlay_ip,
				  b->overlay_ip);
	if (!g->key_id || RAND_priv_bytes(g->key, sizeof(g->key)) != 1) {
		keysvc_grant_free(g);
		keysvc_deny(a, m->req_id, m->overlay_ip, hb.name, app,
			    DENY_INTERNAL, "key generation failed");
		return;
	}
	g->idrec = keysvc_id_find(k, g->key_id);
	g->idrec->grant = g;
	g->req_id = m->req_id;
	g->a = a;
	g->b = b;
	g->dst_ip = m->overlay_ip;
	g->deadline_ms = now + KEYSVC_ACK_TIMEOUT_MS;
	if (app)
		snprintf(g->app, sizeof(g->app), "%s", app);
	g->prev = NULL;
	g->next = k->pending;
	if (k->pending)
		k->pending->prev = g;
	k->pending = g;
	a->pending++;

	/* B learns who A is and where A's datagrams come from. */
	keysvc_key_msg(&p, CTLMSG_KEY_PUSH, srv, g, a);
	session_send(b, &p);
	ctlmsg_wipe(&p);
	/* A failed push closes b; the reaper then denies this grant. */
	log_debug("key pushed host=%s peer=%s key_id=%08x", a->name, b->name,
		  g->key_id);
}

static void keysvc_unlink(struct keysvc *k, struct keysvc_grant *g)
{
	if (g->prev)
		g->prev->next = g->next;
	else
		k->pending = g->next;
	if (g->next)
		g->next->prev = g->prev;
	g->next = g->prev = NULL;
	g->idrec->grant = NULL;
	if (g->a->pending)
		g->a->pending--;
}

void keysvc_push_ack(struct server *srv, struct session *b,
		     const struct ctlmsg *m)
{
	struct keysvc *k = srv->keys;
	struct keysvc_grant *g = NULL;
	struct keysvc_id *e;
	struct session *a;
	struct ctlmsg r;

	e = keysvc_id_find(k, m->key_id);
	if (e && e->grant && e->grant->b == b)
		g = e->grant;
	if (!g) {
		/* Late (after the timeout) or bogus: nothing to hand over. */
		log_info("stray KEY_PUSH_ACK host=%s key_id=%08x", b->name,
			 m->key_id);
		return;
	}
	keysvc_unlink(k, g);
	a = g->a;
	keysvc_key_msg(&r, CTLMSG_KEY_GRANT, srv, g, b);
	r.req_id = g->req_id;
	r.present |= CTLA_BIT(CTLA_REQ_ID);
	session_send(a, &r);
	ctlmsg_wipe(&r);
	audit_write(&(struct audit_rec){ .event = "key_grant", .host = a->name,
					 .peer = b->name,
					 .app = g->app[0] ? g->app : NULL,
					 .key_id = g->key_id });
	log_debug("key granted host=%s peer=%s key_id=%08x app=\"%s\"", a->name,
		 b->name, g->key_id, g->app);
	keysvc_grant_free(g);
}

static void keysvc_fail(struct keysvc *k, struct keysvc_grant *g)
{
	char reason[CTLMSG_REASON_MAX];

	keysvc_unlink(k, g);
	snprintf(reason, sizeof(reason), "peer %s did not confirm the key",
		 g->b->name);
	keysvc_deny(g->a, g->req_id, g->dst_ip, g->b->name,
		    g->app[0] ? g->app : NULL, DENY_NO_ACK, reason);
	keysvc_grant_free(g);
}

void keysvc_session_gone(struct server *srv, struct session *s)
{
	struct keysvc *k = srv->keys;
	struct keysvc_grant *g, *next;

	for (g = k->pending; g; g = next) {
		next = g->next;
		if (g->a == s) {
			/* Nobody to hand it to; B's copy just expires. */
			keysvc_unlink(k, g);
			keysvc_grant_free(g);
		} else if (g->b == s) {
			keysvc_fail(k, g);
		}
	}
}

void keysvc_tick(struct server *srv, uint64_t now_ms)
{
	struct keysvc *k = srv->keys;
	struct keysvc_grant *g, *next;

	for (g = k->pending; g; g = next) {
		next = g->next;
		if (now_ms >= g->deadline_ms)
			keysvc_fail(k, g);
	}
	keysvc_expire_ids(k, now_ms);
}

static int keysvc_cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* ---- revoked hosts, repeated at HELLO ---- */

/*
 * A host that is offline when a peer is revoked keeps its keys with that
 * peer (its data plane runs on without the channel) and would never hear
 * KEY_REVOKE. So every HELLO is followed by KEY_REVOKE for every revoked
 * host: harmless to a host that holds no key with it. The list lives in
 * memory (loaded at start, so a revocation made while the server was down
 * counts; extended by the admin socket's revoke), because reading the
 * registry at every HELLO would cost a table scan per connection. Revoked
 * hosts keep their registry row, so their overlay address is never given
 * to another host and the message cannot hit an innocent peer.
 */
static int keysvc_revoked_add(struct keysvc *k, const char *name, uint32_t ip)
{
	struct keysvc_revoked *n;
	size_t i, cap;

	for (i = 0; i < k->nrevoked; i++)
		if (k->revoked[i].overlay_ip == ip)
			return 0;
	if (k->nrevoked == k->caprevoked) {
		cap = k->caprevoked ? k->caprevoked * 2 : 16;
		n = realloc(k->revoked, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		k->revoked = n;
		k->caprevoked = cap;
	}
	snprintf(k->revoked[k->nrevoked].name, CTLMSG_NAME_MAX, "%s", name);
	k->revoked[k->nrevoked].overlay_ip = ip;
	k->nrevoked++;
	return 0;
}

static int keysvc_revoked_host(const struct reg_host *h, void *arg)
{
	return h->revoked ? keysvc_revoked_add(arg, h->name, h->overlay_ip) : 0;
}

int keysvc_load_revoked(struct server *srv)
{
	int ret = registry_host_foreach(srv->reg, keysvc_revoked_host,
					srv->keys);

	if (!ret)
		log_info("revoked hosts=%zu (repeated to every host at HELLO)",
			 srv->keys->nrevoked);
	return ret;
}

void keysvc_hello_revokes(struct server *srv, struct session *s)
{
	struct keysvc *k = srv->keys;
	struct ctlmsg m;
	size_t i;

	for (i = 0; i < k->nrevoked && !s->dead; i++) {
		ctlmsg_init(&m, CTLMSG_KEY_REVOKE);
		snprintf(m.name, sizeof(m.name), "%s", k->revoked[i].name);
		m.overlay_ip = k->revoked[i].overlay_ip;
		m.present = CTLA_BIT(CTLA_NAME) | CTLA_BIT(CTLA_OVERLAY_IP);
		session_send(s, &m);
	}
	if (k->nrevoked)
		log_debug("revocations repeated host=%s n=%zu", s->name,
			  k->nrevoked);
}

int keysvc_revoke(struct server *srv, const struct reg_host *h)
{
	struct keysvc *k = srv->keys;
	uint64_t now = authsrv_mono_ms();
	uint32_t *peers = NULL, *np, other;
	size_t n = 0, cap = 0, i, sent = 0;
	struct keysvc_id *e;
	struct session *s;
	struct ctlmsg m;

	/* Out of memory here only costs the repeat at a later HELLO. */
	if (keysvc_revoked_add(k, h->name, h->overlay_ip))
		log_warn("cannot remember revoked host=%s for later HELLOs",
			 h->name);
	metrics_revoked(h->overlay_ip);
	for (e = k->fifo_head; e; e = e->fnext) {
		if (e->expires_ms <= now)
			continue;
		if (e->a_ip == h->overlay_ip)
			other = e->b_ip;
		else if (e->b_ip == h->overlay_ip)
			other = e->a_ip;
		else
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			np = realloc(peers, cap * sizeof(*peers));
			if (!np)
				break;	/* the keys still expire */
			peers = np;
		}
		peers[n++] = other;
		/* told once is enough; only once it is sure to be told */
		e->a_ip = e->b_ip = 0;
	}
	if (n)
		qsort(peers, n, sizeof(*peers), keysvc_cmp_u32);
	ctlmsg_init(&m, CTLMSG_KEY_REVOKE);
	snprintf(m.name, sizeof(m.name), "%s", h->name);
	m.overlay_ip = h->overlay_ip;
	m.present = CTLA_BIT(CTLA_NAME) | CTLA_BIT(CTLA_OVERLAY_IP);
	for (i = 0; i < n; i++) {
		if (i && peers[i] == peers[i - 1])
			continue;
		s = session_find_online_ip(srv, peers[i]);
		if (!s)
			continue;	/* offline: its keys die with vpnd or expire */
		session_send(s, &m);
		audit_write(&(struct audit_rec){ .event = "key_revoke",
						 .host = s->name,
						 .peer = h->name,
						 .reason = "peer revoked" });
		sent++;
	}
	free(peers);
	return (int)sent;
}
