// SPDX-License-Identifier: GPL-2.0-only
/*
 * Raw rtnetlink for the data plane: no libmnl, no shelling out to ip(8).
 * Every request carries NLM_F_ACK and one request is in flight per socket,
 * so a transaction is "send, read replies until the ack for our sequence".
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>

#include "dp_netlink.h"

#define NL_BUF		8192

struct nl_req {
	struct nlmsghdr *nlh;
	size_t cap;
};

/* Append one attribute; returns it (for nesting) or NULL if it won't fit. */
static struct rtattr *nl_attr(struct nl_req *r, unsigned short type,
			      const void *data, size_t len)
{
	struct rtattr *rta;
	size_t need = NLMSG_ALIGN(r->nlh->nlmsg_len) + RTA_SPACE(len);

	if (need > r->cap)
		return NULL;
	rta = (struct rtattr *)((char *)r->nlh + NLMSG_ALIGN(r->nlh->nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	r->nlh->nlmsg_len = need;
	return rta;
}

/* Close a nest opened with nl_attr(r, type, NULL, 0). */
static void nl_nest_end(struct nl_req *r, struct rtattr *nest)
{
	nest->rta_len = (char *)r->nlh + r->nlh->nlmsg_len - (char *)nest;
}

int dp_nl_open(struct dp_nl *nl)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 2 };
	int one = 1;

	nl->seq = (uint32_t)time(NULL);
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	/* A kernel that never answers must not hang a worker forever. */
	setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Extended acks so a refused request says why in strace. */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(nl->fd);
		nl->fd = -1;
		return err;
	}
	return 0;
}

void dp_nl_close(struct dp_nl *nl)
{
	if (nl && nl->fd >= 0) {
		close(nl->fd);
		nl->fd = -1;
	}
}

typedef void (*nl_cb)(const struct nlmsghdr *nlh, void *arg);

/* Send @nlh and consume replies until its ack; @cb sees data messages. */
static int nl_talk(struct dp_nl *nl, struct nlmsghdr *nlh, nl_cb cb, void *arg)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[NL_BUF] __attribute__((aligned(4)));
	uint32_t seq = ++nl->seq;

	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (sendto(nl->fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0)
		return -errno;

	for (;;) {
		ssize_t n = recv(nl->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;	/* a late reply to a timed-out request */
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error;	/* 0 is the ack */
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (cb)
				cb(h, arg);
		}
	}
}

#define NL_REQ(name, hdrtype)						\
	char name##_buf[1024] __attribute__((aligned(4))) = { 0 };	\
	struct nl_req name = { (struct nlmsghdr *)name##_buf,		\
			       sizeof(name##_buf) };			\
	name.nlh->nlmsg_len = NLMSG_LENGTH(sizeof(hdrtype))

int dp_nl_veth_create(struct dp_nl *nl, const char *name, const char *peer,
		      unsigned int mtu, unsigned int queues)
{
	struct rtattr *linkinfo, *data, *peerinfo;
	struct ifinfomsg *pifi;
	NL_REQ(r, struct ifinfomsg);

	r.nlh->nlmsg_type = RTM_NEWLINK;
	r.nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	((struct ifinfomsg *)NLMSG_DATA(r.nlh))->ifi_family = AF_UNSPEC;
	nl_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	nl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	/* one queue per worker: each binds its own AF_XDP socket */
	nl_attr(&r, IFLA_NUM_TX_QUEUES, &queues, sizeof(queues));
	nl_attr(&r, IFLA_NUM_RX_QUEUES, &queues, sizeof(queues));
	linkinfo = nl_attr(&r, IFLA_LINKINFO, NULL, 0);
	nl_attr(&r, IFLA_INFO_KIND, "veth", 5);
	data = nl_attr(&r, IFLA_INFO_DATA, NULL, 0);
	/* VETH_INFO_PEER carries a struct ifinfomsg, then the peer's attrs. */
	peerinfo = nl_attr(&r, VETH_INFO_PEER, NULL, sizeof(struct ifinfomsg));
	if (!peerinfo)
		return -ENOSPC;
	pifi = RTA_DATA(peerinfo);
	memset(pifi, 0, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	nl_attr(&r, IFLA_IFNAME, peer, strlen(peer) + 1);
	nl_attr(&r, IFLA_NUM_TX_QUEUES, &queues, sizeof(queues));
	nl_attr(&r, IFLA_NUM_RX_QUEUES, &queues, sizeof(queues));
	if (!nl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu)))
		return -ENOSPC;
	nl_nest_end(&r, peerinfo);
	nl_nest_end(&r, data);
	nl_nest_end(&r, linkinfo);
	return nl_talk(nl, r.nlh, NULL, NULL);
}

int dp_nl_link_del(struct dp_nl *nl, const char *name)
{
	NL_REQ(r, struct ifinfomsg);

	r.nlh->nlmsg_type = RTM_DELLINK;
	((struct ifinfomsg *)NLMSG_DATA(r.nlh))->ifi_family = AF_UNSPEC;
	if (!nl_attr(&r, IFLA_IFNAME, name, strlen(name) + 1))
		return -ENOSPC;
	return nl_talk(nl, r.nlh, NULL, NULL);
}

int dp_nl_link_up(struct dp_nl *nl, int ifindex, int noarp)
{
	struct ifinfomsg *ifi;
	NL_REQ(r, struct ifinfomsg);

	r.nlh->nlmsg_type = RTM_NEWLINK;
	ifi = NLMSG_DATA(r.nlh);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP | (noarp ? IFF_NOARP : 0);
	ifi->ifi_change = IFF_UP | IFF_NOARP;
	return nl_talk(nl, r.nlh, NULL, NULL);
}

int dp_nl_addr_add(struct dp_nl *nl, int ifindex, uint32_t ip, uint8_t plen)
{
	struct ifaddrmsg *ifa;
	NL_REQ(r, struct ifaddrmsg);

	r.nlh->nlmsg_type = RTM_NEWADDR;
	r.nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ifa = NLMSG_DATA(r.nlh);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_index = ifindex;
	nl_attr(&r, IFA_LOCAL, &ip, sizeof(ip));
	if (!nl_attr(&r, IFA_ADDRESS, &ip, sizeof(ip)))
		return -ENOSPC;
	return nl_talk(nl, r.nlh, NULL, NULL);
}

struct route_res {
	int found;
	uint32_t gw, prefsrc;
	int oif;
};

static void route_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct route_res *res = arg;
	const struct rtmsg *rtm = NLMSG_DATA(nlh);
	const struct rtattr *rta;
	int len;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return;
	res->found = 1;
	len = RTM_PAYLOAD(nlh);
	for (rta = RTM_RTA(rtm); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_GATEWAY &&
		    RTA_PAYLOAD(rta) == sizeof(uint32_t))
			memcpy(&res->gw, RTA_DATA(rta), 4);
		else if (rta->rta_type == RTA_PREFSRC &&
			 RTA_PAYLOAD(rta) == sizeof(uint32_t))
			memcpy(&res->prefsrc, RTA_DATA(rta), 4);
		else if (rta->rta_type == RTA_OIF)
			memcpy(&res->oif, RTA_DATA(rta), sizeof(int));
	}
}

int dp_nl_route_get(struct dp_nl *nl, uint32_t dst, uint32_t *nexthop,
		    int *oif, uint32_t *src)
{
	struct route_res res = { 0 };
	struct rtmsg *rtm;
	int err;
	NL_REQ(r, struct rtmsg);

	r.nlh->nlmsg_type = RTM_GETROUTE;
	rtm = NLMSG_DATA(r.nlh);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	if (!nl_attr(&r, RTA_DST, &dst, sizeof(dst)))
		return -ENOSPC;
	err = nl_talk(nl, r.nlh, route_cb, &res);
	if (err)
		return err;
	if (!res.found || !res.oif)
		return -ENETUNREACH;
	*nexthop = res.gw ? res.gw : dst;
	*oif = res.oif;
	*src = res.prefsrc;
	return 0;
}

struct neigh_res {
	int found;
	uint16_t state;
	uint8_t mac[DP_ETH_ALEN];
	int has_mac;
};

static void neigh_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct neigh_res *res = arg;
	const struct ndmsg *ndm = NLMSG_DATA(nlh);
	const struct rtattr *rta;
	int len;

	if (nlh->nlmsg_type != RTM_NEWNEIGH)
		return;
	res->found = 1;
	res->state = ndm->ndm_state;
	len = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*ndm));
	for (rta = (const struct rtattr *)((const char *)ndm +
					   NLMSG_ALIGN(sizeof(*ndm)));
	     RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == NDA_LLADDR &&
		    RTA_PAYLOAD(rta) == DP_ETH_ALEN) {
			memcpy(res->mac, RTA_DATA(rta), DP_ETH_ALEN);
			res->has_mac = 1;
		}
	}
}

int dp_nl_neigh_get(struct dp_nl *nl, int ifindex, uint32_t ip,
		    uint8_t mac[DP_ETH_ALEN], enum dp_neigh_state *state)
{
	struct neigh_res res = { 0 };
	struct ndmsg *ndm;
	int err;
	NL_REQ(r, struct ndmsg);

	r.nlh->nlmsg_type = RTM_GETNEIGH;
	ndm = NLMSG_DATA(r.nlh);
	ndm->ndm_family = AF_INET;
	ndm->ndm_ifindex = ifindex;
	if (!nl_attr(&r, NDA_DST, &ip, sizeof(ip)))
		return -ENOSPC;
	err = nl_talk(nl, r.nlh, neigh_cb, &res);
	*state = DP_NEIGH_NONE;
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (!res.found || !res.has_mac)
		return 0;
	memcpy(mac, res.mac, DP_ETH_ALEN);
	if (res.state & (NUD_REACHABLE | NUD_PERMANENT | NUD_NOARP))
		*state = DP_NEIGH_VALID;
	else if (res.state & (NUD_STALE | NUD_DELAY | NUD_PROBE))
		*state = DP_NEIGH_STALE;
	return 0;
}

int dp_nl_neigh_use(struct dp_nl *nl, int ifindex, uint32_t ip)
{
	struct ndmsg *ndm;
	NL_REQ(r, struct ndmsg);

	/*
	 * NTF_USE runs neigh_event_send() as if the kernel itself had a
	 * packet for @ip: it creates the entry if needed and starts (or
	 * re-confirms) ARP without us sending any probe traffic.
	 */
	r.nlh->nlmsg_type = RTM_NEWNEIGH;
	r.nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ndm = NLMSG_DATA(r.nlh);
	ndm->ndm_family = AF_INET;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_flags = NTF_USE;
	if (!nl_attr(&r, NDA_DST, &ip, sizeof(ip)))
		return -ENOSPC;
	return nl_talk(nl, r.nlh, NULL, NULL);
}

int dp_nl_open_events(struct dp_nl *nl)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_NEIGH,
	};

	nl->seq = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(nl->fd);
		nl->fd = -1;
		return err;
	}
	return 0;
}

int dp_nl_neigh_events(struct dp_nl *nl, dp_neigh_event_fn fn, void *arg)
{
	char buf[NL_BUF] __attribute__((aligned(4)));
	int count = 0;

	for (;;) {
		ssize_t n = recv(nl->fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: events were lost, the caller rechecks all */
			return errno == EAGAIN ? count : -errno;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			const struct ndmsg *ndm = NLMSG_DATA(h);
			const struct rtattr *rta;
			int len;

			if ((h->nlmsg_type != RTM_NEWNEIGH &&
			     h->nlmsg_type != RTM_DELNEIGH) ||
			    ndm->ndm_family != AF_INET)
				continue;
			len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*ndm));
			for (rta = (const struct rtattr *)((const char *)ndm +
						NLMSG_ALIGN(sizeof(*ndm)));
			     RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
				uint32_t ip;

				if (rta->rta_type != NDA_DST ||
				    RTA_PAYLOAD(rta) != sizeof(ip))
					continue;
				memcpy(&ip, RTA_DATA(rta), sizeof(ip));
				fn(arg, ndm->ndm_ifindex, ip);
				count++;
			}
		}
	}
}

static int if_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int fd, err = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, req, ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

int dp_if_mac(const char *ifname, uint8_t mac[DP_ETH_ALEN])
{
	struct ifreq ifr = { 0 };
	int err = if_ioctl(ifname, SIOCGIFHWADDR, &ifr);

	if (err)
		return err;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, DP_ETH_ALEN);
	return 0;
}

int dp_if_mtu(const char *ifname, unsigned int *mtu)
{
	struct ifreq ifr = { 0 };
	int err = if_ioctl(ifname, SIOCGIFMTU, &ifr);

	if (!err)
		*mtu = (unsigned int)ifr.ifr_mtu;
	return err;
}

int dp_if_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { 0 };
	unsigned int n;

	ifr.ifr_data = (void *)&ch;
	if (if_ioctl(ifname, SIOCETHTOOL, &ifr))
		return 1;	/* no channel API: a single-queue device */
	n = ch.rx_count > ch.combined_count ? ch.rx_count : ch.combined_count;
	return n ? (int)n : 1;
}

int dp_if_disable_offloads(const char *ifname)
{
	/*
	 * With these on, the host hands the far side 64 KiB super-packets
	 * and CHECKSUM_PARTIAL frames whose checksum nobody would fill in
	 * once they are encrypted. GRO would merge what we deliver.
	 */
	static const uint32_t cmds[] = {
		ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO, ETHTOOL_STXCSUM,
	};
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct ethtool_value ev = { .cmd = cmds[i], .data = 0 };
		struct ifreq ifr = { 0 };
		int err;

		ifr.ifr_data = (void *)&ev;
		err = if_ioctl(ifname, SIOCETHTOOL, &ifr);
		if (err)
			return err;
	}
	return 0;
}

int dp_if_ipv6_sysctl(const char *ifname, const char *key, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname,
		 key);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}
