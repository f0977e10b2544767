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
 * The server answers a request in its event loop with a blocking read and
 * write bounded by ADMIN_IO_TIMEOUT_MS: only the owner of the state
 * directory can connect, and the CLI sends its line at once.
 */
#ifndef AUTHSRV_ADMIN_H
#define AUTHSRV_ADMIN_H

#include <stddef.h>
#include <stdio.h>

#define AUTHSRV_ADMIN_SOCK	"admin.sock"
#define ADMIN_IO_TIMEOUT_MS	1000
#define ADMIN_LINE_MAX		256

/* Handler: write the body to @out; return 0 (ok) or -errno with @err set. */
typedef int (*admin_handler)(void *arg, const char *verb, const char *argstr,
			     FILE *out, char *err, size_t errlen);

/* Server: bind DIR/admin.sock; takes over a stale socket, -EADDRINUSE if
 * another server answers on it. Returns the listening fd or -errno. */
int admin_listen(const char *dir);
/* Server: accept and answer every waiting connection. */
void admin_accept(int lfd, admin_handler h, void *arg);
/* Server: close and remove the socket. */
void admin_close(int lfd, const char *dir);

/* Server: the verbs above on @arg, a struct server (an admin_handler). */
int admin_server_verb(void *arg, const char *verb, const char *argstr,
		      FILE *out, char *err, size_t errlen);

/*
 * Client: send @line, return the body (malloc'd) in @reply on "ok".
 * -ENOENT / -ECONNREFUSED: no server is running; -EPROTO: the server said
 * "error", its reason in @reply; other -errno on I/O failure.
 */
int admin_request(const char *dir, const char *line, char **reply);

#endif /* AUTHSRV_ADMIN_H */
