#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A renewal the server denies ends the live key:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv --key-lifetime 20)
#              ├─ h1  198.18.0.11  vpnd ── ping -i 0.1 ──┐ overlay
#              └─ h2  198.18.0.12  vpnd ◀────────────────┘
#
# Proves: after the policy stops allowing h1 -> h2, h1's renewal (at 80 %
# of the lifetime, 16 s) is answered with KEY_DENY and h1 removes its keys
# with h2 then, not at the key's expiry (20 s): at 18 s h1 lists no key
# with h2 and the pings get no more replies.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

peers_with() { vpnctl_on "$1" --json peers | json_get "len([p for p in d if p['name']=='$2'])"; }

topo_up || fail "topology"
# 20 s keys, renewed at 16 s; checked at 18 s: the denied renewal's round
# trip gets 2 s, times MV_TIME_SCALE with the lifetime.
S=$MV_TIME_SCALE
start_authsrv --key-lifetime $((20 * S)) || fail "authsrv did not start"
start_host h1 || fail "h1"
start_host h2 || fail "h2"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve h2"

log_step "a key h1 -> h2, then a policy without h1 -> h2"
bg_start "$MV_TMP/ping.log" $(nsx h1) "$MV_BIN/vpnctl" --sock "$MV_TMP/h1.sock" run -- \
	ping -i 0.1 -W "$(mv_t 1)" "$h2ip"
wait_for 5 "first reply" grep -q "bytes from" "$MV_TMP/ping.log" || fail "no key h1 -> h2"
t0=$(date +%s)
echo 'allow h2 -> h1' > "$MV_TMP/p.policy"
"$MV_BIN/authsrv" policy set "$MV_TMP/p.policy" --state "$MV_TMP/srv" >/dev/null || fail "policy set"

log_step "the renewal at 16 s is denied: keys gone before the 20 s expiry"
sleep $(( t0 + 18 * S - $(date +%s) ))
n=$(peers_with h1 h2)
echo "h1 keys with h2 at $((18 * S)) s: $n"
grep -q "key: renewal denied, keys removed" "$MV_TMP/vpnd-h1.log" || fail "h1 did not remove its keys at the denied renewal"
[ "$n" = 0 ] || fail "h1 still holds keys with h2 after the denied renewal"
a=$(grep -c "bytes from" "$MV_TMP/ping.log")
mv_sleep 1
b=$(grep -c "bytes from" "$MV_TMP/ping.log")
[ "$a" = "$b" ] || fail "h1 still reaches h2 ($a -> $b replies)"
echo "PASS: a denied renewal removes the live key"
