/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one rtnetlink (NETLINK_ROUTE) module: no libmnl, no shelling out to
 * ip(8). Links (veth pairs, up, mtu, delete), addresses, routes (add,
 * replace, delete, lookup) and the neighbour table (get, NTF_USE, events),
 * in the network namespace the socket was opened in.
 *
 * A request socket carries one transaction at a time: send with
 * NLM_F_ACK, then read until the ack (or NLMSG_DONE of a dump) with our
 * sequence number; replies with another sequence number (late answers to a
 * timed-out request) are skipped. A kernel that never answers costs at most
 * NL_TIMEOUT_MS. One struct nl per thread.
 *
 * Addresses are network order: 4 bytes for AF_INET, 16 for AF_INET6.
 * Every function returns 0 or -errno (the kernel's error for a refused
 * request: -EEXIST, -ESRCH for a missing route, -ENODEV, ...).
 */
#ifndef MAVPN_NL_H
#define MAVPN_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "mavpn/prefix.h"

#define NL_TIMEOUT_MS	2000
#define NL_ETH_ALEN	6

struct nl {
	int fd;
	uint32_t seq;
};

/* A request socket (blocking, NL_TIMEOUT_MS receive timeout). */
int nl_open(struct nl *nl);
/* An event socket: non-blocking, subscribed to @groups (RTMGRP_* bits). */
int nl_open_events(struct nl *nl, uint32_t groups);
/* Accepts a closed or never-opened one (fd < 0). Sets fd to -1. */
void nl_close(struct nl *nl);

/* ---- building and parsing messages ---- */

/*
 * A request under construction in a caller's buffer (4-byte aligned). A
 * put that does not fit sets the sticky error -EMSGSIZE, which
 * nl_transact() returns, so a builder checks once at the end.
 */
struct nl_msg {
	struct nlmsghdr *nlh;
	size_t cap;
	int err;
};

/* Start @type with @flags (NLM_F_REQUEST|NLM_F_ACK are added when sent)
 * and a zeroed family header of @hdrlen bytes; returns that header. */
void *nl_msg_init(struct nl_msg *m, void *buf, size_t cap, uint16_t type,
		  uint16_t flags, size_t hdrlen);
/* Append an attribute; returns it, or NULL (and m->err) if it won't fit. */
struct rtattr *nl_attr_put(struct nl_msg *m, uint16_t type, const void *data,
			   size_t len);
struct rtattr *nl_attr_put_u32(struct nl_msg *m, uint16_t type, uint32_t v);
struct rtattr *nl_attr_put_str(struct nl_msg *m, uint16_t type,
			       const char *s);	/* NUL included */
/* Open a nest (an empty attribute, or one with @hdrlen zeroed bytes of
 * header as VETH_INFO_PEER's ifinfomsg) and close it after its content. */
struct rtattr *nl_nest_start(struct nl_msg *m, uint16_t type, size_t hdrlen);
void nl_nest_end(struct nl_msg *m, struct rtattr *nest);

/*
 * Index the attributes that follow a family header of @hdrlen bytes in
 * @h (or nested in @nest) by type into @tb[0..max]; unknown types above
 * @max are skipped, a later duplicate wins. 0 or -EBADMSG (truncated).
 */
int nl_attr_parse(const struct nlmsghdr *h, size_t hdrlen,
		  const struct rtattr **tb, unsigned int max);
int nl_attr_parse_nested(const struct rtattr *nest, size_t hdrlen,
			 const struct rtattr **tb, unsigned int max);
/* Payload of @a copied to @out if exactly @len bytes long, else -EBADMSG. */
int nl_attr_get(const struct rtattr *a, void *out, size_t len);

/* Called for every data message of a transaction or an event batch. */
typedef void (*nl_msg_fn)(void *arg, const struct nlmsghdr *h);

/*
 * Send @m and consume replies until its ack (or NLMSG_DONE for a dump);
 * @fn (may be NULL) sees the data messages. The kernel's error, 0 on ack,
 * -ETIMEDOUT, -EMSGSIZE (request did not fit, or a reply was truncated).
 */
int nl_transact(struct nl *nl, struct nl_msg *m, nl_msg_fn fn, void *arg);

/*
 * Drain an event socket: @fn for every message queued. Returns how many,
 * or -ENOBUFS if the kernel dropped events (then anything may have
 * changed; the caller rechecks what it tracks).
 */
int nl_events(struct nl *nl, nl_msg_fn fn, void *arg);

/* ---- links ---- */

struct nl_veth {
	const char *name;		/* our end */
	const char *peer;		/* the other end */
	unsigned int mtu;		/* both ends; 0: kernel default */
	unsigned int queues;		/* rx and tx queues, both ends; 0: 1 */
	int peer_netns_fd;		/* > 0: create the peer in that netns */
};

/* Create the pair, down. -EEXIST if @name exists. */
int nl_veth_create(struct nl *nl, const struct nl_veth *v);
/* Create a link of @kind ("dummy", ...) with no kind data, down. */
int nl_link_create(struct nl *nl, const char *name, const char *kind);
/* Delete by name (a veth's peer goes with it). -ENODEV if none. */
int nl_link_del(struct nl *nl, const char *name);
/* Set IFF_UP, and IFF_NOARP if @noarp (clear it otherwise). */
int nl_link_up(struct nl *nl, int ifindex, bool noarp);
int nl_link_down(struct nl *nl, int ifindex);
int nl_link_set_mtu(struct nl *nl, int ifindex, unsigned int mtu);

/* ---- addresses ---- */

/* Add (or replace) @addr/@plen on @ifindex; @family AF_INET or AF_INET6. */
int nl_addr_add(struct nl *nl, int ifindex, int family, const void *addr,
		uint8_t plen);
int nl_addr_del(struct nl *nl, int ifindex, int family, const void *addr,
		uint8_t plen);

/* ---- routes ---- */

/*
 * A route in a table. Exactly one of: @oif (a device route, scope link
 * unless @gw is set), @blackhole. src/gw: family 0 = not set (else a host
 * prefix of the route's family).
 */
struct nl_route {
	struct prefix dst;
	int oif;			/* 0: none */
	bool blackhole;
	struct prefix gw;		/* RTA_GATEWAY */
	struct prefix src;		/* RTA_PREFSRC */
	uint32_t metric;		/* RTA_PRIORITY; 0: none */
	uint32_t table;			/* 0: RT_TABLE_MAIN */
	uint8_t protocol;		/* 0: RTPROT_STATIC */
};

/* Create, -EEXIST if the same route exists. */
int nl_route_add(struct nl *nl, const struct nl_route *r);
/* Create or replace (NLM_F_CREATE | NLM_F_REPLACE). */
int nl_route_replace(struct nl *nl, const struct nl_route *r);
/* -ESRCH if there is no such route. */
int nl_route_del(struct nl *nl, const struct nl_route *r);

/* Where the kernel would send a packet to an address (RTM_GETROUTE). */
struct nl_route_hop {
	int oif;
	uint8_t family;
	uint8_t has_src;
	union { uint32_t v4; uint8_t v6[16]; } nexthop;	/* dst if on-link */
	union { uint32_t v4; uint8_t v6[16]; } src;	/* preferred source */
};

/* -ENETUNREACH (or the kernel's error) if there is no route. */
int nl_route_get(struct nl *nl, int family, const void *dst,
		 struct nl_route_hop *out);

/*
 * The interface of the default route of the main table (@family; the one
 * with the lowest metric when there are several): 0 and *@oif, or
 * -ENETUNREACH if there is none.
 */
int nl_route_default(struct nl *nl, int family, int *oif);

/* ---- neighbours ---- */

enum nl_neigh_state {
	NL_NEIGH_NONE = 0,	/* no usable entry: resolution needed */
	NL_NEIGH_VALID,		/* reachable, permanent or noarp */
	NL_NEIGH_STALE,		/* has a MAC the kernel wants to re-confirm */
};

/* The entry of @addr on @ifindex: fills @mac unless NL_NEIGH_NONE. A
 * missing entry is 0 with NL_NEIGH_NONE. */
int nl_neigh_get(struct nl *nl, int ifindex, int family, const void *addr,
		 uint8_t mac[NL_ETH_ALEN], enum nl_neigh_state *state);
/*
 * Ask the kernel to resolve (or re-confirm) @addr on @ifindex (NTF_USE):
 * as if it had a packet for it, without us sending probe traffic.
 */
int nl_neigh_use(struct nl *nl, int ifindex, int family, const void *addr);

/*
 * Drain a socket opened with nl_open_events(nl, RTMGRP_NEIGH): @fn for
 * every neighbour entry created, changed or deleted. Returns how many, or
 * -ENOBUFS as nl_events(). Also subscribed to RTMGRP_IPV4_IFADDR (or
 * _IPV6_): an address added to or removed from a link comes as @family
 * AF_UNSPEC, @addr NULL, @ifindex that link (next hops and source addresses
 * through it may have changed).
 */
typedef void (*nl_neigh_fn)(void *arg, int ifindex, int family,
			    const void *addr);
int nl_neigh_events(struct nl *nl, nl_neigh_fn fn, void *arg);

/*
 * Our links whose other end lives in the network namespace @netns_fd (an
 * open /run/netns/X or /proc/PID/ns/net): the host side of a container's
 * veth. Up to @max ifindexes into @ifindex; returns how many there are
 * (may exceed @max), 0 if none, or -errno.
 */
int nl_netns_peers(struct nl *nl, int netns_fd, int *ifindex, int max);

#endif /* MAVPN_NL_H */
