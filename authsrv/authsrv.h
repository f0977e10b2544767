/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv: private declarations shared by the admin CLI and the server.
 *
 * State directory layout (all created by `authsrv init`):
 *   ca.pem ca.key          the CA (EC P-256, CN "mavpn CA", 10 years)
 *   server.pem server.key  TLS server certificate: leaf then CA (chain)
 *   registry.db            SQLite registry (WAL), or
 *   registry.url           the PostgreSQL URL of a shared registry (0600)
 *   domain                 the DNS domain of host names (names.h)
 *   audit.log              one JSON object per line (server appends)
 *   status                 online sessions, rewritten by a running server
 */
#ifndef AUTHSRV_AUTHSRV_H
#define AUTHSRV_AUTHSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTHSRV_CA_PEM		"ca.pem"
#define AUTHSRV_CA_KEY		"ca.key"
#define AUTHSRV_SERVER_PEM	"server.pem"
#define AUTHSRV_SERVER_KEY	"server.key"
#define AUTHSRV_REGISTRY	"registry.db"
#define AUTHSRV_REGISTRY_URL	"registry.url"
#define AUTHSRV_AUDIT		"audit.log"
#define AUTHSRV_STATUS		"status"

#define AUTHSRV_DEFAULT_OVERLAY	"100.80.0.0/16"
#define AUTHSRV_TOKEN_PREFIX	"mavpn1"
#define AUTHSRV_TOKEN_ID_LEN	16	/* hex chars (8 random bytes) */
#define AUTHSRV_TOKEN_SECRET_LEN 43	/* base64url of 32 random bytes */
#define AUTHSRV_FP_HEX_LEN	64	/* SHA-256 hex */
#define AUTHSRV_SERIAL_HEX_MAX	41	/* 20-byte serial as hex + NUL */

/* "DIR/FILE" into @buf; -ENAMETOOLONG if it does not fit. */
int authsrv_path(char *buf, size_t len, const char *dir, const char *file);

/* Valid new host NAME: an RFC 1123 label, [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?,
 * and not TLSCONN_SERVER_NAME (the server certificate's name). */
bool authsrv_valid_name(const char *s);
/* What a registry name may look like ([a-z0-9][a-z0-9-]{0,62}): for
 * looking up (revoking) hosts named before the rule above was enforced. */
bool authsrv_name_syntax(const char *s);
/* Valid TAG: [a-z0-9][a-z0-9._-]{0,31} (token create --tag, policy tag:) */
bool authsrv_valid_tag(const char *s);

/* Lowercase hex of @len bytes into @out (2*len+1). */
void authsrv_hex(const uint8_t *in, size_t len, char *out);

#endif /* AUTHSRV_AUTHSRV_H */
