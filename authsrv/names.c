// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv: the DNS domain and the name registry sent to the hosts
 * (names.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "authsrv.h"
#include "mavpn/ctlmsg.h"
#include "mavpn/dnsmsg.h"
#include "mavpn/log.h"
#include "names.h"
#include "registry.h"
#include "server.h"
#include "session.h"

_Static_assert(CTLMSG_DOMAIN_MAX == DNSMSG_DOMAIN_MAX, "one domain limit");

int names_domain_load(const char *dir, char *out, size_t len)
{
	char path[4096];
	ssize_t n;
	int fd;

	if (len < CTLMSG_DOMAIN_MAX)
		return -EINVAL;
	if (authsrv_path(path, sizeof(path), dir, NAMES_FILE))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		snprintf(out, len, "%s", NAMES_DEFAULT_DOMAIN);
		return 0;
	}
	n = read(fd, out, CTLMSG_DOMAIN_MAX);
	close(fd);
	if (n < 0)
		return -errno;
	if (n == CTLMSG_DOMAIN_MAX)
		n--;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return dnsmsg_domain_valid(out) ? 0 : -EINVAL;
}

int names_domain_store(const char *dir, const char *domain)
{
	char path[4096];
	int fd, ret = 0;

	if (!dnsmsg_domain_valid(domain))
		return -EINVAL;
	if (authsrv_path(path, sizeof(path), dir, NAMES_FILE))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%s\n", domain) < 0)
		ret = -EIO;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

struct names_walk {
	struct session *s;
	struct ctlmsg *m;		/* reused: a ctlmsg is big */
	unsigned int n;
};

static int names_send_host(const struct reg_host *h, void *arg)
{
	struct names_walk *w = arg;

	if (h->revoked)
		return 0;
	snprintf(w->m->name, sizeof(w->m->name), "%s", h->name);
	w->m->overlay_ip = h->overlay_ip;
	w->m->present = CTLA_BIT(CTLA_NAME) | CTLA_BIT(CTLA_OVERLAY_IP);
	session_send(w->s, w->m);
	w->n++;
	/* A session whose output failed was closed: stop there. */
	return w->s->dead ? 1 : 0;
}

void names_hello(struct server *srv, struct session *s)
{
	static struct ctlmsg m;
	struct names_walk w = { .s = s, .m = &m };
	int ret;

	ctlmsg_init(&m, CTLMSG_NAME_ADD);
	ret = registry_host_foreach(srv->reg, names_send_host, &w);
	if (ret < 0) {
		/* No NAMES_END: the host keeps the list it had. */
		log_warn("names: registry error listing hosts for host=%s: %s",
			 s->name, strerror(-ret));
		return;
	}
	if (s->dead)
		return;
	ctlmsg_init(&m, CTLMSG_NAMES_END);
	session_send(s, &m);
	log_debug("names: sent host=%s names=%u", s->name, w.n);
}

static void names_broadcast(struct server *srv, const struct ctlmsg *m)
{
	struct session *s, *next;

	for (s = srv->sessions; s; s = next) {
		next = s->next;		/* a failed send moves s to dead */
		if (s->state == SESS_ONLINE && !s->dead)
			session_send(s, m);
	}
}

void names_enrolled(struct server *srv, const char *name, uint32_t ip)
{
	static struct ctlmsg m;

	ctlmsg_init(&m, CTLMSG_NAME_ADD);
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.overlay_ip = ip;
	m.present = CTLA_BIT(CTLA_NAME) | CTLA_BIT(CTLA_OVERLAY_IP);
	names_broadcast(srv, &m);
}

void names_revoked(struct server *srv, const char *name)
{
	static struct ctlmsg m;

	ctlmsg_init(&m, CTLMSG_NAME_DEL);
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.present = CTLA_BIT(CTLA_NAME);
	names_broadcast(srv, &m);
}
