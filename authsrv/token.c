// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "token.h"

static const char token_b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int token_generate(struct token_parts *t)
{
	uint8_t id[AUTHSRV_TOKEN_ID_LEN / 2], sec[32];
	uint32_t acc = 0;
	int bits = 0;
	size_t i, o = 0;

	if (RAND_bytes(id, sizeof(id)) != 1 ||
	    RAND_priv_bytes(sec, sizeof(sec)) != 1)
		return -EIO;
	authsrv_hex(id, sizeof(id), t->id);
	for (i = 0; i < sizeof(sec); i++) {
		acc = (acc << 8) | sec[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			t->secret[o++] = token_b64url[(acc >> bits) & 63];
		}
	}
	if (bits)
		t->secret[o++] = token_b64url[(acc << (6 - bits)) & 63];
	t->secret[o] = '\0';
	OPENSSL_cleanse(sec, sizeof(sec));
	return o == AUTHSRV_TOKEN_SECRET_LEN ? 0 : -EIO;
}

static bool token_span(const char *s, size_t len, const char *set)
{
	return strspn(s, set) >= len;
}

int token_parse(const char *s, struct token_parts *t)
{
	static const char hex[] = "0123456789abcdef";
	const size_t plen = sizeof(AUTHSRV_TOKEN_PREFIX) - 1;
	const char *p = s;

	if (strlen(s) != TOKEN_LEN)
		return -EINVAL;
	if (strncmp(p, AUTHSRV_TOKEN_PREFIX ".", plen + 1))
		return -EINVAL;
	p += plen + 1;
	if (!token_span(p, AUTHSRV_TOKEN_ID_LEN, hex) ||
	    p[AUTHSRV_TOKEN_ID_LEN] != '.')
		return -EINVAL;
	memcpy(t->id, p, AUTHSRV_TOKEN_ID_LEN);
	t->id[AUTHSRV_TOKEN_ID_LEN] = '\0';
	p += AUTHSRV_TOKEN_ID_LEN + 1;
	if (!token_span(p, AUTHSRV_TOKEN_SECRET_LEN, token_b64url) ||
	    p[AUTHSRV_TOKEN_SECRET_LEN] != '.')
		return -EINVAL;
	memcpy(t->secret, p, AUTHSRV_TOKEN_SECRET_LEN);
	t->secret[AUTHSRV_TOKEN_SECRET_LEN] = '\0';
	p += AUTHSRV_TOKEN_SECRET_LEN + 1;
	if (!token_span(p, AUTHSRV_FP_HEX_LEN, hex) || p[AUTHSRV_FP_HEX_LEN])
		return -EINVAL;
	memcpy(t->ca_fp, p, AUTHSRV_FP_HEX_LEN + 1);
	return 0;
}

int token_hash(const struct token_parts *t, uint8_t hash[32])
{
	unsigned int len = 0;

	if (!EVP_Digest(t->secret, strlen(t->secret), hash, &len, EVP_sha256(),
			NULL) || len != 32)
		return -EIO;
	return 0;
}
