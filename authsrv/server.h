/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv server: one epoll loop, one session per TLS connection.
 *
 * Session life:
 *   HANDSHAKE --alpn enroll--> ENROLL --ENROLL_REQ--> CLOSING
 *             --alpn ctl, cert ok--> CTL_HELLO --HELLO--> ONLINE
 *   any --ERROR sent / replaced--> CLOSING --flushed--> DRAIN --EOF--> freed
 *   any --I/O error, timeout--> dead (freed at the end of the loop pass)
 * Sessions are never freed while the current epoll batch may still point
 * at them: session_close() marks them dead, server_reap() frees.
 */
#ifndef AUTHSRV_SERVER_H
#define AUTHSRV_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/tlsconn.h"

struct registry;
struct pki;
struct keysvc;
struct policy;

#define SERVER_ONLINE_BUCKETS	16384	/* online sessions by name and by IP */
#define SERVER_RL_SLOTS		4096	/* failure rate limit, per source IP */
#define SERVER_RL_BURST		20	/* failures allowed in a burst */
#define SERVER_RL_PER_S		1	/* then this many per second */

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
	uint32_t overlay_ip;		/* network order */
	uint16_t udp_port;
	int64_t since;
	unsigned int pending;		/* key requests waiting for the peer */
	bool hashed;			/* in the online tables */
	struct session *name_next;	/* online-by-name chain */
	struct session *ip_next;	/* online-by-overlay-IP chain */
};

/* Failed authentications per source address (token bucket). */
struct server_rl {
	uint32_t ip;			/* network order; 0 = free slot */
	uint32_t refused;		/* connections refused since last log */
	double tokens;
	uint64_t last_ms, logged_ms;
};

struct serve_opts {
	const char *dir;
	const char *listen;
	uint32_t key_lifetime;		/* seconds */
	uint32_t key_max_packets;	/* 0: the hosts' default */
	unsigned int max_sessions;
	const char *metrics;		/* --metrics ADDR:PORT, NULL: off */
};

struct server {
	const char *dir;
	int epfd, lfd, sigfd, admin_fd;
	uint32_t key_lifetime;		/* seconds, --key-lifetime */
	uint32_t key_max_packets;	/* --key-packets, 0 = not sent */
	unsigned int max_sessions;
	struct policy *policy;		/* NULL: all enrolled may talk */
	SSL_CTX *ctx;
	struct registry *reg;
	struct pki *pki;
	struct keysvc *keys;
	struct session *sessions;	/* live */
	struct session *dead;		/* closed, freed by server_reap() */
	unsigned int nsessions;
	uint32_t overlay_net;		/* network order */
	uint8_t overlay_plen;
	bool status_dirty;
	struct session *by_name[SERVER_ONLINE_BUCKETS];
	struct session *by_ip[SERVER_ONLINE_BUCKETS];
	struct server_rl rl[SERVER_RL_SLOTS];
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
struct session *server_find_online(struct server *srv, const char *name);
/* The online session of the host with overlay address @ip, or NULL. */
struct session *server_find_online_ip(struct server *srv, uint32_t ip);
/* A failed authentication from @s's address: spends a rate-limit token. */
void server_auth_failed(struct server *srv, struct session *s);

int authsrv_serve(const struct serve_opts *o);

/* Handle ENROLL_REQ on an ENROLL session (enroll.c). */
void enroll_handle(struct server *srv, struct session *s,
		   const struct ctlmsg *m);

#endif /* AUTHSRV_SERVER_H */
