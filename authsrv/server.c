// SPDX-License-Identifier: GPL-2.0-only
/*
 * `authsrv serve`: the control-channel server: startup, the event loop,
 * the status file. Sessions are session.c, the failed-authentication
 * limit ratelimit.c, the admin verbs admin.c, enrollment enroll.c (its
 * certificates signed by the CA signer process, signer.c), keys keysvc.c.
 *
 * One thread, one level-triggered epoll set holding the listening socket,
 * a signalfd (SIGINT/SIGTERM) and every session's socket. Timers (handshake
 * and HELLO deadlines, key acknowledgements) are swept every
 * SERVER_TICK_MS; no per-timer fds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin.h"
#include "audit.h"
#include "disco.h"
#include "authsrv.h"
#include "gwindex.h"
#include "keysvc.h"
#include "metrics.h"
#include "names.h"
#include "mavpn/linesock.h"
#include "mavpn/log.h"
#include "mavpn/promhttp.h"
#include "mavpn/util.h"
#include "pki.h"
#include "policy.h"
#include "registry.h"
#include "replica.h"
#include "server.h"
#include "signer.h"
#include "status.h"

#define SERVER_TICK_MS		200
#define SERVER_MAX_SESSIONS	8192	/* default; --max-sessions */

/* epoll tags for the non-session fds: only their addresses matter */
static const char server_tag_listen, server_tag_signal, server_tag_admin;
static const char server_tag_metrics, server_tag_disco;

static void server_write_status(struct server *srv)
{
	struct status_entry *e;
	struct session *s;
	int n = 0;

	e = calloc(srv->nsessions + 1, sizeof(*e));
	if (!e)
		return;
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != SESS_ONLINE)
			continue;
		e[n].name = s->name;
		e[n].underlay_ip = s->peer_ip;
		e[n].udp_port = s->udp_port;
		e[n].since = s->since;
		n++;
	}
	if (status_write(srv->dir, e, n))
		log_warn("cannot write status file dir=\"%s\"", srv->dir);
	else if (!srv->replica || !replica_sync_online(srv->replica))
		srv->status_dirty = false;
	free(e);
}

int server_load_policy(struct server *srv, char *err, size_t errlen)
{
	struct policy *p = NULL;
	char *text;
	int ret;

	ret = registry_policy_get(srv->reg, &text);
	if (ret && ret != -ENOENT) {
		snprintf(err, errlen, "cannot read the policy from the registry");
		return ret;
	}
	if (!ret) {
		p = policy_parse(text, err, errlen);
		free(text);
		if (!p)
			return -EINVAL;
	}
	policy_free(srv->policy);
	srv->policy = p;
	if (srv->keys)
		keysvc_set_policy(srv->keys, p);
	if (p)
		log_info("policy loaded rules=%d", policy_nrules(p));
	else
		log_info("policy: none stored, all enrolled hosts may talk");
	return 0;
}

static int server_run(struct server *srv)
{
	struct epoll_event evs[64];
	struct signalfd_siginfo si;
	uint64_t now, next_tick = 0;
	int i, n;

	for (;;) {
		n = epoll_wait(srv->epfd, evs, 64, SERVER_TICK_MS);
		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait failed error=\"%s\"", strerror(errno));
			return -errno;
		}
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &server_tag_listen) {
				session_accept(srv);
			} else if (p == &server_tag_metrics) {
				metrics_process(srv->metrics);
			} else if (srv->replica && p == srv->replica) {
				replica_event(srv->replica);
			} else if (p == &server_tag_disco) {
				disco_process(srv);
			} else if (p == &server_tag_admin) {
				linesock_process(srv->admin);
			} else if (p == &server_tag_signal) {
				if (read(srv->sigfd, &si, sizeof(si)) ==
				    sizeof(si)) {
					log_info("shutting down signal=%u",
						 si.ssi_signo);
					return 0;
				}
			} else {
				session_io(srv, p, evs[i].events);
			}
		}
		now = mono_ms();
		if (now >= next_tick) {
			keysvc_tick(srv->keys, now);
			signer_tick(srv->signer);
			metrics_tick(srv->metrics);
			linesock_tick(srv->admin, now);
			replica_tick(srv->replica, now);
			session_sweep(srv, now);
			next_tick = now + SERVER_TICK_MS;
		}
		session_reap(srv);
		registry_read_end(srv->reg);
		if (srv->status_dirty)
			server_write_status(srv);
	}
}

static int server_add_fd(struct server *srv, int fd, const void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = (void *)tag };

	return epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Startup errors: one line on stderr, like every other command. */
#define serve_fail(...) fprintf(stderr, "authsrv serve: " __VA_ARGS__)

/* Every session holds a socket: allow as many fds as the hard limit. */
static void server_raise_nofile(unsigned int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur >= want + 64)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want + 64 ?
		      want + 64 : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static struct session *server_online_name(void *arg, const char *name)
{
	return session_find_online(arg, name);
}

static struct session *server_online_ip(void *arg, uint32_t ip)
{
	return session_find_online_ip(arg, ip);
}

static struct session *server_sessions(void *arg)
{
	return ((struct server *)arg)->sessions;
}

/*
 * The state: registry, policy, the CA signer (forked here, before the
 * server has read anything from the network, and before it loads any key),
 * the CA certificate, TLS, audit log, gateway index, key service. Each
 * module gets what it uses. 0, or 1 after one line on stderr.
 */
static int server_open_state(struct server *srv, const struct serve_opts *o)
{
	const struct keysvc_online online = {
		.by_name = server_online_name, .by_ip = server_online_ip,
		.sessions = server_sessions, .arg = srv,
	};
	const struct keysvc_cfg kc = {
		.key_lifetime = o->key_lifetime,
		.key_max_packets = o->key_max_packets,
		.key_rate = o->key_rate,
		.flow_ttl = KEYSVC_FLOW_TTL_S,
	};
	char path[4096], chain[4096], key[4096], ca[4096], err[256];
	char where[4096];
	const char *dir = o->dir;
	int ret;

	if (registry_locate(dir, where, sizeof(where))) {
		serve_fail("cannot tell where the registry of \"%s\" is (%s or a valid %s)\n",
			   dir, AUTHSRV_REGISTRY, AUTHSRV_REGISTRY_URL);
		return 1;
	}
	registry_describe(where, path, sizeof(path));
	if (authsrv_path(chain, sizeof(chain), dir, AUTHSRV_SERVER_PEM) ||
	    authsrv_path(key, sizeof(key), dir, AUTHSRV_SERVER_KEY) ||
	    authsrv_path(ca, sizeof(ca), dir, AUTHSRV_CA_PEM)) {
		serve_fail("state directory path too long: \"%s\"\n", dir);
		return 1;
	}
	registry_log_errors(true);
	srv->reg = registry_open(where);
	if (!srv->reg) {
		serve_fail("cannot open registry \"%s\": %s%s\n", path,
			   *registry_error() ? registry_error() :
					       strerror(errno),
			   errno == ENOENT ? " (run authsrv init first?)" : "");
		return 1;
	}
	if (registry_overlay(srv->reg, &srv->overlay_net, &srv->overlay_plen)) {
		serve_fail("registry \"%s\" has no valid overlay prefix\n", path);
		return 1;
	}
	if (names_domain_load(dir, srv->domain, sizeof(srv->domain))) {
		serve_fail("state directory \"%s\" has an unusable %s file\n",
			   dir, NAMES_FILE);
		return 1;
	}
	if (server_load_policy(srv, err, sizeof(err))) {
		serve_fail("stored policy is unusable: %s\n", err);
		return 1;
	}
	registry_read_batch(srv->reg, true);
	if (signer_start(dir, &srv->signer, err, sizeof(err))) {
		serve_fail("%s\n", err);
		return 1;
	}
	srv->pki = pki_load(dir, false);	/* the certificate, not the key */
	if (!srv->pki) {
		serve_fail("cannot load CA from \"%s\": %s\n", dir,
			   strerror(errno));
		return 1;
	}
	srv->ctx = tlsconn_server_ctx(chain, key, ca);
	if (!srv->ctx) {
		serve_fail("cannot set up TLS with \"%s\" and \"%s\"\n", chain,
			   key);
		return 1;
	}
	ret = audit_open(dir, &srv->audit);
	if (ret) {
		serve_fail("cannot open audit log in \"%s\": %s\n", dir,
			   strerror(-ret));
		return 1;
	}
	srv->rl.audit = srv->audit;
	srv->metrics = metrics_new(srv);
	srv->gw = gwindex_new();
	if (srv->gw && srv->metrics)
		srv->keys = keysvc_new(srv->reg, srv->gw, srv->audit,
				       srv->metrics, &kc, &online);
	if (!srv->keys) {
		serve_fail("out of memory\n");
		return 1;
	}
	keysvc_set_policy(srv->keys, srv->policy);
	if (keysvc_load_revoked(srv->keys) || gwindex_load(srv->gw, srv->reg)) {
		serve_fail("cannot read the revoked hosts and gateways from the registry \"%s\"\n",
			   path);
		return 1;
	}
	srv->enroll = (struct enroll_ctx){
		.reg = srv->reg, .ca = srv->pki, .signer = srv->signer,
		.gw = srv->gw, .audit = srv->audit, .rl = &srv->rl,
		.overlay_plen = srv->overlay_plen,
	};
	return 0;
}

/* Undo server_open_state(); every part may be missing. */
static void server_close_state(struct server *srv)
{
	keysvc_free(srv->keys);
	gwindex_free(srv->gw);
	metrics_free(srv->metrics);
	audit_close(srv->audit);
	SSL_CTX_free(srv->ctx);
	pki_free(srv->pki);
	signer_stop(srv->signer);
	policy_free(srv->policy);
	registry_close(srv->reg);
}

/* Signals, the listening, admin and metrics sockets, all in one epoll
 * set. 0, or 1 after one line on stderr. */
static int server_open_fds(struct server *srv, const struct serve_opts *o,
			   const struct sockaddr_in *sa)
{
	sigset_t mask;
	int one = 1, ret;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	srv->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->sigfd < 0 || srv->epfd < 0 || srv->lfd < 0) {
		serve_fail("cannot create server fds: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv->lfd, (const struct sockaddr *)sa, sizeof(*sa)) ||
	    listen(srv->lfd, 512)) {
		serve_fail("cannot listen on \"%s\": %s\n", o->listen,
			   strerror(errno));
		return 1;
	}
	ret = disco_open(srv, sa);
	if (ret) {
		serve_fail("cannot listen on \"%s\" (UDP): %s\n", o->listen,
			   strerror(-ret));
		return 1;
	}
	srv->admin = admin_open(o->dir, srv);
	if (!srv->admin) {
		if (errno == EADDRINUSE)
			serve_fail("another server is running on state directory \"%s\"\n",
				   o->dir);
		else
			serve_fail("cannot create admin socket in \"%s\": %s\n",
				   o->dir, strerror(errno));
		return 1;
	}
	ret = replica_start(srv, o->listen, &srv->replica);
	if (ret) {
		serve_fail("cannot follow the shared registry: %s\n",
			   *registry_error() ? registry_error() : strerror(-ret));
		return 1;
	}
	if (server_add_fd(srv, srv->lfd, &server_tag_listen) ||
	    server_add_fd(srv, srv->sigfd, &server_tag_signal) ||
	    server_add_fd(srv, linesock_fd(srv->admin), &server_tag_admin) ||
	    server_add_fd(srv, srv->ufd, &server_tag_disco)) {
		serve_fail("epoll: %s\n", strerror(errno));
		return 1;
	}
	if (!o->metrics)
		return 0;
	ret = metrics_open(srv->metrics, o->metrics);
	if (ret >= 0)
		ret = server_add_fd(srv, ret, &server_tag_metrics);
	if (ret < 0) {
		serve_fail("cannot serve metrics on \"%s\": %s\n", o->metrics,
			   ret == -EINVAL ? "expected IPV4-ADDRESS:PORT" :
			   strerror(-ret));
		return 1;
	}
	return 0;
}

static void server_close_fds(struct server *srv)
{
	replica_stop(srv->replica);
	metrics_close(srv->metrics);
	linesock_close(srv->admin);
	if (srv->lfd >= 0)
		close(srv->lfd);
	if (srv->ufd >= 0)
		close(srv->ufd);
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->sigfd >= 0)
		close(srv->sigfd);
}

int server_serve(const struct serve_opts *o)
{
	char ip[INET_ADDRSTRLEN];
	struct server *srv;
	struct sockaddr_in sa;
	int ret = 1;

	/* Big (the online tables): not on the stack. */
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		fprintf(stderr, "authsrv serve: out of memory\n");
		return 1;
	}
	srv->dir = o->dir;
	srv->epfd = srv->lfd = srv->sigfd = srv->ufd = -1;
	srv->max_sessions = o->max_sessions ? o->max_sessions :
			   SERVER_MAX_SESSIONS;
	server_raise_nofile(srv->max_sessions);
	srv->preauth_max = srv->max_sessions / 8;
	if (srv->preauth_max > SESSION_PREAUTH_MAX)
		srv->preauth_max = SESSION_PREAUTH_MAX;
	if (!srv->preauth_max)
		srv->preauth_max = 1;
	srv->handshake_ms = 1000u * (o->handshake_timeout ?
				     o->handshake_timeout :
				     SESSION_HANDSHAKE_S);

	if (promhttp_parse_addr(o->listen, &sa)) {
		serve_fail("bad --listen \"%s\": expected IPV4-ADDRESS:PORT\n",
			   o->listen);
		ret = 2;
		goto out;
	}
	if (server_open_state(srv, o))
		goto out_state;
	if (server_open_fds(srv, o, &sa))
		goto out_fds;
	server_write_status(srv);
	inet_ntop(AF_INET, &srv->overlay_net, ip, sizeof(ip));
	log_info("listening addr=%s overlay=%s/%u state=\"%s\" ca_sha256=%s key_lifetime=%u key_packets=%u key_rate=%u max_sessions=%u preauth_per_source=%u handshake_timeout_ms=%u",
		 o->listen, ip, srv->overlay_plen, o->dir, pki_ca_fp(srv->pki),
		 o->key_lifetime, o->key_max_packets, o->key_rate,
		 srv->max_sessions, srv->preauth_max, srv->handshake_ms);

	ret = server_run(srv) ? 1 : 0;

	while (srv->sessions)
		session_close(srv->sessions, NULL);
	session_reap(srv);
	status_remove(o->dir);
out_fds:
	server_close_fds(srv);
out_state:
	server_close_state(srv);
out:
	free(srv);
	return ret;
}
