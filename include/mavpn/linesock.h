/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The local line protocol of vpnd's control socket and authsrv's admin
 * socket, server and client, for one epoll loop.
 *
 * A unix stream socket. One request per connection: a line
 *   [FLAG ]VERB[ ARG]\n          (a trailing \r is ignored)
 * and one answer, after which the server closes:
 *   ok\n<body>
 *   error <one line>\n
 * so the client reads to EOF. FLAG is an optional leading word the server
 * was configured with (vpnd: "json"); it is stripped and reported with
 * linesock_req_flag().
 *
 * The server never blocks: the listening socket and every connection sit
 * on an inner epoll set whose fd is the only one the caller polls. A client
 * has cfg.read_ms to send its line (then it is dropped), an answer has
 * cfg.write_ms to drain (then it is cut). A request may be answered later
 * (the handler keeps the struct linesock_req, as vpnd's resolve does while
 * it asks the server). At most cfg.max_conns connections exist at once;
 * one more is answered "error busy" and closed.
 *
 * Startup takes over a stale socket: if a server answers on the path,
 * linesock_open() fails with EADDRINUSE; if nobody does, the socket file
 * (left by a killed process) is removed and bound again. The file gets
 * cfg.mode from the start (no window with a wider mode). linesock_close()
 * removes the file if it is still ours.
 */
#ifndef MAVPN_LINESOCK_H
#define MAVPN_LINESOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LINESOCK_MODE_DEFAULT		0660
#define LINESOCK_LINE_MAX_DEFAULT	4096	/* newline included */
#define LINESOCK_READ_MS_DEFAULT	2000
#define LINESOCK_WRITE_MS_DEFAULT	2000
#define LINESOCK_CONNS_DEFAULT		64

/* A handler's return: answered (0), will answer later, or failed. */
#define LINESOCK_DEFER	1

struct linesock;
struct linesock_req;

/*
 * Handle one request. @verb and @arg ("" if none) point into the request
 * and live as long as @r. Either answer with linesock_reply_ok/_err (they
 * release @r) and return 0, or keep @r and return LINESOCK_DEFER (answer it
 * later, at the latest before linesock_close()), or return -errno without
 * answering: the client then gets "error <strerror>".
 */
typedef int (*linesock_handler_fn)(void *arg, struct linesock_req *r,
				   const char *verb, const char *argstr);

struct linesock_cfg {
	const char *path;		/* socket file */
	mode_t mode;			/* of the file; 0: LINESOCK_MODE_DEFAULT */
	bool mkdir;			/* create missing parent dirs (0755) */
	size_t line_max;		/* 0: LINESOCK_LINE_MAX_DEFAULT */
	unsigned int read_ms;		/* 0: LINESOCK_READ_MS_DEFAULT */
	unsigned int write_ms;		/* 0: LINESOCK_WRITE_MS_DEFAULT */
	unsigned int max_conns;		/* 0: LINESOCK_CONNS_DEFAULT */
	const char *flag;		/* optional leading word, e.g. "json" */
	linesock_handler_fn fn;
	void *arg;
};

/*
 * Bind and listen. NULL with errno set: EADDRINUSE (another server answers
 * on the path), ENAMETOOLONG, EEXIST (the path exists and is not a
 * socket), or what socket/bind/listen/mkdir said. Logs nothing.
 */
struct linesock *linesock_open(const struct linesock_cfg *cfg);
/*
 * Close every connection (a request still deferred is freed: its handle
 * becomes invalid), remove the socket file if it is still ours (a second
 * server may have replaced it). Accepts NULL.
 */
void linesock_close(struct linesock *ls);

/* The inner epoll fd: poll it for EPOLLIN, then call linesock_process(). */
int linesock_fd(const struct linesock *ls);
/* Accept, read, dispatch, write whatever is ready; never blocks. */
void linesock_process(struct linesock *ls);
/* Drop clients past their read or write deadline (monotonic ms, mono_ms). */
void linesock_tick(struct linesock *ls, uint64_t now_ms);
/* Milliseconds until the next deadline (0 if one passed), -1 if none: an
 * epoll_wait timeout for loops without their own timer. */
int linesock_next_timeout(const struct linesock *ls, uint64_t now_ms);
/* Connections open now (reading, handled, deferred or writing). */
unsigned int linesock_conns(const struct linesock *ls);

/* The request started with cfg.flag. */
bool linesock_req_flag(const struct linesock_req *r);
/* Answer "ok\n" + @body (copied; NULL is empty) and release @r. */
void linesock_reply_ok(struct linesock_req *r, const char *body);
/* Answer "error <message>\n" (newlines in it become spaces), release @r. */
void linesock_reply_err(struct linesock_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Client: connect to @path, send @line + "\n", read the answer to EOF, all
 * within @timeout_ms. 0: "ok", *@body is the body (malloc'd, NUL-ended,
 * maybe ""). -EPROTO: "error", *@body is the reason (one line, no newline).
 * Otherwise *@body is NULL and: -ENOENT or -ECONNREFUSED (no server),
 * -ETIMEDOUT, -EMSGSIZE (answer over @max bytes), -EBADMSG (neither ok nor
 * error), -EINVAL (@line holds a newline), -ENAMETOOLONG, other -errno.
 */
int linesock_request(const char *path, const char *line,
		     unsigned int timeout_ms, size_t max, char **body);

#endif /* MAVPN_LINESOCK_H */
