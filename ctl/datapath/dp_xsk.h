/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One AF_XDP socket with its own umem (libxdp xsk API), owned by
 * exactly one worker thread: nothing here is thread safe.
 *
 * Frame ownership: every umem frame is in exactly one place at a time: the
 * fill ring (kernel will write an rx frame into it), the rx ring (kernel
 * wrote it, the worker has not consumed it), the worker's free stack, the
 * tx ring, or the completion ring (kernel sent it, not reaped yet). The
 * worker moves frames free -> fill, rx -> free, free -> tx, comp -> free.
 */
#ifndef MAVPN_CTL_DATAPATH_DP_XSK_H
#define MAVPN_CTL_DATAPATH_DP_XSK_H

#include <stdint.h>
#include <sys/socket.h>
#include <xdp/xsk.h>

#include "mavpn/datapath.h"

#define DP_XSK_FRAMES		4096
#define DP_XSK_FRAME_SIZE	2048
#define DP_XSK_RING		2048
/* Frames the fill ring never takes, so TX always has some. */
#define DP_XSK_TX_RESERVE	512
#define DP_XSK_BATCH		64

struct dp_xsk {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	void *area;
	uint64_t free[DP_XSK_FRAMES];	/* stack of free frame addresses */
	uint32_t nfree;
	uint32_t tx_idx, tx_res, tx_used; /* the reserved TX slots */
	uint32_t tx_queued;		/* submitted since the last kick */
	int fd;
	int zerocopy;			/* bound in XDP_ZEROCOPY mode */
};

/*
 * Bind to @ifname queue @queue and add to @xskmap_fd. @mode: copy,
 * zero copy (fails where the driver has none) or auto (zero copy, else
 * copy); x->zerocopy says what the kernel gave.
 */
int dp_xsk_open(struct dp_xsk *x, const char *ifname, uint32_t queue,
		int xskmap_fd, enum dp_xdp_mode mode);
/* Kernel busy polling on @x (SO_BUSY_POLL @usec, preferred, a batch as
 * budget); needs CAP_NET_ADMIN. 0 or -errno. */
int dp_xsk_busy_poll(struct dp_xsk *x, unsigned int usec);
/* One busy-poll pass of the device queue's NAPI in our context (with
 * dp_xsk_busy_poll() set; without, a cheap no-op syscall). */
static inline void dp_xsk_napi_poll(struct dp_xsk *x)
{
	if (x->fd >= 0)
		recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}
/* Accepts a zeroed or half-open struct. */
void dp_xsk_close(struct dp_xsk *x);

static inline void *dp_xsk_data(struct dp_xsk *x, uint64_t addr)
{
	return xsk_umem__get_data(x->area, addr);
}

static inline void dp_xsk_frame_put(struct dp_xsk *x, uint64_t addr)
{
	x->free[x->nfree++] = xsk_umem__extract_addr(addr);
}

/* Give free frames (beyond the TX reserve) to the kernel for rx. */
void dp_xsk_refill(struct dp_xsk *x);
/* A free frame for TX, or -ENOBUFS. */
int dp_xsk_frame_get(struct dp_xsk *x, uint64_t *addr);
/* Queue @len bytes at frame @addr for TX (slots are reserved a batch at a
 * time, published by the next kick); on -ENOBUFS the frame is freed. */
int dp_xsk_tx(struct dp_xsk *x, uint64_t addr, uint32_t len);
/* Publish queued TX and wake the kernel if it asks (copy mode always). */
void dp_xsk_kick(struct dp_xsk *x);

/* Frames waiting in the rx ring? */
static inline int dp_xsk_rx_ready(struct dp_xsk *x)
{
	return x->fd >= 0 && xsk_cons_nb_avail(&x->rx, 1) > 0;
}

#endif /* MAVPN_CTL_DATAPATH_DP_XSK_H */
