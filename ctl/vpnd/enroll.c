// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd enroll: the one time a host talks to the server without a
 * certificate. Trust comes from the token: its last field is the SHA-256 of
 * the server CA's DER, so after the (unverified) TLS handshake we find that
 * CA in the chain the server sent, verify the leaf against it alone and
 * check the leaf carries TLSCONN_SERVER_NAME. Only then does the token (a
 * secret) leave this host.
 *
 * Blocking by nature, so it is written as a straight sequence: poll() with
 * one overall deadline around the non-blocking tlsconn.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "mavpn/tlsconn.h"
#include "mavpn/util.h"
#include "chan.h"
#include "enroll.h"
#include "state.h"

#define enroll_fail(...) fprintf(stderr, "vpnd enroll: " __VA_ARGS__)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int enroll_parse_token(const char *tok, struct enroll_token *t)
{
	const char *f[4], *p = tok;
	size_t idlen;
	int i, hi, lo;

	memset(t, 0, sizeof(*t));
	if (strlen(tok) >= CTLMSG_TOKEN_MAX)
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		f[i] = p;
		p = strchr(p, '.');
		if (i < 3) {
			if (!p)
				return -EINVAL;
			p++;
		} else if (p) {
			return -EINVAL;		/* a fifth field */
		}
	}
	if ((size_t)(f[1] - f[0] - 1) != strlen(ENROLL_TOKEN_PREFIX) ||
	    strncmp(f[0], ENROLL_TOKEN_PREFIX, strlen(ENROLL_TOKEN_PREFIX)))
		return -EINVAL;
	idlen = (size_t)(f[2] - f[1] - 1);
	if (!idlen || idlen >= sizeof(t->id) || f[3] - f[2] - 1 <= 0)
		return -EINVAL;
	memcpy(t->id, f[1], idlen);
	if (strlen(f[3]) != 2 * ENROLL_FP_LEN)
		return -EINVAL;
	for (i = 0; i < ENROLL_FP_LEN; i++) {
		hi = hexval(f[3][2 * i]);
		lo = hexval(f[3][2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		t->ca_fp[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int der_sha256(X509 *x, uint8_t out[ENROLL_FP_LEN])
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	if (len <= 0)
		return -EIO;
	SHA256(der, (size_t)len, out);
	OPENSSL_free(der);
	return 0;
}

/* PEM text of a key pair and a CSR for it. */
static int make_key_csr(EVP_PKEY **pkey, char **key_pem, size_t *key_len,
			char **csr_pem)
{
	X509_REQ *req = NULL;
	X509_NAME *name;
	BIO *kb = NULL, *cb = NULL;
	char *p;
	long n;
	int err = -EIO;

	*pkey = EVP_EC_gen("P-256");
	if (!*pkey)
		return -EIO;
	req = X509_REQ_new();
	kb = BIO_new(BIO_s_secmem());
	cb = BIO_new(BIO_s_mem());
	if (!req || !kb || !cb)
		goto out;
	/* The server chooses the name; the CN is only a placeholder. */
	name = X509_REQ_get_subject_name(req);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"mavpn-host",
					-1, -1, 0) ||
	    !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_pubkey(req, *pkey) ||
	    !X509_REQ_sign(req, *pkey, EVP_sha256()))
		goto out;
	if (!PEM_write_bio_PrivateKey(kb, *pkey, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509_REQ(cb, req))
		goto out;
	n = BIO_get_mem_data(kb, &p);
	*key_pem = malloc((size_t)n + 1);
	if (!*key_pem)
		goto out;
	memcpy(*key_pem, p, (size_t)n);
	(*key_pem)[n] = '\0';
	*key_len = (size_t)n;
	n = BIO_get_mem_data(cb, &p);
	*csr_pem = strndup(p, (size_t)n);
	if (!*csr_pem) {
		OPENSSL_cleanse(*key_pem, *key_len);
		free(*key_pem);
		*key_pem = NULL;
		goto out;
	}
	err = 0;
out:
	BIO_free(kb);	/* secure heap: the key text is cleansed */
	BIO_free(cb);
	X509_REQ_free(req);
	if (err) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
	}
	return err;
}

/* Wait for @events on @fd until @deadline (mono_ms). */
static int enroll_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now = mono_ms();
	int r;

	if (now >= deadline)
		return -ETIMEDOUT;
	r = poll(&p, 1, (int)(deadline - now));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return 0;
}

static short enroll_events(const struct tlsconn *c)
{
	return POLLIN | (tlsconn_want_write(c) ? POLLOUT : 0);
}

/*
 * The pin: the CA whose DER hashes to the token's fingerprint must be in
 * the chain the server sent, and the leaf must verify against that CA
 * alone and carry our server name.
 */
static int enroll_pin(SSL *ssl, const uint8_t fp[ENROLL_FP_LEN])
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509 *leaf = SSL_get0_peer_certificate(ssl), *anchor = NULL;
	X509_STORE_CTX *vctx = NULL;
	X509_STORE *store = NULL;
	uint8_t h[ENROLL_FP_LEN];
	int i, err = -EPERM;

	if (!chain || !leaf)
		return -EPERM;
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (!der_sha256(x, h) && !memcmp(h, fp, sizeof(h))) {
			anchor = x;
			break;
		}
	}
	if (!anchor)
		return -EPERM;
	store = X509_STORE_new();
	vctx = X509_STORE_CTX_new();
	if (!store || !vctx || !X509_STORE_add_cert(store, anchor) ||
	    !X509_STORE_CTX_init(vctx, store, leaf, chain))
		goto out;
	X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER);
	if (!X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(vctx),
					 TLSCONN_SERVER_NAME, 0))
		goto out;
	if (X509_verify_cert(vctx) == 1)
		err = 0;
out:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return err;
}

/*
 * What the server gave us must fit: the CA is the pinned one, our
 * certificate is for our key and chains to that CA.
 */
static int enroll_check_resp(const struct ctlmsg *m, EVP_PKEY *pkey,
			     const uint8_t fp[ENROLL_FP_LEN])
{
	X509 *cert = NULL, *ca = NULL;
	X509_STORE_CTX *vctx = NULL;
	X509_STORE *store = NULL;
	uint8_t h[ENROLL_FP_LEN];
	BIO *b;
	int err = -EBADMSG;

	b = BIO_new_mem_buf(m->cert, -1);
	if (b) {
		cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	b = BIO_new_mem_buf(m->ca, -1);
	if (b) {
		ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	if (!cert || !ca || der_sha256(ca, h) || memcmp(h, fp, sizeof(h)) ||
	    X509_check_private_key(cert, pkey) != 1)
		goto out;
	store = X509_STORE_new();
	vctx = X509_STORE_CTX_new();
	if (!store || !vctx || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(vctx, store, cert, NULL))
		goto out;
	X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(vctx) == 1)
		err = 0;
out:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	X509_free(cert);
	X509_free(ca);
	return err;
}

/* Handshake, pin, send the request and wait for the one answer. */
static int enroll_exchange(struct tlsconn *c, const struct enroll_token *t,
			   struct ctlmsg *m, uint64_t deadline)
{
	int ret, rd_err = 0;

	while ((ret = tlsconn_handshake(c)) == 0) {
		ret = enroll_wait(tlsconn_fd(c), enroll_events(c), deadline);
		if (ret < 0)
			goto err_io;
	}
	if (ret < 0) {
		enroll_fail("TLS handshake with the server failed\n");
		return ret;
	}
	if (enroll_pin(tlsconn_ssl(c), t->ca_fp)) {
		enroll_fail("server certificate does not match the token's CA fingerprint\n");
		return -EPERM;
	}
	ret = tlsconn_send(c, m);
	ctlmsg_wipe(m);
	if (ret < 0)
		goto err_io;
	for (;;) {
		ret = tlsconn_flush(c);
		if (ret < 0)
			goto err_io;
		ret = tlsconn_next(c, m);
		if (ret == 1)
			return 0;
		if (ret < 0) {
			enroll_fail("malformed answer from the server\n");
			return ret;
		}
		if (rd_err) {
			ret = rd_err;
			goto err_io;
		}
		ret = enroll_wait(tlsconn_fd(c), enroll_events(c), deadline);
		if (ret < 0)
			goto err_io;
		/* The answer and the server's close often arrive together:
		 * take what was read before reporting the error. */
		rd_err = tlsconn_read(c);
	}
err_io:
	enroll_fail("talking to the server: %s\n",
		    ret == -ECONNRESET ? "connection closed by the server"
				       : strerror(-ret));
	return ret;
}

static int enroll_save(const char *dir, const char *server,
		       const struct ctlmsg *m, const char *key_pem,
		       size_t key_len)
{
	struct vpnd_state st;
	int err;

	err = state_paths(&st, dir);
	if (err)
		return err;
	snprintf(st.name, sizeof(st.name), "%s", m->name);
	st.overlay_ip = m->overlay_ip;
	st.overlay_plen = m->overlay_plen;
	snprintf(st.server, sizeof(st.server), "%s", server);
	err = state_write_file(dir, STATE_KEY, key_pem, key_len, 0600);
	if (!err)
		err = state_write_file(dir, STATE_CERT, m->cert,
				       strlen(m->cert), 0644);
	if (!err)
		err = state_write_file(dir, STATE_CA, m->ca, strlen(m->ca),
				       0644);
	/* Last: host.conf is what makes the directory "enrolled". */
	if (!err)
		err = state_save_conf(&st);
	return err;
}

/* Create @dir (0700) unless it exists; refuse one that is enrolled. */
static int enroll_state_dir(const char *dir)
{
	int err;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		enroll_fail("cannot create state directory \"%s\": %s\n", dir,
			    strerror(errno));
		return err;
	}
	if (state_enrolled(dir)) {
		enroll_fail("\"%s\" already holds an enrollment (remove it to enroll again)\n",
			    dir);
		return -EEXIST;
	}
	return 0;
}

/* TCP connection to @host:@port (@server, for the message) by @deadline:
 * the fd, or -errno with one line printed. */
static int enroll_connect(const char *host, const char *port,
			  const char *server, uint64_t deadline)
{
	socklen_t sl = sizeof(int);
	int fd, err, soerr = 0;
	const char *why;

	fd = chan_tcp_connect(host, port, &why);
	if (fd >= 0) {
		err = enroll_wait(fd, POLLOUT, deadline);
		if (!err) {
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			err = -soerr;
		}
		if (err) {
			close(fd);
			fd = err;
		}
	}
	if (fd < 0)
		enroll_fail("cannot connect to server %s: %s\n", server,
			    why ? why : strerror(-fd));
	return fd;
}

/*
 * One enrollment attempt at server @one (@host, @port): 0, or -errno with
 * one line printed. -EAGAIN: the server could not be reached or the
 * exchange broke off before an answer (the next server may be tried; the
 * token was not taken); any answer is final (a token is single use).
 */
static int enroll_one(const char *dir, const char *list, const char *one,
		      const char *host, const char *port, const char *token,
		      const struct enroll_token *t, EVP_PKEY *pkey,
		      const char *key_pem, size_t key_len, const char *csr_pem,
		      struct ctlmsg *m, uint64_t deadline)
{
	char ip[INET_ADDRSTRLEN];
	struct tlsconn *c;
	SSL_CTX *ctx;
	int fd, err;

	ctx = tlsconn_client_ctx(TLSCONN_ALPN_ENROLL, NULL, NULL, NULL);
	if (!ctx) {
		enroll_fail("cannot set up TLS\n");
		return -EIO;
	}
	fd = enroll_connect(host, port, one, deadline);
	if (fd < 0) {
		err = -EAGAIN;
		goto out_ctx;
	}
	c = tlsconn_new(ctx, fd, false);
	if (!c) {
		err = -ENOMEM;
		goto out_ctx;
	}
	ctlmsg_init(m, CTLMSG_ENROLL_REQ);
	snprintf(m->token, sizeof(m->token), "%s", token);
	snprintf(m->csr, sizeof(m->csr), "%s", csr_pem);
	m->present = CTLA_BIT(CTLA_TOKEN) | CTLA_BIT(CTLA_CSR);
	err = enroll_exchange(c, t, m, deadline);
	if (err) {
		/* Not the pinned CA: no other server of the list is asked
		 * either (they are meant to be one authsrv). */
		if (err != -EPERM)
			err = -EAGAIN;
		goto out_conn;
	}
	if (m->type == CTLMSG_ERROR) {
		enroll_fail("server refused: %s\n", m->reason);
		err = -EPERM;
		goto out_conn;
	}
	if (m->type != CTLMSG_ENROLL_RESP ||
	    enroll_check_resp(m, pkey, t->ca_fp)) {
		enroll_fail("server sent an invalid answer (%s)\n",
			    ctlmsg_type_name(m->type));
		err = -EBADMSG;
		goto out_conn;
	}
	/* The whole list: vpnd run fails over along it. */
	err = enroll_save(dir, list, m, key_pem, key_len);
	if (err) {
		enroll_fail("cannot write state to \"%s\": %s\n", dir,
			    strerror(-err));
		goto out_conn;
	}
	inet_ntop(AF_INET, &m->overlay_ip, ip, sizeof(ip));
	printf("enrolled as %s overlay_ip=%s/%u state=%s\n", m->name, ip,
	       m->overlay_plen, dir);
out_conn:
	tlsconn_free(c);
out_ctx:
	SSL_CTX_free(ctx);
	return err;
}

int enroll_run(const char *dir, const char *server, const char *token)
{
	char host[STATE_SERVER_MAX], port[16], one[STATE_SERVER_MAX];
	uint64_t deadline = mono_ms() + ENROLL_TIMEOUT_MS;
	char *key_pem = NULL, *csr_pem = NULL;
	size_t key_len = 0;
	struct enroll_token t;
	EVP_PKEY *pkey = NULL;
	struct ctlmsg *m;
	unsigned int i;
	int err;

	if (enroll_parse_token(token, &t)) {
		enroll_fail("malformed token (expected mavpn1.<id>.<secret>.<ca-sha256>)\n");
		return -EINVAL;
	}
	if (state_server_count(server) < 0) {
		enroll_fail("bad --server \"%s\" (expected HOST:PORT[,HOST:PORT...])\n",
			    server);
		return -EINVAL;
	}
	err = enroll_state_dir(dir);
	if (err)
		return err;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	err = make_key_csr(&pkey, &key_pem, &key_len, &csr_pem);
	if (err) {
		enroll_fail("cannot generate key and CSR\n");
		goto out_msg;
	}
	/* In order; the next one only if this one could not be reached. */
	err = -EAGAIN;
	for (i = 0; err == -EAGAIN &&
		    !state_server_nth(server, i, host, sizeof(host), port,
				      sizeof(port), one, sizeof(one)); i++)
		err = enroll_one(dir, server, one, host, port, token, &t, pkey,
				 key_pem, key_len, csr_pem, m, deadline);
	if (key_pem)
		OPENSSL_cleanse(key_pem, key_len);
	free(key_pem);
	free(csr_pem);
	EVP_PKEY_free(pkey);
out_msg:
	ctlmsg_wipe(m);
	free(m);
	return err;
}
