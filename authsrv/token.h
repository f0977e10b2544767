/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Enrollment tokens:  mavpn1.<id>.<secret>.<ca-sha256>
 *   id         16 lowercase hex (8 random bytes), the registry key
 *   secret     43 base64url chars, no padding (32 random bytes); the
 *              registry stores only SHA-256 over these 43 characters
 *   ca-sha256  64 lowercase hex: SHA-256 over the CA certificate's DER,
 *              for the enrolling client to pin the server
 */
#ifndef AUTHSRV_TOKEN_H
#define AUTHSRV_TOKEN_H

#include <stdint.h>

#include "authsrv.h"
#include "mavpn/ctlmsg.h"

/* Characters, without the NUL: 6+1+16+1+43+1+64 = 132. */
#define TOKEN_LEN (sizeof(AUTHSRV_TOKEN_PREFIX) + AUTHSRV_TOKEN_ID_LEN + 1 + \
		   AUTHSRV_TOKEN_SECRET_LEN + 1 + AUTHSRV_FP_HEX_LEN)
_Static_assert(TOKEN_LEN == 132, "token length");
_Static_assert(TOKEN_LEN < CTLMSG_TOKEN_MAX, "token fits CTLA_TOKEN");

struct token_parts {
	char id[AUTHSRV_TOKEN_ID_LEN + 1];
	char secret[AUTHSRV_TOKEN_SECRET_LEN + 1];
	char ca_fp[AUTHSRV_FP_HEX_LEN + 1];
};

/* Fresh id and secret. 0 or -EIO. */
int token_generate(struct token_parts *t);
/* 0 or -EINVAL (malformed). */
int token_parse(const char *s, struct token_parts *t);
/* SHA-256 over the secret's characters. */
int token_hash(const struct token_parts *t, uint8_t hash[32]);

#endif /* AUTHSRV_TOKEN_H */
