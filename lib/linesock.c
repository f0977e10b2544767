// SPDX-License-Identifier: GPL-2.0-only
/*
 * The local line protocol (see linesock.h).
 *
 * A connection moves READ -> HANDLER -> WRITE -> freed:
 *   READ     on the inner epoll set for EPOLLIN, read deadline running;
 *   HANDLER  off the set: the handler owns the request (maybe for long,
 *            when it defers); no deadline here, the handler has its own;
 *   WRITE    the answer did not fit the socket buffer at once: on the set
 *            for EPOLLOUT, write deadline running.
 * Every connection is on one list, so close and tick reach them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mavpn/linesock.h"
#include "mavpn/util.h"

#define LS_SUN_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)
#define LS_FLAG_MAX	32
#define LS_ERR_MAX	512
#define LS_DRAIN_MAX	65536	/* unread input discarded before close */

enum ls_state { LS_READ, LS_HANDLER, LS_WRITE };

struct linesock_req {
	struct linesock *ls;
	struct linesock_req *next, *prev;
	int fd;
	enum ls_state state;
	bool flag;
	bool in_handler;	/* the handler runs: a reply must not free us */
	uint64_t deadline;	/* READ and WRITE */
	char *out;		/* the answer */
	size_t out_len, out_off;
	size_t len;
	char line[];		/* cfg.line_max + 1 */
};

struct linesock {
	struct linesock_cfg cfg;
	char path[LS_SUN_PATH_MAX];
	char flag[LS_FLAG_MAX];
	dev_t dev;		/* our socket file, to unlink only it */
	ino_t ino;
	int lfd, epfd;
	struct linesock_req *conns;
	unsigned int nconns;
};

static void ls_write(struct linesock_req *r);

static int ls_mkdir_p(const char *path)
{
	char tmp[LS_SUN_PATH_MAX], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	p = strrchr(tmp, '/');
	if (!p || p == tmp)
		return 0;
	*p = '\0';
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

/*
 * Take over @sa's path if it is a stale socket. A live server accepts our
 * connect, or its backlog is full (EAGAIN on a non-blocking connect):
 * -EADDRINUSE. Nobody listening (ECONNREFUSED): the file is removed.
 */
static int ls_takeover(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (ret == 0 || errno == EAGAIN)
		ret = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		ret = unlink(sa->sun_path) < 0 && errno != ENOENT ? -errno : 0;
	else
		ret = -errno;
	close(fd);
	return ret;
}

struct linesock *linesock_open(const struct linesock_cfg *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct linesock *ls;
	struct stat st;
	int err;

	if (!cfg->path || !cfg->fn ||
	    (cfg->flag && strlen(cfg->flag) >= LS_FLAG_MAX)) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(cfg->path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return NULL;
	ls->cfg = *cfg;
	if (!ls->cfg.mode)
		ls->cfg.mode = LINESOCK_MODE_DEFAULT;
	if (!ls->cfg.line_max)
		ls->cfg.line_max = LINESOCK_LINE_MAX_DEFAULT;
	if (!ls->cfg.read_ms)
		ls->cfg.read_ms = LINESOCK_READ_MS_DEFAULT;
	if (!ls->cfg.write_ms)
		ls->cfg.write_ms = LINESOCK_WRITE_MS_DEFAULT;
	if (!ls->cfg.max_conns)
		ls->cfg.max_conns = LINESOCK_CONNS_DEFAULT;
	strcpy(ls->path, cfg->path);
	ls->cfg.path = ls->path;
	if (cfg->flag)
		strcpy(ls->flag, cfg->flag);
	ls->cfg.flag = cfg->flag ? ls->flag : NULL;
	strcpy(sa.sun_path, cfg->path);
	ls->lfd = ls->epfd = -1;

	if (cfg->mkdir) {
		err = ls_mkdir_p(cfg->path);
		if (err)
			goto err_free;
	}
	err = ls_takeover(&sa);
	if (err)
		goto err_free;
	ls->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (ls->lfd < 0) {
		err = -errno;
		goto err_free;
	}
	/*
	 * The mode of an unbound socket's inode is the file's mode at bind
	 * (less the umask): no window in which others could connect. chmod
	 * after bind gives exactly cfg.mode whatever the umask took away.
	 */
	if (fchmod(ls->lfd, ls->cfg.mode) < 0 ||
	    bind(ls->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto err_lfd;
	}
	if (chmod(ls->path, ls->cfg.mode) < 0 || lstat(ls->path, &st) < 0 ||
	    listen(ls->lfd, 16) < 0) {
		err = -errno;
		goto err_unlink;
	}
	ls->dev = st.st_dev;
	ls->ino = st.st_ino;
	ls->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ls->epfd < 0) {
		err = -errno;
		goto err_unlink;
	}
	ev.data.ptr = NULL;		/* NULL: the listening socket */
	if (epoll_ctl(ls->epfd, EPOLL_CTL_ADD, ls->lfd, &ev) < 0) {
		err = -errno;
		goto err_epfd;
	}
	return ls;

err_epfd:
	close(ls->epfd);
err_unlink:
	unlink(ls->path);
err_lfd:
	close(ls->lfd);
err_free:
	free(ls);
	errno = -err;
	return NULL;
}

static void ls_conn_free(struct linesock_req *r)
{
	struct linesock *ls = r->ls;
	char sink[4096];
	size_t drained = 0;
	ssize_t n;

	if (r->prev)
		r->prev->next = r->next;
	else
		ls->conns = r->next;
	if (r->next)
		r->next->prev = r->prev;
	ls->nconns--;
	/*
	 * Closing a unix socket with unread input makes the peer's read fail
	 * with ECONNRESET instead of seeing EOF after our answer: read away
	 * what the client sent past its line.
	 */
	while (drained < LS_DRAIN_MAX &&
	       (n = recv(r->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		drained += (size_t)n;
	close(r->fd);			/* also leaves the epoll set */
	free(r->out);
	free(r);
}

void linesock_close(struct linesock *ls)
{
	struct stat st;

	if (!ls)
		return;
	while (ls->conns)
		ls_conn_free(ls->conns);
	close(ls->epfd);
	close(ls->lfd);
	/* Only our file: a second server may have replaced a stale one. */
	if (lstat(ls->path, &st) == 0 && st.st_dev == ls->dev &&
	    st.st_ino == ls->ino)
		unlink(ls->path);
	free(ls);
}

int linesock_fd(const struct linesock *ls)
{
	return ls->epfd;
}

unsigned int linesock_conns(const struct linesock *ls)
{
	return ls->nconns;
}

bool linesock_req_flag(const struct linesock_req *r)
{
	return r->flag;
}

static void ls_busy(int fd)
{
	static const char msg[] = "error busy\n";

	/* A fresh socket buffer takes this much; if not, never mind. */
	send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void ls_accept(struct linesock *ls)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct linesock_req *r;
	int fd;

	while ((fd = accept4(ls->lfd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (ls->nconns >= ls->cfg.max_conns) {
			ls_busy(fd);
			continue;
		}
		r = calloc(1, sizeof(*r) + ls->cfg.line_max + 1);
		if (!r) {
			close(fd);
			continue;
		}
		r->ls = ls;
		r->fd = fd;
		r->state = LS_READ;
		r->deadline = mono_ms() + ls->cfg.read_ms;
		ev.data.ptr = r;
		if (epoll_ctl(ls->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(r);
			continue;
		}
		r->next = ls->conns;
		if (ls->conns)
			ls->conns->prev = r;
		ls->conns = r;
		ls->nconns++;
	}
}

/* Hand the line (NUL-terminated at its newline) to the handler. */
static void ls_dispatch(struct linesock_req *r)
{
	struct linesock *ls = r->ls;
	char *verb = r->line, *arg;
	size_t flen;
	int ret;

	if (ls->cfg.flag) {
		flen = strlen(ls->cfg.flag);
		if (!strncmp(verb, ls->cfg.flag, flen) && verb[flen] == ' ') {
			r->flag = true;
			verb += flen + 1;
		}
	}
	arg = strchr(verb, ' ');
	if (arg)
		*arg++ = '\0';
	else
		arg = verb + strlen(verb);

	r->state = LS_HANDLER;
	epoll_ctl(ls->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	r->in_handler = true;
	ret = ls->cfg.fn(ls->cfg.arg, r, verb, arg);
	r->in_handler = false;
	if (r->state == LS_HANDLER) {
		if (ret < 0)
			linesock_reply_err(r, "%s", strerror(-ret));
		else if (ret != LINESOCK_DEFER)
			/* A handler bug: do not leave the client hanging. */
			linesock_reply_err(r, "internal error: no answer");
		return;
	}
	ls_write(r);
}

static void ls_read(struct linesock_req *r)
{
	size_t max = r->ls->cfg.line_max;
	char *nl;
	ssize_t n;

	n = recv(r->fd, r->line + r->len, max - r->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Gone (or EOF) before a whole line: nobody to answer. */
		ls_conn_free(r);
		return;
	}
	r->len += (size_t)n;
	nl = memchr(r->line, '\n', r->len);
	if (!nl) {
		if (r->len == max)
			linesock_reply_err(r, "request line too long");
		return;
	}
	if (memchr(r->line, '\0', (size_t)(nl - r->line))) {
		linesock_reply_err(r, "malformed request: NUL byte");
		return;
	}
	*nl = '\0';
	if (nl > r->line && nl[-1] == '\r')
		nl[-1] = '\0';
	ls_dispatch(r);
}

/* Send what the socket takes; free when done or broken, else wait. */
static void ls_write(struct linesock_req *r)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = r };
	struct linesock *ls = r->ls;
	ssize_t n;

	while (r->out_off < r->out_len) {
		n = send(r->fd, r->out + r->out_off, r->out_len - r->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			ls_conn_free(r);	/* client gone */
			return;
		}
		r->out_off += (size_t)n;
	}
	if (r->out_off == r->out_len) {
		ls_conn_free(r);
		return;
	}
	if (r->deadline)
		return;			/* already waiting for EPOLLOUT */
	r->deadline = mono_ms() + ls->cfg.write_ms;
	if (epoll_ctl(ls->epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0)
		ls_conn_free(r);
}

/* Take @head + @body as the answer; write it unless the handler runs. */
static void ls_answer(struct linesock_req *r, const char *head,
		      const char *body)
{
	size_t hlen = strlen(head), blen = body ? strlen(body) : 0;

	if (r->state == LS_READ) {
		/* Refused while reading (too long, malformed). */
		epoll_ctl(r->ls->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	} else if (r->state != LS_HANDLER) {
		return;			/* answered twice: keep the first */
	}
	r->state = LS_WRITE;
	r->deadline = 0;
	r->out = malloc(hlen + blen);
	if (!r->out) {
		/* Out of memory: the head alone, from the stack, best effort. */
		send(r->fd, "error out of memory\n", 20,
		     MSG_NOSIGNAL | MSG_DONTWAIT);
		r->out_len = r->out_off = 0;
	} else {
		memcpy(r->out, head, hlen);
		if (blen)
			memcpy(r->out + hlen, body, blen);
		r->out_len = hlen + blen;
		r->out_off = 0;
	}
	if (!r->in_handler)
		ls_write(r);
}

void linesock_reply_ok(struct linesock_req *r, const char *body)
{
	ls_answer(r, "ok\n", body);
}

void linesock_reply_err(struct linesock_req *r, const char *fmt, ...)
{
	char line[LS_ERR_MAX];
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
	ls_answer(r, line, NULL);
}

void linesock_process(struct linesock *ls)
{
	struct epoll_event evs[16];
	struct linesock_req *r;
	int i, n;

	n = epoll_wait(ls->epfd, evs, 16, 0);
	for (i = 0; i < n; i++) {
		r = evs[i].data.ptr;
		if (!r)
			ls_accept(ls);
		else if (r->state == LS_READ)
			ls_read(r);
		else if (r->state == LS_WRITE)
			ls_write(r);
	}
}

void linesock_tick(struct linesock *ls, uint64_t now)
{
	struct linesock_req *r, *next;

	for (r = ls->conns; r; r = next) {
		next = r->next;
		if (r->state != LS_HANDLER && r->deadline && now >= r->deadline)
			ls_conn_free(r);
	}
}

int linesock_next_timeout(const struct linesock *ls, uint64_t now)
{
	const struct linesock_req *r;
	uint64_t next = UINT64_MAX;

	for (r = ls->conns; r; r = r->next)
		if (r->state != LS_HANDLER && r->deadline && r->deadline < next)
			next = r->deadline;
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
}

/* ---- client ---- */

/* Wait for @events on @fd until @deadline (mono_ms). 0 or -ETIMEDOUT. */
static int ls_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now;
	int ret;

	for (;;) {
		now = mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)(deadline - now));
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

static int ls_client_connect(const char *path, uint64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * A unix connect never goes "in progress": it succeeds, is refused,
	 * or finds the backlog full (EAGAIN), which is worth retrying until
	 * the deadline: the server is there, just busy.
	 */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		if (err == -EINTR)
			continue;
		if (err != -EAGAIN || mono_ms() >= deadline) {
			close(fd);
			return err == -EAGAIN ? -ETIMEDOUT : err;
		}
		usleep(10000);
	}
	return fd;
}

int linesock_request(const char *path, const char *line,
		     unsigned int timeout_ms, size_t max, char **body)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	size_t llen = strlen(line), off = 0, len = 0, cap = 0;
	char *buf = NULL, *nb, *nl;
	ssize_t n;
	int fd, ret;

	*body = NULL;
	if (memchr(line, '\n', llen))
		return -EINVAL;
	fd = ls_client_connect(path, deadline);
	if (fd < 0)
		return fd;
	/* The line and its newline, in one buffer so one send may do. */
	buf = malloc(llen + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(buf, line, llen);
	buf[llen] = '\n';
	while (off < llen + 1) {
		n = send(fd, buf + off, llen + 1 - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ret = ls_wait(fd, POLLOUT, deadline);
			if (ret)
				goto out;
			continue;
		}
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	free(buf);
	buf = NULL;

	for (;;) {
		if (cap - len < 2) {
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ret = ls_wait(fd, POLLIN, deadline);
			if (ret)
				goto out;
			continue;
		}
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			ret = -EMSGSIZE;
			goto out;
		}
	}
	buf[len] = '\0';
	if (len >= 3 && !memcmp(buf, "ok\n", 3)) {
		memmove(buf, buf + 3, len - 2);
		ret = 0;
	} else if (len >= 6 && !memcmp(buf, "error ", 6) &&
		   (nl = memchr(buf, '\n', len))) {
		*nl = '\0';
		memmove(buf, buf + 6, (size_t)(nl - buf) - 5);
		ret = -EPROTO;
	} else {
		ret = -EBADMSG;
		goto out;
	}
	*body = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}
