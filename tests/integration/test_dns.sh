#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Overlay DNS names: every vpnd answers NAME.DOMAIN on its overlay address.
#
#   ns sw: br0 ── srv (authsrv) ── h1 (vpnd, resolver for curl) ── h2 (vpnd, http)
#                                  h3: enrolled while h1 runs, then revoked
#
# Proves: status JSON self.domain / self.dns; `dig @ADDR` over UDP and TCP
# gets h2's overlay address; AAAA of a known host is NODATA, an unknown
# name NXDOMAIN, a foreign one REFUSED; an unmodified curl with a
# resolv.conf pointing at h1's vpnd fetches http://h2.mavpn:8080/ through
# the VPN; a host enrolled after h1's vpnd started resolves (update), a
# revoked one stops resolving; garbage datagrams get no answer larger than
# twice their size and no crash; TCP connections are bounded and idle
# ones closed; `authsrv init --domain` is validated.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT
need_cmd dig curl python3 unshare mount

# dig against h1's vpnd from inside h1: the status line and answers.
dig_h1() { in_ns h1 dig @"$h1ip" +time=2 +tries=2 +norecurse "$@"; }
dig_status() { dig_h1 "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
resolves_to() { [ "$(dig_h1 +short "$1")" = "$2" ]; }	# name address

log_step "authsrv init --domain is validated and kept"
out=$("$MV_BIN/authsrv" init --state "$MV_TMP/bad" --domain "bad_domain" 2>&1) \
	&& fail "a domain with '_' was accepted"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "not one error line: $out"
echo "$out"
[ ! -e "$MV_TMP/bad/domain" ] || fail "a refused init wrote a domain"
"$MV_BIN/authsrv" init --state "$MV_TMP/custom" --domain Corp.Example >/dev/null \
	|| fail "init --domain Corp.Example"
[ "$(cat "$MV_TMP/custom/domain")" = corp.example ] || fail "domain not stored lowercase"

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
h1ip=$(vpnctl_on h1 --json status | json_get 'd["self"]["overlay_ip"]') || fail "status"
h2ip=$(vpnctl_on h1 resolve h2) || fail "vpnctl resolve h2 (the old name service)"

log_step "status: self.domain, self.dns"
st=$(vpnctl_on h1 --json status) || fail "status"
[ "$(echo "$st" | json_get 'd["self"]["domain"]')" = mavpn ] || fail "self.domain: $st"
[ "$(echo "$st" | json_get 'd["self"]["dns"]')" = "$h1ip:53" ] || fail "self.dns: $st"

log_step "A over UDP and TCP"
wait_for 10 "h2.mavpn in h1's cache" resolves_to h2.mavpn "$h2ip" \
	|| fail "h2.mavpn did not resolve over UDP: $(dig_h1 h2.mavpn)"
a=$(dig_h1 +short H2.MaVpN A) || fail "dig mixed case"
[ "$a" = "$h2ip" ] || fail "mixed case gave '$a'"
a=$(dig_h1 +tcp +short h2.mavpn A) || fail "dig +tcp"
[ "$a" = "$h2ip" ] || fail "TCP gave '$a', not $h2ip"
a=$(in_ns h2 dig @"$h2ip" +short +time=2 h1.mavpn) || fail "dig on h2"
[ "$a" = "$h1ip" ] || fail "h2's vpnd gave '$a' for h1, not $h1ip"
out=$(dig_h1 h2.mavpn AAAA)
echo "$out" | grep -q "status: NOERROR" || fail "AAAA of a known host: $out"
echo "$out" | grep -q "ANSWER: 0," || fail "AAAA answered: $out"
echo "$out" | grep -q "flags: qr aa" || fail "not authoritative: $out"

log_step "NXDOMAIN in the domain, REFUSED outside it"
[ "$(dig_status nobody.mavpn)" = NXDOMAIN ] || fail "nobody.mavpn: $(dig_h1 nobody.mavpn)"
[ "$(dig_status x.h2.mavpn)" = NXDOMAIN ] || fail "x.h2.mavpn"
[ "$(dig_status example.org)" = REFUSED ] || fail "example.org: $(dig_h1 example.org)"
[ "$(dig_status +tcp h2.mavpn.example.org)" = REFUSED ] || fail "h2.mavpn.example.org over TCP"

log_step "curl http://h2.mavpn:8080/ through a resolver pointed at h1's vpnd"
marker="mavpn-dns-marker-$RANDOM$RANDOM"
mkdir -p "$MV_TMP/www" && echo "$marker" > "$MV_TMP/www/index.html"
bg_start "$MV_TMP/http.log" $(nsx h2) python3 -m http.server --bind "$h2ip" \
	--directory "$MV_TMP/www" 8080
wait_for 10 "http server on h2" in_ns h2 bash -c "exec 3<>/dev/tcp/$h2ip/8080"
echo "nameserver $h1ip" > "$MV_TMP/resolv.conf"
# A private mount namespace sees this resolv.conf; curl and glibc are
# unmodified. The name is the only way in: no address on the command line.
body=$(vpnctl_on h1 run -- unshare -m sh -c \
	'mount --bind "$1" /etc/resolv.conf && exec curl -sS --max-time "$2" http://h2.mavpn:8080/' \
	sh "$MV_TMP/resolv.conf" "$(mv_t 10)") || fail "curl http://h2.mavpn:8080/ failed"
[ "$body" = "$marker" ] || fail "page body '$body' is not the marker"
echo "curl by name: $body"

log_step "a host enrolled after h1's vpnd started resolves; revoked, it stops"
[ "$(dig_status h3.mavpn)" = NXDOMAIN ] || fail "h3 resolves before enrollment"
topo_add_host h3 13
tok=$("$MV_BIN/authsrv" token create h3 --state "$MV_TMP/srv") || fail "token h3"
printf '%s\n' "$tok" | in_ns h3 "$MV_BIN/vpnd" enroll --state "$MV_TMP/h3" \
	--server "$MV_SUBNET.1:$MV_PORT_SRV" --token-file - >/dev/null || fail "enroll h3"
h3ip=$(vpnctl_on h1 resolve h3) || fail "resolve h3"
wait_for 5 "h3.mavpn from h1's vpnd" resolves_to h3.mavpn "$h3ip" \
	|| fail "h3.mavpn does not resolve after enrollment: $(dig_h1 h3.mavpn)"
"$MV_BIN/authsrv" client revoke h3 --state "$MV_TMP/srv" >/dev/null || fail "revoke h3"
h3_gone() { [ "$(dig_status h3.mavpn)" = NXDOMAIN ]; }
wait_for 5 "h3.mavpn gone" h3_gone \
	|| fail "h3.mavpn still resolves after revocation: $(dig_h1 h3.mavpn)"
[ "$(dig_h1 +short h2.mavpn)" = "$h2ip" ] || fail "h2 lost with h3's revocation"

log_step "garbage datagrams: no crash, no answer over 2x the query"
in_ns h1 python3 - "$h1ip" <<'EOF' || fail "garbage datagrams"
import os, random, socket, struct, sys, time
addr = (sys.argv[1], 53)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
rnd = random.Random(1)
sent = biggest = answers = 0
def drain():
    global biggest, answers
    while True:
        try:
            r, _ = s.recvfrom(65536)
        except BlockingIOError:
            return
        answers += 1
        qid = r[:2]
        if qid in qr_ids:
            print("a response (QR set) was answered")
            sys.exit(1)
        size = sizes.get(qid)
        if size is None:
            continue
        if len(r) > 2 * size:
            print(f"answer of {len(r)} bytes to a {size}-byte datagram")
            sys.exit(1)
        biggest = max(biggest, len(r))
sizes = {}
qr_ids = set()
def name(n):
    return b"".join(bytes([len(l)]) + l for l in n.split(b".")) + b"\0"
for i in range(3000):
    kind = i % 6
    qid = struct.pack(">H", i)
    if kind == 0:		# random bytes, random length
        d = os.urandom(rnd.randrange(0, 600))
        d = qid + d[2:] if len(d) >= 2 else d
    elif kind == 1:		# a header claiming much, little behind it
        d = qid + b"\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff" + os.urandom(rnd.randrange(0, 40))
    elif kind == 2:		# valid name, cut anywhere
        q = qid + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name(b"h2.mavpn") + b"\x00\xff\x00\x01"
        d = q[:rnd.randrange(0, len(q) + 1)]
    elif kind == 3:		# compression loops, long labels
        d = qid + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    elif kind == 4:		# ANY of a 1-letter host: the bound truncates
        d = qid + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name(b"h2.mavpn") + b"\x00\xff\x00\x01"
    else:			# a response (QR): must not be answered
        d = qid + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + name(b"h2.mavpn") + b"\x00\x01\x00\x01"
        qr_ids.add(qid)
    if len(d) >= 2:
        sizes[d[:2]] = len(d)
    s.sendto(d, addr)
    sent += 1
    if i % 50 == 0:
        time.sleep(0.005)
        drain()
time.sleep(0.5)
drain()
print(f"sent {sent} datagrams, {answers} answers, biggest {biggest} bytes")
EOF
kill -0 "${MV_HOST_PID[h1]}" || fail "vpnd on h1 died"
[ "$(dig_h1 +short h2.mavpn)" = "$h2ip" ] || fail "no answer after the garbage"
st=$(vpnctl_on h1 --json status) || fail "status"
echo "dns counters: $(echo "$st" | json_get 'd["dns"]')"
[ "$(echo "$st" | json_get 'd["dns"]["formerr"] > 0 and d["dns"]["dropped"] > 0')" = True ] \
	|| fail "garbage not counted: $(echo "$st" | json_get 'd["dns"]')"

log_step "TCP: oversized query closes, connections bounded, idle ones closed"
in_ns h1 python3 - "$h1ip" "$(mv_t 20)" <<'EOF' || fail "TCP bounds"
import socket, sys, time
addr, limit = (sys.argv[1], 53), float(sys.argv[2])
def q(i, n):
    b = bytes([0, i, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    b += b"".join(bytes([len(l)]) + l for l in n.split(b".")) + b"\0\0\1\0\1"
    return len(b).to_bytes(2, "big") + b
def recv_n(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        assert c, "connection closed early"
        b += c
    return b
s = socket.create_connection(addr, timeout=5)
s.sendall(q(1, b"h2.mavpn") + q(2, b"nobody.mavpn"))	# pipelined
for i, rcode, an in ((1, 0, 1), (2, 3, 0)):
    r = recv_n(s, int.from_bytes(recv_n(s, 2), "big"))
    assert r[1] == i and r[3] & 15 == rcode and r[7] == an, f"pipelined answer {i}: {r!r}"
print("two pipelined TCP queries answered in order")
s.close()
s = socket.create_connection(addr, timeout=5)
s.sendall(b"\xff\xff" + b"\0" * 100)		# announces 65535 bytes
s.settimeout(5)
assert s.recv(100) == b"", "an oversized query did not close the connection"
conns = [socket.create_connection(addr, timeout=5) for _ in range(40)]
time.sleep(0.5)
closed = 0
for c in conns:
    c.setblocking(False)
    try:
        closed += c.recv(1) == b""
    except BlockingIOError:
        pass
print(f"40 idle connections: {closed} closed at once")
assert 8 <= closed <= 9, f"expected the 8 over the bound of 32 closed, got {closed}"
t0 = time.time()
while time.time() - t0 < limit:
    open_ = 0
    for c in conns:
        try:
            open_ += c.recv(1) != b""
        except BlockingIOError:
            open_ += 1
        except OSError:
            pass
    if open_ == 0:
        break
    time.sleep(0.2)
print(f"idle connections closed after {time.time() - t0:.1f}s")
assert open_ == 0, f"{open_} idle connections still open"
EOF
[ "$(dig_h1 +tcp +short h2.mavpn)" = "$h2ip" ] || fail "TCP does not answer after the bound"
kill -0 "${MV_HOST_PID[h1]}" || fail "vpnd on h1 died"

echo "PASS: overlay DNS names"
