/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vpnd's Prometheus metrics (`vpnd run --metrics ADDR:PORT`).
 *
 * vpnd keeps its counters where they are counted; at scrape time it fills
 * one struct metrics_src and metrics_write() turns it into the
 * text exposition format, each counter family through its table
 * (mavpn/counters.h). The HTTP side is lib/promhttp.c. Metric names
 * are part of the operator contract (docs/operations.md lists them):
 * add, never rename.
 */
#ifndef MAVPN_CTL_VPND_METRICS_H
#define MAVPN_CTL_VPND_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mavpn/datapath.h"
#include "dns.h"
#include "keys.h"
#include "shim.h"

struct metrics_src {
	const char *name;		/* this host */
	uint32_t overlay_ip;		/* network order */
	bool server_up;
	uint64_t server_up_seconds;
	unsigned int server_connects;	/* connection attempts */
	const uint64_t *keys;		/* [KEYS__COUNT], keys.h */
	const uint64_t *dns;		/* [DNS__COUNT], dns.h */
	int attached_cgroups;
	struct shim_counters shim;
	struct dp_stats dp;
	bool rings_ok;			/* rings[] filled */
	struct dp_ring_stats rings[DP_RING_MAX];
	const struct dp_peer_stats *peers;
	int npeers;
};

int metrics_write(FILE *f, const struct metrics_src *s);

#endif /* MAVPN_CTL_VPND_METRICS_H */
