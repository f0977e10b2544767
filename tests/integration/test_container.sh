#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# authsrv as a container (podman, image from `make container`):
#
#   ns sw: br0 ── srv 198.18.0.1  [container: authsrv serve, uid 7443,
#              │                   network = ns srv, volume mv<id>-state]
#              ├─ h1  198.18.0.11  vpnd ── `vpnctl run curl` ──┐ overlay
#              └─ h2  198.18.0.12  vpnd ── python3 http.server ◀┘
#
# Proves: the image builds without a registry (cached base after the first
# run); the server inside runs as a non-root user, its HEALTHCHECK passes;
# tokens made with `podman exec` enroll hosts from other namespaces; curl
# through the VPN works against the containerised server; its metrics are
# reachable in the namespace; the registry lives in the volume: a new
# container on the same volume still knows both hosts and they reconnect.
# SKIP (77) when podman/debootstrap/runc are missing or the base image
# cannot be made (no mirror).
set -u
. "$(dirname "$0")/../lib/topo.sh"

IMAGE=localhost/mavpn-authsrv:latest
export CONTAINERS_CONF=$MV_ROOT/packaging/container/containers.conf
CTR=mv$MV_ID-authsrv
VOL=mv$MV_ID-state
SDIR=/var/lib/mavpn-authsrv

cleanup() {
	podman rm -f -t 2 "$CTR" >/dev/null 2>&1
	podman volume rm -f "$VOL" >/dev/null 2>&1
	topo_down
}
trap cleanup EXIT
need_cmd curl podman

fail() {
	echo "FAIL: $*"
	podman logs --tail 30 "$CTR" 2>&1 | sed 's/^/    container: /'
	for f in "$MV_TMP"/*.log; do echo "--- $f"; tail -n 20 "$f"; done
	exit 1
}

log_step "make container (first run: debootstrap, a few minutes; then cached)"
"$MV_ROOT/packaging/container/build.sh" > "$MV_TMP/build.log" 2>&1
rc=$?
case $rc in
0) tail -n 1 "$MV_TMP/build.log" ;;
3|4) mv_skip "cannot build the container image ($(tail -n 1 "$MV_TMP/build.log")): run \`make deps\`, check the Debian mirror (DEBIAN_MIRROR), then \`make container\`" ;;
*) tail -n 30 "$MV_TMP/build.log"; fail "make container (rc=$rc)" ;;
esac

# No systemd on the test machines to run podman's healthcheck timers (podman
# says so on stderr, kept in podman.log): the test runs the check itself.
ctr_run() {
	podman run -d --name "$CTR" --network "ns:/run/netns/$(ns_name srv)" \
		--health-interval=disable \
		-v "$VOL:$SDIR" "$IMAGE" --state "$SDIR" \
		--listen "0.0.0.0:$MV_PORT_SRV" --metrics "127.0.0.1:9100" \
		>/dev/null 2>>"$MV_TMP/podman.log"
}

topo_up || fail "topology"
podman volume create "$VOL" >/dev/null || fail "podman volume create"
podman run --rm --network none --no-healthcheck -v "$VOL:$SDIR" --entrypoint authsrv "$IMAGE" \
	init --state "$SDIR" 2>>"$MV_TMP/podman.log" || fail "authsrv init in the container"
ctr_run || fail "podman run"
wait_for 15 "authsrv in the container listening" \
	in_ns srv bash -c "exec 3<>/dev/tcp/$MV_SUBNET.1/$MV_PORT_SRV" || fail "container not listening"

uid=$(podman exec "$CTR" id -u) || fail "podman exec id"
[ "$uid" != 0 ] || fail "authsrv runs as root in the container"
echo "authsrv runs as uid $uid in the container"
podman healthcheck run "$CTR" || fail "HEALTHCHECK failed"
echo "HEALTHCHECK passes"

enroll_run() { # host
	local h=$1 tok
	tok=$(podman exec "$CTR" authsrv token create "$h" --state "$SDIR") || return 1
	in_ns "$h" "$MV_BIN/vpnd" enroll --state "$MV_TMP/$h" \
		--server "$MV_SUBNET.1:$MV_PORT_SRV" --token "$tok" || return 1
	bg_start "$MV_TMP/vpnd-$h.log" $(nsx "$h") "$MV_BIN/vpnd" run --state "$MV_TMP/$h" \
		--iface eth0 --sock "$MV_TMP/$h.sock"
	wait_for 15 "vpnd on $h connected" host_connected "$h"
}
enroll_run h1 || fail "h1 did not enroll/connect against the container"
enroll_run h2 || fail "h2 did not enroll/connect against the container"

h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"
marker="mavpn-ctr-$RANDOM$RANDOM"
mkdir -p "$MV_TMP/www" && echo "$marker" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080" || fail "http server"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") ||
	fail "curl through the VPN failed"
[ "$body" = "$marker" ] || fail "page body '$body' is not the marker"
echo "curl h1 -> h2 ($h2ip) through the VPN, keys from the containerised server"

grants=$(in_ns srv curl -s "http://127.0.0.1:9100/metrics" | awk '$1 == "mavpn_authsrv_key_grants_total" {print $2}')
[ "${grants:-0}" -ge 1 ] || fail "container metrics: no grant counted"
echo "container metrics: $grants key grant(s)"

log_step "online backup of the registry (sqlite3 .backup, WAL) as in docs/operations.md"
podman exec "$CTR" sqlite3 "$SDIR/registry.db" ".backup '$SDIR/backup.db'" || fail "sqlite3 .backup"
ok=$(podman exec "$CTR" sqlite3 "$SDIR/backup.db" 'PRAGMA integrity_check') || fail "integrity_check"
[ "$ok" = ok ] || fail "backup integrity: $ok"
podman exec "$CTR" bash -c "mkdir -p /tmp/r && cp $SDIR/backup.db /tmp/r/registry.db &&
	authsrv client list --state /tmp/r --json" > "$MV_TMP/backup-list.json" || fail "client list on the backup"
python3 -c 'import json,sys; n={h["name"] for h in json.load(open(sys.argv[1]))}; sys.exit(0 if {"h1","h2"} <= n else 1)' \
	"$MV_TMP/backup-list.json" || fail "backup lacks h1/h2: $(cat "$MV_TMP/backup-list.json")"
echo "backup taken while serving: integrity ok, lists h1 and h2"

log_step "replace the container; the registry stays in the volume"
podman rm -f -t 5 "$CTR" >/dev/null 2>>"$MV_TMP/podman.log" || fail "podman rm"
ctr_run || fail "podman run (second)"
list=$(podman exec "$CTR" authsrv client list --state "$SDIR" --json) || fail "client list"
echo "$list" | python3 -c 'import json,sys; n={h["name"] for h in json.load(sys.stdin)}; sys.exit(0 if {"h1","h2"} <= n else 1)' ||
	fail "registry lost with the container: $list"
wait_for 40 "h1 reconnected" host_connected h1 || fail "h1 did not reconnect to the new container"
echo "new container knows h1 and h2; h1 reconnected"

echo "PASS: authsrv container: build, health, enroll from namespaces, curl, volume"
