// SPDX-License-Identifier: GPL-2.0-only
/*
 * rtnetlink (see nl.h). Every request carries NLM_F_ACK and one request is
 * in flight per socket, so a transaction is "send, read replies until the
 * ack for our sequence number".
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/neighbour.h>
#include <linux/veth.h>

#include "mavpn/nl.h"

/* Replies are at most a page or two; dumps are split by the kernel. */
#define NL_RCVBUF	16384
/* Requests built here: a veth pair is the largest, well under this. */
#define NL_REQBUF	1024

static size_t nl_addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static int nl_socket(struct nl *nl, uint32_t groups, int type_flags)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int err;

	nl->seq = (uint32_t)time(NULL);
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | type_flags,
			NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(nl->fd);
		nl->fd = -1;
		return err;
	}
	return 0;
}

int nl_open(struct nl *nl)
{
	struct timeval tv = { .tv_sec = NL_TIMEOUT_MS / 1000,
			      .tv_usec = (NL_TIMEOUT_MS % 1000) * 1000 };
	int one = 1, err;

	err = nl_socket(nl, 0, 0);
	if (err)
		return err;
	/* A kernel that never answers must not hang a thread forever. */
	setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Extended acks, so a refused request says why in strace. */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	return 0;
}

int nl_open_events(struct nl *nl, uint32_t groups)
{
	return nl_socket(nl, groups, SOCK_NONBLOCK);
}

void nl_close(struct nl *nl)
{
	if (nl && nl->fd >= 0) {
		close(nl->fd);
		nl->fd = -1;
	}
}

/* ---- messages ---- */

void *nl_msg_init(struct nl_msg *m, void *buf, size_t cap, uint16_t type,
		  uint16_t flags, size_t hdrlen)
{
	m->nlh = buf;
	m->cap = cap;
	m->err = 0;
	if (cap < NLMSG_SPACE(hdrlen)) {
		/* Leave a header that says nothing, and the sticky error. */
		m->err = -EMSGSIZE;
		if (cap >= NLMSG_HDRLEN)
			memset(buf, 0, NLMSG_HDRLEN);
		return NULL;
	}
	memset(buf, 0, NLMSG_SPACE(hdrlen));
	m->nlh->nlmsg_len = NLMSG_LENGTH(hdrlen);
	m->nlh->nlmsg_type = type;
	m->nlh->nlmsg_flags = flags;
	return NLMSG_DATA(m->nlh);
}

struct rtattr *nl_attr_put(struct nl_msg *m, uint16_t type, const void *data,
			   size_t len)
{
	size_t need = NLMSG_ALIGN(m->nlh->nlmsg_len) + RTA_SPACE(len);
	struct rtattr *rta;

	if (m->err || RTA_LENGTH(len) > 0xffff || need > m->cap) {
		m->err = -EMSGSIZE;
		return NULL;
	}
	rta = (struct rtattr *)((char *)m->nlh + NLMSG_ALIGN(m->nlh->nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (data && len)
		memcpy(RTA_DATA(rta), data, len);
	else if (len)
		memset(RTA_DATA(rta), 0, len);
	/* Zero the alignment padding: the kernel checks some of it. */
	memset((char *)rta + RTA_LENGTH(len), 0, RTA_SPACE(len) - RTA_LENGTH(len));
	m->nlh->nlmsg_len = (uint32_t)need;
	return rta;
}

struct rtattr *nl_attr_put_u32(struct nl_msg *m, uint16_t type, uint32_t v)
{
	return nl_attr_put(m, type, &v, sizeof(v));
}

struct rtattr *nl_attr_put_str(struct nl_msg *m, uint16_t type, const char *s)
{
	return nl_attr_put(m, type, s, strlen(s) + 1);
}

struct rtattr *nl_nest_start(struct nl_msg *m, uint16_t type, size_t hdrlen)
{
	return nl_attr_put(m, type, NULL, hdrlen);
}

void nl_nest_end(struct nl_msg *m, struct rtattr *nest)
{
	if (!nest || m->err)
		return;
	nest->rta_len = (unsigned short)((char *)m->nlh + m->nlh->nlmsg_len -
					 (char *)nest);
}

static int nl_attr_index(const struct rtattr *rta, int len,
			 const struct rtattr **tb, unsigned int max)
{
	memset(tb, 0, (max + 1) * sizeof(*tb));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		/* NLA_F_NESTED and NLA_F_NET_BYTEORDER ride in the type. */
		unsigned int type = rta->rta_type & NLA_TYPE_MASK;

		if (type <= max)
			tb[type] = rta;
	}
	/* Left over: less than a header, or a header announcing more. */
	return len >= (int)sizeof(struct rtattr) ? -EBADMSG : 0;
}

int nl_attr_parse(const struct nlmsghdr *h, size_t hdrlen,
		  const struct rtattr **tb, unsigned int max)
{
	int len = (int)h->nlmsg_len - (int)NLMSG_SPACE(hdrlen);

	if (h->nlmsg_len < NLMSG_LENGTH(hdrlen))
		return -EBADMSG;
	return nl_attr_index((const struct rtattr *)((const char *)NLMSG_DATA(h) +
						     NLMSG_ALIGN(hdrlen)),
			     len < 0 ? 0 : len, tb, max);
}

int nl_attr_parse_nested(const struct rtattr *nest, size_t hdrlen,
			 const struct rtattr **tb, unsigned int max)
{
	int len = (int)RTA_PAYLOAD(nest) - (int)RTA_ALIGN(hdrlen);

	if (RTA_PAYLOAD(nest) < hdrlen)
		return -EBADMSG;
	return nl_attr_index((const struct rtattr *)((const char *)RTA_DATA(nest) +
						     RTA_ALIGN(hdrlen)),
			     len < 0 ? 0 : len, tb, max);
}

int nl_attr_get(const struct rtattr *a, void *out, size_t len)
{
	if (!a || RTA_PAYLOAD(a) != len)
		return -EBADMSG;
	memcpy(out, RTA_DATA(a), len);
	return 0;
}

int nl_transact(struct nl *nl, struct nl_msg *m, nl_msg_fn fn, void *arg)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[NL_RCVBUF] __attribute__((aligned(4)));
	struct nlmsghdr *h;
	uint32_t seq;
	ssize_t n;

	if (m->err)
		return m->err;
	seq = ++nl->seq;
	m->nlh->nlmsg_seq = seq;
	m->nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (sendto(nl->fd, m->nlh, m->nlh->nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0)
		return -errno;

	for (;;) {
		n = recv(nl->fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if ((size_t)n > sizeof(buf))
			return -EMSGSIZE;	/* a reply we cannot see whole */
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;	/* a late reply to a timed-out request */
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EBADMSG;
				return e->error;	/* 0 is the ack */
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (fn)
				fn(arg, h);
		}
	}
}

int nl_events(struct nl *nl, nl_msg_fn fn, void *arg)
{
	char buf[NL_RCVBUF] __attribute__((aligned(4)));
	struct nlmsghdr *h;
	int count = 0;
	ssize_t n;

	for (;;) {
		n = recv(nl->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: events were lost, the caller rechecks. */
			return errno == EAGAIN ? count : -errno;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR ||
			    h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_NOOP)
				continue;
			fn(arg, h);
			count++;
		}
	}
}

/* ---- links ---- */

static void nl_put_queues(struct nl_msg *m, unsigned int queues)
{
	nl_attr_put_u32(m, IFLA_NUM_TX_QUEUES, queues);
	nl_attr_put_u32(m, IFLA_NUM_RX_QUEUES, queues);
}

int nl_veth_create(struct nl *nl, const struct nl_veth *v)
{
	struct rtattr *linkinfo, *data, *peer;
	unsigned int queues = v->queues ? v->queues : 1;
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct ifinfomsg *pifi;
	struct nl_msg m;

	if (!nl_msg_init(&m, buf, sizeof(buf), RTM_NEWLINK,
			 NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg)))
		return m.err;
	nl_attr_put_str(&m, IFLA_IFNAME, v->name);
	if (v->mtu)
		nl_attr_put_u32(&m, IFLA_MTU, v->mtu);
	/* One queue per worker: each binds its own AF_XDP socket. */
	nl_put_queues(&m, queues);
	linkinfo = nl_nest_start(&m, IFLA_LINKINFO, 0);
	nl_attr_put_str(&m, IFLA_INFO_KIND, "veth");
	data = nl_nest_start(&m, IFLA_INFO_DATA, 0);
	/* VETH_INFO_PEER carries a struct ifinfomsg, then the peer's attrs. */
	peer = nl_nest_start(&m, VETH_INFO_PEER, sizeof(struct ifinfomsg));
	if (peer) {
		pifi = RTA_DATA(peer);
		pifi->ifi_family = AF_UNSPEC;
	}
	nl_attr_put_str(&m, IFLA_IFNAME, v->peer);
	nl_put_queues(&m, queues);
	if (v->mtu)
		nl_attr_put_u32(&m, IFLA_MTU, v->mtu);
	if (v->peer_netns_fd > 0)
		nl_attr_put_u32(&m, IFLA_NET_NS_FD, (uint32_t)v->peer_netns_fd);
	nl_nest_end(&m, peer);
	nl_nest_end(&m, data);
	nl_nest_end(&m, linkinfo);
	return nl_transact(nl, &m, NULL, NULL);
}

int nl_link_create(struct nl *nl, const char *name, const char *kind)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct rtattr *linkinfo;
	struct nl_msg m;

	if (!nl_msg_init(&m, buf, sizeof(buf), RTM_NEWLINK,
			 NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg)))
		return m.err;
	nl_attr_put_str(&m, IFLA_IFNAME, name);
	linkinfo = nl_nest_start(&m, IFLA_LINKINFO, 0);
	nl_attr_put_str(&m, IFLA_INFO_KIND, kind);
	nl_nest_end(&m, linkinfo);
	return nl_transact(nl, &m, NULL, NULL);
}

int nl_link_del(struct nl *nl, const char *name)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct nl_msg m;

	if (!nl_msg_init(&m, buf, sizeof(buf), RTM_DELLINK, 0,
			 sizeof(struct ifinfomsg)))
		return m.err;
	nl_attr_put_str(&m, IFLA_IFNAME, name);
	return nl_transact(nl, &m, NULL, NULL);
}

static int nl_link_set(struct nl *nl, int ifindex, unsigned int flags,
		       unsigned int change, unsigned int mtu)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct ifinfomsg *ifi;
	struct nl_msg m;

	ifi = nl_msg_init(&m, buf, sizeof(buf), RTM_NEWLINK, 0, sizeof(*ifi));
	if (!ifi)
		return m.err;
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	if (mtu)
		nl_attr_put_u32(&m, IFLA_MTU, mtu);
	return nl_transact(nl, &m, NULL, NULL);
}

int nl_link_up(struct nl *nl, int ifindex, bool noarp)
{
	return nl_link_set(nl, ifindex, IFF_UP | (noarp ? IFF_NOARP : 0),
			   IFF_UP | IFF_NOARP, 0);
}

int nl_link_down(struct nl *nl, int ifindex)
{
	return nl_link_set(nl, ifindex, 0, IFF_UP, 0);
}

int nl_link_set_mtu(struct nl *nl, int ifindex, unsigned int mtu)
{
	if (!mtu)
		return -EINVAL;
	return nl_link_set(nl, ifindex, 0, 0, mtu);
}

/* ---- addresses ---- */

static int nl_addr(struct nl *nl, uint16_t type, uint16_t flags, int ifindex,
		   int family, const void *addr, uint8_t plen)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	size_t alen = nl_addr_len(family);
	struct ifaddrmsg *ifa;
	struct nl_msg m;

	if (!alen || plen > alen * 8)
		return -EINVAL;
	ifa = nl_msg_init(&m, buf, sizeof(buf), type, flags, sizeof(*ifa));
	if (!ifa)
		return m.err;
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_index = (uint32_t)ifindex;
	nl_attr_put(&m, IFA_LOCAL, addr, alen);
	nl_attr_put(&m, IFA_ADDRESS, addr, alen);
	return nl_transact(nl, &m, NULL, NULL);
}

int nl_addr_add(struct nl *nl, int ifindex, int family, const void *addr,
		uint8_t plen)
{
	return nl_addr(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex,
		       family, addr, plen);
}

int nl_addr_del(struct nl *nl, int ifindex, int family, const void *addr,
		uint8_t plen)
{
	return nl_addr(nl, RTM_DELADDR, 0, ifindex, family, addr, plen);
}

/* ---- routes ---- */

static const void *nl_prefix_addr(const struct prefix *p)
{
	return p->family == AF_INET ? (const void *)&p->v4 :
				      (const void *)p->v6;
}

static int nl_route_msg(struct nl *nl, uint16_t type, uint16_t flags,
			const struct nl_route *r)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	size_t alen = nl_addr_len(r->dst.family);
	struct rtmsg *rtm;
	struct nl_msg m;

	if (!alen || !prefix_valid(&r->dst) || (r->blackhole == !!r->oif) ||
	    (r->gw.family && r->gw.family != r->dst.family) ||
	    (r->src.family && r->src.family != r->dst.family))
		return -EINVAL;
	rtm = nl_msg_init(&m, buf, sizeof(buf), type, flags, sizeof(*rtm));
	if (!rtm)
		return m.err;
	rtm->rtm_family = r->dst.family;
	rtm->rtm_dst_len = r->dst.plen;
	rtm->rtm_table = r->table && r->table < 256 ? (uint8_t)r->table :
			 r->table ? RT_TABLE_UNSPEC : RT_TABLE_MAIN;
	rtm->rtm_protocol = r->protocol ? r->protocol : RTPROT_STATIC;
	if (r->blackhole) {
		rtm->rtm_type = RTN_BLACKHOLE;
		rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	} else {
		rtm->rtm_type = RTN_UNICAST;
		rtm->rtm_scope = r->gw.family ? RT_SCOPE_UNIVERSE :
						RT_SCOPE_LINK;
	}
	/* A delete matches on what it names: type and scope are wildcards. */
	if (type == RTM_DELROUTE) {
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
		rtm->rtm_type = r->blackhole ? RTN_BLACKHOLE : RTN_UNSPEC;
		rtm->rtm_protocol = r->protocol;
	}
	if (r->table >= 256)
		nl_attr_put_u32(&m, RTA_TABLE, r->table);
	nl_attr_put(&m, RTA_DST, nl_prefix_addr(&r->dst), alen);
	if (r->oif)
		nl_attr_put_u32(&m, RTA_OIF, (uint32_t)r->oif);
	if (r->gw.family)
		nl_attr_put(&m, RTA_GATEWAY, nl_prefix_addr(&r->gw), alen);
	if (r->src.family)
		nl_attr_put(&m, RTA_PREFSRC, nl_prefix_addr(&r->src), alen);
	if (r->metric)
		nl_attr_put_u32(&m, RTA_PRIORITY, r->metric);
	return nl_transact(nl, &m, NULL, NULL);
}

int nl_route_add(struct nl *nl, const struct nl_route *r)
{
	return nl_route_msg(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r);
}

int nl_route_replace(struct nl *nl, const struct nl_route *r)
{
	return nl_route_msg(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, r);
}

int nl_route_del(struct nl *nl, const struct nl_route *r)
{
	return nl_route_msg(nl, RTM_DELROUTE, 0, r);
}

struct nl_route_res {
	struct nl_route_hop *hop;
	size_t alen;
	bool found, has_gw;
};

static void nl_route_cb(void *arg, const struct nlmsghdr *h)
{
	struct nl_route_res *res = arg;
	const struct rtattr *tb[RTA_MAX + 1];
	uint32_t oif;

	if (h->nlmsg_type != RTM_NEWROUTE ||
	    nl_attr_parse(h, sizeof(struct rtmsg), tb, RTA_MAX))
		return;
	res->found = true;
	if (!nl_attr_get(tb[RTA_GATEWAY], &res->hop->nexthop, res->alen))
		res->has_gw = true;
	if (!nl_attr_get(tb[RTA_PREFSRC], &res->hop->src, res->alen))
		res->hop->has_src = 1;
	if (!nl_attr_get(tb[RTA_OIF], &oif, sizeof(oif)))
		res->hop->oif = (int)oif;
}

int nl_route_get(struct nl *nl, int family, const void *dst,
		 struct nl_route_hop *out)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct nl_route_res res = { .hop = out };
	struct rtmsg *rtm;
	struct nl_msg m;
	int err;

	res.alen = nl_addr_len(family);
	memset(out, 0, sizeof(*out));
	if (!res.alen)
		return -EINVAL;
	rtm = nl_msg_init(&m, buf, sizeof(buf), RTM_GETROUTE, 0, sizeof(*rtm));
	if (!rtm)
		return m.err;
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)(res.alen * 8);
	nl_attr_put(&m, RTA_DST, dst, res.alen);
	err = nl_transact(nl, &m, nl_route_cb, &res);
	if (err)
		return err;
	if (!res.found || !out->oif) {
		memset(out, 0, sizeof(*out));
		return -ENETUNREACH;
	}
	out->family = (uint8_t)family;
	if (!res.has_gw)
		memcpy(&out->nexthop, dst, res.alen);
	return 0;
}

struct nl_default_res {
	int oif;
	uint32_t metric;
};

static void nl_default_cb(void *arg, const struct nlmsghdr *h)
{
	struct nl_default_res *res = arg;
	const struct rtmsg *rtm = NLMSG_DATA(h);
	const struct rtattr *tb[RTA_MAX + 1];
	uint32_t oif = 0, metric = 0, table = rtm->rtm_table;

	if (h->nlmsg_type != RTM_NEWROUTE ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) ||
	    nl_attr_parse(h, sizeof(*rtm), tb, RTA_MAX) ||
	    rtm->rtm_dst_len || rtm->rtm_type != RTN_UNICAST)
		return;
	nl_attr_get(tb[RTA_TABLE], &table, sizeof(table));
	if (table != RT_TABLE_MAIN ||
	    nl_attr_get(tb[RTA_OIF], &oif, sizeof(oif)) || !oif)
		return;
	nl_attr_get(tb[RTA_PRIORITY], &metric, sizeof(metric));
	if (!res->oif || metric < res->metric) {
		res->oif = (int)oif;
		res->metric = metric;
	}
}

int nl_route_default(struct nl *nl, int family, int *oif)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct nl_default_res res = { 0 };
	struct rtmsg *rtm;
	struct nl_msg m;
	int err;

	rtm = nl_msg_init(&m, buf, sizeof(buf), RTM_GETROUTE, NLM_F_DUMP,
			  sizeof(*rtm));
	if (!rtm)
		return m.err;
	rtm->rtm_family = (uint8_t)family;
	err = nl_transact(nl, &m, nl_default_cb, &res);
	if (err)
		return err;
	if (!res.oif)
		return -ENETUNREACH;
	*oif = res.oif;
	return 0;
}

/* ---- neighbours ---- */

struct nl_neigh_res {
	bool found, has_mac;
	uint16_t state;
	uint8_t mac[NL_ETH_ALEN];
};

static void nl_neigh_cb(void *arg, const struct nlmsghdr *h)
{
	const struct rtattr *tb[NDA_MAX + 1];
	struct nl_neigh_res *res = arg;
	const struct ndmsg *ndm = NLMSG_DATA(h);

	if (h->nlmsg_type != RTM_NEWNEIGH ||
	    nl_attr_parse(h, sizeof(*ndm), tb, NDA_MAX))
		return;
	res->found = true;
	res->state = ndm->ndm_state;
	if (!nl_attr_get(tb[NDA_LLADDR], res->mac, NL_ETH_ALEN))
		res->has_mac = true;
}

static struct ndmsg *nl_neigh_msg(struct nl_msg *m, void *buf, size_t cap,
				  uint16_t type, uint16_t flags, int ifindex,
				  int family, const void *addr)
{
	struct ndmsg *ndm;

	ndm = nl_msg_init(m, buf, cap, type, flags, sizeof(*ndm));
	if (!ndm)
		return NULL;
	ndm->ndm_family = (uint8_t)family;
	ndm->ndm_ifindex = ifindex;
	nl_attr_put(m, NDA_DST, addr, nl_addr_len(family));
	return ndm;
}

int nl_neigh_get(struct nl *nl, int ifindex, int family, const void *addr,
		 uint8_t mac[NL_ETH_ALEN], enum nl_neigh_state *state)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct nl_neigh_res res = { 0 };
	struct nl_msg m;
	int err;

	*state = NL_NEIGH_NONE;
	if (!nl_addr_len(family))
		return -EINVAL;
	if (!nl_neigh_msg(&m, buf, sizeof(buf), RTM_GETNEIGH, 0, ifindex,
			  family, addr))
		return m.err;
	err = nl_transact(nl, &m, nl_neigh_cb, &res);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (!res.found || !res.has_mac)
		return 0;
	memcpy(mac, res.mac, NL_ETH_ALEN);
	if (res.state & (NUD_REACHABLE | NUD_PERMANENT | NUD_NOARP))
		*state = NL_NEIGH_VALID;
	else if (res.state & (NUD_STALE | NUD_DELAY | NUD_PROBE))
		*state = NL_NEIGH_STALE;
	return 0;
}

int nl_neigh_use(struct nl *nl, int ifindex, int family, const void *addr)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct ndmsg *ndm;
	struct nl_msg m;

	if (!nl_addr_len(family))
		return -EINVAL;
	/*
	 * NTF_USE runs neigh_event_send() as if the kernel itself had a
	 * packet for @addr: it creates the entry if needed and starts (or
	 * re-confirms) resolution without us sending any probe traffic.
	 */
	ndm = nl_neigh_msg(&m, buf, sizeof(buf), RTM_NEWNEIGH,
			   NLM_F_CREATE | NLM_F_REPLACE, ifindex, family, addr);
	if (!ndm)
		return m.err;
	ndm->ndm_flags = NTF_USE;
	return nl_transact(nl, &m, NULL, NULL);
}

struct nl_neigh_ev {
	nl_neigh_fn fn;
	void *arg;
	int count;
};

static void nl_neigh_ev_cb(void *arg, const struct nlmsghdr *h)
{
	const struct rtattr *tb[NDA_MAX + 1];
	struct nl_neigh_ev *ev = arg;
	const struct ndmsg *ndm = NLMSG_DATA(h);
	size_t alen;

	if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
		const struct ifaddrmsg *ifa = NLMSG_DATA(h);

		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
			return;
		ev->fn(ev->arg, (int)ifa->ifa_index, AF_UNSPEC, NULL);
		ev->count++;
		return;
	}
	if ((h->nlmsg_type != RTM_NEWNEIGH && h->nlmsg_type != RTM_DELNEIGH) ||
	    nl_attr_parse(h, sizeof(*ndm), tb, NDA_MAX))
		return;
	alen = nl_addr_len(ndm->ndm_family);
	if (!alen || !tb[NDA_DST] || RTA_PAYLOAD(tb[NDA_DST]) != alen)
		return;
	ev->fn(ev->arg, ndm->ndm_ifindex, ndm->ndm_family,
	       RTA_DATA(tb[NDA_DST]));
	ev->count++;
}

int nl_neigh_events(struct nl *nl, nl_neigh_fn fn, void *arg)
{
	struct nl_neigh_ev ev = { .fn = fn, .arg = arg };
	int ret = nl_events(nl, nl_neigh_ev_cb, &ev);

	return ret < 0 ? ret : ev.count;
}

/* ---- network namespaces ----------------------------------------------- */

struct nl_nsid_arg {
	int32_t nsid;
	bool found;
};

static void nl_nsid_cb(void *arg, const struct nlmsghdr *h)
{
	const struct rtattr *tb[NETNSA_MAX + 1] = { 0 };
	struct nl_nsid_arg *a = arg;

	if (h->nlmsg_type != RTM_NEWNSID ||
	    nl_attr_parse(h, sizeof(struct rtgenmsg), tb, NETNSA_MAX) ||
	    !tb[NETNSA_NSID] ||
	    nl_attr_get(tb[NETNSA_NSID], &a->nsid, sizeof(a->nsid)))
		return;
	a->found = true;
}

struct nl_peers_arg {
	int32_t nsid;
	int *ifindex;
	int max, n;
};

static void nl_peers_cb(void *arg, const struct nlmsghdr *h)
{
	const struct rtattr *tb[IFLA_MAX + 1] = { 0 };
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct nl_peers_arg *a = arg;
	int32_t id;

	if (h->nlmsg_type != RTM_NEWLINK ||
	    nl_attr_parse(h, sizeof(*ifi), tb, IFLA_MAX) ||
	    !tb[IFLA_LINK_NETNSID] ||
	    nl_attr_get(tb[IFLA_LINK_NETNSID], &id, sizeof(id)) ||
	    id != a->nsid)
		return;
	if (a->n < a->max)
		a->ifindex[a->n] = ifi->ifi_index;
	a->n++;
}

static int nl_link_dump(struct nl *nl, nl_msg_fn fn, void *arg)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct nl_msg m;

	if (!nl_msg_init(&m, buf, sizeof(buf), RTM_GETLINK, NLM_F_DUMP,
			 sizeof(struct ifinfomsg)))
		return m.err;
	return nl_transact(nl, &m, fn, arg);
}

int nl_netns_peers(struct nl *nl, int netns_fd, int *ifindex, int max)
{
	char buf[NL_REQBUF] __attribute__((aligned(4)));
	struct nl_peers_arg pa = { .ifindex = ifindex, .max = max };
	struct nl_nsid_arg na = { 0 };
	struct nl_msg m;
	int ret;

	/* A dump gives every peer namespace of our links an id. */
	ret = nl_link_dump(nl, NULL, NULL);
	if (ret)
		return ret;
	if (!nl_msg_init(&m, buf, sizeof(buf), RTM_GETNSID, 0,
			 sizeof(struct rtgenmsg)))
		return m.err;
	nl_attr_put_u32(&m, NETNSA_FD, (uint32_t)netns_fd);
	ret = nl_transact(nl, &m, nl_nsid_cb, &na);
	if (ret)
		return ret;
	if (!na.found || na.nsid < 0)
		return 0;		/* no link of ours reaches it */
	pa.nsid = na.nsid;
	ret = nl_link_dump(nl, nl_peers_cb, &pa);
	if (ret)
		return ret;
	return pa.n;
}
