// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd metrics in the Prometheus text format (see metrics.h).
 * Every family is written with HELP and TYPE even when it has no sample
 * yet, so dashboards and alerts can rely on the names from the first
 * scrape on. Counter families come from their tables: keys_desc,
 * shim_desc and the datapath_*_desc tables.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>

#include "mavpn/counters.h"
#include "mavpn/promhttp.h"
#include "metrics.h"

#define P "mavpn_vpnd_"

static void one(FILE *f, const char *name, const char *type, const char *help,
		uint64_t v)
{
	prom_family(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* One sample row per peer: {name, overlay_ip}; @ips holds the text. */
static void peer_rows(const struct metrics_src *s, struct counter_row *cnt,
		      struct counter_row *drop, char (*ips)[INET_ADDRSTRLEN])
{
	int i;

	for (i = 0; i < s->npeers; i++) {
		const struct dp_peer_stats *p = &s->peers[i];
		struct counter_labels l = {
			.n = 2,
			.key = { "name", "overlay_ip" },
			.val = { p->name, inet_ntop(AF_INET, &p->overlay_ip,
						    ips[i], INET_ADDRSTRLEN) },
		};

		cnt[i] = (struct counter_row){ .labels = l, .vals = p->cnt };
		drop[i] = (struct counter_row){ .labels = l, .vals = p->drop };
	}
}

static int peers(FILE *f, const struct metrics_src *s)
{
	char ip[INET_ADDRSTRLEN], uip[INET_ADDRSTRLEN], (*ips)[INET_ADDRSTRLEN];
	struct counter_row *cnt, *drop;
	const struct dp_peer_stats *p;
	int i;

	one(f, P "peers", "gauge", "Peers with an installed key.",
	    (uint64_t)s->npeers);
	ips = calloc(s->npeers + 1, sizeof(*ips));
	cnt = calloc(s->npeers + 1, sizeof(*cnt));
	drop = calloc(s->npeers + 1, sizeof(*drop));
	if (!ips || !cnt || !drop) {
		free(ips);
		free(cnt);
		free(drop);
		return -ENOMEM;
	}
	peer_rows(s, cnt, drop, ips);
	prom_family(f, P "peer_info", "gauge",
		    "Peer endpoint and current key id (always 1).");
	for (i = 0; i < s->npeers; i++) {
		p = &s->peers[i];
		fputs(P "peer_info{name=\"", f);
		prom_label(f, p->name);
		fprintf(f, "\",overlay_ip=\"%s\",underlay=\"%s:%u\",key_id=\"%u\"} 1\n",
			inet_ntop(AF_INET, &p->overlay_ip, ip, sizeof(ip)),
			inet_ntop(AF_INET, &p->underlay_ip, uip, sizeof(uip)),
			p->port, p->key_id);
	}
	counters_prom(f, P "peer_", datapath_peer_desc, DP_PEER__COUNT, cnt,
		      s->npeers);
	counters_prom_by(f, P "peer_drops_total", COUNTER_COUNTER,
			 "Packets of this peer dropped, by reason",
			 "reason", datapath_drop_desc, DP_DROP__COUNT, drop,
			 s->npeers);
	free(ips);
	free(cnt);
	free(drop);
	return 0;
}

int metrics_write(FILE *f, const struct metrics_src *s)
{
	static const char *const side[DP_RING_MAX] = {
		[DP_RING_OVERLAY] = "overlay", [DP_RING_UNDERLAY] = "underlay",
	};
	const struct counter_row host = { .vals = s->keys };
	struct counter_row rings[DP_RING_MAX];
	char ip[INET_ADDRSTRLEN];
	int i, ret;

	prom_family(f, P "info", "gauge",
		    "This host: enrolled name and overlay address (always 1).");
	fputs(P "info{name=\"", f);
	prom_label(f, s->name);
	fprintf(f, "\",overlay_ip=\"%s\"} 1\n",
		inet_ntop(AF_INET, &s->overlay_ip, ip, sizeof(ip)));

	one(f, P "server_up", "gauge",
	    "1 while the authenticated control channel to authsrv is up.",
	    s->server_up);
	one(f, P "server_up_seconds", "gauge",
	    "Seconds since the control channel came up (0 when down).",
	    s->server_up_seconds);
	one(f, P "server_connect_attempts_total", "counter",
	    "Connection attempts to authsrv since start.", s->server_connects);

	counters_prom(f, P, keys_desc, KEYS__COUNT, &host, 1);
	counters_prom(f, P "dns_", dns_desc, DNS__COUNT,
		      &(struct counter_row){ .vals = s->dns }, 1);
	counters_prom(f, P, shim_desc, SHIM_CNT_MAX,
		      &(struct counter_row){ .vals = s->shim.cnt }, 1);
	one(f, P "attached_cgroups", "gauge",
	    "Cgroups the socket shim is attached to.", s->attached_cgroups);

	one(f, P "workers", "gauge", "Data-plane worker threads.",
	    s->dp.workers);
	counters_prom_by(f, P "dp_rx_frames_total", COUNTER_COUNTER,
			 "Frames the AF_XDP workers received, by side", "side",
			 datapath_frame_desc, DP_FRAME__COUNT,
			 &(struct counter_row){ .vals = s->dp.frames }, 1);
	counters_prom_by(f, P "dp_drops_total", COUNTER_COUNTER,
			 "Packets the data plane dropped (all peers and none), by reason",
			 "reason", datapath_drop_desc, DP_DROP__COUNT,
			 &(struct counter_row){ .vals = s->dp.drop }, 1);
	counters_prom(f, P "dp_", datapath_event_desc, DP_EVENT__COUNT,
		      &(struct counter_row){ .vals = s->dp.events }, 1);
	counters_prom(f, P "dp_", datapath_level_desc, DP_LEVEL__COUNT,
		      &(struct counter_row){ .vals = s->dp.levels }, 1);
	if (s->rings_ok) {
		for (i = 0; i < DP_RING_MAX; i++)
			rings[i] = (struct counter_row){
				.labels = { .n = 1, .key = { "side" },
					    .val = { side[i] } },
				.vals = s->rings[i].cnt,
			};
		counters_prom(f, P "xsk_", datapath_xsk_desc, DP_XSK__COUNT,
			      rings, DP_RING_MAX);
	}
	ret = peers(f, s);
	if (ret)
		return ret;
	return ferror(f) ? -EIO : 0;
}
