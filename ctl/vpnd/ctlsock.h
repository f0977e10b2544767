/* SPDX-License-Identifier: GPL-2.0-only */
/* vpnd's side of the local control socket (protocol: mavpn/ctlproto.h). */
#ifndef MAVPN_CTL_VPND_CTLSOCK_H
#define MAVPN_CTL_VPND_CTLSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "mavpn/ctlproto.h"

struct ctlsock;
struct ctlsock_req;

/*
 * Handle one request (ctlsock_req_json() tells the output wanted). Reply
 * with ctlsock_reply_ok/_err (which free @r) and return 0, or return 1 to
 * answer later (the handler keeps @r; it must be answered before
 * ctlsock_close()).
 */
typedef int (*ctlsock_handler_fn)(void *arg, struct ctlsock_req *r,
				  const char *verb, const char *argstr);

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

#endif /* MAVPN_CTL_VPND_CTLSOCK_H */
