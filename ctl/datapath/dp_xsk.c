// SPDX-License-Identifier: GPL-2.0-only
/*
 * AF_XDP socket handling, after bpf-examples AF_XDP-forwarding/xsk_fwd.c but
 * simpler: one umem per socket and one owner thread, so the buffer pool is
 * a plain stack without locks or per-thread caches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>

#include "dp_xsk.h"

/* Open @x bound with @bind_flags; on failure @x is closed again. */
static int xsk_open_flags(struct dp_xsk *x, const char *ifname,
			  uint32_t queue, int xskmap_fd, uint16_t bind_flags)
{
	struct xsk_umem_config ucfg = {
		.fill_size = DP_XSK_RING,
		.comp_size = DP_XSK_RING,
		.frame_size = DP_XSK_FRAME_SIZE,
		.frame_headroom = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = DP_XSK_RING,
		.tx_size = DP_XSK_RING,
		/* our own XDP program owns the interface and the XSKMAP */
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = bind_flags | XDP_USE_NEED_WAKEUP,
	};
	size_t len = (size_t)DP_XSK_FRAMES * DP_XSK_FRAME_SIZE;
	struct xdp_options opts = { 0 };
	socklen_t olen = sizeof(opts);
	uint32_t i;
	int err;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->area = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		return -errno;
	}
	err = xsk_umem__create(&x->umem, x->area, len, &x->fill, &x->comp,
			       &ucfg);
	if (err)
		goto err_unmap;
	err = xsk_socket__create(&x->xsk, ifname, queue, x->umem, &x->rx,
				 &x->tx, &scfg);
	if (err)
		goto err_umem;
	err = xsk_socket__update_xskmap(x->xsk, xskmap_fd);
	if (err)
		goto err_sock;
	x->fd = xsk_socket__fd(x->xsk);
	/* what the kernel gave us, not what we asked for */
	if (!getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opts, &olen) &&
	    (opts.flags & XDP_OPTIONS_ZEROCOPY))
		x->zerocopy = 1;

	for (i = 0; i < DP_XSK_FRAMES; i++)
		x->free[x->nfree++] = (uint64_t)i * DP_XSK_FRAME_SIZE;
	dp_xsk_refill(x);
	return 0;

err_sock:
	xsk_socket__delete(x->xsk);
	x->xsk = NULL;
err_umem:
	xsk_umem__delete(x->umem);
	x->umem = NULL;
err_unmap:
	munmap(x->area, len);
	x->area = NULL;
	return err < 0 ? err : -err;
}

int dp_xsk_open(struct dp_xsk *x, const char *ifname, uint32_t queue,
		int xskmap_fd, enum dp_xdp_mode mode)
{
	int err;

	switch (mode) {
	case DP_XDP_MODE_ZEROCOPY:
		return xsk_open_flags(x, ifname, queue, xskmap_fd,
				      XDP_ZEROCOPY);
	case DP_XDP_MODE_AUTO:
		/* zero copy where the driver has it, else copy */
		err = xsk_open_flags(x, ifname, queue, xskmap_fd,
				     XDP_ZEROCOPY);
		if (!err || err == -ENOMEM)
			return err;
		/* fall through */
	default:
		return xsk_open_flags(x, ifname, queue, xskmap_fd, XDP_COPY);
	}
}

/* Older libc headers lack them (asm-generic/socket.h, Linux 5.11). */
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL	69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET	70
#endif

int dp_xsk_busy_poll(struct dp_xsk *x, unsigned int usec)
{
	int one = 1, us = (int)usec, budget = DP_XSK_BATCH;

	if (setsockopt(x->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one,
		       sizeof(one)) ||
	    setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)) ||
	    setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget,
		       sizeof(budget)))
		return -errno;
	return 0;
}

void dp_xsk_close(struct dp_xsk *x)
{
	if (!x)
		return;
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, (size_t)DP_XSK_FRAMES * DP_XSK_FRAME_SIZE);
	x->xsk = NULL;
	x->umem = NULL;
	x->area = NULL;
	x->fd = -1;
}

/* Move completed TX frames back to the free stack. */
static void dp_xsk_reap(struct dp_xsk *x)
{
	uint32_t idx, n, i;

	n = xsk_ring_cons__peek(&x->comp, DP_XSK_RING, &idx);
	for (i = 0; i < n; i++)
		dp_xsk_frame_put(x, *xsk_ring_cons__comp_addr(&x->comp,
							      idx + i));
	if (n)
		xsk_ring_cons__release(&x->comp, n);
}

void dp_xsk_refill(struct dp_xsk *x)
{
	uint32_t idx, n, i;

	if (x->nfree <= DP_XSK_TX_RESERVE)
		return;
	n = xsk_prod_nb_free(&x->fill, x->nfree - DP_XSK_TX_RESERVE);
	if (n > x->nfree - DP_XSK_TX_RESERVE)
		n = x->nfree - DP_XSK_TX_RESERVE;
	if (!n || xsk_ring_prod__reserve(&x->fill, n, &idx) != n)
		return;
	for (i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) =
			x->free[--x->nfree];
	xsk_ring_prod__submit(&x->fill, n);
	/* A zero-copy driver that ran out of rx frames waits to be told;
	 * copy mode never sets the flag. */
	if (xsk_ring_prod__needs_wakeup(&x->fill))
		recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

int dp_xsk_frame_get(struct dp_xsk *x, uint64_t *addr)
{
	if (!x->nfree)
		dp_xsk_reap(x);
	if (!x->nfree)
		return -ENOBUFS;
	*addr = x->free[--x->nfree];
	return 0;
}

/* Publish the descriptors written since the last submit, give back the
 * slots reserved but not used. */
static void dp_xsk_tx_submit(struct dp_xsk *x)
{
	if (x->tx_used) {
		xsk_ring_prod__submit(&x->tx, x->tx_used);
		x->tx_queued += x->tx_used;
	}
	x->tx.cached_prod -= x->tx_res - x->tx_used;
	x->tx_res = x->tx_used = 0;
}

/* One reservation of up to a batch of TX slots. */
static int dp_xsk_tx_reserve(struct dp_xsk *x)
{
	uint32_t n;

	dp_xsk_tx_submit(x);
	n = xsk_prod_nb_free(&x->tx, DP_XSK_BATCH);
	if (n > DP_XSK_BATCH)
		n = DP_XSK_BATCH;
	if (!n || xsk_ring_prod__reserve(&x->tx, n, &x->tx_idx) != n)
		return -ENOBUFS;
	x->tx_res = n;
	return 0;
}

int dp_xsk_tx(struct dp_xsk *x, uint64_t addr, uint32_t len)
{
	struct xdp_desc *d;

	if (x->tx_used == x->tx_res && dp_xsk_tx_reserve(x)) {
		/* The kernel may just be behind: push what is queued. */
		dp_xsk_kick(x);
		if (dp_xsk_tx_reserve(x)) {
			dp_xsk_frame_put(x, addr);
			return -ENOBUFS;
		}
	}
	d = xsk_ring_prod__tx_desc(&x->tx, x->tx_idx + x->tx_used++);
	d->addr = addr;
	d->len = len;
	d->options = 0;
	return 0;
}

void dp_xsk_kick(struct dp_xsk *x)
{
	int i;

	dp_xsk_tx_submit(x);
	/*
	 * need_wakeup: a zero-copy driver that is still draining the ring
	 * clears the flag and needs no syscall. Copy mode transmits only
	 * from inside sendto() (the flag stays set), at most 32 frames per
	 * call, and says EAGAIN while more are queued. EBUSY and ENOBUFS
	 * mean the device is full: keep tx_queued so the next loop
	 * iteration tries again.
	 */
	if (x->tx_queued && !xsk_ring_prod__needs_wakeup(&x->tx))
		x->tx_queued = 0;
	for (i = 0; x->tx_queued && i < DP_XSK_RING / 32; i++) {
		if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			x->tx_queued = 0;
		else if (errno != EAGAIN)
			break;
	}
	dp_xsk_reap(x);
}
