/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv gateway index (gwindex.c): which gateway host fronts an address
 * of a LAN ("token create --route CIDR"), and the CTLA_ROUTEs that
 * HELLO_ACK, KEY_PUSH and KEY_GRANT carry.
 *
 * Built once from the registry at start (every non-revoked host with
 * routes), then kept current by the server: gwindex_add() at enrollment,
 * gwindex_remove() at revocation. A KEY_REQ for an address no host owns
 * asks gwindex_lookup() (longest prefix, ties to the gateway whose name
 * sorts first), not the registry.
 *
 * The lookup structure is private: a lib/prefix longest-prefix-match
 * table from route to gateway.
 */
#ifndef AUTHSRV_GWINDEX_H
#define AUTHSRV_GWINDEX_H

#include <stddef.h>
#include <stdint.h>

struct ctlmsg;
struct gwindex;
struct registry;

struct gwindex *gwindex_new(void);
void gwindex_free(struct gwindex *gw);
/* Add every non-revoked host with routes from @reg: 0 or -errno. */
int gwindex_load(struct gwindex *gw, struct registry *reg);
/* Host @name (overlay @overlay_ip, network order) fronts @routes, a
 * comma-separated "a.b.c.d/n" list; replaces an entry of the same name.
 * Empty @routes: nothing to add. 0 or -ENOMEM. */
int gwindex_add(struct gwindex *gw, const char *name, uint32_t overlay_ip,
		const char *routes);
/* @name no longer fronts anything (revoked). */
void gwindex_remove(struct gwindex *gw, const char *name);
/* The gateway whose routes hold @ip (network order): its name in @name
 * (valid until the next add/remove). 0 or -ENOENT. */
int gwindex_lookup(const struct gwindex *gw, uint32_t ip, const char **name);
/*
 * The routes of every gateway except @skip as CTLA_ROUTEs of @m, each via
 * its gateway's overlay address (gateways by name, routes in their order).
 * 0, or -ENOSPC: @m was full (CTLMSG_ROUTES_MAX), the rest left out.
 */
int gwindex_net_routes(const struct gwindex *gw, const char *skip,
		       struct ctlmsg *m);
/* A registry route list (@routes, "a.b.c.d/n,...") as CTLA_ROUTEs of @m
 * via @gw_ip (network order); entries that do not parse are skipped. 0 or
 * -ENOSPC (cut). */
int gwindex_add_routes(struct ctlmsg *m, const char *routes, uint32_t gw_ip);

#endif /* AUTHSRV_GWINDEX_H */
