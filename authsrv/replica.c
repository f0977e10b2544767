// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv replicas: notifications from the shared registry, the
 * heartbeat and the table of which replica holds which host (replica.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "admin.h"
#include "audit.h"
#include "keysvc.h"
#include "mavpn/log.h"
#include "mavpn/util.h"
#include "policy.h"
#include "registry.h"
#include "replica.h"
#include "server.h"

struct replica {
	struct server *srv;
	char id[320];		/* hostname/listen address */
	char addr[64];		/* the listen address */
	int fd;			/* the registry socket in the epoll set */
	uint64_t next_beat;
	unsigned long beat_rl;	/* log_ratelimited() */
};

static int replica_watch(struct replica *rp)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = rp };
	int fd = registry_fd(rp->srv->reg);

	if (fd == rp->fd)
		return 0;
	/* A reset closed the old socket: it left the set by itself. */
	rp->fd = -1;
	if (fd < 0)
		return -EIO;
	if (epoll_ctl(rp->srv->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	rp->fd = fd;
	return 0;
}

int replica_start(struct server *srv, const char *listen,
		  struct replica **out)
{
	char host[256] = "localhost";
	struct replica *rp;
	int ret;

	*out = NULL;
	if (!registry_shared(srv->reg))
		return 0;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->srv = srv;
	rp->fd = -1;
	gethostname(host, sizeof(host) - 1);
	snprintf(rp->id, sizeof(rp->id), "%s/%s", host, listen);
	snprintf(rp->addr, sizeof(rp->addr), "%s", listen);
	ret = registry_listen(srv->reg);
	if (!ret)
		ret = registry_replica_beat(srv->reg, rp->id, rp->addr,
					    real_s(), true);
	if (!ret)
		ret = replica_watch(rp);
	if (ret) {
		free(rp);
		return ret;
	}
	log_info("replica id=\"%s\": revocations and policy from the shared registry",
		 rp->id);
	*out = rp;
	return 0;
}

void replica_stop(struct replica *rp)
{
	if (!rp)
		return;
	/* Our hosts are offline now, not in REPLICA_DEAD_S. */
	registry_online_sync(rp->srv->reg, rp->id, NULL, NULL, 0);
	free(rp);
}

/* A revoked host this server has not acted on yet. */
static void replica_revoked(struct replica *rp, const struct reg_host *h,
			    const char *via)
{
	if (!h->revoked || keysvc_is_revoked(rp->srv->keys, h->overlay_ip))
		return;
	log_info("revocation from the registry host=%s via=%s", h->name, via);
	admin_revoke(rp->srv, h);
}

static int replica_resync_host(const struct reg_host *h, void *arg)
{
	replica_revoked(arg, h, "resync");
	return 0;
}

static void replica_policy(struct replica *rp)
{
	char err[256];

	if (server_load_policy(rp->srv, err, sizeof(err))) {
		log_warn("policy from the registry not loaded: %s", err);
		return;
	}
	audit_write(rp->srv->audit, &(struct audit_rec){ .event = "policy_set",
		.reason = rp->srv->policy ? "policy loaded (registry)" :
					    "no policy: all may talk" });
}

static void replica_notified(void *arg, const char *payload)
{
	struct replica *rp = arg;
	struct reg_host h;

	if (!strncmp(payload, "revoke ", 7)) {
		if (!registry_host_by_name(rp->srv->reg, payload + 7, &h))
			replica_revoked(rp, &h, "notify");
	} else if (!strcmp(payload, "policy")) {
		replica_policy(rp);
	} else if (!strcmp(payload, "resync")) {
		/* Notifications were lost while the link was down. */
		replica_policy(rp);
		registry_host_foreach(rp->srv->reg, replica_resync_host, rp);
	}
}

void replica_event(struct replica *rp)
{
	registry_notifications(rp->srv->reg, replica_notified, rp);
	replica_watch(rp);
}

void replica_tick(struct replica *rp, uint64_t now_ms)
{
	if (!rp)
		return;
	replica_event(rp);
	if (now_ms < rp->next_beat)
		return;
	rp->next_beat = now_ms + REPLICA_BEAT_MS;
	if (registry_replica_beat(rp->srv->reg, rp->id, rp->addr, real_s(),
				  false) && log_ratelimited(&rp->beat_rl))
		log_warn("replica: heartbeat to the registry failed");
}

int replica_sync_online(struct replica *rp)
{
	struct server *srv = rp->srv;
	const char **names;
	int64_t *since;
	struct session *s;
	size_t n = 0;
	int ret;

	names = calloc(srv->nsessions + 1, sizeof(*names));
	since = calloc(srv->nsessions + 1, sizeof(*since));
	if (!names || !since) {
		free(names);
		free(since);
		return -ENOMEM;
	}
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != SESS_ONLINE || s->dead)
			continue;
		names[n] = s->name;
		since[n] = (int64_t)s->since;
		n++;
	}
	ret = registry_online_sync(srv->reg, rp->id, names, since, n);
	free(names);
	free(since);
	return ret;
}
