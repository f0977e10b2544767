// SPDX-License-Identifier: GPL-2.0-only
/* The admin socket and the running server's verbs (see admin.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "admin.h"
#include "audit.h"
#include "authsrv.h"
#include "keysvc.h"
#include "names.h"
#include "mavpn/linesock.h"
#include "mavpn/log.h"
#include "policy.h"
#include "registry.h"
#include "server.h"

static int admin_path(const char *dir, char *path, size_t len)
{
	return authsrv_path(path, len, dir, AUTHSRV_ADMIN_SOCK);
}

int admin_request(const char *dir, const char *line, char **reply)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int ret;

	*reply = NULL;
	ret = admin_path(dir, path, sizeof(path));
	if (ret)
		return ret;
	ret = linesock_request(path, line, ADMIN_IO_TIMEOUT_MS, ADMIN_REPLY_MAX,
			       reply);
	return ret == -EBADMSG ? -EIO : ret;	/* neither ok nor error */
}

static int admin_server_verb(struct server *srv, const char *verb,
			     const char *argstr, FILE *out, char *err,
			     size_t errlen);

/* linesock handler: the verb writes its body to a memory stream. */
static int admin_on_request(void *arg, struct linesock_req *r,
			    const char *verb, const char *argstr)
{
	char err[256] = "", *body = NULL;
	size_t blen = 0;
	FILE *out;
	int ret;

	out = open_memstream(&body, &blen);
	if (!out) {
		linesock_reply_err(r, "out of memory");
		return 0;
	}
	ret = admin_server_verb(arg, verb, argstr, out, err, sizeof(err));
	if (fclose(out) && !ret)
		ret = -ENOMEM;
	if (ret)
		linesock_reply_err(r, "%s", err[0] ? err : strerror(-ret));
	else
		linesock_reply_ok(r, body);
	free(body);
	return 0;
}

struct linesock *admin_open(const char *dir, struct server *srv)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct linesock_cfg cfg = {
		.path = path,
		.mode = 0600,
		.line_max = ADMIN_LINE_MAX,
		.read_ms = ADMIN_IO_TIMEOUT_MS,
		.write_ms = ADMIN_IO_TIMEOUT_MS,
		.fn = admin_on_request,
		.arg = srv,
	};
	int ret = admin_path(dir, path, sizeof(path));

	if (ret) {
		errno = -ret;
		return NULL;
	}
	return linesock_open(&cfg);
}

/* ---- the running server's verbs ---- */

/* Sessions of host @name that authenticated but have not said HELLO yet
 * (the HELLO check would refuse them too; this does it at once). */
static void admin_close_authenticated(struct server *srv, const char *name)
{
	struct session *s;

	for (s = srv->sessions; s; s = s->next)
		if (!s->dead && s->state == SESS_CTL_HELLO &&
		    !strcmp(s->name, name))
			session_error(s, "host %s is revoked", name);
}

void admin_revoke(struct server *srv, const struct reg_host *h)
{
	struct session *s;
	int n;

	s = session_find_online(srv, h->name);
	if (s)
		session_error(s, "host %s is revoked", h->name);
	admin_close_authenticated(srv, h->name);
	n = keysvc_revoke(srv->keys, h);
	names_revoked(srv, h->name);
	audit_write(srv->audit, &(struct audit_rec){ .event = "revoke",
		.host = h->name, .reason = s ? "channel closed" :
					       "host was offline" });
	log_info("host revoked host=%s online=%s peers_notified=%d", h->name,
		 s ? "yes" : "no", n);
	snprintf(srv->last_revoke.name, sizeof(srv->last_revoke.name), "%s",
		 h->name);
	srv->last_revoke.closed = s != NULL;
	srv->last_revoke.peers = n;
}

static int admin_server_verb(struct server *srv, const char *verb,
			     const char *argstr, FILE *out, char *err,
			     size_t errlen)
{
	struct reg_host h;
	struct session *s;
	unsigned int i;
	int ret;

	/* The CLI committed before asking: read what it wrote. */
	registry_read_end(srv->reg);
	if (!strcmp(verb, "online")) {
		for (i = 0; i < SESSION_ONLINE_BUCKETS; i++)
			for (s = srv->by_name[i]; s; s = s->name_next)
				fprintf(out, "%s\n", s->name);
		return 0;
	}
	if (!strcmp(verb, "policy")) {
		ret = server_load_policy(srv, err, errlen);
		if (ret)
			return ret;
		audit_write(srv->audit, &(struct audit_rec){ .event = "policy_set",
			.reason = srv->policy ? "policy loaded" :
						"no policy: all may talk" });
		/* cached flow decisions on the hosts: gone before we answer */
		keysvc_flow_flush(srv->keys);
		fprintf(out, "%d\n", policy_nrules(srv->policy));
		return 0;
	}
	if (!strcmp(verb, "revoke")) {
		ret = authsrv_name_syntax(argstr) ?
		      registry_host_by_name(srv->reg, argstr, &h) : -ENOENT;
		if (ret) {
			snprintf(err, errlen, "no host named \"%.64s\"", argstr);
			return ret;
		}
		if (!h.revoked) {
			snprintf(err, errlen, "host %s is not revoked in the registry",
				 h.name);
			return -EINVAL;
		}
		/* A shared registry's notification may have come first. */
		if (strcmp(srv->last_revoke.name, h.name))
			admin_revoke(srv, &h);
		srv->last_revoke.name[0] = '\0';
		fprintf(out, "%s %d\n", srv->last_revoke.closed ? "closed" :
			"offline", srv->last_revoke.peers);
		return 0;
	}
	snprintf(err, errlen, "unknown admin request \"%.32s\"", verb);
	return -EINVAL;
}
