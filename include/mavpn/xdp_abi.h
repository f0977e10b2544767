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
 * "ul_stats" (value: __u64 packets), X(ID, name, help). Append only.
 */
#define MAVPN_XDP_UL_REASONS(X) \
	X(REDIRECT, "redirect", "UDP to our port, handed to AF_XDP") \
	X(PASS_NOT_IPV4, "pass_not_ipv4", "ARP, IPv6, VLAN, ...: kernel stack") \
	X(PASS_NOT_UDP, "pass_not_udp", "TCP (TLS control channel), ICMP, ...") \
	X(PASS_OTHER_PORT, "pass_other_port", "UDP, not to our port") \
	X(PASS_FRAGMENT, "pass_fragment", "IP fragment: the kernel reassembles") \
	X(PASS_MALFORMED, "pass_malformed", "truncated/bogus header: the kernel judges") \
	X(PASS_NOT_LOCAL, "pass_not_local", "our port, not our address: transit or a secondary address, the kernel routes/delivers")

enum mavpn_xdp_ul_reason {
#define MAVPN_XDP_UL_ENUM(id, name, help) MAVPN_XDP_UL_##id,
	MAVPN_XDP_UL_REASONS(MAVPN_XDP_UL_ENUM)
#undef MAVPN_XDP_UL_ENUM
	MAVPN_XDP_UL_NR,
};

/* Verdict reasons of xdp_overlay, map "ov_stats". Append only. */
#define MAVPN_XDP_OV_REASONS(X) \
	X(REDIRECT, "redirect", "every frame goes to the workers")

enum mavpn_xdp_ov_reason {
#define MAVPN_XDP_OV_ENUM(id, name, help) MAVPN_XDP_OV_##id,
	MAVPN_XDP_OV_REASONS(MAVPN_XDP_OV_ENUM)
#undef MAVPN_XDP_OV_ENUM
	MAVPN_XDP_OV_NR,
};

#endif /* MAVPN_XDP_ABI_H */
