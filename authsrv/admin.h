/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The local admin socket of a running server: DIR/admin.sock (0600, the
 * state directory is 0700 anyway). The admin CLI uses it so that changes it
 * has already written to the registry take effect at once:
 *
 *   request:  one line "VERB[ ARG]\n"
 *   answer:   "ok\n<body>" or "error <reason>\n", then the server closes.
 *
 *   revoke NAME   NAME is revoked in the registry: close its channel, tell
 *                 its key peers to drop their keys (KEY_REVOKE)
 *   policy        reload the policy from the registry
 *   online        body: one online host name per line
 *
 * Served by lib/linesock.c inside the server's event loop without ever
 * blocking it: a client has ADMIN_IO_TIMEOUT_MS to send its line and to
 * take its answer. Only the owner of the state directory can connect.
 */
#ifndef AUTHSRV_ADMIN_H
#define AUTHSRV_ADMIN_H

#include <stddef.h>

#define AUTHSRV_ADMIN_SOCK	"admin.sock"
#define ADMIN_IO_TIMEOUT_MS	1000
#define ADMIN_LINE_MAX		256		/* newline included */
#define ADMIN_REPLY_MAX		(64u << 20)	/* "online": a name per host */

struct linesock;
struct server;

/*
 * Server: listen on DIR/admin.sock (0600) for @srv's verbs; takes over a
 * stale socket. NULL with errno: EADDRINUSE if another server answers on
 * it. Serve with linesock_fd/_process/_tick, stop with linesock_close().
 */
struct linesock *admin_open(const char *dir, struct server *srv);

/*
 * Client: send @line, return the body (malloc'd) in @reply on "ok".
 * -ENOENT / -ECONNREFUSED: no server is running; -EPROTO: the server said
 * "error", its reason in @reply; other -errno on I/O failure.
 */
int admin_request(const char *dir, const char *line, char **reply);

struct reg_host;
/* @h is revoked in the registry: close its channel and its authenticated
 * sessions, tell every online host (KEY_REVOKE), audit; the outcome is
 * kept in srv->last_revoke for the admin verb's answer. */
void admin_revoke(struct server *srv, const struct reg_host *h);

#endif /* AUTHSRV_ADMIN_H */
