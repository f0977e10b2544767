/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv server: one epoll loop (server.c) over the sessions (session.h),
 * with the failed-authentication limit (ratelimit.h), enrollment
 * (enroll.h) signing through the CA signer process (signer.h), the key
 * service (keysvc.h) and the admin socket (admin.h).
 *
 * struct server is the owner that wires the modules together: server.c
 * creates them and hands each what it uses; only the server's own files
 * (server.c, session.c) and the admin and metrics renderers read it.
 */
#ifndef AUTHSRV_SERVER_H
#define AUTHSRV_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "enroll.h"
#include "mavpn/ctlmsg.h"
#include "mavpn/tlsconn.h"
#include "ratelimit.h"
#include "session.h"

struct audit;
struct metrics;
struct gwindex;
struct keysvc;
struct linesock;
struct pki;
struct policy;
struct registry;
struct replica;
struct signer;

struct serve_opts {
	const char *dir;
	const char *listen;
	uint32_t key_lifetime;		/* seconds */
	uint32_t key_max_packets;	/* 0: the hosts' default */
	uint32_t key_rate;		/* KEY_REQ per s and session, 0: off */
	unsigned int max_sessions;
	unsigned int handshake_timeout;	/* seconds, 0: the default */
	const char *metrics;		/* --metrics ADDR:PORT, NULL: off */
};

struct server {
	const char *dir;
	int epfd, lfd, sigfd;
	int ufd;			/* UDP on the listen address: disco.h */
	struct linesock *admin;		/* admin.h */
	unsigned int max_sessions;
	unsigned int preauth_max;	/* unauthenticated sessions per source */
	uint32_t handshake_ms;		/* TLS handshake + ENROLL_REQ deadline */
	struct policy *policy;		/* NULL: all enrolled may talk */
	SSL_CTX *ctx;
	struct registry *reg;
	struct pki *pki;		/* the CA certificate only, no key */
	struct signer *signer;		/* the process that holds the key */
	struct audit *audit;
	struct metrics *metrics;	/* counted always, served on --metrics */
	struct gwindex *gw;
	struct keysvc *keys;
	struct enroll_ctx enroll;
	struct session *sessions;	/* live */
	struct session *dead;		/* closed, freed by session_reap() */
	unsigned int nsessions;
	uint32_t overlay_net;		/* network order */
	uint8_t overlay_plen;
	char domain[CTLMSG_DOMAIN_MAX];	/* DNS names (names.h) */
	bool status_dirty;
	struct session *by_name[SESSION_ONLINE_BUCKETS];
	struct session *by_ip[SESSION_ONLINE_BUCKETS];
	struct session *by_src[SESSION_SRC_BUCKETS];	/* unauthenticated */
	struct session *by_probe[SESSION_ONLINE_BUCKETS];	/* disco.h */
	struct keyrate disco_rate;	/* DISCO_REQ of all hosts */
	struct keyrate relay_rate;	/* RELAY of all hosts */
	unsigned long disco_log_rl;	/* log_ratelimited() of refusals */
	struct ratelimit rl;
	unsigned long accept_log_rl;	/* log_ratelimited() of accept */
	struct replica *replica;	/* replica.h; NULL: registry not shared */
	struct {			/* admin_revoke()'s last outcome */
		char name[CTLMSG_NAME_MAX];
		bool closed;
		int peers;
	} last_revoke;
};

int server_serve(const struct serve_opts *o);
/* (Re)load the stored policy into @srv; on an error (@err set) the old
 * one stays. */
int server_load_policy(struct server *srv, char *err, size_t errlen);

#endif /* AUTHSRV_SERVER_H */
