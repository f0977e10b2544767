// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control socket server. Clients are few and short-lived, so each one is a
 * struct ctlsock_req on an inner epoll set (one fd for vpnd's loop). The
 * answer is written in blocking mode with a send timeout: a reply is a few
 * KiB at most and a stuck client costs at most CTLPROTO_WRITE_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlsock.h"
#include "mavpn/log.h"

struct ctlsock_req {
	struct ctlsock *cs;
	struct ctlsock_req *next, *prev;	/* reading list only */
	int fd;
	bool json;
	bool listed;			/* on cs->reading */
	uint64_t deadline;
	size_t len;
	char line[CTLPROTO_LINE_MAX + 1];
};

struct ctlsock {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ino_t ino;			/* our socket file, to unlink only it */
	int lfd, epfd;
	ctlsock_handler_fn fn;
	void *arg;
	struct ctlsock_req *reading;	/* clients that have not sent a line */
};

static uint64_t ctlsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int mkdir_p(const char *dir)
{
	char tmp[sizeof(((struct sockaddr_un *)0)->sun_path)], *p;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* 1 if a daemon answers at @sa, 0 if not (stale or absent). */
static int ctlsock_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), alive;

	if (fd < 0)
		return 0;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return alive;
}

struct ctlsock *ctlsock_open(const char *path, ctlsock_handler_fn fn,
			     void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	char dir[sizeof(sa.sun_path)];
	struct ctlsock *cs;
	struct stat st;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("ctlsock: path too long path=\"%s\"", path);
		errno = ENAMETOOLONG;
		return NULL;
	}
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return NULL;
	cs->fn = fn;
	cs->arg = arg;
	strcpy(cs->path, path);
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	err = mkdir_p(dirname(dir));
	if (err) {
		log_err("ctlsock: cannot create directory of path=\"%s\": %s",
			path, strerror(-err));
		goto err_free;
	}
	if (ctlsock_alive(&sa)) {
		log_err("ctlsock: another vpnd answers on path=\"%s\"", path);
		err = -EADDRINUSE;
		goto err_free;
	}
	/* Nobody answers: a socket file left by a killed daemon. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);

	cs->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (cs->lfd < 0) {
		err = -errno;
		goto err_free;
	}
	if (bind(cs->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		log_err("ctlsock: cannot bind path=\"%s\": %s", path,
			strerror(errno));
		goto err_lfd;
	}
	if (chmod(path, 0660) < 0 || stat(path, &st) < 0 ||
	    listen(cs->lfd, 16) < 0) {
		err = -errno;
		goto err_unlink;
	}
	cs->ino = st.st_ino;
	cs->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (cs->epfd < 0) {
		err = -errno;
		goto err_unlink;
	}
	ev.data.ptr = NULL;		/* NULL = the listening socket */
	if (epoll_ctl(cs->epfd, EPOLL_CTL_ADD, cs->lfd, &ev) < 0) {
		err = -errno;
		goto err_epfd;
	}
	return cs;

err_epfd:
	close(cs->epfd);
err_unlink:
	log_err("ctlsock: cannot listen on path=\"%s\": %s", path,
		strerror(-err));
	unlink(path);
err_lfd:
	close(cs->lfd);
err_free:
	free(cs);
	errno = -err;
	return NULL;
}

static void ctlsock_unlist(struct ctlsock_req *r)
{
	struct ctlsock *cs = r->cs;

	if (!r->listed)
		return;
	r->listed = false;
	if (r->prev)
		r->prev->next = r->next;
	else
		cs->reading = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

static void ctlsock_req_free(struct ctlsock_req *r)
{
	ctlsock_unlist(r);
	close(r->fd);		/* also leaves the epoll set */
	free(r);
}

static void ctlsock_accept(struct ctlsock *cs)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ctlsock_req *r;
	int fd;

	while ((fd = accept4(cs->lfd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		r = calloc(1, sizeof(*r));
		if (!r) {
			close(fd);
			continue;
		}
		r->cs = cs;
		r->fd = fd;
		r->deadline = ctlsock_now_ms() + CTLPROTO_READ_MS;
		ev.data.ptr = r;
		if (epoll_ctl(cs->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(r);
			continue;
		}
		r->listed = true;
		r->next = cs->reading;
		if (cs->reading)
			cs->reading->prev = r;
		cs->reading = r;
	}
}

static void ctlsock_dispatch(struct ctlsock_req *r)
{
	char *verb = r->line, *arg, *nl;

	nl = strchr(r->line, '\n');
	*nl = '\0';
	if (nl > r->line && nl[-1] == '\r')
		nl[-1] = '\0';
	if (!strncmp(verb, CTLPROTO_JSON_PREFIX, strlen(CTLPROTO_JSON_PREFIX))) {
		r->json = true;
		verb += strlen(CTLPROTO_JSON_PREFIX);
	}
	arg = strchr(verb, ' ');
	if (arg)
		*arg++ = '\0';
	else
		arg = verb + strlen(verb);

	/* From here on the request is the handler's; no more reading. */
	ctlsock_unlist(r);
	epoll_ctl(r->cs->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	if (r->cs->fn(r->cs->arg, r, verb, arg) < 0)
		ctlsock_reply_err(r, "internal error");
}

static void ctlsock_read(struct ctlsock_req *r)
{
	ssize_t n;

	n = read(r->fd, r->line + r->len, CTLPROTO_LINE_MAX - r->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctlsock_req_free(r);
		return;
	}
	r->len += (size_t)n;
	r->line[r->len] = '\0';
	if (strchr(r->line, '\n')) {
		ctlsock_dispatch(r);
		return;
	}
	if (r->len == CTLPROTO_LINE_MAX)
		ctlsock_reply_err(r, "request line too long");
}

void ctlsock_process(struct ctlsock *cs)
{
	struct epoll_event evs[16];
	int i, n;

	n = epoll_wait(cs->epfd, evs, 16, 0);
	for (i = 0; i < n; i++) {
		if (!evs[i].data.ptr)
			ctlsock_accept(cs);
		else
			ctlsock_read(evs[i].data.ptr);
	}
}

void ctlsock_tick(struct ctlsock *cs, uint64_t now)
{
	struct ctlsock_req *r = cs->reading, *next;

	for (; r; r = next) {
		next = r->next;
		if (now >= r->deadline)
			ctlsock_req_free(r);
	}
}

int ctlsock_fd(const struct ctlsock *cs)
{
	return cs->epfd;
}

bool ctlsock_req_json(const struct ctlsock_req *r)
{
	return r->json;
}

static void ctlsock_send(struct ctlsock_req *r, const char *head,
			 const char *body)
{
	struct timeval tv = { .tv_sec = CTLPROTO_WRITE_MS / 1000,
			      .tv_usec = (CTLPROTO_WRITE_MS % 1000) * 1000 };
	const char *parts[2] = { head, body };
	size_t len;
	ssize_t n;
	int i;

	fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(r->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (i = 0; i < 2; i++) {
		len = parts[i] ? strlen(parts[i]) : 0;
		while (len) {
			n = send(r->fd, parts[i], len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;	/* client gone: nothing to do */
			parts[i] += n;
			len -= (size_t)n;
		}
	}
out:
	ctlsock_req_free(r);
}

void ctlsock_reply_ok(struct ctlsock_req *r, const char *body)
{
	ctlsock_send(r, "ok\n", body);
}

void ctlsock_reply_err(struct ctlsock_req *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	char *p;
	int n;

	n = snprintf(line, sizeof(line), "error ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One line, whatever the message held. */
	for (p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	strcat(line, "\n");
	ctlsock_send(r, line, NULL);
}

void ctlsock_close(struct ctlsock *cs)
{
	struct stat st;

	if (!cs)
		return;
	while (cs->reading)
		ctlsock_req_free(cs->reading);
	close(cs->epfd);
	close(cs->lfd);
	/* Only our file: a second daemon may have replaced a stale one. */
	if (lstat(cs->path, &st) == 0 && st.st_ino == cs->ino)
		unlink(cs->path);
	free(cs);
}
