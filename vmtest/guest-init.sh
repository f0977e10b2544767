#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Stage 2, PID 1 of the vmtest guest, running from the host's root (9p,
# overlaid with a tmpfs) after vmtest/init.sh switched into it.
#
# Mounts what the tests expect, runs the test command that vmtest/run.sh
# wrote into the shared directory, then replaces the status file (written
# as "failed" by the host before boot) with the results and powers off.
# Nothing here may exit early: PID 1 exiting panics the guest, so there is
# no `set -e`; every step that matters is checked by hand.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb

OUT=/run/vmtest

say() { echo "vmtest-guest: $*" >/dev/console; }

halt_now() {
	sync
	/bin/busybox poweroff -f 2>/dev/null
	sleep 3
	echo o >/proc/sysrq-trigger
	sleep 30
}

mnt() { # type source target [options]
	mkdir -p "$3" 2>/dev/null
	mount -t "$1" ${4:+-o "$4"} "$2" "$3" || say "cannot mount $1 on $3"
}

mnt proc proc /proc
mnt sysfs sysfs /sys
mnt devtmpfs devtmpfs /dev
mnt devpts devpts /dev/pts newinstance,ptmxmode=0666
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
ln -sfn pts/ptmx /dev/ptmx
mnt tmpfs tmpfs /dev/shm mode=1777
mnt tmpfs tmpfs /run mode=0755
mnt tmpfs tmpfs /tmp mode=1777
mnt securityfs securityfs /sys/kernel/security
mnt debugfs debugfs /sys/kernel/debug
mnt bpf bpffs /sys/fs/bpf mode=0700
# The same layout as the development machines (design.md section 5):
# cgroup2 at /sys/fs/cgroup/unified, under a tmpfs at /sys/fs/cgroup.
mnt tmpfs cgroup /sys/fs/cgroup mode=0755
mnt cgroup2 cgroup2 /sys/fs/cgroup/unified
mnt 9p vmtest_out "$OUT" trans=virtio,version=9p2000.L,msize=262144

if [ ! -f "$OUT/env" ]; then
	say "the shared directory (9p tag vmtest_out) has no env file"
	halt_now
fi
# shellcheck source=/dev/null
. "$OUT/env"

# Modules of the guest kernel, for auto-loading (veth, bridge, ...).
kver=$(uname -r)
if [ "${VMTEST_HAVE_MODULES:-0}" = 1 ]; then
	if mkdir -p "/lib/modules/$kver" 2>/dev/null; then
		mnt 9p vmtest_mod "/lib/modules/$kver" ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose
	else
		say "root is read-only: no /lib/modules/$kver, modules will not auto-load"
	fi
fi

hostname vmtest 2>/dev/null
ip link set lo up || say "cannot bring up lo"

# Test output goes to the second serial port (the host's stdout), so the
# kernel's console on ttyS0 holds only kernel messages for the splat scan.
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec </dev/null >/dev/ttyS1 2>&1

mkdir -p "$OUT/logs"
export VMTEST_RESULTS=$OUT/results VMTEST_LOGS=$OUT/logs
: >"$VMTEST_RESULTS"

echo "vmtest-guest: kernel $kver, up $(cut -d' ' -f1 /proc/uptime)s; running: ${VMTEST_CMD[*]}"
cd "$VMTEST_REPO" || say "cannot cd to $VMTEST_REPO"
start=$(date +%s)
"${VMTEST_CMD[@]}"
rc=$?
dur=$(($(date +%s) - start))
echo "vmtest-guest: test command exited $rc after ${dur}s"

# A command that reports nothing itself is one test, judged by its exit.
if ! grep -qE '^(PASS|FAIL|SKIP) ' "$VMTEST_RESULTS"; then
	case $rc in
	0) echo "PASS ${VMTEST_CMD[0]}" ;;
	77) echo "SKIP ${VMTEST_CMD[0]}: exit 77" ;;
	*) echo "FAIL ${VMTEST_CMD[0]}: exit $rc" ;;
	esac >>"$VMTEST_RESULTS"
elif [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && ! grep -q '^FAIL ' "$VMTEST_RESULTS"; then
	echo "FAIL ${VMTEST_CMD[0]}: exit $rc without a FAIL line" >>"$VMTEST_RESULTS"
fi

dmesg >"$OUT/dmesg.log" 2>&1
{
	echo "kernel $kver"
	echo "uptime $(cut -d' ' -f1 /proc/uptime)"
	echo "test-seconds $dur"
	grep -E '^(PASS|FAIL|SKIP) ' "$VMTEST_RESULTS"
	echo "done"
} >"$OUT/status.new" && mv "$OUT/status.new" "$OUT/status"
halt_now
