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
#include "mavpn/log.h"
#include "pki.h"
#include "registry.h"
#include "server.h"
#include "token.h"

/* What the client hears for every token problem: no oracle. */
#define ENROLL_BAD_TOKEN "token invalid, used or expired"

static void enroll_refuse(struct session *s, const char *host,
			  const char *client_reason, const char *audit_reason)
{
	audit_write(&(struct audit_rec){ .event = "enroll_refused",
					 .host = host, .addr = s->addr,
					 .reason = audit_reason });
	log_info("enrollment refused addr=%s host=%s reason=\"%s\"", s->addr,
		 host ? host : "-", audit_reason);
	ratelimit_auth_failed(s->srv, s);
	session_error(s, "%s", client_reason);
}

void enroll_handle(struct server *srv, struct session *s,
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
		enroll_refuse(s, NULL, ENROLL_BAD_TOKEN, "malformed token");
		return;
	}
	if (strcmp(tp.ca_fp, pki_ca_fp(srv->pki))) {
		enroll_refuse(s, NULL, ENROLL_BAD_TOKEN,
			      "token names another CA");
		return;
	}
	ret = token_hash(&tp, hash);
	OPENSSL_cleanse(&tp.secret, sizeof(tp.secret));
	if (ret) {
		enroll_refuse(s, NULL, "server error", "hash failed");
		return;
	}
	if (registry_begin(srv->reg)) {
		enroll_refuse(s, NULL, "server busy, retry", "registry busy");
		return;
	}
	ret = registry_token_take(srv->reg, tp.id, hash, authsrv_now(), &t, &why);
	if (ret) {
		registry_rollback(srv->reg);
		enroll_refuse(s, NULL, ret == -EACCES ? ENROLL_BAD_TOKEN :
			      "server error", ret == -EACCES ? why :
			      "registry error");
		return;
	}
	if (registry_host_by_name(srv->reg, t.name, &h) == 0) {
		registry_rollback(srv->reg);
		snprintf(reason, sizeof(reason), "host %s is already enrolled",
			 t.name);
		enroll_refuse(s, t.name, reason, reason);
		return;
	}
	memset(&h, 0, sizeof(h));
	ret = registry_alloc_ip(srv->reg, &h.overlay_ip);
	if (ret) {
		registry_rollback(srv->reg);
		enroll_refuse(s, t.name, ret == -ENOSPC ?
			      "overlay address space is full" : "server error",
			      ret == -ENOSPC ? "overlay address space is full" :
			      "registry error");
		return;
	}
	ctlmsg_init(&r, CTLMSG_ENROLL_RESP);
	ret = pki_sign_csr(srv->pki, m->csr, t.name, r.cert, sizeof(r.cert),
			   serial, &why);
	if (ret) {
		registry_rollback(srv->reg);
		enroll_refuse(s, t.name, why ? why : "server error",
			      why ? why : "signing failed");
		return;
	}
	snprintf(h.name, sizeof(h.name), "%s", t.name);
	snprintf(h.cert_serial, sizeof(h.cert_serial), "%s", serial);
	snprintf(h.tags, sizeof(h.tags), "%s", t.tags);
	snprintf(h.routes, sizeof(h.routes), "%s", t.routes);
	h.enrolled_at = authsrv_now();
	ret = registry_host_add(srv->reg, &h);
	if (!ret)
		ret = registry_commit(srv->reg);
	else
		registry_rollback(srv->reg);
	if (ret) {
		enroll_refuse(s, t.name, ret == -EEXIST ?
			      "host is already enrolled" : "server error",
			      "registry error adding host");
		return;
	}

	snprintf(r.name, sizeof(r.name), "%s", h.name);
	r.overlay_ip = h.overlay_ip;
	r.overlay_plen = srv->overlay_plen;
	snprintf(r.ca, sizeof(r.ca), "%s", pki_ca_pem(srv->pki));
	r.present = CTLA_BIT(CTLA_NAME) | CTLA_BIT(CTLA_OVERLAY_IP) |
		    CTLA_BIT(CTLA_OVERLAY_PLEN) | CTLA_BIT(CTLA_CERT) |
		    CTLA_BIT(CTLA_CA);
	session_send(s, &r);
	session_finish(s);
	inet_ntop(AF_INET, &h.overlay_ip, ip, sizeof(ip));
	audit_write(&(struct audit_rec){ .event = "enroll", .host = h.name,
					 .addr = s->addr });
	log_info("enrolled host=%s overlay_ip=%s addr=%s serial=%s", h.name, ip,
		 s->addr, serial);
}
