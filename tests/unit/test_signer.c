// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CA signer: its request/answer wire (what the signer accepts from the
 * less-trusted server process) and the real process: forked with a CA made
 * by pki_create() in a temporary directory, it signs a CSR made here,
 * refuses a bad one, survives one kill -9 (the restart) and not a second.
 * Built with authsrv/signer.c, pki.c and authsrv.c (see the Makefile rule).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../../authsrv/pki.h"
#include "../../authsrv/signer.h"
#include "mavpn/log.h"

static const struct signer_req good = {
	.name = "web-1",
	.serial = "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
	.csr = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n",
};

static size_t encode(const struct signer_req *r, uint8_t *buf)
{
	size_t len = 0;

	assert_int_equal(signer_req_encode(r, buf, SIGNER_REQ_MAX, &len), 0);
	return len;
}

static void test_round_trip(void **state)
{
	uint8_t buf[SIGNER_REQ_MAX];
	struct signer_req out;
	size_t len = encode(&good, buf);

	(void)state;
	assert_int_equal(len, sizeof(struct signer_req_hdr) + strlen(good.name) +
			 strlen(good.serial) + strlen(good.csr));
	assert_int_equal(signer_req_parse(buf, len, &out), 0);
	assert_string_equal(out.name, good.name);
	assert_string_equal(out.serial, good.serial);
	assert_string_equal(out.csr, good.csr);
}

/* Every way the parser must refuse a request built from @r. */
static void refused(const struct signer_req *r, const char *what)
{
	uint8_t buf[SIGNER_REQ_MAX];
	struct signer_req out;
	size_t len = 0;

	if (signer_req_encode(r, buf, sizeof(buf), &len))
		return;		/* not even encodable: fine */
	if (!signer_req_parse(buf, len, &out))
		fail_msg("accepted: %s", what);
}

static void test_bad_fields(void **state)
{
	static const char *const names[] = {
		"Web-1", "-web", "web-", "mavpn-authsrv", "a b", "web_1", "",
	};
	static const char *const serials[] = {
		"0", "00", "a", "00ff", "ABCD", "-1", "0x12", "12 34",
		/* 160 bits: negative as DER needs a 21st octet */
		"ffffffffffffffffffffffffffffffffffffffff",
		"0023456789abcdef0123456789abcdef01234567",	/* zero octet */
	};
	struct signer_req r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		r = good;
		snprintf(r.name, sizeof(r.name), "%s", names[i]);
		refused(&r, names[i]);
	}
	for (i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
		r = good;
		snprintf(r.serial, sizeof(r.serial), "%s", serials[i]);
		refused(&r, serials[i]);
	}
	r = good;
	r.csr[0] = '\0';
	refused(&r, "empty CSR");
	/* The largest serial that is still positive in 20 octets. */
	r = good;
	snprintf(r.serial, sizeof(r.serial), "%s",
		 "7fffffffffffffffffffffffffffffffffffffff");
	{
		uint8_t buf[SIGNER_REQ_MAX];
		struct signer_req out;
		size_t len = encode(&r, buf);

		assert_int_equal(signer_req_parse(buf, len, &out), 0);
	}
}

static void test_bad_framing(void **state)
{
	uint8_t buf[SIGNER_REQ_MAX + 8];
	struct signer_req out;
	struct signer_req_hdr h;
	size_t len = encode(&good, buf), i;

	(void)state;
	for (i = 0; i < len; i++)	/* every truncation */
		assert_int_not_equal(signer_req_parse(buf, i, &out), 0);
	assert_int_not_equal(signer_req_parse(buf, len + 1, &out), 0);
	memcpy(&h, buf, sizeof(h));
	h.magic ^= 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_not_equal(signer_req_parse(buf, len, &out), 0);
	h.magic ^= 1;
	h.name_len = CTLMSG_NAME_MAX;		/* over the bound */
	memcpy(buf, &h, sizeof(h));
	assert_int_not_equal(signer_req_parse(buf, len, &out), 0);
	len = encode(&good, buf);
	buf[sizeof(h) + 2] = '\0';		/* a NUL inside the name */
	assert_int_not_equal(signer_req_parse(buf, len, &out), 0);
}

static void test_answer(void **state)
{
	uint8_t buf[64];
	struct signer_resp_hdr h = { .magic = SIGNER_MAGIC_RESP, .status = -22,
				     .len = 3 };
	char text[16];
	int status = 0;

	(void)state;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "bad", 3);
	assert_int_equal(signer_resp_parse(buf, sizeof(h) + 3, &status, text,
					   sizeof(text)), 0);
	assert_int_equal(status, -22);
	assert_string_equal(text, "bad");
	assert_int_not_equal(signer_resp_parse(buf, sizeof(h) + 2, &status,
					       text, sizeof(text)), 0);
	assert_int_not_equal(signer_resp_parse(buf, sizeof(h) + 3, &status,
					       text, 3), 0);	/* no room */
	h.status = 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_not_equal(signer_resp_parse(buf, sizeof(h) + 3, &status,
					       text, sizeof(text)), 0);
}

/* A fresh P-256 key's CSR as PEM into @out. */
static void make_csr(char *out, size_t cap)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	assert_non_null(k);
	assert_non_null(req);
	assert_int_equal(X509_REQ_set_pubkey(req, k), 1);
	assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(b, req), 1);
	n = BIO_get_mem_data(b, &data);
	assert_true(n > 0 && (size_t)n < cap);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

static void check_cert(const char *pem, const char *name, const char *serial)
{
	char cn[CTLMSG_NAME_MAX], got[AUTHSRV_SERIAL_HEX_MAX];
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	assert_non_null(x);
	assert_int_equal(pki_cert_cn(x, cn, sizeof(cn)), 0);
	assert_string_equal(cn, name);
	assert_int_equal(pki_cert_serial(x, got), 0);
	assert_string_equal(got, serial);
	X509_free(x);
	BIO_free(b);
}

static void test_process(void **state)
{
	char dir[] = "/tmp/mavpn-test-signer.XXXXXX", csr[CTLMSG_PEM_MAX];
	char cert[CTLMSG_PEM_MAX], why[CTLMSG_REASON_MAX], err[256];
	char serial[AUTHSRV_SERIAL_HEX_MAX], cmd[128];
	const char *what;
	struct signer *sg;
	pid_t pid;

	(void)state;
	log_init("test_signer", LOG_LVL_ERR);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pki_create(dir, &what), 0);
	assert_int_equal(signer_start(dir, &sg, err, sizeof(err)), 0);
	pid = signer_pid(sg);
	assert_true(pid > 0);
	make_csr(csr, sizeof(csr));

	assert_int_equal(pki_new_serial(serial), 0);
	assert_true(pki_serial_ok(serial));
	assert_int_equal(signer_sign(sg, csr, "web-1", serial, cert,
				     sizeof(cert), why, sizeof(why)), 0);
	check_cert(cert, "web-1", serial);

	/* Refusals come back with the signer's reason. */
	assert_int_equal(signer_sign(sg, "not a csr", "web-2", serial, cert,
				     sizeof(cert), why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "CSR is not a PEM certificate request");
	assert_int_equal(signer_sign(sg, csr, "Web_2", serial, cert,
				     sizeof(cert), why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "malformed signing request");
	assert_int_equal(signer_pid(sg), pid);	/* still the same one */

	/* Killed: the next request gets a restarted signer. */
	kill(pid, SIGKILL);
	assert_int_equal(pki_new_serial(serial), 0);
	assert_int_equal(signer_sign(sg, csr, "web-3", serial, cert,
				     sizeof(cert), why, sizeof(why)), 0);
	check_cert(cert, "web-3", serial);
	assert_true(signer_pid(sg) > 0 && signer_pid(sg) != pid);

	/* Killed again: no second restart, a clear error. */
	kill(signer_pid(sg), SIGKILL);
	assert_int_equal(signer_sign(sg, csr, "web-4", serial, cert,
				     sizeof(cert), why, sizeof(why)), -EPIPE);
	assert_string_equal(why, "certificate signer unavailable");
	assert_int_equal(signer_pid(sg), 0);
	signer_stop(sg);

	/* No CA key: the signer says so and start fails. */
	snprintf(cmd, sizeof(cmd), "%s/ca.key", dir);
	assert_int_equal(unlink(cmd), 0);
	assert_int_not_equal(signer_start(dir, &sg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "cannot load CA from"));
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);	/* all reaped */

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_bad_framing),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_process),
	};

	return cmocka_run_group_tests_name("signer", tests, NULL, NULL);
}
