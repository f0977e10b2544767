/* SPDX-License-Identifier: GPL-2.0-only */
/* Enrollment on the server: a one-time token and a CSR in, a host out. */
#ifndef AUTHSRV_ENROLL_H
#define AUTHSRV_ENROLL_H

#include <stdint.h>

struct audit;
struct ctlmsg;
struct gwindex;
struct pki;
struct ratelimit;
struct registry;
struct session;
struct signer;

/* What enrollment uses (the server fills it in once). */
struct enroll_ctx {
	struct registry *reg;
	const struct pki *ca;		/* the CA certificate, no key */
	struct signer *signer;		/* signs the host certificate */
	struct gwindex *gw;		/* learns a new gateway's routes */
	struct audit *audit;
	struct ratelimit *rl;		/* a refusal is a failed attempt */
	uint8_t overlay_plen;
};

/* Handle ENROLL_REQ on an ENROLL session. */
void enroll_handle(const struct enroll_ctx *e, struct session *s,
		   const struct ctlmsg *m);

#endif /* AUTHSRV_ENROLL_H */
