// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "mavpn/log.h"
#include "dp_bpf.h"
#include "xdp_overlay.skel.h"
#include "xdp_underlay.skel.h"

static int legacy_forced(void)
{
	const char *v = getenv("MAVPN_XDP_LEGACY");

	return v && *v && strcmp(v, "0");
}

/*
 * While libxdp probes its dispatcher, libbpf and libxdp print the probe's
 * expected failures as warnings; keep them at debug level so an operator
 * does not read them as errors. Whoever set the process's printers (vpnd's
 * main) gets them back right after.
 */
static int quiet_print(const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	log_debug("datapath: libxdp probe: %s", line);
	return 0;
}

static int quiet_libbpf(enum libbpf_print_level lvl, const char *fmt,
			va_list ap)
{
	(void)lvl;
	return quiet_print(fmt, ap);
}

static int quiet_libxdp(enum libxdp_print_level lvl, const char *fmt,
			va_list ap)
{
	(void)lvl;
	return quiet_print(fmt, ap);
}

/*
 * libxdp silently falls back to attaching a single program when the kernel
 * refuses its dispatcher (this 6.18 kernel does, with EPERM); find out
 * which one we got, for the log.
 */
static int uses_dispatcher(int ifindex)
{
	struct xdp_multiprog *m = xdp_multiprog__get_from_ifindex(ifindex);
	int ret = 0;

	if (m && !libxdp_get_error(m)) {
		ret = !xdp_multiprog__is_legacy(m);
		xdp_multiprog__close(m);
	}
	return ret;
}

/*
 * Try the libxdp dispatcher with @obj opened but not loaded: libxdp loads
 * it itself (as an freplace extension of its dispatcher). On failure the
 * object may be half loaded, so the caller reopens its skeleton before the
 * legacy path.
 */
static int attach_libxdp(struct bpf_object *obj, struct bpf_program *prog,
			 struct dp_xdp_link *l)
{
	struct xdp_program *mp;
	int err;

	libbpf_print_fn_t old_bpf;
	libxdp_print_fn_t old_xdp;

	mp = xdp_program__from_bpf_obj(obj, "xdp");
	err = libxdp_get_error(mp);
	if (err)
		return err < 0 ? err : -err;
	old_bpf = libbpf_set_print(quiet_libbpf);
	old_xdp = libxdp_set_print(quiet_libxdp);
	err = xdp_program__attach(mp, l->ifindex, XDP_MODE_NATIVE, 0);
	libxdp_set_print(old_xdp);
	libbpf_set_print(old_bpf);
	if (err) {
		xdp_program__close(mp);
		return err < 0 ? err : -err;
	}
	l->mprog = mp;
	l->prog_fd = bpf_program__fd(prog);
	l->dispatcher = uses_dispatcher(l->ifindex);
	return 0;
}

/*
 * A vpnd killed with SIGKILL leaves its xdp_underlay attached (the kernel
 * holds it, not the process). It is harmless (its XSKMAP is empty, so it
 * passes everything) but blocks a single-program attach; the name is ours
 * and there is one vpnd per network namespace, so take it off.
 */
static void remove_stale(int ifindex, const char *name)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	int i, err;

	for (i = 0; i < 8; i++) {
		mp = xdp_multiprog__get_from_ifindex(ifindex);
		if (!mp || libxdp_get_error(mp))
			return;
		if (xdp_multiprog__is_legacy(mp)) {
			p = xdp_multiprog__main_prog(mp);
		} else {
			for (p = xdp_multiprog__next_prog(NULL, mp); p;
			     p = xdp_multiprog__next_prog(p, mp))
				if (!strcmp(xdp_program__name(p), name))
					break;
		}
		if (!p || strcmp(xdp_program__name(p), name)) {
			xdp_multiprog__close(mp);
			return;
		}
		log_warn("datapath: removing stale XDP program %s ifindex=%d",
			 name, ifindex);
		if (xdp_multiprog__is_legacy(mp)) {
			LIBBPF_OPTS(bpf_xdp_attach_opts, opts,
				    .old_prog_fd = xdp_program__fd(p));

			/* we only ever attach in native mode */
			err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE |
					     XDP_FLAGS_REPLACE, &opts);
		} else {
			err = xdp_program__detach(p, ifindex, XDP_MODE_NATIVE,
						  0);
		}
		xdp_multiprog__close(mp);
		if (err)
			return;
	}
}

static int attach_legacy(struct bpf_program *prog, struct dp_xdp_link *l)
{
	int err;

	l->prog_fd = bpf_program__fd(prog);
	/* no REPLACE flag: refuse to kick out someone else's program */
	err = bpf_xdp_attach(l->ifindex, l->prog_fd,
			     XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
			     NULL);
	if (err)
		l->prog_fd = -1;
	return err;
}

int dp_xdp_attach_overlay(struct dp_xdp *x, int ifindex)
{
	int err;

	x->ov_link.ifindex = ifindex;
	x->ov = xdp_overlay__open();
	if (!x->ov)
		return -errno;
	if (!legacy_forced() &&
	    !attach_libxdp(x->ov->obj, x->ov->progs.xdp_overlay, &x->ov_link))
		return 0;

	xdp_overlay__destroy(x->ov);
	x->ov = xdp_overlay__open_and_load();
	if (!x->ov)
		return -errno;
	err = attach_legacy(x->ov->progs.xdp_overlay, &x->ov_link);
	if (err) {
		xdp_overlay__destroy(x->ov);
		x->ov = NULL;
	}
	return err;
}

int dp_xdp_attach_underlay(struct dp_xdp *x, int ifindex, uint16_t port,
			   uint32_t local_ip)
{
	int err;

	x->ul_link.ifindex = ifindex;
	remove_stale(ifindex, "xdp_underlay");
	x->ul = xdp_underlay__open();
	if (!x->ul)
		return -errno;
	x->ul->rodata->port = port;
	x->ul->rodata->local_ip = local_ip;
	if (!legacy_forced() &&
	    !attach_libxdp(x->ul->obj, x->ul->progs.xdp_underlay, &x->ul_link))
		return 0;

	xdp_underlay__destroy(x->ul);
	x->ul = xdp_underlay__open();
	if (!x->ul)
		return -errno;
	x->ul->rodata->port = port;
	x->ul->rodata->local_ip = local_ip;
	err = xdp_underlay__load(x->ul);
	if (!err)
		err = attach_legacy(x->ul->progs.xdp_underlay, &x->ul_link);
	if (err) {
		xdp_underlay__destroy(x->ul);
		x->ul = NULL;
	}
	return err;
}

int dp_xdp_ov_xskmap(const struct dp_xdp *x)
{
	return bpf_map__fd(x->ov->maps.xsks);
}

int dp_xdp_ul_xskmap(const struct dp_xdp *x)
{
	return bpf_map__fd(x->ul->maps.xsks);
}

const struct counter_desc dp_xdp_ul_desc[MAVPN_XDP_UL_NR] = {
	MAVPN_XDP_UL_REASONS(COUNTER_DESC_COUNTER)
};
const struct counter_desc dp_xdp_ov_desc[MAVPN_XDP_OV_NR] = {
	MAVPN_XDP_OV_REASONS(COUNTER_DESC_COUNTER)
};

/* Sum the per-CPU slots 0..@n-1 of the array map @fd into @out. */
static int percpu_sum(int fd, uint32_t n, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	uint32_t k;
	int c;

	memset(out, 0, sizeof(uint64_t) * n);
	if (ncpu <= 0)
		return -ENOENT;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

int dp_xdp_ul_counters(const struct dp_xdp *x, uint64_t out[MAVPN_XDP_UL_NR])
{
	if (!x->ul) {
		memset(out, 0, sizeof(uint64_t) * MAVPN_XDP_UL_NR);
		return -ENOENT;
	}
	return percpu_sum(bpf_map__fd(x->ul->maps.ul_stats), MAVPN_XDP_UL_NR,
			  out);
}

int dp_xdp_ov_counters(const struct dp_xdp *x, uint64_t out[MAVPN_XDP_OV_NR])
{
	if (!x->ov) {
		memset(out, 0, sizeof(uint64_t) * MAVPN_XDP_OV_NR);
		return -ENOENT;
	}
	return percpu_sum(bpf_map__fd(x->ov->maps.ov_stats), MAVPN_XDP_OV_NR,
			  out);
}

const char *dp_xdp_mode(const struct dp_xdp_link *l)
{
	if (!l->mprog)
		return "bpf_xdp_attach";
	return l->dispatcher ? "libxdp-dispatcher" : "libxdp-single";
}

/*
 * Out of the dispatcher through libxdp; a program attached alone (legacy,
 * or libxdp's single-program fallback) by our own fd. libxdp would look
 * the attached program up by id (BPF_PROG_GET_FD_BY_ID: CAP_SYS_ADMIN),
 * which vpnd no longer has when it stops.
 */
static void detach_link(struct dp_xdp_link *l)
{
	if (l->mprog && l->dispatcher) {
		xdp_program__detach(l->mprog, l->ifindex, XDP_MODE_NATIVE, 0);
	} else if (l->prog_fd > 0) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts,
			    .old_prog_fd = l->prog_fd);

		/* only if it is still ours (the interface may be gone) */
		bpf_xdp_detach(l->ifindex, XDP_FLAGS_DRV_MODE |
			       XDP_FLAGS_REPLACE, &opts);
	}
	if (l->mprog) {
		xdp_program__close(l->mprog);
		l->mprog = NULL;
	}
	l->prog_fd = -1;
}

void dp_xdp_detach(struct dp_xdp *x)
{
	if (!x)
		return;
	if (x->ov) {
		detach_link(&x->ov_link);
		xdp_overlay__destroy(x->ov);
		x->ov = NULL;
	}
	if (x->ul) {
		detach_link(&x->ul_link);
		xdp_underlay__destroy(x->ul);
		x->ul = NULL;
	}
}
