// SPDX-License-Identifier: GPL-2.0-only
/* The admin socket and the running server's verbs (see admin.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "audit.h"
#include "authsrv.h"
#include "keysvc.h"
#include "mavpn/log.h"
#include "policy.h"
#include "registry.h"
#include "server.h"

static int admin_addr(const char *dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	return authsrv_path(sa->sun_path, sizeof(sa->sun_path), dir,
			    AUTHSRV_ADMIN_SOCK);
}

static void admin_timeouts(int fd)
{
	struct timeval tv = {
		.tv_sec = ADMIN_IO_TIMEOUT_MS / 1000,
		.tv_usec = (ADMIN_IO_TIMEOUT_MS % 1000) * 1000,
	};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int admin_listen(const char *dir)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, c, ret;

	ret = admin_addr(dir, &sa);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* 0600 from the start: no window where others could connect. */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (ret && errno == EADDRINUSE) {
		/* Someone answering there is a live server on this state. */
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(c);
			umask(old);
			close(fd);
			return -EADDRINUSE;
		}
		if (c >= 0)
			close(c);
		unlink(sa.sun_path);
		ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	umask(old);
	if (ret || listen(fd, 16)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

void admin_close(int lfd, const char *dir)
{
	struct sockaddr_un sa;

	if (lfd < 0)
		return;
	close(lfd);
	if (!admin_addr(dir, &sa))
		unlink(sa.sun_path);
}

static void admin_one(int fd, admin_handler h, void *arg)
{
	char line[ADMIN_LINE_MAX], err[256] = "", *body = NULL, *sp;
	const char *argstr = "";
	size_t len = 0, blen = 0;
	FILE *out;
	ssize_t n;
	int ret;

	admin_timeouts(fd);
	while (len < sizeof(line) - 1) {
		n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	sp = strchr(line, '\n');
	if (!sp) {
		dprintf(fd, "error request line too long\n");
		return;
	}
	*sp = '\0';
	sp = strchr(line, ' ');
	if (sp) {
		*sp = '\0';
		argstr = sp + 1;
	}
	out = open_memstream(&body, &blen);
	if (!out) {
		dprintf(fd, "error out of memory\n");
		return;
	}
	ret = h(arg, line, argstr, out, err, sizeof(err));
	fclose(out);
	if (ret)
		dprintf(fd, "error %s\n", err[0] ? err : strerror(-ret));
	else
		dprintf(fd, "ok\n%s", body ? body : "");
	free(body);
}

void admin_accept(int lfd, admin_handler h, void *arg)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		admin_one(fd, h, arg);
		close(fd);
	}
}

int admin_request(const char *dir, const char *line, char **reply)
{
	struct sockaddr_un sa;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, ret;

	*reply = NULL;
	ret = admin_addr(dir, &sa);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	admin_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		goto out;
	}
	if (dprintf(fd, "%s\n", line) < 0) {
		ret = -EIO;
		goto out;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		ret = -EIO;
		goto out;
	}
	buf[len] = '\0';
	if (!strncmp(buf, "ok\n", 3)) {
		memmove(buf, buf + 3, len - 2);
		ret = 0;
	} else if (!strncmp(buf, "error ", 6)) {
		memmove(buf, buf + 6, len - 5);
		buf[strcspn(buf, "\n")] = '\0';
		ret = -EPROTO;
	} else {
		ret = -EIO;
		goto out;
	}
	*reply = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

/* ---- the running server's verbs ---- */

int admin_server_verb(void *arg, const char *verb, const char *argstr,
		      FILE *out, char *err, size_t errlen)
{
	struct server *srv = arg;
	struct reg_host h;
	struct session *s;
	unsigned int i;
	int ret, n;

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
		s = session_find_online(srv, h.name);
		if (s)
			session_error(s, "host %s is revoked", h.name);
		n = keysvc_revoke(srv->keys, &h);
		audit_write(srv->audit, &(struct audit_rec){ .event = "revoke",
			.host = h.name, .reason = s ? "channel closed" :
						      "host was offline" });
		log_info("host revoked host=%s online=%s peers_notified=%d",
			 h.name, s ? "yes" : "no", n);
		fprintf(out, "%s %d\n", s ? "closed" : "offline", n);
		return 0;
	}
	snprintf(err, errlen, "unknown admin request \"%.32s\"", verb);
	return -EINVAL;
}
