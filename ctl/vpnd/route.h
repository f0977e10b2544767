/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Route primitives on the vpnd side: parsing the server's route lists
 * ("cidr,cidr"), kernel routes for them via the overlay interface, and the
 * forwarding switch of a gateway host.
 */
#ifndef MAVPN_CTL_VPND_ROUTE_H
#define MAVPN_CTL_VPND_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#define ROUTE_MAX	64

struct route {
	uint32_t net;		/* network order, host bits cleared */
	uint8_t plen;
	uint32_t gw;		/* gateway's overlay address, 0: our own route */
};

/*
 * Parse "a.b.c.d/n[,a.b.c.d/n]..." into @out (at most @max), each with
 * gateway @gw. Returns the number parsed or -EINVAL (nothing is trusted
 * from a half-parsed list). An empty string is 0 routes.
 */
int route_parse(const char *list, uint32_t gw, struct route *out, int max);

/* "a.b.c.d/n" into @buf (>= 20 bytes). */
const char *route_str(const struct route *r, char *buf, unsigned int len);

/* Add (replace) / delete "net/plen dev @ifname src @src" in the main table.
 * 0 or -errno; delete of a missing route is 0. */
int route_kernel_add(const char *ifname, const struct route *r, uint32_t src);
int route_kernel_del(const char *ifname, const struct route *r);

/*
 * "blackhole net/plen metric ROUTE_BLACKHOLE_METRIC": under the route via
 * mavpn0 (metric 0), so it only matters when mavpn0 is gone (a crashed
 * vpnd's interface deleted, or a restart failing half-way): the prefix is
 * then unreachable instead of falling back to the default route in clear.
 */
#define ROUTE_BLACKHOLE_METRIC	0xffffffffu
int route_blackhole_add(const struct route *r);
int route_blackhole_del(const struct route *r);

/* Set net.ipv4.ip_forward in our network namespace. 0 or -errno. */
int route_ip_forward(bool on);

#endif /* MAVPN_CTL_VPND_ROUTE_H */
