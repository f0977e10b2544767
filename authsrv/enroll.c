// SPDX-License-Identifier: GPL-2.0-only
/*
 * Enrollment: one ENROLL_REQ {token, csr} on an ALPN mavpn-enroll/1
 * connection. Taking the token, allocating the address and adding the host
 * happen in one registry transaction, so a token is consumed exactly when a
 * host is created. A CSR we cannot sign rolls everything back: the token
 * stays usable for a corrected retry.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "authsrv.h"
#include "enroll.h"
#include "gwindex.h"
#include "names.h"
#include "mavpn/log.h"
#include "mavpn/util.h"
#include "pki.h"
#include "ratelimit.h"
#include "registry.h"
#include "session.h"
#include "signer.h"
#include "token.h"

/* What the client hears for every token problem: no oracle. */
#define ENROLL_BAD_TOKEN "token invalid, used or expired"

static void enroll_refuse(const struct enroll_ctx *e, struct session *s,
			  const char *host, const char *client_reason,
			  const char *audit_reason)
{
	audit_write(e->audit, &(struct audit_rec){ .event = "enroll_refused",
						   .host = host,
						   .addr = s->addr,
						   .reason = audit_reason });
	log_info("enrollment refused addr=%s host=%s reason=\"%s\"", s->addr,
		 host ? host : "-", audit_reason);
	ratelimit_auth_failed(e->rl, s->peer_ip);
	session_error(s, "%s", client_reason);
}

/*
 * The certificate for @name into @r->cert, its serial into @serial: the
 * CSR is checked here first (a bad one never reaches the signer), then the
 * signer process signs it. 0, or -errno after refusing @s.
 */
static int enroll_sign(const struct enroll_ctx *e, struct session *s,
		       const char *name, const char *csr, struct ctlmsg *r,
		       char serial[AUTHSRV_SERIAL_HEX_MAX])
{
	char why[CTLMSG_REASON_MAX];
	const char *bad;
	int ret;

	/* Tokens from before the name rule: such a CN could not log in. */
	if (!authsrv_valid_name(name)) {
		enroll_refuse(e, s, name, "server error", "invalid host name");
		return -EINVAL;
	}
	ret = pki_check_csr(csr, &bad);
	if (ret) {
		enroll_refuse(e, s, name, bad, bad);
		return ret;
	}
	if (pki_new_serial(serial)) {
		enroll_refuse(e, s, name, "server error", "no random serial");
		return -EIO;
	}
	ret = signer_sign(e->signer, csr, name, serial, r->cert,
			  sizeof(r->cert), why, sizeof(why));
	if (ret == -EPIPE)
		enroll_refuse(e, s, name, "server error: certificate signer unavailable",
			      "CA signer unavailable");
	else if (ret)
		enroll_refuse(e, s, name, why, why);
	return ret;
}

void enroll_handle(const struct enroll_ctx *e, struct session *s,
		   const struct ctlmsg *m)
{
	char serial[AUTHSRV_SERIAL_HEX_MAX], ip[INET_ADDRSTRLEN];
	char reason[CTLMSG_REASON_MAX];
	struct token_parts tp;
	struct reg_token t;
	struct reg_host h;
	struct ctlmsg r;
	uint8_t hash[32];
	const char *why = NULL;
	int ret;

	if (token_parse(m->token, &tp)) {
		enroll_refuse(e, s, NULL, ENROLL_BAD_TOKEN, "malformed token");
		return;
	}
	if (strcmp(tp.ca_fp, pki_ca_fp(e->ca))) {
		enroll_refuse(e, s, NULL, ENROLL_BAD_TOKEN,
			      "token names another CA");
		return;
	}
	ret = token_hash(&tp, hash);
	OPENSSL_cleanse(&tp.secret, sizeof(tp.secret));
	if (ret) {
		enroll_refuse(e, s, NULL, "server error", "hash failed");
		return;
	}
	if (registry_begin(e->reg)) {
		enroll_refuse(e, s, NULL, "server busy, retry", "registry busy");
		return;
	}
	ret = registry_token_take(e->reg, tp.id, hash, real_s(), &t, &why);
	if (ret) {
		registry_rollback(e->reg);
		enroll_refuse(e, s, NULL, ret == -EACCES ? ENROLL_BAD_TOKEN :
			      "server error", ret == -EACCES ? why :
			      "registry error");
		return;
	}
	if (registry_host_by_name(e->reg, t.name, &h) == 0) {
		registry_rollback(e->reg);
		snprintf(reason, sizeof(reason), "host %s is already enrolled",
			 t.name);
		enroll_refuse(e, s, t.name, reason, reason);
		return;
	}
	memset(&h, 0, sizeof(h));
	ret = registry_alloc_ip(e->reg, &h.overlay_ip);
	if (ret) {
		registry_rollback(e->reg);
		enroll_refuse(e, s, t.name, ret == -ENOSPC ?
			      "overlay address space is full" : "server error",
			      ret == -ENOSPC ? "overlay address space is full" :
			      "registry error");
		return;
	}
	ctlmsg_init(&r, CTLMSG_ENROLL_RESP);
	if (enroll_sign(e, s, t.name, m->csr, &r, serial)) {
		registry_rollback(e->reg);
		return;
	}
	snprintf(h.name, sizeof(h.name), "%s", t.name);
	snprintf(h.cert_serial, sizeof(h.cert_serial), "%s", serial);
	snprintf(h.tags, sizeof(h.tags), "%s", t.tags);
	snprintf(h.routes, sizeof(h.routes), "%s", t.routes);
	h.enrolled_at = real_s();
	ret = registry_host_add(e->reg, &h);
	if (!ret)
		ret = registry_commit(e->reg);
	else
		registry_rollback(e->reg);
	if (ret) {
		enroll_refuse(e, s, t.name, ret == -EEXIST ?
			      "host is already enrolled" : "server error",
			      "registry error adding host");
		return;
	}

	snprintf(r.name, sizeof(r.name), "%s", h.name);
	r.overlay_ip = h.overlay_ip;
	r.overlay_plen = e->overlay_plen;
	snprintf(r.ca, sizeof(r.ca), "%s", pki_ca_pem(e->ca));
	r.present = CTLA_BIT(CTLA_NAME) | CTLA_BIT(CTLA_OVERLAY_IP) |
		    CTLA_BIT(CTLA_OVERLAY_PLEN) | CTLA_BIT(CTLA_CERT) |
		    CTLA_BIT(CTLA_CA);
	session_send(s, &r);
	session_finish(s);
	inet_ntop(AF_INET, &h.overlay_ip, ip, sizeof(ip));
	audit_write(e->audit, &(struct audit_rec){ .event = "enroll",
						   .host = h.name,
						   .addr = s->addr });
	names_enrolled(s->srv, h.name, h.overlay_ip);
	if (gwindex_add(e->gw, h.name, h.overlay_ip, h.routes))
		log_warn("gateway index: out of memory adding host=%s", h.name);
	log_info("enrolled host=%s overlay_ip=%s addr=%s serial=%s", h.name, ip,
		 s->addr, serial);
}
