// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data plane: the worker pool. One thread per worker, its AF_XDP
 * sockets, the poll loop; worker 0 also flushes held packets when a key
 * arrives.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "mavpn/log.h"
#include "dp_internal.h"

/* --- the worker --------------------------------------------------------- */

typedef void (*rx_fn)(struct dp_worker *w, const uint8_t *f, uint32_t len,
		      uint64_t now);

/* One batch from @x; returns how many frames it took. */
static unsigned int rx_batch(struct dp_worker *w, struct dp_xsk *x, rx_fn fn,
			     uint64_t now)
{
	struct datapath *dp = w->dp;
	uint32_t idx, n, i;

	n = xsk_ring_cons__peek(&x->rx, DP_XSK_BATCH, &idx);
	if (!n)
		return 0;
	pthread_rwlock_rdlock(&dp->lock);
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx,
								  idx + i);

		fn(w, dp_xsk_data(x, d->addr), d->len, now);
		dp_xsk_frame_put(x, d->addr);
	}
	pthread_rwlock_unlock(&dp->lock);
	xsk_ring_cons__release(&x->rx, n);
	return n;
}

/* Worker 0, when woken: flush held packets, collect neighbour requests. */
static void flush_all(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	unsigned int h;
	struct dp_peer *p;

	pthread_rwlock_rdlock(&dp->lock);
	for (h = 0; h < (1u << DP_HASH_BITS); h++) {
		for (p = dp->peers.by_ip[h]; p; p = p->ip_next) {
			if (__atomic_exchange_n(&p->neigh_flag, 0,
						__ATOMIC_ACQ_REL))
				dp_neigh_want(dp, p);
			if (!p->pend_head)
				continue;
			if (dp_session_tx_live(dp_tx_session(p, now), now) &&
			    !dp_mac_known(p))
				dp_neigh_want(dp, p);
			dp_flush_peer(w, p, now);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
}

/*
 * Worker 0, every DP_HOLD_SWEEP_MS: expire held packets older than
 * DP_PENDING_TTL_MS for every peer, so that what an app sprayed at
 * addresses that never get a key goes away on a timer and not only when
 * the next packet for the same address comes. Once a sweep emptied the
 * account, the freed memory goes back to the system (the packets were
 * allocated by any worker, in its own malloc arena).
 */
static void hold_sweep(struct dp_worker *w, uint64_t now)
{
	struct datapath *dp = w->dp;
	struct dp_peers *t = &dp->peers;
	unsigned int h;
	struct dp_peer *p;

	if (now - w->sweep_ms < DP_HOLD_SWEEP_MS)
		return;
	w->sweep_ms = now;
	pthread_rwlock_rdlock(&dp->lock);
	for (h = 0; h < (1u << DP_HASH_BITS); h++) {
		for (p = t->by_ip[h]; p; p = p->ip_next) {
			if (!__atomic_load_n(&p->pend_head, __ATOMIC_RELAXED))
				continue;
			pthread_mutex_lock(&p->pend_lock);
			w->swept += dp_pending_expire(t, p, now);
			pthread_mutex_unlock(&p->pend_lock);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
	if (w->swept >= DP_HELD_BYTES_MAX / 4 && !DP_LOAD(t->held_bytes)) {
		malloc_trim(0);
		w->swept = 0;
	}
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * --busy-poll: before sleeping, run the NAPI of our sockets' device
 * queues from this thread (each recvfrom() is one busy-poll pass, see
 * dp_xsk_napi_poll()) until a ring has frames or @usec passed. 1 if
 * frames came.
 */
static int busy_wait(struct dp_worker *w, unsigned int usec)
{
	uint64_t t0 = mono_us();

	do {
		dp_xsk_napi_poll(&w->ov);
		dp_xsk_napi_poll(&w->ul);
		if (dp_xsk_rx_ready(&w->ov) || dp_xsk_rx_ready(&w->ul))
			return 1;
	} while (mono_us() - t0 < usec);
	return 0;
}

/*
 * The loop of every worker: sleep in poll() until a socket has frames,
 * then take a batch from each ring, kick TX once per batch (copy mode
 * needs a syscall per kick), and give rx frames back to the kernel.
 * While a ring yields full batches, or frames wait in an rx ring after
 * the kicks, the worker polls without sleeping; with --busy-poll it
 * busy-polls the devices for a while before it sleeps (busy_wait()).
 * Worker 0 also drains the kernel UDP socket, resolves next hops and
 * flushes held packets when the control thread installs a key.
 */
static void *worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct datapath *dp = w->dp;
	struct pollfd pfd[5];
	int npfd = 0, i_ul = -1, i_udp = -1, i_ev = -1, i_wake, busy = 0;

	if (dp->cfg.worker_init)
		w->init_err = dp->cfg.worker_init(dp->cfg.worker_arg);
	sem_post(&dp->workers_ready);
	if (w->init_err)
		return NULL;
	pfd[npfd++] = (struct pollfd){ .fd = w->ov.fd, .events = POLLIN };
	if (w->ul.fd >= 0) {
		i_ul = npfd;
		pfd[npfd++] = (struct pollfd){ .fd = w->ul.fd, .events = POLLIN };
	}
	if (!w->id) {
		i_udp = npfd;
		pfd[npfd++] = (struct pollfd){ .fd = dp->udp_fd, .events = POLLIN };
		i_ev = npfd;
		pfd[npfd++] = (struct pollfd){ .fd = dp->nl_ev.fd, .events = POLLIN };
	}
	i_wake = npfd;
	pfd[npfd++] = (struct pollfd){ .fd = w->wake_fd, .events = POLLIN };

	while (!__atomic_load_n(&dp->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now, v;
		int timeout = busy ? 0 : (!w->id && dp->neigh_n) ? 10 : 200;

		if (!busy && dp->cfg.busy_poll_us &&
		    busy_wait(w, dp->cfg.busy_poll_us))
			timeout = 0;
		if (poll(pfd, npfd, timeout) < 0 && errno != EINTR)
			break;
		now = mono_ms();
		if ((pfd[i_wake].revents & POLLIN) &&
		    read(w->wake_fd, &v, sizeof(v)) > 0 && !w->id)
			flush_all(w, now);
		busy = rx_batch(w, &w->ov, dp_rx_overlay_frame, now) ==
		       DP_XSK_BATCH;
		if (i_ul >= 0)
			busy |= rx_batch(w, &w->ul, dp_rx_underlay_frame, now) ==
				DP_XSK_BATCH;
		if (i_udp >= 0 && (pfd[i_udp].revents & POLLIN))
			busy |= dp_rx_udp(w, now) == DP_XSK_BATCH;
		if (i_ev >= 0 && (pfd[i_ev].revents & POLLIN))
			dp_neigh_events(w);
		if (!w->id) {
			dp_neigh_step(w, now);
			hold_sweep(w, now);
			dp_probe_step(w, now);
		}
		if (w->kn)
			dp_kflush(w);
		if (i_ul >= 0)
			dp_xsk_kick(&w->ul);
		dp_xsk_kick(&w->ov);
		dp_xsk_refill(&w->ov);
		if (i_ul >= 0)
			dp_xsk_refill(&w->ul);
		/* A kick runs the kernel's TX path in our context (copy
		 * mode), which may have put frames into our rx rings: look
		 * again before sleeping. (Skipping the poll() then as well
		 * broke test_multihomed: not kept.) */
		if (dp_xsk_rx_ready(&w->ov) || dp_xsk_rx_ready(&w->ul))
			busy = 1;
	}
	return NULL;
}

/* Stop every worker and free what dp_workers_open() made; partial ok. */
void dp_workers_close(struct datapath *dp)
{
	int i;

	/* all stop before any socket goes: a worker may use any of them */
	__atomic_store_n(&dp->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < dp->nworkers; i++)
		if (dp->w[i] && dp->w[i]->started)
			dp_wake(dp->w[i]->wake_fd);
	for (i = 0; i < dp->nworkers; i++) {
		struct dp_worker *w = dp->w[i];

		if (!w)
			continue;
		if (w->started)
			pthread_join(w->thread, NULL);
		dp_xsk_close(&w->ul);
		dp_xsk_close(&w->ov);
		if (i && w->wake_fd >= 0)
			close(w->wake_fd);
		free(w);
		dp->w[i] = NULL;
	}
	sem_destroy(&dp->workers_ready);
}

static int busy_poll(struct datapath *dp, struct dp_xsk *x,
		     const char *ifname, int queue)
{
	int err;

	if (!dp->cfg.busy_poll_us)
		return 0;
	err = dp_xsk_busy_poll(x, dp->cfg.busy_poll_us);
	if (err)
		log_err("datapath: busy polling refused iface=%s queue=%d err=%s",
			ifname, queue, strerror(-err));
	return err;
}

/*
 * Worker i: AF_XDP socket on overlay queue i (the veth has one queue per
 * worker) and on underlay queue i if the NIC has it; then the threads.
 */
int dp_workers_open(struct datapath *dp)
{
	struct dp_worker *w;
	int i, err;

	sem_init(&dp->workers_ready, 0, 0);
	for (i = 0; i < dp->nworkers; i++) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		dp->w[i] = w;
		w->dp = dp;
		w->id = i;
		w->ov.fd = w->ul.fd = -1;
		w->wake_fd = i ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) :
				 dp->wake_fd;
		if (w->wake_fd < 0) {
			err = -errno;
			log_err("datapath: eventfd failed err=%s",
				strerror(-err));
			return err;
		}
		/* veth has no zero copy */
		err = dp_xsk_open(&w->ov, dp->far_name, i,
				  dp_xdp_ov_xskmap(&dp->xdp), DP_XDP_MODE_COPY);
		if (err) {
			log_err("datapath: AF_XDP socket failed iface=%s queue=%d err=%s",
				dp->far_name, i, strerror(-err));
			return err;
		}
		err = busy_poll(dp, &w->ov, dp->far_name, i);
		if (err)
			return err;
		if (i >= dp->ul_queues)
			continue;
		err = dp_xsk_open(&w->ul, dp->ul_name, i,
				  dp_xdp_ul_xskmap(&dp->xdp), dp->cfg.xdp_mode);
		if (err && dp->cfg.xdp_mode == DP_XDP_MODE_ZEROCOPY) {
			log_err("datapath: AF_XDP zero-copy not available iface=%s queue=%d err=%s (use --xdp-mode auto or copy)",
				dp->ul_name, i, strerror(-err));
			return err;
		}
		if (err) {
			log_err("datapath: AF_XDP socket failed iface=%s queue=%d err=%s",
				dp->ul_name, i, strerror(-err));
			return err;
		}
		err = busy_poll(dp, &w->ul, dp->ul_name, i);
		if (err)
			return err;
	}
	for (i = 0; i < dp->nworkers; i++) {
		w = dp->w[i];
		err = -pthread_create(&w->thread, NULL, worker_main, w);
		if (err) {
			log_err("datapath: worker thread failed err=%s",
				strerror(-err));
			return err;
		}
		w->started = 1;
	}
	/* Each worker ran cfg.worker_init before it posts. */
	for (i = 0; i < dp->nworkers; i++)
		while (sem_wait(&dp->workers_ready) < 0 && errno == EINTR)
			;
	for (i = 0; i < dp->nworkers; i++) {
		err = dp->w[i]->init_err;
		if (err) {
			log_err("datapath: worker %d setup failed err=%s", i,
				strerror(-err));
			return err;
		}
	}
	return 0;
}
