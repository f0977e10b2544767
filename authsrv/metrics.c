// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv metrics (see metrics.h).
 *
 * Counters are plain globals: the server is one thread. Key denials are
 * labelled with a short, stable reason class derived from the reason text
 * the requester receives (the text itself carries host names: a label per
 * host pair would grow without bound).
 *
 * Live keys: the server keeps no key material after a grant, so "live"
 * means granted less than its lifetime ago and not revoked since. Each
 * grant leaves a record {expiry, requester ip, destination ip}; lifetimes
 * are one value per server run, so records expire in insertion order and
 * a FIFO suffices. A revocation ends that host's records.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "authsrv.h"
#include "mavpn/promhttp.h"
#include "metrics.h"
#include "registry.h"
#include "server.h"

#define P "mavpn_authsrv_"
/* Bound on remembered grants (16 B each); beyond it the oldest go first. */
#define METRICS_MAX_LIVE	(1u << 22)

enum deny_class {
	DENY_BUSY, DENY_REQUESTER_REVOKED, DENY_UNKNOWN_PEER, DENY_SELF,
	DENY_PEER_REVOKED, DENY_POLICY, DENY_PEER_OFFLINE, DENY_NO_ACK,
	DENY_REGISTRY, DENY_INTERNAL, DENY_OTHER, DENY_RATE_LIMITED,
	DENY_NCLASSES
};

static const char *const deny_names[DENY_NCLASSES] = {
	[DENY_BUSY] = "too_many_requests",
	[DENY_REQUESTER_REVOKED] = "requester_revoked",
	[DENY_UNKNOWN_PEER] = "unknown_peer",
	[DENY_SELF] = "own_address",
	[DENY_PEER_REVOKED] = "peer_revoked",
	[DENY_POLICY] = "policy",
	[DENY_PEER_OFFLINE] = "peer_offline",
	[DENY_NO_ACK] = "peer_no_ack",
	[DENY_REGISTRY] = "registry_error",
	[DENY_INTERNAL] = "internal_error",
	[DENY_OTHER] = "other",
	[DENY_RATE_LIMITED] = "rate_limited",
};

struct live_key {
	uint64_t expires_ms;		/* 0: revoked */
	uint32_t a_ip, b_ip;
};

static struct {
	uint64_t sent[CTLMSG_TYPE_MAX + 1], rcvd[CTLMSG_TYPE_MAX + 1];
	uint64_t denials[DENY_NCLASSES];
	uint64_t auth_refused, enroll_refused, tls_failed;
	struct live_key *live;		/* ring */
	size_t live_cap, live_head, live_len;
} m;

static struct promhttp *metrics_http;

/* Reason texts are keysvc.c's; anything new lands in "other". */
static enum deny_class deny_classify(const char *r)
{
	if (!strncmp(r, "rate limited", 12))
		return DENY_RATE_LIMITED;
	if (strstr(r, "too many key requests"))
		return DENY_BUSY;
	if (strstr(r, "this host is revoked"))
		return DENY_REQUESTER_REVOKED;
	if (strstr(r, "no host has overlay address"))
		return DENY_UNKNOWN_PEER;
	if (strstr(r, "own address"))
		return DENY_SELF;
	if (strstr(r, "registry error"))
		return DENY_REGISTRY;
	if (!strncmp(r, "policy", 6))
		return DENY_POLICY;
	if (strstr(r, "did not confirm"))
		return DENY_NO_ACK;
	if (!strncmp(r, "peer ", 5) && strstr(r, " is revoked"))
		return DENY_PEER_REVOKED;
	if (!strncmp(r, "peer ", 5) && strstr(r, " is offline"))
		return DENY_PEER_OFFLINE;
	if (strstr(r, "out of memory") || strstr(r, "generation failed"))
		return DENY_INTERNAL;
	return DENY_OTHER;
}

static void live_expire(uint64_t now)
{
	struct live_key *k;

	while (m.live_len) {
		k = &m.live[m.live_head];
		if (k->expires_ms > now)
			break;
		m.live_head = (m.live_head + 1) % m.live_cap;
		m.live_len--;
	}
}

static void live_add(uint32_t a_ip, uint32_t b_ip, uint32_t lifetime_s)
{
	uint64_t now = authsrv_mono_ms();
	struct live_key *n;
	size_t i, cap;

	live_expire(now);
	if (m.live_len == m.live_cap && m.live_cap < METRICS_MAX_LIVE) {
		cap = m.live_cap ? m.live_cap * 2 : 256;
		n = malloc(cap * sizeof(*n));
		if (n) {
			/* Unroll the ring into the new array. */
			for (i = 0; i < m.live_len; i++)
				n[i] = m.live[(m.live_head + i) % m.live_cap];
			free(m.live);
			m.live = n;
			m.live_cap = cap;
			m.live_head = 0;
		}
	}
	if (!m.live_cap)
		return;
	if (m.live_len == m.live_cap) {		/* full: forget the oldest */
		m.live_head = (m.live_head + 1) % m.live_cap;
		m.live_len--;
	}
	n = &m.live[(m.live_head + m.live_len) % m.live_cap];
	n->expires_ms = now + (uint64_t)lifetime_s * 1000;
	n->a_ip = a_ip;
	n->b_ip = b_ip;
	m.live_len++;
}

/* Revocation is rare: a linear pass is fine. */
static void live_revoke(uint32_t ip)
{
	struct live_key *k;
	size_t i;

	for (i = 0; i < m.live_len; i++) {
		k = &m.live[(m.live_head + i) % m.live_cap];
		if (k->a_ip == ip || k->b_ip == ip)
			k->expires_ms = 0;
	}
}

static uint64_t live_count(void)
{
	uint64_t n = 0;
	size_t i;

	live_expire(authsrv_mono_ms());
	for (i = 0; i < m.live_len; i++)
		if (m.live[(m.live_head + i) % m.live_cap].expires_ms)
			n++;
	return n;
}

void metrics_sent(const struct session *s, const struct ctlmsg *msg)
{
	if (msg->type <= CTLMSG_TYPE_MAX)
		m.sent[msg->type]++;
	switch (msg->type) {
	case CTLMSG_KEY_DENY:
		m.denials[deny_classify(msg->reason)]++;
		break;
	case CTLMSG_KEY_GRANT:
		live_add(s->overlay_ip, msg->overlay_ip, msg->lifetime);
		break;
	case CTLMSG_ERROR:
		/* An ERROR before HELLO is a refused credential; on an
		 * enrollment connection, a refused enrollment. */
		if (s->state == SESS_HANDSHAKE)
			m.auth_refused++;
		else if (s->state == SESS_ENROLL)
			m.enroll_refused++;
		break;
	}
}

/* Not per KEY_REVOKE sent: those are repeated at every HELLO, and the
 * walk over the live records is O(grants). */
void metrics_revoked(uint32_t overlay_ip)
{
	live_revoke(overlay_ip);
}

void metrics_received(const struct ctlmsg *msg)
{
	if (msg->type <= CTLMSG_TYPE_MAX)
		m.rcvd[msg->type]++;
}

void metrics_tls_failed(void)
{
	m.tls_failed++;
}

static void one(FILE *f, const char *name, const char *type, const char *help,
		uint64_t v)
{
	prom_family(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void by_type(FILE *f, const char *name, const char *help,
		    const uint64_t *v)
{
	unsigned int t;

	prom_family(f, name, "counter", help);
	for (t = 1; t < CTLMSG_TYPE_MAX; t++)
		fprintf(f, "%s{type=\"%s\"} %" PRIu64 "\n", name,
			ctlmsg_type_name(t), v[t]);
}

struct host_count {
	uint64_t enrolled, revoked;
};

static int count_host(const struct reg_host *h, void *arg)
{
	struct host_count *c = arg;

	c->enrolled++;
	c->revoked += h->revoked;
	return 0;
}

static int metrics_render(void *arg, FILE *f)
{
	static const char *const st_names[] = {
		[SESS_HANDSHAKE] = "handshake", [SESS_ENROLL] = "enroll",
		[SESS_CTL_HELLO] = "hello", [SESS_ONLINE] = "online",
		[SESS_CLOSING] = "closing", [SESS_DRAIN] = "closing",
	};
	struct server *srv = arg;
	uint64_t st[SESS_DRAIN + 1] = { 0 };
	struct host_count hc = { 0 };
	const struct session *s;
	unsigned int i;
	int ret;

	for (s = srv->sessions; s; s = s->next)
		if (s->state <= SESS_DRAIN)
			st[s->state]++;
	st[SESS_CLOSING] += st[SESS_DRAIN];

	one(f, P "hosts_connected", "gauge",
	    "Hosts with an authenticated control channel (HELLO done).",
	    st[SESS_ONLINE]);
	prom_family(f, P "sessions", "gauge",
		    "TCP/TLS sessions by state.");
	for (i = 0; i <= SESS_CLOSING; i++)
		fprintf(f, P "sessions{state=\"%s\"} %" PRIu64 "\n",
			st_names[i], st[i]);

	ret = registry_host_foreach(srv->reg, count_host, &hc);
	if (ret)
		return ret;
	one(f, P "hosts_enrolled", "gauge",
	    "Hosts in the registry, revoked ones included.", hc.enrolled);
	one(f, P "hosts_revoked", "gauge", "Revoked hosts in the registry.",
	    hc.revoked);

	one(f, P "enrollments_total", "counter",
	    "Successful enrollments (ENROLL_RESP sent).",
	    m.sent[CTLMSG_ENROLL_RESP]);
	one(f, P "enrollment_refusals_total", "counter",
	    "Enrollment connections answered with ERROR (bad, used or expired token, bad CSR, timeout).",
	    m.enroll_refused);
	one(f, P "auth_refusals_total", "counter",
	    "Control connections whose client certificate or host was refused.",
	    m.auth_refused);
	one(f, P "tls_handshake_failures_total", "counter",
	    "TLS handshakes that failed (protocol, ALPN or certificate verification).",
	    m.tls_failed);

	one(f, P "key_requests_total", "counter", "KEY_REQ received.",
	    m.rcvd[CTLMSG_KEY_REQ]);
	one(f, P "key_pushes_total", "counter",
	    "Keys pushed to a destination host (KEY_PUSH sent).",
	    m.sent[CTLMSG_KEY_PUSH]);
	one(f, P "key_grants_total", "counter",
	    "Keys granted to a requester after the destination confirmed.",
	    m.sent[CTLMSG_KEY_GRANT]);
	prom_family(f, P "key_denials_total", "counter",
		    "Key requests refused (KEY_DENY sent), by reason class.");
	for (i = 0; i < DENY_NCLASSES; i++)
		fprintf(f, P "key_denials_total{reason=\"%s\"} %" PRIu64 "\n",
			deny_names[i], m.denials[i]);
	one(f, P "key_revocations_total", "counter",
	    "KEY_REVOKE messages sent (at a revocation, and repeated at each HELLO).",
	    m.sent[CTLMSG_KEY_REVOKE]);
	one(f, P "keys_live", "gauge",
	    "Keys granted less than their lifetime ago and not revoked since.",
	    live_count());

	by_type(f, P "messages_received_total",
		"Control messages received, by type.", m.rcvd);
	by_type(f, P "messages_sent_total", "Control messages sent, by type.",
		m.sent);
	return ferror(f) ? -EIO : 0;
}

int metrics_open(struct server *srv, const char *addr)
{
	metrics_http = promhttp_open(addr, metrics_render, srv);
	return metrics_http ? promhttp_fd(metrics_http) : -errno;
}

void metrics_process(void)
{
	if (metrics_http)
		promhttp_process(metrics_http);
}

void metrics_tick(void)
{
	promhttp_tick(metrics_http);
}

void metrics_close(void)
{
	promhttp_close(metrics_http);
	metrics_http = NULL;
}
