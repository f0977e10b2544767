// SPDX-License-Identifier: GPL-2.0-only
/*
 * Minimal HTTP/1.0 server for Prometheus scrapes (see promhttp.h).
 *
 * A client is read until the end of its request header (or until the
 * request line is complete and the buffer is full), answered with one
 * response built in memory, written as far as the socket takes it (the
 * rest on EPOLLOUT), then closed. At most PROMHTTP_MAX_CLIENTS at a time;
 * a client that does not finish within PROMHTTP_CLIENT_MS is dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mavpn/log.h"
#include "mavpn/promhttp.h"
#include "mavpn/util.h"

#define PROMHTTP_MAX_CLIENTS	16
#define PROMHTTP_CLIENT_MS	5000
#define PROMHTTP_REQ_MAX	2048

struct promhttp_client {
	int fd;				/* -1: slot free */
	bool writing;
	uint64_t deadline;
	size_t len;			/* request bytes read */
	char req[PROMHTTP_REQ_MAX + 1];
	char *out;			/* response */
	size_t out_len, out_off;
};

struct promhttp {
	int lfd, epfd;
	promhttp_render_fn fn;
	void *arg;
	uint64_t requests;
	struct promhttp_client c[PROMHTTP_MAX_CLIENTS];
};

int promhttp_parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
		return -EINVAL;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

struct promhttp *promhttp_open(const char *addr, promhttp_render_fn fn,
			       void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_in sa;
	struct promhttp *h;
	int one = 1, err, i;

	if (promhttp_parse_addr(addr, &sa)) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->fn = fn;
	h->arg = arg;
	for (i = 0; i < PROMHTTP_MAX_CLIENTS; i++)
		h->c[i].fd = -1;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0)
		goto err_free;
	h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0)
		goto err_ep;
	setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(h->lfd, 16))
		goto err_lfd;
	ev.data.fd = h->lfd;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->lfd, &ev))
		goto err_lfd;
	log_info("metrics: listening addr=%s path=/metrics", addr);
	return h;

err_lfd:
	err = errno;
	close(h->lfd);
	errno = err;
err_ep:
	err = errno;
	close(h->epfd);
	errno = err;
err_free:
	err = errno;
	free(h);
	errno = err;
	return NULL;
}

static void promhttp_drop(struct promhttp *h, struct promhttp_client *c)
{
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
}

void promhttp_close(struct promhttp *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < PROMHTTP_MAX_CLIENTS; i++)
		if (h->c[i].fd >= 0)
			promhttp_drop(h, &h->c[i]);
	close(h->lfd);
	close(h->epfd);
	free(h);
}

int promhttp_fd(const struct promhttp *h)
{
	return h->epfd;
}

uint64_t promhttp_requests(const struct promhttp *h)
{
	return h->requests;
}

void prom_family(FILE *f, const char *name, const char *type,
		 const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* Build the whole response in c->out. */
static void promhttp_respond(struct promhttp *h, struct promhttp_client *c)
{
	static const char prom_ctype[] =
		"text/plain; version=0.0.4; charset=utf-8";
	const char *status = "200 OK", *ctype;
	char *body = NULL, *sp;
	size_t blen = 0;
	FILE *f;
	int ret = -ENOMEM;

	h->requests++;
	c->req[c->len] = '\0';
	sp = strchr(c->req, ' ');
	if (!sp || strncmp(c->req, "GET ", 4)) {
		status = "405 Method Not Allowed";
	} else {
		char *path = sp + 1, *end = path + strcspn(path, " ?\r\n");

		if (end - path != 8 || strncmp(path, "/metrics", 8))
			status = "404 Not Found";
	}
	ctype = status[0] == '2' ? prom_ctype : "text/plain; charset=utf-8";

	f = open_memstream(&body, &blen);
	if (f) {
		if (status[0] == '2')
			ret = h->fn(h->arg, f);
		else
			ret = fprintf(f, "%s\n", status + 4) < 0 ? -EIO : 0;
		if (fclose(f))
			ret = -ENOMEM;
	}
	if (ret < 0) {
		status = "500 Internal Server Error";
		ctype = "text/plain; charset=utf-8";
		blen = 0;
	}
	if (asprintf(&c->out, "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
		     status, ctype, blen, (int)blen, body ? body : "") < 0)
		c->out = NULL;
	free(body);
	c->out_len = c->out ? strlen(c->out) : 0;
	c->out_off = 0;
	c->writing = true;
}

/* Write what the socket takes; 1 when done (or failed), 0 to wait. */
static int promhttp_write(struct promhttp_client *c)
{
	ssize_t n;

	while (c->out && c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : 1;
		c->out_off += (size_t)n;
	}
	return 1;
}

static void promhttp_client_io(struct promhttp *h, struct promhttp_client *c)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	ssize_t n;

	if (!c->writing) {
		n = recv(c->fd, c->req + c->len, PROMHTTP_REQ_MAX - c->len,
			 MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			promhttp_drop(h, c);
			return;
		}
		if (n < 0)
			return;
		c->len += (size_t)n;
		c->req[c->len] = '\0';
		/* The header ends with an empty line; a full buffer with a
		 * request line is answered anyway (we only need that line). */
		if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n") &&
		    !(c->len == PROMHTTP_REQ_MAX && strchr(c->req, '\n')))
			return;
		if (c->len == PROMHTTP_REQ_MAX && !strchr(c->req, '\n')) {
			promhttp_drop(h, c);
			return;
		}
		promhttp_respond(h, c);
	}
	if (promhttp_write(c)) {
		/* Everything is out: FIN first so the scraper sees the end
		 * of the body even if it still has bytes in flight to us. */
		shutdown(c->fd, SHUT_WR);
		promhttp_drop(h, c);
		return;
	}
	ev.data.fd = c->fd;
	epoll_ctl(h->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void promhttp_accept(struct promhttp *h)
{
	static unsigned long rl;
	struct epoll_event ev = { .events = EPOLLIN };
	struct promhttp_client *c;
	int fd, i;

	for (;;) {
		fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = NULL;
		for (i = 0; i < PROMHTTP_MAX_CLIENTS && !c; i++)
			if (h->c[i].fd < 0)
				c = &h->c[i];
		if (!c) {
			if (log_ratelimited(&rl))
				log_warn("metrics: too many scrapers, connection refused");
			close(fd);
			continue;
		}
		c->fd = fd;
		c->len = 0;
		c->writing = false;
		c->out = NULL;
		c->out_len = c->out_off = 0;
		c->deadline = mono_ms() + PROMHTTP_CLIENT_MS;
		ev.data.fd = fd;
		if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			c->fd = -1;
		}
	}
}

void promhttp_process(struct promhttp *h)
{
	struct epoll_event evs[PROMHTTP_MAX_CLIENTS + 1];
	int n, i, j;

	n = epoll_wait(h->epfd, evs, PROMHTTP_MAX_CLIENTS + 1, 0);
	for (i = 0; i < n; i++) {
		if (evs[i].data.fd == h->lfd) {
			promhttp_accept(h);
			continue;
		}
		for (j = 0; j < PROMHTTP_MAX_CLIENTS; j++) {
			if (h->c[j].fd == evs[i].data.fd) {
				promhttp_client_io(h, &h->c[j]);
				break;
			}
		}
	}
}

void promhttp_tick(struct promhttp *h)
{
	uint64_t now = mono_ms();
	int i;

	if (!h)
		return;
	for (i = 0; i < PROMHTTP_MAX_CLIENTS; i++)
		if (h->c[i].fd >= 0 && now >= h->c[i].deadline)
			promhttp_drop(h, &h->c[i]);
}
