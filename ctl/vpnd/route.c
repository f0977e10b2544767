// SPDX-License-Identifier: GPL-2.0-only
/*
 * The routes of this host (see route.h): the gateway table's changes
 * applied, and the kernel routes for them. The kernel routes point a gateway's LAN prefix at
 * mavpn0, so the LAN is reached through the overlay's XDP program like any
 * overlay address: encrypted when vpnd runs, dropped when it does not (the
 * route lives and dies with mavpn0, never falling back to the default route
 * while the interface exists).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mavpn/datapath.h"
#include "mavpn/log.h"
#include "mavpn/nl.h"
#include "gw.h"
#include "route.h"
#include "shim.h"

/*
 * "blackhole net/plen metric ROUTE_BLACKHOLE_METRIC": under the route via
 * mavpn0 (metric 0), so it only matters when mavpn0 is gone (a crashed
 * vpnd's interface deleted, or a restart failing half-way): the prefix is
 * then unreachable instead of falling back to the default route in clear.
 */
#define ROUTE_BLACKHOLE_METRIC	0xffffffffu

struct route {
	char ifname[IF_NAMESIZE];
	uint32_t self_ip;
	struct prefix overlay;
	struct shim *shim;
	struct datapath *dp;
	struct nl nl;			/* rtnetlink, for the kernel routes */
};

/* "@p dev @rt->ifname [src @src]" in the main table (scope link). */
static int route_dev(const struct route *rt, const struct prefix *p,
		     uint32_t src, struct nl_route *r)
{
	int oif = (int)if_nametoindex(rt->ifname);

	if (!oif)
		return -ENODEV;
	*r = (struct nl_route){ .dst = *p, .oif = oif };
	if (src)
		r->src = prefix_from4(src, 32);
	return 0;
}

/* Add (replace) the route of @p via our interface, source our address. */
static int route_kernel_add(struct route *rt, const struct prefix *p)
{
	struct nl_route r;
	int err = route_dev(rt, p, rt->self_ip, &r);

	return err ? err : nl_route_replace(&rt->nl, &r);
}

/* Delete it; a missing route (or interface) is 0. */
static int route_kernel_del(struct route *rt, const struct prefix *p)
{
	struct nl_route r;
	int err = route_dev(rt, p, 0, &r);

	if (!err)
		err = nl_route_del(&rt->nl, &r);
	return err == -ESRCH || err == -ENODEV ? 0 : err;
}

static int route_blackhole_add(struct route *rt, const struct prefix *p)
{
	struct nl_route r = { .dst = *p, .blackhole = true,
			      .metric = ROUTE_BLACKHOLE_METRIC };

	return nl_route_replace(&rt->nl, &r);
}

static int route_blackhole_del(struct route *rt, const struct prefix *p)
{
	struct nl_route r = { .dst = *p, .blackhole = true,
			      .metric = ROUTE_BLACKHOLE_METRIC };
	int err = nl_route_del(&rt->nl, &r);

	return err == -ESRCH ? 0 : err;
}

/* Set net.ipv4.ip_forward in our network namespace. 0 or -errno. */
static int route_ip_forward(bool on)
{
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, on ? "1\n" : "0\n", 2) != 2)
		err = -errno;
	close(fd);
	return err;
}

struct route *route_open(const char *ifname, uint32_t self_ip, uint8_t plen,
			 struct shim *shim, struct datapath *dp)
{
	struct route *rt = calloc(1, sizeof(*rt));
	int err;

	if (!rt)
		return NULL;
	snprintf(rt->ifname, sizeof(rt->ifname), "%s", ifname);
	rt->self_ip = self_ip;
	rt->overlay = prefix_from4(self_ip, plen);
	rt->shim = shim;
	rt->dp = dp;
	err = nl_open(&rt->nl);
	if (err) {
		log_err("gw: rtnetlink socket failed: %s", strerror(-err));
		free(rt);
		errno = -err;
		return NULL;
	}
	err = route_blackhole_add(rt, &rt->overlay);
	if (err)
		log_warn("gw: cannot add the overlay blackhole route: %s",
			 strerror(-err));
	return rt;
}

void route_close(struct route *rt, const struct gw *g)
{
	struct gw_route r[GW_ROUTES_MAX];
	int i, n;

	if (!rt)
		return;
	/* A clean stop: the host is as before vpnd (mavpn0 goes too). */
	n = g ? gw_routes(g, r, GW_ROUTES_MAX) : 0;
	for (i = 0; i < n; i++)
		if (!r[i].own)
			route_blackhole_del(rt, &r[i].prefix);
	route_blackhole_del(rt, &rt->overlay);
	nl_close(&rt->nl);
	free(rt);
}

/* A net route: kernel route via the overlay (over its blackhole) and
 * protection in the socket shim; or their removal. */
static void route_net(struct route *rt, const struct gw_change *c)
{
	const struct prefix *p = &c->r.prefix;
	char cidr[PREFIX_STRLEN];
	int err;

	if (c->op == GW_DEL) {
		route_kernel_del(rt, p);
		route_blackhole_del(rt, p);
		shim_unprotect(rt->shim, p->v4, p->plen);
		return;
	}
	err = route_blackhole_add(rt, p);
	if (!err)
		err = route_kernel_add(rt, p);
	if (!err)
		err = shim_protect(rt->shim, p->v4, p->plen);
	if (err)
		log_err("gw: cannot route %s via %s: %s",
			prefix_format(p, cidr, sizeof(cidr)), rt->ifname,
			strerror(-err));
}

void route_apply(struct route *rt, const struct gw *g,
		 const struct gw_changes *ch)
{
	struct dp_route dr[GW_ROUTES_MAX];
	struct gw_route r[GW_ROUTES_MAX];
	unsigned int i;
	int n, j, err;

	if (!ch->n)
		return;
	/* Deletes come first in @ch: a prefix that moves is freed first. */
	for (i = 0; i < ch->n; i++) {
		const struct gw_change *c = &ch->c[i];

		if (!c->r.own)
			route_net(rt, c);
		else if (c->r.prefix.family == AF_INET &&
			 shim_own_lan(rt->shim, c->r.prefix.v4,
				      c->r.prefix.plen, c->op != GW_DEL))
			log_warn("gw: cannot tell the shim about our LAN");
	}
	n = gw_routes(g, r, GW_ROUTES_MAX);
	for (j = 0; j < n; j++)
		dr[j] = (struct dp_route){ .prefix = r[j].prefix,
					   .gw = r[j].own ? 0 : r[j].gw,
					   .local = r[j].own };
	err = datapath_set_routes(rt->dp, dr, n);
	if (err)
		log_err("gw: data plane refused the routes: %s", strerror(-err));
	/* A gateway forwards decrypted traffic into its LAN and back. */
	if (gw_n_own(g)) {
		err = route_ip_forward(true);
		if (err)
			log_err("gw: cannot enable ip_forward: %s",
				strerror(-err));
	}
}
