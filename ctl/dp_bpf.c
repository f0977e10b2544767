// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "dp_bpf.h"
#include "xdp_overlay.skel.h"
#include "xdp_underlay.skel.h"

static int legacy_forced(void)
{
	const char *v = getenv("MAVPN_XDP_LEGACY");

	return v && *v && strcmp(v, "0");
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

	mp = xdp_program__from_bpf_obj(obj, "xdp");
	err = libxdp_get_error(mp);
	if (err)
		return err < 0 ? err : -err;
	err = xdp_program__attach(mp, l->ifindex, XDP_MODE_NATIVE, 0);
	if (err) {
		xdp_program__close(mp);
		return err < 0 ? err : -err;
	}
	l->mprog = mp;
	l->prog_fd = bpf_program__fd(prog);
	return 0;
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

int dp_xdp_attach_underlay(struct dp_xdp *x, int ifindex, uint16_t port)
{
	int err;

	x->ul_link.ifindex = ifindex;
	x->ul = xdp_underlay__open();
	if (!x->ul)
		return -errno;
	x->ul->rodata->port = port;
	if (!legacy_forced() &&
	    !attach_libxdp(x->ul->obj, x->ul->progs.xdp_underlay, &x->ul_link))
		return 0;

	xdp_underlay__destroy(x->ul);
	x->ul = xdp_underlay__open();
	if (!x->ul)
		return -errno;
	x->ul->rodata->port = port;
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

int dp_xdp_ul_counters(const struct dp_xdp *x, uint64_t out[MAVPN_XDP_UL_NR])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	uint32_t k;
	int c, fd;

	memset(out, 0, sizeof(uint64_t) * MAVPN_XDP_UL_NR);
	if (!x->ul || ncpu <= 0)
		return -ENOENT;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	fd = bpf_map__fd(x->ul->maps.ul_stats);
	for (k = 0; k < MAVPN_XDP_UL_NR; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

const char *dp_xdp_mode(const struct dp_xdp_link *l)
{
	return l->mprog ? "libxdp" : "legacy";
}

static void detach_link(struct dp_xdp_link *l)
{
	if (l->mprog) {
		xdp_program__detach(l->mprog, l->ifindex, XDP_MODE_NATIVE, 0);
		xdp_program__close(l->mprog);
		l->mprog = NULL;
	} else if (l->prog_fd > 0) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts,
			    .old_prog_fd = l->prog_fd);

		/* only if it is still ours (the interface may be gone) */
		bpf_xdp_detach(l->ifindex, XDP_FLAGS_DRV_MODE |
			       XDP_FLAGS_REPLACE, &opts);
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
