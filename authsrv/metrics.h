/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv's Prometheus metrics (`authsrv serve --metrics ADDR:PORT`).
 *
 * The server calls the cheap hooks below on its message paths (always,
 * also without --metrics: they only bump counters); a scrape adds what is
 * read at that moment: sessions by state, enrolled and revoked hosts from
 * the registry, live keys. Metric names are part of the operator contract
 * (docs/operations.md lists them): add, never rename.
 */
#ifndef AUTHSRV_METRICS_H
#define AUTHSRV_METRICS_H

#include <stdint.h>

#include "mavpn/ctlmsg.h"

struct server;
struct session;

/* @m was queued to @s (counted by type; grants, denials by reason,
 * revocations and refusals are derived from it). */
void metrics_sent(const struct session *s, const struct ctlmsg *m);
/* The host with @overlay_ip was revoked: its keys are no longer live. */
void metrics_revoked(uint32_t overlay_ip);
/* @m arrived on a session. */
void metrics_received(const struct ctlmsg *m);
/* A TLS handshake failed (not a peer that simply went away). */
void metrics_tls_failed(void);

/* Serve http://@addr/metrics for @srv: the fd for the server's epoll set,
 * or -errno (-EINVAL: bad @addr). One endpoint per process. */
int metrics_open(struct server *srv, const char *addr);
void metrics_process(void);	/* the fd is readable */
void metrics_tick(void);	/* drop stalled scrapers */
void metrics_close(void);	/* no-op when not open */

#endif /* AUTHSRV_METRICS_H */
