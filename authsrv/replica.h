/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv replicas (replica.c): several `authsrv serve` on one PostgreSQL
 * registry, each a copy of the same state directory. What one replica
 * does reaches the others through the database:
 *   - revocations and policy changes: NOTIFY in the writing transaction
 *     (registry_pg.c), LISTENed here; a revocation made on any replica
 *     closes the victim's channel and sends KEY_REVOKE on every replica
 *     within one event-loop pass of the notification;
 *   - which replica holds which host: the `online` table, rewritten from
 *     the online sessions whenever they change, and `replicas.seen_at`, a
 *     heartbeat every REPLICA_BEAT_MS (rows of a replica not seen for
 *     REPLICA_DEAD_S count as offline: `client list` on any replica).
 * Nothing of this runs on SQLite (one server holds the file).
 */
#ifndef AUTHSRV_REPLICA_H
#define AUTHSRV_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

struct server;
struct replica;

#define REPLICA_BEAT_MS		1000
#define REPLICA_DEAD_S		5

/* NULL (and 0) when the registry is not shared; else LISTEN, the
 * heartbeat row and the registry's fd in @srv's epoll set with the
 * returned pointer as its tag. -errno on failure. */
int replica_start(struct server *srv, const char *listen,
		  struct replica **out);
void replica_stop(struct replica *rp);
/* The registry's fd was readable. */
void replica_event(struct replica *rp);
/* Every server tick: notifications kept aside, reconnect, heartbeat. */
void replica_tick(struct replica *rp, uint64_t now_ms);
/* The online sessions changed: 0, or -errno (try again next pass). */
int replica_sync_online(struct replica *rp);

#endif /* AUTHSRV_REPLICA_H */
