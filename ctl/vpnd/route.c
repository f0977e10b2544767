// SPDX-License-Identifier: GPL-2.0-only
/*
 * Route primitives (see route.h): the server's route lists and the kernel
 * routes for them. The kernel routes point a gateway's LAN prefix at
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

#include "route.h"

int route_parse(const char *list, uint32_t gw, struct route *out, int max)
{
	char buf[32], *slash, *end;
	const char *p = list, *comma;
	struct in_addr a;
	size_t len;
	long plen;
	int n = 0;
	uint32_t mask;

	while (p && *p) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (!len || len >= sizeof(buf) || n == max ||
		    (comma && !comma[1]))
			return -EINVAL;
		memcpy(buf, p, len);
		buf[len] = '\0';
		slash = strchr(buf, '/');
		if (!slash)
			return -EINVAL;
		*slash = '\0';
		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || plen < 0 || plen > 32 ||
		    inet_pton(AF_INET, buf, &a) != 1)
			return -EINVAL;
		mask = plen ? htonl(~0u << (32 - plen)) : 0;
		out[n].net = a.s_addr & mask;
		out[n].plen = (uint8_t)plen;
		out[n].gw = gw;
		n++;
		p = comma ? comma + 1 : NULL;
	}
	return n;
}

const char *route_str(const struct route *r, char *buf, unsigned int len)
{
	char ip[INET_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", inet_ntop(AF_INET, &r->net, ip, sizeof(ip)),
		 r->plen);
	return buf;
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
		     const struct route *r, uint32_t src)
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
	route_attr(&q, RTA_DST, &r->net, sizeof(r->net));
	if (ifname)
		route_attr(&q, RTA_OIF, &oif, sizeof(oif));
	else
		route_attr(&q, RTA_PRIORITY, &metric, sizeof(metric));
	if (src)
		route_attr(&q, RTA_PREFSRC, &src, sizeof(src));
	return route_talk(&q);
}

int route_kernel_add(const char *ifname, const struct route *r, uint32_t src)
{
	return route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, ifname, r,
			 src);
}

int route_kernel_del(const char *ifname, const struct route *r)
{
	int err = route_msg(RTM_DELROUTE, 0, ifname, r, 0);

	return err == -ESRCH || err == -ENODEV ? 0 : err;
}

int route_blackhole_add(const struct route *r)
{
	return route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, NULL, r,
			 0);
}

int route_blackhole_del(const struct route *r)
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
