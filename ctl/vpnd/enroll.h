/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MAVPN_CTL_VPND_ENROLL_H
#define MAVPN_CTL_VPND_ENROLL_H

#include <stdint.h>

#define ENROLL_TOKEN_PREFIX	"mavpn1"
#define ENROLL_FP_LEN		32	/* SHA-256 */
/* Whole enrollment (connect, handshake, answer) must fit in this. */
#define ENROLL_TIMEOUT_MS	15000

struct enroll_token {
	char id[64];
	uint8_t ca_fp[ENROLL_FP_LEN];	/* SHA-256 of the CA certificate DER */
};

/* Parse "mavpn1.<id>.<secret>.<ca-sha256-hex>". 0 or -EINVAL. */
int enroll_parse_token(const char *tok, struct enroll_token *t);

/*
 * Enroll into @dir with the server at @server (HOST:PORT). Prints one line
 * on stderr on failure. Returns 0 or -errno.
 */
int enroll_run(const char *dir, const char *server, const char *token);

#endif /* MAVPN_CTL_VPND_ENROLL_H */
