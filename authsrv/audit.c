// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "authsrv.h"
#include "mavpn/jsonw.h"
#include "mavpn/log.h"

struct audit {
	int fd;
	unsigned long rl;	/* log_ratelimited() state of write failures */
};

int audit_open(const char *dir, struct audit **out)
{
	char path[4096];
	struct audit *a;
	int ret;

	*out = NULL;
	if (authsrv_path(path, sizeof(path), dir, AUTHSRV_AUDIT))
		return -ENAMETOOLONG;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		ret = -errno;
		free(a);
		return ret;
	}
	*out = a;
	return 0;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	close(a->fd);
	free(a);
}

void audit_write(struct audit *a, const struct audit_rec *r)
{
	char ts[40], line[4096];
	struct timeval tv;
	struct tm tm;
	struct jsonw *j;
	const char *doc;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03ldZ",
		 (long)(tv.tv_usec / 1000));

	j = jsonw_new();
	if (!j)
		goto fail;
	jsonw_obj_begin(j, NULL);
	jsonw_str(j, "ts", ts);
	jsonw_str(j, "event", r->event);
	if (r->host)
		jsonw_str(j, "host", r->host);
	if (r->peer)
		jsonw_str(j, "peer", r->peer);
	if (r->addr)
		jsonw_str(j, "addr", r->addr);
	if (r->app)
		jsonw_str(j, "app", r->app);
	if (r->user)
		jsonw_str(j, "user", r->user);
	if (r->key_id)
		jsonw_u64(j, "key_id", r->key_id);
	if (r->reason)
		jsonw_str(j, "reason", r->reason);
	jsonw_obj_end(j);
	doc = jsonw_get(j);
	if (!doc)
		goto fail_j;
	/* One write(2) per line: O_APPEND keeps lines whole. */
	n = snprintf(line, sizeof(line), "%s\n", doc);
	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    write(a->fd, line, (size_t)n) != n)
		goto fail_j;
	jsonw_free(j);
	return;

fail_j:
	jsonw_free(j);
fail:
	if (log_ratelimited(&a->rl))
		log_err("audit: write failed event=%s", r->event);
}
