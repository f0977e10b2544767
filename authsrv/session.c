// SPDX-License-Identifier: GPL-2.0-only
/*
 * One session per TLS connection: accept, handshake, authentication, the
 * message dispatch of the state machine (see session.h), the online tables,
 * deadlines and the graceful close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "audit.h"
#include "disco.h"
#include "authsrv.h"
#include "enroll.h"
#include "keysvc.h"
#include "metrics.h"
#include "names.h"
#include "mavpn/log.h"
#include "mavpn/util.h"
#include "pki.h"
#include "registry.h"
#include "server.h"

#define SESSION_HELLO_MS	30000	/* authenticated, until HELLO */
#define SESSION_LINGER_MS	2000	/* CLOSING + DRAIN */

/* ---- online sessions by name and by overlay address ---- */

static unsigned int session_hash_name(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h & (SESSION_ONLINE_BUCKETS - 1);
}

static unsigned int session_hash_ip(uint32_t ip)
{
	return (ip * 2654435761u) >> 18;
}
_Static_assert(SESSION_ONLINE_BUCKETS == 1 << 14, "ip hash width");

static void session_online_add(struct server *srv, struct session *s)
{
	unsigned int hn = session_hash_name(s->name);
	unsigned int hi = session_hash_ip(s->overlay_ip);

	s->name_next = srv->by_name[hn];
	srv->by_name[hn] = s;
	s->ip_next = srv->by_ip[hi];
	srv->by_ip[hi] = s;
	s->hashed = true;
}

static void session_online_del(struct server *srv, struct session *s)
{
	struct session **pp;

	disco_session_end(srv, s);
	if (!s->hashed)
		return;
	for (pp = &srv->by_name[session_hash_name(s->name)]; *pp;
	     pp = &(*pp)->name_next) {
		if (*pp == s) {
			*pp = s->name_next;
			break;
		}
	}
	for (pp = &srv->by_ip[session_hash_ip(s->overlay_ip)]; *pp;
	     pp = &(*pp)->ip_next) {
		if (*pp == s) {
			*pp = s->ip_next;
			break;
		}
	}
	s->hashed = false;
}

/* ---- unauthenticated sessions by source address ---- */

static unsigned int session_hash_src(uint32_t ip)
{
	return (ip * 2654435761u) >> 20;
}
_Static_assert(SESSION_SRC_BUCKETS == 1 << 12, "src hash width");

static unsigned int session_src_count(const struct server *srv, uint32_t ip)
{
	const struct session *s;
	unsigned int n = 0;

	for (s = srv->by_src[session_hash_src(ip)]; s; s = s->src_next)
		n += s->peer_ip == ip;
	return n;
}

static void session_src_add(struct server *srv, struct session *s)
{
	unsigned int h = session_hash_src(s->peer_ip);

	s->src_next = srv->by_src[h];
	srv->by_src[h] = s;
	s->preauth = true;
}

/* @s authenticated or went away: it no longer counts against its source. */
static void session_src_del(struct server *srv, struct session *s)
{
	struct session **pp;

	if (!s->preauth)
		return;
	for (pp = &srv->by_src[session_hash_src(s->peer_ip)]; *pp;
	     pp = &(*pp)->src_next) {
		if (*pp == s) {
			*pp = s->src_next;
			break;
		}
	}
	s->preauth = false;
}

static void session_unlink(struct session **head, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static void session_push(struct session **head, struct session *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static const char *session_who(const struct session *s)
{
	return s->name[0] ? s->name : "-";
}

void session_close(struct session *s, const char *why)
{
	struct server *srv = s->srv;

	if (s->dead)
		return;
	if (why)
		log_info("connection closed addr=%s host=%s reason=\"%s\"",
			 s->addr, session_who(s), why);
	if (s->state == SESS_ONLINE)
		srv->status_dirty = true;
	session_online_del(srv, s);
	session_src_del(srv, s);
	s->dead = true;
	session_unlink(&srv->sessions, s);
	session_push(&srv->dead, s);
	srv->nsessions--;
}

void session_send(struct session *s, const struct ctlmsg *m)
{
	int ret;

	if (s->dead)
		return;
	ret = tlsconn_send(s->tc, m);
	if (!ret)
		metrics_sent(s->srv->metrics, s, m);
	if (ret < 0) {
		log_warn("send failed addr=%s host=%s type=%s error=\"%s\"",
			 s->addr, session_who(s), ctlmsg_type_name(m->type),
			 strerror(-ret));
		session_close(s, NULL);
	}
}

/* Leave ONLINE/ENROLL/...: nothing more is read from this session. */
static void session_wind_down(struct session *s)
{
	if (s->state == SESS_ONLINE) {
		s->srv->status_dirty = true;
		session_online_del(s->srv, s);
		keysvc_session_gone(s->srv->keys, s);
	}
	s->state = SESS_CLOSING;
	s->deadline_ms = mono_ms() + SESSION_LINGER_MS;
}

void session_finish(struct session *s)
{
	if (s->dead || s->state >= SESS_CLOSING)
		return;
	session_wind_down(s);
}

void session_error(struct session *s, const char *fmt, ...)
{
	struct ctlmsg m;
	va_list ap;

	if (s->dead || s->state >= SESS_CLOSING)
		return;
	ctlmsg_init(&m, CTLMSG_ERROR);
	va_start(ap, fmt);
	vsnprintf(m.reason, sizeof(m.reason), fmt, ap);
	va_end(ap);
	m.present = CTLA_BIT(CTLA_REASON);
	log_info("sending error addr=%s host=%s reason=\"%s\"", s->addr,
		 session_who(s), m.reason);
	session_send(s, &m);
	session_wind_down(s);
}

struct session *session_find_online(struct server *srv, const char *name)
{
	struct session *s;

	for (s = srv->by_name[session_hash_name(name)]; s; s = s->name_next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

struct session *session_find_online_ip(struct server *srv, uint32_t ip)
{
	struct session *s;

	for (s = srv->by_ip[session_hash_ip(ip)]; s; s = s->ip_next)
		if (s->overlay_ip == ip)
			return s;
	return NULL;
}

static void session_refuse_auth(struct session *s, const char *host,
			       const char *reason)
{
	struct audit_rec a = {
		.event = "auth_refused", .host = host, .addr = s->addr,
		.reason = reason,
	};

	audit_write(s->srv->audit, &a);
	ratelimit_auth_failed(&s->srv->rl, s->peer_ip);
	session_error(s, "%s", reason);
}

/* ALPN ctl: the certificate decides who this is. */
static void session_ctl_auth(struct server *srv, struct session *s)
{
	SSL *ssl = tlsconn_ssl(s->tc);
	char name[CTLMSG_NAME_MAX], serial[AUTHSRV_SERIAL_HEX_MAX];
	char reason[CTLMSG_REASON_MAX];
	struct reg_host h;
	X509 *peer;
	int ret;

	peer = SSL_get0_peer_certificate(ssl);
	if (!peer || SSL_get_verify_result(ssl) != X509_V_OK) {
		session_refuse_auth(s, NULL, "client certificate required");
		return;
	}
	if (pki_cert_cn(peer, name, sizeof(name)) ||
	    !authsrv_valid_name(name) || pki_cert_serial(peer, serial)) {
		session_refuse_auth(s, NULL,
				   "client certificate has no valid host name");
		return;
	}
	ret = registry_host_by_name(srv->reg, name, &h);
	if (ret == -ENOENT) {
		snprintf(reason, sizeof(reason), "host %s is not enrolled", name);
		session_refuse_auth(s, name, reason);
		return;
	}
	if (ret) {
		session_refuse_auth(s, name, "registry error");
		return;
	}
	if (h.revoked) {
		snprintf(reason, sizeof(reason), "host %s is revoked", name);
		session_refuse_auth(s, name, reason);
		return;
	}
	/* Only the certificate issued at enrollment counts. */
	if (strcmp(h.cert_serial, serial) ||
	    registry_serial_revoked(srv->reg, serial)) {
		snprintf(reason, sizeof(reason),
			 "certificate of host %s is not the current one", name);
		session_refuse_auth(s, name, reason);
		return;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->serial, sizeof(s->serial), "%s", serial);
	s->overlay_ip = h.overlay_ip;
	session_src_del(srv, s);
	s->state = SESS_CTL_HELLO;
	s->deadline_ms = mono_ms() + SESSION_HELLO_MS;
	audit_write(srv->audit, &(struct audit_rec){ .event = "auth",
						     .host = name,
						     .addr = s->addr });
	log_info("authenticated addr=%s host=%s", s->addr, name);
}

static void session_on_handshake(struct server *srv, struct session *s)
{
	const char *alpn = tlsconn_alpn(s->tc);

	if (!strcmp(alpn, TLSCONN_ALPN_ENROLL)) {
		/* Still unauthenticated: ENROLL_REQ follows the handshake at
		 * once, the same short deadline applies. */
		s->state = SESS_ENROLL;
		s->deadline_ms = mono_ms() + srv->handshake_ms;
		log_debug("enrollment connection addr=%s", s->addr);
	} else if (!strcmp(alpn, TLSCONN_ALPN_CTL)) {
		session_ctl_auth(srv, s);
	} else {
		/* The ALPN callbacks make this unreachable. */
		session_close(s, "no ALPN protocol");
	}
}

/* HELLO's candidate endpoints, kept for the peers' KEY_GRANT/KEY_PUSH. */
static void session_endpoints(struct session *s, const struct ctlmsg *m)
{
	s->n_endpoints = m->n_endpoints;
	memcpy(s->endpoints, m->endpoints,
	       m->n_endpoints * sizeof(m->endpoints[0]));
}

static void session_hello(struct server *srv, struct session *s,
			 const struct ctlmsg *m)
{
	char addr[INET_ADDRSTRLEN];
	struct session *old;
	struct reg_host h;
	struct ctlmsg r;
	int ret;

	if (m->udp_port == 0) {
		session_error(s, "HELLO needs a nonzero udp_port");
		return;
	}
	/* Revoked between authentication and HELLO: refused here too. */
	ret = registry_host_by_name(srv->reg, s->name, &h);
	if (ret || h.revoked || registry_serial_revoked(srv->reg, s->serial)) {
		session_refuse_auth(s, s->name, ret ? "registry error" :
				    "host is revoked");
		return;
	}
	old = session_find_online(srv, s->name);
	if (old) {
		log_info("replacing session host=%s old_addr=%s new_addr=%s",
			 s->name, old->addr, s->addr);
		session_error(old, "replaced by a newer session of host %s",
			      s->name);
	}
	s->udp_port = m->udp_port;
	session_endpoints(s, m);
	s->since = real_s();
	s->state = SESS_ONLINE;
	session_online_add(srv, s);
	s->deadline_ms = 0;
	srv->status_dirty = true;

	ctlmsg_init(&r, CTLMSG_HELLO_ACK);
	snprintf(r.name, sizeof(r.name), "%s", s->name);
	r.overlay_ip = s->overlay_ip;
	r.overlay_plen = srv->overlay_plen;
	r.policy_open = keysvc_policy_open(srv->keys);
	r.present = CTLA_BIT(CTLA_NAME) | CTLA_BIT(CTLA_OVERLAY_IP) |
		    CTLA_BIT(CTLA_OVERLAY_PLEN) | CTLA_BIT(CTLA_DOMAIN) |
		    CTLA_BIT(CTLA_POLICY_OPEN);
	snprintf(r.domain, sizeof(r.domain), "%s", srv->domain);
	keysvc_hello_routes(srv->keys, s->name, &r);
	if (srv->ufd >= 0 && disco_session_start(srv, s, &r))
		log_warn("no discovery key for host=%s", s->name);
	session_send(s, &r);
	ctlmsg_wipe(&r);
	keysvc_hello_revokes(srv->keys, s);
	names_hello(srv, s);
	inet_ntop(AF_INET, &s->overlay_ip, addr, sizeof(addr));
	log_info("host online host=%s overlay_ip=%s addr=%s udp_port=%u",
		 s->name, addr, s->addr, s->udp_port);
}

static void session_resolve(struct server *srv, struct session *s,
			   const struct ctlmsg *m)
{
	struct reg_host h;
	struct ctlmsg r;
	int ret;

	ctlmsg_init(&r, CTLMSG_RESOLVE_RESP);
	r.req_id = m->req_id;
	snprintf(r.name, sizeof(r.name), "%s", m->name);
	r.present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_NAME);
	ret = authsrv_valid_name(m->name) ?
	      registry_host_by_name(srv->reg, m->name, &h) : -ENOENT;
	if (!ret) {
		r.overlay_ip = h.overlay_ip;
		r.present |= CTLA_BIT(CTLA_OVERLAY_IP);
	} else {
		snprintf(r.reason, sizeof(r.reason), "%s \"%.64s\"",
			 ret == -ENOENT ? "no host named" : "registry error for",
			 m->name);
		r.present |= CTLA_BIT(CTLA_REASON);
	}
	session_send(s, &r);
}

static void session_dispatch(struct server *srv, struct session *s,
			    const struct ctlmsg *m)
{
	struct ctlmsg r;

	log_debug("message addr=%s host=%s type=%s", s->addr, session_who(s),
		  ctlmsg_type_name(m->type));
	metrics_received(srv->metrics, m);
	if (m->type == CTLMSG_PING && (s->state == SESS_CTL_HELLO ||
				       s->state == SESS_ONLINE)) {
		ctlmsg_init(&r, CTLMSG_PONG);
		r.req_id = m->req_id;
		r.present = CTLA_BIT(CTLA_REQ_ID);
		session_send(s, &r);
		return;
	}
	switch (s->state) {
	case SESS_ENROLL:
		if (m->type == CTLMSG_ENROLL_REQ) {
			enroll_handle(&srv->enroll, s, m);
			return;
		}
		break;
	case SESS_CTL_HELLO:
		if (m->type == CTLMSG_HELLO) {
			session_hello(srv, s, m);
			return;
		}
		break;
	case SESS_ONLINE:
		switch (m->type) {
		case CTLMSG_KEY_REQ:
			keysvc_key_req(srv->keys, s, m);
			return;
		case CTLMSG_KEY_PUSH_ACK:
			keysvc_push_ack(srv->keys, s, m);
			return;
		case CTLMSG_FLOW_REQ:
			keysvc_flow_req(srv->keys, s, m);
			return;
		case CTLMSG_RESOLVE_REQ:
			session_resolve(srv, s, m);
			return;
		case CTLMSG_HELLO:
			/* The host's addresses changed: new candidates for
			 * the next grants; the peers learn the new address
			 * from its authenticated datagrams meanwhile. */
			session_endpoints(s, m);
			log_info("host endpoints host=%s n=%u", s->name,
				 s->n_endpoints);
			return;
		}
		break;
	default:
		return;
	}
	log_warn("unexpected message addr=%s host=%s type=%s", s->addr,
		 session_who(s), ctlmsg_type_name(m->type));
	session_error(s, "unexpected %s message", ctlmsg_type_name(m->type));
}

static void session_update_events(struct server *srv, struct session *s)
{
	struct epoll_event ev = { .data.ptr = s };
	uint32_t mask;
	int ret;

	if (s->dead)
		return;
	if (s->state == SESS_CLOSING) {
		ret = tlsconn_flush(s->tc);
		if (ret < 0) {
			session_close(s, NULL);
			return;
		}
		if (ret == 0) {
			/* All out: close_notify, then half-close. */
			ERR_clear_error();
			SSL_shutdown(tlsconn_ssl(s->tc));
			shutdown(tlsconn_fd(s->tc), SHUT_WR);
			s->state = SESS_DRAIN;
		}
	}
	if (s->state == SESS_DRAIN)
		mask = EPOLLIN;
	else if (s->state == SESS_CLOSING)
		mask = tlsconn_want_write(s->tc) ? EPOLLOUT : 0;
	else
		mask = EPOLLIN | (tlsconn_want_write(s->tc) ? EPOLLOUT : 0);
	if (mask == s->ev_mask)
		return;
	ev.events = mask;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, tlsconn_fd(s->tc), &ev)) {
		session_close(s, "epoll_ctl failed");
		return;
	}
	s->ev_mask = mask;
}

void session_io(struct server *srv, struct session *s, uint32_t events)
{
	struct ctlmsg m;
	char buf[4096];
	ssize_t n;
	int ret;

	if (s->dead)
		return;
	if (s->state == SESS_DRAIN) {
		/* Discard whatever still comes; EOF or error ends it. */
		n = recv(tlsconn_fd(s->tc), buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			session_close(s, NULL);
		return;
	}
	if (s->state == SESS_HANDSHAKE) {
		ret = tlsconn_handshake(s->tc);
		if (ret < 0) {
			/* A peer that just went away is not an attack; a
			 * failed verification or protocol version is. */
			if (ret != -ECONNRESET) {
				ratelimit_auth_failed(&srv->rl, s->peer_ip);
				metrics_tls_failed(srv->metrics);
				audit_write(srv->audit, &(struct audit_rec){
					.event = "auth_refused", .addr = s->addr,
					.reason = "TLS handshake failed" });
			}
			session_close(s, ret == -ECONNRESET ?
				      "closed during handshake" :
				      "TLS handshake failed");
			return;
		}
		if (ret == 0)
			goto out;
		session_on_handshake(srv, s);
		if (s->dead || s->state >= SESS_CLOSING)
			goto out;
	}
	if (s->state == SESS_CLOSING) {
		if (events & (EPOLLERR | EPOLLHUP))
			session_close(s, NULL);
		goto out;
	}
	ret = tlsconn_read(s->tc);
	if (ret < 0) {
		session_close(s, ret == -ECONNRESET ? "peer closed" :
						      "TLS error");
		return;
	}
	ctlmsg_init(&m, 0);
	while (!s->dead && s->state < SESS_CLOSING) {
		ret = tlsconn_next(s->tc, &m);
		if (ret == 0)
			break;
		if (ret < 0) {
			log_warn("malformed message addr=%s host=%s error=\"%s\"",
				 s->addr, session_who(s), strerror(-ret));
			if (s->state != SESS_ONLINE)
				ratelimit_auth_failed(&srv->rl, s->peer_ip);
			session_error(s, "malformed message");
			break;
		}
		session_dispatch(srv, s, &m);
		ctlmsg_wipe(&m);
	}
	ctlmsg_wipe(&m);
	if (!s->dead && s->state < SESS_CLOSING && (events & EPOLLOUT)) {
		ret = tlsconn_flush(s->tc);
		if (ret < 0) {
			session_close(s, "write failed");
			return;
		}
	}
out:
	session_update_events(srv, s);
}

/* A refused connection: counted, logged a few times a second at most. */
static void session_refuse_conn(struct server *srv, int fd,
				enum metrics_counter c, const char *ip)
{
	char cnt[1024];

	close(fd);
	metrics_count(srv->metrics, c);
	if (!log_ratelimited(&srv->accept_log_rl))
		return;
	metrics_line(srv->metrics, cnt, sizeof(cnt));
	if (c == METRICS_CNT_REFUSED_SOURCE)
		log_warn("connection refused addr=%s reason=\"too many unauthenticated connections from this address\" limit=%u %s",
			 ip, srv->preauth_max, cnt);
	else
		log_warn("connection refused addr=%s reason=\"too many sessions\" limit=%u %s",
			 ip, srv->max_sessions, cnt);
}

void session_accept(struct server *srv)
{
	unsigned long *rl = &srv->accept_log_rl;
	struct sockaddr_in sa;
	socklen_t len;
	struct session *s;
	struct epoll_event ev;
	char ip[INET_ADDRSTRLEN];
	int fd, one = 1;

	for (;;) {
		len = sizeof(sa);
		fd = accept4(srv->lfd, (struct sockaddr *)&sa, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED && log_ratelimited(rl))
				log_warn("accept failed error=\"%s\"",
					 strerror(errno));
			return;
		}
		if (sa.sin_family != AF_INET) {
			close(fd);
			continue;
		}
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		if (!ratelimit_admit(&srv->rl, sa.sin_addr.s_addr, ip)) {
			close(fd);
			continue;
		}
		/*
		 * Per source first: one address flooding idle connects must
		 * not fill the global limit, so that hosts and enrollments
		 * from elsewhere still get a slot.
		 */
		if (session_src_count(srv, sa.sin_addr.s_addr) >=
		    srv->preauth_max) {
			session_refuse_conn(srv, fd, METRICS_CNT_REFUSED_SOURCE,
					    ip);
			continue;
		}
		if (srv->nsessions >= srv->max_sessions) {
			session_refuse_conn(srv, fd, METRICS_CNT_REFUSED_FULL,
					    ip);
			continue;
		}
		/* Key grants are latency-bound small messages. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s = calloc(1, sizeof(*s));
		if (!s) {
			close(fd);
			continue;
		}
		s->tc = tlsconn_new(srv->ctx, fd, true);	/* owns fd */
		if (!s->tc) {
			free(s);
			continue;
		}
		s->srv = srv;
		s->peer_ip = sa.sin_addr.s_addr;
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		snprintf(s->addr, sizeof(s->addr), "%s:%u", ip,
			 ntohs(sa.sin_port));
		s->state = SESS_HANDSHAKE;
		s->deadline_ms = mono_ms() + srv->handshake_ms;
		s->ev_mask = EPOLLIN;
		ev.events = EPOLLIN;
		ev.data.ptr = s;
		if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			tlsconn_free(s->tc);
			free(s);
			continue;
		}
		session_push(&srv->sessions, s);
		session_src_add(srv, s);
		srv->nsessions++;
		log_debug("connection addr=%s", s->addr);
	}
}

void session_sweep(struct server *srv, uint64_t now)
{
	struct session *s, *next;

	for (s = srv->sessions; s; s = next) {
		next = s->next;
		if (!s->deadline_ms || now < s->deadline_ms)
			continue;
		/*
		 * A connection that stalls before HELLO holds a session slot
		 * for free: count it as a failed authentication, or one
		 * address could keep --max-sessions slots busy forever.
		 */
		switch (s->state) {
		case SESS_HANDSHAKE:
			ratelimit_auth_failed(&srv->rl, s->peer_ip);
			metrics_count(srv->metrics, METRICS_CNT_HANDSHAKE_TIMEOUTS);
			session_close(s, "handshake timeout");
			break;
		case SESS_ENROLL:
		case SESS_CTL_HELLO:
			if (s->state == SESS_ENROLL)
				metrics_count(srv->metrics, METRICS_CNT_HANDSHAKE_TIMEOUTS);
			ratelimit_auth_failed(&srv->rl, s->peer_ip);
			session_error(s, "timeout waiting for %s",
				      s->state == SESS_ENROLL ? "ENROLL_REQ" :
								"HELLO");
			break;
		default:
			session_close(s, NULL);
		}
	}
}

void session_reap(struct server *srv)
{
	struct session *s;

	while ((s = srv->dead)) {
		session_unlink(&srv->dead, s);
		keysvc_session_gone(srv->keys, s);	/* may close more sessions */
		epoll_ctl(srv->epfd, EPOLL_CTL_DEL, tlsconn_fd(s->tc), NULL);
		tlsconn_free(s->tc);
		free(s);
	}
}
