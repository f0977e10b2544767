/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loading and attaching the data plane's two XDP programs (skeletons of
 * bpf/xdp_overlay.bpf.c and bpf/xdp_underlay.bpf.c) in native mode.
 *
 * Attach goes through libxdp's dispatcher (so other XDP users can share the
 * underlay NIC); when that is unavailable (no bpffs, old kernel) it falls
 * back to a plain bpf_xdp_attach() of our program. MAVPN_XDP_LEGACY=1 in
 * the environment forces the fallback.
 */
#ifndef MAVPN_CTL_DATAPATH_DP_BPF_H
#define MAVPN_CTL_DATAPATH_DP_BPF_H

#include <stdint.h>

#include "mavpn/counters.h"
#include "mavpn/xdp_abi.h"

struct xdp_overlay;
struct xdp_underlay;
struct xdp_program;

struct dp_xdp_link {
	int ifindex;
	int prog_fd;
	struct xdp_program *mprog;	/* libxdp handle, NULL if legacy */
	int dispatcher;			/* libxdp used its dispatcher */
};

struct dp_xdp {
	struct xdp_overlay *ov;
	struct xdp_underlay *ul;
	struct dp_xdp_link ov_link, ul_link;
};

int dp_xdp_attach_overlay(struct dp_xdp *x, int ifindex);
/* @port host order; @local_ip (network order) the underlay address: only
 * UDP to @port at @local_ip is redirected, 0 redirects nothing. */
int dp_xdp_attach_underlay(struct dp_xdp *x, int ifindex, uint16_t port,
			   uint32_t local_ip);
/* XSKMAP fds, valid after attach. */
int dp_xdp_ov_xskmap(const struct dp_xdp *x);
int dp_xdp_ul_xskmap(const struct dp_xdp *x);
/* Sums of the per-CPU verdict counters of xdp_underlay and xdp_overlay,
 * named by the tables below (mavpn/xdp_abi.h). 0 or -errno. */
extern const struct counter_desc dp_xdp_ul_desc[MAVPN_XDP_UL_NR];
extern const struct counter_desc dp_xdp_ov_desc[MAVPN_XDP_OV_NR];
int dp_xdp_ul_counters(const struct dp_xdp *x, uint64_t out[MAVPN_XDP_UL_NR]);
int dp_xdp_ov_counters(const struct dp_xdp *x, uint64_t out[MAVPN_XDP_OV_NR]);
/* "libxdp-dispatcher", "libxdp-single" or "bpf_xdp_attach", for logs. */
const char *dp_xdp_mode(const struct dp_xdp_link *l);
/* Detach what was attached and free everything; zeroed struct ok. */
void dp_xdp_detach(struct dp_xdp *x);

#endif /* MAVPN_CTL_DATAPATH_DP_BPF_H */
