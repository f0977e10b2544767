// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private to the data plane (ctl/datapath/): struct datapath, its workers
 * and what the dp_*.c files call of each other. The control side sees only
 * include/mavpn/datapath.h.
 *
 * vpnd's data plane (include/mavpn/datapath.h): overlay veth, XDP, a pool
 * of AF_XDP workers, key table.
 *
 *   host stack -> mavpn0 ==veth, N queues== mavpn0x [xdp_overlay: rxq i
 *        -> XSK ov[i]]  worker i: parse inner IPv4, find peer, seal
 *   -> XSK ul[i] on underlay queue i (Eth/IPv4/UDP built here), or, for a
 *      worker beyond the NIC's queues, sendmmsg on the UDP socket
 *   peer -> underlay NIC [xdp_underlay: UDP to our port, rxq i -> XSK ul[i]]
 *        worker i: dp_decap() (open, replay window, inner check), add Eth
 *   -> XSK ov[i] -> mavpn0x ==veth== mavpn0 -> host stack
 *
 * Threads and locking. The control thread (vpnd's event loop) calls the
 * datapath_* functions. Worker i owns its two AF_XDP sockets and AEAD
 * contexts s->tx[i], s->rx[i] of every session; worker 0 also owns the
 * netlink sockets (next-hop lookups, neighbour events), the kernel UDP
 * socket's receive side and the flush of held packets when a key arrives.
 * dp->lock is an rwlock: workers hold it for reading once per batch, the
 * control thread takes it for writing to change the table's shape (insert
 * a peer, install or retire a session, drop held packets) and for reading
 * to answer queries. Since workers never run while a writer holds the
 * lock, a session can be freed (and its keys wiped) right when it is
 * retired: no RCU needed. A worker takes the write lock only to insert a
 * peer it has never seen (which, in a full table, may reclaim an idle
 * key-less peer: see dp_peer_get() in dp_peer.c). Per packet there is no lock: per-worker
 * contexts, per-worker counters (each written by its worker alone with a
 * plain add, summed by the control thread when status or metrics read
 * them: struct dp_wstats here, the peer's wc[] slots in dp_peer.h), the
 * nonce fetch-add (dp_tx.c), the one atomic shared per packet, and a
 * per-session spinlock around the replay window's update (dp_decap.c).
 */
#ifndef MAVPN_CTL_DATAPATH_DP_INTERNAL_H
#define MAVPN_CTL_DATAPATH_DP_INTERNAL_H

#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mavpn/datapath.h"
#include "mavpn/nl.h"
#include "mavpn/util.h"
#include "mavpn/wire.h"
#include "dp_bpf.h"
#include "dp_ifconf.h"
#include "dp_peer.h"
#include "dp_probe.h"
#include "dp_xsk.h"

#define DP_REQ_MAX		1024	/* queued key requests */
#define DP_NEIGH_REFRESH_MS	5000	/* re-read the kernel's entry */
#define DP_NEIGH_GIVEUP_MS	3000	/* drop held packets after this */
#define DP_ETH_P_IP		0x0800

struct dp_eth {
	uint8_t dst[6], src[6];
	uint16_t proto;
} __attribute__((packed));

_Static_assert(sizeof(struct dp_eth) == MAVPN_ETH_HLEN, "eth");

#define DP_OUTER_LEN	(MAVPN_ETH_HLEN + MAVPN_IP4_HLEN + MAVPN_UDP_HLEN)

/* A worker's own counters (DP_WINC: only it writes them); datapath_stats()
 * sums them over the workers. */
struct dp_wstats {
	uint64_t frames[DP_FRAME__COUNT];
	uint64_t drop[DP_DROP__COUNT];	/* not pinned on a peer */
	uint64_t events[DP_EVENT__COUNT];
};

/*
 * One worker: a thread with its own AF_XDP socket on overlay queue @id and,
 * when the underlay NIC has that many queues, its own socket on underlay
 * queue @id. A worker beyond the underlay's queues still takes its share
 * of the overlay (plaintext -> seal) and sends the sealed datagrams with
 * sendmmsg() on the kernel UDP socket, one syscall per batch: an AF_XDP
 * socket per (device, queue) is all the kernel allows, and sharing one
 * between threads would need a lock per packet. Nothing here is shared:
 * each worker uses its own AEAD context of a session (s->tx[id],
 * s->rx[id]).
 */
struct dp_worker {
	struct datapath *dp;
	int id;
	struct dp_xsk ov;
	struct dp_xsk ul;		/* ul.fd < 0: no underlay queue of ours */
	int wake_fd;			/* worker 0: the datapath's wake_fd */
	uint64_t icmp_ms;		/* last ICMP too-big sent (rate limit) */
	uint64_t sweep_ms;		/* worker 0: last expiry of held packets */
	uint64_t swept;			/* worker 0: bytes expired, not trimmed */
	struct dp_wstats st;
	pthread_t thread;
	int started;
	int init_err;			/* of cfg.worker_init, before ready */
	/* no underlay queue: a batch of sealed datagrams for sendmmsg */
	unsigned int kn;
	struct mmsghdr kmsg[DP_XSK_BATCH];
	struct iovec kiov[DP_XSK_BATCH];
	struct sockaddr_in kto[DP_XSK_BATCH];
	uint8_t kbuf[DP_XSK_BATCH][DP_XSK_FRAME_SIZE];
};

struct datapath {
	struct dp_config cfg;
	char ov_name[IFNAMSIZ], far_name[IFNAMSIZ], ul_name[IFNAMSIZ];
	uint32_t net_mask;		/* overlay prefix mask, network order */
	int ul_ifindex, ov_ifindex, far_ifindex;
	uint8_t ul_mac[DP_ETH_ALEN], ov_mac[DP_ETH_ALEN], far_mac[DP_ETH_ALEN];
	uint32_t ul_ip;			/* fallback source address */
	unsigned int ov_mtu;		/* mavpn0's MTU, from the underlay's */
	/*
	 * Largest inner packet we send: the overlay MTU as set at start, not
	 * the (larger) one the underlay could carry, because it is also what
	 * the peer's mavpn0 accepts (veth drops frames above its MTU).
	 */
	unsigned int inner_max;

	struct nl nl_ctl;		/* control thread: links, addresses */
	struct nl nl_wrk;		/* worker 0: routes, neighbours */
	struct nl nl_ev;		/* worker 0: neighbour-table events */
	struct dp_xdp xdp;
	struct dp_worker *w[DP_WORKERS_MAX];
	int nworkers;
	sem_t workers_ready;		/* posted by each worker after init */
	int ul_queues;			/* underlay rx queues we bind */
	int udp_fd;			/* kernel path for the same port */
	int wake_fd;			/* control -> worker 0 */
	int req_fd;			/* worker -> control */
	int veth_made;

	pthread_rwlock_t lock;
	struct dp_peers peers;

	pthread_mutex_t req_lock;
	uint32_t req[DP_REQ_MAX];
	unsigned int req_head, req_len;

	/* worker 0 only */
	struct dp_peer *neigh_list[DP_MAX_PEERS];
	int neigh_n;
	unsigned long no_route_rl;	/* log_ratelimited() state */

	int stop;			/* atomic */

	struct dp_disco disco;		/* endpoint discovery (dp_probe.c) */

	/* gateway routes; changed under the wrlock, read under rdlock */
	struct dp_route routes[DP_ROUTES_MAX];
	int nroutes;
};

static inline void dp_wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* counter saturated: the reader is awake anyway */
	}
}

static inline int dp_mac_known(struct dp_peer *p)
{
	return DP_LOAD(p->mac) != 0;
}

/* dp_neigh.c: next hops, resolved by worker 0 */
void dp_neigh_want(struct datapath *dp, struct dp_peer *p);
void dp_neigh_ask(struct dp_worker *w, struct dp_peer *p);
void dp_neigh_events(struct dp_worker *w);
void dp_neigh_step(struct dp_worker *w, uint64_t now);

/* dp_tx.c: overlay -> underlay */
void dp_kflush(struct dp_worker *w);
void dp_flush_peer(struct dp_worker *w, struct dp_peer *p, uint64_t now);
void dp_rx_overlay_frame(struct dp_worker *w, const uint8_t *f,
			 uint32_t len, uint64_t now);

/* dp_rx.c: underlay -> overlay */
void dp_rx_underlay_frame(struct dp_worker *w, const uint8_t *f,
			  uint32_t len, uint64_t now);
unsigned int dp_rx_udp(struct dp_worker *w, uint64_t now);
/* One UDP payload from @src:@sport (network order; 0: it came through
 * the relay); the caller holds the rdlock. */
void dp_rx_payload(struct dp_worker *w, const uint8_t *pl, uint32_t len,
		   uint32_t src, uint16_t sport, uint64_t now);

/* dp_probe.c: discovery, path probes, keepalives */
void dp_probe_init(struct datapath *dp);
void dp_probe_fini(struct datapath *dp);
/* worker 0, every loop: discovery requests, probe rounds, keepalives */
void dp_probe_step(struct dp_worker *w, uint64_t now);
/* An authenticated datagram came from @p's endpoint lately. */
int dp_probe_path_alive(struct datapath *dp, const struct dp_peer *p);
/* A datagram of a type other than data from @src:@sport (network order);
 * the caller holds the rdlock. */
void dp_probe_rx(struct dp_worker *w, const uint8_t *pl, uint32_t len,
		 uint32_t src, uint16_t sport, uint64_t now);
/* A data packet from @p opened from @src:@sport: the path is alive, or
 * the peer moved (roaming). */
void dp_probe_data_rx(struct dp_worker *w, struct dp_peer *p, uint32_t src,
		      uint16_t sport, uint64_t now);
/*
 * Datagrams between us and @p may leave from the flow-hash source port
 * (dp_tx.c, for RSS) only when neither side is behind a NAT: we know it
 * from discovery, the peer told us in its probes. Until then, and with a
 * NAT, both sides send from their data port, the one whose NAT mapping
 * the other knows. Both sides compute the same.
 */
static inline int dp_probe_hashed(const struct datapath *dp,
				  const struct dp_peer *p)
{
	return __atomic_load_n(&p->path.peer_direct, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&dp->disco.nat, __ATOMIC_RELAXED);
}

/* Send to @p through the relay (no direct path answered)? */
static inline int dp_probe_relayed(const struct dp_peer *p)
{
	return __atomic_load_n(&p->path.relay, __ATOMIC_RELAXED);
}

/* Seal @pkt under @s and send it to @p through the relay: 0 or -errno. */
int dp_probe_relay_tx(struct dp_worker *w, struct dp_peer *p,
		      struct dp_session *s, const uint8_t *pkt, uint32_t len);

/* The outer UDP source port toward @p: @flow (the flow hash) or ours. */
static inline uint16_t dp_probe_sport(const struct datapath *dp,
				      const struct dp_peer *p, uint16_t flow)
{
	return dp_probe_hashed(dp, p) ? flow : dp->cfg.port;
}

/* dp_worker.c: the worker pool */
int dp_workers_open(struct datapath *dp);
void dp_workers_close(struct datapath *dp);

/* Outer source ports of the flow hash (dp_tx.c): IANA dynamic ports. */
#define DP_SPORT_BASE	49152
#define DP_SPORT_SPAN	64

#endif /* MAVPN_CTL_DATAPATH_DP_INTERNAL_H */
