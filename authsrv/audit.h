/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv audit log: DIR/audit.log, one JSON object per line, appended
 * with one write(2) each. Fields (absent when not applicable):
 *   ts (RFC 3339 UTC), event, host, peer, addr, app, user, key_id,
 *   reason.
 * "host" is the host the event is about (the requester for keys), "peer"
 * the other host of a key event, "addr" the network peer address.
 * Never key material.
 *
 * An object, not a process singleton: the server opens one and hands it to
 * the modules that log; the offline CLI opens one per line it writes.
 */
#ifndef AUTHSRV_AUDIT_H
#define AUTHSRV_AUDIT_H

#include <stdint.h>

struct audit;

struct audit_rec {
	const char *event;	/* enroll, enroll_refused, auth, auth_refused,
				 * key_grant, key_deny, flow_allow,
				 * flow_deny, ... */
	const char *host;
	const char *peer;
	const char *addr;
	const char *app;
	const char *user;	/* "NAME(UID)" or "UID" of the flow */
	uint32_t key_id;	/* 0 = absent */
	const char *reason;
};

/* Open (create 0600, append) DIR/audit.log into @out: 0 or -errno. */
int audit_open(const char *dir, struct audit **out);
void audit_close(struct audit *a);	/* NULL: no-op */
/* Append one line; failures are logged (rate-limited), never fatal. */
void audit_write(struct audit *a, const struct audit_rec *r);

#endif /* AUTHSRV_AUDIT_H */
