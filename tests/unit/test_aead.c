// SPDX-License-Identifier: GPL-2.0-only
/*
 * aead unit tests: every Wycheproof AES-GCM vector that matches our
 * parameters (256-bit key, 96-bit IV, 128-bit tag), then the properties the
 * data path relies on (in-place operation, directional key derivation,
 * tamper detection).
 *
 * The vectors are read with a small purpose-built JSON tokenizer: the file is
 * trusted test data, and pulling in a JSON library for one test is not worth
 * a new build dependency.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mavpn/aead.h"

/*
 * The vectors are in the repository, tests/data/wycheproof/ (Apache-2.0,
 * LICENSE beside them). The binary is build/tests/test_aead: the file is
 * found from /proc/self/exe, whatever the checkout's path and the working
 * directory. MAVPN_WYCHEPROOF names another file.
 */
#define WYCHEPROOF_FROM_BIN "/../../tests/data/wycheproof/aes_gcm_test.json"

static int wycheproof_path(char *buf, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (snprintf(buf, cap, "%s%s", exe, WYCHEPROOF_FROM_BIN) >= (int)cap)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- a tokenizer just big enough for Wycheproof files ---- */

enum tok { T_END, T_ERR, T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK, T_COLON,
	   T_COMMA, T_STR, T_NUM, T_LIT };

struct scan {
	const char *p, *end;
	char str[8192];		/* last string or number token */
};

static enum tok scan_next(struct scan *s)
{
	size_t n = 0;

	while (s->p < s->end && strchr(" \t\r\n", *s->p))
		s->p++;
	if (s->p >= s->end)
		return T_END;
	switch (*s->p++) {
	case '{': return T_LBRACE;
	case '}': return T_RBRACE;
	case '[': return T_LBRACK;
	case ']': return T_RBRACK;
	case ':': return T_COLON;
	case ',': return T_COMMA;
	case '"':
		while (s->p < s->end && *s->p != '"') {
			/* Escapes only occur in comments: keep the escaped
			 * byte, which is good enough to find the string end. */
			if (*s->p == '\\' && s->p + 1 < s->end)
				s->p++;
			if (n + 1 < sizeof(s->str))
				s->str[n++] = *s->p;
			s->p++;
		}
		if (s->p >= s->end)
			return T_ERR;
		s->p++;
		s->str[n] = '\0';
		return T_STR;
	default:
		s->p--;
		while (s->p < s->end && !strchr(" \t\r\n,:]}", *s->p)) {
			if (n + 1 < sizeof(s->str))
				s->str[n++] = *s->p;
			s->p++;
		}
		s->str[n] = '\0';
		return (s->str[0] == '-' || (s->str[0] >= '0' &&
					     s->str[0] <= '9')) ? T_NUM : T_LIT;
	}
}

struct vec {
	int tc_id;
	char *key, *iv, *aad, *msg, *ct, *tag, *result;
};

struct group {
	long key_size, iv_size, tag_size;
	struct vec *v;
	size_t n, cap;
};

struct wp_stats {
	int run, valid, invalid, skipped_groups;
};

static size_t unhex(const char *h, uint8_t **out)
{
	size_t n = strlen(h) / 2, i;
	uint8_t *b = malloc(n ? n : 1);

	assert_non_null(b);
	assert_int_equal(strlen(h) % 2, 0);
	for (i = 0; i < n; i++) {
		unsigned int x;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &x), 1);
		b[i] = (uint8_t)x;
	}
	*out = b;
	return n;
}

static void run_vector(const struct vec *v, struct wp_stats *st)
{
	uint8_t *key, *iv, *aad, *msg, *ct, *tag, *sealed, *opened;
	size_t klen, ivlen, aadlen, msglen, ctlen, taglen;
	struct aead *a;
	int ret;

	assert_non_null(v->key);
	assert_non_null(v->result);
	klen = unhex(v->key, &key);
	ivlen = unhex(v->iv, &iv);
	aadlen = unhex(v->aad, &aad);
	msglen = unhex(v->msg, &msg);
	ctlen = unhex(v->ct, &ct);
	taglen = unhex(v->tag, &tag);
	assert_int_equal(klen, AEAD_KEY_LEN);
	assert_int_equal(ivlen, AEAD_NONCE_LEN);
	assert_int_equal(taglen, AEAD_TAG_LEN);

	a = aead_new(key);
	assert_non_null(a);
	sealed = malloc(ctlen + taglen);
	opened = malloc(ctlen + 1);
	assert_non_null(sealed);
	assert_non_null(opened);
	memcpy(sealed, ct, ctlen);
	memcpy(sealed + ctlen, tag, taglen);

	if (!strcmp(v->result, "valid")) {
		uint8_t *out = malloc(msglen + AEAD_TAG_LEN);

		assert_non_null(out);
		assert_int_equal(msglen, ctlen);
		ret = aead_seal(a, iv, aad, aadlen, msg, msglen, out);
		if (ret != (int)(msglen + AEAD_TAG_LEN) ||
		    memcmp(out, sealed, ctlen + taglen))
			fail_msg("tcId %d: seal mismatch (ret %d)", v->tc_id,
				 ret);
		ret = aead_open(a, iv, aad, aadlen, sealed, ctlen + taglen,
				opened);
		if (ret != (int)msglen || memcmp(opened, msg, msglen))
			fail_msg("tcId %d: open failed (ret %d)", v->tc_id,
				 ret);
		free(out);
		st->valid++;
	} else if (!strcmp(v->result, "invalid")) {
		ret = aead_open(a, iv, aad, aadlen, sealed, ctlen + taglen,
				opened);
		if (ret != -EBADMSG)
			fail_msg("tcId %d: invalid vector opened (ret %d)",
				 v->tc_id, ret);
		st->invalid++;
	} else {
		/* "acceptable": none exist for these parameters; a future
		 * file that adds some must make us decide, not pass. */
		fail_msg("tcId %d: unhandled result \"%s\"", v->tc_id,
			 v->result);
	}
	st->run++;
	aead_free(a);
	free(key); free(iv); free(aad); free(msg); free(ct); free(tag);
	free(sealed); free(opened);
}

static void vec_free(struct vec *v)
{
	free(v->key); free(v->iv); free(v->aad); free(v->msg);
	free(v->ct); free(v->tag); free(v->result);
	memset(v, 0, sizeof(*v));
}

static void group_finish(struct group *g, struct wp_stats *st)
{
	size_t i;

	if (g->key_size == 256 && g->iv_size == 96 && g->tag_size == 128) {
		for (i = 0; i < g->n; i++)
			run_vector(&g->v[i], st);
	} else if (g->n) {
		st->skipped_groups++;
	}
	for (i = 0; i < g->n; i++)
		vec_free(&g->v[i]);
	free(g->v);
	memset(g, 0, sizeof(*g));
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	buf = malloc(n + 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Object keys we look for are short; longer ones just never match. */
static void copy_key(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * Walk the document keeping the container depth: root object = 1,
 * testGroups array = 2, a group object = 3, its tests array = 4, a test
 * object = 5. A group is run when it closes, so its size fields may come
 * before or after its tests.
 */
static void test_wycheproof(void **state)
{
	const char *path = getenv("MAVPN_WYCHEPROOF");
	char def[PATH_MAX];
	struct wp_stats st = { 0 };
	struct group g = { 0 };
	struct vec cur = { 0 };
	char key[64] = "", groups_key[64] = "";
	bool in_groups = false, expect_value = false;
	struct scan s;
	int depth = 0;
	enum tok t;
	size_t len = 0;
	char *doc;

	(void)state;
	if (!path || !*path) {
		int err = wycheproof_path(def, sizeof(def));

		if (err)
			fail_msg("cannot locate the Wycheproof vectors from "
				 "/proc/self/exe: %s", strerror(-err));
		path = def;
	}
	doc = slurp(path, &len);
	if (!doc)
		fail_msg("cannot read Wycheproof vectors %s: %s (set "
			 "MAVPN_WYCHEPROOF)", path, strerror(errno));
	s.p = doc;
	s.end = doc + len;

	while ((t = scan_next(&s)) != T_END) {
		assert_int_not_equal(t, T_ERR);
		switch (t) {
		case T_LBRACE:
		case T_LBRACK:
			depth++;
			if (depth == 2)
				in_groups = expect_value &&
					    !strcmp(groups_key, "testGroups");
			if (in_groups && depth == 3)
				g.key_size = g.iv_size = g.tag_size = -1;
			expect_value = false;
			break;
		case T_RBRACE:
		case T_RBRACK:
			if (in_groups && depth == 5) {
				if (g.n == g.cap) {
					g.cap = g.cap ? 2 * g.cap : 16;
					g.v = realloc(g.v, g.cap * sizeof(*g.v));
					assert_non_null(g.v);
				}
				g.v[g.n++] = cur;
				memset(&cur, 0, sizeof(cur));
			}
			if (in_groups && depth == 3)
				group_finish(&g, &st);
			if (depth == 2)
				in_groups = false;
			depth--;
			expect_value = false;
			break;
		case T_COLON:
			expect_value = true;
			break;
		case T_COMMA:
			expect_value = false;
			break;
		case T_STR:
			if (!expect_value) {
				copy_key(key, sizeof(key), s.str);
				if (depth == 1)
					copy_key(groups_key, sizeof(groups_key),
						 s.str);
				break;
			}
			expect_value = false;
			if (in_groups && depth == 5) {
				char **f = NULL;

				if (!strcmp(key, "key")) f = &cur.key;
				else if (!strcmp(key, "iv")) f = &cur.iv;
				else if (!strcmp(key, "aad")) f = &cur.aad;
				else if (!strcmp(key, "msg")) f = &cur.msg;
				else if (!strcmp(key, "ct")) f = &cur.ct;
				else if (!strcmp(key, "tag")) f = &cur.tag;
				else if (!strcmp(key, "result")) f = &cur.result;
				if (f) {
					free(*f);
					*f = strdup(s.str);
				}
			}
			break;
		case T_NUM:
			if (expect_value && in_groups && depth == 3) {
				if (!strcmp(key, "keySize"))
					g.key_size = atol(s.str);
				else if (!strcmp(key, "ivSize"))
					g.iv_size = atol(s.str);
				else if (!strcmp(key, "tagSize"))
					g.tag_size = atol(s.str);
			}
			if (expect_value && in_groups && depth == 5 &&
			    !strcmp(key, "tcId"))
				cur.tc_id = atoi(s.str);
			expect_value = false;
			break;
		default:
			expect_value = false;
			break;
		}
	}
	assert_int_equal(depth, 0);
	vec_free(&cur);
	free(doc);
	print_message("wycheproof: %d vectors run (%d valid, %d invalid) "
		      "from %s; %d groups with other sizes skipped\n", st.run,
		      st.valid, st.invalid, path, st.skipped_groups);
	/* A missing or unparsed file must fail the test, never pass it. */
	assert_true(st.run > 0);
	assert_true(st.valid > 0);
	assert_true(st.invalid > 0);
}

/* ---- properties ---- */

static const uint8_t key1[AEAD_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const uint8_t nonce1[AEAD_NONCE_LEN] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t aad1[16] = "mavpn-header-16b";

static void test_in_place(void **state)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 64, 1420 };
	uint8_t buf[1500], copy[1500], ref[1500 + AEAD_TAG_LEN];
	struct aead *a = aead_new(key1);
	size_t i, j;

	(void)state;
	assert_non_null(a);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		for (j = 0; j < n; j++)
			buf[j] = (uint8_t)(j * 7 + i);
		memcpy(copy, buf, n);
		/* out-of-place reference, then the same in place */
		assert_int_equal(aead_seal(a, nonce1, aad1, sizeof(aad1), buf,
					   n, ref), n + AEAD_TAG_LEN);
		assert_int_equal(aead_seal(a, nonce1, aad1, sizeof(aad1), buf,
					   n, buf), n + AEAD_TAG_LEN);
		assert_memory_equal(buf, ref, n + AEAD_TAG_LEN);
		assert_int_equal(aead_open(a, nonce1, aad1, sizeof(aad1), buf,
					   n + AEAD_TAG_LEN, buf), n);
		if (n)
			assert_memory_equal(buf, copy, n);
	}
	aead_free(a);
}

static void test_context_reuse(void **state)
{
	/* Many nonces through one context: each result must match a fresh
	 * context, i.e. only the IV changes between calls. */
	uint8_t pt[100], out1[116], out2[116], nonce[AEAD_NONCE_LEN] = { 0 };
	struct aead *a = aead_new(key1), *b;
	int i;

	(void)state;
	assert_non_null(a);
	memset(pt, 0xab, sizeof(pt));
	for (i = 1; i <= 50; i++) {
		nonce[11] = (uint8_t)i;
		assert_int_equal(aead_seal(a, nonce, NULL, 0, pt, sizeof(pt),
					   out1), 116);
		b = aead_new(key1);
		assert_non_null(b);
		assert_int_equal(aead_seal(b, nonce, NULL, 0, pt, sizeof(pt),
					   out2), 116);
		assert_memory_equal(out1, out2, sizeof(out1));
		/* a failed open must not poison the next one */
		out2[0] ^= 1;
		assert_int_equal(aead_open(a, nonce, NULL, 0, out2, 116, out2),
				 -EBADMSG);
		assert_int_equal(aead_open(a, nonce, NULL, 0, out1, 116, out1),
				 100);
		assert_memory_equal(out1, pt, sizeof(pt));
		aead_free(b);
	}
	aead_free(a);
}

enum tamper { TAMPER_TAG, TAMPER_CT, TAMPER_AAD, TAMPER_NONCE, TAMPER_SHORT,
	      TAMPER_TRUNC, TAMPER_KEY };

static void test_tamper(void **state)
{
	static const struct {
		const char *name;
		enum tamper what;
		size_t pos;
	} cases[] = {
		{ "tag first byte", TAMPER_TAG, 0 },
		{ "tag last byte", TAMPER_TAG, 15 },
		{ "ciphertext first byte", TAMPER_CT, 0 },
		{ "ciphertext last byte", TAMPER_CT, 63 },
		{ "aad first byte", TAMPER_AAD, 0 },
		{ "aad last byte", TAMPER_AAD, 15 },
		{ "nonce", TAMPER_NONCE, 11 },
		{ "shorter than a tag", TAMPER_SHORT, 15 },
		{ "one byte truncated", TAMPER_TRUNC, 1 },
		{ "other key", TAMPER_KEY, 0 },
	};
	uint8_t pt[64], ct[64 + AEAD_TAG_LEN], buf[64 + AEAD_TAG_LEN];
	uint8_t aad[16], nonce[AEAD_NONCE_LEN], key2[AEAD_KEY_LEN];
	struct aead *a = aead_new(key1), *use;
	size_t i, ctlen;

	(void)state;
	assert_non_null(a);
	memset(pt, 0x5a, sizeof(pt));
	assert_int_equal(aead_seal(a, nonce1, aad1, sizeof(aad1), pt,
				   sizeof(pt), ct), sizeof(ct));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, ct, sizeof(ct));
		memcpy(aad, aad1, sizeof(aad));
		memcpy(nonce, nonce1, sizeof(nonce));
		ctlen = sizeof(ct);
		use = a;
		switch (cases[i].what) {
		case TAMPER_TAG:
			buf[sizeof(pt) + cases[i].pos] ^= 0x80;
			break;
		case TAMPER_CT:
			buf[cases[i].pos] ^= 0x01;
			break;
		case TAMPER_AAD:
			aad[cases[i].pos] ^= 0x01;
			break;
		case TAMPER_NONCE:
			nonce[cases[i].pos] ^= 0x01;
			break;
		case TAMPER_SHORT:
			ctlen = cases[i].pos;
			break;
		case TAMPER_TRUNC:
			ctlen -= cases[i].pos;
			break;
		case TAMPER_KEY:
			memcpy(key2, key1, sizeof(key2));
			key2[0] ^= 1;
			use = aead_new(key2);
			assert_non_null(use);
			break;
		}
		if (aead_open(use, nonce, aad, sizeof(aad), buf, ctlen, buf) !=
		    -EBADMSG)
			fail_msg("tamper case \"%s\" was not rejected",
				 cases[i].name);
		if (use != a)
			aead_free(use);
	}
	/* the untouched frame still opens */
	assert_int_equal(aead_open(a, nonce1, aad1, sizeof(aad1), ct,
				   sizeof(ct), buf), sizeof(pt));
	assert_memory_equal(buf, pt, sizeof(pt));
	aead_free(a);
}

static void test_derive_keys(void **state)
{
	uint8_t secret[AEAD_KEY_LEN], secret2[AEAD_KEY_LEN];
	uint8_t itx[AEAD_KEY_LEN], irx[AEAD_KEY_LEN];
	uint8_t rtx[AEAD_KEY_LEN], rrx[AEAD_KEY_LEN];
	uint8_t otx[AEAD_KEY_LEN], orx[AEAD_KEY_LEN];
	uint8_t pt[32] = "hello from the initiator", out[48], back[32];
	struct aead *tx, *rx;

	(void)state;
	memcpy(secret, key1, sizeof(secret));
	assert_int_equal(aead_derive_keys(secret, 1, itx, irx), 0);
	assert_int_equal(aead_derive_keys(secret, 0, rtx, rrx), 0);
	assert_memory_equal(itx, rrx, AEAD_KEY_LEN);
	assert_memory_equal(irx, rtx, AEAD_KEY_LEN);
	/* directions differ and neither is the secret itself */
	assert_memory_not_equal(itx, irx, AEAD_KEY_LEN);
	assert_memory_not_equal(itx, secret, AEAD_KEY_LEN);
	assert_memory_not_equal(irx, secret, AEAD_KEY_LEN);
	/* deterministic, and a different secret gives different keys */
	assert_int_equal(aead_derive_keys(secret, 1, otx, orx), 0);
	assert_memory_equal(otx, itx, AEAD_KEY_LEN);
	memcpy(secret2, secret, sizeof(secret2));
	secret2[31] ^= 1;
	assert_int_equal(aead_derive_keys(secret2, 1, otx, orx), 0);
	assert_memory_not_equal(otx, itx, AEAD_KEY_LEN);

	/* what the initiator seals, the responder opens */
	tx = aead_new(itx);
	rx = aead_new(rrx);
	assert_non_null(tx);
	assert_non_null(rx);
	assert_int_equal(aead_seal(tx, nonce1, NULL, 0, pt, sizeof(pt), out),
			 sizeof(out));
	assert_int_equal(aead_open(rx, nonce1, NULL, 0, out, sizeof(out),
				   back), sizeof(pt));
	assert_memory_equal(back, pt, sizeof(pt));
	aead_free(tx);
	aead_free(rx);
}

static void test_wipe_free_null(void **state)
{
	uint8_t k[AEAD_KEY_LEN];
	static const uint8_t zero[AEAD_KEY_LEN];

	(void)state;
	memset(k, 0xff, sizeof(k));
	aead_wipe(k, sizeof(k));
	assert_memory_equal(k, zero, sizeof(k));
	aead_wipe(NULL, 0);
	aead_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wycheproof),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_context_reuse),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_derive_keys),
		cmocka_unit_test(test_wipe_free_null),
	};

	return cmocka_run_group_tests_name("aead", tests, NULL, NULL);
}
