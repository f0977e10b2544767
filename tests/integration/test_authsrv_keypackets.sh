#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Key packet limits:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv --key-packets 300)
#              ├─ h1  198.18.0.11  vpnd ── ping -i 0.01, 1000 ┐ overlay
#              └─ h2  198.18.0.12  vpnd ◀─────────────────────┘
#
# Proves: a key carries at most 300 packets per direction (KEY_GRANT /
# KEY_PUSH max_packets); when it is used up the data plane holds the next
# packets, asks for a new key and sends them under it: 1000 pings, 0 lost,
# at least 3 key ids seen, no datagram dropped as unknown or expired.
# The hold is 128 packets, so the ping rate times the key's round trip
# must stay below it: the interval is scaled by MV_TIME_SCALE (0.01 s on
# the host, 40 ms under vmtest, where a round trip can take over a second).
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT


topo_up || fail "topology"
start_authsrv --key-lifetime 300 --key-packets 300 || fail "authsrv did not start"
start_host h1 || fail "h1"
start_host h2 || fail "h2"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve"

log_step "ping h1 -> h2: 1000 packets, keys of 300"
ping_sampling_keys 1000 "$(mv_t 0.01)" "$h2ip"
sent=$PING_SENT recv=$PING_RECV ids=$KEY_IDS
renewals=$(vpnctl_on h1 --json status | json_get 'd["keys"]["renewals"]')
grants=$(grep -c '"event":"key_grant"' "$MV_TMP/srv/audit.log")
echo "pings: $sent sent, $recv received; key ids seen on h1: $ids; renewals: $renewals; grants: $grants"
[ "$sent" = 1000 ] || fail "ping did not run to the end"
[ "$recv" = 1000 ] || fail "lost $((sent - recv)) pings across key renewals"
[ "$ids" -ge 3 ] || fail "only $ids key id(s) seen: the packet limit did not renew keys"
for h in h1 h2; do
	vpnctl_on $h --json status > "$MV_TMP/st-$h.json" || fail "status $h"
	python3 - "$MV_TMP/st-$h.json" <<'PY' || fail "drops on $h"
import json, sys
st = json.load(open(sys.argv[1]))["dp_stats"]
print(sys.argv[1].split("st-")[1], {k: v for k, v in st.items() if k.startswith("drop_")})
assert st["drop_unknown_key"] == 0 and st["drop_expired"] == 0, st
PY
done
echo "PASS: keys end at their packet limit and are replaced without loss"
