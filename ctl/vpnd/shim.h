/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vpnd's socket shim: loads bpf/shim_sock.bpf.c once, attaches it to the
 * cgroup v2 directories an operator names, and delivers its flow events.
 */
#ifndef MAVPN_CTL_VPND_SHIM_H
#define MAVPN_CTL_VPND_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mavpn/counters.h"
#include "mavpn/shim_abi.h"

struct shim;

/* Called for every event from shim_poll(). */
typedef void (*shim_event_fn)(void *arg, const struct shim_event *e);

/* The BPF programs' counters, named by shim_desc (mavpn/shim_abi.h). */
struct shim_counters {
	uint64_t cnt[SHIM_CNT_MAX];
};

extern const struct counter_desc shim_desc[SHIM_CNT_MAX];

/*
 * Open and load the programs for the overlay @net/@plen (network order) and
 * our own address @self_ip, in the caller's network namespace, and link
 * the enforcement programs to the cgroup2 root (pinned, see shim.c): from
 * then on only processes in attached cgroups reach protected destinations
 * from this netns. Called before the data plane starts. NULL with errno
 * set and one line logged.
 */
struct shim *shim_open(uint32_t net, uint8_t plen, uint32_t self_ip,
		       shim_event_fn fn, void *arg);
/* The overlay interface, once it exists: packets for @self_ip are
 * accepted only from there (and lo), and forwarded packets enter it only
 * from attached namespaces or our own LANs (tc egress). 0 or -errno. */
int shim_set_overlay(struct shim *s, const char *overlay_ifname);
/* Detach everything, unload. Accepts NULL. */
void shim_close(struct shim *s);

/* An fd that is readable when events wait (epoll it). */
int shim_fd(const struct shim *s);
/* Deliver waiting events to the callback. 0 or -errno. */
int shim_poll(struct shim *s);

/*
 * Attach the report programs to the cgroup v2 directory @path (resolved to
 * its canonical path) and allow it (and its descendants) to reach protected
 * destinations. 0, -EALREADY if already attached, -ENOTDIR/-ENOENT/-EINVAL
 * (not a cgroup v2 directory), -EPERM for the cgroup2 root, or -errno from
 * the kernel.
 */
int shim_attach(struct shim *s, const char *path);
/* Detach and disallow; -ENOENT if @path is not attached. */
int shim_detach(struct shim *s, const char *path);

/* Our own gateway routes: forwarded traffic from there may enter the
 * overlay. Network order. */
int shim_own_lan(struct shim *s, uint32_t net, uint8_t plen, bool add);
/* Forwarded traffic that came in on @ifindex (our netns) may enter the
 * overlay: the host side of an attached network namespace's veth. */
int shim_fwd_allow(struct shim *s, int ifindex, bool add);

/* Add / remove a protected prefix (network order), e.g. a gateway route. */
int shim_protect(struct shim *s, uint32_t net, uint8_t plen);
int shim_unprotect(struct shim *s, uint32_t net, uint8_t plen);

/* Write the attached paths to @file, one a line (atomic replace). */
int shim_save(const struct shim *s, const char *file);
/* Re-attach the paths listed in @file (missing file: nothing); paths that
 * no longer exist are logged and skipped. Number attached or -errno. */
int shim_restore(struct shim *s, const char *file);

/* Attached directories: the i-th canonical path or NULL past the end. */
const char *shim_attached(const struct shim *s, int i);

/*
 * The cgroup path of @cgroup_id: an attached directory or one below it;
 * "cgroup:<id>" when it cannot be found. Always NUL-terminates @buf.
 */
void shim_cgroup_path(struct shim *s, uint64_t cgroup_id, char *buf,
		      size_t len);

void shim_get_counters(const struct shim *s, struct shim_counters *c);

/*
 * Per-flow decisions of the server, cached in the kernel (`flows`, read by
 * the enforcement programs). get: 0 with the time left and the verdict,
 * -ENOENT if none or expired. set: for @ttl_s seconds. flush: forget them
 * all (policy changed, a host revoked), returns how many or -errno.
 * set_open: no policy on the server, attached flows need no decision.
 */
int shim_flow_get(const struct shim *s, const struct shim_fkey *k,
		  uint64_t *left_ns, bool *allow);
int shim_flow_set(struct shim *s, const struct shim_fkey *k, bool allow,
		  uint32_t ttl_s);
int shim_flow_flush(struct shim *s);
/* After a reconnect: allowed decisions end within @ttl_ns (the shim then
 * asks vpnd to renew the ones in use, with no gap), denied ones at once.
 * Returns the number of allowed decisions kept or -errno. */
int shim_flow_shorten(struct shim *s, uint64_t ttl_ns);
void shim_set_open(struct shim *s, bool open);

#endif /* MAVPN_CTL_VPND_SHIM_H */
