#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# One source floods the server with idle TCP connections:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv --max-sessions 64, --metrics on lo)
#              ├─ h1  198.18.0.11  vpnd: reconnects during the flood
#              ├─ h2  198.18.0.12  vpnd
#              ├─ h3  198.18.0.13  the attacker: 400 idle connects, kept up
#              └─ h4  198.18.0.14  enrolls during the flood
#
# Proves: one address holds at most min(16, max_sessions/8) = 8
# unauthenticated sessions (the rest are refused at accept, counted in
# mavpn_authsrv_connections_refused_source_total and logged a few times a
# second with the counter line); idle ones are closed after
# --handshake-timeout; while the flood runs a restarted vpnd reconnects and
# a new host enrolls within a few seconds; once it ends no unauthenticated
# session is left and every host is online. With idle connects charged to
# the global limit only, the flood locks h1 and h4 out.
set -u
. "$(dirname "$0")/../lib/topo.sh"
need_cmd curl ss
trap topo_down EXIT

command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }

MPORT=9100
scrape() { in_ns srv curl -sS --max-time "$(mv_t 5)" "http://127.0.0.1:$MPORT/metrics"; }
metric() { scrape | awk -v m="$1" '$1 == m { print $2 }'; }

topo_up || fail "topology"
topo_add_host h3 13 || fail "topology h3"
topo_add_host h4 14 || fail "topology h4"
start_authsrv --max-sessions 64 --handshake-timeout 3 --metrics "127.0.0.1:$MPORT" \
	|| fail "authsrv did not start"
start_host h1 || fail "h1"
start_host h2 || fail "h2"
tok4=$("$MV_BIN/authsrv" token create h4 --state "$MV_TMP/srv") || fail "token h4"

# The flood lasts 15 s x MV_TIME_SCALE: long enough for the steps below.
FLOOD_S=$((15 * MV_TIME_SCALE))
log_step "h3 holds 400 idle connections to the server for $FLOOD_S s"
# Reopens every connection the server closes, ten times a second.
cat > "$MV_TMP/flood.py" <<'PY'
import select, socket, sys, time
addr = (sys.argv[1], int(sys.argv[2]))
socks, opened, end = [], 0, time.time() + int(sys.argv[3])
def one():
    global opened
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(addr)
    opened += 1
    return s
while time.time() < end:
    while len(socks) < 400:
        socks.append(one())
    r, _, _ = select.select(socks, [], [], 0.5)
    for s in r:
        try:
            if s.recv(1) == b"":
                raise OSError
        except OSError:
            s.close()
            socks.remove(s)
    time.sleep(0.1)
print("opened", opened, flush=True)
PY
bg_start "$MV_TMP/flood.log" $(nsx h3) python3 "$MV_TMP/flood.py" "$MV_SUBNET.1" "$MV_PORT_SRV" "$FLOOD_S"
flood_pid=${MV_PIDS[-1]}
flooding() { [ "$(metric mavpn_authsrv_connections_refused_source_total)" -gt 0 ]; }
wait_for 10 "the flood under way" flooding || fail "no connection of the flood was refused"
n=$(metric 'mavpn_authsrv_sessions{state="handshake"}')
echo "unauthenticated sessions during the flood: $n"
[ -n "$n" ] && [ "$n" -le 8 ] || fail "one source holds $n unauthenticated sessions (max 8)"

log_step "during the flood: h1 reconnects, h4 enrolls"
# Cut h1's control connection (sock_destroy): vpnd reconnects after 1 s.
t0=$(date +%s%N)
in_ns h1 ss -K dst "$MV_SUBNET.1" dport = "$MV_PORT_SRV" >/dev/null 2>&1
h1_back() { [ "$(grep -c 'host online host=h1 ' "$MV_TMP/authsrv.log")" -ge 2 ]; }
wait_for 4 "h1 reconnected during the flood" h1_back || fail "h1 locked out by the flood"
echo "h1 reconnected after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
host_connected h1 || fail "h1 not connected"
in_ns h4 timeout "$(mv_t 5)" "$MV_BIN/vpnd" enroll --state "$MV_TMP/h4" \
	--server "$MV_SUBNET.1:$MV_PORT_SRV" --token "$tok4" || fail "h4 could not enroll during the flood"
kill -0 "$flood_pid" 2>/dev/null || fail "the flood ended too early to prove anything"

log_step "refusals are counted and logged"
refused=$(metric mavpn_authsrv_connections_refused_source_total)
echo "refused per source: $refused"
[ -n "$refused" ] && [ "$refused" -gt 100 ] || fail "refusals not counted ($refused)"
grep -q 'connection refused addr=198.18.0.13 reason="too many unauthenticated connections from this address" limit=8 .*connections_refused_source=[1-9]' \
	"$MV_TMP/authsrv.log" || fail "no refusal log line with the counters"
lines=$(grep -c 'connection refused addr=198.18.0.13' "$MV_TMP/authsrv.log")
echo "refusal log lines: $lines"
# at most 5 lines a second (log_ratelimited)
[ "$lines" -le $((5 * (FLOOD_S + 1))) ] || fail "refusals not rate limited in the log ($lines lines)"

log_step "after the flood the slots return"
wait "$flood_pid" 2>/dev/null
cat "$MV_TMP/flood.log"
wait_for 10 "handshake sessions gone" bash -c \
	"$(nsx srv) curl -sS --max-time $(mv_t 2) http://127.0.0.1:$MPORT/metrics | grep -qx 'mavpn_authsrv_sessions{state=\"handshake\"} 0'" \
	|| fail "unauthenticated sessions still held: $(metric 'mavpn_authsrv_sessions{state="handshake"}')"
[ "$(metric 'mavpn_authsrv_handshake_timeouts_total')" -ge 1 ] || fail "no handshake timeout counted"
host_connected h1 && host_connected h2 || fail "a host lost its session"
[ "$(metric mavpn_authsrv_hosts_connected)" = 2 ] || fail "hosts_connected $(metric mavpn_authsrv_hosts_connected)"
echo "PASS: one source holds 8 unauthenticated slots; hosts reconnect and enroll through a flood; refusals counted and logged"
