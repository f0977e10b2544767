// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CA and the certificates it issues.
 *
 *   CA      CN "mavpn CA", CA:TRUE pathlen:0, keyCertSign|cRLSign, 10 y
 *   server  CN/SAN DNS:mavpn-authsrv (TLSCONN_SERVER_NAME), serverAuth, 10 y
 *           (no rotation command yet; see docs/authsrv.md)
 *   host    CN = host name chosen by the server, clientAuth, 1 y
 * Serials are 127 random bits. Nothing of a CSR but its public key is
 * copied into a certificate: the server alone decides names and usages.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mavpn/tlsconn.h"
#include "pki.h"

#define PKI_CA_DAYS	3650
#define PKI_SERVER_DAYS	3650
#define PKI_HOST_DAYS	365

struct pki {
	X509 *ca;
	EVP_PKEY *ca_key;
	char *ca_pem;
	char ca_fp[AUTHSRV_FP_HEX_LEN + 1];
};

static int pki_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EIO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EIO;
}

/* Lowercase hex of @bn (whole bytes, as BN_bn2hex): the one spelling of
 * a serial in the registry. */
static int pki_bn_hex(const BIGNUM *bn, char serial_hex[AUTHSRV_SERIAL_HEX_MAX])
{
	char *hex = BN_bn2hex(bn);
	size_t i;
	int ret = -EINVAL;

	if (!hex)
		return -ENOMEM;
	if (strlen(hex) < AUTHSRV_SERIAL_HEX_MAX) {
		for (i = 0; hex[i]; i++)
			serial_hex[i] = (char)tolower((unsigned char)hex[i]);
		serial_hex[i] = '\0';
		ret = 0;
	}
	OPENSSL_free(hex);
	return ret;
}

static BIGNUM *pki_rand_serial(void)
{
	BIGNUM *bn = BN_new();

	if (!bn)
		return NULL;
	do {
		if (!BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) {
			BN_free(bn);
			return NULL;
		}
	} while (BN_is_zero(bn));
	return bn;
}

int pki_new_serial(char serial_hex[AUTHSRV_SERIAL_HEX_MAX])
{
	BIGNUM *bn = pki_rand_serial();
	int ret;

	if (!bn)
		return -EIO;
	ret = pki_bn_hex(bn, serial_hex);
	BN_free(bn);
	return ret;
}

/* @hex as a serial number, if it is one in its one spelling; else NULL. */
static BIGNUM *pki_parse_serial(const char *hex)
{
	char canon[AUTHSRV_SERIAL_HEX_MAX];
	BIGNUM *bn = NULL;
	size_t len = strnlen(hex, AUTHSRV_SERIAL_HEX_MAX);

	if (!len || len >= AUTHSRV_SERIAL_HEX_MAX ||
	    strspn(hex, "0123456789abcdef") != len)
		return NULL;
	if (BN_hex2bn(&bn, hex) != (int)len || BN_is_zero(bn) ||
	    /* positive in at most 20 DER octets (RFC 5280 4.1.2.2) */
	    BN_num_bits(bn) > 159 || pki_bn_hex(bn, canon) ||
	    strcmp(canon, hex)) {
		BN_free(bn);
		return NULL;
	}
	return bn;
}

bool pki_serial_ok(const char *serial_hex)
{
	BIGNUM *bn = pki_parse_serial(serial_hex);

	BN_free(bn);
	return bn != NULL;
}

/* Serial @hex (NULL: 127 random bits) into @x. */
static int pki_set_serial(X509 *x, const char *hex)
{
	BIGNUM *bn = hex ? pki_parse_serial(hex) : pki_rand_serial();
	int ret;

	if (!bn)
		return hex ? -EINVAL : -EIO;
	ret = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ? 0 : -EIO;
	BN_free(bn);
	return ret;
}

/*
 * Build and sign a certificate for @pub with subject CN=@cn and serial
 * @serial (hex; NULL: random), issued by @issuer/@issuer_key (NULL =
 * self-signed), with extensions @exts (pairs of nid/value, ended by 0).
 */
static X509 *pki_make_cert(EVP_PKEY *pub, const char *cn, const char *serial,
			   X509 *issuer, EVP_PKEY *issuer_key, long days,
			   const int *nids, const char *const *values)
{
	X509_NAME *name;
	X509 *x;
	int i;

	x = X509_new();
	if (!x)
		return NULL;
	if (!X509_set_version(x, 2) || pki_set_serial(x, serial) ||
	    /* A little slack for clocks that run behind ours. */
	    !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    !X509_set_pubkey(x, pub))
		goto err;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0))
		goto err;
	if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) :
					      name))
		goto err;
	for (i = 0; nids[i]; i++)
		if (pki_add_ext(x, issuer ? issuer : x, nids[i], values[i]))
			goto err;
	if (!X509_sign(x, issuer_key, EVP_sha256()))
		goto err;
	return x;
err:
	X509_free(x);
	return NULL;
}

/* Create @path exclusively with @mode and write PEM objects into it. */
static int pki_write(const char *path, mode_t mode, EVP_PKEY *key,
		     X509 *cert1, X509 *cert2)
{
	FILE *f;
	int fd, ok = 1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	if (key)
		ok &= PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (cert1)
		ok &= PEM_write_X509(f, cert1);
	if (cert2)
		ok &= PEM_write_X509(f, cert2);
	if (fflush(f) || fsync(fileno(f)))
		ok = 0;
	if (fclose(f))
		ok = 0;
	if (!ok) {
		unlink(path);
		return -EIO;
	}
	return 0;
}

static const int pki_ca_nids[] = {
	NID_basic_constraints, NID_key_usage, NID_subject_key_identifier,
	NID_authority_key_identifier, 0,
};
static const char *const pki_ca_vals[] = {
	"critical,CA:TRUE,pathlen:0", "critical,keyCertSign,cRLSign", "hash",
	"keyid:always",
};

static const int pki_server_nids[] = {
	NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
	NID_subject_alt_name, NID_subject_key_identifier,
	NID_authority_key_identifier, 0,
};
static const char *const pki_server_vals[] = {
	"critical,CA:FALSE", "critical,digitalSignature", "serverAuth",
	"DNS:" TLSCONN_SERVER_NAME, "hash", "keyid:always",
};

static const int pki_host_nids[] = {
	NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
	NID_subject_key_identifier, NID_authority_key_identifier, 0,
};
static const char *const pki_host_vals[] = {
	"critical,CA:FALSE", "critical,digitalSignature", "clientAuth",
	"hash", "keyid:always",
};

int pki_create(const char *dir, const char **why)
{
	char ca_pem[4096], ca_key[4096], srv_pem[4096], srv_key[4096];
	EVP_PKEY *cakey, *srvkey;
	X509 *ca, *srv;
	int ret;

	if (authsrv_path(ca_pem, sizeof(ca_pem), dir, AUTHSRV_CA_PEM) ||
	    authsrv_path(ca_key, sizeof(ca_key), dir, AUTHSRV_CA_KEY) ||
	    authsrv_path(srv_pem, sizeof(srv_pem), dir, AUTHSRV_SERVER_PEM) ||
	    authsrv_path(srv_key, sizeof(srv_key), dir, AUTHSRV_SERVER_KEY)) {
		*why = "state directory path too long";
		return -ENAMETOOLONG;
	}
	ret = -EIO;
	*why = "generate CA key";
	cakey = EVP_EC_gen("P-256");
	if (!cakey)
		goto err;
	*why = "create CA certificate";
	ca = pki_make_cert(cakey, "mavpn CA", NULL, NULL, cakey, PKI_CA_DAYS,
			   pki_ca_nids, pki_ca_vals);
	if (!ca)
		goto err_cakey;
	*why = "generate server key";
	srvkey = EVP_EC_gen("P-256");
	if (!srvkey)
		goto err_ca;
	*why = "create server certificate";
	srv = pki_make_cert(srvkey, TLSCONN_SERVER_NAME, NULL, ca, cakey,
			    PKI_SERVER_DAYS, pki_server_nids, pki_server_vals);
	if (!srv)
		goto err_srvkey;

	*why = "write " AUTHSRV_CA_KEY;
	ret = pki_write(ca_key, 0600, cakey, NULL, NULL);
	if (ret)
		goto err_srv;
	*why = "write " AUTHSRV_CA_PEM;
	ret = pki_write(ca_pem, 0644, NULL, ca, NULL);
	if (ret)
		goto err_unlink_cakey;
	*why = "write " AUTHSRV_SERVER_KEY;
	ret = pki_write(srv_key, 0600, srvkey, NULL, NULL);
	if (ret)
		goto err_unlink_capem;
	*why = "write " AUTHSRV_SERVER_PEM;
	/* Leaf, then CA: clients receive the CA in the handshake. */
	ret = pki_write(srv_pem, 0644, NULL, srv, ca);
	if (ret)
		goto err_unlink_srvkey;
	X509_free(srv);
	EVP_PKEY_free(srvkey);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	*why = NULL;
	return 0;

err_unlink_srvkey:
	unlink(srv_key);
err_unlink_capem:
	unlink(ca_pem);
err_unlink_cakey:
	unlink(ca_key);
err_srv:
	X509_free(srv);
err_srvkey:
	EVP_PKEY_free(srvkey);
err_ca:
	X509_free(ca);
err_cakey:
	EVP_PKEY_free(cakey);
err:
	return ret;
}

static int pki_fingerprint(X509 *x, char hex[AUTHSRV_FP_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	/* X509_digest hashes the DER encoding of the whole certificate. */
	if (!X509_digest(x, EVP_sha256(), md, &len) || len != 32)
		return -EIO;
	authsrv_hex(md, len, hex);
	return 0;
}

static X509 *pki_read_cert(const char *path)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		errno = EINVAL;
	return x;
}

int pki_fingerprint_file(const char *ca_pem_path,
			 char hex[AUTHSRV_FP_HEX_LEN + 1])
{
	X509 *x = pki_read_cert(ca_pem_path);
	int ret;

	if (!x)
		return -errno;
	ret = pki_fingerprint(x, hex);
	X509_free(x);
	return ret;
}

/* PEM text of @x, malloc'ed. */
static char *pki_cert_to_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long len;

	if (!b)
		return NULL;
	if (PEM_write_bio_X509(b, x)) {
		len = BIO_get_mem_data(b, &data);
		out = malloc((size_t)len + 1);
		if (out) {
			memcpy(out, data, (size_t)len);
			out[len] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

struct pki *pki_load(const char *dir, bool with_key)
{
	char path[4096];
	struct pki *p;
	FILE *f;
	int err = EIO;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (authsrv_path(path, sizeof(path), dir, AUTHSRV_CA_PEM)) {
		err = ENAMETOOLONG;
		goto err_p;
	}
	p->ca = pki_read_cert(path);
	if (!p->ca) {
		err = errno;
		goto err_p;
	}
	if (!with_key)
		goto pem;
	if (authsrv_path(path, sizeof(path), dir, AUTHSRV_CA_KEY)) {
		err = ENAMETOOLONG;
		goto err_ca;
	}
	f = fopen(path, "re");
	if (!f) {
		err = errno;
		goto err_ca;
	}
	p->ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!p->ca_key || X509_check_private_key(p->ca, p->ca_key) != 1) {
		err = EINVAL;
		goto err_key;
	}
pem:
	p->ca_pem = pki_cert_to_pem(p->ca);
	if (!p->ca_pem) {
		err = ENOMEM;
		goto err_key;
	}
	if (pki_fingerprint(p->ca, p->ca_fp))
		goto err_pem;
	return p;

err_pem:
	free(p->ca_pem);
err_key:
	EVP_PKEY_free(p->ca_key);
err_ca:
	X509_free(p->ca);
err_p:
	free(p);
	errno = err;
	return NULL;
}

void pki_free(struct pki *p)
{
	if (!p)
		return;
	free(p->ca_pem);
	EVP_PKEY_free(p->ca_key);
	X509_free(p->ca);
	free(p);
}

const char *pki_ca_pem(const struct pki *p)
{
	return p->ca_pem;
}

const char *pki_ca_fp(const struct pki *p)
{
	return p->ca_fp;
}

/* Keys we are willing to certify. */
static bool pki_key_ok(EVP_PKEY *pk)
{
	char group[64];
	size_t glen;

	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen))
			return false;
		return !strcmp(group, "prime256v1") ||
		       !strcmp(group, "secp384r1");
	case EVP_PKEY_ED25519:
		return true;
	case EVP_PKEY_RSA:
		return EVP_PKEY_get_bits(pk) >= 2048;
	default:
		return false;
	}
}

/* Parse and check @csr_pem: NULL with @why set if it is not acceptable. */
static X509_REQ *pki_read_csr(const char *csr_pem, const char **why)
{
	X509_REQ *req;
	EVP_PKEY *pk;
	BIO *b;

	*why = "server out of memory";
	b = BIO_new_mem_buf(csr_pem, -1);
	if (!b)
		return NULL;
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!req) {
		*why = "CSR is not a PEM certificate request";
		return NULL;
	}
	pk = X509_REQ_get0_pubkey(req);
	if (!pk)
		*why = "CSR has no usable public key";
	else if (!pki_key_ok(pk))
		*why = "CSR key type not accepted (use EC P-256/P-384, Ed25519 or RSA >= 2048)";
	else if (X509_REQ_verify(req, pk) != 1)
		*why = "CSR self-signature does not verify";
	else
		return req;
	X509_REQ_free(req);
	return NULL;
}

int pki_check_csr(const char *csr_pem, const char **why)
{
	X509_REQ *req = pki_read_csr(csr_pem, why);

	if (!req)
		return -EINVAL;
	X509_REQ_free(req);
	*why = NULL;
	return 0;
}

int pki_sign_csr(struct pki *p, const char *csr_pem, const char *name,
		 const char *serial_hex, char *cert_pem, size_t cap,
		 const char **why)
{
	X509_REQ *req;
	char *pem;
	X509 *x;
	int ret = -EIO;

	if (!p->ca_key) {
		*why = "no CA key in this process";
		return -EPERM;
	}
	if (!pki_serial_ok(serial_hex)) {
		*why = "bad serial number";
		return -EINVAL;
	}
	req = pki_read_csr(csr_pem, why);
	if (!req)
		return -EINVAL;
	*why = "signing failed";
	x = pki_make_cert(X509_REQ_get0_pubkey(req), name, serial_hex, p->ca,
			  p->ca_key, PKI_HOST_DAYS, pki_host_nids,
			  pki_host_vals);
	if (!x)
		goto err_req;
	pem = pki_cert_to_pem(x);
	if (!pem) {
		ret = -ENOMEM;
		goto err_x;
	}
	if (strlen(pem) >= cap) {
		*why = "certificate too large";
		ret = -EMSGSIZE;
		goto err_pem;
	}
	strcpy(cert_pem, pem);
	ret = 0;
	*why = NULL;
err_pem:
	free(pem);
err_x:
	X509_free(x);
err_req:
	X509_REQ_free(req);
	return ret;
}

int pki_cert_cn(X509 *x, char *buf, size_t len)
{
	X509_NAME *name = X509_get_subject_name(x);
	unsigned char *utf8 = NULL;
	X509_NAME_ENTRY *e;
	int idx, n;

	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx < 0)
		return -EINVAL;
	/* Exactly one CN: a second one would make "the" name ambiguous. */
	if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
		return -EINVAL;
	e = X509_NAME_get_entry(name, idx);
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len || memchr(utf8, '\0', (size_t)n)) {
		OPENSSL_free(utf8);
		return -EINVAL;
	}
	memcpy(buf, utf8, (size_t)n);
	buf[n] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

int pki_cert_serial(X509 *x, char serial_hex[AUTHSRV_SERIAL_HEX_MAX])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	int ret;

	if (!bn)
		return -ENOMEM;
	ret = pki_bn_hex(bn, serial_hex);
	BN_free(bn);
	return ret;
}
