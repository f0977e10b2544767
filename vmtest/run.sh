#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Boot another kernel under QEMU (TCG) with this host's root filesystem and
# run the BPF/datapath tests inside it; see vmtest/README.md.
#
#   host                                   guest (QEMU TCG, 2 vCPUs)
#   /            ── 9p vmtest_root, ro ──▶ overlay lower; upper = tmpfs
#   <checkout>   ── 9p vmtest_repo, ro ──▶ /mavpn (overlay, upper = tmpfs)
#   <moddir>     ── 9p vmtest_mod,  ro ──▶ /lib/modules/<kver>
#   <run dir>    ── 9p vmtest_out,  rw ──▶ /run/vmtest: env, status, logs
#   <run dir>/kernel.log  ◀── ttyS0 (kernel console only)
#   stdout, guest.log     ◀── ttyS1 (test output)
#
# The host writes "failed" into <run dir>/status before boot; the guest
# replaces it only after the tests ran (vmtest/guest-init.sh). The verdict
# comes from that file and from a scan of the kernel log for splats, under a
# hard timeout, never from QEMU's exit code.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# Where the checkout appears in the guest (vmtest/init.sh mounts it).
guest_repo=/mavpn
cache=${VMTEST_CACHE:-/var/cache/mavpn-vmtest}
kernel=""
# The wall-clock bound of a run, boot to power-off; QEMU is killed after
# it and the run fails. The full run's time depends on what else the host
# runs (README.md has measurements); a smoke run takes 30-80 s.
timeout_smoke=300
timeout_full=3600
timeout_s=""
# MV_TIME_SCALE in the guest: every wait and timeout of the tests that only
# gives the machine time is multiplied by it (tests/lib/topo.sh).
time_scale=${VMTEST_TIME_SCALE:-4}
smoke=0
mem=2048
out=""
cmd=()

usage() {
	cat <<EOF
usage: $0 [options] [-- command [args...]]
  --kernel SPEC    a Debian package (6.1, 6.1.0-56, linux-image-6.1.0-56-amd64;
                   default: the newest 6.1 LTS), or BZIMAGE[:MODULES_DIR]
  --smoke          boot and load every BPF object only (for make check)
  --timeout SEC    hard limit for the whole boot and test run
                   (default ${timeout_full}s, ${timeout_smoke}s with --smoke)
  --time-scale N   MV_TIME_SCALE in the guest, a positive integer that
                   multiplies the tests' timing margins (default $time_scale;
                   also VMTEST_TIME_SCALE)
  --mem MB         guest memory (default $mem)
  --out DIR        run directory for status and logs
                   (default build/vmtest/<time>, build/vmtest/latest links it)
  command          what the guest runs from the checkout, which is at
                   $guest_repo in the guest; arguments that are paths in the
                   checkout are rewritten to it
                   (default: vmtest/guest-tests.sh [--smoke])
VMTEST_* variables in the environment are passed to the guest.
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
	--smoke) smoke=1; shift ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--time-scale) time_scale=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; cmd=("$@"); break ;;
	*) echo "vmtest: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

die() { echo "vmtest: $*" >&2; exit 1; }
log() { echo "vmtest: $*"; }

case $time_scale in
'' | *[!0-9]* | 0) die "--time-scale wants a positive integer, not '$time_scale'" ;;
esac
[ -n "$timeout_s" ] || timeout_s=$([ "$smoke" = 1 ] && echo "$timeout_smoke" || echo "$timeout_full")
case $timeout_s in
'' | *[!0-9]* | 0) die "--timeout wants a number of seconds, not '$timeout_s'" ;;
esac
[ "$(id -u)" -eq 0 ] || die "needs root (9p export of /, device nodes in the initramfs)"
for t in qemu-system-x86_64 busybox cpio depmod timeout; do
	command -v "$t" >/dev/null || die "'$t' not found (apt-get install qemu-system-x86 busybox-static cpio kmod)"
done

# ------------------------------------------------------------ the kernel
# Sets bzimage, moddir (may be empty: everything built in) and kver.

# Debian ABI name (6.1.0-56-amd64) for SPEC, or the newest 6.1 one.
debian_abi() {
	local s=${1#linux-image-} dep
	case $s in
	"" | 6.1)
		dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: linux-image-\(6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n1)
		if [ -z "$dep" ]; then
			dep=$(apt-cache pkgnames linux-image-6.1.0- | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' |
				sort -V | tail -n1)
			dep=${dep#linux-image-}
		fi
		[ -n "$dep" ] || return 1
		echo "$dep" ;;
	*-amd64) echo "$s" ;;
	*) echo "$s-amd64" ;;
	esac
}

fetch_debian() { # abi; unpacks into $cache/<abi> once
	local abi=$1 dir=$cache/$1 tmp
	[ -f "$dir/.complete" ] && return 0
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	log "fetching linux-image-$abi into $cache"
	if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "linux-image-$abi" >/dev/null); then
		rm -rf "$tmp"
		die "apt-get download linux-image-$abi failed (try: apt-cache search linux-image-6.1.0)"
	fi
	dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/root"
	depmod -b "$tmp/root" "${abi}"
	rm -f "$tmp"/linux-image-*.deb
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
	rmdir "$tmp"
	touch "$dir/.complete"
}

# The version string a bzImage carries (boot protocol: kernel_version).
bzimage_version() {
	local off
	off=$(od -An -tu2 -j $((0x20e)) -N2 "$1" | tr -d ' ')
	[ -n "$off" ] && [ "$off" -gt 0 ] || return 1
	dd if="$1" bs=1 skip=$((off + 0x200)) count=128 2>/dev/null | tr '\0' '\n' | head -n1 | cut -d' ' -f1
}

if [ -n "$kernel" ] && [ -f "${kernel%%:*}" ]; then
	bzimage=$(realpath "${kernel%%:*}")
	kver=$(bzimage_version "$bzimage") || die "$bzimage does not look like a bzImage"
	moddir=""
	if [ "$kernel" != "${kernel%%:*}" ]; then
		moddir=${kernel#*:}
	else
		for d in "$(dirname "$bzimage")/../lib/modules/$kver" "/lib/modules/$kver"; do
			[ -d "$d" ] && { moddir=$d; break; }
		done
	fi
	if [ -n "$moddir" ]; then
		[ -d "$moddir" ] || die "modules dir '$moddir' does not exist"
		moddir=$(realpath "$moddir")
		[ -f "$moddir/modules.dep" ] || depmod -b "$moddir/../../.." "$kver" 2>/dev/null ||
			log "warning: no modules.dep in $moddir"
	else
		log "no modules dir for $kver: 9p, virtio and overlay must be built in"
	fi
else
	flock_fd=9
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock "$flock_fd"
	abi=$(debian_abi "$kernel") || die "cannot find a Debian 6.1 kernel package (apt-get update?)"
	fetch_debian "$abi"
	exec 9>&-
	bzimage=$cache/$abi/boot/vmlinuz-$abi
	moddir=$cache/$abi/lib/modules/$abi
	kver=$abi
fi
log "kernel $kver ($bzimage)"

# ------------------------------------------------------------ run dir
if [ -z "$out" ]; then
	mkdir -p "$repo/build/vmtest"
	out=$(mktemp -d "$repo/build/vmtest/$(date +%Y%m%d-%H%M%S).XXXX")
	ln -sfn "$(basename "$out")" "$repo/build/vmtest/latest"
else
	mkdir -p "$out"
fi
out=$(realpath "$out")
rm -f "$out/status" "$out/results" "$out/dmesg.log" "$out/kernel.log" "$out/guest.log"
echo failed >"$out/status"

work=$(mktemp -d /tmp/mavpn-vmtest.XXXXXX)
qemu_pid=""
cleanup() {
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ initramfs
# busybox, vmtest/init.sh as /init, and the modules needed to mount the
# host root: virtio-pci, 9p over virtio and overlayfs, with their
# dependencies in load order from modules.dep.
stage=$work/initramfs
mkdir -p "$stage/bin" "$stage/dev" "$stage/modules"
cp "$(command -v busybox)" "$stage/bin/busybox"
cp "$here/init.sh" "$stage/init"
chmod 0755 "$stage/init"
mknod "$stage/dev/console" c 5 1
mknod "$stage/dev/null" c 1 3

declare -A seen=()
order=()
add_module() { # path relative to $moddir
	local rel=$1 dep
	[ -z "${seen[$rel]:-}" ] || return 0
	seen[$rel]=1
	# shellcheck disable=SC2013 # one line, its words are the dependencies
	for dep in $(sed -n "s|^$rel:||p" "$moddir/modules.dep"); do
		add_module "$dep"
	done
	order+=("$rel")
}
if [ -n "$moddir" ]; then
	for m in virtio_pci 9pnet_virtio 9p overlay; do
		rel=$(grep -oE "^([^:]*/)?$m\.ko(\.(xz|zst|gz))?:" "$moddir/modules.dep" | head -n1 | tr -d :)
		if [ -n "$rel" ]; then
			add_module "$rel"
		elif ! grep -qE "/$m\.ko$" "$moddir/modules.builtin" 2>/dev/null; then
			log "warning: module $m neither in modules.dep nor built in"
		fi
	done
	for rel in "${order[@]}"; do
		b=$(basename "$rel")
		case $b in
		*.ko.xz) xz -dc "$moddir/$rel" >"$stage/modules/${b%.xz}" ;;
		*.ko.zst) zstd -qdc "$moddir/$rel" >"$stage/modules/${b%.zst}" ;;
		*.ko.gz) gzip -dc "$moddir/$rel" >"$stage/modules/${b%.gz}" ;;
		*) cp "$moddir/$rel" "$stage/modules/$b" ;;
		esac
		echo "${b%.ko*}.ko" >>"$stage/modules/order"
	done
fi
(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 >"$work/initramfs.gz"

# ------------------------------------------------------------ guest env
if [ ${#cmd[@]} -eq 0 ]; then
	cmd=(vmtest/guest-tests.sh)
	[ "$smoke" = 0 ] || cmd+=(--smoke)
fi
# The checkout is at $guest_repo in the guest, not at its host path.
for i in "${!cmd[@]}"; do
	case ${cmd[$i]} in
	"$repo") cmd[$i]=$guest_repo ;;
	"$repo"/*) cmd[$i]=$guest_repo/${cmd[$i]#"$repo"/} ;;
	esac
done
{
	printf 'VMTEST_REPO=%q\n' "$guest_repo"
	printf 'export MV_TIME_SCALE=%q\n' "$time_scale"
	[ -z "${CI:-}" ] || printf 'export CI=%q\n' "$CI"
	printf 'VMTEST_HAVE_MODULES=%q\n' "$([ -n "$moddir" ] && echo 1 || echo 0)"
	printf 'VMTEST_CMD=('
	printf '%q ' "${cmd[@]}"
	printf ')\n'
	while IFS='=' read -r k _; do
		case $k in VMTEST_REPO | VMTEST_CMD | VMTEST_HAVE_MODULES | VMTEST_CACHE | VMTEST_TIME_SCALE) continue ;; esac
		printf 'export %s=%q\n' "$k" "${!k}"
	done < <(env | grep -E '^VMTEST_[A-Z0-9_]*=' || true)
} >"$out/env"

# ------------------------------------------------------------ boot
add_9p() { # id host-path tag ro|rw
	local ro=""
	[ "$4" = ro ] && ro=",readonly=on"
	qargs+=(-fsdev "local,id=$1,path=$2,security_model=none,multidevs=remap$ro"
		-device "virtio-9p-pci,fsdev=$1,mount_tag=$3")
}
# Westmere: SSE4.2, AES-NI and PCLMULQDQ, no AVX. With `-cpu max` glibc and
# OpenSSL pick AVX2/AVX-512 code, which TCG emulates slowly: the suite took
# about a third more CPU time.
qargs=(-accel tcg -machine q35 -cpu Westmere -smp 2 -m "$mem"
	-nodefaults -no-reboot -display none -net none
	-kernel "$bzimage" -initrd "$work/initramfs.gz"
	-append "console=ttyS0 loglevel=5 panic=-1 mitigations=off vmtest_init=$guest_repo/vmtest/guest-init.sh"
	-serial "file:$out/kernel.log" -serial stdio)
add_9p root / vmtest_root ro
add_9p repo "$repo" vmtest_repo ro
add_9p out "$out" vmtest_out rw
[ -z "$moddir" ] || add_9p mod "$moddir" vmtest_mod ro

log "run dir $out"
log "bound ${timeout_s}s wall-clock (QEMU killed after it); MV_TIME_SCALE=$time_scale; guest runs: ${cmd[*]}"
start=$(date +%s)
# QEMU's stdout is the guest's ttyS1; stdin is not a terminal, so QEMU
# leaves the tty alone. `timeout` kills QEMU when the guest hangs.
: >"$work/ttyS1"
timeout -k 5 "$timeout_s" qemu-system-x86_64 "${qargs[@]}" </dev/null >"$work/ttyS1" 2>"$out/qemu.err" &
qemu_pid=$!
# In the background so that `wait` (unlike a foreground pipeline) lets the
# INT/TERM trap run at once.
# sed -u: line by line, so progress shows when stdout is a file or a pipe.
tail -n +1 -f --pid="$qemu_pid" "$work/ttyS1" | sed -u 's/\r//g' | tee "$out/guest.log" &
tee_pid=$!
rc=0
wait "$qemu_pid" || rc=$?
qemu_pid=""
wait "$tee_pid" || true
elapsed=$(($(date +%s) - start))

# ------------------------------------------------------------ verdict
passed=0 failed=0 skipped=0
status_kver=$(sed -n 's/^kernel //p' "$out/status")
echo
echo "vmtest: kernel ${status_kver:-$kver}, wall time ${elapsed}s of a ${timeout_s}s bound (qemu exit $rc)"
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || echo "vmtest: TIMEOUT after ${timeout_s}s, QEMU killed"
complete=0
[ "$(tail -n1 "$out/status")" != "done" ] || complete=1
if [ "$complete" = 0 ]; then
	echo "FAIL vmtest-status: the guest never completed its status file (still '$(head -n1 "$out/status")')"
	[ ! -s "$out/qemu.err" ] || sed 's/^/    qemu: /' "$out/qemu.err"
	echo "    last kernel messages:"
	tail -n 20 "$out/kernel.log" | sed 's/^/    /'
	failed=$((failed + 1))
else
	echo "vmtest: guest uptime $(sed -n 's/^uptime //p' "$out/status")s, tests $(sed -n 's/^test-seconds //p' "$out/status")s"
	echo "vmtest: results (from the guest's status file):"
	while read -r v rest; do
		case $v in
		PASS) passed=$((passed + 1)) ;;
		FAIL) failed=$((failed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) continue ;;
		esac
		echo "$v $rest"
	done <"$out/status"
fi

# Kernel splats fail the run even when every test passed.
splat='WARNING:|BUG:|KASAN|UBSAN|Oops|Call Trace|Kernel panic|general protection fault|kernel BUG|RIP:'
if cat "$out/kernel.log" "$out/dmesg.log" 2>/dev/null | tr -d '\r' | grep -E "$splat" >"$work/splats"; then
	echo "FAIL kernel-log: $(sort -u "$work/splats" | wc -l) splat line(s):"
	sort -u "$work/splats" | head -n 20 | sed 's/^/    /'
	failed=$((failed + 1))
elif [ "$complete" = 1 ]; then
	echo "PASS kernel-log: no WARN/BUG/Oops/Call Trace in console or dmesg"
	passed=$((passed + 1))
else
	echo "vmtest: no splat on the console (no dmesg: the guest did not finish)"
fi

echo "vmtest: logs in $out"
if [ "$skipped" -ne 0 ]; then
	echo "vmtest: $skipped skipped"
	# As in tests/run.sh: on CI a test that did not run is a failure.
	if [ "${CI:-}" = true ]; then
		echo "vmtest: CI=true: the skips count as failures"
		failed=$((failed + skipped))
	fi
fi
echo "vmtest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
