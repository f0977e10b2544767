#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `make demo`: the walking skeleton, narrated. Builds the topology of
# tests/lib/topo.sh (authsrv and two hosts on a bridge, each in its own
# network namespace), runs a real web server and curl through mavpn, shows
# the wire, and removes everything again.
set -u
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, BPF, XDP); run: sudo make demo" >&2
	exit 1
fi
. "$(dirname "$0")/lib/topo.sh"
trap topo_down EXIT
die() { echo "demo: $*" >&2; for f in "$MV_TMP"/*.log; do echo "--- $f" >&2; tail -n 15 "$f" >&2; done; exit 1; }

log_step "1. Topology: namespaces $(ns_name sw) (bridge), $(ns_name srv), $(ns_name h1), $(ns_name h2) on $MV_SUBNET.0/24"
topo_up || die "could not build the topology"

log_step "2. authsrv init + serve on $MV_SUBNET.1:$MV_PORT_SRV (CA, server certificate, SQLite registry)"
start_authsrv || die "authsrv did not start"
cat "$MV_TMP/srv-init.log"

log_step "3. Enroll h1 and h2 with one-time tokens (the token pins the server's CA), start vpnd"
start_host h1 || die "h1 did not come up"
start_host h2 || die "h2 did not come up"
vpnctl_on h1 status
vpnctl_on h2 status
echo "proved: both hosts hold a certificate from the server's CA and a verified TLS 1.3 channel to it"

log_step "4. A web server on h2's overlay address; resolve it from h1"
h2ip=$(vpnctl_on h1 resolve h2) || die "resolve failed"
echo "vpnctl resolve h2 -> $h2ip"
marker="hello-from-h2-$RANDOM$RANDOM"
mkdir -p "$MV_TMP/www" && echo "$marker" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" --directory "$MV_TMP/www" 8080
wait_for 10 "web server" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080" || die "web server did not start"

log_step "5. Capture the underlay (bridge) while curl runs in a cgroup attached by 'vpnctl run'"
bg_start "$MV_TMP/tcpdump.log" $(nsx sw) tcpdump -i br0 -U -n -w "$MV_TMP/wire.pcap" ip
wait_for 10 "tcpdump" grep -q listening "$MV_TMP/tcpdump.log"
echo "\$ vpnctl run -- curl http://$h2ip:8080/"
body=$(vpnctl_on h1 run -- curl -sS --max-time 10 "http://$h2ip:8080/") || die "curl failed"
echo "$body"
[ "$body" = "$marker" ] || die "unexpected page"
echo "proved: the connect() shim caught the flow, h1 asked authsrv for a key to h2, authsrv pushed it to h2 and granted it to h1"
sleep 1; kill "${MV_PIDS[-1]}"; wait "${MV_PIDS[-1]}" 2>/dev/null

log_step "5b. The same curl outside an attached cgroup is refused by the kernel (per-application access)"
if out=$(in_ns h1 curl -sS --max-time 5 "http://$h2ip:8080/" 2>&1); then
	die "an unattached curl reached the protected destination: $out"
fi
echo "\$ curl http://$h2ip:8080/   (not in an attached cgroup)"
echo "$out"
echo "proved: only processes in attached cgroups may reach protected destinations"

log_step "5c. The server's audit log of that grant (no key material in it)"
grep -E '"event":"key_(grant|push)' "$MV_TMP/srv/audit.log" | tail -n 2

log_step "6. What the wire saw (tshark on the bridge)"
tshark -r "$MV_TMP/wire.pcap" -Y "udp.port==51820" 2>/dev/null | head -n 8
n=$(tshark -r "$MV_TMP/wire.pcap" -Y "udp.port==51820" 2>/dev/null | wc -l)
echo "... $n encrypted UDP datagrams between $MV_SUBNET.11 and $MV_SUBNET.12"
if grep -q -a "$marker" "$MV_TMP/wire.pcap"; then die "the page was visible on the wire"; fi
echo "proved: the marker '$marker' never appeared on the wire in clear"

log_step "7. Counters on both hosts (vpnctl peers)"
vpnctl_on h1 peers
vpnctl_on h2 peers

log_step "8. Clean up: stop daemons, delete namespaces"
topo_down
trap - EXIT
echo "demo: done, nothing left behind"
