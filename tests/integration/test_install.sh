#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `make install` into a DESTDIR under a temporary directory (never the real
# system):
#
#   DESTDIR/usr/local/{sbin/authsrv,sbin/vpnd,bin/vpnctl}
#          /usr/local/lib/systemd/system/{mavpn-authsrv,mavpn-vpnd@}.service
#          /usr/local/lib/sysusers.d/mavpn.conf, /usr/local/share/man/man8/*.8
#          /etc/mavpn/{authsrv.env,vpnd.env.example}
#
# Proves: the tree is complete with sane modes; vpnd carries its BPF
# objects inside (an embedded ELF for machine EM_BPF, no .bpf.o installed);
# the units name the installed binaries and pass `systemd-analyze verify`
# (systemd-analyze and man are needed: SKIP without them); the man
# pages render without warnings; the installed binaries answer --help;
# PREFIX moves everything; a second install keeps an edited settings file.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/need.sh"
need_cmd make systemd-analyze man
TMP=$(mktemp -d /tmp/mavpn-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
D=$TMP/root

echo "==> make install DESTDIR=$D"
make -s -C "$ROOT" install DESTDIR="$D" > "$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log"; fail "make install"; }

for f in usr/local/sbin/authsrv usr/local/sbin/vpnd usr/local/bin/vpnctl; do
	[ -x "$D/$f" ] || fail "$f missing or not executable"
	[ "$(stat -c %a "$D/$f")" = 755 ] || fail "$f mode $(stat -c %a "$D/$f")"
done
for f in usr/local/lib/systemd/system/mavpn-authsrv.service \
	 usr/local/lib/systemd/system/mavpn-vpnd@.service \
	 usr/local/lib/sysusers.d/mavpn.conf \
	 usr/local/share/man/man8/authsrv.8 usr/local/share/man/man8/vpnd.8 \
	 usr/local/share/man/man8/vpnctl.8 usr/local/share/doc/mavpn/operations.md \
	 etc/mavpn/authsrv.env etc/mavpn/vpnd.env.example; do
	[ -f "$D/$f" ] || fail "$f missing"
	[ "$(stat -c %a "$D/$f")" = 644 ] || fail "$f mode $(stat -c %a "$D/$f")"
done
echo "tree complete: $(find "$D" -type f | wc -l) files"

# The BPF objects are libbpf skeletons compiled into vpnd: nothing to install.
if find "$D" -name '*.bpf.o' | grep -q .; then fail "a .bpf.o was installed"; fi
python3 - "$D/usr/local/sbin/vpnd" <<'PY' || fail "vpnd does not embed its BPF objects"
import struct, sys
data = open(sys.argv[1], "rb").read()
n, i = 0, data.find(b"\x7fELF", 1)
while i > 0:
    # e_machine at offset 18 of the ELF header; 247 = EM_BPF
    if struct.unpack_from("<H", data, i + 18)[0] == 247:
        n += 1
    i = data.find(b"\x7fELF", i + 1)
if n < 2:
    sys.exit(f"only {n} embedded BPF ELF objects")
print(f"vpnd embeds {n} BPF ELF objects (skeletons)")
PY

U=$D/usr/local/lib/systemd/system
grep -q '^ExecStart=/usr/local/sbin/authsrv serve ' "$U/mavpn-authsrv.service" || fail "authsrv unit ExecStart"
grep -q '^ExecStart=/usr/local/sbin/vpnd run ' "$U/mavpn-vpnd@.service" || fail "vpnd unit ExecStart"
grep -q '^EnvironmentFile=-/etc/mavpn/vpnd-%i.env' "$U/mavpn-vpnd@.service" || fail "vpnd unit EnvironmentFile"
if grep -q '@[A-Z]*@' "$U"/*.service; then fail "unsubstituted @VAR@ in a unit"; fi
for k in Restart=on-failure StateDirectory= NoNewPrivileges=yes ProtectSystem=strict \
	 'ReadWritePaths=/sys/fs/bpf /sys/fs/cgroup' CapabilityBoundingSet=CAP_BPF; do
	grep -q "^$k" "$U/mavpn-vpnd@.service" || fail "vpnd unit lacks $k"
done
for k in Restart=on-failure StateDirectory=mavpn-authsrv NoNewPrivileges=yes \
	 ProtectSystem=strict 'CapabilityBoundingSet=$' User=mavpn; do
	grep -q "^$k" "$U/mavpn-authsrv.service" || fail "authsrv unit lacks $k"
done

# verify checks that ExecStart exists: point the units at DESTDIR.
mkdir -p "$TMP/units"
for u in "$U"/*.service; do
	sed "s|/usr/local/sbin/|$D/usr/local/sbin/|g" "$u" > "$TMP/units/$(basename "$u")"
done
systemd-analyze verify --man=no "$TMP/units/mavpn-authsrv.service" \
	"$TMP/units/mavpn-vpnd@eth0.service" > "$TMP/verify.log" 2>&1 ||
	{ cat "$TMP/verify.log"; fail "systemd-analyze verify"; }
[ -s "$TMP/verify.log" ] && { cat "$TMP/verify.log"; fail "systemd-analyze verify warned"; }
echo "systemd-analyze verify: both units clean"

for m in authsrv vpnd vpnctl; do
	LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$D/usr/local/share/man/man8/$m.8" \
		> "$TMP/$m.txt" 2> "$TMP/$m.warn" || fail "man $m.8 does not render"
	[ -s "$TMP/$m.warn" ] && { cat "$TMP/$m.warn"; fail "man $m.8 has warnings"; }
	grep -q SYNOPSIS "$TMP/$m.txt" || fail "man $m.8 has no SYNOPSIS"
done
echo "man pages render without warnings"

S=$D/usr/local/sbin
"$S/authsrv" --help | grep -q 'authsrv serve' || fail "authsrv --help"
"$S/authsrv" serve --help | grep -q -- '--metrics' || fail "authsrv serve --help lacks --metrics"
"$S/vpnd" --help | grep -q 'vpnd run' || fail "vpnd --help"
"$S/vpnd" run --help | grep -q -- '--metrics' || fail "vpnd run --help lacks --metrics"
"$S/vpnd" enroll --help | grep -q -- '--token' || fail "vpnd enroll --help"
"$D/usr/local/bin/vpnctl" --help | grep -q 'attach' || fail "vpnctl --help"
"$S/vpnd" bogus 2>/dev/null; [ $? = 2 ] || fail "vpnd bogus: exit status not 2"
echo "installed binaries answer --help"

echo "==> reinstall keeps an edited settings file; PREFIX=/opt/mavpn moves the rest"
echo "AUTHSRV_LISTEN=127.0.0.1:7443" >> "$D/etc/mavpn/authsrv.env"
make -s -C "$ROOT" install DESTDIR="$D" > "$TMP/install2.log" 2>&1 || fail "second make install"
grep -q '^AUTHSRV_LISTEN=127.0.0.1:7443' "$D/etc/mavpn/authsrv.env" || fail "reinstall overwrote authsrv.env"
make -s -C "$ROOT" install DESTDIR="$TMP/opt" PREFIX=/opt/mavpn > "$TMP/install3.log" 2>&1 ||
	fail "make install PREFIX=/opt/mavpn"
[ -x "$TMP/opt/opt/mavpn/sbin/vpnd" ] || fail "PREFIX: vpnd not under /opt/mavpn/sbin"
grep -q '^ExecStart=/opt/mavpn/sbin/vpnd ' "$TMP/opt/opt/mavpn/lib/systemd/system/mavpn-vpnd@.service" ||
	fail "PREFIX: unit does not name /opt/mavpn/sbin/vpnd"

echo "PASS: make install tree, units, man pages, --help"
