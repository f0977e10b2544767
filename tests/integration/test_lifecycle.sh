#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Life cycle of attachments:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv)
#              ├─ h1  198.18.0.11  vpnd ── cgroup CG: attach, detach; vpnctl run
#              └─ h2  198.18.0.12  vpnd ── http.server on the overlay :8080 and
#                                          on the underlay :8081 (not protected)
#
# Proves: attach puts the report programs on CG and its id into vpnd's
# `allowed` map, and records CG in the state dir; detach removes all three:
# CG's processes then get EPERM for protected destinations while other
# destinations pass as before. `vpnctl run` passes the exit status on,
# removes its cgroup and its attachment when the command exits, and also
# when vpnctl itself gets SIGTERM.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd curl bpftool

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
mkdir -p "$MV_TMP/www" && echo "lifecycle-ok" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
bg_start "$MV_TMP/http-ul.log" $(nsx h2) python3 -m http.server --bind 198.18.0.12 \
	--directory "$MV_TMP/www" 8081
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"
wait_for 10 "http server on h2 underlay" in_ns h2 bash -c "exec 3<>/dev/tcp/198.18.0.12/8081"

# Entries of h1's vpnd `allowed` map. bpftool here cannot list maps by
# owner PID: the report programs on the attached cgroup lead to the maps of
# vpnd's object, and `allowed` is the one with the same BTF.
allowed_id=
allowed_find() {
	local prog
	prog=$(bpftool -j cgroup show "$cg" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])') || return 1
	allowed_id=$(bpftool -j prog show id "$prog" | python3 -c '
import json, subprocess, sys
mine = json.load(sys.stdin)["map_ids"]
maps = json.loads(subprocess.check_output(["bpftool", "-j", "map", "show"]))
btf = {m.get("btf_id") for m in maps if m["id"] in mine} - {None, 0}
print(*[m["id"] for m in maps if m.get("name") == "allowed" and m.get("btf_id") in btf])')
	case $allowed_id in ''|*' '*) return 1 ;; esac
}
allowed_n() { bpftool -j map dump id "$allowed_id" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# bpftool prints an empty line, not [], for a cgroup without programs.
progs_on() { bpftool -j cgroup show "$1" | python3 -c 'import json,sys; t=sys.stdin.read().strip(); print(len(json.loads(t)) if t else 0)'; }
curl_cg() { in_cg "$cg" h1 curl -sS --max-time "$(mv_t 5)" "$@"; }

cg_new app cg || fail "cgroup"

log_step "attach"
vpnctl_on h1 attach "$cg" || fail "attach"
allowed_find || fail "cannot find vpnd's allowed map"
n0=0
[ "$(allowed_n)" -eq 1 ] || fail "attach did not add to the allowed map"
[ "$(progs_on "$cg")" -eq 4 ] || fail "expected 4 report programs on the cgroup, got $(progs_on "$cg")"
grep -qxF "$cg" "$MV_TMP/h1/attached" || fail "attach not recorded in the state dir"
[ "$(curl_cg "http://$h2ip:8080/")" = lifecycle-ok ] || fail "attached: overlay curl"
[ "$(curl_cg "http://198.18.0.12:8081/")" = lifecycle-ok ] || fail "attached: underlay curl"
echo "attached: 4 programs on the cgroup, in allowed map and state file; overlay and underlay curl work"

log_step "detach"
vpnctl_on h1 detach "$cg" || fail "detach"
[ "$(allowed_n)" -eq "$n0" ] || fail "detach did not remove the allowed-map entry"
[ "$(progs_on "$cg")" -eq 0 ] || fail "programs left on the cgroup after detach"
grep -qxF "$cg" "$MV_TMP/h1/attached" && fail "detached cgroup still in the state file"
curl_cg "http://$h2ip:8080/" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 7 ] || fail "detached: overlay curl exit $rc, want 7 (EPERM)"
[ "$(curl_cg "http://198.18.0.12:8081/")" = lifecycle-ok ] || fail "detached: underlay curl"
echo "detached: no programs, not allowed, not recorded; overlay curl exit $rc, underlay curl passes"
vpnctl_on h1 detach "$cg" 2>"$MV_TMP/err.txt" && fail "second detach succeeded"
echo "second detach: $(cat "$MV_TMP/err.txt")"

log_step "vpnctl run"
vpnctl_on h1 run -- sh -c 'exit 3'; rc=$?
[ "$rc" -eq 3 ] || fail "vpnctl run exit status $rc, want 3"
rcg=$(vpnctl_on h1 run -- sh -c 'sed -n "s/^0:://p" /proc/self/cgroup') || fail "vpnctl run"
rcg="$(cg_root)$rcg"
case $rcg in */mavpn-run.*) ;; *) fail "vpnctl run ran in '$rcg'" ;; esac
[ -d "$rcg" ] && fail "vpnctl run left $rcg behind"
echo "vpnctl run: exit status passed on; cgroup $rcg removed"
bg_start "$MV_TMP/run-sleep.log" $(nsx h1) "$MV_BIN/vpnctl" --sock "$MV_TMP/h1.sock" run -- sleep 30
rpid=${MV_PIDS[-1]}
wait_for 5 "vpnctl run cgroup" bash -c "ls -d $(cg_root)/mavpn-run.$rpid.* >/dev/null 2>&1"
rcg=$(ls -d "$(cg_root)"/mavpn-run."$rpid".*)
[ "$(allowed_n)" -eq $((n0 + 1)) ] || fail "vpnctl run did not attach"
kill -TERM "$rpid"; wait "$rpid" 2>/dev/null
[ -d "$rcg" ] && fail "vpnctl run left $rcg behind after SIGTERM"
[ "$(allowed_n)" -eq "$n0" ] || fail "vpnctl run left its allowed-map entry after SIGTERM"
att=$(vpnctl_on h1 --json status | json_get 'len(d["shim"]["attached"])')
[ "$att" -eq 0 ] || fail "$att cgroups still attached"
echo "vpnctl run killed with SIGTERM: cgroup removed, detached"
echo "PASS: attach/detach and vpnctl run life cycle"
