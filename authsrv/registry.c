// SPDX-License-Identifier: GPL-2.0-only
/*
 * The registry interface: where a state directory's registry lives, the
 * choice of backend (SQLite file or PostgreSQL URL), the overlay address
 * allocation both share, and the dispatch to the backend's table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"
#include "registry_pg.h"
#include "registry_sqlite.h"

static char registry_err[512];
static bool registry_log;

void registry_log_errors(bool on)
{
	registry_log = on;
}

bool registry_logging(void)
{
	return registry_log;
}

const char *registry_error(void)
{
	return registry_err;
}

void registry_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(registry_err, sizeof(registry_err), fmt, ap);
	va_end(ap);
}

bool registry_is_url(const char *where)
{
	return !strncmp(where, "postgresql://", 13) ||
	       !strncmp(where, "postgres://", 11);
}

int registry_locate(const char *dir, char *where, size_t len)
{
	char path[4096], line[2048];
	size_t n;
	FILE *f;

	if (authsrv_path(path, sizeof(path), dir, AUTHSRV_REGISTRY_URL))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return authsrv_path(where, len, dir, AUTHSRV_REGISTRY);
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (!registry_is_url(line))
		return -EINVAL;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(where, line, n + 1);
	return 0;
}

const char *registry_describe(const char *where, char *buf, size_t len)
{
	const char *auth, *at, *colon, *pw;
	size_t n;

	auth = strstr(where, "://");
	if (!auth) {
		snprintf(buf, len, "%s", where);
		return buf;
	}
	/* userinfo: scheme://user:password@host... */
	auth += 3;
	at = strchr(auth, '@');
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon) {
		snprintf(buf, len, "%.*s***%s", (int)(colon + 1 - where), where,
			 at);
	} else {
		snprintf(buf, len, "%s", where);
	}
	/* ...?password=secret&... */
	pw = strstr(buf, "password=");
	if (pw) {
		n = strcspn(pw + 9, "&");
		memmove((char *)pw + 12, pw + 9 + n, strlen(pw + 9 + n) + 1);
		memcpy((char *)pw + 9, "***", 3);
	}
	return buf;
}

int registry_create(const char *where, uint32_t net, uint8_t plen)
{
	registry_err[0] = '\0';
	return registry_is_url(where) ? registry_pg_create(where, net, plen) :
					registry_sqlite_create(where, net, plen);
}

struct registry *registry_open(const char *where)
{
	registry_err[0] = '\0';
	return registry_is_url(where) ? registry_pg_open(where) :
					registry_sqlite_open(where);
}

void registry_close(struct registry *r)
{
	if (r)
		r->ops->close(r);
}

int registry_schema_version(struct registry *r)
{
	return r->ops->schema_version(r);
}

int registry_overlay(struct registry *r, uint32_t *net, uint8_t *plen)
{
	return r->ops->overlay(r, net, plen);
}

int registry_token_add(struct registry *r, const char *id,
		       const uint8_t hash[32], const char *name,
		       int64_t expires_at, const char *tags,
		       const char *routes)
{
	return r->ops->token_add(r, id, hash, name, expires_at, tags, routes);
}

int registry_host_by_name(struct registry *r, const char *name,
			  struct reg_host *h)
{
	return r->ops->host_by_name(r, name, h);
}

int registry_host_by_ip(struct registry *r, uint32_t ip, struct reg_host *h)
{
	return r->ops->host_by_ip(r, ip, h);
}

int registry_host_foreach(struct registry *r,
			  int (*cb)(const struct reg_host *h, void *arg),
			  void *arg)
{
	return r->ops->host_foreach(r, cb, arg);
}

int registry_begin(struct registry *r)
{
	return r->ops->begin(r);
}

int registry_commit(struct registry *r)
{
	return r->ops->commit(r);
}

void registry_rollback(struct registry *r)
{
	r->ops->rollback(r);
}

int registry_token_take(struct registry *r, const char *id,
			const uint8_t hash[32], int64_t now,
			struct reg_token *t, const char **why)
{
	return r->ops->token_take(r, id, hash, now, t, why);
}

static int registry_ip_used(struct registry *r, uint32_t ip_host)
{
	struct reg_host h;
	int ret = registry_host_by_ip(r, htonl(ip_host), &h);

	if (ret == -ENOENT)
		return 0;
	return ret ? ret : 1;
}

/*
 * Round-robin from meta.next_ip so that a released address is not handed
 * out again at once; wraps, and fails with -ENOSPC when the prefix is full.
 * Inside the enrollment transaction: the backend holds meta's row locked
 * (SQLite: the write lock of BEGIN IMMEDIATE; PostgreSQL: SELECT ... FOR
 * UPDATE), so two servers never hand out one address.
 */
int registry_alloc_ip(struct registry *r, uint32_t *ip)
{
	uint32_t net, first, last, cand, n;
	uint8_t plen;
	int ret;

	ret = registry_overlay(r, &net, &plen);
	if (ret)
		return ret;
	net = ntohl(net);
	first = net + 2;
	last = net + (uint32_t)((1ull << (32 - plen)) - 2);
	ret = r->ops->next_ip_get(r, &cand);
	if (ret)
		return ret;
	for (n = 0; n <= last - first; n++, cand++) {
		if (cand < first || cand > last)
			cand = first;
		ret = registry_ip_used(r, cand);
		if (ret < 0)
			return ret;
		if (ret == 0)
			break;
	}
	if (n > last - first)
		return -ENOSPC;
	ret = r->ops->next_ip_set(r, cand == last ? first : cand + 1);
	if (!ret)
		*ip = htonl(cand);
	return ret;
}

int registry_host_add(struct registry *r, const struct reg_host *h)
{
	return r->ops->host_add(r, h);
}

void registry_read_batch(struct registry *r, bool on)
{
	if (r->ops->read_batch)
		r->ops->read_batch(r, on);
}

void registry_read_end(struct registry *r)
{
	if (r->ops->read_end)
		r->ops->read_end(r);
}

int registry_revoke(struct registry *r, const char *name, int64_t now,
		    struct reg_host *h)
{
	return r->ops->revoke(r, name, now, h);
}

int registry_serial_revoked(struct registry *r, const char *serial)
{
	return r->ops->serial_revoked(r, serial);
}

int registry_policy_get(struct registry *r, char **text)
{
	return r->ops->policy_get(r, text);
}

int registry_policy_set(struct registry *r, const char *text, int64_t now)
{
	return r->ops->policy_set(r, text, now);
}

bool registry_shared(struct registry *r)
{
	return r->ops->listen != NULL;
}

int registry_listen(struct registry *r)
{
	return r->ops->listen ? r->ops->listen(r) : -EOPNOTSUPP;
}

int registry_fd(struct registry *r)
{
	return r->ops->fd ? r->ops->fd(r) : -1;
}

int registry_notifications(struct registry *r,
			   void (*cb)(void *arg, const char *payload),
			   void *arg)
{
	return r->ops->notifications ? r->ops->notifications(r, cb, arg) :
				       -EOPNOTSUPP;
}

int registry_replica_beat(struct registry *r, const char *id,
			  const char *addr, int64_t now, bool reset)
{
	return r->ops->replica_beat ?
	       r->ops->replica_beat(r, id, addr, now, reset) : -EOPNOTSUPP;
}

int registry_online_sync(struct registry *r, const char *id,
			 const char *const *names, const int64_t *since,
			 size_t n)
{
	return r->ops->online_sync ?
	       r->ops->online_sync(r, id, names, since, n) : -EOPNOTSUPP;
}

int registry_online_foreach(struct registry *r, int64_t alive_since,
			    int (*cb)(const char *name, const char *replica,
				      void *arg),
			    void *arg)
{
	return r->ops->online_foreach ?
	       r->ops->online_foreach(r, alive_since, cb, arg) : -EOPNOTSUPP;
}
