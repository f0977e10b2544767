/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv server: one epoll loop (server.c) over the sessions (session.h),
 * with the failed-authentication limit (ratelimit.h), the key service
 * (keysvc.h) and the admin socket (admin.h).
 */
#ifndef AUTHSRV_SERVER_H
#define AUTHSRV_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/tlsconn.h"
#include "ratelimit.h"
#include "session.h"

struct registry;
struct pki;
struct keysvc;
struct policy;

struct serve_opts {
	const char *dir;
	const char *listen;
	uint32_t key_lifetime;		/* seconds */
	uint32_t key_max_packets;	/* 0: the hosts' default */
	uint32_t key_rate;		/* KEY_REQ per s and session, 0: off */
	unsigned int max_sessions;
	const char *metrics;		/* --metrics ADDR:PORT, NULL: off */
};

struct server {
	const char *dir;
	int epfd, lfd, sigfd, admin_fd;
	uint32_t key_lifetime;		/* seconds, --key-lifetime */
	uint32_t key_max_packets;	/* --key-packets, 0 = not sent */
	uint32_t key_rate;		/* --key-rate, 0 = unlimited */
	unsigned int max_sessions;
	struct policy *policy;		/* NULL: all enrolled may talk */
	SSL_CTX *ctx;
	struct registry *reg;
	struct pki *pki;
	struct keysvc *keys;
	struct session *sessions;	/* live */
	struct session *dead;		/* closed, freed by session_reap() */
	unsigned int nsessions;
	uint32_t overlay_net;		/* network order */
	uint8_t overlay_plen;
	bool status_dirty;
	struct session *by_name[SESSION_ONLINE_BUCKETS];
	struct session *by_ip[SESSION_ONLINE_BUCKETS];
	struct ratelimit_entry rl[RATELIMIT_SLOTS];
};

int server_serve(const struct serve_opts *o);
/* (Re)load the stored policy into @srv; on an error (@err set) the old
 * one stays. */
int server_load_policy(struct server *srv, char *err, size_t errlen);

#endif /* AUTHSRV_SERVER_H */
