/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vpnd's control channel to authsrv: TCP + TLS 1.3 (tlsconn) with our
 * certificate, HELLO/HELLO_ACK, keepalive PINGs, and reconnection with
 * exponential backoff. Everything is non-blocking and driven by vpnd's
 * event loop through one stable fd (an inner epoll set), so the loop does
 * not care that the socket changes on every reconnect.
 */
#ifndef MAVPN_CTL_VPND_CHAN_H
#define MAVPN_CTL_VPND_CHAN_H

#include <stdbool.h>
#include <stdint.h>

#include "mavpn/ctlmsg.h"
#include "state.h"

#define CHAN_BACKOFF_MIN_MS	1000
#define CHAN_BACKOFF_MAX_MS	30000
#define CHAN_FAILOVER_MS	300	/* to the next server of the list */
#define CHAN_PING_MS		15000
#define CHAN_EP_CHECK_MS	1000	/* re-read the underlay addresses */
/* Nothing heard for this long (3 missed PONGs): the link is dead. */
#define CHAN_DEAD_MS		45000
/* TCP connect + TLS handshake + HELLO_ACK must fit in this. */
#define CHAN_SETUP_MS		10000
/* With several servers (replicas), a silent one must be left within
 * seconds: PING more often, give up sooner, and move on (not the same
 * server again) when a link went silent. (Setting a link up keeps
 * CHAN_SETUP_MS: a server busy with a reconnect storm is slow, not dead,
 * and a shorter bound would send its hosts on to the next one.) */
#define CHAN_PING_LIST_MS	2000
#define CHAN_DEAD_LIST_MS	5000

struct chan;

struct chan_ops {
	/* Every message received once the channel is up (not PONG), and
	 * the HELLO_ACK that brings it up. */
	void (*msg)(void *arg, struct ctlmsg *m);
	/* The channel went up (true) or down (false). */
	void (*link)(void *arg, bool up);
};

/* NULL with errno set (logged). */
struct chan *chan_new(const struct vpnd_state *st, uint16_t udp_port,
		      const struct chan_ops *ops, void *arg);
void chan_free(struct chan *ch);		/* accepts NULL */
/* The underlay interface whose addresses HELLO reports as candidates. */
void chan_set_iface(struct chan *ch, const char *ifname);
/* One more candidate, our data port as the server sees it (discovery);
 * NULL: none. A change is sent with the next endpoint check. */
void chan_set_reflexive(struct chan *ch, const struct ctlmsg_endpoint *ep);
/* The server's address and port of the connection that is up: 0 or
 * -ENOTCONN. Its UDP port answers discovery (network order ip, host
 * order port). */
int chan_server_addr(const struct chan *ch, uint32_t *ip, uint16_t *port);

int chan_fd(const struct chan *ch);		/* epoll it for EPOLLIN */
void chan_process(struct chan *ch);		/* after chan_fd fired */
/* Timers: connect when due, ping, detect a dead link. @now_ms monotonic. */
void chan_tick(struct chan *ch, uint64_t now_ms);

bool chan_up(const struct chan *ch);
/* When the link came up (monotonic ms), 0 if down. */
uint64_t chan_up_since(const struct chan *ch);
unsigned int chan_reconnects(const struct chan *ch);
/* The server (HOST:PORT) connected to, or tried next. */
const char *chan_server(const struct chan *ch);
/*
 * An empty message of @type to fill in and chan_send(): the channel's own
 * outgoing buffer (a ctlmsg is too big for the stack), valid until the
 * next chan_msg().
 */
struct ctlmsg *chan_msg(struct chan *ch, uint8_t type);
/* 0, -ENOTCONN if the channel is not up, -errno (the link is dropped). */
int chan_send(struct chan *ch, const struct ctlmsg *m);

/*
 * Start a non-blocking TCP connect to @host:@port. Returns the socket fd
 * (connected or EINPROGRESS) or -errno; -EHOSTUNREACH if the name does not
 * resolve (@why gets gai_strerror then).
 */
int chan_tcp_connect(const char *host, const char *port, const char **why);

#endif /* MAVPN_CTL_VPND_CHAN_H */
