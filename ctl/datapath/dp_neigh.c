// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data plane: next-hop resolution. Worker 0 alone talks to the kernel
 * (RTM_GETROUTE, RTM_GETNEIGH, NTF_USE, neighbour events) and publishes
 * each peer's MAC as one atomic word; other workers ask it through a
 * per-peer flag and the wake eventfd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "mavpn/log.h"
#include "dp_internal.h"

/* --- neighbour resolution (worker 0) ------------------------------------ */

void dp_neigh_want(struct datapath *dp, struct dp_peer *p)
{
	if (p->neigh_queued || dp->neigh_n >= DP_MAX_PEERS)
		return;
	p->neigh_queued = 1;
	dp->neigh_list[dp->neigh_n++] = p;
}

/* Any worker: have worker 0 (the only one with a resolve list) look up
 * @p's next hop. The flag makes this one wakeup per lookup, not per packet. */
void dp_neigh_ask(struct dp_worker *w, struct dp_peer *p)
{
	if (!w->id) {
		dp_neigh_want(w->dp, p);
		return;
	}
	if (!__atomic_exchange_n(&p->neigh_flag, 1, __ATOMIC_ACQ_REL))
		dp_wake(w->dp->wake_fd);
}

/*
 * Look the peer's next hop up in the kernel: route, then neighbour entry.
 * A STALE entry is used (like the kernel does) while NTF_USE makes the
 * kernel re-confirm it: our traffic bypasses the stack, so nothing else
 * would keep the entry fresh. Returns 1 if a MAC is known.
 */
static int neigh_resolve(struct datapath *dp, struct dp_peer *p, uint64_t now)
{
	enum nl_neigh_state st;
	struct nl_route_hop hop;
	uint8_t mac[DP_ETH_ALEN];
	uint32_t nh;
	int err;

	err = nl_route_get(&dp->nl_wrk, AF_INET, &p->underlay_ip, &hop);
	if (!err && hop.oif != dp->ul_ifindex)
		err = -EXDEV;
	if (err) {
		if (log_ratelimited(&dp->no_route_rl))
			log_warn("datapath: no route to peer via underlay peer=%s underlay=%s err=%s",
				 p->name, inet_ntoa((struct in_addr){ p->underlay_ip }),
				 strerror(-err));
		return dp_mac_known(p);
	}
	nh = hop.nexthop.v4;
	DP_STORE(p->src_ip, hop.has_src ? hop.src.v4 : dp->ul_ip);
	p->nh_ip = nh;
	err = nl_neigh_get(&dp->nl_wrk, hop.oif, AF_INET, &nh, mac, &st);
	if (err)
		return dp_mac_known(p);
	if (st != NL_NEIGH_NONE) {
		uint64_t m = 0;

		memcpy(&m, mac, DP_ETH_ALEN);
		/* one store: the other workers see the old or the new MAC */
		__atomic_store_n(&p->mac, m, __ATOMIC_RELEASE);
		DP_STORE(p->neigh_at_ms, now);
		p->neigh_wait_ms = 0;
	}
	if (st != NL_NEIGH_VALID)
		nl_neigh_use(&dp->nl_wrk, hop.oif, AF_INET, &nh);
	return dp_mac_known(p);
}

/* A neighbour entry changed: re-resolve every peer behind that next hop
 * (@ip 0: every peer). */
static void neigh_changed(struct datapath *dp, int ifindex, uint32_t ip)
{
	struct dp_peer *p;
	unsigned int h;

	if (ifindex != dp->ul_ifindex)
		return;
	for (h = 0; h < (1u << DP_HASH_BITS); h++)
		for (p = dp->peers.by_ip[h]; p; p = p->ip_next)
			if (p->underlay_ip && (p->nh_ip == ip || ip == 0))
				dp_neigh_want(dp, p);
}

static void neigh_event(void *arg, int ifindex, int family, const void *addr)
{
	uint32_t ip;

	/* Our underlay address changed: new source address (and maybe next
	 * hop) toward every peer. */
	if (family == AF_UNSPEC) {
		neigh_changed(arg, ifindex, 0);
		return;
	}
	if (family != AF_INET)
		return;
	memcpy(&ip, addr, sizeof(ip));
	neigh_changed(arg, ifindex, ip);
}

/*
 * Worker 0: drain neighbour events. This is what makes the outer MAC
 * follow the kernel's table at once (a peer's new MAC, announced by
 * gratuitous ARP, or an ARP reply we were waiting for with packets held)
 * rather than at the next periodic refresh.
 */
void dp_neigh_events(struct dp_worker *w)
{
	struct datapath *dp = w->dp;

	pthread_rwlock_rdlock(&dp->lock);
	if (nl_neigh_events(&dp->nl_ev, neigh_event, dp) == -ENOBUFS)
		neigh_changed(dp, dp->ul_ifindex, 0);	/* lost some: all */
	pthread_rwlock_unlock(&dp->lock);
}

void dp_neigh_step(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	int i, keep = 0;

	if (!dp->neigh_n)
		return;
	pthread_rwlock_rdlock(&dp->lock);
	for (i = 0; i < dp->neigh_n; i++) {
		struct dp_peer *p = dp->neigh_list[i];
		int had = dp_mac_known(p);

		if (p->underlay_ip && neigh_resolve(dp, p, now) &&
		    (!had || p->neigh_at_ms == now)) {
			p->neigh_queued = 0;
			dp_flush_peer(w, p, now);
			continue;
		}
		if (!p->neigh_wait_ms)
			p->neigh_wait_ms = now;
		if (now - p->neigh_wait_ms > DP_NEIGH_GIVEUP_MS) {
			/* unresolvable: stop holding, the next packet retries */
			uint32_t k;

			pthread_mutex_lock(&p->pend_lock);
			k = dp_pending_drop(&dp->peers, p);
			pthread_mutex_unlock(&p->pend_lock);
			DP_ADD(p->drop[DP_DROP_PENDING], k);
			p->neigh_wait_ms = 0;
			p->neigh_queued = 0;
			continue;
		}
		dp->neigh_list[keep++] = p;
	}
	dp->neigh_n = keep;
	pthread_rwlock_unlock(&dp->lock);
}
