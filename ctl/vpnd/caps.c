// SPDX-License-Identifier: GPL-2.0-only
/*
 * capget(2)/capset(2) and prctl(2) directly: two system calls do not
 * justify libcap as a dependency.
 */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return syscall(SYS_capget, &h, d) < 0 ? -errno : 0;
}

int caps_effective(uint64_t *eff)
{
	struct __user_cap_data_struct d[2] = { 0 };
	int err = caps_get(d);

	if (err)
		return err;
	*eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	return 0;
}

int caps_limit(uint64_t keep)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { 0 };
	uint64_t prm;
	int cap, in, err;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* The bounding set first: dropping from it needs CAP_SETPCAP,
	 * which the capset below may take away. PR_CAPBSET_READ fails past
	 * the kernel's last capability. */
	for (cap = 0; (in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) >= 0; cap++)
		if (in && !(keep & CAPS_BIT(cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return -errno;
	err = caps_get(d);
	if (err)
		return err;
	prm = ((uint64_t)d[1].permitted << 32 | d[0].permitted) & keep;
	d[0].effective = d[0].permitted = (uint32_t)prm;
	d[1].effective = d[1].permitted = (uint32_t)(prm >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}
