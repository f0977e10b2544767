#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The CA private key lives only in the signer process (privilege separation,
# as in OpenSSH's monitor):
#
#   ns sw: br0 ── srv 198.18.0.1  authsrv serve (TLS, registry, sessions)
#              │                    └─ CA signer (child, ca.key) ── socketpair:
#              │                       "sign this CSR for NAME with serial S"
#              ├─ h1  198.18.0.11  vpnd
#              └─ h2  198.18.0.12  vpnd
#
# Proves: (a) enrollment works, the signer signs, the certificate chains to
# the CA and carries the serial the registry holds; (b) the serve process
# never opens ca.key (fanotify reports every open of the file and who made
# it), holds no fd or mapping of it, and no byte sequence of the CA private
# key is in its memory -- the same scan finds it in the signer's, so the scan
# works; (c) a killed signer is restarted once and enrollment works again;
# killed a second time, enrollment is refused with a clear error (the token
# stays usable: a restarted server enrolls with it), while the enrolled hosts
# keep their channel, resolve names and get keys (ping across); the signer
# dies with its server (kill -9 of the server).
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd openssl ps

# Every open of $1, one opener PID per line into $2 (after a "ready" line).
cat > "$MV_TMP/fanotify.py" <<'PY'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64,
                               ctypes.c_int, ctypes.c_char_p]
FAN_CLOEXEC, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD = 1, 1, 0x20, -100
fd = libc.fanotify_init(FAN_CLOEXEC, os.O_RDONLY | os.O_LARGEFILE)
if fd < 0 or libc.fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD,
                                sys.argv[1].encode()) < 0:
    sys.exit("fanotify: " + os.strerror(ctypes.get_errno()))
out = open(sys.argv[2], "a", buffering=1)
out.write("ready\n")
while True:
    data, off = os.read(fd, 4096), 0
    while off + 24 <= len(data):
        ln, _, _, _, _, efd, pid = struct.unpack_from("<IBBHQii", data, off)
        if efd >= 0:
            os.close(efd)
        out.write("%d\n" % pid)
        off += ln
PY

# Which of the needles (CA private scalar big/little endian, a line of the
# PEM) are in the readable memory of each PID: "PID name,name".
cat > "$MV_TMP/memscan.py" <<'PY'
import subprocess, sys
txt = subprocess.run(["openssl", "ec", "-in", sys.argv[1], "-text", "-noout"],
                     capture_output=True, text=True, check=True).stdout
hexs, on = "", False
for l in txt.splitlines():
    if l.startswith("priv:"):
        on = True
    elif on and l.startswith(" "):
        hexs += l.strip().replace(":", "")
    elif on:
        break
priv = bytes.fromhex(hexs)[-32:]
assert len(priv) == 32, "no P-256 private scalar in " + sys.argv[1]
pem = [l for l in open(sys.argv[1]).read().splitlines() if not l.startswith("-----")]
needles = {"scalar-be": priv, "scalar-le": priv[::-1], "pem": pem[0].encode()}
for pid in sys.argv[2:]:
    found = set()
    with open("/proc/%s/mem" % pid, "rb", 0) as mem:
        for line in open("/proc/%s/maps" % pid):
            f = line.split()
            if "r" not in f[1] or (len(f) > 5 and f[5].startswith("[v")):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            found |= {k for k, n in needles.items() if n in data}
    print(pid, ",".join(sorted(found)) or "-")
PY

# The PID of the newest signer the server started (empty: none yet).
signer_pid() { sed -n "s/^authsrv\[$srv_pid\]: level=info signer started pid=\([0-9]*\)$/\1/p" \
	"$MV_TMP"/authsrv*.log | tail -n 1; }
enroll() { # name token
	in_ns h1 "$MV_BIN/vpnd" enroll --state "$MV_TMP/$1" \
		--server "$MV_SUBNET.1:$MV_PORT_SRV" --token "$2"
}

topo_up || fail "topology"
"$MV_BIN/authsrv" init --state "$MV_TMP/srv" > "$MV_TMP/srv-init.log" 2>&1 || fail "init"
bg_start "$MV_TMP/fanotify.log" python3 "$MV_TMP/fanotify.py" "$MV_TMP/srv/ca.key" "$MV_TMP/opens"
wait_for 20 "fanotify watch on ca.key" grep -q ready "$MV_TMP/opens" || fail "no fanotify watch"
bg_start "$MV_TMP/authsrv.log" $(nsx srv) "$MV_BIN/authsrv" serve \
	--state "$MV_TMP/srv" --listen "0.0.0.0:$MV_PORT_SRV"
srv_pid=${MV_PIDS[-1]}
wait_for 10 "authsrv listening" in_ns srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$MV_PORT_SRV" \
	|| fail "authsrv did not start"
sig1=$(signer_pid)
[ -n "$sig1" ] || fail "no \"signer started\" line"
[ "$(awk '/^PPid:/ {print $2}' "/proc/$sig1/status")" = "$srv_pid" ] \
	|| fail "signer $sig1 is not a child of the server $srv_pid"

log_step "(a) enrollment through the signer"
start_host h1 || fail "h1 did not enroll/connect"
start_host h2 || fail "h2 did not enroll/connect"
grep -q "^authsrv\[$sig1\]: level=info signer signed host=h1 serial=" "$MV_TMP/authsrv.log" \
	|| fail "the signer did not log signing h1's certificate"
openssl verify -CAfile "$MV_TMP/srv/ca.pem" "$MV_TMP/h1/host.pem" >/dev/null \
	|| fail "h1's certificate does not chain to the CA"
cert_serial=$(openssl x509 -in "$MV_TMP/h1/host.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
"$MV_BIN/authsrv" client list --state "$MV_TMP/srv" --json > "$MV_TMP/list.json" || fail "client list"
reg_serial=$(json_get '[h["cert_serial"] for h in d if h["name"]=="h1"][0]' < "$MV_TMP/list.json")
[ "$cert_serial" = "$reg_serial" ] || fail "certificate serial $cert_serial, registry $reg_serial"

log_step "(b) the serve process never touches the CA key"
openers=$(grep -vx ready "$MV_TMP/opens" | sort -u | tr '\n' ' ')
echo "ca.key opened by: $openers(server $srv_pid, signer $sig1)"
[ "$openers" = "$sig1 " ] || fail "ca.key opened by \"$openers\", want only the signer $sig1"
for f in /proc/"$srv_pid"/fd/*; do
	case $(readlink "$f") in *ca.key*) fail "the server holds an fd of ca.key: $f" ;; esac
done
! grep -q 'ca\.key' "/proc/$srv_pid/maps" || fail "ca.key is mapped into the server"
nfd=$(ls "/proc/$sig1/fd" | wc -l)
[ "$nfd" -eq 4 ] || fail "the signer has $nfd fds, want stdin/out/err and its socket: $(ls -l /proc/$sig1/fd)"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$sig1/status" || fail "signer without no_new_privs"
grep -q '^Max core file size *0 ' "/proc/$sig1/limits" || fail "signer may dump core"
python3 "$MV_TMP/memscan.py" "$MV_TMP/srv/ca.key" "$srv_pid" "$sig1" > "$MV_TMP/memscan.out" \
	|| fail "memory scan failed"
cat "$MV_TMP/memscan.out"
grep -qx "$srv_pid -" "$MV_TMP/memscan.out" || fail "CA private key material in the server's memory"
grep -q "^$sig1 .*scalar" "$MV_TMP/memscan.out" || fail "the scan does not find the key even in the signer"

log_step "(c) signer killed: restarted once, enrollment works"
kill -9 "$sig1"
wait_for 5 "a new signer" bash -c "[ -n \"\$(sed -n 's/^authsrv\[$srv_pid\]: level=info signer started pid=\([0-9]*\)$/\1/p' '$MV_TMP/authsrv.log' | grep -vx $sig1)\" ]" \
	|| fail "the signer was not restarted"
sig2=$(signer_pid)
grep -q "signer died pid=$sig1 signal=9" "$MV_TMP/authsrv.log" || fail "the signer's death is not logged"
tok=$("$MV_BIN/authsrv" token create h3 --state "$MV_TMP/srv") || fail "token h3"
enroll h3 "$tok" > "$MV_TMP/enroll-h3.out" 2>&1 || fail "enrollment after the restart: $(cat "$MV_TMP/enroll-h3.out")"
grep -q "^authsrv\[$sig2\]: level=info signer signed host=h3 " "$MV_TMP/authsrv.log" \
	|| fail "the restarted signer did not sign h3"

log_step "(c) signer killed again: enrollment refused, the rest carries on"
kill -9 "$sig2"
wait_for 5 "signer unavailable" grep -q "signer unavailable: enrollments are refused" "$MV_TMP/authsrv.log" \
	|| fail "no \"signer unavailable\" line"
[ -z "$(ps -o pid= --ppid "$srv_pid")" ] || fail "a third signer was started"
tok4=$("$MV_BIN/authsrv" token create h4 --state "$MV_TMP/srv") || fail "token h4"
enroll h4 "$tok4" > "$MV_TMP/enroll-h4.out" 2>&1 && fail "enrollment succeeded without a signer"
cat "$MV_TMP/enroll-h4.out"
grep -q "certificate signer unavailable" "$MV_TMP/enroll-h4.out" || fail "the refusal does not say why"
grep -q '"event":"enroll_refused","host":"h4".*"reason":"CA signer unavailable"' "$MV_TMP/srv/audit.log" \
	|| fail "no enroll_refused audit line for h4"
kill -0 "$srv_pid" || fail "the server died with its signer"
host_connected h1 && host_connected h2 || fail "a host lost its channel"
h2ip=$(vpnctl_on h1 resolve h2) || fail "resolve h2 without a signer"
vpnctl_on h1 run -- ping -c 3 -i 0.2 -W "$(mv_t 2)" "$h2ip" > "$MV_TMP/ping.out" 2>&1 \
	|| fail "no key h1 -> h2 without a signer: $(tail -n 3 "$MV_TMP/ping.out")"

log_step "the refused token still works on a restarted server"
kill "$srv_pid"
wait "$srv_pid" 2>/dev/null
bg_start "$MV_TMP/authsrv2.log" $(nsx srv) "$MV_BIN/authsrv" serve \
	--state "$MV_TMP/srv" --listen "0.0.0.0:$MV_PORT_SRV"
wait_for 10 "authsrv listening again" in_ns srv bash -c "exec 3<>/dev/tcp/127.0.0.1/$MV_PORT_SRV" \
	|| fail "authsrv did not restart"
enroll h4 "$tok4" > "$MV_TMP/enroll-h4b.out" 2>&1 || fail "h4's token was spent: $(cat "$MV_TMP/enroll-h4b.out")"

log_step "the signer does not outlive its server (kill -9 of the server)"
srv_pid=${MV_PIDS[-1]}
sig3=$(signer_pid)
[ -n "$sig3" ] || fail "no signer under the restarted server"
kill -9 "$srv_pid"
# Gone, or a zombie until init reaps it: not running.
wait_for 5 "signer $sig3 gone" bash -c "! grep -q '^State:[[:space:]]*[RSD]' /proc/$sig3/status 2>/dev/null" \
	|| fail "the signer $sig3 outlived its server"
echo "PASS: only the signer opens ca.key; enrollment goes through it, survives one signer death and fails clearly after the second"
