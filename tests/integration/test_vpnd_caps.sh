#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# vpnd's capabilities once it is set up:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv)
#              ├─ h1  198.18.0.11  vpnd --workers 2 ── cgroup CG: attach, curl, detach
#              └─ h2  198.18.0.12  vpnd ── http.server on the overlay :8080
#
# Proves: after setup vpnd's main thread holds exactly CAP_NET_ADMIN and
# CAP_BPF (plus CAP_SYS_ADMIN only when libxdp's dispatcher holds its XDP
# programs) in its effective, permitted and bounding sets, nothing
# inheritable or ambient, no_new_privs set; each data-plane worker thread
# holds CAP_NET_ADMIN only. With that, attach (cgroup links + map update),
# a key request and traffic, detach, and a clean stop (overlay interface
# deleted, XDP programs detached) still work.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd curl python3
[ -n "$(cg_root)" ] || mv_skip "no cgroup2 mount: mount one (mount -t cgroup2 none /sys/fs/cgroup/unified)"

# From linux/capability.h.
CAP_NET_ADMIN=12 CAP_SYS_ADMIN=21 CAP_BPF=39
bit() { printf '%016x' $((1 << $1)); }
or() { printf '%016x' $((16#$1 | 16#$2)); }

# Field $2 (CapEff, NoNewPrivs, ...) of /proc task status file $1.
field() { awk -v f="$2:" '$1 == f { print $2 }' "$1"; }

# Every capability field of task $1 must be $2 (effective, permitted,
# bounding) or empty (inheritable, ambient), and no_new_privs set.
check_task() { # status-file want what
	local st=$1 want=$2 what=$3 k v
	for k in CapEff CapPrm CapBnd; do
		v=$(field "$st" $k)
		[ "$v" = "$want" ] || fail "$what: $k=$v, want $want"
	done
	for k in CapInh CapAmb; do
		v=$(field "$st" $k)
		[ "$v" = 0000000000000000 ] || fail "$what: $k=$v, want none"
	done
	[ "$(field "$st" NoNewPrivs)" = 1 ] || fail "$what: no_new_privs not set"
}

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
MV_VPND_ARGS="--workers 2" start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
pid=${MV_HOST_PID[h1]}

log_step "capabilities of every thread of h1's vpnd (pid $pid)"
want_main=$(or "$(bit $CAP_NET_ADMIN)" "$(bit $CAP_BPF)")
if grep -q 'xdp_overlay=libxdp-dispatcher\|xdp_underlay=libxdp-dispatcher' "$MV_TMP/vpnd-h1.log"; then
	want_main=$(or "$want_main" "$(bit $CAP_SYS_ADMIN)")
	echo "XDP through libxdp's dispatcher: CAP_SYS_ADMIN kept to detach at stop"
fi
want_worker=$(bit $CAP_NET_ADMIN)
check_task "/proc/$pid/status" "$want_main" "main thread"
n=0
for t in /proc/"$pid"/task/*; do
	[ "${t##*/}" = "$pid" ] && continue
	check_task "$t/status" "$want_worker" "thread ${t##*/}"
	n=$((n + 1))
done
[ "$n" -eq 2 ] || fail "$n threads besides main, want 2 workers"
echo "main: CapEff=CapPrm=CapBnd=$want_main; $n workers: $want_worker; no_new_privs"

log_step "attach, traffic, detach after the drop"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
mkdir -p "$MV_TMP/www" && echo "caps-ok" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"
cg_new app cg || fail "cgroup"
vpnctl_on h1 attach "$cg" || fail "attach"
[ "$(in_cg "$cg" h1 curl -sS --max-time "$(mv_t 5)" "http://$h2ip:8080/")" = caps-ok ] ||
	fail "attached: overlay curl"
vpnctl_on h1 detach "$cg" || fail "detach"
in_cg "$cg" h1 curl -sS --max-time "$(mv_t 5)" "http://$h2ip:8080/" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 7 ] || fail "detached: curl exit $rc, want 7 (EPERM)"
echo "attach, key request, curl, detach: ok"

log_step "clean stop"
kill -TERM "$pid"
# (a zombie until waited for: look at its state, not kill -0)
wait_for 10 "vpnd on h1 to exit" bash -c "grep -q '^State:.*Z' /proc/$pid/status || ! [ -e /proc/$pid ]" ||
	fail "vpnd did not stop"
in_ns h1 ip link show mavpn0 >/dev/null 2>&1 && fail "mavpn0 left behind"
in_ns h1 ip link show eth0 | grep -q ' xdp' && fail "XDP program left on eth0"
grep -q 'level=error' "$MV_TMP/vpnd-h1.log" && fail "errors in vpnd's log"
echo "stopped: mavpn0 deleted, eth0 without XDP"
echo "PASS: vpnd keeps only CAP_NET_ADMIN and CAP_BPF after setup"
