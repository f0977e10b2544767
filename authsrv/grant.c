// SPDX-License-Identifier: GPL-2.0-only
/* Pending grants: mint, KEY_PUSH, KEY_PUSH_ACK, KEY_GRANT (see grant.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "audit.h"
#include "grant.h"
#include "gwindex.h"
#include "keyid.h"
#include "mavpn/log.h"
#include "registry.h"
#include "session.h"

struct grant {
	struct grant *next, *prev;
	struct keyid_rec *idrec;	/* its key id's record */
	uint32_t key_id;
	uint32_t req_id;
	uint8_t key[CTLMSG_KEY_LEN];
	struct session *a, *b;		/* requester, peer */
	uint32_t dst_ip;		/* as requested, network order */
	uint64_t deadline_ms;
	char app[CTLMSG_APP_MAX];
};

struct grant_set {
	struct grant *pending;
	struct keyid *ids;
	struct registry *reg;
	struct audit *audit;
	struct metrics *metrics;
	struct grant_cfg cfg;
};

struct grant_set *grant_new(struct keyid *ids, struct registry *reg,
			    struct audit *audit, struct metrics *mt,
			    const struct grant_cfg *cfg)
{
	struct grant_set *gs = calloc(1, sizeof(*gs));

	if (!gs)
		return NULL;
	gs->ids = ids;
	gs->reg = reg;
	gs->audit = audit;
	gs->metrics = mt;
	gs->cfg = *cfg;
	return gs;
}

static void grant_wipe_free(struct grant *g)
{
	OPENSSL_cleanse(g, sizeof(*g));
	free(g);
}

void grant_free(struct grant_set *gs)
{
	struct grant *g;

	if (!gs)
		return;
	while ((g = gs->pending)) {
		gs->pending = g->next;
		grant_wipe_free(g);
	}
	free(gs);
}

void grant_deny_msg(struct session *a, uint32_t req_id, uint32_t dst,
		    const char *reason)
{
	struct ctlmsg m;

	ctlmsg_init(&m, CTLMSG_KEY_DENY);
	m.req_id = req_id;
	m.overlay_ip = dst;
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	m.present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_OVERLAY_IP) |
		    CTLA_BIT(CTLA_REASON);
	session_send(a, &m);
}

void grant_deny(struct audit *audit, struct metrics *mt, struct session *a,
		uint32_t req_id, uint32_t dst, const char *peer, const char *app,
		enum deny_class cls, const char *reason)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	grant_deny_msg(a, req_id, dst, reason);
	metrics_denied(mt, cls);
	audit_write(audit, &(struct audit_rec){ .event = "key_deny",
						.host = a->name,
						.peer = peer ? peer : ip,
						.app = app, .reason = reason });
	log_info("key denied host=%s dst=%s app=\"%s\" reason=\"%s\"", a->name,
		 ip, app ? app : "", reason);
}

/*
 * KEY_PUSH or KEY_GRANT of @g's key, naming @other (the host the receiver
 * will talk to) and where its datagrams come from. Wipe @m after sending.
 */
static void grant_key_msg(const struct grant_set *gs, struct ctlmsg *m,
			  uint8_t type, const struct grant *g,
			  const struct session *other)
{
	struct reg_host h;
	uint32_t i;

	ctlmsg_init(m, type);
	m->key_id = g->key_id;
	memcpy(m->key, g->key, sizeof(m->key));
	m->lifetime = gs->cfg.lifetime_s;
	snprintf(m->name, sizeof(m->name), "%s", other->name);
	m->overlay_ip = other->overlay_ip;
	m->underlay_ip = other->peer_ip;
	m->udp_port = other->udp_port;
	m->present = CTLA_BIT(CTLA_KEY_ID) | CTLA_BIT(CTLA_KEY) |
		     CTLA_BIT(CTLA_LIFETIME) | CTLA_BIT(CTLA_NAME) |
		     CTLA_BIT(CTLA_OVERLAY_IP) | CTLA_BIT(CTLA_UNDERLAY_IP) |
		     CTLA_BIT(CTLA_UDP_PORT);
	for (i = 0; i < other->n_endpoints; i++)
		ctlmsg_add_endpoint(m, &other->endpoints[i]);
	if (gs->cfg.max_packets) {
		m->max_packets = gs->cfg.max_packets;
		m->present |= CTLA_BIT(CTLA_MAX_PACKETS);
	}
	/* The LAN behind @other: the receiver routes it to this key, and
	 * accepts packets from inside it under this key. */
	if (!registry_host_by_name(gs->reg, other->name, &h))
		gwindex_add_routes(m, h.routes, h.overlay_ip);
}

void grant_start(struct grant_set *gs, struct session *a, struct session *b,
		 uint32_t req_id, uint32_t dst_ip, const char *app,
		 uint64_t now_ms)
{
	struct grant *g;
	struct ctlmsg p;

	g = calloc(1, sizeof(*g));
	if (!g) {
		grant_deny(gs->audit, gs->metrics, a, req_id, dst_ip, b->name,
			   app, DENY_INTERNAL, "server out of memory");
		return;
	}
	g->idrec = keyid_alloc(gs->ids, now_ms, gs->cfg.lifetime_s,
			       a->overlay_ip, b->overlay_ip);
	if (!g->idrec || RAND_priv_bytes(g->key, sizeof(g->key)) != 1) {
		/* An id without its grant just expires. */
		grant_wipe_free(g);
		grant_deny(gs->audit, gs->metrics, a, req_id, dst_ip, b->name,
			   app, DENY_INTERNAL, "key generation failed");
		return;
	}
	g->key_id = g->idrec->id;
	g->idrec->grant = g;
	g->req_id = req_id;
	g->a = a;
	g->b = b;
	g->dst_ip = dst_ip;
	g->deadline_ms = now_ms + GRANT_ACK_TIMEOUT_MS;
	if (app)
		snprintf(g->app, sizeof(g->app), "%s", app);
	g->prev = NULL;
	g->next = gs->pending;
	if (gs->pending)
		gs->pending->prev = g;
	gs->pending = g;
	a->pending++;

	/* B learns who A is and where A's datagrams come from. */
	grant_key_msg(gs, &p, CTLMSG_KEY_PUSH, g, a);
	session_send(b, &p);
	ctlmsg_wipe(&p);
	/* A failed push closes b; the reaper then denies this grant. */
	log_debug("key pushed host=%s peer=%s key_id=%08x", a->name, b->name,
		  g->key_id);
}

static void grant_unlink(struct grant_set *gs, struct grant *g)
{
	if (g->prev)
		g->prev->next = g->next;
	else
		gs->pending = g->next;
	if (g->next)
		g->next->prev = g->prev;
	g->next = g->prev = NULL;
	g->idrec->grant = NULL;
	if (g->a->pending)
		g->a->pending--;
}

void grant_push_ack(struct grant_set *gs, struct session *b, uint32_t key_id)
{
	struct grant *g = NULL;
	struct keyid_rec *e;
	struct session *a;
	struct ctlmsg r;

	e = keyid_find(gs->ids, key_id);
	if (e && e->grant && e->grant->b == b)
		g = e->grant;
	if (!g) {
		/* Late (after the timeout) or bogus: nothing to hand over. */
		log_info("stray KEY_PUSH_ACK host=%s key_id=%08x", b->name,
			 key_id);
		return;
	}
	grant_unlink(gs, g);
	a = g->a;
	grant_key_msg(gs, &r, CTLMSG_KEY_GRANT, g, b);
	r.req_id = g->req_id;
	r.present |= CTLA_BIT(CTLA_REQ_ID);
	session_send(a, &r);
	ctlmsg_wipe(&r);
	audit_write(gs->audit, &(struct audit_rec){
		.event = "key_grant", .host = a->name, .peer = b->name,
		.app = g->app[0] ? g->app : NULL, .key_id = g->key_id });
	log_debug("key granted host=%s peer=%s key_id=%08x app=\"%s\"", a->name,
		 b->name, g->key_id, g->app);
	grant_wipe_free(g);
}

static void grant_fail(struct grant_set *gs, struct grant *g)
{
	char reason[CTLMSG_REASON_MAX];

	grant_unlink(gs, g);
	snprintf(reason, sizeof(reason), "peer %s did not confirm the key",
		 g->b->name);
	grant_deny(gs->audit, gs->metrics, g->a, g->req_id, g->dst_ip,
		   g->b->name, g->app[0] ? g->app : NULL, DENY_NO_ACK, reason);
	grant_wipe_free(g);
}

void grant_session_gone(struct grant_set *gs, struct session *s)
{
	struct grant *g, *next;

	for (g = gs->pending; g; g = next) {
		next = g->next;
		if (g->a == s) {
			/* Nobody to hand it to; B's copy just expires. */
			grant_unlink(gs, g);
			grant_wipe_free(g);
		} else if (g->b == s) {
			grant_fail(gs, g);
		}
	}
}

void grant_tick(struct grant_set *gs, uint64_t now_ms)
{
	struct grant *g, *next;

	for (g = gs->pending; g; g = next) {
		next = g->next;
		if (now_ms >= g->deadline_ms)
			grant_fail(gs, g);
	}
}
