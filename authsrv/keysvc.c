// SPDX-License-Identifier: GPL-2.0-only
/*
 * The KEY_REQ entry and the wiring of the key modules (see keysvc.h):
 * keyid.c (ids), grant.c (PUSH/ACK/GRANT), revoke.c (revocation),
 * gwindex.c (gateway lookup), keyrate.c (rate limit). The checks of a
 * request and the policy's refusal text live here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authsrv.h"
#include "grant.h"
#include "gwindex.h"
#include "keyid.h"
#include "keyrate.h"
#include "keysvc.h"
#include "mavpn/log.h"
#include "mavpn/util.h"
#include "metrics.h"
#include "policy.h"
#include "registry.h"
#include "revoke.h"
#include "session.h"

struct keysvc {
	struct registry *reg;
	struct gwindex *gw;
	struct audit *audit;
	struct metrics *metrics;
	const struct policy *policy;
	struct keysvc_cfg cfg;
	struct keysvc_online online;
	struct keyid *ids;
	struct grant_set *grants;
	struct revoke *revoked;
};

struct keysvc *keysvc_new(struct registry *reg, struct gwindex *gw,
			  struct audit *audit, struct metrics *mt,
			  const struct keysvc_cfg *cfg,
			  const struct keysvc_online *online)
{
	struct grant_cfg gc = { .lifetime_s = cfg->key_lifetime,
				.max_packets = cfg->key_max_packets };
	struct keysvc *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->reg = reg;
	k->gw = gw;
	k->audit = audit;
	k->metrics = mt;
	k->cfg = *cfg;
	k->online = *online;
	k->ids = keyid_new();
	k->grants = k->ids ? grant_new(k->ids, reg, audit, mt, &gc) : NULL;
	k->revoked = revoke_new(k->ids, audit, mt, online->sessions,
				 online->arg);
	if (!k->grants || !k->revoked) {
		keysvc_free(k);
		return NULL;
	}
	return k;
}

void keysvc_free(struct keysvc *k)
{
	if (!k)
		return;
	grant_free(k->grants);		/* before the ids they point to */
	revoke_free(k->revoked);
	keyid_free(k->ids);
	free(k);
}

int keysvc_load_revoked(struct keysvc *k)
{
	return revoke_load(k->revoked, k->reg);
}

void keysvc_set_policy(struct keysvc *k, const struct policy *p)
{
	k->policy = p;
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

/* "NAME(UID)", "UID" or "" (not carried) of a request. */
static const char *keysvc_user(const struct ctlmsg *m, char *buf, size_t len)
{
	buf[0] = '\0';
	if ((m->present & CTLA_BIT(CTLA_UID)) &&
	    (m->present & CTLA_BIT(CTLA_USER)))
		snprintf(buf, len, "%s(%u)", m->user, m->uid);
	else if (m->present & CTLA_BIT(CTLA_UID))
		snprintf(buf, len, "%u", m->uid);
	return buf;
}

/* Policy check; on refusal @reason says who, from what, to whom. */
static bool keysvc_policy_allows(const struct keysvc *k,
				 const struct reg_host *a,
				 const struct reg_host *b,
				 const struct ctlmsg *m, char *reason,
				 size_t len)
{
	struct policy_who wa = { .name = a->name, .tags = a->tags };
	struct policy_who wb = { .name = b->name, .tags = b->tags };
	struct policy_req rq = {
		.app = (m->present & CTLA_BIT(CTLA_APP)) ? m->app : NULL,
		.has_uid = !!(m->present & CTLA_BIT(CTLA_UID)),
		.has_gid = !!(m->present & CTLA_BIT(CTLA_GID)),
		.uid = m->uid, .gid = m->gid,
		.user = (m->present & CTLA_BIT(CTLA_USER)) ? m->user : NULL,
		.group = (m->present & CTLA_BIT(CTLA_GROUP)) ? m->group : NULL,
		.proto = (m->present & CTLA_BIT(CTLA_PROTO)) ? m->proto : 0,
		.port = (m->present & CTLA_BIT(CTLA_DST_PORT)) ? m->dst_port : 0,
	};
	char flow[32] = "", pn[8], full[CTLMSG_APP_MAX + 4 * CTLMSG_NAME_MAX];
	char user[CTLMSG_NAME_MAX + 16], by[CTLMSG_NAME_MAX + 24] = "";

	if (policy_allows(k->policy, &wa, &wb, &rq))
		return true;
	if (keysvc_user(m, user, sizeof(user))[0])
		snprintf(by, sizeof(by), " user %s", user);
	if (rq.proto && rq.port)
		snprintf(flow, sizeof(flow), " %s/%u",
			 keysvc_proto_name(rq.proto, pn), rq.port);
	else if (rq.proto)
		snprintf(flow, sizeof(flow), " %s",
			 keysvc_proto_name(rq.proto, pn));
	snprintf(full, sizeof(full), "policy: %s (app %s%s) may not reach %s%s",
		 a->name, rq.app ? rq.app : "-", by, b->name, flow);
	full[len - 1] = '\0';	/* the wire's reason size */
	memcpy(reason, full, len);
	return false;
}

/*
 * The host a key for @ip is for: the host with that overlay address, else
 * the gateway whose LAN holds it. A gateway revoked behind the index's
 * back (the admin socket did not get through) is dropped and the lookup
 * repeated. 0, -ENOENT or -EIO.
 */
static int keysvc_dst_host(struct keysvc *k, uint32_t ip, struct reg_host *h)
{
	const char *gw;
	int ret;

	ret = registry_host_by_ip(k->reg, ip, h);
	while (ret == -ENOENT && !gwindex_lookup(k->gw, ip, &gw)) {
		ret = registry_host_by_name(k->reg, gw, h);
		if (ret == -EIO)
			break;
		if (!ret && !h->revoked)
			break;
		gwindex_remove(k->gw, gw);
		ret = -ENOENT;
	}
	return ret;
}

/* Over the KEY_REQ rate: KEY_DENY, logged and audited once a second. */
static void keysvc_rate_deny(struct keysvc *k, struct session *a,
			     const struct ctlmsg *m, const char *app,
			     uint64_t now)
{
	char reason[CTLMSG_REASON_MAX], ip[INET_ADDRSTRLEN];
	uint32_t n;

	snprintf(reason, sizeof(reason),
		 "rate limited: more than %u key requests per second",
		 k->cfg.key_rate);
	grant_deny_msg(a, m->req_id, m->overlay_ip, reason);
	metrics_denied(k->metrics, DENY_RATE_LIMITED);
	if (!keyrate_refused(&a->key_rate, now, &n))
		return;
	snprintf(reason, sizeof(reason),
		 "rate limited: more than %u key requests per second, %u denied",
		 k->cfg.key_rate, n);
	inet_ntop(AF_INET, &m->overlay_ip, ip, sizeof(ip));
	audit_write(k->audit, &(struct audit_rec){
		.event = "key_deny", .host = a->name, .peer = ip, .app = app,
		.reason = reason });
	log_warn("key requests rate limited host=%s denied=%u", a->name, n);
}

void keysvc_key_req(struct keysvc *k, struct session *a,
		    const struct ctlmsg *m)
{
	char ip[INET_ADDRSTRLEN], reason[CTLMSG_REASON_MAX];
	const char *app = (m->present & CTLA_BIT(CTLA_APP)) ? m->app : NULL;
	enum deny_class cls = DENY_INTERNAL;
	struct reg_host hb, ha;
	struct session *b;
	uint64_t now = mono_ms();
	int ret;

	inet_ntop(AF_INET, &m->overlay_ip, ip, sizeof(ip));
	if (!keyrate_take(&a->key_rate, k->cfg.key_rate, now)) {
		keysvc_rate_deny(k, a, m, app, now);
		return;
	}
	if (a->pending >= GRANT_MAX_PENDING) {
		grant_deny(k->audit, k->metrics, a, m->req_id, m->overlay_ip,
			   NULL, app, DENY_BUSY,
			   "too many key requests in flight");
		return;
	}
	/* The requester may have been revoked since it authenticated. */
	ret = registry_host_by_name(k->reg, a->name, &ha);
	if (ret || ha.revoked) {
		grant_deny(k->audit, k->metrics, a, m->req_id, m->overlay_ip,
			   NULL, app,
			   ret == -EIO ? DENY_REGISTRY : DENY_REQUESTER_REVOKED,
			   ret == -EIO ? "registry error" : "this host is revoked");
		return;
	}
	ret = keysvc_dst_host(k, m->overlay_ip, &hb);
	if (ret) {
		snprintf(reason, sizeof(reason), ret == -ENOENT ?
			 "no host has overlay address %s" :
			 "registry error looking up %s", ip);
		grant_deny(k->audit, k->metrics, a, m->req_id, m->overlay_ip,
			   NULL, app,
			   ret == -ENOENT ? DENY_UNKNOWN_PEER : DENY_REGISTRY,
			   reason);
		return;
	}
	b = NULL;
	if (!strcmp(hb.name, a->name)) {
		cls = DENY_SELF;
		snprintf(reason, sizeof(reason),
			 "%s is the requesting host's own address", ip);
	} else if (hb.revoked) {
		cls = DENY_PEER_REVOKED;
		snprintf(reason, sizeof(reason), "peer %s is revoked", hb.name);
	} else if (!keysvc_policy_allows(k, &ha, &hb, m, reason,
					 sizeof(reason))) {
		cls = DENY_POLICY;	/* @reason has the policy's text */
	} else if (!(b = k->online.by_name(k->online.arg, hb.name))) {
		cls = DENY_PEER_OFFLINE;
		snprintf(reason, sizeof(reason), "peer %s is offline", hb.name);
	}
	if (!b) {
		grant_deny(k->audit, k->metrics, a, m->req_id, m->overlay_ip,
			   hb.name, app, cls, reason);
		return;
	}
	grant_start(k->grants, a, b, m->req_id, m->overlay_ip, app, now);
}

/*
 * FLOW_REQ: may this flow of @a (application, user, destination as
 * addressed, protocol, port) start? Answered at once with FLOW_VERDICT and
 * the TTL vpnd caches it for; no key is involved (vpnd asks for one after
 * an allow if it has none). Denials are audited with the user, allows too
 * (one line per decision and TTL, not per packet).
 */
void keysvc_flow_req(struct keysvc *k, struct session *a,
		     const struct ctlmsg *m)
{
	const char *app = (m->present & CTLA_BIT(CTLA_APP)) ? m->app : NULL;
	char ip[INET_ADDRSTRLEN], user[CTLMSG_NAME_MAX + 16];
	struct reg_host ha, hb;
	struct ctlmsg r;
	bool allow = false;
	int ret;

	inet_ntop(AF_INET, &m->overlay_ip, ip, sizeof(ip));
	ctlmsg_init(&r, CTLMSG_FLOW_VERDICT);
	r.req_id = m->req_id;
	r.overlay_ip = m->overlay_ip;
	r.lifetime = k->cfg.flow_ttl;
	r.present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_OVERLAY_IP) |
		    CTLA_BIT(CTLA_VERDICT) | CTLA_BIT(CTLA_LIFETIME) |
		    CTLA_BIT(CTLA_REASON);
	hb.name[0] = '\0';
	ret = registry_host_by_name(k->reg, a->name, &ha);
	if (ret || ha.revoked) {
		snprintf(r.reason, sizeof(r.reason), "%s", ret == -EIO ?
			 "registry error" : "this host is revoked");
	} else if ((ret = keysvc_dst_host(k, m->overlay_ip, &hb))) {
		snprintf(r.reason, sizeof(r.reason), ret == -ENOENT ?
			 "no host has overlay address %s" :
			 "registry error looking up %s", ip);
		hb.name[0] = '\0';
	} else if (!strcmp(hb.name, a->name)) {
		snprintf(r.reason, sizeof(r.reason),
			 "%s is the requesting host's own address", ip);
	} else if (hb.revoked) {
		snprintf(r.reason, sizeof(r.reason), "peer %s is revoked",
			 hb.name);
	} else if (keysvc_policy_allows(k, &ha, &hb, m, r.reason,
					sizeof(r.reason))) {
		allow = true;
		snprintf(r.reason, sizeof(r.reason), "allowed");
	}
	r.verdict = allow;
	session_send(a, &r);
	keysvc_user(m, user, sizeof(user));
	audit_write(k->audit, &(struct audit_rec){
		.event = allow ? "flow_allow" : "flow_deny", .host = a->name,
		.peer = hb.name[0] ? hb.name : ip, .app = app,
		.user = user[0] ? user : NULL, .reason = r.reason });
	if (!allow)
		log_info("flow denied host=%s dst=%s proto=%u port=%u user=%s reason=\"%s\"",
			 a->name, ip, m->proto, m->dst_port,
			 user[0] ? user : "-", r.reason);
}

bool keysvc_policy_open(const struct keysvc *k)
{
	return k->policy == NULL;
}

void keysvc_flow_flush(struct keysvc *k)
{
	struct session *s;
	struct ctlmsg m;
	int n = 0;

	ctlmsg_init(&m, CTLMSG_FLOW_FLUSH);
	m.policy_open = k->policy == NULL;
	m.present = CTLA_BIT(CTLA_POLICY_OPEN);
	for (s = k->online.sessions(k->online.arg); s; s = s->next) {
		if (s->dead || s->state != SESS_ONLINE)
			continue;
		session_send(s, &m);
		n++;
	}
	log_info("flow decisions flushed on hosts=%d policy_open=%u", n,
		 m.policy_open);
}

void keysvc_push_ack(struct keysvc *k, struct session *b,
		     const struct ctlmsg *m)
{
	grant_push_ack(k->grants, b, m->key_id);
}

void keysvc_session_gone(struct keysvc *k, struct session *s)
{
	grant_session_gone(k->grants, s);
}

void keysvc_hello_routes(struct keysvc *k, const char *name,
			 struct ctlmsg *r)
{
	struct reg_host h;

	/* Its own first (gateway: itself), then every other gateway's. */
	if (!registry_host_by_name(k->reg, name, &h) &&
	    gwindex_add_routes(r, h.routes, h.overlay_ip))
		return;
	gwindex_net_routes(k->gw, name, r);
}

void keysvc_hello_revokes(struct keysvc *k, struct session *s)
{
	revoke_hello(k->revoked, s);
}

int keysvc_revoke(struct keysvc *k, const struct reg_host *h)
{
	gwindex_remove(k->gw, h->name);
	return revoke_host(k->revoked, h->name, h->overlay_ip);
}

bool keysvc_is_revoked(const struct keysvc *k, uint32_t ip)
{
	return revoke_has(k->revoked, ip);
}

void keysvc_tick(struct keysvc *k, uint64_t now_ms)
{
	grant_tick(k->grants, now_ms);
	keyid_expire(k->ids, now_ms);
}
