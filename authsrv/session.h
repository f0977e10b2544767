/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv sessions: one per TLS connection (session.c).
 *
 * Session life:
 *   HANDSHAKE --alpn enroll--> ENROLL --ENROLL_REQ--> CLOSING
 *             --alpn ctl, cert ok--> CTL_HELLO --HELLO--> ONLINE
 *   any --ERROR sent / replaced--> CLOSING --flushed--> DRAIN --EOF--> freed
 *   any --I/O error, timeout--> dead (freed at the end of the loop pass)
 * HANDSHAKE and ENROLL are unauthenticated: each source address may hold
 * at most srv->preauth_max of them (further connections are refused at
 * accept), and each lasts at most srv->handshake_ms.
 * Sessions are never freed while the current epoll batch may still point
 * at them: session_close() marks them dead, session_reap() frees.
 */
#ifndef AUTHSRV_SESSION_H
#define AUTHSRV_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "authsrv.h"
#include "keyrate.h"
#include <netinet/in.h>

#include "mavpn/aead.h"
#include "mavpn/replay.h"
#include "mavpn/ctlmsg.h"
#include "mavpn/tlsconn.h"

struct server;

#define SESSION_ONLINE_BUCKETS	16384	/* online sessions by name and by IP */
#define SESSION_SRC_BUCKETS	4096	/* unauthenticated sessions by source */
#define SESSION_HANDSHAKE_S	5	/* default serve --handshake-timeout */
#define SESSION_PREAUTH_MAX	16	/* unauthenticated sessions per source,
					 * at most max_sessions / 8 */

enum sess_state {
	SESS_HANDSHAKE,
	SESS_ENROLL,
	SESS_CTL_HELLO,
	SESS_ONLINE,
	SESS_CLOSING,		/* flushing our last message */
	SESS_DRAIN,		/* close_notify sent, write side shut, waiting
				 * for the peer's EOF so that unread input
				 * cannot turn our close into a RST that
				 * destroys the last message in flight */
};

struct session {
	struct server *srv;
	struct tlsconn *tc;
	struct session *next, *prev;
	enum sess_state state;
	bool dead;
	uint32_t ev_mask;		/* registered epoll events */
	uint64_t deadline_ms;		/* monotonic; 0 = none */
	char addr[32];			/* "ip:port" of the TCP peer */
	uint32_t peer_ip;		/* network order */
	/* CTL sessions, from the certificate and HELLO: */
	char name[CTLMSG_NAME_MAX];
	char serial[AUTHSRV_SERIAL_HEX_MAX];	/* of its certificate */
	uint32_t overlay_ip;		/* network order */
	uint16_t udp_port;
	uint32_t n_endpoints;		/* HELLO's candidates (CTLA_ENDPOINT) */
	struct ctlmsg_endpoint endpoints[CTLMSG_ENDPOINTS_MAX];
	int64_t since;
	unsigned int pending;		/* key requests waiting for the peer */
	struct keyrate key_rate;	/* KEY_REQ token bucket (--key-rate) */
	bool hashed;			/* in the online tables */
	bool preauth;			/* in by_src: not authenticated yet */
	struct session *src_next;	/* unauthenticated-by-source chain */
	struct session *name_next;	/* online-by-name chain */
	struct session *ip_next;	/* online-by-overlay-IP chain */
	/* endpoint discovery (disco.h), while online */
	uint32_t probe_id;
	struct aead *probe;		/* NULL: none */
	uint64_t probe_ctr;		/* last DISCO_REQ counter answered */
	struct keyrate probe_rate;
	struct session *probe_next;	/* by-probe-id chain */
	/* relay (disco.h): where its authenticated UDP last came from */
	struct sockaddr_in udp_src;
	bool udp_known;
	struct replay relay_win;	/* RELAY counters */
	struct keyrate relay_rate;
};

/* Queue @m; an output failure closes the session. */
void session_send(struct session *s, const struct ctlmsg *m);
/* Send ERROR {reason}, then close once it is flushed. */
void session_error(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Close gracefully after the queued output (e.g. after ENROLL_RESP). */
void session_finish(struct session *s);
/* Drop the connection now (freed later). */
void session_close(struct session *s, const char *why);
/* The online (HELLO done) session of host @name, or NULL. */
struct session *session_find_online(struct server *srv, const char *name);
/* The online session of the host with overlay address @ip, or NULL. */
struct session *session_find_online_ip(struct server *srv, uint32_t ip);

/* The listening socket is readable: accept every waiting connection. */
void session_accept(struct server *srv);
/* epoll reported @events on @s's socket. */
void session_io(struct server *srv, struct session *s, uint32_t events);
/* Act on the sessions whose deadline has passed. */
void session_sweep(struct server *srv, uint64_t now);
/* Free closed sessions; what waited on them is refused first. */
void session_reap(struct server *srv);

#endif /* AUTHSRV_SESSION_H */
