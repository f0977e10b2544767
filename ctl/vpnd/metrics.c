// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd metrics in the Prometheus text format (see vpnd_metrics.h).
 * Every family is written with HELP and TYPE even when it has no sample
 * yet, so dashboards and alerts can rely on the names from the first
 * scrape on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>

#include "mavpn/promhttp.h"
#include "metrics.h"

#define P "mavpn_vpnd_"

static void one(FILE *f, const char *name, const char *type, const char *help,
		uint64_t v)
{
	prom_family(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void peer_labels(FILE *f, const struct dp_peer_stats *p)
{
	char ip[INET_ADDRSTRLEN];

	fputs("{name=\"", f);
	prom_label(f, p->name);
	fprintf(f, "\",overlay_ip=\"%s\"",
		inet_ntop(AF_INET, &p->overlay_ip, ip, sizeof(ip)));
}

/* One per-peer family: @off is the counter's offset in dp_peer_stats. */
static void peer_family(FILE *f, const struct metrics_src *s,
			const char *name, const char *type, const char *help,
			size_t off)
{
	int i;

	prom_family(f, name, type, help);
	for (i = 0; i < s->npeers; i++) {
		fputs(name, f);
		peer_labels(f, &s->peers[i]);
		fprintf(f, "} %" PRIu64 "\n",
			*(const uint64_t *)((const char *)&s->peers[i] + off));
	}
}

static void peer_drops(FILE *f, const struct metrics_src *s)
{
	static const struct {
		const char *reason;
		size_t off;
	} r[] = {
		{ "replay", offsetof(struct dp_peer_stats, drop_replay) },
		{ "auth", offsetof(struct dp_peer_stats, drop_auth) },
		{ "pending_overflow", offsetof(struct dp_peer_stats, drop_pending) },
		{ "expired", offsetof(struct dp_peer_stats, drop_expired) },
		{ "malformed", offsetof(struct dp_peer_stats, drop_malformed) },
	};
	size_t k;
	int i;

	prom_family(f, P "peer_drops_total", "counter",
		    "Packets of this peer dropped, by reason (replay: outside the anti-replay window; auth: GCM tag mismatch; pending_overflow: the queue waiting for a key was full; expired: key past its lifetime; malformed: authenticated but bad inner packet).");
	for (i = 0; i < s->npeers; i++) {
		for (k = 0; k < sizeof(r) / sizeof(r[0]); k++) {
			fputs(P "peer_drops_total", f);
			peer_labels(f, &s->peers[i]);
			fprintf(f, ",reason=\"%s\"} %" PRIu64 "\n", r[k].reason,
				*(const uint64_t *)((const char *)&s->peers[i] +
						    r[k].off));
		}
	}
}

/* AF_XDP socket counters from the kernel, one series per socket. */
static void rings(FILE *f, const struct metrics_src *s)
{
	static const char *const side[DP_RING_MAX] = {
		[DP_RING_OVERLAY] = "overlay", [DP_RING_UNDERLAY] = "underlay",
	};
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{ P "xsk_rx_dropped_total",
		  "Frames the kernel dropped for this AF_XDP socket (no room).",
		  offsetof(struct dp_ring_stats, rx_dropped) },
		{ P "xsk_rx_ring_full_total",
		  "Times the AF_XDP rx ring was full (the worker lagged).",
		  offsetof(struct dp_ring_stats, rx_ring_full) },
		{ P "xsk_fill_ring_empty_total",
		  "Times the AF_XDP fill ring was empty (no umem frame to receive into).",
		  offsetof(struct dp_ring_stats, rx_fill_ring_empty_descs) },
		{ P "xsk_tx_ring_empty_total",
		  "Kicks with an empty AF_XDP tx ring.",
		  offsetof(struct dp_ring_stats, tx_ring_empty_descs) },
		{ P "xsk_rx_invalid_descs_total",
		  "Invalid rx descriptors seen by the kernel.",
		  offsetof(struct dp_ring_stats, rx_invalid_descs) },
		{ P "xsk_tx_invalid_descs_total",
		  "Invalid tx descriptors seen by the kernel.",
		  offsetof(struct dp_ring_stats, tx_invalid_descs) },
	};
	size_t k;
	int i;

	for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		prom_family(f, c[k].name, "counter", c[k].help);
		for (i = 0; i < DP_RING_MAX; i++)
			fprintf(f, "%s{side=\"%s\"} %" PRIu64 "\n", c[k].name,
				side[i], *(const uint64_t *)((const char *)
					&s->rings[i] + c[k].off));
	}
}

int metrics_write(FILE *f, const struct metrics_src *s)
{
	char ip[INET_ADDRSTRLEN], uip[INET_ADDRSTRLEN];
	const struct dp_peer_stats *p;
	int i;

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

	one(f, P "key_requests_total", "counter",
	    "KEY_REQ sent to the server.", s->key_requests);
	one(f, P "key_grants_total", "counter",
	    "Keys granted to us (we initiated) and installed.", s->key_granted);
	one(f, P "key_pushes_total", "counter",
	    "Keys pushed to us by the server (a peer initiated) and installed.",
	    s->key_pushed);
	one(f, P "key_denials_total", "counter",
	    "KEY_DENY received from the server.", s->key_denied);
	one(f, P "key_request_timeouts_total", "counter",
	    "Key requests that got no answer in time.", s->key_timeouts);
	one(f, P "key_install_failures_total", "counter",
	    "Keys the data plane refused to install.", s->key_install_failed);
	one(f, P "key_requests_dropped_total", "counter",
	    "Destinations not requested because the request table was full.",
	    s->flows_dropped);

	one(f, P "shim_seen_total", "counter",
	    "connect()/sendmsg() calls the socket shim looked at.",
	    s->shim.seen);
	one(f, P "shim_events_total", "counter",
	    "Ring-buffer events from the socket shim (new protected destinations).",
	    s->shim.events);
	one(f, P "shim_dedup_total", "counter",
	    "Shim events suppressed as repeats within the dedup window.",
	    s->shim.dedup);
	one(f, P "shim_ringbuf_drops_total", "counter",
	    "Shim events lost because the ring buffer was full.",
	    s->shim.drops);
	one(f, P "shim_blocked_total", "counter",
	    "Connections the socket shim refused.", s->shim.blocked);
	one(f, P "datapath_key_requests_total", "counter",
	    "Key requests triggered by packets at the interface layer.",
	    s->dp_requests);
	one(f, P "attached_cgroups", "gauge",
	    "Cgroups the socket shim is attached to.", s->attached_cgroups);

	one(f, P "workers", "gauge", "Data-plane worker threads.",
	    s->dp.workers);
	prom_family(f, P "dp_rx_frames_total", "counter",
		    "Frames the AF_XDP workers received, by side (overlay: plaintext to seal; underlay: ciphertext to open).");
	fprintf(f, P "dp_rx_frames_total{side=\"overlay\"} %" PRIu64 "\n",
		s->dp.rx_frames_overlay);
	fprintf(f, P "dp_rx_frames_total{side=\"underlay\"} %" PRIu64 "\n",
		s->dp.rx_frames_underlay);
	prom_family(f, P "dp_drops_total", "counter",
		    "Frames the data plane dropped, by reason.");
	fprintf(f, P "dp_drops_total{reason=\"malformed\"} %" PRIu64 "\n"
		P "dp_drops_total{reason=\"unknown_key\"} %" PRIu64 "\n"
		P "dp_drops_total{reason=\"no_key\"} %" PRIu64 "\n"
		P "dp_drops_total{reason=\"tx_full\"} %" PRIu64 "\n"
		P "dp_drops_total{reason=\"expired\"} %" PRIu64 "\n",
		s->dp.drop_malformed, s->dp.drop_unknown_key,
		s->dp.drop_no_key, s->dp.drop_tx_full, s->dp.drop_expired);
	if (s->rings_ok)
		rings(f, s);

	one(f, P "peers", "gauge", "Peers with an installed key.",
	    (uint64_t)s->npeers);
	prom_family(f, P "peer_info", "gauge",
		    "Peer endpoint and current key id (always 1).");
	for (i = 0; i < s->npeers; i++) {
		p = &s->peers[i];
		fputs(P "peer_info", f);
		peer_labels(f, p);
		fprintf(f, ",underlay=\"%s:%u\",key_id=\"%u\"} 1\n",
			inet_ntop(AF_INET, &p->underlay_ip, uip, sizeof(uip)),
			p->port, p->key_id);
	}
	peer_family(f, s, P "peer_tx_packets_total", "counter",
		    "Packets sealed and sent to this peer.",
		    offsetof(struct dp_peer_stats, tx_packets));
	peer_family(f, s, P "peer_tx_bytes_total", "counter",
		    "Bytes sent to this peer.",
		    offsetof(struct dp_peer_stats, tx_bytes));
	peer_family(f, s, P "peer_rx_packets_total", "counter",
		    "Packets from this peer opened and delivered.",
		    offsetof(struct dp_peer_stats, rx_packets));
	peer_family(f, s, P "peer_rx_bytes_total", "counter",
		    "Bytes received from this peer.",
		    offsetof(struct dp_peer_stats, rx_bytes));
	peer_drops(f, s);
	prom_family(f, P "peer_pending_packets", "gauge",
		    "Packets held for this peer while waiting for a key.");
	for (i = 0; i < s->npeers; i++) {
		fputs(P "peer_pending_packets", f);
		peer_labels(f, &s->peers[i]);
		fprintf(f, "} %u\n", s->peers[i].pending);
	}
	return ferror(f) ? -EIO : 0;
}
