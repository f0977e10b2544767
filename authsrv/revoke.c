// SPDX-License-Identifier: GPL-2.0-only
/* Revoked hosts, KEY_REVOKE at revocation and at HELLO (see revoke.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authsrv.h"
#include "keyid.h"
#include "mavpn/log.h"
#include "mavpn/util.h"
#include "metrics.h"
#include "registry.h"
#include "revoke.h"
#include "session.h"

struct revoke_entry {
	char name[CTLMSG_NAME_MAX];
	uint32_t overlay_ip;		/* network order */
};

struct revoke {
	struct revoke_entry *hosts;	/* every revoked host, unordered */
	size_t n, cap;
	struct keyid *ids;
	struct audit *audit;
	struct metrics *metrics;
	revoke_sessions_fn sessions;
	void *arg;
};

struct revoke *revoke_new(struct keyid *ids, struct audit *audit,
			  struct metrics *mt, revoke_sessions_fn sessions,
			  void *arg)
{
	struct revoke *rv = calloc(1, sizeof(*rv));

	if (!rv)
		return NULL;
	rv->ids = ids;
	rv->audit = audit;
	rv->metrics = mt;
	rv->sessions = sessions;
	rv->arg = arg;
	return rv;
}

void revoke_free(struct revoke *rv)
{
	if (!rv)
		return;
	free(rv->hosts);
	free(rv);
}

static int revoke_add(struct revoke *rv, const char *name, uint32_t ip)
{
	struct revoke_entry *n;
	size_t i, cap;

	for (i = 0; i < rv->n; i++)
		if (rv->hosts[i].overlay_ip == ip)
			return 0;
	if (rv->n == rv->cap) {
		cap = rv->cap ? rv->cap * 2 : 16;
		n = realloc(rv->hosts, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rv->hosts = n;
		rv->cap = cap;
	}
	snprintf(rv->hosts[rv->n].name, CTLMSG_NAME_MAX, "%s", name);
	rv->hosts[rv->n].overlay_ip = ip;
	rv->n++;
	return 0;
}

bool revoke_has(const struct revoke *rv, uint32_t ip)
{
	size_t i;

	for (i = 0; i < rv->n; i++)
		if (rv->hosts[i].overlay_ip == ip)
			return true;
	return false;
}

static int revoke_load_host(const struct reg_host *h, void *arg)
{
	return h->revoked ? revoke_add(arg, h->name, h->overlay_ip) : 0;
}

int revoke_load(struct revoke *rv, struct registry *reg)
{
	int ret = registry_host_foreach(reg, revoke_load_host, rv);

	if (!ret)
		log_info("revoked hosts=%zu (repeated to every host at HELLO)",
			 rv->n);
	return ret;
}

static void revoke_msg(struct ctlmsg *m, const char *name, uint32_t ip)
{
	ctlmsg_init(m, CTLMSG_KEY_REVOKE);
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->overlay_ip = ip;
	m->present = CTLA_BIT(CTLA_NAME) | CTLA_BIT(CTLA_OVERLAY_IP);
}

void revoke_hello(const struct revoke *rv, struct session *s)
{
	struct ctlmsg m;
	size_t i;

	for (i = 0; i < rv->n && !s->dead; i++) {
		revoke_msg(&m, rv->hosts[i].name, rv->hosts[i].overlay_ip);
		session_send(s, &m);
	}
	if (rv->n)
		log_debug("revocations repeated host=%s n=%zu", s->name, rv->n);
}

static bool revoke_held_key(const uint32_t *peers, size_t n, uint32_t ip)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (peers[i] == ip)
			return true;
	return false;
}

int revoke_host(struct revoke *rv, const char *name, uint32_t ip)
{
	uint32_t *peers = NULL;
	struct session *s;
	struct ctlmsg m;
	size_t n = 0;
	int sent = 0;

	/* Out of memory here only costs the repeat at a later HELLO. */
	if (revoke_add(rv, name, ip))
		log_warn("cannot remember revoked host=%s for later HELLOs",
			 name);
	metrics_revoked(rv->metrics, ip);
	/*
	 * Every online host is told, not only those the key records name:
	 * the records are memory, and after a server restart (or once a
	 * record is forgotten) a peer may still hold a key with @ip. The
	 * records only choose who gets an audit line.
	 */
	keyid_peers_of(rv->ids, ip, mono_ms(), &peers, &n);
	revoke_msg(&m, name, ip);
	for (s = rv->sessions(rv->arg); s; s = s->next) {
		if (s->dead || s->state != SESS_ONLINE || s->overlay_ip == ip)
			continue;
		session_send(s, &m);
		if (revoke_held_key(peers, n, s->overlay_ip))
			audit_write(rv->audit, &(struct audit_rec){
				.event = "key_revoke", .host = s->name,
				.peer = name, .reason = "peer revoked" });
		sent++;
	}
	free(peers);
	return sent;
}
