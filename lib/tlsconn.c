// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS 1.3 control-channel connection on a non-blocking socket.
 *
 * Buffers:
 *  - input: exactly one maximum frame (CTLMSG_HDR_LEN + CTLMSG_MAX_BODY),
 *    allocated at the first read after the handshake: a connection that
 *    has not completed TLS (the unauthenticated ones a flood is made of)
 *    holds only the SSL object, whose record buffers RELEASE_BUFFERS
 *    returns while idle.
 *    tlsconn_read() fills it until the TLS layer has nothing more or it is
 *    full; tlsconn_next() takes whole frames off the front. A full buffer
 *    always holds a whole frame (or an oversized announcement, which is an
 *    error), so the caller's "read, then next until 0" loop cannot stall.
 *    Plaintext OpenSSL already decrypted but we had no room for stays in
 *    the SSL object where epoll cannot see it: tlsconn_next() pulls it in
 *    when it runs out of whole frames (SSL_pending() > 0).
 *  - output: a growable queue of encoded frames, capped at TLSCONN_OUT_MAX.
 *    SSL_write() runs with ENABLE_PARTIAL_WRITE and
 *    ACCEPT_MOVING_WRITE_BUFFER, so the queue may be compacted or grown
 *    between retries; retries only ever pass the same or more bytes.
 *    Frames carry key material (KEY_PUSH/KEY_GRANT): sent bytes are wiped
 *    before they are compacted away, and both buffers are wiped on free.
 *
 * Writes go through the socket BIO (write(2)): callers must ignore SIGPIPE.
 *
 * The OpenSSL error queue is per thread: it is cleared before each SSL call
 * so that one connection's stale error never turns another's WANT_READ
 * into a failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/log.h"
#include "mavpn/tlsconn.h"

#define TLSCONN_IN_CAP		(CTLMSG_HDR_LEN + CTLMSG_MAX_BODY)
#define TLSCONN_FRAME_MAX	(CTLMSG_HDR_LEN + CTLMSG_MAX_BODY)
#define TLSCONN_OUT_MAX		(1024 * 1024)
#define TLSCONN_GROUPS		"X25519:P-256:P-384"

struct tlsconn {
	SSL *ssl;
	int fd;
	bool server;
	bool hs_done;
	bool ssl_wants_write;	/* last handshake/read asked for POLLOUT */
	bool write_wants_read;	/* last SSL_write asked for POLLIN */
	int rd_err;		/* read error held back behind buffered data */
	uint8_t *in;
	size_t in_len;
	uint8_t *out;
	size_t out_off;		/* first byte not yet accepted by SSL_write */
	size_t out_len;		/* end of queued bytes */
	size_t out_cap;
};

/* Log the OpenSSL error queue as one line and clear it. */
static void tlsconn_log_ssl(enum log_level lvl, const char *what, int fd)
{
	char buf[256] = "";
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last)
		ERR_error_string_n(last, buf, sizeof(buf));
	log_msg(lvl, "tlsconn: %s fd=%d ssl_error=\"%s\"", what, fd,
		buf[0] ? buf : "none");
}

/*
 * Refuse a ClientHello without ALPN during the handshake: the ALPN select
 * callback is not called at all when the extension is absent.
 */
static int tlsconn_client_hello_cb(SSL *ssl, int *al, void *arg)
{
	const unsigned char *ext;
	size_t len;

	(void)arg;
	if (!SSL_client_hello_get0_ext(ssl,
			TLSEXT_TYPE_application_layer_protocol_negotiation,
			&ext, &len)) {
		*al = SSL_AD_NO_APPLICATION_PROTOCOL;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

static const unsigned char tlsconn_server_alpn[] = {
	sizeof(TLSCONN_ALPN_CTL) - 1, 'm', 'a', 'v', 'p', 'n', '/', '2',
	sizeof(TLSCONN_ALPN_ENROLL) - 1, 'm', 'a', 'v', 'p', 'n', '-', 'e',
	'n', 'r', 'o', 'l', 'l', '/', '1',
};
_Static_assert(sizeof(TLSCONN_ALPN_CTL) - 1 == 7, "ALPN table out of date");
_Static_assert(sizeof(TLSCONN_ALPN_ENROLL) - 1 == 14, "ALPN table out of date");

static int tlsconn_alpn_select_cb(SSL *ssl, const unsigned char **out,
				  unsigned char *outlen,
				  const unsigned char *in, unsigned int inlen,
				  void *arg)
{
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, tlsconn_server_alpn,
				  sizeof(tlsconn_server_alpn), in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tlsconn_ctx_common(const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * RELEASE_BUFFERS: an idle channel (most of them, most of the time)
	 * gives its 16 KiB+ record buffers back; at 10k hosts that is the
	 * difference between ~50 and ~15 KiB per connection on the server.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_RELEASE_BUFFERS);
	/*
	 * A peer that dies (vpnd killed) closes without close_notify: report
	 * that as a plain close (-ECONNRESET), not a TLS error. Truncation
	 * cannot go unnoticed: every frame carries its own length.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Every connection is a fresh, fully authenticated one. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/*
	 * Key exchange over elliptic curves only: no finite-field (ffdhe)
	 * groups, whose large modular exponentiations an unauthenticated
	 * client could make the server pay for.
	 */
	if (SSL_CTX_set1_groups_list(ctx, TLSCONN_GROUPS) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * KEY_PUSH and KEY_GRANT carry session keys: OpenSSL wipes its
	 * record buffers of decrypted plaintext once read (ours are wiped by
	 * tlsconn itself, see above).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT);
	return ctx;
}

SSL_CTX *tlsconn_server_ctx(const char *chain_pem, const char *key_pem,
			    const char *ca_pem)
{
	STACK_OF(X509_NAME) *names;
	const char *what;
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = tlsconn_ctx_common(TLS_server_method());
	if (!ctx) {
		what = "server context";
		goto err;
	}
	/* No resumption tickets: nothing to resume, nothing to steal. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

	if (SSL_CTX_use_certificate_chain_file(ctx, chain_pem) != 1) {
		what = "load server certificate chain";
		goto err_ctx;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_pem, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		what = "load server private key";
		goto err_ctx;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca_pem, NULL) != 1) {
		what = "load CA";
		goto err_ctx;
	}
	names = SSL_load_client_CA_file(ca_pem);
	if (!names) {
		what = "load client CA list";
		goto err_ctx;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	/*
	 * Ask for a certificate, but do not demand one: enrollment clients
	 * have none yet. A certificate that is presented must verify, or the
	 * handshake fails; whether a connection needs one at all is decided
	 * by its ALPN protocol (authsrv checks it after the handshake).
	 */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_client_hello_cb(ctx, tlsconn_client_hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, tlsconn_alpn_select_cb, NULL);
	return ctx;

err_ctx:
	SSL_CTX_free(ctx);
err:
	tlsconn_log_ssl(LOG_LVL_ERR, what, -1);
	log_err("tlsconn: server context failed step=\"%s\" chain=\"%s\" key=\"%s\" ca=\"%s\"",
		what, chain_pem, key_pem, ca_pem);
	return NULL;
}

SSL_CTX *tlsconn_client_ctx(const char *alpn, const char *ca_pem,
			    const char *cert_pem, const char *key_pem)
{
	unsigned char protos[256];
	size_t alen = alpn ? strlen(alpn) : 0;
	const char *what;
	SSL_CTX *ctx;

	ERR_clear_error();
	if (alen == 0 || alen > 255) {
		log_err("tlsconn: client context: bad ALPN \"%s\"",
			alpn ? alpn : "");
		return NULL;
	}
	ctx = tlsconn_ctx_common(TLS_client_method());
	if (!ctx) {
		what = "client context";
		goto err;
	}
	protos[0] = (unsigned char)alen;
	memcpy(protos + 1, alpn, alen);
	/* Returns 0 on success, unlike nearly everything else here. */
	if (SSL_CTX_set_alpn_protos(ctx, protos, (unsigned int)alen + 1)) {
		what = "set ALPN";
		goto err_ctx;
	}
	if (ca_pem) {
		if (SSL_CTX_load_verify_locations(ctx, ca_pem, NULL) != 1) {
			what = "load CA";
			goto err_ctx;
		}
		/* The host name check is armed per connection (tlsconn_new). */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	if (cert_pem || key_pem) {
		if (!cert_pem || !key_pem) {
			what = "certificate and key must be given together";
			goto err_ctx;
		}
		if (SSL_CTX_use_certificate_chain_file(ctx, cert_pem) != 1) {
			what = "load client certificate";
			goto err_ctx;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key_pem,
						SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			what = "load client private key";
			goto err_ctx;
		}
	}
	return ctx;

err_ctx:
	SSL_CTX_free(ctx);
err:
	tlsconn_log_ssl(LOG_LVL_ERR, what, -1);
	log_err("tlsconn: client context failed step=\"%s\" ca=\"%s\" cert=\"%s\" key=\"%s\"",
		what, ca_pem ? ca_pem : "", cert_pem ? cert_pem : "",
		key_pem ? key_pem : "");
	return NULL;
}

struct tlsconn *tlsconn_new(SSL_CTX *ctx, int fd, bool server)
{
	struct tlsconn *c;

	ERR_clear_error();
	c = calloc(1, sizeof(*c));
	if (!c)
		goto err;
	c->fd = fd;
	c->server = server;
	/* c->in: allocated at the first read after the handshake, so an
	 * unauthenticated connection holds no frame buffer. */
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		goto err_conn;
	if (SSL_set_fd(c->ssl, fd) != 1)
		goto err_ssl;
	if (server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		/* SNI, and the name the server certificate must carry; only
		 * enforced when the context verifies (ca_pem given). */
		if (SSL_set_tlsext_host_name(c->ssl, TLSCONN_SERVER_NAME) != 1 ||
		    SSL_set1_host(c->ssl, TLSCONN_SERVER_NAME) != 1)
			goto err_ssl;
	}
	return c;

err_ssl:
	SSL_free(c->ssl);
err_conn:
	free(c);
err:
	tlsconn_log_ssl(LOG_LVL_ERR, "new connection", fd);
	close(fd);
	errno = ENOMEM;
	return NULL;
}

void tlsconn_free(struct tlsconn *c)
{
	if (!c)
		return;
	if (c->ssl) {
		/* Best effort close_notify; never waits. */
		if (c->hs_done) {
			ERR_clear_error();
			SSL_shutdown(c->ssl);
		}
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	if (c->fd >= 0)
		close(c->fd);
	if (c->in) {
		OPENSSL_cleanse(c->in, TLSCONN_IN_CAP);
		free(c->in);
	}
	if (c->out) {
		OPENSSL_cleanse(c->out, c->out_cap);
		free(c->out);
	}
	free(c);
}

/* Map a failed SSL call to 0 (retry later) or -errno. */
static int tlsconn_ssl_result(struct tlsconn *c, int ret, const char *what)
{
	int err = SSL_get_error(c->ssl, ret);

	switch (err) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->ssl_wants_write = true;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		/* EOF without close_notify, or a socket error. */
		if (ERR_peek_error() == 0) {
			log_debug("tlsconn: %s fd=%d errno=%d", what, c->fd,
				  errno);
			return -ECONNRESET;
		}
		/* fall through */
	default:
		tlsconn_log_ssl(LOG_LVL_INFO, what, c->fd);
		return -EPROTO;
	}
}

int tlsconn_handshake(struct tlsconn *c)
{
	int ret;

	if (c->hs_done)
		return 1;
	c->ssl_wants_write = false;
	ERR_clear_error();
	ret = SSL_do_handshake(c->ssl);
	if (ret == 1) {
		c->hs_done = true;
		return 1;
	}
	ret = tlsconn_ssl_result(c, ret, "handshake failed");
	/* A closed socket mid-handshake is still a failed handshake for the
	 * caller; keep the distinction the header promises. */
	return ret;
}

/*
 * Pull decrypted bytes into the input buffer until WANT_* or full.
 * A peer typically sends its last message (ERROR, ENROLL_RESP) and
 * close_notify back to back: an EOF or error that comes after new bytes is
 * held back, so the caller takes the messages first (tlsconn_next) and
 * hears about the close from the next tlsconn_read() (the fd stays readable
 * at EOF).
 */
static int tlsconn_fill(struct tlsconn *c)
{
	size_t got = 0;
	int ret;

	c->ssl_wants_write = false;
	if (!c->in) {
		c->in = malloc(TLSCONN_IN_CAP);
		if (!c->in)
			return -ENOMEM;
	}
	while (c->in_len < TLSCONN_IN_CAP) {
		ERR_clear_error();
		ret = SSL_read(c->ssl, c->in + c->in_len,
			       (int)(TLSCONN_IN_CAP - c->in_len));
		if (ret > 0) {
			c->in_len += (size_t)ret;
			got += (size_t)ret;
			continue;
		}
		ret = tlsconn_ssl_result(c, ret, "read failed");
		if (ret < 0 && got) {
			c->rd_err = ret;
			return 0;
		}
		return ret;
	}
	return 0;
}

int tlsconn_read(struct tlsconn *c)
{
	int ret;

	if (c->rd_err)
		return c->rd_err;
	if (!c->hs_done) {
		ret = tlsconn_handshake(c);
		if (ret <= 0)
			return ret;
	}
	ret = tlsconn_fill(c);
	if (ret < 0)
		return ret;
	/* A queued write that waited for readability may go now. */
	if (c->write_wants_read && c->out_off < c->out_len) {
		ret = tlsconn_flush(c);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int tlsconn_next(struct tlsconn *c, struct ctlmsg *m)
{
	int flen, ret;

	flen = c->in ? ctlmsg_frame_len(c->in, c->in_len) : 0;
	if (flen == 0 && c->hs_done && !c->rd_err && SSL_pending(c->ssl) > 0) {
		/* Decrypted data we had no room for earlier. Errors surface
		 * on the next tlsconn_read(); the fd stays readable then. */
		if (tlsconn_fill(c) == 0)
			flen = ctlmsg_frame_len(c->in, c->in_len);
	}
	if (flen < 0)
		return flen;
	if (flen == 0)
		return 0;
	if ((size_t)flen > c->in_len || flen > TLSCONN_FRAME_MAX)
		return -EMSGSIZE;
	ret = ctlmsg_decode(c->in, (size_t)flen, m);
	OPENSSL_cleanse(c->in, (size_t)flen);
	memmove(c->in, c->in + flen, c->in_len - (size_t)flen);
	c->in_len -= (size_t)flen;
	if (ret < 0)
		return ret;
	return 1;
}

/* Drop sent bytes from the front of the output queue. */
static void tlsconn_out_compact(struct tlsconn *c)
{
	size_t left;

	if (c->out_off == 0)
		return;
	left = c->out_len - c->out_off;
	memmove(c->out, c->out + c->out_off, left);
	OPENSSL_cleanse(c->out + left, c->out_len - left);
	c->out_off = 0;
	c->out_len = left;
}

int tlsconn_send(struct tlsconn *c, const struct ctlmsg *m)
{
	size_t need;
	int len, ret;

	tlsconn_out_compact(c);
	if (c->out_len > TLSCONN_OUT_MAX)
		return -ENOBUFS;
	need = c->out_len + TLSCONN_FRAME_MAX;
	if (need > c->out_cap) {
		size_t ncap = c->out_cap ? c->out_cap : 2 * TLSCONN_FRAME_MAX;
		uint8_t *n;

		while (ncap < need)
			ncap *= 2;
		/* Not realloc(): the old buffer may hold key material. */
		n = malloc(ncap);
		if (!n)
			return -ENOMEM;
		if (c->out) {
			memcpy(n, c->out, c->out_len);
			OPENSSL_cleanse(c->out, c->out_cap);
			free(c->out);
		}
		c->out = n;
		c->out_cap = ncap;
	}
	len = ctlmsg_encode(m, c->out + c->out_len, c->out_cap - c->out_len);
	if (len < 0)
		return len;
	c->out_len += (size_t)len;
	ret = tlsconn_flush(c);
	return ret < 0 ? ret : 0;
}

int tlsconn_flush(struct tlsconn *c)
{
	int ret;

	if (!c->hs_done) {
		ret = tlsconn_handshake(c);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return c->out_off < c->out_len ? 1 : 0;
	}
	c->write_wants_read = false;
	while (c->out_off < c->out_len) {
		size_t left = c->out_len - c->out_off;

		ERR_clear_error();
		ret = SSL_write(c->ssl, c->out + c->out_off,
				left > INT32_MAX ? INT32_MAX : (int)left);
		if (ret > 0) {
			c->out_off += (size_t)ret;
			continue;
		}
		switch (SSL_get_error(c->ssl, ret)) {
		case SSL_ERROR_WANT_WRITE:
			return 1;
		case SSL_ERROR_WANT_READ:
			c->write_wants_read = true;
			return 1;
		default:
			ret = tlsconn_ssl_result(c, ret, "write failed");
			return ret < 0 ? ret : -EPROTO;
		}
	}
	/* Everything is with the kernel: wipe what we sent. */
	OPENSSL_cleanse(c->out, c->out_len);
	c->out_off = c->out_len = 0;
	return 0;
}

bool tlsconn_want_write(const struct tlsconn *c)
{
	if (c->ssl_wants_write)
		return true;
	return c->out_off < c->out_len && !c->write_wants_read;
}

int tlsconn_fd(const struct tlsconn *c)
{
	return c->fd;
}

SSL *tlsconn_ssl(const struct tlsconn *c)
{
	return c->ssl;
}

const char *tlsconn_alpn(const struct tlsconn *c)
{
	static const char *const known[] = {
		TLSCONN_ALPN_CTL, TLSCONN_ALPN_ENROLL,
	};
	const unsigned char *p = NULL;
	unsigned int len = 0;
	size_t i;

	SSL_get0_alpn_selected(c->ssl, &p, &len);
	/* Only ever one of ours: the server callback selects from its own
	 * list and a client offers exactly one. */
	for (i = 0; p && i < sizeof(known) / sizeof(known[0]); i++)
		if (len == strlen(known[i]) && !memcmp(p, known[i], len))
			return known[i];
	return "";
}
