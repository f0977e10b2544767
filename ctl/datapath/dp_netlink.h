/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Interface plumbing for the data plane over raw rtnetlink (NETLINK_ROUTE)
 * and ethtool ioctls, in the caller's network namespace: the overlay veth
 * pair, its address, the underlay's addresses, and next-hop MAC resolution
 * through the kernel's neighbour table. All functions return 0 or -errno.
 */
#ifndef MAVPN_CTL_DATAPATH_DP_NETLINK_H
#define MAVPN_CTL_DATAPATH_DP_NETLINK_H

#include <stdint.h>

#define DP_ETH_ALEN	6

/* Neighbour lookup results (dp_nl_neigh_get). */
enum dp_neigh_state {
	DP_NEIGH_NONE = 0,	/* no usable entry: resolution needed */
	DP_NEIGH_VALID,		/* reachable, permanent or noarp */
	DP_NEIGH_STALE,		/* has a MAC the kernel wants to re-confirm */
};

/* One NETLINK_ROUTE socket; not thread safe (one per thread). */
struct dp_nl {
	int fd;
	uint32_t seq;
};

int dp_nl_open(struct dp_nl *nl);
void dp_nl_close(struct dp_nl *nl);

/* Create veth @name <-> @peer; both with @mtu and @queues rx/tx queues,
 * down. */
int dp_nl_veth_create(struct dp_nl *nl, const char *name, const char *peer,
		      unsigned int mtu, unsigned int queues);
/* Delete a link by name (its veth peer goes with it). */
int dp_nl_link_del(struct dp_nl *nl, const char *name);
/* Set IFF_UP, and IFF_NOARP if @noarp. */
int dp_nl_link_up(struct dp_nl *nl, int ifindex, int noarp);
/* Add @ip/@plen (network order) to @ifindex. */
int dp_nl_addr_add(struct dp_nl *nl, int ifindex, uint32_t ip, uint8_t plen);

/*
 * Route lookup for @dst (network order): fills the next hop (@dst itself
 * when on-link), the output interface and the preferred source address.
 */
int dp_nl_route_get(struct dp_nl *nl, uint32_t dst, uint32_t *nexthop,
		    int *oif, uint32_t *src);
/* Neighbour entry of @ip on @ifindex: fills @mac and returns the state. */
int dp_nl_neigh_get(struct dp_nl *nl, int ifindex, uint32_t ip,
		    uint8_t mac[DP_ETH_ALEN], enum dp_neigh_state *state);
/* Ask the kernel to resolve (or re-confirm) @ip on @ifindex (NTF_USE). */
int dp_nl_neigh_use(struct dp_nl *nl, int ifindex, uint32_t ip);

/*
 * Neighbour-table events: a non-blocking socket in the RTMGRP_NEIGH group,
 * so a resolved, changed or deleted entry is seen when it happens instead
 * of at the next periodic lookup. dp_nl_neigh_events() drains it, calling
 * @fn for every IPv4 entry that changed; returns how many, or -ENOBUFS if
 * the kernel dropped events (then every entry may have changed).
 */
typedef void (*dp_neigh_event_fn)(void *arg, int ifindex, uint32_t ip);
int dp_nl_open_events(struct dp_nl *nl);
int dp_nl_neigh_events(struct dp_nl *nl, dp_neigh_event_fn fn, void *arg);

/* MAC address of @ifname (SIOCGIFHWADDR). */
int dp_if_mac(const char *ifname, uint8_t mac[DP_ETH_ALEN]);
/* MTU of @ifname (SIOCGIFMTU). */
int dp_if_mtu(const char *ifname, unsigned int *mtu);
/* Number of rx queues (or combined channels) of @ifname; 1 if unknown. */
int dp_if_rx_queues(const char *ifname);
/* Turn off TSO, GSO, GRO and TX checksum offload (legacy ethtool ioctls). */
int dp_if_disable_offloads(const char *ifname);
/* Write @val to /proc/sys/net/ipv6/conf/@ifname/@key; -ENOENT w/o IPv6. */
int dp_if_ipv6_sysctl(const char *ifname, const char *key, const char *val);

#endif /* MAVPN_CTL_DATAPATH_DP_NETLINK_H */
