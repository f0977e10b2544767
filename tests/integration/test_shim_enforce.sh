#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Socket shim and per-application access, enforced in the kernel:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv)
#              ├─ h1  198.18.0.11  vpnd ── curl / python / nc / ping, attached or not
#              └─ h2  198.18.0.12  vpnd ── http.server :8080, UDP echo :9000 (attached)
#
# Proves: an unattached process gets EPERM from connect() and sendto() to
# an overlay address (curl exit 7), its ping is dropped; the same programs
# in `vpnctl run` work: TCP (connect4), TCP to ::ffff:<ip> (connect6, v4-
# mapped), unconnected UDP (sendmsg4) whose reply shows the peer's real
# address (no rewrite, so no recvmsg hook needed), connected UDP (nc -u),
# ping; `vpnctl flows` lists application, destination and verdict; two vpnd
# (h1, h2: one cgroup2 hierarchy, two netns) do not act on each other's
# traffic, and namespaces without vpnd are untouched; plaintext TCP to h2's
# overlay address that arrives on the underlay is dropped (ingress guard).
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd curl ping nc python3
[ -n "$(cg_root)" ] || mv_skip "no cgroup2 mount: mount one (mount -t cgroup2 none /sys/fs/cgroup/unified)"

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2"

mkdir -p "$MV_TMP/www" && echo "enforce-ok" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
# UDP echo on h2; it answers with sendto(), so it must be attached itself.
cat > "$MV_TMP/echo.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9000))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"echo:" + d, a)
PY
bg_start "$MV_TMP/echo.log" $(nsx h2) "$MV_BIN/vpnctl" --sock "$MV_TMP/h2.sock" \
	run -- python3 "$MV_TMP/echo.py" "$h2ip"
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"

# errno of a connect()/sendto() from python, as a name (or "ok").
cat > "$MV_TMP/try.py" <<'PY'
import errno, socket, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmo = float(sys.argv[4]) if len(sys.argv) > 4 else 5
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
try:
    if kind == "tcp":
        s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(tmo)
        s.connect((host, port)); print("ok")
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(tmo)
        s.sendto(b"hello", (host, port))
        d, a = s.recvfrom(2048)
        print("ok", d.decode(), a[0])
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)) if e.errno else "timeout")
PY
try_on() { in_ns "$1" python3 "$MV_TMP/try.py" "${@:2}"; }

# enforcement is up before the data plane (and so before mavpn0 exists)
order=$(grep -o 'shim: enforcing\|datapath: up' "$MV_TMP/vpnd-h1.log" | head -2 | tr '\n' ,)
[ "$order" = "shim: enforcing,datapath: up," ] || fail "setup order on h1: $order (want the shim first)"
echo "setup order: $order"

log_step "unattached process on h1"
r=$(try_on h1 tcp "$h2ip" 8080); [ "$r" = EPERM ] || fail "unattached connect(): $r, want EPERM"
echo "connect() from an unattached process: $r"
r=$(try_on h1 udp "$h2ip" 9000); [ "$r" = EPERM ] || fail "unattached sendto(): $r, want EPERM"
echo "sendto() from an unattached process: $r"
r=$(try_on h1 tcp "::ffff:$h2ip" 8080); [ "$r" = EPERM ] || fail "unattached v4-mapped connect(): $r"
echo "connect() to ::ffff:$h2ip from an unattached process: $r"
in_ns h1 curl -sS --max-time "$(mv_t 5)" "http://$h2ip:8080/" >/dev/null 2>"$MV_TMP/curl-err.txt"
rc=$?; [ "$rc" -eq 7 ] || fail "unattached curl exit $rc, want 7"
echo "unattached curl: exit $rc ($(head -c 120 "$MV_TMP/curl-err.txt"))"
in_ns h1 ping -c 2 -W "$(mv_t 1)" "$h2ip" >"$MV_TMP/ping-unatt.txt" 2>&1 && fail "unattached ping got an answer"
echo "unattached ping: $(grep -m1 -io 'operation not permitted\|100% packet loss' "$MV_TMP/ping-unatt.txt")"
# With a source address ping skips its UDP probe: raw ICMP, caught at egress.
h1ip=$(vpnctl_on h1 --json status | json_get 'd["self"]["overlay_ip"]')
in_ns h1 ping -c 2 -W "$(mv_t 1)" -I "$h1ip" "$h2ip" >"$MV_TMP/ping-raw.txt" 2>&1 && fail "unattached raw ping got an answer"
bp=$(vpnctl_on h1 --json status | json_get 'd["shim"]["blocked_packets"]')
[ "$bp" -ge 1 ] || fail "raw ICMP was not dropped at egress (blocked_packets=$bp)"
echo "unattached ping -I $h1ip: $(grep -m1 -io 'operation not permitted\|100% packet loss' "$MV_TMP/ping-raw.txt"), blocked_packets=$bp"
# Raw sockets opened with protocol UDP or TCP write their own transport
# header and pass no sock_addr hook: egress must drop them like raw ICMP.
cat > "$MV_TMP/raw.py" <<'PY'
import errno, socket, struct, sys
proto = {"udp": socket.IPPROTO_UDP, "tcp": socket.IPPROTO_TCP}[sys.argv[1]]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
if proto == socket.IPPROTO_UDP:
    pkt = struct.pack("!HHHH", 40000, 9000, 8 + 9, 0) + b"raw-hello"
else:
    pkt = struct.pack("!HHIIBBHHH", 40000, 8080, 1, 0, 5 << 4, 0x02, 1024, 0, 0)
try:
    for _ in range(3):
        s.sendto(pkt, (sys.argv[2], 0))
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)))
PY
for proto in udp tcp; do
	bp0=$(vpnctl_on h1 --json status | json_get 'd["shim"]["blocked_packets"]')
	r=$(in_ns h1 python3 "$MV_TMP/raw.py" $proto "$h2ip")
	bp=$(vpnctl_on h1 --json status | json_get 'd["shim"]["blocked_packets"]')
	[ "$r" = EPERM ] && [ "$bp" -gt "$bp0" ] ||
		fail "unattached raw IPPROTO_${proto^^} socket to $h2ip: $r, blocked_packets $bp0 -> $bp"
	echo "unattached raw IPPROTO_${proto^^} sendto(): $r, blocked_packets $bp0 -> $bp"
done

log_step "attached process on h1 (vpnctl run)"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://$h2ip:8080/") || fail "vpnctl run curl"
[ "$body" = enforce-ok ] || fail "curl body '$body'"
echo "vpnctl run curl (connect4): $body"
body=$(vpnctl_on h1 run -- curl -sS --max-time "$(mv_t 10)" "http://[::ffff:$h2ip]:8080/") \
	|| fail "vpnctl run curl to ::ffff:$h2ip"
[ "$body" = enforce-ok ] || fail "curl v4-mapped body '$body'"
echo "vpnctl run curl [::ffff:$h2ip] (connect6, v4-mapped): $body"
r=$(vpnctl_on h1 run -- python3 "$MV_TMP/try.py" udp "$h2ip" 9000)
[ "$r" = "ok echo:hello $h2ip" ] || fail "attached unconnected UDP: '$r'"
echo "vpnctl run sendto/recvfrom (sendmsg4): $r"
r=$(vpnctl_on h1 run -- python3 "$MV_TMP/try.py" udp "::ffff:$h2ip" 9000)
[ "$r" = "ok echo:hello ::ffff:$h2ip" ] || fail "attached v4-mapped UDP: '$r'"
echo "vpnctl run sendto/recvfrom ::ffff: (sendmsg6): $r"
r=$(echo nc-line | vpnctl_on h1 run -- nc -u -w 2 "$h2ip" 9000)
[ "$r" = "echo:nc-line" ] || fail "nc -u through the VPN: '$r'"
echo "vpnctl run nc -u: $r"
vpnctl_on h1 run -- ping -c 2 -W "$(mv_t 2)" "$h2ip" >"$MV_TMP/ping-att.txt" 2>&1 || fail "attached ping"
echo "vpnctl run ping: $(grep -m1 'packets transmitted' "$MV_TMP/ping-att.txt")"

log_step "flows"
vpnctl_on h1 flows || fail "vpnctl flows"
vpnctl_on h1 --json flows > "$MV_TMP/flows.json" || fail "vpnctl --json flows"
python3 - "$MV_TMP/flows.json" "$h2ip" <<'PY' || fail "flows content"
import json, sys
flows, ip = json.load(open(sys.argv[1])), sys.argv[2]
need = ("time", "app", "pid", "comm", "dst", "dport", "proto", "verdict")
assert all(all(k in f for k in need) for f in flows), flows
blocked = [f for f in flows if f["verdict"] == "blocked" and f["dst"] == ip]
assert any(f["proto"] == "tcp" and f["dport"] == 8080 for f in blocked), blocked
assert any(f["proto"] == "udp" and f["dport"] == 9000 for f in blocked), blocked
assert any(f["hook"] == "egress" and f["proto"] == "icmp" for f in blocked), blocked
allowed = [f for f in flows if f["dst"] == ip and f["verdict"] != "blocked"]
assert any("mavpn-run." in (f["app"] or "") and f["comm"] == "curl" for f in allowed), allowed
assert any(f["verdict"] == "key-granted" for f in allowed), allowed
assert any(f["proto"] == "udp" for f in allowed), allowed
print("flows: %d entries, %d blocked, first key-granted by %s" % (len(flows), len(blocked),
      [f["app"] for f in allowed if f["verdict"] == "key-granted"][0]))
PY

log_step "two vpnd, one cgroup hierarchy"
cg_new only-h2 cg || fail "cgroup"
vpnctl_on h2 attach "$cg" >/dev/null || fail "attach on h2"
r=$(in_cg "$cg" h1 python3 "$MV_TMP/try.py" tcp "$h2ip" 8080)
[ "$r" = EPERM ] || fail "a cgroup attached on h2 only reached h2 from h1: $r"
echo "cgroup attached to h2's vpnd only, process in h1's netns: $r"
vpnctl_on h2 detach "$cg" >/dev/null || fail "detach on h2"
# srv has no vpnd: its connect() is not ours to refuse (no EPERM). It
# reaches h2 in clear on the underlay, where h2's ingress program drops it:
# h2's overlay address answers only through mavpn0.
in_ns srv ip route add "${MV_OVERLAY:-100.80.0.0/16}" dev eth0
r=$(in_ns srv python3 "$MV_TMP/try.py" tcp "$h2ip" 8080 2)
[ "$r" != EPERM ] || fail "a namespace without vpnd got EPERM"
[ "$r" != ok ] || fail "plaintext TCP from the underlay reached h2's overlay address"
echo "namespace without vpnd, connect() to $h2ip in clear: $r (not EPERM, not accepted)"
in_ns srv ip route del "${MV_OVERLAY:-100.80.0.0/16}" dev eth0
bin=$(vpnctl_on h2 --json status | json_get 'd["shim"]["blocked_inbound"]')
[ "$bin" -ge 1 ] || fail "h2 did not count the dropped inbound packet"
echo "h2 dropped $bin packets for its overlay address that came from the underlay"
blk=$(vpnctl_on h2 --json status | json_get 'd["shim"]["blocked"]')
[ "$blk" -eq 0 ] || fail "h2's enforcement blocked $blk calls of other namespaces"
echo "h2 blocked nothing: blocked=$blk"
echo "PASS: socket shim and per-application enforcement"
