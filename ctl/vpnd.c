// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd: the per-host daemon.
 *
 *   vpnd enroll --state DIR --server HOST:PORT --token TOKEN
 *   vpnd run    --state DIR --iface IFACE [--sock PATH] [--workers N]
 *               [--port UDP_PORT]
 *
 * run is one thread of control around one epoll set: the control channel
 * (chan.c), the socket shim's ring buffer (shim.c), the data plane's "need a
 * key" eventfd, the local control socket (ctlsock.c), a 250 ms timer and a
 * signalfd. The AF_XDP workers are the data plane's own threads.
 *
 * Key requests: a destination D gets at most one KEY_REQ in flight. The
 * table below remembers D while the request is out (or while the channel
 * is down and it waits to be sent), and for a few seconds after a DENY so
 * a busy app cannot make us hammer the server with requests it refuses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/magic.h>

#include "mavpn/aead.h"
#include "mavpn/ctlsock.h"
#include "mavpn/datapath.h"
#include "mavpn/jsonw.h"
#include "mavpn/log.h"
#include "mavpn/promhttp.h"
#include "mavpn/wire.h"
#include "vpnd_chan.h"
#include "vpnd_enroll.h"
#include "vpnd_flowlog.h"
#include "vpnd_route.h"
#include "vpnd_metrics.h"
#include "vpnd_shim.h"
#include "vpnd_state.h"

#define VPND_OVERLAY_IFNAME	"mavpn0"
#define VPND_BPFFS		"/sys/fs/bpf"
#define VPND_TICK_MS		250
#define VPND_MAX_FLOWS		512
/* A KEY_REQ without an answer is given up after this. */
#define VPND_KEY_REQ_MS		10000
/* After a DENY, no new request for the same destination for this long. */
#define VPND_DENY_HOLD_MS	5000
#define VPND_RESOLVE_MS		3000
#define VPND_MAX_RESOLVES	32
#define VPND_MAX_PEERS		1024
#define VPND_WORKERS_MAX	16	/* DP_WORKERS_MAX */
/* In --state: the cgroups attached, re-attached on the next start. */
#define VPND_ATTACHED_FILE	"attached"

enum { EV_CHAN = 1, EV_SHIM, EV_DPREQ, EV_CTLSOCK, EV_TIMER, EV_SIGNAL,
       EV_METRICS };

enum flow_state {
	FLOW_FREE = 0,
	FLOW_WAITING,		/* wants a key; channel down, not sent yet */
	FLOW_REQUESTED,		/* KEY_REQ sent, req_id set */
	FLOW_DENIED,		/* hold-down after a DENY */
};

struct flow {
	enum flow_state state;
	uint32_t dst;		/* network order */
	uint32_t req_id;
	uint64_t until;		/* give up / hold-down end (ms) */
	uint16_t dport;		/* of the flow that asked, 0 = unknown */
	uint8_t proto;
	char app[CTLMSG_APP_MAX];
};

/*
 * Key renewal (make-before-break): for each key we requested, ask for the
 * next one at VPND_RENEW_PCT of its lifetime if the peer saw traffic since
 * the last grant; an idle key is left to expire (the next packet asks
 * again). The data plane keeps the old key for receive until the new one
 * is in use on both ends.
 */
#define VPND_RENEW_PCT		80

struct renew {
	uint32_t dst;		/* network order; 0 = free */
	uint64_t at;		/* ms; UINT64_MAX: renewal in flight */
	uint64_t pkts;		/* tx+rx packets when last granted */
	uint16_t dport;
	uint8_t proto;
	char app[CTLMSG_APP_MAX];
};

struct resolve {
	struct ctlsock_req *req;	/* NULL: slot free */
	uint32_t req_id;
	uint64_t until;
	char name[CTLMSG_NAME_MAX];
};

struct vpnd_opts {
	const char *state_dir;
	const char *iface;
	const char *sock_path;
	int workers;
	uint16_t port;
	const char *metrics;		/* --metrics ADDR:PORT, NULL: off */
};

struct vpnd {
	const struct vpnd_opts *o;
	struct vpnd_state st;
	uint32_t net, mask;		/* overlay prefix, network order */
	struct datapath *dp;
	struct shim *shim;
	struct flowlog *fl;
	struct gw *gw;			/* gateway routes */
	char attached_file[PATH_MAX];
	struct ctlsock *cs;
	struct promhttp *metrics;	/* NULL unless --metrics */
	struct chan *ch;
	int epfd, tfd, sfd;
	bool stop;
	uint32_t next_req_id;
	struct flow flows[VPND_MAX_FLOWS];
	struct renew renews[VPND_MAX_FLOWS];
	struct resolve resolves[VPND_MAX_RESOLVES];
	struct {
		uint64_t key_requests, key_granted, key_pushed, key_denied;
		uint64_t key_install_failed, key_req_timeouts, flows_dropped;
		uint64_t key_renewals, key_revoked;
		uint64_t shim_events, dp_requests;
	} cnt;
	struct ctlmsg msg;		/* outgoing; big, kept off the stack */
	struct dp_peer_stats peers[VPND_MAX_PEERS];
};

static const char *ip4(uint32_t a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- key requests ------------------------------------------------------ */

static struct flow *flow_find(struct vpnd *v, uint32_t dst)
{
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++)
		if (v->flows[i].state != FLOW_FREE && v->flows[i].dst == dst)
			return &v->flows[i];
	return NULL;
}

static struct flow *flow_by_req(struct vpnd *v, uint32_t req_id)
{
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++)
		if (v->flows[i].state == FLOW_REQUESTED &&
		    v->flows[i].req_id == req_id)
			return &v->flows[i];
	return NULL;
}

static void flow_send(struct vpnd *v, struct flow *f, uint64_t now)
{
	char ip[INET_ADDRSTRLEN];
	int ret;

	ctlmsg_init(&v->msg, CTLMSG_KEY_REQ);
	v->msg.req_id = ++v->next_req_id;
	v->msg.overlay_ip = f->dst;
	v->msg.present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_OVERLAY_IP);
	if (f->app[0]) {
		snprintf(v->msg.app, sizeof(v->msg.app), "%s", f->app);
		v->msg.present |= CTLA_BIT(CTLA_APP);
	}
	/* Policy may allow only some ports: say which flow asks. */
	if (f->proto) {
		v->msg.proto = f->proto;
		v->msg.present |= CTLA_BIT(CTLA_PROTO);
	}
	if (f->dport) {
		v->msg.dst_port = f->dport;
		v->msg.present |= CTLA_BIT(CTLA_DST_PORT);
	}
	ret = chan_send(v->ch, &v->msg);
	if (ret < 0) {
		f->state = FLOW_WAITING;	/* sent when the link is back */
		return;
	}
	f->state = FLOW_REQUESTED;
	f->req_id = v->msg.req_id;
	f->until = now + VPND_KEY_REQ_MS;
	v->cnt.key_requests++;
	log_info("key: request req_id=%u dst=%s app=\"%s\"", f->req_id,
		 ip4(f->dst, ip), f->app);
}

/* A flow towards @dst started (shim) or a packet waits for it (datapath);
 * @renew: the key is still live but due for renewal. */
static void flow_trigger(struct vpnd *v, uint32_t dst, const char *app,
			 uint16_t dport, uint8_t proto, bool renew)
{
	static unsigned long rl;
	uint64_t now = chan_now_ms();
	struct flow *f = NULL;
	int i;

	/* A LAN address whose gateway we do not know yet: the server maps
	 * it to the gateway and the grant teaches us the route. */
	if (((dst & v->mask) != v->net && !gw_is_remote(v->gw, dst)) ||
	    dst == v->st.overlay_ip)
		return;
	if (flow_find(v, dst) || (!renew && datapath_has_key(v->dp, dst)))
		return;
	for (i = 0; i < VPND_MAX_FLOWS && !f; i++)
		if (v->flows[i].state == FLOW_FREE)
			f = &v->flows[i];
	if (!f) {
		v->cnt.flows_dropped++;
		if (log_ratelimited(&rl))
			log_warn("key: too many destinations waiting for a key");
		return;
	}
	f->dst = dst;
	f->req_id = 0;
	f->until = now + VPND_KEY_REQ_MS;
	f->dport = dport;
	f->proto = proto;
	snprintf(f->app, sizeof(f->app), "%s", app ? app : "");
	f->state = FLOW_WAITING;
	if (chan_up(v->ch))
		flow_send(v, f, now);
}

static void flow_expire(struct vpnd *v, uint64_t now)
{
	char ip[INET_ADDRSTRLEN];
	struct flow *f;
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++) {
		f = &v->flows[i];
		if (f->state == FLOW_FREE || now < f->until)
			continue;
		if (f->state != FLOW_DENIED) {
			/* Drop what the data plane holds so that the next
			 * packet triggers a fresh request. */
			log_warn("key: no answer for dst=%s state=%s",
				 ip4(f->dst, ip), f->state == FLOW_WAITING ?
				 "not connected" : "requested");
			v->cnt.key_req_timeouts++;
			flowlog_settle(v->fl, f->dst, FLOWLOG_DENIED);
			datapath_key_refused(v->dp, f->dst);
		}
		f->state = FLOW_FREE;
	}
}

static void key_from_msg(struct dp_key *k, const struct ctlmsg *m,
			 int initiator)
{
	memset(k, 0, sizeof(*k));
	k->key_id = m->key_id;
	memcpy(k->secret, m->key, sizeof(k->secret));
	k->initiator = initiator;
	k->lifetime = m->lifetime;
	snprintf(k->peer_name, sizeof(k->peer_name), "%s", m->name);
	k->peer_overlay_ip = m->overlay_ip;
	k->peer_underlay_ip = m->underlay_ip;
	k->peer_port = m->udp_port;
	k->max_packets = (m->present & CTLA_BIT(CTLA_MAX_PACKETS)) ?
			 m->max_packets : 0;
}

static int key_install(struct vpnd *v, const struct ctlmsg *m, int initiator)
{
	char ip[INET_ADDRSTRLEN], uip[INET_ADDRSTRLEN];
	struct dp_key k;
	int ret;

	key_from_msg(&k, m, initiator);
	ret = datapath_install_key(v->dp, &k);
	aead_wipe(&k, sizeof(k));
	if (ret < 0) {
		v->cnt.key_install_failed++;
		log_err("key: install failed key_id=%u peer=%s: %s", m->key_id,
			m->name, strerror(-ret));
		return ret;
	}
	log_info("key: installed key_id=%u peer=%s overlay_ip=%s underlay=%s:%u role=%s lifetime=%u",
		 m->key_id, m->name, ip4(m->overlay_ip, ip),
		 ip4(m->underlay_ip, uip), m->udp_port,
		 initiator ? "initiator" : "responder", m->lifetime);
	return 0;
}

/* ---- key renewal and revocation ---------------------------------------- */

/* Packets both ways with @dst so far; 0 if it has no key. */
static uint64_t peer_activity(struct vpnd *v, uint32_t dst)
{
	int i, n = datapath_peer_stats(v->dp, v->peers, VPND_MAX_PEERS);

	for (i = 0; i < n; i++)
		if (v->peers[i].overlay_ip == dst)
			return v->peers[i].tx_packets + v->peers[i].rx_packets;
	return 0;
}

static struct renew *renew_find(struct vpnd *v, uint32_t dst, bool create)
{
	struct renew *free_slot = NULL;
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++) {
		if (v->renews[i].dst == dst)
			return &v->renews[i];
		if (!v->renews[i].dst && !free_slot)
			free_slot = &v->renews[i];
	}
	if (create && free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->dst = dst;
	}
	return create ? free_slot : NULL;
}

/* We installed a key we asked for (@f: the request, if still known). */
static void renew_schedule(struct vpnd *v, const struct ctlmsg *m,
			   const struct flow *f)
{
	struct renew *r = renew_find(v, m->overlay_ip, true);

	if (!r || !m->lifetime)
		return;
	r->at = chan_now_ms() + (uint64_t)m->lifetime * 10 * VPND_RENEW_PCT;
	r->pkts = peer_activity(v, m->overlay_ip);
	if (f) {
		r->dport = f->dport;
		r->proto = f->proto;
		snprintf(r->app, sizeof(r->app), "%s", f->app);
	}
}

static void renew_tick(struct vpnd *v, uint64_t now)
{
	char ip[INET_ADDRSTRLEN];
	struct renew *r;
	uint64_t pkts;
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++) {
		r = &v->renews[i];
		if (!r->dst || now < r->at)
			continue;
		pkts = peer_activity(v, r->dst);
		if (pkts == r->pkts || !chan_up(v->ch)) {
			r->dst = 0;	/* idle (or no server): let it expire */
			continue;
		}
		r->at = UINT64_MAX;	/* until the grant reschedules it */
		v->cnt.key_renewals++;
		log_info("key: renewing dst=%s", ip4(r->dst, ip));
		flow_trigger(v, r->dst, r->app, r->dport, r->proto, true);
	}
}

/* The server revoked host @m->name: forget every key with it, now. */
static void key_revoked(struct vpnd *v, const struct ctlmsg *m)
{
	char ip[INET_ADDRSTRLEN];
	struct renew *r;
	struct flow *f;
	int ret;

	v->cnt.key_revoked++;
	ret = datapath_remove_peer(v->dp, m->overlay_ip);
	r = renew_find(v, m->overlay_ip, false);
	if (r)
		r->dst = 0;
	f = flow_find(v, m->overlay_ip);
	if (f)
		f->state = FLOW_FREE;
	log_warn("key: peer revoked by the server name=%s overlay_ip=%s keys=%s",
		 m->name, ip4(m->overlay_ip, ip),
		 ret == 0 ? "removed" : ret == -ENOENT ? "none" : strerror(-ret));
}

/* ---- control channel messages ------------------------------------------ */

static void reply_json(struct ctlsock_req *r, struct jsonw *j)
{
	if (j && jsonw_get(j)) {
		char *doc;

		if (asprintf(&doc, "%s\n", jsonw_get(j)) >= 0) {
			ctlsock_reply_ok(r, doc);
			free(doc);
			jsonw_free(j);
			return;
		}
	}
	ctlsock_reply_err(r, "out of memory");
	jsonw_free(j);
}

static void resolve_answer(struct vpnd *v, const struct ctlmsg *m)
{
	char ip[INET_ADDRSTRLEN], text[128];
	struct resolve *r = NULL;
	struct jsonw *j;
	int i;

	for (i = 0; i < VPND_MAX_RESOLVES; i++)
		if (v->resolves[i].req && v->resolves[i].req_id == m->req_id)
			r = &v->resolves[i];
	if (!r)
		return;			/* answered late: already timed out */
	if (!(m->present & CTLA_BIT(CTLA_OVERLAY_IP))) {
		ctlsock_reply_err(r->req, "cannot resolve \"%s\": %s", r->name,
				  m->reason[0] ? m->reason : "unknown name");
	} else if (ctlsock_req_json(r->req)) {
		j = jsonw_new();
		if (j) {
			jsonw_obj_begin(j, NULL);
			jsonw_str(j, "name", r->name);
			jsonw_str(j, "overlay_ip", ip4(m->overlay_ip, ip));
			jsonw_obj_end(j);
		}
		reply_json(r->req, j);
	} else {
		snprintf(text, sizeof(text), "%s\n", ip4(m->overlay_ip, ip));
		ctlsock_reply_ok(r->req, text);
	}
	r->req = NULL;
}

static void on_chan_msg(void *arg, struct ctlmsg *m)
{
	struct vpnd *v = arg;
	char ip[INET_ADDRSTRLEN];
	struct flow *f;
	uint32_t key_id;
	int ret;

	switch (m->type) {
	case CTLMSG_KEY_GRANT:
		f = flow_by_req(v, m->req_id);
		if (f)
			f->state = FLOW_FREE;
		/* Routes first: held LAN packets flush with the key. */
		if (m->present & CTLA_BIT(CTLA_ROUTES))
			gw_learn(v->gw, m->overlay_ip, m->routes);
		if (!key_install(v, m, 1)) {
			renew_schedule(v, m, f);
			v->cnt.key_granted++;
			flowlog_settle(v->fl, m->overlay_ip, FLOWLOG_GRANTED);
			/* asked for a LAN address, granted its gateway */
			if (f && f->dst != m->overlay_ip)
				flowlog_settle(v->fl, f->dst, FLOWLOG_GRANTED);
		}
		break;
	case CTLMSG_KEY_PUSH:
		key_id = m->key_id;
		if (m->present & CTLA_BIT(CTLA_ROUTES))
			gw_learn(v->gw, m->overlay_ip, m->routes);
		/* The server grants to the initiator only after our ACK: ACK
		 * only what the data plane really holds. */
		if (key_install(v, m, 0))
			break;
		v->cnt.key_pushed++;
		ctlmsg_init(&v->msg, CTLMSG_KEY_PUSH_ACK);
		v->msg.key_id = key_id;
		v->msg.present = CTLA_BIT(CTLA_KEY_ID);
		chan_send(v->ch, &v->msg);
		break;
	case CTLMSG_HELLO_ACK:
		/* Gateway routes: ours, and the LANs behind other hosts. */
		ret = gw_hello(v->gw, (m->present & CTLA_BIT(CTLA_ROUTES)) ?
			       m->routes : NULL,
			       (m->present & CTLA_BIT(CTLA_NET_ROUTES)) ?
			       m->net_routes : NULL);
		if (ret)
			log_warn("gw: bad routes in HELLO_ACK: %s",
				 strerror(-ret));
		break;
	case CTLMSG_KEY_DENY:
		v->cnt.key_denied++;
		log_warn("key: denied req_id=%u dst=%s reason=\"%s\"",
			 m->req_id, ip4(m->overlay_ip, ip), m->reason);
		f = flow_by_req(v, m->req_id);
		if (!f)
			f = flow_find(v, m->overlay_ip);
		if (f) {
			f->state = FLOW_DENIED;
			f->until = chan_now_ms() + VPND_DENY_HOLD_MS;
			flowlog_settle(v->fl, f->dst, FLOWLOG_DENIED);
		}
		flowlog_settle(v->fl, m->overlay_ip, FLOWLOG_DENIED);
		datapath_key_refused(v->dp, m->overlay_ip);
		break;
	case CTLMSG_RESOLVE_RESP:
		resolve_answer(v, m);
		break;
	case CTLMSG_KEY_REVOKE:
		key_revoked(v, m);
		break;
	default:
		log_warn("chan: unexpected message type=%s",
			 ctlmsg_type_name(m->type));
		break;
	}
}

static void on_chan_link(void *arg, bool up)
{
	struct vpnd *v = arg;
	uint64_t now = chan_now_ms();
	int i;

	for (i = 0; i < VPND_MAX_FLOWS; i++) {
		struct flow *f = &v->flows[i];

		if (up && f->state == FLOW_WAITING)
			flow_send(v, f, now);
		else if (!up && f->state == FLOW_REQUESTED)
			f->state = FLOW_WAITING;	/* answer is lost */
	}
	if (up)
		return;
	for (i = 0; i < VPND_MAX_RESOLVES; i++) {
		if (!v->resolves[i].req)
			continue;
		ctlsock_reply_err(v->resolves[i].req,
				  "connection to the server lost");
		v->resolves[i].req = NULL;
	}
}

/* ---- flow sources ------------------------------------------------------ */

static void on_shim_event(void *arg, const struct shim_event *e)
{
	struct vpnd *v = arg;
	struct flowlog_entry fe = {
		.daddr = e->daddr, .dport = e->dport, .proto = e->proto,
		.hook = e->hook, .pid = e->pid,
	};
	uint32_t dst = e->daddr;

	v->cnt.shim_events++;
	/* A LAN behind a gateway: the key is the gateway's. */
	fe.via = gw_key_dst(v->gw, dst);
	if (fe.via)
		dst = fe.via;
	memcpy(fe.comm, e->comm, sizeof(fe.comm));
	shim_cgroup_path(v->shim, e->cgroup_id, fe.app, sizeof(fe.app));
	if (e->verdict == SHIM_VERDICT_BLOCKED) {
		fe.verdict = FLOWLOG_BLOCKED;
		flowlog_add(v->fl, &fe);
		return;
	}
	if (datapath_has_key(v->dp, dst))
		fe.verdict = FLOWLOG_PASS;
	else if (flow_find(v, dst))
		fe.verdict = FLOWLOG_PENDING;
	else
		fe.verdict = FLOWLOG_REQUESTED;
	flowlog_add(v->fl, &fe);
	if (fe.verdict == FLOWLOG_REQUESTED)
		flow_trigger(v, dst, fe.app, e->dport, e->proto, false);
}

static void dp_requests(struct vpnd *v)
{
	struct pollfd p = { .fd = datapath_request_fd(v->dp), .events = POLLIN };
	uint64_t cnt;
	uint32_t dst;

	/* Reset the eventfd before draining so no wakeup is lost. */
	if (poll(&p, 1, 0) == 1 && read(p.fd, &cnt, sizeof(cnt)) < 0 &&
	    errno != EAGAIN)
		log_warn("datapath: request fd read failed err=\"%s\"",
			 strerror(errno));
	while (datapath_next_request(v->dp, &dst) == 1) {
		struct flowlog_entry fe = { .daddr = dst };

		v->cnt.dp_requests++;
		if (flow_find(v, dst) || datapath_has_key(v->dp, dst))
			continue;
		fe.verdict = FLOWLOG_REQUESTED;
		flowlog_add(v->fl, &fe);
		flow_trigger(v, dst, NULL, 0, 0, false);
	}
}

/* ---- control socket ---------------------------------------------------- */

static void do_status(struct vpnd *v, struct ctlsock_req *r)
{
	uint64_t now = chan_now_ms(), up = chan_up_since(v->ch);
	char ip[INET_ADDRSTRLEN], *text = NULL;
	struct shim_counters sc;
	struct dp_stats ds;
	size_t tlen = 0;
	struct jsonw *j;
	const char *p;
	FILE *f;
	int i;

	memset(&ds, 0, sizeof(ds));
	datapath_stats(v->dp, &ds);
	shim_get_counters(v->shim, &sc);
	ip4(v->st.overlay_ip, ip);

	if (ctlsock_req_json(r)) {
		j = jsonw_new();
		if (!j)
			goto oom;
		jsonw_obj_begin(j, NULL);
		jsonw_obj_begin(j, "self");
		jsonw_str(j, "name", v->st.name);
		jsonw_str(j, "overlay_ip", ip);
		jsonw_u64(j, "overlay_plen", v->st.overlay_plen);
		jsonw_bool(j, "connected", chan_up(v->ch));
		jsonw_obj_end(j);
		jsonw_obj_begin(j, "server");
		jsonw_str(j, "address", v->st.server);
		jsonw_bool(j, "connected", chan_up(v->ch));
		jsonw_u64(j, "up_seconds", up ? (now - up) / 1000 : 0);
		jsonw_u64(j, "connect_attempts", chan_reconnects(v->ch));
		jsonw_obj_end(j);
		jsonw_obj_begin(j, "underlay");
		jsonw_str(j, "iface", v->o->iface);
		jsonw_u64(j, "port", v->o->port);
		jsonw_obj_end(j);
		jsonw_str(j, "overlay_iface", VPND_OVERLAY_IFNAME);
		jsonw_u64(j, "workers", ds.workers ? ds.workers : v->o->workers);
		jsonw_obj_begin(j, "dp_stats");
		jsonw_u64(j, "rx_frames_overlay", ds.rx_frames_overlay);
		jsonw_u64(j, "rx_frames_underlay", ds.rx_frames_underlay);
		jsonw_u64(j, "drop_malformed", ds.drop_malformed);
		jsonw_u64(j, "drop_unknown_key", ds.drop_unknown_key);
		jsonw_u64(j, "drop_no_key", ds.drop_no_key);
		jsonw_u64(j, "drop_tx_full", ds.drop_tx_full);
		jsonw_u64(j, "drop_expired", ds.drop_expired);
		jsonw_u64(j, "drop_auth", ds.drop_auth);
		jsonw_u64(j, "drop_replay", ds.drop_replay);
		jsonw_u64(j, "drop_pending", ds.drop_pending);
		jsonw_u64(j, "drop_too_big", ds.drop_too_big);
		jsonw_u64(j, "icmp_too_big", ds.icmp_too_big);
		jsonw_obj_end(j);
		jsonw_obj_begin(j, "keys");
		jsonw_u64(j, "requests_sent", v->cnt.key_requests);
		jsonw_u64(j, "granted", v->cnt.key_granted);
		jsonw_u64(j, "pushed", v->cnt.key_pushed);
		jsonw_u64(j, "denied", v->cnt.key_denied);
		jsonw_u64(j, "timeouts", v->cnt.key_req_timeouts);
		jsonw_u64(j, "install_failed", v->cnt.key_install_failed);
		jsonw_u64(j, "renewals", v->cnt.key_renewals);
		jsonw_u64(j, "revoked", v->cnt.key_revoked);
		jsonw_obj_end(j);
		jsonw_obj_begin(j, "shim");
		jsonw_u64(j, "seen", sc.seen);
		jsonw_u64(j, "events", sc.events);
		jsonw_u64(j, "dedup", sc.dedup);
		jsonw_u64(j, "drops", sc.drops);
		jsonw_u64(j, "blocked", sc.blocked);
		jsonw_u64(j, "blocked_packets", sc.blocked_pkt);
		jsonw_u64(j, "blocked_inbound", sc.blocked_in);
		jsonw_u64(j, "datapath_requests", v->cnt.dp_requests);
		jsonw_arr_begin(j, "attached");
		for (i = 0; (p = shim_attached(v->shim, i)); i++)
			jsonw_str(j, NULL, p);
		jsonw_arr_end(j);
		jsonw_obj_end(j);
		jsonw_obj_end(j);
		reply_json(r, j);
		return;
	}

	f = open_memstream(&text, &tlen);
	if (!f)
		goto oom;
	fprintf(f, "name:      %s\n", v->st.name);
	fprintf(f, "overlay:   %s/%u on %s\n", ip, v->st.overlay_plen,
		VPND_OVERLAY_IFNAME);
	if (chan_up(v->ch))
		fprintf(f, "server:    %s connected (up %" PRIu64 "s)\n",
			v->st.server, (now - up) / 1000);
	else
		fprintf(f, "server:    %s not connected (%u attempts)\n",
			v->st.server, chan_reconnects(v->ch));
	fprintf(f, "underlay:  %s udp port %u\n", v->o->iface, v->o->port);
	fprintf(f, "workers:   %d\n", ds.workers ? ds.workers : v->o->workers);
	fprintf(f, "keys:      %" PRIu64 " requested, %" PRIu64 " granted, %"
		PRIu64 " pushed, %" PRIu64 " denied, %" PRIu64 " timed out\n",
		v->cnt.key_requests, v->cnt.key_granted, v->cnt.key_pushed,
		v->cnt.key_denied, v->cnt.key_req_timeouts);
	fprintf(f, "datapath:  rx overlay %" PRIu64 ", rx underlay %" PRIu64
		", drops: malformed %" PRIu64 " unknown-key %" PRIu64
		" expired %" PRIu64 " auth %" PRIu64 " replay %" PRIu64
		" pending %" PRIu64 " no-key %" PRIu64 " tx-full %" PRIu64 "\n",
		ds.rx_frames_overlay, ds.rx_frames_underlay, ds.drop_malformed,
		ds.drop_unknown_key, ds.drop_expired, ds.drop_auth,
		ds.drop_replay, ds.drop_pending, ds.drop_no_key,
		ds.drop_tx_full);
	fprintf(f, "shim:      %" PRIu64 " events, %" PRIu64 " lost, %" PRIu64
		" connects/sends blocked, %" PRIu64 " packets blocked, %" PRIu64
		" inbound not via %s blocked\n", sc.events, sc.drops,
		sc.blocked, sc.blocked_pkt, sc.blocked_in, VPND_OVERLAY_IFNAME);
	for (i = 0; (p = shim_attached(v->shim, i)); i++)
		fprintf(f, "attached:  %s\n", p);
	if (fclose(f) || !text)
		goto oom;
	ctlsock_reply_ok(r, text);
	free(text);
	return;
oom:
	free(text);
	ctlsock_reply_err(r, "out of memory");
}

static void do_peers(struct vpnd *v, struct ctlsock_req *r)
{
	char ip[INET_ADDRSTRLEN], uip[INET_ADDRSTRLEN + 8], *text = NULL;
	struct dp_peer_stats *p;
	size_t tlen = 0;
	struct jsonw *j;
	int i, n;
	FILE *f;

	n = datapath_peer_stats(v->dp, v->peers, VPND_MAX_PEERS);
	if (n < 0)
		n = 0;
	if (ctlsock_req_json(r)) {
		j = jsonw_new();
		if (!j) {
			ctlsock_reply_err(r, "out of memory");
			return;
		}
		jsonw_arr_begin(j, NULL);
		for (i = 0; i < n; i++) {
			p = &v->peers[i];
			jsonw_obj_begin(j, NULL);
			jsonw_str(j, "name", p->name);
			jsonw_str(j, "overlay_ip", ip4(p->overlay_ip, ip));
			jsonw_str(j, "underlay_ip", ip4(p->underlay_ip, uip));
			jsonw_u64(j, "port", p->port);
			jsonw_u64(j, "key_id", p->key_id);
			jsonw_u64(j, "tx_packets", p->tx_packets);
			jsonw_u64(j, "tx_bytes", p->tx_bytes);
			jsonw_u64(j, "rx_packets", p->rx_packets);
			jsonw_u64(j, "rx_bytes", p->rx_bytes);
			jsonw_u64(j, "drop_replay", p->drop_replay);
			jsonw_u64(j, "drop_auth", p->drop_auth);
			jsonw_u64(j, "drop_pending", p->drop_pending);
			jsonw_u64(j, "drop_expired", p->drop_expired);
			jsonw_u64(j, "drop_malformed", p->drop_malformed);
			jsonw_u64(j, "pending", p->pending);
			jsonw_obj_end(j);
		}
		jsonw_arr_end(j);
		reply_json(r, j);
		return;
	}
	f = open_memstream(&text, &tlen);
	if (!f) {
		ctlsock_reply_err(r, "out of memory");
		return;
	}
	fprintf(f, "%-16s %-15s %-21s %10s %10s %12s %10s %12s %7s %7s %7s\n",
		"NAME", "OVERLAY", "ENDPOINT", "KEY_ID", "TX_PKTS", "TX_BYTES",
		"RX_PKTS", "RX_BYTES", "REPLAY", "AUTH", "PENDING");
	for (i = 0; i < n; i++) {
		p = &v->peers[i];
		ip4(p->underlay_ip, uip);
		snprintf(uip + strlen(uip), 8, ":%u", p->port);
		fprintf(f, "%-16s %-15s %-21s %10u %10" PRIu64 " %12" PRIu64
			" %10" PRIu64 " %12" PRIu64 " %7" PRIu64 " %7" PRIu64
			" %7u\n", p->name, ip4(p->overlay_ip, ip), uip,
			p->key_id, p->tx_packets, p->tx_bytes, p->rx_packets,
			p->rx_bytes, p->drop_replay, p->drop_auth, p->pending);
	}
	if (fclose(f) || !text) {
		free(text);
		ctlsock_reply_err(r, "out of memory");
		return;
	}
	ctlsock_reply_ok(r, text);
	free(text);
}

static void do_flows(struct vpnd *v, struct ctlsock_req *r)
{
	char *body = flowlog_format(v->fl, ctlsock_req_json(r));

	if (!body) {
		ctlsock_reply_err(r, "out of memory");
		return;
	}
	ctlsock_reply_ok(r, body);
	free(body);
}

static void do_attach(struct vpnd *v, struct ctlsock_req *r, const char *path,
		      bool attach)
{
	const char *verb = attach ? "attach" : "detach";
	char body[PATH_MAX + 64];
	struct jsonw *j;
	int ret;

	if (!*path) {
		ctlsock_reply_err(r, "%s needs a cgroup directory", verb);
		return;
	}
	ret = attach ? shim_attach(v->shim, path) : shim_detach(v->shim, path);
	if (ret == -EINVAL)
		ctlsock_reply_err(r, "cannot attach \"%s\": not a cgroup v2 directory",
				  path);
	else if (ret == -EALREADY)
		ctlsock_reply_err(r, "cannot attach \"%s\": already attached",
				  path);
	else if (ret == -EPERM && attach)
		ctlsock_reply_err(r, "cannot attach \"%s\": the cgroup2 root would allow every process",
				  path);
	else if (ret == -ENOENT && !attach)
		ctlsock_reply_err(r, "cannot detach \"%s\": not attached", path);
	else if (ret < 0)
		ctlsock_reply_err(r, "cannot %s \"%s\": %s", verb, path,
				  strerror(-ret));
	if (ret < 0)
		return;
	log_info("shim: %sed cgroup=\"%s\"", verb, path);
	/* A restarted vpnd re-attaches what was attached (fail closed). */
	ret = shim_save(v->shim, v->attached_file);
	if (ret < 0)
		log_warn("shim: cannot save %s: %s", v->attached_file,
			 strerror(-ret));
	if (ctlsock_req_json(r)) {
		j = jsonw_new();
		if (j) {
			jsonw_obj_begin(j, NULL);
			jsonw_str(j, attach ? "attached" : "detached", path);
			jsonw_obj_end(j);
		}
		reply_json(r, j);
		return;
	}
	snprintf(body, sizeof(body), "%sed %s\n", verb, path);
	ctlsock_reply_ok(r, body);
}

static int do_resolve(struct vpnd *v, struct ctlsock_req *r, const char *name)
{
	struct resolve *s = NULL;
	int i;

	if (!*name || strlen(name) >= CTLMSG_NAME_MAX || strchr(name, ' ')) {
		ctlsock_reply_err(r, "cannot resolve \"%s\": not a host name",
				  name);
		return 0;
	}
	if (!chan_up(v->ch)) {
		ctlsock_reply_err(r, "cannot resolve \"%s\": not connected to the server",
				  name);
		return 0;
	}
	for (i = 0; i < VPND_MAX_RESOLVES && !s; i++)
		if (!v->resolves[i].req)
			s = &v->resolves[i];
	if (!s) {
		ctlsock_reply_err(r, "cannot resolve \"%s\": too many lookups in flight",
				  name);
		return 0;
	}
	ctlmsg_init(&v->msg, CTLMSG_RESOLVE_REQ);
	v->msg.req_id = ++v->next_req_id;
	snprintf(v->msg.name, sizeof(v->msg.name), "%s", name);
	v->msg.present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_NAME);
	if (chan_send(v->ch, &v->msg) < 0) {
		ctlsock_reply_err(r, "cannot resolve \"%s\": connection to the server lost",
				  name);
		return 0;
	}
	s->req = r;
	s->req_id = v->msg.req_id;
	s->until = chan_now_ms() + VPND_RESOLVE_MS;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return 1;
}

static void resolve_expire(struct vpnd *v, uint64_t now)
{
	int i;

	for (i = 0; i < VPND_MAX_RESOLVES; i++) {
		if (!v->resolves[i].req || now < v->resolves[i].until)
			continue;
		ctlsock_reply_err(v->resolves[i].req,
				  "cannot resolve \"%s\": no answer from the server",
				  v->resolves[i].name);
		v->resolves[i].req = NULL;
	}
}

static int on_ctl_request(void *arg, struct ctlsock_req *r, const char *verb,
			  const char *argstr, bool json)
{
	struct vpnd *v = arg;

	(void)json;
	if (!strcmp(verb, "status"))
		do_status(v, r);
	else if (!strcmp(verb, "peers"))
		do_peers(v, r);
	else if (!strcmp(verb, "flows"))
		do_flows(v, r);
	else if (!strcmp(verb, "attach"))
		do_attach(v, r, argstr, true);
	else if (!strcmp(verb, "detach"))
		do_attach(v, r, argstr, false);
	else if (!strcmp(verb, "resolve"))
		return do_resolve(v, r, argstr);
	else
		ctlsock_reply_err(r, "unknown request \"%s\"", verb);
	return 0;
}

/* ---- metrics ----------------------------------------------------------- */

/* A scrape: the same counters `vpnctl status` and `peers` show. */
static int metrics_render(void *arg, FILE *f)
{
	struct vpnd *v = arg;
	uint64_t up = chan_up_since(v->ch);
	struct vpnd_metrics_src s = {
		.name = v->st.name,
		.overlay_ip = v->st.overlay_ip,
		.server_up = chan_up(v->ch),
		.server_up_seconds = up ? (chan_now_ms() - up) / 1000 : 0,
		.server_connects = chan_reconnects(v->ch),
		.key_requests = v->cnt.key_requests,
		.key_granted = v->cnt.key_granted,
		.key_pushed = v->cnt.key_pushed,
		.key_denied = v->cnt.key_denied,
		.key_timeouts = v->cnt.key_req_timeouts,
		.key_install_failed = v->cnt.key_install_failed,
		.flows_dropped = v->cnt.flows_dropped,
		.shim_events = v->cnt.shim_events,
		.dp_requests = v->cnt.dp_requests,
		.peers = v->peers,
	};

	while (shim_attached(v->shim, s.attached_cgroups))
		s.attached_cgroups++;
	shim_get_counters(v->shim, &s.shim);
	datapath_stats(v->dp, &s.dp);
	s.rings_ok = !datapath_ring_stats(v->dp, s.rings);
	s.npeers = datapath_peer_stats(v->dp, v->peers, VPND_MAX_PEERS);
	if (s.npeers < 0)
		s.npeers = 0;
	return vpnd_metrics_write(f, &s);
}

/* ---- setup and loop ---------------------------------------------------- */

static int mount_bpffs(void)
{
	struct statfs sfs;

	if (statfs(VPND_BPFFS, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", VPND_BPFFS, "bpf", 0, "mode=0700") < 0) {
		log_err("run: cannot mount bpffs at %s: %s", VPND_BPFFS,
			strerror(errno));
		return -errno;
	}
	log_info("run: mounted bpffs at %s", VPND_BPFFS);
	return 0;
}

static int ep_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void on_tick(struct vpnd *v)
{
	uint64_t now = chan_now_ms(), exp;

	if (read(v->tfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		log_warn("run: timerfd: %s", strerror(errno));
	chan_tick(v->ch, now);
	ctlsock_tick(v->cs, now);
	promhttp_tick(v->metrics);
	flow_expire(v, now);
	renew_tick(v, now);
	resolve_expire(v, now);
}

static void vpnd_loop(struct vpnd *v)
{
	struct signalfd_siginfo si;
	struct epoll_event evs[16];
	int i, n;

	/* First connection attempt right away, not after the first tick. */
	chan_tick(v->ch, chan_now_ms());
	while (!v->stop) {
		n = epoll_wait(v->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("run: epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EV_CHAN:
				chan_process(v->ch);
				break;
			case EV_SHIM:
				shim_poll(v->shim);
				break;
			case EV_DPREQ:
				dp_requests(v);
				break;
			case EV_CTLSOCK:
				ctlsock_process(v->cs);
				break;
			case EV_METRICS:
				promhttp_process(v->metrics);
				break;
			case EV_TIMER:
				on_tick(v);
				break;
			case EV_SIGNAL:
				if (read(v->sfd, &si, sizeof(si)) ==
				    sizeof(si)) {
					log_info("run: signal %u, stopping",
						 si.ssi_signo);
					v->stop = true;
				}
				break;
			}
		}
	}
}

static int vpnd_run(const struct vpnd_opts *o)
{
	struct itimerspec its = {
		.it_interval = { 0, VPND_TICK_MS * 1000000L },
		.it_value = { 0, VPND_TICK_MS * 1000000L },
	};
	struct chan_ops ops = { .msg = on_chan_msg, .link = on_chan_link };
	struct dp_config dc;
	struct vpnd *v;
	char ip[INET_ADDRSTRLEN];
	sigset_t mask;
	int err, i;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->fl = flowlog_new();
	if (!v->fl) {
		free(v);
		return -ENOMEM;
	}
	v->o = o;
	err = state_load(&v->st, o->state_dir);
	if (err) {
		if (err == -ENOENT)
			log_err("run: \"%s\" holds no enrollment (run vpnd enroll first)",
				o->state_dir);
		else
			log_err("run: cannot load state \"%s\": %s",
				o->state_dir, strerror(-err));
		goto err_free;
	}
	v->mask = htonl(~0u << (32 - v->st.overlay_plen));
	v->net = v->st.overlay_ip & v->mask;

	/* Signals first: a SIGTERM during setup still unwinds cleanly. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	v->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (v->sfd < 0) {
		err = -errno;
		goto err_free;
	}
	/* Before the data plane: a second vpnd on the same socket must not
	 * get as far as touching the first one's interfaces. */
	v->cs = ctlsock_open(o->sock_path, on_ctl_request, v);
	if (!v->cs) {
		err = -errno;
		goto err_sfd;
	}
	shim_log_init();
	err = mount_bpffs();
	if (err)
		goto err_cs;

	memset(&dc, 0, sizeof(dc));
	dc.underlay_ifname = o->iface;
	dc.overlay_ifname = VPND_OVERLAY_IFNAME;
	dc.port = o->port;
	dc.workers = o->workers;
	dc.overlay_ip = v->st.overlay_ip;
	dc.overlay_plen = v->st.overlay_plen;
	v->dp = datapath_start(&dc);
	if (!v->dp) {
		err = -errno ? -errno : -EIO;
		log_err("run: data plane failed to start on iface=%s", o->iface);
		goto err_cs;
	}
	v->shim = shim_open(v->net, v->st.overlay_plen, v->st.overlay_ip,
			    VPND_OVERLAY_IFNAME, on_shim_event, v);
	if (!v->shim) {
		err = -errno;
		goto err_dp;
	}
	snprintf(v->attached_file, sizeof(v->attached_file), "%s/%s",
		 o->state_dir, VPND_ATTACHED_FILE);
	err = shim_restore(v->shim, v->attached_file);
	if (err < 0)
		log_warn("run: cannot read %s: %s", v->attached_file,
			 strerror(-err));
	/* Routes of the last run before the server answers: a LAN prefix
	 * must reach mavpn0 (and be dropped there), never the default. */
	v->gw = gw_open(o->state_dir, VPND_OVERLAY_IFNAME, v->st.overlay_ip,
			v->st.overlay_plen, v->shim, v->dp);
	if (!v->gw) {
		err = -ENOMEM;
		goto err_shim;
	}
	v->ch = chan_new(&v->st, o->port, &ops, v);
	if (!v->ch) {
		err = -errno;
		goto err_gw;
	}
	v->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (v->tfd < 0) {
		err = -errno;
		goto err_ch;
	}
	if (timerfd_settime(v->tfd, 0, &its, NULL) < 0) {
		err = -errno;
		goto err_tfd;
	}
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epfd < 0) {
		err = -errno;
		goto err_tfd;
	}
	err = ep_add(v->epfd, chan_fd(v->ch), EV_CHAN);
	if (!err)
		err = ep_add(v->epfd, shim_fd(v->shim), EV_SHIM);
	if (!err)
		err = ep_add(v->epfd, datapath_request_fd(v->dp), EV_DPREQ);
	if (!err)
		err = ep_add(v->epfd, ctlsock_fd(v->cs), EV_CTLSOCK);
	if (!err)
		err = ep_add(v->epfd, v->tfd, EV_TIMER);
	if (!err)
		err = ep_add(v->epfd, v->sfd, EV_SIGNAL);
	if (err) {
		log_err("run: epoll: %s", strerror(-err));
		goto err_ep;
	}
	if (o->metrics) {
		v->metrics = promhttp_open(o->metrics, metrics_render, v);
		err = v->metrics ? ep_add(v->epfd, promhttp_fd(v->metrics),
					  EV_METRICS) : -errno;
		if (err) {
			log_err("run: cannot serve metrics on \"%s\": %s",
				o->metrics, err == -EINVAL ?
				"expected IPV4-ADDRESS:PORT" : strerror(-err));
			goto err_ep;
		}
	}

	log_info("run: up name=%s overlay_ip=%s/%u iface=%s port=%u workers=%d sock=%s server=%s",
		 v->st.name, ip4(v->st.overlay_ip, ip), v->st.overlay_plen,
		 o->iface, o->port, o->workers, o->sock_path, v->st.server);
	vpnd_loop(v);
	err = 0;

	/* Answer whoever still waits before the socket goes away. */
	for (i = 0; i < VPND_MAX_RESOLVES; i++)
		if (v->resolves[i].req)
			ctlsock_reply_err(v->resolves[i].req,
					  "vpnd is shutting down");
err_ep:
	promhttp_close(v->metrics);
	close(v->epfd);
err_tfd:
	close(v->tfd);
err_ch:
	chan_free(v->ch);
err_gw:
	gw_free(v->gw);
err_shim:
	shim_close(v->shim);
err_dp:
	datapath_stop(v->dp);
err_cs:
	ctlsock_close(v->cs);
err_sfd:
	close(v->sfd);
err_free:
	ctlmsg_wipe(&v->msg);
	flowlog_free(v->fl);
	free(v);
	return err;
}

/* ---- command line ------------------------------------------------------ */

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: vpnd enroll --state DIR --server HOST:PORT --token TOKEN\n"
		"       vpnd run --state DIR --iface UNDERLAY_IFACE [--sock PATH]\n"
		"                [--workers N] [--port UDP_PORT] [--metrics ADDR:PORT]\n"
		"       vpnd COMMAND --help\n");
}

static void usage_enroll(FILE *f)
{
	fprintf(f,
		"usage: vpnd enroll --state DIR --server HOST:PORT --token TOKEN\n"
		"\n"
		"Enroll this host with authsrv using a one-time token. Creates in DIR:\n"
		"host.key (0600), host.pem, ca.pem and host.conf. Refuses if DIR is\n"
		"already enrolled. The token pins the server's CA certificate.\n"
		"  -v, --verbose   log TLS details\n");
}

static void usage_run(FILE *f)
{
	fprintf(f,
		"usage: vpnd run --state DIR --iface UNDERLAY_IFACE [--sock PATH]\n"
		"                [--workers N] [--port UDP_PORT] [--metrics ADDR:PORT]\n"
		"\n"
		"Run the daemon in the foreground until SIGINT/SIGTERM.\n"
		"  --state DIR       enrolled state directory\n"
		"  --iface IFACE     underlay interface (encrypted traffic)\n"
		"  --sock PATH       control socket (default %s)\n"
		"  --workers N       data-plane workers (default: one per online CPU)\n"
		"  --port PORT       UDP port for encrypted traffic (default %u)\n"
		"  --metrics ADDR:PORT  serve Prometheus metrics on http://ADDR:PORT/metrics\n"
		"                    (off by default; use a local address)\n"
		"  -v, --verbose     debug logging\n",
		CTLSOCK_PATH_DEFAULT, MAVPN_UDP_PORT_DEFAULT);
}

static int parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < lo || n > hi)
		return -EINVAL;
	*out = n;
	return 0;
}

static int cmd_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "server", required_argument, NULL, 'S' },
		{ "token", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dir = NULL, *server = NULL, *token = NULL;
	enum log_level lvl = LOG_LVL_ERR;
	int c;

	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case 's': dir = optarg; break;
		case 'S': server = optarg; break;
		case 't': token = optarg; break;
		case 'v': lvl = LOG_LVL_DEBUG; break;
		case 'h': usage_enroll(stdout); return 0;
		default: usage_enroll(stderr); return 2;
		}
	}
	if (!dir || !server || !token || optind != argc) {
		fprintf(stderr, "vpnd enroll: --state, --server and --token are required\n");
		usage_enroll(stderr);
		return 2;
	}
	log_init("vpnd", lvl);
	/* tlsconn writes with write(2): a closed peer must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return enroll_run(dir, server, token) ? 1 : 0;
}

/* --workers default: one per online CPU, within what the data plane takes. */
static int default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > VPND_WORKERS_MAX ? VPND_WORKERS_MAX : (int)n;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "iface", required_argument, NULL, 'i' },
		{ "sock", required_argument, NULL, 'k' },
		{ "workers", required_argument, NULL, 'w' },
		{ "port", required_argument, NULL, 'p' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct vpnd_opts o = {
		.sock_path = CTLSOCK_PATH_DEFAULT,
		.workers = default_workers(),
		.port = MAVPN_UDP_PORT_DEFAULT,
	};
	enum log_level lvl = LOG_LVL_INFO;
	long n;
	int c;

	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.state_dir = optarg; break;
		case 'i': o.iface = optarg; break;
		case 'k': o.sock_path = optarg; break;
		case 'w':
			if (parse_num(optarg, 1, VPND_WORKERS_MAX, &n)) {
				fprintf(stderr, "vpnd run: bad --workers \"%s\" (1..%d)\n",
					optarg, VPND_WORKERS_MAX);
				return 2;
			}
			o.workers = (int)n;
			break;
		case 'p':
			if (parse_num(optarg, 1, 65535, &n)) {
				fprintf(stderr, "vpnd run: bad --port \"%s\" (1..65535)\n",
					optarg);
				return 2;
			}
			o.port = (uint16_t)n;
			break;
		case 'm': {
			struct sockaddr_in sa;

			if (promhttp_parse_addr(optarg, &sa)) {
				fprintf(stderr, "vpnd run: bad --metrics \"%s\" (expected IPV4-ADDRESS:PORT)\n",
					optarg);
				return 2;
			}
			o.metrics = optarg;
			break;
		}
		case 'v': lvl = LOG_LVL_DEBUG; break;
		case 'h': usage_run(stdout); return 0;
		default: usage_run(stderr); return 2;
		}
	}
	if (!o.state_dir || !o.iface || optind != argc) {
		fprintf(stderr, "vpnd run: --state and --iface are required\n");
		usage_run(stderr);
		return 2;
	}
	log_init("vpnd", lvl);
	return vpnd_run(&o) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "enroll"))
		return cmd_enroll(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage_main(stdout);
		return 0;
	}
	fprintf(stderr, "vpnd: unknown command \"%s\"\n", argv[1]);
	usage_main(stderr);
	return 2;
}
