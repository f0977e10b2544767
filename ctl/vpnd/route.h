/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The routes of this host outside vpnd: route_apply() makes the kernel
 * (routes via the overlay interface, their blackholes, the forwarding
 * switch), the socket shim (protected prefixes) and the data plane (its
 * route table) follow the changes of the gateway table (gw.h).
 */
#ifndef MAVPN_CTL_VPND_ROUTE_H
#define MAVPN_CTL_VPND_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "mavpn/prefix.h"

struct route;
struct gw;
struct gw_changes;
struct shim;
struct datapath;

/*
 * Routes via @ifname with source @self_ip, protected in @shim, in @dp's
 * table. Adds the blackhole route of the overlay prefix (@self_ip/@plen).
 * NULL with errno.
 */
struct route *route_open(const char *ifname, uint32_t self_ip, uint8_t plen,
			 struct shim *shim, struct datapath *dp);
/* Apply @ch; @g is the table after them. Errors are logged. */
void route_apply(struct route *rt, const struct gw *g,
		 const struct gw_changes *ch);
/* Clean stop: remove the blackhole routes of @g's net routes and of the
 * overlay prefix (mavpn0 and the routes via it go with the interface).
 * Accepts NULL. */
void route_close(struct route *rt, const struct gw *g);

#endif /* MAVPN_CTL_VPND_ROUTE_H */
