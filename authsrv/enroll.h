/* SPDX-License-Identifier: GPL-2.0-only */
/* Enrollment on the server: a one-time token and a CSR in, a host out. */
#ifndef AUTHSRV_ENROLL_H
#define AUTHSRV_ENROLL_H

struct ctlmsg;
struct server;
struct session;

/* Handle ENROLL_REQ on an ENROLL session. */
void enroll_handle(struct server *srv, struct session *s,
		   const struct ctlmsg *m);

#endif /* AUTHSRV_ENROLL_H */
