// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control channel state machine:
 *
 *   DOWN --due--> CONNECTING --tcp up--> HANDSHAKE --TLS done, HELLO-->
 *   HELLO --HELLO_ACK--> UP
 *
 * Any failure goes back to DOWN and schedules the next attempt. With
 * several servers (replicas, "A:P,B:P,..."), a failed attempt moves on to
 * the next one after CHAN_FAILOVER_MS; once every server has failed in a
 * row, the wait is the backoff (1 s doubling to 30 s; reset once UP). A
 * link that was UP is tried again on the same server first, unless it went
 * silent (no answer to PINGs: with a list, PING every 2 s, dead after 5 s
 * of silence, 3 s to set up a link). Every wait is
 * jittered (half to all of it), so a fleet that lost its server does not
 * come back in one wave. Keys already in the data plane keep working while
 * the channel is down: only new grants need it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mavpn/log.h"
#include "mavpn/tlsconn.h"
#include "mavpn/util.h"
#include "chan.h"

enum chan_stage { CHAN_DOWN, CHAN_CONNECTING, CHAN_HANDSHAKE, CHAN_HELLO,
		  CHAN_UP };

static const char *const chan_stage_names[] = {
	[CHAN_DOWN] = "down", [CHAN_CONNECTING] = "connecting",
	[CHAN_HANDSHAKE] = "handshake", [CHAN_HELLO] = "hello",
	[CHAN_UP] = "up",
};

struct chan {
	const struct vpnd_state *st;
	struct chan_ops ops;
	void *arg;
	uint16_t udp_port;
	char iface[IF_NAMESIZE];	/* underlay: its addresses are our candidates */
	uint32_t n_eps;			/* the candidates the server has */
	struct ctlmsg_endpoint eps[CTLMSG_ENDPOINTS_MAX];
	uint64_t eps_checked;		/* ms */
	struct ctlmsg_endpoint refl;	/* port 0: none */
	char host[STATE_SERVER_MAX];
	char port[16];
	char server[STATE_SERVER_MAX];	/* the current one, "HOST:PORT" */
	unsigned int nserv, cur;	/* the list in st->server */
	unsigned int fails;		/* attempts failed in a row */
	bool silent;			/* the link died without a word */
	uint64_t ping_ms, dead_ms;
	SSL_CTX *ctx;
	int epfd;			/* inner epoll set: the socket, if any */
	int sock;			/* while CONNECTING (tlsconn owns it after) */
	struct tlsconn *tc;
	enum chan_stage stage;
	uint32_t epmask;		/* events currently registered */
	uint64_t next_attempt;		/* when DOWN */
	uint64_t stage_deadline;	/* CONNECTING..HELLO */
	uint64_t backoff;
	uint64_t last_rx, last_ping, up_since;
	uint32_t ping_id;
	unsigned int reconnects;
	struct ctlmsg msg;		/* received; big: kept off the stack */
	struct ctlmsg out;		/* chan_msg(): the next one we send */
};

int chan_tcp_connect(const char *host, const char *port, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, err = -EHOSTUNREACH, rc;

	*why = NULL;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		*why = gai_strerror(rc);
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		err = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : err;
}

/* Server @i of the list becomes the current one. */
static int chan_pick(struct chan *ch, unsigned int i)
{
	ch->cur = i;
	return state_server_nth(ch->st->server, i, ch->host, sizeof(ch->host),
				ch->port, sizeof(ch->port), ch->server,
				sizeof(ch->server));
}

/* Half to all of @ms. */
static uint64_t chan_jitter(uint64_t ms)
{
	return ms / 2 + (uint64_t)random() % (ms / 2 + 1);
}

const char *chan_server(const struct chan *ch)
{
	return ch->server;
}

struct chan *chan_new(const struct vpnd_state *st, uint16_t udp_port,
		      const struct chan_ops *ops, void *arg)
{
	struct chan *ch;
	int err;

	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->st = st;
	ch->ops = *ops;
	ch->arg = arg;
	ch->udp_port = udp_port;
	ch->sock = -1;
	ch->backoff = CHAN_BACKOFF_MIN_MS;
	err = state_server_count(st->server);
	if (err < 0 || chan_pick(ch, 0)) {
		log_err("chan: bad server address server=\"%s\"", st->server);
		err = -EINVAL;
		goto err_free;
	}
	ch->nserv = (unsigned int)err;
	ch->ping_ms = ch->nserv > 1 ? CHAN_PING_LIST_MS : CHAN_PING_MS;
	ch->dead_ms = ch->nserv > 1 ? CHAN_DEAD_LIST_MS : CHAN_DEAD_MS;
	srandom((unsigned int)(getpid() ^ mono_ms()));
	ch->ctx = tlsconn_client_ctx(TLSCONN_ALPN_CTL, st->ca_path,
				     st->cert_path, st->key_path);
	if (!ch->ctx) {
		err = -EINVAL;
		goto err_free;
	}
	ch->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ch->epfd < 0) {
		err = -errno;
		goto err_ctx;
	}
	return ch;

err_ctx:
	SSL_CTX_free(ch->ctx);
err_free:
	free(ch);
	errno = -err;
	return NULL;
}

static int chan_sockfd(const struct chan *ch)
{
	return ch->tc ? tlsconn_fd(ch->tc) : ch->sock;
}

/* Register the socket for what the next step waits on. */
static void chan_arm(struct chan *ch, uint32_t mask)
{
	struct epoll_event ev = { .events = mask };
	int fd = chan_sockfd(ch);

	if (fd < 0 || mask == ch->epmask)
		return;
	ev.data.fd = fd;
	if (epoll_ctl(ch->epfd, ch->epmask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      fd, &ev) < 0)
		log_warn("chan: epoll_ctl fd=%d: %s", fd, strerror(errno));
	ch->epmask = mask;
}

static void chan_rearm(struct chan *ch)
{
	uint32_t mask = EPOLLIN;

	if (ch->stage == CHAN_CONNECTING ||
	    (ch->tc && tlsconn_want_write(ch->tc)))
		mask |= EPOLLOUT;
	chan_arm(ch, mask);
}

static void chan_down(struct chan *ch, const char *why, int err)
{
	bool was_up = ch->stage == CHAN_UP;
	uint64_t now = mono_ms(), wait;

	if (ch->stage == CHAN_DOWN)
		return;
	/* Closing the fd removes it from the epoll set. */
	if (ch->tc)
		tlsconn_free(ch->tc);
	else if (ch->sock >= 0)
		close(ch->sock);
	ch->tc = NULL;
	ch->sock = -1;
	ch->epmask = 0;
	if (was_up)
		log_warn("chan: link to server=%s down: %s%s%s", ch->server,
			 why, err ? ": " : "", err ? strerror(-err) : "");
	else
		log_warn("chan: connecting to server=%s failed at stage=%s: %s%s%s",
			 ch->server, chan_stage_names[ch->stage], why,
			 err ? ": " : "", err ? strerror(-err) : "");
	ch->stage = CHAN_DOWN;
	ch->up_since = 0;
	if (was_up && !ch->silent) {
		/* the same server first: it may only have been a blip */
		ch->fails = 0;
		wait = CHAN_BACKOFF_MIN_MS;
	} else if (++ch->fails % ch->nserv) {
		/* the next server of the list, soon */
		wait = CHAN_FAILOVER_MS;
	} else {
		/* each failed once more: back off */
		wait = ch->backoff;
		ch->backoff *= 2;
		if (ch->backoff > CHAN_BACKOFF_MAX_MS)
			ch->backoff = CHAN_BACKOFF_MAX_MS;
	}
	if ((!was_up || ch->silent) && ch->nserv > 1)
		chan_pick(ch, (ch->cur + 1) % ch->nserv);
	ch->silent = false;
	wait = chan_jitter(wait);
	ch->next_attempt = now + wait;
	log_info("chan: next attempt in %llu ms server=%s",
		 (unsigned long long)wait, ch->server);
	if (was_up)
		ch->ops.link(ch->arg, false);
}

static void chan_start(struct chan *ch, uint64_t now)
{
	const char *why;
	int fd;

	ch->reconnects++;
	ch->stage = CHAN_CONNECTING;
	ch->stage_deadline = now + CHAN_SETUP_MS;
	fd = chan_tcp_connect(ch->host, ch->port, &why);
	if (fd < 0) {
		chan_down(ch, why ? why : "connect", why ? 0 : fd);
		return;
	}
	ch->sock = fd;
	ch->epmask = 0;
	chan_rearm(ch);
}

struct ctlmsg *chan_msg(struct chan *ch, uint8_t type)
{
	ctlmsg_init(&ch->out, type);
	return &ch->out;
}

void chan_set_iface(struct chan *ch, const char *ifname)
{
	snprintf(ch->iface, sizeof(ch->iface), "%s", ifname ? ifname : "");
}

void chan_set_reflexive(struct chan *ch, const struct ctlmsg_endpoint *ep)
{
	if (ep)
		ch->refl = *ep;
	else
		memset(&ch->refl, 0, sizeof(ch->refl));
}

int chan_server_addr(const struct chan *ch, uint32_t *ip, uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	if (ch->stage != CHAN_UP || !ch->tc ||
	    getpeername(tlsconn_fd(ch->tc), (struct sockaddr *)&sa, &sl) ||
	    sa.sin_family != AF_INET)
		return -ENOTCONN;
	*ip = sa.sin_addr.s_addr;
	*port = ntohs(sa.sin_port);
	return 0;
}

/* The discovered endpoint, then the IPv4 addresses of the underlay
 * interface with our UDP port, in the kernel's order (the primary address
 * first). Returns how many. */
static uint32_t chan_local_endpoints(const struct chan *ch,
				     struct ctlmsg_endpoint *eps)
{
	struct ifaddrs *ifa, *i;
	uint32_t n = 0;

	if (!ch->iface[0] || getifaddrs(&ifa) < 0)
		return 0;
	/* discovered (server-reflexive) first: behind a NAT the one that
	 * works from outside; equal to a local one without a NAT */
	if (ch->refl.port) {
		eps[n++] = ch->refl;
	}
	for (i = ifa; i && n < CTLMSG_ENDPOINTS_MAX; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, ch->iface))
			continue;
		memset(&eps[n], 0, sizeof(eps[n]));
		eps[n].family = AF_INET;
		eps[n].port = ch->udp_port;
		eps[n].v4 = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		if (ch->refl.port && eps[n].v4 == ch->refl.v4 &&
		    eps[n].port == ch->refl.port)
			continue;	/* no NAT: listed once */
		n++;
	}
	freeifaddrs(ifa);
	return n;
}

/* HELLO with our candidate endpoints; sent again, once UP, when they
 * change (the server keeps them for the next grants). */
static int chan_send_hello(struct chan *ch)
{
	struct ctlmsg *m = chan_msg(ch, CTLMSG_HELLO);
	uint32_t i;

	m->udp_port = ch->udp_port;
	m->present = CTLA_BIT(CTLA_UDP_PORT);
	ch->n_eps = chan_local_endpoints(ch, ch->eps);
	for (i = 0; i < ch->n_eps; i++)
		ctlmsg_add_endpoint(m, &ch->eps[i]);
	return tlsconn_send(ch->tc, m);
}

/* Re-read the underlay's addresses; a change goes to the server. */
static void chan_check_endpoints(struct chan *ch, uint64_t now)
{
	struct ctlmsg_endpoint eps[CTLMSG_ENDPOINTS_MAX];
	uint32_t n;

	if (now - ch->eps_checked < CHAN_EP_CHECK_MS)
		return;
	ch->eps_checked = now;
	n = chan_local_endpoints(ch, eps);
	if (n == ch->n_eps && !memcmp(eps, ch->eps, n * sizeof(eps[0])))
		return;
	log_info("chan: underlay addresses changed n=%u, telling the server",
		 n);
	if (chan_send_hello(ch) < 0)
		chan_down(ch, "sending HELLO", -EIO);
}

/* CONNECTING -> HANDSHAKE once the TCP connect finished. */
static int chan_step_connect(struct chan *ch)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(ch->sock, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -errno;
	if (soerr == EINPROGRESS || soerr == EALREADY)
		return 0;
	if (soerr)
		return -soerr;
	/* A connect still in flight shows as ENOTCONN from getpeername. */
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getpeername(ch->sock, (struct sockaddr *)&ss, &sl) < 0)
			return errno == ENOTCONN ? 0 : -errno;
	}
	ch->tc = tlsconn_new(ch->ctx, ch->sock, false);
	ch->sock = -1;			/* owned (or closed) by tlsconn now */
	if (!ch->tc)
		return -ENOMEM;
	ch->stage = CHAN_HANDSHAKE;
	return 1;
}

static void chan_handle(struct chan *ch, struct ctlmsg *m)
{
	char ip[INET_ADDRSTRLEN];

	if (m->type == CTLMSG_ERROR) {
		log_err("chan: server error: %s", m->reason);
		chan_down(ch, "server sent ERROR", 0);
		return;
	}
	if (ch->stage == CHAN_HELLO) {
		if (m->type != CTLMSG_HELLO_ACK) {
			chan_down(ch, "expected HELLO_ACK", -EPROTO);
			return;
		}
		inet_ntop(AF_INET, &m->overlay_ip, ip, sizeof(ip));
		if (strcmp(m->name, ch->st->name) ||
		    m->overlay_ip != ch->st->overlay_ip)
			log_warn("chan: server knows us as name=%s overlay_ip=%s, state says name=%s",
				 m->name, ip, ch->st->name);
		ch->stage = CHAN_UP;
		ch->up_since = mono_ms();
		ch->last_ping = ch->up_since;
		ch->backoff = CHAN_BACKOFF_MIN_MS;
		ch->fails = 0;
		log_info("chan: connected server=%s name=%s overlay_ip=%s/%u",
			 ch->server, m->name, ip, m->overlay_plen);
		/* vpnd wants what else it carries (routes) before the
		 * link callback sends the waiting key requests. */
		ch->ops.msg(ch->arg, m);
		ch->ops.link(ch->arg, true);
		return;
	}
	if (m->type == CTLMSG_PONG)
		return;
	if (m->type == CTLMSG_PING) {
		uint32_t id = m->req_id;

		ctlmsg_init(m, CTLMSG_PONG);
		m->req_id = id;
		m->present = CTLA_BIT(CTLA_REQ_ID);
		chan_send(ch, m);
		return;
	}
	ch->ops.msg(ch->arg, m);
}

void chan_process(struct chan *ch)
{
	struct epoll_event evs[4];
	int ret, rd_err;

	/* Drain the inner set; the work below does not depend on which. */
	epoll_wait(ch->epfd, evs, 4, 0);
	if (ch->stage == CHAN_DOWN)
		return;

	if (ch->stage == CHAN_CONNECTING) {
		ret = chan_step_connect(ch);
		if (ret < 0) {
			chan_down(ch, "TCP connect", ret);
			return;
		}
		if (ret == 0)
			return;
	}
	if (ch->stage == CHAN_HANDSHAKE) {
		ret = tlsconn_handshake(ch->tc);
		if (ret < 0) {
			chan_down(ch, "TLS handshake (certificate refused?)",
				  ret);
			return;
		}
		if (ret == 0) {
			chan_rearm(ch);
			return;
		}
		ch->stage = CHAN_HELLO;
		ch->last_rx = mono_ms();
		ret = chan_send_hello(ch);
		if (ret < 0) {
			chan_down(ch, "send HELLO", ret);
			return;
		}
	}
	/* Messages read before an error (an ERROR then the close) are
	 * still handled, then the error ends the link. */
	rd_err = tlsconn_read(ch->tc);
	for (;;) {
		ret = tlsconn_next(ch->tc, &ch->msg);
		if (ret == 0)
			break;
		if (ret < 0) {
			chan_down(ch, "malformed message", ret);
			return;
		}
		ch->last_rx = mono_ms();
		chan_handle(ch, &ch->msg);
		ctlmsg_wipe(&ch->msg);
		if (ch->stage == CHAN_DOWN)
			return;
	}
	if (rd_err < 0) {
		chan_down(ch, rd_err == -ECONNRESET ?
			  "server closed the connection" : "TLS read", rd_err);
		return;
	}
	ret = tlsconn_flush(ch->tc);
	if (ret < 0) {
		chan_down(ch, "TLS write", ret);
		return;
	}
	chan_rearm(ch);
}

void chan_tick(struct chan *ch, uint64_t now)
{
	switch (ch->stage) {
	case CHAN_DOWN:
		if (now >= ch->next_attempt)
			chan_start(ch, now);
		break;
	case CHAN_CONNECTING:
	case CHAN_HANDSHAKE:
	case CHAN_HELLO:
		if (now >= ch->stage_deadline)
			chan_down(ch, "timed out", -ETIMEDOUT);
		break;
	case CHAN_UP:
		if (now - ch->last_rx >= ch->dead_ms) {
			ch->silent = true;
			chan_down(ch, "no answer to PINGs", -ETIMEDOUT);
			break;
		}
		chan_check_endpoints(ch, now);
		if (ch->stage != CHAN_UP)
			break;
		if (now - ch->last_ping >= ch->ping_ms) {
			struct ctlmsg *m = chan_msg(ch, CTLMSG_PING);

			ch->last_ping = now;
			m->req_id = ++ch->ping_id;
			m->present = CTLA_BIT(CTLA_REQ_ID);
			chan_send(ch, m);
		}
		break;
	}
}

int chan_send(struct chan *ch, const struct ctlmsg *m)
{
	int ret;

	if (ch->stage != CHAN_UP)
		return -ENOTCONN;
	ret = tlsconn_send(ch->tc, m);
	if (ret < 0) {
		chan_down(ch, "send", ret);
		return ret;
	}
	chan_rearm(ch);
	return 0;
}

bool chan_up(const struct chan *ch)
{
	return ch->stage == CHAN_UP;
}

uint64_t chan_up_since(const struct chan *ch)
{
	return ch->up_since;
}

unsigned int chan_reconnects(const struct chan *ch)
{
	return ch->reconnects;
}

int chan_fd(const struct chan *ch)
{
	return ch->epfd;
}

void chan_free(struct chan *ch)
{
	if (!ch)
		return;
	if (ch->tc)
		tlsconn_free(ch->tc);
	else if (ch->sock >= 0)
		close(ch->sock);
	close(ch->epfd);
	SSL_CTX_free(ch->ctx);
	ctlmsg_wipe(&ch->msg);
	ctlmsg_wipe(&ch->out);
	free(ch);
}
