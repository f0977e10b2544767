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

#include <stddef.h>
#include <stdint.h>

#include "mavpn/ctlmsg.h"

struct server;
struct session;

/*
 * Counter families (see mavpn/counters.h), one line per counter.
 * Counters of the server's events, X(ID, name, help): metric
 * mavpn_authsrv_NAME_total.
 */
#define METRICS_COUNTERS(X) \
	X(ENROLLMENTS, "enrollments", "Successful enrollments (ENROLL_RESP sent).") \
	X(ENROLL_REFUSED, "enrollment_refusals", "Enrollment connections answered with ERROR (bad, used or expired token, bad CSR, timeout).") \
	X(AUTH_REFUSED, "auth_refusals", "Control connections whose client certificate or host was refused.") \
	X(TLS_FAILED, "tls_handshake_failures", "TLS handshakes that failed (protocol, ALPN or certificate verification).") \
	X(KEY_REQUESTS, "key_requests", "KEY_REQ received.") \
	X(KEY_PUSHES, "key_pushes", "Keys pushed to a destination host (KEY_PUSH sent).") \
	X(KEY_GRANTS, "key_grants", "Keys granted to a requester after the destination confirmed.") \
	X(KEY_REVOCATIONS, "key_revocations", "KEY_REVOKE messages sent (at a revocation, and repeated at each HELLO).") \
	X(REFUSED_SOURCE, "connections_refused_source", "Connections refused at accept: their source address already holds its share of unauthenticated sessions.") \
	X(REFUSED_FULL, "connections_refused_full", "Connections refused at accept: --max-sessions reached.") \
	X(HANDSHAKE_TIMEOUTS, "handshake_timeouts", "Unauthenticated sessions closed by --handshake-timeout (no TLS handshake or no ENROLL_REQ in time).") \
	X(DISCO_ANSWERED, "disco_answers", "Endpoint discovery requests answered (UDP, authenticated).") \
	X(DISCO_REFUSED, "disco_refusals", "Endpoint discovery datagrams not answered: malformed, unknown probe id, bad tag or replayed.") \
	X(DISCO_LIMITED, "disco_rate_limited", "Endpoint discovery datagrams not answered: over the per-host or the global rate.") \
	X(RELAY_FORWARDED, "relay_forwarded", "Datagrams relayed between two online hosts (ciphertext, UDP).") \
	X(RELAY_REFUSED, "relay_refusals", "Relay datagrams dropped: malformed, unknown probe id, bad tag, replayed, destination not online or not reachable.") \
	X(RELAY_LIMITED, "relay_rate_limited", "Relay datagrams dropped over the per-host or the global rate.")

enum metrics_counter {
#define METRICS_CNT_ENUM(id, name, help) METRICS_CNT_##id,
	METRICS_COUNTERS(METRICS_CNT_ENUM)
#undef METRICS_CNT_ENUM
	METRICS_CNT__COUNT
};

/*
 * Why a key request was refused: the class the deny path carries (the
 * requester and the audit log get a human text with host names, the
 * metric mavpn_authsrv_key_denials_total{reason=NAME} this), X(ID, name,
 * help). Append only: the names are scraped.
 */
#define METRICS_DENY_CLASSES(X) \
	X(BUSY, "too_many_requests", "too many key requests in flight from the requester") \
	X(REQUESTER_REVOKED, "requester_revoked", "the requesting host is revoked") \
	X(UNKNOWN_PEER, "unknown_peer", "no host or gateway route has that overlay address") \
	X(SELF, "own_address", "the requester asked for its own address") \
	X(PEER_REVOKED, "peer_revoked", "the destination host is revoked") \
	X(POLICY, "policy", "the access policy does not allow it") \
	X(PEER_OFFLINE, "peer_offline", "the destination host is not connected") \
	X(NO_ACK, "peer_no_ack", "the destination did not confirm the key in time or went away") \
	X(REGISTRY, "registry_error", "the registry could not be read") \
	X(INTERNAL, "internal_error", "out of memory or key generation failed") \
	X(RATE_LIMITED, "rate_limited", "more key requests than serve --key-rate allows")

enum deny_class {
#define DENY_ENUM(id, name, help) DENY_##id,
	METRICS_DENY_CLASSES(DENY_ENUM)
#undef DENY_ENUM
	DENY__COUNT
};

struct metrics;

/* The counters of @srv (the scrape reads its sessions and registry).
 * NULL on ENOMEM. metrics_free() closes the endpoint too; NULL ok. */
struct metrics *metrics_new(struct server *srv);
void metrics_free(struct metrics *m);

/* The hooks below accept a NULL @m (they do nothing then). */
/* @msg was queued to @s (counted by type; grants, pushes, revocations
 * and refusals are derived from it). */
void metrics_sent(struct metrics *m, const struct session *s,
		  const struct ctlmsg *msg);
/* The host with @overlay_ip was revoked: its keys are no longer live. */
void metrics_revoked(struct metrics *m, uint32_t overlay_ip);
/* @msg arrived on a session. */
void metrics_received(struct metrics *m, const struct ctlmsg *msg);
/* A TLS handshake failed (not a peer that simply went away). */
void metrics_tls_failed(struct metrics *m);
/* A KEY_DENY of class @c was sent. */
void metrics_denied(struct metrics *m, enum deny_class c);
/* One more of event @c (connection refusals, timeouts). */
void metrics_count(struct metrics *m, enum metrics_counter c);
/* The event counters as "name=value ..." for a log line (counters_line). */
int metrics_line(struct metrics *m, char *buf, size_t size);

/* Serve http://@addr/metrics: the fd for the server's epoll set, or
 * -errno (-EINVAL: bad @addr). */
int metrics_open(struct metrics *m, const char *addr);
void metrics_process(struct metrics *m);	/* the fd is readable */
void metrics_tick(struct metrics *m);		/* drop stalled scrapers */
void metrics_close(struct metrics *m);		/* no-op when not open */

#endif /* AUTHSRV_METRICS_H */
