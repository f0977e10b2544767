#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# TLS policy of the control channel, proved with a real TLS client:
#
#   ns sw: br0 ── srv 198.18.0.1 (authsrv :7443)
#              └─ h1  198.18.0.11  openssl s_client (and h1's enrolled credential)
#
# Refused: no client certificate (ERROR "client certificate required", then
# close), TLS 1.2, a client certificate from another CA, no ALPN / a foreign
# ALPN, key exchange with a group other than X25519, P-256, P-384 (ffdhe2048,
# ffdhe4096, P-521). Accepted (control): h1's real credential with ALPN mavpn/2, server
# verified against the CA and the name mavpn-authsrv.
set -u
. "$(dirname "$0")/../lib/topo.sh"
trap topo_down EXIT

need_cmd openssl

topo_up || fail "topology"
start_authsrv || fail "authsrv did not start"
tok=$("$MV_BIN/authsrv" token create h1 --state "$MV_TMP/srv") || fail "token"
in_ns h1 "$MV_BIN/vpnd" enroll --state "$MV_TMP/h1" --server "$MV_SUBNET.1:$MV_PORT_SRV" \
	--token "$tok" || fail "enroll h1"
CA=$MV_TMP/srv/ca.pem
SRV=$MV_SUBNET.1:$MV_PORT_SRV

# s_client in h1 until the server closes the connection (-ign_eof: stdin
# is empty), so that what the server sends after the handshake is read;
# output in $MV_TMP/$1.out, exit status returned. SCLIENT_OPTS="" to stop
# after the handshake instead, where the server keeps the connection.
SCLIENT_OPTS=-ign_eof
sclient() { # name args...
	local n=$1; shift
	# shellcheck disable=SC2086 # SCLIENT_OPTS: no option or one
	in_ns h1 timeout "$(mv_t 10)" openssl s_client $SCLIENT_OPTS -connect "$SRV" -CAfile "$CA" \
		-verify_hostname mavpn-authsrv -servername mavpn-authsrv "$@" \
		</dev/null > "$MV_TMP/$n.out" 2>&1
}

log_step "control: h1's credential, ALPN mavpn/2"
SCLIENT_OPTS="" sclient ok -alpn mavpn/2 -cert "$MV_TMP/h1/host.pem" -key "$MV_TMP/h1/host.key" \
	|| fail "s_client with a valid credential failed"
grep -q "ALPN protocol: mavpn/2" "$MV_TMP/ok.out" || fail "no ALPN mavpn/2 negotiated"
grep -q "New, TLSv1.3" "$MV_TMP/ok.out" || fail "not TLS 1.3"
grep -q "Verify return code: 0 (ok)" "$MV_TMP/ok.out" || fail "server certificate did not verify"
grep -q '"event":"auth","host":"h1"' "$MV_TMP/srv/audit.log" || fail "no auth event for h1"

log_step "no client certificate: ERROR and close"
sclient nocert -alpn mavpn/2
grep -q "ALPN protocol: mavpn/2" "$MV_TMP/nocert.out" || fail "handshake without cert did not get to ALPN"
grep -q "client certificate required" "$MV_TMP/nocert.out" || fail "no ERROR 'client certificate required' received"
grep -q '"event":"auth_refused".*"reason":"client certificate required"' "$MV_TMP/srv/audit.log" \
	|| fail "no auth_refused in the audit log"

log_step "TLS 1.2: refused in the handshake"
if sclient tls12 -tls1_2 -alpn mavpn/2 -cert "$MV_TMP/h1/host.pem" -key "$MV_TMP/h1/host.key"; then
	grep -q "Protocol  *: TLSv1.2" "$MV_TMP/tls12.out" && fail "TLS 1.2 session established"
fi
grep -qiE "alert protocol version|wrong version|no protocols available|unsupported protocol" "$MV_TMP/tls12.out" \
	|| fail "TLS 1.2 not refused with a protocol alert"

log_step "certificate from another CA: refused"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=evil CA" -keyout "$MV_TMP/evilca.key" -out "$MV_TMP/evilca.pem" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign >/dev/null 2>&1 || fail "evil CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=h1" \
	-keyout "$MV_TMP/evil.key" -out "$MV_TMP/evil.csr" >/dev/null 2>&1 || fail "evil csr"
openssl x509 -req -in "$MV_TMP/evil.csr" -CA "$MV_TMP/evilca.pem" -CAkey "$MV_TMP/evilca.key" \
	-CAcreateserial -days 1 -out "$MV_TMP/evil.pem" >/dev/null 2>&1 || fail "evil cert"
sclient evil -alpn mavpn/2 -cert "$MV_TMP/evil.pem" -key "$MV_TMP/evil.key"
grep -qiE "alert (unknown ca|bad certificate|certificate unknown|decrypt error)" "$MV_TMP/evil.out" \
	|| fail "certificate of another CA not refused with an alert"
[ "$(grep -c '"event":"auth","host":"h1"' "$MV_TMP/srv/audit.log")" = 1 ] \
	|| fail "the foreign certificate authenticated as h1"

log_step "key exchange groups: X25519, P-256, P-384 only (no ffdhe)"
# Stop after the handshake (SCLIENT_OPTS=""): waiting for the server to
# close races its close against unread bytes (a RST makes s_client exit 1).
for g in X25519 P-256 P-384; do
	SCLIENT_OPTS="" sclient "grp-$g" -groups "$g" -alpn mavpn/2 -cert "$MV_TMP/h1/host.pem" -key "$MV_TMP/h1/host.key" \
		|| fail "group $g refused"
	grep -q "New, TLSv1.3" "$MV_TMP/grp-$g.out" || fail "no session with group $g"
done
for g in ffdhe2048 ffdhe4096 P-521; do
	SCLIENT_OPTS="" sclient "grp-$g" -groups "$g" -alpn mavpn/2 -cert "$MV_TMP/h1/host.pem" -key "$MV_TMP/h1/host.key"
	grep -q "New, TLSv1.3" "$MV_TMP/grp-$g.out" && fail "group $g accepted"
	grep -qi "handshake failure" "$MV_TMP/grp-$g.out" || fail "group $g not refused with an alert"
done

log_step "no ALPN, foreign ALPN: refused in the handshake"
sclient noalpn -cert "$MV_TMP/h1/host.pem" -key "$MV_TMP/h1/host.key"
grep -qi "no application protocol" "$MV_TMP/noalpn.out" || fail "no ALPN not refused"
sclient h2alpn -alpn h2 -cert "$MV_TMP/h1/host.pem" -key "$MV_TMP/h1/host.key"
grep -qi "no application protocol" "$MV_TMP/h2alpn.out" || fail "ALPN h2 not refused"

n=$(grep -c "TLS handshake failed" "$MV_TMP/authsrv.log")
echo "server logged $n failed handshakes"
[ "$n" -ge 3 ] || fail "server did not log the refused handshakes"
echo "PASS: TLS policy holds against openssl s_client"
