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
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "mavpn/datapath.h"
#include "mavpn/log.h"
#include "gw.h"
#include "route.h"
#include "shim.h"

struct route {
	char ifname[IF_NAMESIZE];
	uint32_t self_ip;
	struct prefix overlay;
	struct shim *shim;
	struct datapath *dp;
};

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
	err = route_blackhole_add(&rt->overlay);
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
			route_blackhole_del(&r[i].prefix);
	route_blackhole_del(&rt->overlay);
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
		route_kernel_del(rt->ifname, p);
		route_blackhole_del(p);
		shim_unprotect(rt->shim, p->v4, p->plen);
		return;
	}
	err = route_blackhole_add(p);
	if (!err)
		err = route_kernel_add(rt->ifname, p, rt->self_ip);
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
	for (i = 0; i < ch->n; i++)
		if (!ch->c[i].r.own)
			route_net(rt, &ch->c[i]);
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

struct route_req {
	struct nlmsghdr nh;
	struct rtmsg rt;
	char attrs[64];
};

static void route_attr(struct route_req *q, unsigned short type,
		       const void *data, unsigned short len)
{
	struct rtattr *rta = (struct rtattr *)((char *)q +
					       NLMSG_ALIGN(q->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	q->nh.nlmsg_len = NLMSG_ALIGN(q->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Send one request and read its ack. 0 or -errno from the kernel. */
static int route_talk(struct route_req *q)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[512];
	struct nlmsghdr *h;
	ssize_t n;
	int fd, err = -EIO;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, q, q->nh.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	h = (struct nlmsghdr *)buf;
	if (NLMSG_OK(h, (size_t)n) && h->nlmsg_type == NLMSG_ERROR)
		err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
out:
	close(fd);
	return err;
}

static int route_msg(int type, int flags, const char *ifname,
		     const struct prefix *r, uint32_t src)
{
	uint32_t oif = ifname ? if_nametoindex(ifname) : 0;
	uint32_t metric = ROUTE_BLACKHOLE_METRIC;
	struct route_req q;

	if (ifname && !oif)
		return -ENODEV;
	memset(&q, 0, sizeof(q));
	q.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	q.nh.nlmsg_type = type;
	q.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	q.rt.rtm_family = AF_INET;
	q.rt.rtm_dst_len = r->plen;
	q.rt.rtm_table = RT_TABLE_MAIN;
	q.rt.rtm_protocol = RTPROT_STATIC;
	q.rt.rtm_scope = ifname ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	q.rt.rtm_type = ifname ? RTN_UNICAST : RTN_BLACKHOLE;
	route_attr(&q, RTA_DST, &r->v4, sizeof(r->v4));
	if (ifname)
		route_attr(&q, RTA_OIF, &oif, sizeof(oif));
	else
		route_attr(&q, RTA_PRIORITY, &metric, sizeof(metric));
	if (src)
		route_attr(&q, RTA_PREFSRC, &src, sizeof(src));
	return route_talk(&q);
}

int route_kernel_add(const char *ifname, const struct prefix *r, uint32_t src)
{
	return route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, ifname, r,
			 src);
}

int route_kernel_del(const char *ifname, const struct prefix *r)
{
	int err = route_msg(RTM_DELROUTE, 0, ifname, r, 0);

	return err == -ESRCH || err == -ENODEV ? 0 : err;
}

int route_blackhole_add(const struct prefix *r)
{
	return route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, NULL, r,
			 0);
}

int route_blackhole_del(const struct prefix *r)
{
	return route_kernel_del(NULL, r);
}

int route_ip_forward(bool on)
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
