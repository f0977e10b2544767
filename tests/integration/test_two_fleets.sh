#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Two independent fleets on one machine, at the same time:
#
#   fleet a: its own sw/srv/h1/h2 namespaces, authsrv, overlay 100.80.0.0/16
#   fleet b: the same (a child run of this script), same overlay addresses,
#            two veth pairs in its h2 so that its mavpn0 has other
#            ifindexes than fleet a's
#
# Every vpnd links its enforcement programs to the one cgroup v2 root that
# all network namespaces share, so each fleet's programs see the other's
# sockets and packets. Proves: each program acts on its own netns only
# (found by vmtest: an accepted connection in one fleet was marked by the
# other fleet's sockops program and its packets dropped by that fleet's
# ingress check, so curl hung after the SYN-ACK); a curl through each fleet
# works while the other runs; nothing in clear on either bridge.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd curl tcpdump

role=${MV_FLEET_ROLE:-a}
sync=${MV_FLEET_SYNC:-$MV_TMP/sync}
mkdir -p "$sync"

topo_up || fail "fleet $role: topology"
if [ "$role" = b ]; then
	for i in 1 2; do in_ns h2 ip link add "dm$i" type veth peer name "dm${i}p"; done
else
	# fleet b: a child run of this script, with its own names (MV_ID)
	bg_start "$MV_TMP/fleet-b.log" env MV_FLEET_ROLE=b MV_FLEET_SYNC="$sync" \
		MV_ID="${MV_ID}b" bash "$0"
	b_pid=${MV_PIDS[-1]}
fi
start_authsrv || fail "fleet $role: authsrv did not start"
start_host h1 || fail "fleet $role: h1 did not enroll/connect"
start_host h2 || fail "fleet $role: h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "fleet $role: vpnctl resolve h2"
mkdir -p "$MV_TMP/www" && echo "fleet-$role" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"
bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -i br0 -U -n -w "$MV_TMP/wire.pcap" ip
wait_for 10 "tcpdump running" grep -q listening "$MV_TMP/tcpdump.log"
cg_new app CG || fail "cgroup"
vpnctl_on h1 attach "$CG" >/dev/null || fail "fleet $role: attach"

# Both fleets up before either tries: the other's programs are linked.
touch "$sync/$role-up"
other=$([ "$role" = a ] && echo b || echo a)
wait_for 60 "fleet $other up" test -e "$sync/$other-up" || fail "fleet $other never came up"

for i in 1 2 3; do
	body=$(in_cg "$CG" h1 curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") ||
		fail "fleet $role: curl $i to h2 while fleet $other runs"
	[ "$body" = "fleet-$role" ] || fail "fleet $role: body '$body'"
done
echo "fleet $role: 3 curls h1 -> h2 ($h2ip) while fleet $other runs: $body"
blocked=$(vpnctl_on h2 --json status | json_get 'd["shim"]["blocked_inbound"]') || fail "status"
echo "fleet $role: h2 shim blocked_inbound=$blocked"
[ "$blocked" -eq 0 ] || fail "fleet $role: h2 dropped $blocked packets of its own fleet as inbound bypass"
touch "$sync/$role-done"
# stay up until the other fleet has tried too
wait_for 120 "fleet $other done" test -e "$sync/$other-done" || fail "fleet $other never finished"
mv_sleep 0.5
kill "${MV_PIDS[-2]}"; wait "${MV_PIDS[-2]}" 2>/dev/null	# tcpdump
clear=$(pcap_count "$MV_TMP/wire.pcap" tcp port 8080)
[ "$clear" -eq 0 ] || fail "fleet $role: plaintext HTTP on the bridge"

if [ "$role" = a ]; then
	wait "$b_pid"; rc=$?
	sed 's/^/  [fleet b] /' "$MV_TMP/fleet-b.log"
	[ "$rc" -eq 0 ] || fail "fleet b failed (exit $rc)"
	echo "PASS: two fleets with the same overlay addresses run side by side"
fi
