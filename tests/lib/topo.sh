# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers for the network-namespace tests and the demo (sourced).
#
#   ns sw:  bridge br0 ─┬─ veth ─ ns srv  eth0 198.18.0.1/24   authsrv :7443
#                       ├─ veth ─ ns h1   eth0 198.18.0.11/24  vpnd (mavpn0 overlay)
#                       └─ veth ─ ns h2   eth0 198.18.0.12/24  vpnd (mavpn0 overlay)
#
# Every name carries a per-run id so parallel or leftover runs cannot collide;
# topo_down removes everything topo_up and the helpers created, by PID.

MV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MV_BIN=$MV_ROOT/build/bin
MV_ID=${MV_ID:-$$}
MV_TMP=$(mktemp -d "/tmp/mavpn-test.$MV_ID.XXXXXX")
MV_PIDS=()
MV_NETNS=()
MV_PORT_SRV=7443
MV_SUBNET=198.18.0

ns_name() { echo "mv$MV_ID-$1"; }
# Run a command in a test namespace without hiding /sys/fs/bpf or cgroup2
# (ip netns exec would remount sysfs).
in_ns() { local ns; ns=$(ns_name "$1"); shift; nsenter --net="/run/netns/$ns" "$@"; }
# The same as words, for bg_start (which must exec a real program so the
# PID it records is the daemon's own).
nsx() { echo nsenter --net="/run/netns/$(ns_name "$1")"; }

log_step() { printf '\n==> %s\n' "$*"; }

topo_add_host() { # name last-octet
	local ns; ns=$(ns_name "$1")
	ip netns add "$ns"
	MV_NETNS+=("$ns")
	ip link add "v$MV_ID$1" type veth peer name eth0 netns "$ns"
	ip link set "v$MV_ID$1" netns "$(ns_name sw)"
	in_ns sw ip link set "v$MV_ID$1" master br0 up
	in_ns "$1" ip addr add "$MV_SUBNET.$2/24" dev eth0
	in_ns "$1" ip link set eth0 up
	in_ns "$1" ip link set lo up
}

topo_up() {
	local sw; sw=$(ns_name sw)
	ip netns add "$sw"
	MV_NETNS+=("$sw")
	in_ns sw ip link add br0 type bridge
	in_ns sw ip link set br0 up
	topo_add_host srv 1
	topo_add_host h1 11
	topo_add_host h2 12
}

# Start a background command, remember its PID for topo_down.
bg_start() { # logfile cmd...
	local log=$1; shift
	"$@" >"$log" 2>&1 &
	MV_PIDS+=($!)
}

wait_for() { # seconds description cmd...
	local t=$1 what=$2; shift 2
	local i
	for ((i = 0; i < t * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "timed out after ${t}s waiting for: $what" >&2
	return 1
}

topo_down() {
	local p ns
	for p in "${MV_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${MV_PIDS[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	MV_PIDS=()
	for ns in "${MV_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	MV_NETNS=()
	rm -rf "$MV_TMP"
}

# authsrv in ns srv with a fresh state directory.
start_authsrv() {
	"$MV_BIN/authsrv" init --state "$MV_TMP/srv" >"$MV_TMP/srv-init.log" 2>&1 || {
		cat "$MV_TMP/srv-init.log" >&2; return 1; }
	bg_start "$MV_TMP/authsrv.log" $(nsx srv) "$MV_BIN/authsrv" serve \
		--state "$MV_TMP/srv" --listen "0.0.0.0:$MV_PORT_SRV"
	wait_for 10 "authsrv listening" in_ns srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$MV_PORT_SRV"
}

# Enroll host $1 (ns of the same name) with a fresh token, then run vpnd.
start_host() { # name
	local h=$1 tok
	tok=$("$MV_BIN/authsrv" token create "$h" --state "$MV_TMP/srv") || return 1
	in_ns "$h" "$MV_BIN/vpnd" enroll --state "$MV_TMP/$h" \
		--server "$MV_SUBNET.1:$MV_PORT_SRV" --token "$tok" || return 1
	bg_start "$MV_TMP/vpnd-$h.log" $(nsx "$h") "$MV_BIN/vpnd" run --state "$MV_TMP/$h" \
		--iface eth0 --sock "$MV_TMP/$h.sock"
	wait_for 15 "vpnd on $h connected" host_connected "$h"
}

vpnctl_on() { local h=$1; shift; in_ns "$h" "$MV_BIN/vpnctl" --sock "$MV_TMP/$h.sock" "$@"; }

host_connected() { vpnctl_on "$1" --json status | python3 -c \
	'import json,sys; sys.exit(0 if json.load(sys.stdin)["self"]["connected"] else 1)'; }

# Print field $2 of `vpnctl --json` output on stdin addressed as python expr.
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
