/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef MAVPN_CTL_VPND_GW_H
#define MAVPN_CTL_VPND_GW_H

#include <stdbool.h>
#include <stdint.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/datapath.h"
#include "mavpn/prefix.h"

/*
 * The gateway table of one vpnd, a pure table: "own" routes (we are the
 * gateway: the data plane accepts inner destinations inside them and the
 * kernel forwards them into the LAN) and "net" routes (prefixes behind
 * other gateways, each with the gateway's overlay address; 0 = gateway not
 * known yet, learnt from the KEY_GRANT of a request for an address
 * inside). It answers lookups and, when the server's messages change it,
 * returns the changes; route_apply() (route.c) makes the kernel, the socket
 * shim and the data plane follow them. Kept in STATE/routes so a restarted
 * vpnd routes (and drops) the prefixes before it reaches the server.
 *
 * IPv4 only for now: the codec carries IPv6 routes, the table ignores them
 * (nothing below it routes IPv6 yet).
 */
struct gw;

/* Own and net routes together: the data plane's table. */
#define GW_ROUTES_MAX	DP_ROUTES_MAX
#define GW_CHANGES_MAX	(2 * GW_ROUTES_MAX)

struct gw_route {
	struct prefix prefix;
	uint32_t gw;		/* network order; net: the gateway, 0 unknown */
	bool own;		/* a prefix behind us */
};

enum gw_op {
	GW_ADD,			/* new, or its gateway changed */
	GW_DEL,
};

struct gw_change {
	enum gw_op op;
	struct gw_route r;
};

struct gw_changes {
	unsigned int n;
	struct gw_change c[GW_CHANGES_MAX];
};

/*
 * A table for the host with overlay address @self_ip (network order),
 * loaded from STATE_DIR/routes if there is one; @ch gets an add for each
 * restored route. NULL with errno.
 */
struct gw *gw_new(const char *state_dir, uint32_t self_ip,
		  struct gw_changes *ch);
void gw_free(struct gw *g);		/* accepts NULL */

/*
 * HELLO_ACK: the complete list. Routes whose gateway is our own overlay
 * address are ours, the others the network's. The table becomes exactly
 * the list (a net route without a gateway keeps the one a KEY_GRANT taught
 * us); @ch: a delete for each route gone, then an add for every route of
 * the table, old or new (so a connection re-asserts them all). Saves
 * STATE_DIR/routes. 0, or -E2BIG if the list holds more than
 * GW_ROUTES_MAX (nothing changed then).
 */
int gw_hello(struct gw *g, const struct ctlmsg_route *r, unsigned int n,
	     struct gw_changes *ch);

/*
 * A key with @peer_ip arrived with its routes: each becomes a net route via
 * @peer_ip unless it is one of ours or already there with that gateway.
 * @ch: an add for each route added or moved. Routes past a full table are
 * dropped. Saves STATE_DIR/routes if anything changed. Returns the number
 * of changes.
 */
int gw_learn(struct gw *g, uint32_t peer_ip, const struct ctlmsg_route *r,
	     unsigned int n, struct gw_changes *ch);

/* The gateway's overlay address for a LAN address @dst, 0 if @dst is in
 * no net route or its gateway is not known yet. */
uint32_t gw_key_dst(const struct gw *g, uint32_t dst);
/* True if @dst is inside a prefix behind another gateway. */
bool gw_is_remote(const struct gw *g, uint32_t dst);

/* Every route, own first, each sorted by prefix_cmp(); returns how many
 * (at most @max). */
int gw_routes(const struct gw *g, struct gw_route *out, int max);
unsigned int gw_n_own(const struct gw *g);

#endif /* MAVPN_CTL_VPND_GW_H */
