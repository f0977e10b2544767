// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv metrics (see metrics.h).
 *
 * One struct metrics per server (metrics_new() in server.c, handed to the
 * modules that count), no locking: the server is one thread. Each family
 * is a table (metrics.h, mavpn/counters.h). Key denials are labelled with
 * the class the deny path passes (metrics_denied()), not with the text
 * the requester receives: that carries host names, and a label per host
 * pair would grow without bound.
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
#include "mavpn/counters.h"
#include "mavpn/promhttp.h"
#include "mavpn/util.h"
#include "metrics.h"
#include "registry.h"
#include "server.h"

#define P "mavpn_authsrv_"
/* Bound on remembered grants (16 B each); beyond it the oldest go first. */
#define METRICS_MAX_LIVE	(1u << 22)

static const struct counter_desc metrics_desc[METRICS_CNT__COUNT] = {
	METRICS_COUNTERS(COUNTER_DESC_COUNTER)
};

static const struct counter_desc deny_desc[DENY__COUNT] = {
	METRICS_DENY_CLASSES(COUNTER_DESC_COUNTER)
};

/* Levels read at scrape time, X(ID, name, help): mavpn_authsrv_NAME. */
#define METRICS_GAUGES(X) \
	X(HOSTS_CONNECTED, "hosts_connected", "Hosts with an authenticated control channel (HELLO done).") \
	X(HOSTS_ENROLLED, "hosts_enrolled", "Hosts in the registry, revoked ones included.") \
	X(HOSTS_REVOKED, "hosts_revoked", "Revoked hosts in the registry.") \
	X(KEYS_LIVE, "keys_live", "Keys granted less than their lifetime ago and not revoked since.")

enum metrics_gauge {
#define GAUGE_ENUM(id, name, help) GAUGE_##id,
	METRICS_GAUGES(GAUGE_ENUM)
#undef GAUGE_ENUM
	GAUGE__COUNT
};

#define GAUGE_DESC(id, name, help) { name, help, COUNTER_GAUGE, NULL, NULL },
static const struct counter_desc gauge_desc[GAUGE__COUNT] = {
	METRICS_GAUGES(GAUGE_DESC)
};

struct live_key {
	uint64_t expires_ms;		/* 0: revoked */
	uint32_t a_ip, b_ip;
};

struct metrics {
	struct server *srv;		/* read at scrape time */
	struct promhttp *http;		/* NULL unless serving */
	uint64_t sent[CTLMSG_TYPE_MAX + 1], rcvd[CTLMSG_TYPE_MAX + 1];
	uint64_t cnt[METRICS_CNT__COUNT];
	uint64_t denials[DENY__COUNT];
	struct live_key *live;		/* ring */
	size_t live_cap, live_head, live_len;
};

struct metrics *metrics_new(struct server *srv)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m)
		m->srv = srv;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	promhttp_close(m->http);
	free(m->live);
	free(m);
}

static void live_expire(struct metrics *m, uint64_t now)
{
	struct live_key *k;

	while (m->live_len) {
		k = &m->live[m->live_head];
		if (k->expires_ms > now)
			break;
		m->live_head = (m->live_head + 1) % m->live_cap;
		m->live_len--;
	}
}

static void live_add(struct metrics *m, uint32_t a_ip, uint32_t b_ip,
		     uint32_t lifetime_s)
{
	uint64_t now = mono_ms();
	struct live_key *n;
	size_t i, cap;

	live_expire(m, now);
	if (m->live_len == m->live_cap && m->live_cap < METRICS_MAX_LIVE) {
		cap = m->live_cap ? m->live_cap * 2 : 256;
		n = malloc(cap * sizeof(*n));
		if (n) {
			/* Unroll the ring into the new array. */
			for (i = 0; i < m->live_len; i++)
				n[i] = m->live[(m->live_head + i) % m->live_cap];
			free(m->live);
			m->live = n;
			m->live_cap = cap;
			m->live_head = 0;
		}
	}
	if (!m->live_cap)
		return;
	if (m->live_len == m->live_cap) {		/* full: forget the oldest */
		m->live_head = (m->live_head + 1) % m->live_cap;
		m->live_len--;
	}
	n = &m->live[(m->live_head + m->live_len) % m->live_cap];
	n->expires_ms = now + (uint64_t)lifetime_s * 1000;
	n->a_ip = a_ip;
	n->b_ip = b_ip;
	m->live_len++;
}

/* Revocation is rare: a linear pass is fine. */
static void live_revoke(struct metrics *m, uint32_t ip)
{
	struct live_key *k;
	size_t i;

	for (i = 0; i < m->live_len; i++) {
		k = &m->live[(m->live_head + i) % m->live_cap];
		if (k->a_ip == ip || k->b_ip == ip)
			k->expires_ms = 0;
	}
}

static uint64_t live_count(struct metrics *m)
{
	uint64_t n = 0;
	size_t i;

	live_expire(m, mono_ms());
	for (i = 0; i < m->live_len; i++)
		if (m->live[(m->live_head + i) % m->live_cap].expires_ms)
			n++;
	return n;
}

void metrics_sent(struct metrics *m, const struct session *s,
		  const struct ctlmsg *msg)
{
	if (!m)
		return;
	if (msg->type <= CTLMSG_TYPE_MAX)
		m->sent[msg->type]++;
	switch (msg->type) {
	case CTLMSG_ENROLL_RESP:
		m->cnt[METRICS_CNT_ENROLLMENTS]++;
		break;
	case CTLMSG_KEY_PUSH:
		m->cnt[METRICS_CNT_KEY_PUSHES]++;
		break;
	case CTLMSG_KEY_GRANT:
		m->cnt[METRICS_CNT_KEY_GRANTS]++;
		live_add(m, s->overlay_ip, msg->overlay_ip, msg->lifetime);
		break;
	case CTLMSG_KEY_REVOKE:
		m->cnt[METRICS_CNT_KEY_REVOCATIONS]++;
		break;
	case CTLMSG_ERROR:
		/* An ERROR before HELLO is a refused credential; on an
		 * enrollment connection, a refused enrollment. */
		if (s->state == SESS_HANDSHAKE)
			m->cnt[METRICS_CNT_AUTH_REFUSED]++;
		else if (s->state == SESS_ENROLL)
			m->cnt[METRICS_CNT_ENROLL_REFUSED]++;
		break;
	}
}

void metrics_denied(struct metrics *m, enum deny_class c)
{
	if (m && (unsigned int)c < DENY__COUNT)
		m->denials[c]++;
}

/* Not per KEY_REVOKE sent: those are repeated at every HELLO, and the
 * walk over the live records is O(grants). */
void metrics_revoked(struct metrics *m, uint32_t overlay_ip)
{
	if (m)
		live_revoke(m, overlay_ip);
}

void metrics_received(struct metrics *m, const struct ctlmsg *msg)
{
	if (!m)
		return;
	if (msg->type <= CTLMSG_TYPE_MAX)
		m->rcvd[msg->type]++;
	if (msg->type == CTLMSG_KEY_REQ)
		m->cnt[METRICS_CNT_KEY_REQUESTS]++;
}

void metrics_tls_failed(struct metrics *m)
{
	if (m)
		m->cnt[METRICS_CNT_TLS_FAILED]++;
}

void metrics_count(struct metrics *m, enum metrics_counter c)
{
	if (m && c < METRICS_CNT__COUNT)
		m->cnt[c]++;
}

int metrics_line(struct metrics *m, char *buf, size_t size)
{
	static const uint64_t zero[METRICS_CNT__COUNT];

	return counters_line(buf, size, NULL, metrics_desc,
			     m ? m->cnt : zero, METRICS_CNT__COUNT);
}

static void by_type(FILE *f, const char *name, const char *help,
		    const uint64_t *v)
{
	unsigned int t;

	prom_family(f, name, "counter", help);
	for (t = 1; t < CTLMSG_TYPE_MAX; t++)
		if (ctlmsg_type_known(t))
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
	struct metrics *m = arg;
	struct server *srv = m->srv;
	const struct counter_row one = { .vals = m->cnt };
	uint64_t st[SESS_DRAIN + 1] = { 0 }, g[GAUGE__COUNT];
	struct host_count hc = { 0 };
	const struct session *s;
	unsigned int i;
	int ret;

	for (s = srv->sessions; s; s = s->next)
		if (s->state <= SESS_DRAIN)
			st[s->state]++;
	st[SESS_CLOSING] += st[SESS_DRAIN];
	ret = registry_host_foreach(srv->reg, count_host, &hc);
	if (ret)
		return ret;
	g[GAUGE_HOSTS_CONNECTED] = st[SESS_ONLINE];
	g[GAUGE_HOSTS_ENROLLED] = hc.enrolled;
	g[GAUGE_HOSTS_REVOKED] = hc.revoked;
	g[GAUGE_KEYS_LIVE] = live_count(m);

	counters_prom(f, P, gauge_desc, GAUGE__COUNT,
		      &(struct counter_row){ .vals = g }, 1);
	prom_family(f, P "sessions", "gauge",
		    "TCP/TLS sessions by state.");
	for (i = 0; i <= SESS_CLOSING; i++)
		fprintf(f, P "sessions{state=\"%s\"} %" PRIu64 "\n",
			st_names[i], st[i]);
	counters_prom(f, P, metrics_desc, METRICS_CNT__COUNT, &one, 1);
	counters_prom_by(f, P "key_denials_total", COUNTER_COUNTER,
			 "Key requests refused (KEY_DENY sent), by reason class",
			 "reason", deny_desc, DENY__COUNT,
			 &(struct counter_row){ .vals = m->denials }, 1);

	by_type(f, P "messages_received_total",
		"Control messages received, by type.", m->rcvd);
	by_type(f, P "messages_sent_total", "Control messages sent, by type.",
		m->sent);
	return ferror(f) ? -EIO : 0;
}

int metrics_open(struct metrics *m, const char *addr)
{
	if (m->http)
		return -EALREADY;
	m->http = promhttp_open(addr, metrics_render, m);
	return m->http ? promhttp_fd(m->http) : -errno;
}

void metrics_process(struct metrics *m)
{
	if (m && m->http)
		promhttp_process(m->http);
}

void metrics_tick(struct metrics *m)
{
	if (m)
		promhttp_tick(m->http);
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	promhttp_close(m->http);
	m->http = NULL;
}
