/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to the data plane: endpoint discovery state (dp_probe.c). The
 * control thread sets it (datapath_disco_set), worker 0 sends the
 * requests, any worker may receive an answer: the mutex covers the AEAD
 * context and the fields (one request per keepalive interval: slow path).
 */
#ifndef MAVPN_CTL_DATAPATH_DP_PROBE_H
#define MAVPN_CTL_DATAPATH_DP_PROBE_H

#include <pthread.h>
#include <stdint.h>

#include "mavpn/datapath.h"

#define DP_DISCO_RETRY_MS	1000	/* no answer yet: ask again */
#define DP_DISCO_RETRY_MAX_MS	8000	/* ... backing off to this */
#define DP_PROBE_RETRY_MS	1000	/* probe rounds while none answered */
#define DP_PROBE_ROUNDS		10	/* fast rounds after a (re)start */
#define DP_PROBE_STEP_MS	100	/* worker 0 looks at the peers */
#define DP_RELAY_AFTER		3	/* probe rounds unanswered: relay */
/* Probe counters under a session key: 2^62 up, far above any data
 * counter (< DP_COUNTER_MAX = 2^60): one key, two disjoint nonce ranges. */
#define DP_PROBE_CTR_BASE	(1ull << 62)

struct aead;

struct dp_disco {
	pthread_mutex_t lock;
	int on;
	struct dp_endpoint server;
	uint32_t id;
	struct aead *a;
	uint64_t ctr;			/* last request's counter */
	uint64_t relay_ctr;		/* last RELAY's counter */
	uint64_t next_ms;		/* next request due */
	uint64_t retry_ms;		/* current retry interval */
	int known;			/* result valid */
	struct dp_endpoint result;
	int nat;			/* atomic: result is not our own */
	uint64_t step_ms;		/* atomic: last peer step (worker 0); 0:
					 * step now (a key was installed) */
};

#endif /* MAVPN_CTL_DATAPATH_DP_PROBE_H */
