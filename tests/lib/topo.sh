# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers for the network-namespace tests and the demo (sourced).
#
#   ns sw:  bridge br0 ─┬─ veth ─ ns srv  eth0 198.18.0.1/24   authsrv :7443
#                       ├─ veth ─ ns h1   eth0 198.18.0.11/24  vpnd (mavpn0 overlay)
#                       └─ veth ─ ns h2   eth0 198.18.0.12/24  vpnd (mavpn0 overlay)
#
# MV_VPND_ARGS: extra `vpnd run` options (e.g. "--workers 1") for benches.
# MV_IFACE: the underlay `vpnd run --iface` names (default eth0).
# MV_TIME_SCALE: a positive integer (default 1) that multiplies every margin
# the tests give the machine: wait_for deadlines, mv_sleep, timeouts and
# durations taken from mv_t. A slow machine raises it (vmtest sets 4 under
# QEMU/TCG); what the product promises in real time (key lifetimes, the
# revocation bound, rate-limit refills) is the product's and stays fixed
# unless the test says why.
# Every name carries a per-run id so parallel or leftover runs cannot collide;
# topo_down removes everything topo_up and the helpers created, by PID.

MV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$MV_ROOT/tests/lib/need.sh"
need_cmd ip
MV_BIN=$MV_ROOT/build/bin
MV_ID=${MV_ID:-$$}
MV_TMP=$(mktemp -d "/tmp/mavpn-test.$MV_ID.XXXXXX")
MV_PIDS=()
MV_NETNS=()
MV_CGROUPS=()
declare -A MV_HOST_PID=()	# host name -> its vpnd's PID
MV_PORT_SRV=7443
MV_SUBNET=198.18.0
MV_TIME_SCALE=${MV_TIME_SCALE:-1}
case $MV_TIME_SCALE in
'' | *[!0-9]* | 0) echo "MV_TIME_SCALE must be a positive integer, not '$MV_TIME_SCALE'" >&2; exit 2 ;;
esac

# SECONDS (decimal, e.g. 0.5) times MV_TIME_SCALE, printed: for --max-time,
# timeout, ping -W and the like. Pure bash: no process per call.
mv_t() { # seconds
	local i=${1%%.*} f=${1#*.}
	[ "$f" != "$1" ] || f=0
	f=${f}000
	local ms=$(((10#${i:-0} * 1000 + 10#${f:0:3}) * MV_TIME_SCALE))
	printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000))
}
# A pause that only gives the machine time (a capture to flush, a packet to
# be counted); waiting for a condition is wait_for's job.
mv_sleep() { sleep "$(mv_t "$1")"; }

ns_name() { echo "mv$MV_ID-$1"; }
# Run a command in a test namespace without hiding /sys/fs/bpf or cgroup2
# (ip netns exec would remount sysfs).
in_ns() { local ns; ns=$(ns_name "$1"); shift; nsenter --net="/run/netns/$ns" "$@"; }
# The same as words, for bg_start (which must exec a real program so the
# PID it records is the daemon's own).
nsx() { echo nsenter --net="/run/netns/$(ns_name "$1")"; }

log_step() { printf '\n==> %s\n' "$*"; }
# The one failure path of every test: the message, the tail of each log of
# this run, exit 1 (the EXIT trap then runs topo_down).
fail() {
	local f
	echo "FAIL: $*"
	for f in "$MV_TMP"/*.log "$MV_TMP"/*.out; do
		[ -e "$f" ] || continue
		echo "--- $f"; tail -n 20 "$f"
	done
	exit 1
}

topo_add_host() { # name last-octet
	local ns; ns=$(ns_name "$1")
	ip netns add "$ns"
	MV_NETNS+=("$ns")
	# MV_UL_QUEUES: a multi-queue "NIC" (veth rx/tx queues on both ends)
	ip link add "v$MV_ID$1" ${MV_UL_QUEUES:+numtxqueues $MV_UL_QUEUES numrxqueues $MV_UL_QUEUES} \
		type veth peer name eth0 ${MV_UL_QUEUES:+numtxqueues $MV_UL_QUEUES numrxqueues $MV_UL_QUEUES} netns "$ns"
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

# Poll cmd until it succeeds, for at most seconds × MV_TIME_SCALE of wall
# time (a deadline, however slow each try is); cmd runs at least once.
wait_for() { # seconds description cmd...
	local t what=$2 end
	t=$(mv_t "$1"); shift 2
	end=$((${EPOCHREALTIME/./} + 10#${t/./}000))
	until "$@" >/dev/null 2>&1; do
		if [ "${EPOCHREALTIME/./}" -ge "$end" ]; then
			echo "timed out after ${t}s waiting for: $what" >&2
			return 1
		fi
		sleep 0.1
	done
}

topo_down() {
	local p ns
	for p in "${MV_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${MV_PIDS[@]}"; do
		for _ in $(seq $((30 * MV_TIME_SCALE))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	MV_PIDS=()
	# enforcement pins a vpnd killed with SIGKILL left (a clean stop
	# removes its own): unlinking them detaches the programs
	local pin
	for pin in $(sed -n 's/.*shim: enforcing.* pinned=\(\/sys\/fs\/bpf\/mavpn\/ns[0-9]*\).*/\1/p' \
			"$MV_TMP"/vpnd-*.log 2>/dev/null | sort -u); do
		rm -f "$pin"/* 2>/dev/null
		rmdir "$pin" 2>/dev/null
	done
	rmdir /sys/fs/bpf/mavpn 2>/dev/null
	for cg in "${MV_CGROUPS[@]}"; do
		# leftovers of a failed step: kill them by PID, then remove
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		for _ in $(seq 20); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
	done
	MV_CGROUPS=()
	for ns in "${MV_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	MV_NETNS=()
	rm -rf "$MV_TMP"
}

# authsrv in ns srv with a fresh state directory, overlay $MV_OVERLAY if set
# (a test that runs next to others picks its own: another run's shim on the
# same machine must never see its overlay addresses as its own).
# Further arguments go to `authsrv serve` (e.g. --key-lifetime 4).
start_authsrv() { # [serve-args...]
	"$MV_BIN/authsrv" init --state "$MV_TMP/srv" ${MV_OVERLAY:+--overlay "$MV_OVERLAY"} \
		>"$MV_TMP/srv-init.log" 2>&1 || {
		cat "$MV_TMP/srv-init.log" >&2; return 1; }
	bg_start "$MV_TMP/authsrv.log" $(nsx srv) "$MV_BIN/authsrv" serve \
		--state "$MV_TMP/srv" --listen "0.0.0.0:$MV_PORT_SRV" "$@"
	wait_for 10 "authsrv listening" in_ns srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$MV_PORT_SRV"
}

# Enroll host $1 (ns of the same name) with a fresh token, then run vpnd.
# Further arguments go to `authsrv token create` (e.g. --route CIDR).
start_host() { # name [token-create-args...]
	local h=$1 tok; shift
	tok=$("$MV_BIN/authsrv" token create "$h" --state "$MV_TMP/srv" "$@") || return 1
	# the token on stdin (--token-file -): not in /proc/PID/cmdline
	printf '%s\n' "$tok" | in_ns "$h" "$MV_BIN/vpnd" enroll --state "$MV_TMP/$h" \
		--server "$MV_SUBNET.1:$MV_PORT_SRV" --token-file - || return 1
	run_host "$h"
}

# (Re)start vpnd on an enrolled host; its PID goes to MV_HOST_PID[name].
run_host() { # name
	local h=$1
	bg_start "$MV_TMP/vpnd-$h.log" $(nsx "$h") "$MV_BIN/vpnd" run --state "$MV_TMP/$h" \
		--iface "${MV_IFACE:-eth0}" --sock "$MV_TMP/$h.sock" ${MV_VPND_ARGS:-}
	MV_HOST_PID[$h]=${MV_PIDS[-1]}
	wait_for 15 "vpnd on $h connected" host_connected "$h"
}

vpnctl_on() { local h=$1; shift; in_ns "$h" "$MV_BIN/vpnctl" --sock "$MV_TMP/$h.sock" "$@"; }

host_connected() { vpnctl_on "$1" --json status | python3 -c \
	'import json,sys; sys.exit(0 if json.load(sys.stdin)["self"]["connected"] else 1)'; }

# A LAN behind host $1: namespace $2 with no VPN software, joined to $1 by a
# veth (lan0 198.19.0.1/24 on $1, eth0 198.19.0.$3/24 and a default route
# back through $1 in $2).
topo_add_lan() { # gateway-host lan-name last-octet
	local ns; ns=$(ns_name "$2")
	ip netns add "$ns"
	MV_NETNS+=("$ns")
	ip link add "l$MV_ID$2" type veth peer name eth0 netns "$ns"
	ip link set "l$MV_ID$2" netns "$(ns_name "$1")"
	in_ns "$1" ip link set "l$MV_ID$2" name lan0
	in_ns "$1" ip addr add 198.19.0.1/24 dev lan0
	in_ns "$1" ip link set lan0 up
	in_ns "$2" ip addr add "198.19.0.$3/24" dev eth0
	in_ns "$2" ip link set eth0 up
	in_ns "$2" ip link set lo up
	in_ns "$2" ip route add default via 198.19.0.1
}

# A host $1 behind a NAT router $2 (both new namespaces): $2's eth0 is on
# br0 with $MV_SUBNET.$3, its lan0 10.$4.0.1/24 faces $1 (eth0 10.$4.0.2,
# default route through $2). nftables on $2: masquerade out of eth0
# ($5: "" endpoint-independent, as Linux keeps the source port when it is
# free; "random": symmetric, a new port per destination), and the router
# drops new connections from the WAN to itself, as home routers do (also
# keeps a peer's early probe from leaving a conntrack entry that steals
# the port its host's own mapping would get).
topo_add_nat_host() { # host router wan-octet lan-octet [random]
	local h=$1 r=$2 lan=10.$4.0 ns
	need_cmd nft sysctl
	topo_add_host "$r" "$3"
	ns=$(ns_name "$h")
	ip netns add "$ns"
	MV_NETNS+=("$ns")
	ip link add "n$MV_ID$h" type veth peer name eth0 netns "$ns"
	ip link set "n$MV_ID$h" netns "$(ns_name "$r")"
	in_ns "$r" ip link set "n$MV_ID$h" name lan0
	in_ns "$r" ip addr add "$lan.1/24" dev lan0
	in_ns "$r" ip link set lan0 up
	in_ns "$r" sysctl -qw net.ipv4.ip_forward=1
	in_ns "$r" nft -f - <<-EOF || return 1
	table ip mvnat {
		chain input {
			type filter hook input priority filter; policy accept;
			iifname "eth0" ct state new drop
		}
		chain post {
			type nat hook postrouting priority srcnat;
			oifname "eth0" masquerade ${5:-}
		}
	}
	EOF
	in_ns "$h" ip addr add "$lan.2/24" dev eth0
	in_ns "$h" ip link set eth0 up
	in_ns "$h" ip link set lo up
	in_ns "$h" ip route add default via "$lan.1"
}

# The cgroup2 mount point (e.g. /sys/fs/cgroup/unified on hybrid hosts).
cg_root() { awk '/ - cgroup2 / { print $5; exit }' /proc/self/mountinfo; }

# Make a cgroup that topo_down removes and store its path in variable $2
# (not printed: a $(...) subshell would lose the cleanup record).
cg_new() { # name var
	local _cgp; _cgp="$(cg_root)/mavpn-test.$MV_ID.$1"
	mkdir "$_cgp" || return 1
	MV_CGROUPS+=("$_cgp")
	printf -v "$2" '%s' "$_cgp"
}

# Run a command inside cgroup $1 and namespace $2.
in_cg() { # cgroup host cmd...
	local cg=$1 ns; ns=$(ns_name "$2"); shift 2
	bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
		nsenter --net="/run/netns/$ns" "$@"
}

# Frames in capture $1 that match a tcpdump filter (tcpdump rather than
# tshark: tshark takes seconds to start, tens of them under QEMU/TCG).
pcap_count() { # file [filter...]
	local f=$1; shift
	need_cmd tcpdump
	tcpdump -nr "$f" "$@" 2>/dev/null | wc -l
}

# Print field $2 of `vpnctl --json` output on stdin addressed as python expr.
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# Ping $1 times every $2 s from h1 to $3 in an attached cgroup (the shim lets
# nothing else out), sampling h1's key id for h2 every 0.3 s. Sets
# PING_SENT, PING_RECV and KEY_IDS (distinct key ids seen).
ping_sampling_keys() { # count interval dst
	local pid
	need_cmd ping
	bg_start "$MV_TMP/ping.log" $(nsx h1) "$MV_BIN/vpnctl" --sock "$MV_TMP/h1.sock" run -- \
		ping -q -c "$1" -i "$2" -W "$(mv_t 2)" "$3"
	pid=${MV_PIDS[-1]}
	: > "$MV_TMP/keyids"
	while kill -0 "$pid" 2>/dev/null; do
		vpnctl_on h1 --json peers 2>/dev/null | json_get \
			'"\n".join(str(p["key_id"]) for p in d if p["name"]=="h2")' >> "$MV_TMP/keyids" 2>/dev/null
		sleep 0.3
	done
	wait "$pid" 2>/dev/null
	tail -n 3 "$MV_TMP/ping.log"
	PING_SENT=$(awk '/packets transmitted/ {print $1}' "$MV_TMP/ping.log")
	PING_RECV=$(awk '/packets transmitted/ {print $4}' "$MV_TMP/ping.log")
	KEY_IDS=$(grep -v '^$' "$MV_TMP/keyids" | sort -u | wc -l)
}
