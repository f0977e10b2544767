/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Layouts shared by the data-plane XDP programs (bpf/xdp_*.bpf.c) and their
 * loader (ctl/datapath/dp_bpf.c). Included by BPF and userspace alike: fixed-width
 * types only, and the reason enums are never renumbered (append only).
 */
#ifndef MAVPN_XDP_ABI_H
#define MAVPN_XDP_ABI_H

/* Entries of the XSKMAP of either program: one per rx queue we may bind. */
#define MAVPN_XSK_MAX_QUEUES	64

/*
 * Verdict reasons of xdp_underlay, one slot each in its per-CPU array map
 * "ul_stats" (value: __u64 packets). Append only.
 */
enum mavpn_xdp_ul_reason {
	MAVPN_XDP_UL_REDIRECT = 0,	/* UDP to our port, handed to AF_XDP */
	MAVPN_XDP_UL_PASS_NOT_IPV4,	/* ARP, IPv6, VLAN, ...: kernel stack */
	MAVPN_XDP_UL_PASS_NOT_UDP,	/* TCP (TLS control channel), ICMP, ... */
	MAVPN_XDP_UL_PASS_OTHER_PORT,	/* UDP, not to our port */
	MAVPN_XDP_UL_PASS_FRAGMENT,	/* IP fragment: the kernel reassembles */
	MAVPN_XDP_UL_PASS_MALFORMED,	/* truncated/bogus header: kernel judges */
	MAVPN_XDP_UL_PASS_NOT_LOCAL,	/* our port, not our address: transit
					 * (forwarding host) or a secondary
					 * address: the kernel routes/delivers */
	MAVPN_XDP_UL_NR,
};

/* Verdict reasons of xdp_overlay, map "ov_stats". Append only. */
enum mavpn_xdp_ov_reason {
	MAVPN_XDP_OV_REDIRECT = 0,	/* every frame goes to the workers */
	MAVPN_XDP_OV_NR,
};

#endif /* MAVPN_XDP_ABI_H */
