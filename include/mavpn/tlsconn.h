/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A control-channel connection: TLS 1.3 on a non-blocking socket, carrying
 * ctlmsg frames. Used by authsrv (server side, epoll) and vpnd (client).
 *
 * ALPN tells the two uses apart: TLSCONN_ALPN_CTL requires a client
 * certificate issued by our CA; TLSCONN_ALPN_ENROLL is the only thing a
 * client without a certificate may speak (one ENROLL_REQ). A client that
 * offers neither is refused during the handshake.
 */
#ifndef MAVPN_TLSCONN_H
#define MAVPN_TLSCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "mavpn/ctlmsg.h"

#define TLSCONN_ALPN_CTL	"mavpn/2"
#define TLSCONN_ALPN_ENROLL	"mavpn-enroll/1"
/* Name in the server certificate's subjectAltName, checked by clients. */
#define TLSCONN_SERVER_NAME	"mavpn-authsrv"

struct tlsconn;

/*
 * Server context: TLS 1.3 only, @chain_pem = server cert followed by the CA
 * cert, @key_pem its private key, @ca_pem the CA that client certificates
 * must chain to. A client certificate is requested; the ALPN callback refuses
 * clients that offer neither protocol. NULL on failure (logged).
 */
SSL_CTX *tlsconn_server_ctx(const char *chain_pem, const char *key_pem,
			    const char *ca_pem);

/*
 * Client context: TLS 1.3 only, offers @alpn. With @ca_pem the server must
 * chain to it and carry TLSCONN_SERVER_NAME; with @cert_pem/@key_pem the
 * client presents that certificate. @ca_pem NULL = no verification by
 * OpenSSL (enrollment: the caller pins the CA fingerprint itself).
 */
SSL_CTX *tlsconn_client_ctx(const char *alpn, const char *ca_pem,
			    const char *cert_pem, const char *key_pem);

/* Wrap connected non-blocking @fd (owned from now on). NULL on failure. */
struct tlsconn *tlsconn_new(SSL_CTX *ctx, int fd, bool server);
void tlsconn_free(struct tlsconn *c);	/* accepts NULL; closes the fd */

/* Drive the handshake: 1 done, 0 in progress, -EPROTO/-ECONNRESET failed. */
int tlsconn_handshake(struct tlsconn *c);

/* Read whatever is available into the input buffer: 0, -ECONNRESET (peer
 * closed), -EPROTO (TLS error). Call when the fd is readable.
 * Then call tlsconn_next() until it returns 0. An EOF or error that arrives
 * right behind data (a last message followed by close_notify) is reported
 * by the next tlsconn_read(), after those messages could be taken; the fd
 * stays readable at EOF. Completes the handshake if it is still running.
 * Writes use write(2) on the socket: the process must ignore SIGPIPE. */
int tlsconn_read(struct tlsconn *c);

/* Take the next whole message from the input buffer: 1 one decoded into
 * @m, 0 none yet, -EBADMSG/-EMSGSIZE malformed (close the connection). */
int tlsconn_next(struct tlsconn *c, struct ctlmsg *m);

/* Queue @m and try to send: 0 or -errno (-ENOBUFS if the output queue is
 * over its limit). */
int tlsconn_send(struct tlsconn *c, const struct ctlmsg *m);

/* Try to send queued output: 0 all sent, 1 still queued, -errno. */
int tlsconn_flush(struct tlsconn *c);

/* True if the next progress needs the fd to be writable. */
bool tlsconn_want_write(const struct tlsconn *c);

int tlsconn_fd(const struct tlsconn *c);
SSL *tlsconn_ssl(const struct tlsconn *c);
/* Negotiated ALPN protocol as a string ("" if none). */
const char *tlsconn_alpn(const struct tlsconn *c);

#endif /* MAVPN_TLSCONN_H */
