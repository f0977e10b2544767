/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vpnd's local control socket (vpnctl talks to it).
 *
 * A unix stream socket, mode 0660. One request per connection: a line
 *   [json ]VERB[ ARG]\n
 * with VERB one of attach, detach, status, peers, resolve. The answer is
 *   ok\n<body>            (body: text, or one JSON document with "json ")
 *   error <one line>\n
 * and vpnd closes the connection after it, so a client reads to EOF.
 */
#ifndef MAVPN_CTLSOCK_H
#define MAVPN_CTLSOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CTLSOCK_PATH_DEFAULT	"/run/mavpn/vpnd.sock"
#define CTLSOCK_JSON_PREFIX	"json "
/* A request line, newline included (verb + a cgroup path). */
#define CTLSOCK_LINE_MAX	4200
/* A client must send its line within this. */
#define CTLSOCK_READ_MS		2000
/* vpnd gives up writing an answer after this. */
#define CTLSOCK_WRITE_MS	2000

struct ctlsock;
struct ctlsock_req;

/*
 * Handle one request. Reply with ctlsock_reply_ok/_err (which free @r) and
 * return 0, or return 1 to answer later (the handler keeps @r; it must be
 * answered before ctlsock_close()).
 */
typedef int (*ctlsock_handler_fn)(void *arg, struct ctlsock_req *r,
				  const char *verb, const char *argstr,
				  bool json);

/*
 * Listen at @path (its directory is created). -EADDRINUSE (NULL, errno) if
 * another daemon answers there; a stale socket file is replaced. NULL with
 * errno set, one line logged.
 */
struct ctlsock *ctlsock_open(const char *path, ctlsock_handler_fn fn,
			     void *arg);
/* Close every connection, remove the socket file. Accepts NULL. */
void ctlsock_close(struct ctlsock *cs);

int ctlsock_fd(const struct ctlsock *cs);	/* epoll it for EPOLLIN */
void ctlsock_process(struct ctlsock *cs);	/* after it fired */
/* Drop clients that did not send their line in time. */
void ctlsock_tick(struct ctlsock *cs, uint64_t now_ms);

bool ctlsock_req_json(const struct ctlsock_req *r);
void ctlsock_reply_ok(struct ctlsock_req *r, const char *body);
void ctlsock_reply_err(struct ctlsock_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* MAVPN_CTLSOCK_H */
