/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Capabilities of the calling thread, as bit masks of CAPS_BIT(CAP_*).
 * Linux keeps capabilities per thread: a thread started before
 * caps_limit() keeps what it had, so every thread limits itself.
 */
#ifndef MAVPN_CTL_VPND_CAPS_H
#define MAVPN_CTL_VPND_CAPS_H

#include <stdint.h>
#include <linux/capability.h>

#define CAPS_BIT(cap)	(1ULL << (cap))

/* The effective set of the calling thread. 0 or -errno. */
int caps_effective(uint64_t *eff);

/*
 * Keep only @keep (what of it the thread has): effective = permitted =
 * @keep, inheritable and ambient empty, every other capability out of the
 * bounding set (needs CAP_SETPCAP unless already out), and no_new_privs,
 * so no exec can give anything back. 0 or -errno; on error the thread may
 * be left with part of the change done.
 */
int caps_limit(uint64_t keep);

#endif /* MAVPN_CTL_VPND_CAPS_H */
