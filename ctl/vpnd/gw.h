/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MAVPN_CTL_VPND_GW_H
#define MAVPN_CTL_VPND_GW_H

#include <stdbool.h>
#include <stdint.h>

#include "route.h"

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

#endif /* MAVPN_CTL_VPND_GW_H */
