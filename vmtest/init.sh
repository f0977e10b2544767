#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=dash
# Stage 1, /init of the initramfs that vmtest/run.sh builds: busybox plus the
# few modules a stock distro kernel needs to reach the host's root over 9p.
#
#   /lower           9p tag vmtest_root, the host's / (read-only in QEMU too)
#   /repo            9p tag vmtest_repo, the checkout (read-only too)
#   /ovl             tmpfs: upper and work dirs of both overlays (guest writes)
#   /newroot         overlay lower=/lower upper=/ovl/upper; switch_root into it
#   /newroot/mavpn   overlay lower=/repo upper=/ovl/repo/upper: the checkout
#
# The overlays make the host's files look writable to the tests (mkdir under
# /lib/modules, scratch files in the repo) while every write stays in guest
# RAM. The checkout has its own share at a fixed path so that no mount of
# stage 2 (tmpfs on /tmp, /run, /dev/shm) can hide it, wherever it lives on
# the host. Stage 2 is the script named by vmtest_init= on the kernel
# command line (the kernel hands unknown key=value parameters to init as
# env), a path under /mavpn. Any failure here powers off: the status file
# then still says "failed".

/bin/busybox mkdir -p /proc /sys /dev /lower /repo /ovl /newroot
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
mount -t 9p -o "ro,$opts,cache=loose" vmtest_repo /repo ||
	die "cannot mount the checkout (9p tag vmtest_repo)"
mount -t tmpfs -o mode=0755 tmpfs /ovl || die "mount tmpfs /ovl"
mkdir -p /ovl/upper /ovl/work /ovl/repo/upper /ovl/repo/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work /newroot ||
	die "cannot mount the root overlay (overlayfs missing?)"
# In the root overlay's upper layer: guest RAM, nothing on the host.
mkdir -p /newroot/mavpn || die "mkdir /mavpn"
mount -t overlay overlay \
	-o lowerdir=/repo,upperdir=/ovl/repo/upper,workdir=/ovl/repo/work /newroot/mavpn ||
	die "cannot mount the checkout overlay on /mavpn"

[ -n "${vmtest_init:-}" ] || die "no vmtest_init= on the kernel command line"
[ -x "/newroot$vmtest_init" ] || die "stage 2 $vmtest_init is not executable"

umount /proc /sys /dev 2>/dev/null
# shellcheck disable=SC2093 # reached only when exec fails
exec switch_root /newroot "$vmtest_init"
die "switch_root failed"
