// SPDX-License-Identifier: GPL-2.0-only
/*
 * Endpoint discovery responder (disco.h): one non-blocking UDP socket in
 * the server's epoll set, sessions by probe id in a hash table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "disco.h"
#include "metrics.h"
#include "mavpn/log.h"
#include "mavpn/probe.h"
#include "mavpn/util.h"
#include "server.h"
#include "session.h"

static unsigned int disco_hash(uint32_t id)
{
	return (id * 2654435761u) >> 18;
}
_Static_assert(SESSION_ONLINE_BUCKETS == 1 << 14, "probe id hash width");

static struct session *disco_find(struct server *srv, uint32_t id)
{
	struct session *s;

	for (s = srv->by_probe[disco_hash(id)]; s; s = s->probe_next)
		if (s->probe_id == id)
			return s;
	return NULL;
}

int disco_open(struct server *srv, const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	srv->ufd = fd;
	return 0;
}

int disco_session_start(struct server *srv, struct session *s,
			struct ctlmsg *ack)
{
	uint8_t key[AEAD_KEY_LEN];
	uint32_t id;
	int tries;

	disco_session_end(srv, s);
	for (tries = 0; tries < 8; tries++) {
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			return -EIO;
		if (id && !disco_find(srv, id))
			break;
	}
	if (tries == 8 || RAND_bytes(key, sizeof(key)) != 1)
		return -EIO;
	s->probe = aead_new(key);
	if (!s->probe) {
		aead_wipe(key, sizeof(key));
		return -ENOMEM;
	}
	s->probe_id = id;
	s->probe_ctr = 0;
	memset(&s->probe_rate, 0, sizeof(s->probe_rate));
	memset(&s->relay_rate, 0, sizeof(s->relay_rate));
	memset(&s->relay_win, 0, sizeof(s->relay_win));
	s->udp_known = false;
	s->probe_next = srv->by_probe[disco_hash(id)];
	srv->by_probe[disco_hash(id)] = s;
	ack->probe_id = id;
	memcpy(ack->probe_key, key, sizeof(key));
	ack->present |= CTLA_BIT(CTLA_PROBE_ID) | CTLA_BIT(CTLA_PROBE_KEY);
	aead_wipe(key, sizeof(key));
	return 0;
}

void disco_session_end(struct server *srv, struct session *s)
{
	struct session **pp;

	if (!s->probe)
		return;
	for (pp = &srv->by_probe[disco_hash(s->probe_id)]; *pp;
	     pp = &(*pp)->probe_next) {
		if (*pp == s) {
			*pp = s->probe_next;
			break;
		}
	}
	aead_free(s->probe);
	s->probe = NULL;
	s->probe_id = 0;
}

/* One datagram: the answer's length in @out, or 0 (nothing to send). */
static size_t disco_answer(struct server *srv, const uint8_t *in, size_t len,
			   const struct sockaddr_in *from,
			   uint8_t out[PROBE_DISCO_LEN], uint64_t now)
{
	uint8_t body[PROBE_DISCO_BODY];
	struct probe_disco h;
	struct session *s;

	if (!keyrate_take(&srv->disco_rate, DISCO_RATE_ALL, now)) {
		metrics_count(srv->metrics, METRICS_CNT_DISCO_LIMITED);
		return 0;
	}
	if (probe_disco_peek(in, len, &h) || h.type != MAVPN_MSG_DISCO_REQ ||
	    !(s = disco_find(srv, h.id)) || s->dead ||
	    probe_disco_open(s->probe, in, len, body) ||
	    h.counter <= s->probe_ctr) {
		metrics_count(srv->metrics, METRICS_CNT_DISCO_REFUSED);
		if (log_ratelimited(&srv->disco_log_rl))
			log_info("discovery request refused from=%s:%u len=%zu",
				 inet_ntoa(from->sin_addr),
				 ntohs(from->sin_port), len);
		return 0;
	}
	/* Authentic and new: the counter is used up even when limited. */
	s->probe_ctr = h.counter;
	s->udp_src = *from;
	s->udp_known = true;
	if (!keyrate_take(&s->probe_rate, DISCO_RATE, now)) {
		metrics_count(srv->metrics, METRICS_CNT_DISCO_LIMITED);
		return 0;
	}
	h.type = MAVPN_MSG_DISCO_RESP;
	probe_ep_put(body, from->sin_addr.s_addr, ntohs(from->sin_port));
	if (probe_disco_seal(s->probe, &h, body, out) != PROBE_DISCO_LEN)
		return 0;
	metrics_count(srv->metrics, METRICS_CNT_DISCO_ANSWERED);
	log_debug("discovery answered host=%s endpoint=%s:%u", s->name,
		  inet_ntoa(from->sin_addr), ntohs(from->sin_port));
	return PROBE_DISCO_LEN;
}

/* One RELAY: forward it, or count why not. */
static void relay_forward(struct server *srv, const uint8_t *in, size_t len,
			  const struct sockaddr_in *from, uint64_t now)
{
	uint8_t out[PROBE_RELAYED_HDR + PROBE_RELAY_MAX];
	struct probe_relay r;
	struct session *s, *d;

	if (!keyrate_take(&srv->relay_rate, RELAY_RATE_ALL, now)) {
		metrics_count(srv->metrics, METRICS_CNT_RELAY_LIMITED);
		return;
	}
	if (probe_relay_peek(in, len, &r) || !(s = disco_find(srv, r.id)) ||
	    s->dead || probe_relay_verify(s->probe, in, len) ||
	    !replay_accept(&s->relay_win, r.counter)) {
		metrics_count(srv->metrics, METRICS_CNT_RELAY_REFUSED);
		return;
	}
	s->udp_src = *from;
	s->udp_known = true;
	if (!keyrate_take(&s->relay_rate, RELAY_RATE, now)) {
		metrics_count(srv->metrics, METRICS_CNT_RELAY_LIMITED);
		return;
	}
	d = session_find_online_ip(srv, r.dst);
	if (!d || d == s || d->dead || !d->probe || !d->udp_known) {
		metrics_count(srv->metrics, METRICS_CNT_RELAY_REFUSED);
		return;
	}
	probe_relayed_hdr(out, s->overlay_ip);
	memcpy(out + PROBE_RELAYED_HDR, r.inner, r.inner_len);
	/* PROBE_RELAYED_HDR + inner < the RELAY's length: no amplification */
	if (sendto(srv->ufd, out, PROBE_RELAYED_HDR + r.inner_len, MSG_DONTWAIT,
		   (struct sockaddr *)&d->udp_src, sizeof(d->udp_src)) > 0)
		metrics_count(srv->metrics, METRICS_CNT_RELAY_FORWARDED);
}

void disco_process(struct server *srv)
{
	uint8_t in[PROBE_RELAY_HDR + PROBE_RELAY_MAX + AEAD_TAG_LEN + 1];
	uint8_t out[PROBE_DISCO_LEN];
	uint64_t now = mono_ms();
	int i;

	/* a bounded batch per loop pass: TCP sessions get their turn */
	for (i = 0; i < 64; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(srv->ufd, in, sizeof(in), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		size_t alen;

		if (n < 0)
			break;
		if (fl != sizeof(from) || from.sin_family != AF_INET)
			continue;
		if (n > 0 && in[0] == MAVPN_MSG_RELAY) {
			relay_forward(srv, in, (size_t)n, &from, now);
			continue;
		}
		alen = disco_answer(srv, in, (size_t)n, &from, out, now);
		/* never more than what came in: no amplification */
		if (alen && alen <= (size_t)n)
			sendto(srv->ufd, out, alen, MSG_DONTWAIT,
			       (struct sockaddr *)&from, sizeof(from));
	}
}
