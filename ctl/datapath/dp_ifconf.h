/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Interface settings of the data plane that are not rtnetlink (that is
 * lib/nl.c): MAC, MTU, IPv4 address, channels and offloads through ioctls,
 * and per-interface sysctls, in the caller's network namespace. All
 * functions return 0 or -errno unless said otherwise.
 */
#ifndef MAVPN_CTL_DATAPATH_DP_IFCONF_H
#define MAVPN_CTL_DATAPATH_DP_IFCONF_H

#include <stdint.h>

#include "mavpn/nl.h"

#define DP_ETH_ALEN	NL_ETH_ALEN

/* MAC address of @ifname (SIOCGIFHWADDR). */
int dp_ifconf_mac(const char *ifname, uint8_t mac[DP_ETH_ALEN]);
/* MTU of @ifname (SIOCGIFMTU). */
int dp_ifconf_mtu(const char *ifname, unsigned int *mtu);
/* First IPv4 address of @ifname (SIOCGIFADDR), network order; 0 if none. */
uint32_t dp_ifconf_ipv4(const char *ifname);
/* Number of rx queues (or combined channels) of @ifname, as `ethtool -l`
 * says, else /sys/class/net/IF/queues; 1 if unknown. */
int dp_ifconf_rx_queues(const char *ifname);
/* Turn off TSO, GSO, GRO and TX checksum offload (legacy ethtool ioctls). */
int dp_ifconf_disable_offloads(const char *ifname);
/* Write @val to /proc/sys/net/ipv6/conf/@ifname/@key; -ENOENT w/o IPv6. */
int dp_ifconf_ipv6_sysctl(const char *ifname, const char *key,
			  const char *val);

#endif /* MAVPN_CTL_DATAPATH_DP_IFCONF_H */
