// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd: what it answers on the control socket (status, peers, flows,
 * attach, detach, resolve), as text or JSON, and the metrics scrape.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/magic.h>

#include "mavpn/nl.h"

#include "mavpn/counters.h"
#include "mavpn/jsonw.h"
#include "mavpn/log.h"
#include "mavpn/util.h"
#include "chan.h"
#include "flowlog.h"
#include "metrics.h"
#include "shim.h"
#include "verbs.h"
#include "vpnd.h"

#define VPND_RESOLVE_MS		3000

/* ---- control socket ---------------------------------------------------- */

static void reply_json(struct linesock_req *r, struct jsonw *j)
{
	if (j && jsonw_get(j)) {
		char *doc;

		if (asprintf(&doc, "%s\n", jsonw_get(j)) >= 0) {
			linesock_reply_ok(r, doc);
			free(doc);
			jsonw_free(j);
			return;
		}
	}
	linesock_reply_err(r, "out of memory");
	jsonw_free(j);
}

void verbs_resolve_answer(struct vpnd *v, const struct ctlmsg *m)
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
		linesock_reply_err(r->req, "cannot resolve \"%s\": %s", r->name,
				   m->reason[0] ? m->reason : "unknown name");
	} else if (linesock_req_flag(r->req)) {
		j = jsonw_new();
		if (j) {
			jsonw_obj_begin(j, NULL);
			jsonw_str(j, "name", r->name);
			jsonw_str(j, "overlay_ip", vpnd_ip4(m->overlay_ip, ip));
			jsonw_obj_end(j);
		}
		reply_json(r->req, j);
	} else {
		snprintf(text, sizeof(text), "%s\n", vpnd_ip4(m->overlay_ip, ip));
		linesock_reply_ok(r->req, text);
	}
	r->req = NULL;
}

/* The data plane's totals, as dp_stats{} in JSON. */
static void dp_stats_json(struct jsonw *j, const struct dp_stats *ds)
{
	counters_json(j, "rx_frames_", datapath_frame_desc, ds->frames,
		      DP_FRAME__COUNT);
	counters_json(j, "drop_", datapath_drop_desc, ds->drop, DP_DROP__COUNT);
	counters_json(j, NULL, datapath_event_desc, ds->events,
		      DP_EVENT__COUNT);
	counters_json(j, NULL, datapath_level_desc, ds->levels,
		      DP_LEVEL__COUNT);
}

static void dp_stats_text(FILE *f, const struct dp_stats *ds)
{
	counters_text(f, "rx_frames_", datapath_frame_desc, ds->frames,
		      DP_FRAME__COUNT, 2);
	counters_text(f, "drop_", datapath_drop_desc, ds->drop,
		      DP_DROP__COUNT, 2);
	counters_text(f, NULL, datapath_event_desc, ds->events,
		      DP_EVENT__COUNT, 2);
	counters_text(f, NULL, datapath_level_desc, ds->levels,
		      DP_LEVEL__COUNT, 2);
}

static void status_json(struct vpnd *v, struct jsonw *j,
			const struct dp_stats *ds,
			const struct shim_counters *sc, const char *ip,
			uint64_t up_s)
{
	char dns[32];
	const char *p;
	int i;

	jsonw_obj_begin(j, NULL);
	jsonw_obj_begin(j, "self");
	jsonw_str(j, "name", v->st.name);
	jsonw_str(j, "overlay_ip", ip);
	jsonw_u64(j, "overlay_plen", v->st.overlay_plen);
	jsonw_bool(j, "connected", chan_up(v->ch));
	jsonw_str(j, "domain", dns_domain(v->dns));
	jsonw_str(j, "dns", dns_listen_addr(v->dns, dns, sizeof(dns)));
	jsonw_obj_end(j);
	jsonw_obj_begin(j, "dns");
	jsonw_u64(j, "names", dns_names(v->dns));
	counters_json(j, NULL, dns_desc, dns_counters(v->dns), DNS__COUNT);
	jsonw_obj_end(j);
	jsonw_obj_begin(j, "server");
	jsonw_str(j, "address", chan_server(v->ch));
	jsonw_bool(j, "connected", chan_up(v->ch));
	jsonw_u64(j, "up_seconds", up_s);
	jsonw_u64(j, "connect_attempts", chan_reconnects(v->ch));
	jsonw_obj_end(j);
	jsonw_obj_begin(j, "underlay");
	jsonw_str(j, "iface", v->iface);
	jsonw_bool(j, "follows_default_route", v->follow);
	jsonw_u64(j, "port", v->o->port);
	jsonw_obj_end(j);
	jsonw_str(j, "overlay_iface", VPND_OVERLAY_IFNAME);
	jsonw_u64(j, "workers", ds->workers ? ds->workers : v->o->workers);
	jsonw_obj_begin(j, "datapath");
	jsonw_str(j, "xdp_mode", ds->xdp_mode ? ds->xdp_mode : "none");
	jsonw_str(j, "xdp_mode_requested",
		  datapath_xdp_mode_name(v->o->xdp_mode));
	jsonw_u64(j, "busy_poll_us", v->o->busy_poll_us);
	jsonw_obj_end(j);
	jsonw_obj_begin(j, "dp_stats");
	dp_stats_json(j, ds);
	jsonw_obj_end(j);
	jsonw_obj_begin(j, "keys");
	counters_json(j, NULL, keys_desc, v->cnt, KEYS__COUNT);
	jsonw_obj_end(j);
	jsonw_obj_begin(j, "shim");
	counters_json(j, NULL, shim_desc, sc->cnt, SHIM_CNT_MAX);
	/* also in keys{}; scripts read it here since before the tables */
	jsonw_u64(j, "datapath_requests", v->cnt[KEYS_DP_REQUESTS]);
	jsonw_arr_begin(j, "attached");
	for (i = 0; (p = shim_attached(v->shim, i)); i++)
		jsonw_str(j, NULL, p);
	jsonw_arr_end(j);
	jsonw_arr_begin(j, "attached_netns");
	for (i = 0; i < VPND_MAX_NETNS; i++)
		if (v->netns[i].path[0])
			jsonw_str(j, NULL, v->netns[i].path);
	jsonw_arr_end(j);
	jsonw_obj_end(j);
	jsonw_obj_end(j);
}

/* The same fields as status_json(), for people. */
static void status_text(struct vpnd *v, FILE *f, const struct dp_stats *ds,
			const struct shim_counters *sc, const char *ip,
			uint64_t up_s)
{
	char dns[32];
	const char *p;
	int i;

	fprintf(f, "name:      %s\n", v->st.name);
	fprintf(f, "overlay:   %s/%u on %s\n", ip, v->st.overlay_plen,
		VPND_OVERLAY_IFNAME);
	if (chan_up(v->ch))
		fprintf(f, "server:    %s connected (up %" PRIu64 "s, %u connect attempts)\n",
			chan_server(v->ch), up_s, chan_reconnects(v->ch));
	else
		fprintf(f, "server:    %s not connected (%u connect attempts)\n",
			chan_server(v->ch), chan_reconnects(v->ch));
	fprintf(f, "underlay:  %s udp port %u%s\n", v->iface, v->o->port,
		v->follow ? " (the default route's)" : "");
	fprintf(f, "dns:       %s for *.%s (%u names)\n",
		dns_listen_addr(v->dns, dns, sizeof(dns))[0] ? dns : "off",
		dns_domain(v->dns)[0] ? dns_domain(v->dns) : "(unknown)",
		dns_names(v->dns));
	fprintf(f, "workers:   %d\n", ds->workers ? ds->workers : v->o->workers);
	fprintf(f, "xdp mode:  %s (requested %s)\n",
		ds->xdp_mode ? ds->xdp_mode : "none",
		datapath_xdp_mode_name(v->o->xdp_mode));
	if (v->o->busy_poll_us)
		fprintf(f, "busy poll: %u us\n", v->o->busy_poll_us);
	fputs("keys:\n", f);
	counters_text(f, NULL, keys_desc, v->cnt, KEYS__COUNT, 2);
	fputs("datapath:\n", f);
	dp_stats_text(f, ds);
	fputs("shim:\n", f);
	counters_text(f, NULL, shim_desc, sc->cnt, SHIM_CNT_MAX, 2);
	for (i = 0; (p = shim_attached(v->shim, i)); i++)
		fprintf(f, "attached:  %s\n", p);
	for (i = 0; i < VPND_MAX_NETNS; i++)
		if (v->netns[i].path[0])
			fprintf(f, "attached:  netns %s\n", v->netns[i].path);
}

static void do_status(struct vpnd *v, struct linesock_req *r)
{
	uint64_t now = mono_ms(), up = chan_up_since(v->ch);
	uint64_t up_s = up ? (now - up) / 1000 : 0;
	char ip[INET_ADDRSTRLEN], *text = NULL;
	struct shim_counters sc;
	struct dp_stats ds;
	size_t tlen = 0;
	struct jsonw *j;
	FILE *f;

	datapath_stats(v->dp, &ds);
	shim_get_counters(v->shim, &sc);
	vpnd_ip4(v->st.overlay_ip, ip);

	if (linesock_req_flag(r)) {
		j = jsonw_new();
		if (!j)
			goto oom;
		status_json(v, j, &ds, &sc, ip, up_s);
		reply_json(r, j);
		return;
	}
	f = open_memstream(&text, &tlen);
	if (!f)
		goto oom;
	status_text(v, f, &ds, &sc, ip, up_s);
	if (fclose(f) || !text)
		goto oom;
	linesock_reply_ok(r, text);
	free(text);
	return;
oom:
	free(text);
	linesock_reply_err(r, "out of memory");
}

/* A peer's drops, for the text table: "reason=N,..." of those not 0. */
static void peer_drops_text(FILE *f, const struct dp_peer_stats *p)
{
	int k, any = 0;

	for (k = 0; k < DP_DROP__COUNT; k++) {
		if (!p->drop[k])
			continue;
		fprintf(f, "%s%s=%" PRIu64, any ? "," : " ",
			datapath_drop_desc[k].name, p->drop[k]);
		any = 1;
	}
	if (!any)
		fputs(" -", f);
}

static void do_peers(struct vpnd *v, struct linesock_req *r)
{
	char ip[INET_ADDRSTRLEN], uip[INET_ADDRSTRLEN + 8], *text = NULL;
	struct dp_peer_stats *peers, *p;
	size_t tlen = 0;
	struct jsonw *j;
	int i, k, n;
	FILE *f;

	peers = vpnd_peers(v, &n);
	if (!peers) {
		linesock_reply_err(r, "out of memory");
		return;
	}
	if (linesock_req_flag(r)) {
		j = jsonw_new();
		if (!j) {
			free(peers);
			linesock_reply_err(r, "out of memory");
			return;
		}
		jsonw_arr_begin(j, NULL);
		for (i = 0; i < n; i++) {
			p = &peers[i];
			jsonw_obj_begin(j, NULL);
			jsonw_str(j, "name", p->name);
			jsonw_str(j, "overlay_ip", vpnd_ip4(p->overlay_ip, ip));
			jsonw_str(j, "underlay_ip", vpnd_ip4(p->underlay_ip, uip));
			jsonw_u64(j, "port", p->port);
			/* where our datagrams go now (roaming moves it) */
			snprintf(uip + strlen(uip), 8, ":%u", p->port);
			jsonw_str(j, "endpoint", uip);
			/* direct: an authenticated probe, answer, keepalive
			 * or datagram came from the endpoint */
			jsonw_str(j, "path", datapath_path_name(p->path));
			jsonw_u64(j, "last_handshake", (uint64_t)p->last_handshake);
			jsonw_u64(j, "key_id", p->key_id);
			counters_json(j, NULL, datapath_peer_desc, p->cnt,
				      DP_PEER__COUNT);
			counters_json(j, "drop_", datapath_drop_desc, p->drop,
				      DP_DROP__COUNT);
			jsonw_obj_end(j);
		}
		jsonw_arr_end(j);
		free(peers);
		reply_json(r, j);
		return;
	}
	f = open_memstream(&text, &tlen);
	if (!f) {
		free(peers);
		linesock_reply_err(r, "out of memory");
		return;
	}
	/* one column per peer counter, then the drops that are not 0 */
	fprintf(f, "%-16s %-15s %-21s %10s", "NAME", "OVERLAY", "ENDPOINT",
		"KEY_ID");
	for (k = 0; k < DP_PEER__COUNT; k++) {
		const char *c = datapath_peer_desc[k].name;

		fprintf(f, " %*s", 12 - (int)strlen(c), "");
		for (; *c; c++)
			fputc(toupper((unsigned char)*c), f);
	}
	fputs(" DROPS\n", f);
	for (i = 0; i < n; i++) {
		p = &peers[i];
		vpnd_ip4(p->underlay_ip, uip);
		snprintf(uip + strlen(uip), 8, ":%u", p->port);
		fprintf(f, "%-16s %-15s %-21s %10u", p->name,
			vpnd_ip4(p->overlay_ip, ip), uip, p->key_id);
		for (k = 0; k < DP_PEER__COUNT; k++)
			fprintf(f, " %12" PRIu64, p->cnt[k]);
		peer_drops_text(f, p);
		fputc('\n', f);
	}
	free(peers);
	if (fclose(f) || !text) {
		free(text);
		linesock_reply_err(r, "out of memory");
		return;
	}
	linesock_reply_ok(r, text);
	free(text);
}

static void do_flows(struct vpnd *v, struct linesock_req *r)
{
	char *body = flowlog_format(v->fl, linesock_req_flag(r));

	if (!body) {
		linesock_reply_err(r, "out of memory");
		return;
	}
	linesock_reply_ok(r, body);
	free(body);
}

/* An open network namespace file (/run/netns/X), -ENOTDIR if @path is
 * not one (a cgroup directory then), -EACCES for another process's
 * /proc/PID/ns/net (vpnd keeps no CAP_SYS_PTRACE). */
static int netns_open(const char *path)
{
	struct statfs st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == EACCES && !strncmp(path, "/proc/", 6) ?
		       -EACCES : -ENOTDIR;
	if (fstatfs(fd, &st) || st.f_type != NSFS_MAGIC) {
		close(fd);
		return -ENOTDIR;
	}
	return fd;
}

static struct vpnd_netns *netns_find(struct vpnd *v, const char *path)
{
	int i;

	for (i = 0; i < VPND_MAX_NETNS; i++)
		if (v->netns[i].path[0] && !strcmp(v->netns[i].path, path))
			return &v->netns[i];
	return NULL;
}

/*
 * attach/detach of a network namespace: traffic the host forwards from it
 * into the overlay (a container routed or NATed by the host) passes the
 * shim's forwarding check only while it is attached. The namespace is
 * known by our links whose other end lives there (veth), resolved now:
 * attach again after its links change.
 */
static void do_attach_netns(struct vpnd *v, struct linesock_req *r,
			    const char *path, int fd, bool attach)
{
	const char *verb = attach ? "attach" : "detach";
	struct vpnd_netns *ns = netns_find(v, path);
	int ifi[VPND_NETNS_LINKS], n, i;
	char body[PATH_MAX + 64];
	struct nl nl;

	if (!attach) {
		close(fd);
		if (!ns) {
			linesock_reply_err(r, "cannot detach \"%s\": not attached",
					   path);
			return;
		}
		for (i = 0; i < ns->n; i++)
			shim_fwd_allow(v->shim, ns->ifindex[i], false);
		ns->path[0] = '\0';
		goto done;
	}
	if (ns) {
		close(fd);
		linesock_reply_err(r, "cannot attach \"%s\": already attached",
				   path);
		return;
	}
	for (i = 0; i < VPND_MAX_NETNS && !ns; i++)
		if (!v->netns[i].path[0])
			ns = &v->netns[i];
	if (!ns) {
		close(fd);
		linesock_reply_err(r, "cannot attach \"%s\": %d namespaces attached already",
				   path, VPND_MAX_NETNS);
		return;
	}
	n = nl_open(&nl);
	if (!n) {
		n = nl_netns_peers(&nl, fd, ifi, VPND_NETNS_LINKS);
		nl_close(&nl);
	}
	close(fd);
	if (n < 0) {
		linesock_reply_err(r, "cannot attach \"%s\": %s", path,
				   strerror(-n));
		return;
	}
	if (n == 0) {
		linesock_reply_err(r, "cannot attach \"%s\": no interface of this host leads into that network namespace",
				   path);
		return;
	}
	if (n > VPND_NETNS_LINKS)
		n = VPND_NETNS_LINKS;
	for (i = 0; i < n; i++)
		shim_fwd_allow(v->shim, ifi[i], true);
	snprintf(ns->path, sizeof(ns->path), "%s", path);
	memcpy(ns->ifindex, ifi, sizeof(ifi));
	ns->n = n;
done:
	log_info("shim: %sed netns=\"%s\" links=%d", verb, path,
		 attach ? ns->n : 0);
	if (linesock_req_flag(r)) {
		struct jsonw *j = jsonw_new();

		if (j) {
			jsonw_obj_begin(j, NULL);
			jsonw_str(j, attach ? "attached" : "detached", path);
			jsonw_obj_end(j);
		}
		reply_json(r, j);
		return;
	}
	snprintf(body, sizeof(body), "%sed %s\n", verb, path);
	linesock_reply_ok(r, body);
}

static void do_attach(struct vpnd *v, struct linesock_req *r, const char *path,
		      bool attach)
{
	const char *verb = attach ? "attach" : "detach";
	char body[PATH_MAX + 64];
	struct jsonw *j;
	int ret, fd;

	if (!*path) {
		linesock_reply_err(r, "%s needs a cgroup directory or a network namespace",
				   verb);
		return;
	}
	fd = netns_open(path);
	if (fd >= 0) {
		do_attach_netns(v, r, path, fd, attach);
		return;
	}
	if (fd == -EACCES && attach) {
		linesock_reply_err(r, "cannot attach \"%s\": vpnd may not open another process's namespace; name it (ip netns attach NAME PID) and attach /run/netns/NAME",
				   path);
		return;
	}
	if (!attach && netns_find(v, path)) {	/* the namespace is gone */
		do_attach_netns(v, r, path, -1, false);
		return;
	}
	ret = attach ? shim_attach(v->shim, path) : shim_detach(v->shim, path);
	if (ret == -EINVAL)
		linesock_reply_err(r, "cannot attach \"%s\": not a cgroup v2 directory",
				   path);
	else if (ret == -EALREADY)
		linesock_reply_err(r, "cannot attach \"%s\": already attached",
				   path);
	else if (ret == -EPERM && attach)
		linesock_reply_err(r, "cannot attach \"%s\": the cgroup2 root would allow every process",
				   path);
	else if (ret == -ENOENT && !attach)
		linesock_reply_err(r, "cannot detach \"%s\": not attached", path);
	else if (ret < 0)
		linesock_reply_err(r, "cannot %s \"%s\": %s", verb, path,
				   strerror(-ret));
	if (ret < 0)
		return;
	log_info("shim: %sed cgroup=\"%s\"", verb, path);
	/* A restarted vpnd re-attaches what was attached (fail closed). */
	ret = shim_save(v->shim, v->attached_file);
	if (ret < 0)
		log_warn("shim: cannot save %s: %s", v->attached_file,
			 strerror(-ret));
	if (linesock_req_flag(r)) {
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
	linesock_reply_ok(r, body);
}

static int do_resolve(struct vpnd *v, struct linesock_req *r,
		      const char *name)
{
	struct resolve *s = NULL;
	struct ctlmsg *m;
	int i;

	if (!*name || strlen(name) >= CTLMSG_NAME_MAX || strchr(name, ' ')) {
		linesock_reply_err(r, "cannot resolve \"%s\": not a host name",
				   name);
		return 0;
	}
	if (!chan_up(v->ch)) {
		linesock_reply_err(r, "cannot resolve \"%s\": not connected to the server",
				   name);
		return 0;
	}
	for (i = 0; i < VPND_MAX_RESOLVES && !s; i++)
		if (!v->resolves[i].req)
			s = &v->resolves[i];
	if (!s) {
		linesock_reply_err(r, "cannot resolve \"%s\": too many lookups in flight",
				   name);
		return 0;
	}
	m = chan_msg(v->ch, CTLMSG_RESOLVE_REQ);
	m->req_id = ++v->next_req_id;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_NAME);
	if (chan_send(v->ch, m) < 0) {
		linesock_reply_err(r, "cannot resolve \"%s\": connection to the server lost",
				   name);
		return 0;
	}
	s->req = r;
	s->req_id = m->req_id;
	s->until = mono_ms() + VPND_RESOLVE_MS;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return LINESOCK_DEFER;
}

void verbs_resolve_expire(struct vpnd *v, uint64_t now)
{
	int i;

	for (i = 0; i < VPND_MAX_RESOLVES; i++) {
		if (!v->resolves[i].req || now < v->resolves[i].until)
			continue;
		linesock_reply_err(v->resolves[i].req,
				   "cannot resolve \"%s\": no answer from the server",
				   v->resolves[i].name);
		v->resolves[i].req = NULL;
	}
}

int verbs_on_request(void *arg, struct linesock_req *r, const char *verb,
		     const char *argstr)
{
	struct vpnd *v = arg;

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
		linesock_reply_err(r, "unknown request \"%s\"", verb);
	return 0;
}

/* ---- metrics ----------------------------------------------------------- */

/* A scrape: the same counters `vpnctl status` and `peers` show. */
int verbs_metrics_render(void *arg, FILE *f)
{
	struct vpnd *v = arg;
	uint64_t up = chan_up_since(v->ch);
	struct metrics_src s = {
		.name = v->st.name,
		.overlay_ip = v->st.overlay_ip,
		.server_up = chan_up(v->ch),
		.server_up_seconds = up ? (mono_ms() - up) / 1000 : 0,
		.server_connects = chan_reconnects(v->ch),
		.keys = v->cnt,
		.dns = dns_counters(v->dns),
	};
	struct dp_peer_stats *peers;
	int err;

	while (shim_attached(v->shim, s.attached_cgroups))
		s.attached_cgroups++;
	shim_get_counters(v->shim, &s.shim);
	datapath_stats(v->dp, &s.dp);
	s.rings_ok = !datapath_ring_stats(v->dp, s.rings);
	peers = vpnd_peers(v, &s.npeers);
	if (!peers)
		return -ENOMEM;
	s.peers = peers;
	err = metrics_write(f, &s);
	free(peers);
	return err;
}
