/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Gateway routes on the vpnd side: parsing the server's route lists
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

/*
 * The gateway table of one vpnd: "own" routes (we are the gateway: the
 * data plane accepts inner destinations inside them and the kernel forwards
 * them into the LAN) and "net" routes (prefixes behind other gateways:
 * kernel route via the overlay interface, protected for the socket shim,
 * and mapped to the gateway's overlay address in the data plane; gw 0 =
 * gateway not known yet, learnt from the KEY_GRANT of a request for an
 * address inside). Kept in STATE/routes so a restarted vpnd routes (and
 * drops) the prefixes before it reaches the server.
 */
struct gw;
struct shim;
struct datapath;

/*
 * Add the blackhole route of the overlay prefix (@self_ip/@plen), load
 * STATE/routes (if any) and apply it. NULL with errno.
 */
struct gw *gw_open(const char *state_dir, const char *ifname,
		   uint32_t self_ip, uint8_t plen, struct shim *shim,
		   struct datapath *dp);
/* Remove the blackhole routes (clean stop); accepts NULL. */
void gw_free(struct gw *g);

/* HELLO_ACK: our own routes ("cidr,cidr") and the network's
 * ("cidr[=gw_ip],..."); either may be NULL (= unchanged). 0 or -errno. */
int gw_hello(struct gw *g, const char *own, const char *net);
/* A key with @peer_ip arrived with its routes ("cidr,cidr"). */
int gw_learn(struct gw *g, uint32_t peer_ip, const char *routes);

/* The gateway's overlay address for a LAN address @dst, 0 if @dst is in
 * no net route or its gateway is not known yet. */
uint32_t gw_key_dst(const struct gw *g, uint32_t dst);
/* True if @dst is inside a prefix behind another gateway. */
bool gw_is_remote(const struct gw *g, uint32_t dst);
/* The i-th route (own first, then net) or NULL past the end. */
const struct route *gw_route(const struct gw *g, int i, bool *own);

#endif /* MAVPN_CTL_VPND_ROUTE_H */
