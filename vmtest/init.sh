#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=dash
# Stage 1, /init of the initramfs that vmtest/run.sh builds: busybox plus the
# few modules a stock distro kernel needs to reach the host's root over 9p.
#
#   /lower    9p tag vmtest_root, the host's / (read-only in QEMU too)
#   /ovl      tmpfs: the overlay's upper and work dirs (all guest writes)
#   /newroot  overlay lower=/lower upper=/ovl/upper, then switch_root into it
#
# The overlay makes the host root look writable to the tests (mkdir under
# /lib/modules, scratch files in the repo) while every write stays in guest
# RAM. Stage 2 is the script named by vmtest_init= on the kernel command
# line (the kernel hands unknown key=value parameters to init as env).
# Any failure here powers off: the status file then still says "failed".

/bin/busybox mkdir -p /proc /sys /dev /lower /ovl /newroot
/bin/busybox --install -s /bin
export PATH=/bin

die() {
	echo "vmtest-init: $*" >/dev/console
	echo "vmtest-init: powering off; the status file stays 'failed'" >/dev/console
	sync
	poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger
}

mount -t proc proc /proc || die "mount proc"
mount -t sysfs sysfs /sys || die "mount sysfs"
mount -t devtmpfs devtmpfs /dev || die "mount devtmpfs"

# Module list in load order, resolved on the host from modules.dep.
if [ -f /modules/order ]; then
	while read -r m; do
		[ -n "$m" ] || continue
		insmod "/modules/$m" || die "insmod $m failed"
	done </modules/order
fi

opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "ro,$opts,cache=loose" vmtest_root /lower ||
	die "cannot mount the host root (9p tag vmtest_root)"
mount -t tmpfs -o mode=0755 tmpfs /ovl || die "mount tmpfs /ovl"
mkdir -p /ovl/upper /ovl/work
if ! mount -t overlay overlay \
	-o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work /newroot; then
	# Stage 2 copes with a read-only root (tmpfs on /tmp and /run only).
	echo "vmtest-init: overlay failed, using the host root read-only" >/dev/console
	mount --bind /lower /newroot || die "bind /lower"
fi

[ -n "${vmtest_init:-}" ] || die "no vmtest_init= on the kernel command line"
[ -x "/newroot$vmtest_init" ] || die "stage 2 $vmtest_init is not executable in the host root"

umount /proc /sys /dev 2>/dev/null
# shellcheck disable=SC2093 # reached only when exec fails
exec switch_root /newroot "$vmtest_init"
die "switch_root failed"
