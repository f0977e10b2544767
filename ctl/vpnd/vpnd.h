// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private to vpnd (vpnd.c, keys.c, verbs.c): the daemon's state, struct
 * vpnd, and what those files call of each other.
 */
#ifndef MAVPN_CTL_VPND_VPND_H
#define MAVPN_CTL_VPND_VPND_H

#include <arpa/inet.h>
#include <net/if.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/linesock.h"
#include "dns.h"
#include "mavpn/shim_abi.h"
#include "mavpn/nl.h"
#include "keys.h"
#include "mavpn/datapath.h"
#include "state.h"

#define VPND_OVERLAY_IFNAME	"mavpn0"
#define VPND_MAX_FLOWS		512
#define VPND_MAX_RESOLVES	32
/* Exit status when the default route moved to another interface (no
 * --iface): start vpnd again to follow it (EX_TEMPFAIL). */
#define VPND_EXIT_MOVED		75

#define VPND_MAX_FDECS		256	/* flow decisions in flight */
#define VPND_MAX_NETNS		64	/* attached network namespaces */
#define VPND_NETNS_LINKS	8	/* our links into one of them */

/* An attached network namespace (verbs.c): its forwarded traffic may
 * enter the overlay through these links of ours. */
struct vpnd_netns {
	char path[PATH_MAX];		/* "" = free */
	int ifindex[VPND_NETNS_LINKS];
	int n;
};

/* Who opened a flow: the process's uid/gid and their names here. */
struct flow_user {
	bool has;			/* false: not known (data plane) */
	uint32_t uid, gid;		/* gid SHIM_GID_NONE: not known */
	char user[CTLMSG_NAME_MAX];	/* "" if the uid has no name */
	char group[CTLMSG_NAME_MAX];
};

/* A FLOW_REQ in flight (keys.c): the flow's key in the `flows` map. */
struct fdec {
	struct shim_fkey k;
	uint32_t req_id;		/* 0: slot free */
	uint64_t until;			/* ms: given up after this */
	struct flow_user u;
	char app[CTLMSG_APP_MAX];
};

enum flow_state {
	FLOW_FREE = 0,
	FLOW_WAITING,		/* wants a key; channel down, not sent yet */
	FLOW_REQUESTED,		/* KEY_REQ sent, req_id set */
	FLOW_DENIED,		/* hold-down after a DENY */
};

struct flow {
	enum flow_state state;
	uint32_t dst;		/* network order */
	uint32_t req_id;
	uint64_t until;		/* give up / hold-down end (ms) */
	uint16_t dport;		/* of the flow that asked, 0 = unknown */
	uint8_t proto;
	struct flow_user u;
	char app[CTLMSG_APP_MAX];
};

/* A key we asked for, renewed before it expires (keys.c). */
struct renew {
	uint32_t dst;		/* network order; 0 = free */
	uint64_t at;		/* ms; UINT64_MAX: renewal in flight */
	uint64_t pkts;		/* tx+rx packets when last granted */
	uint16_t dport;
	uint8_t proto;
	struct flow_user u;
	char app[CTLMSG_APP_MAX];
};

struct resolve {
	struct linesock_req *req;	/* NULL: slot free */
	uint32_t req_id;
	uint64_t until;
	char name[CTLMSG_NAME_MAX];
};

struct vpnd_opts {
	const char *state_dir;
	const char *iface;		/* NULL: follow the default route */
	const char *sock_path;
	int workers;
	enum dp_xdp_mode xdp_mode;	/* --xdp-mode */
	unsigned int busy_poll_us;	/* --busy-poll, 0: off */
	uint16_t port;
	const char *metrics;		/* --metrics ADDR:PORT, NULL: off */
	uint32_t keepalive_s;		/* --keepalive, 0: the default */
};

struct vpnd {
	const struct vpnd_opts *o;
	/* the underlay: --iface, or the default route's interface (follow) */
	char iface[IF_NAMESIZE];
	int ul_ifindex;
	bool follow;			/* no --iface: follow the default route */
	bool moved;			/* the default route moved: exit for a
					 * restart on the new interface */
	struct nl nl_route;		/* follow: route events */
	struct vpnd_state st;
	uint32_t net, mask;		/* overlay prefix, network order */
	struct datapath *dp;
	struct shim *shim;
	struct flowlog *fl;
	struct gw *gw;			/* gateway routes (the table) */
	struct route *rt;		/* ... applied (route.h) */
	char attached_file[PATH_MAX];
	struct linesock *cs;		/* the control socket */
	struct promhttp *metrics;	/* NULL unless --metrics */
	struct chan *ch;
	struct dns *dns;			/* DNS names (dns.h) */
	int epfd, tfd, sfd;
	bool stop;
	uint32_t next_req_id;
	unsigned long flows_full_rl;	/* log_ratelimited() state */
	bool policy_open;		/* the server has no policy */
	struct vpnd_netns netns[VPND_MAX_NETNS];
	struct fdec fdecs[VPND_MAX_FDECS];
	struct flow flows[VPND_MAX_FLOWS];
	struct renew renews[VPND_MAX_FLOWS];
	struct resolve resolves[VPND_MAX_RESOLVES];
	uint64_t cnt[KEYS__COUNT];	/* keys.h */
};

/*
 * The data plane's peers now (datapath_peer_stats), room for all of them:
 * the caller's to read and free(). NULL (*@n = 0) if out of memory.
 */
struct dp_peer_stats *vpnd_peers(struct vpnd *v, int *n);

static inline const char *vpnd_ip4(uint32_t a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

#endif /* MAVPN_CTL_VPND_VPND_H */
