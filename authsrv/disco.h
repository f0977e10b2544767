/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv's UDP responder for endpoint discovery (disco.c): on the listen
 * address and port of `serve` (UDP), it tells an online host which source
 * address and port its DISCO_REQ came from (its server-reflexive endpoint,
 * behind a NAT the NAT's). Wire format in mavpn/probe.h.
 *
 * Every online session gets a random probe id and probe key at HELLO
 * (HELLO_ACK's CTLA_PROBE_ID, CTLA_PROBE_KEY); a request is answered only
 * if its id names an online session, its tag verifies under that key and
 * its counter is above the last one answered (a replay gets nothing, and
 * no nonce is used twice). The answer has the request's size. Requests are
 * limited per host (DISCO_RATE per second, burst twice that) and for all
 * hosts together (DISCO_RATE_ALL, checked before any crypto); what is
 * refused is counted (disco_refusals, disco_rate_limited) and never
 * answered.
 *
 * Relay: a RELAY sealed (GMAC) with the sender's probe key, with a counter
 * new to the sender's replay window, addressed to the overlay address of
 * another online host, is forwarded as RELAYED (smaller than what came)
 * from this socket to where that host's authenticated discovery or relay
 * datagrams last came from (its NAT's mapping toward us, kept open by its
 * discovery refresh). Only ciphertext passes: the inner datagram is sealed
 * under the two hosts' session key, which the server minted but does not
 * keep. RELAY_RATE per host, RELAY_RATE_ALL in total (before any crypto).
 */
#ifndef AUTHSRV_DISCO_H
#define AUTHSRV_DISCO_H

#include <netinet/in.h>

#include "mavpn/ctlmsg.h"

struct server;
struct session;

#define DISCO_RATE		5	/* DISCO_REQ answered per s and host */
#define DISCO_RATE_ALL		2000	/* DISCO_REQ looked at per s, all */
#define RELAY_RATE		8192	/* RELAY forwarded per s and host */
#define RELAY_RATE_ALL		65536	/* RELAY looked at per s, all */

/* The UDP socket on @sa into srv->ufd: 0 or -errno. */
int disco_open(struct server *srv, const struct sockaddr_in *sa);
/* srv->ufd is readable: answer what deserves it. */
void disco_process(struct server *srv);
/* @s went online: give it a probe id and key, put both into @ack
 * (HELLO_ACK). 0 or -errno (then no discovery for it). */
int disco_session_start(struct server *srv, struct session *s,
			struct ctlmsg *ack);
/* @s goes offline: forget its probe key (wiped). Idempotent. */
void disco_session_end(struct server *srv, struct session *s);

#endif /* AUTHSRV_DISCO_H */
