// SPDX-License-Identifier: GPL-2.0-only
/* The gateway table of one vpnd (see gw.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mavpn/datapath.h"
#include "mavpn/log.h"
#include "gw.h"
#include "shim.h"

#define GW_FILE		"routes"

struct gw {
	char path[PATH_MAX];
	char ifname[IF_NAMESIZE];
	uint32_t self_ip;
	struct route overlay;		/* the overlay prefix */
	struct shim *shim;
	struct datapath *dp;
	int n_own, n_net;
	struct route own[ROUTE_MAX];
	struct route net[ROUTE_MAX];
};

static bool route_has(const struct route *r, uint32_t ip)
{
	uint32_t mask = r->plen ? htonl(~0u << (32 - r->plen)) : 0;

	return (ip & mask) == r->net;
}

static int route_find(const struct route *t, int n, const struct route *r)
{
	int i;

	for (i = 0; i < n; i++)
		if (t[i].net == r->net && t[i].plen == r->plen)
			return i;
	return -1;
}

/* Longest prefix match over the net routes; NULL if none. */
static const struct route *gw_lookup(const struct gw *g, uint32_t dst)
{
	const struct route *best = NULL;
	int i;

	for (i = 0; i < g->n_net; i++)
		if (route_has(&g->net[i], dst) &&
		    (!best || g->net[i].plen > best->plen))
			best = &g->net[i];
	return best;
}

uint32_t gw_key_dst(const struct gw *g, uint32_t dst)
{
	const struct route *r = g ? gw_lookup(g, dst) : NULL;

	return r ? r->gw : 0;
}

bool gw_is_remote(const struct gw *g, uint32_t dst)
{
	return g && gw_lookup(g, dst);
}

static int gw_save(const struct gw *g)
{
	char tmp[PATH_MAX + 8], ip[INET_ADDRSTRLEN], cidr[24];
	int i, err = 0;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", g->path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	for (i = 0; i < g->n_own; i++)
		fprintf(f, "own %s\n", route_str(&g->own[i], cidr, sizeof(cidr)));
	for (i = 0; i < g->n_net; i++)
		fprintf(f, "net %s %s\n",
			route_str(&g->net[i], cidr, sizeof(cidr)),
			g->net[i].gw ? inet_ntop(AF_INET, &g->net[i].gw, ip,
						 sizeof(ip)) : "-");
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, g->path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/*
 * Make kernel, socket shim and data plane match the table. @old/@n_old:
 * the net routes before, whose kernel routes and protection go if they are
 * not in the table any more.
 */
static void gw_apply(struct gw *g, const struct route *old, int n_old)
{
	struct dp_route dr[2 * ROUTE_MAX];
	char cidr[24];
	int i, n = 0, err;

	for (i = 0; i < n_old; i++) {
		if (route_find(g->net, g->n_net, &old[i]) >= 0)
			continue;
		route_kernel_del(g->ifname, &old[i]);
		route_blackhole_del(&old[i]);
		shim_unprotect(g->shim, old[i].net, old[i].plen);
	}
	for (i = 0; i < g->n_net; i++) {
		err = route_blackhole_add(&g->net[i]);
		if (!err)
			err = route_kernel_add(g->ifname, &g->net[i],
					       g->self_ip);
		if (!err)
			err = shim_protect(g->shim, g->net[i].net,
					   g->net[i].plen);
		if (err)
			log_err("gw: cannot route %s via %s: %s",
				route_str(&g->net[i], cidr, sizeof(cidr)),
				g->ifname, strerror(-err));
	}
	for (i = 0; i < g->n_own; i++)
		dr[n++] = (struct dp_route){ .net = g->own[i].net,
					     .plen = g->own[i].plen,
					     .local = 1 };
	for (i = 0; i < g->n_net; i++)
		dr[n++] = (struct dp_route){ .net = g->net[i].net,
					     .plen = g->net[i].plen,
					     .gw = g->net[i].gw };
	err = datapath_set_routes(g->dp, dr, n);
	if (err)
		log_err("gw: data plane refused the routes: %s", strerror(-err));
	/* A gateway forwards decrypted traffic into its LAN and back. */
	if (g->n_own) {
		err = route_ip_forward(true);
		if (err)
			log_err("gw: cannot enable ip_forward: %s",
				strerror(-err));
	}
	err = gw_save(g);
	if (err)
		log_warn("gw: cannot save %s: %s", g->path, strerror(-err));
}

static int gw_load(struct gw *g)
{
	char line[128], kind[8], cidr[32], gwip[INET_ADDRSTRLEN];
	struct route r;
	struct in_addr a;
	FILE *f;
	int n;

	f = fopen(g->path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		n = sscanf(line, "%7s %31s %15s", kind, cidr, gwip);
		if (n < 2 || route_parse(cidr, 0, &r, 1) != 1)
			continue;
		if (!strcmp(kind, "own") && g->n_own < ROUTE_MAX) {
			g->own[g->n_own++] = r;
		} else if (!strcmp(kind, "net") && g->n_net < ROUTE_MAX) {
			if (n == 3 && inet_pton(AF_INET, gwip, &a) == 1)
				r.gw = a.s_addr;
			g->net[g->n_net++] = r;
		}
	}
	fclose(f);
	return 0;
}

struct gw *gw_open(const char *state_dir, const char *ifname,
		   uint32_t self_ip, uint8_t plen, struct shim *shim,
		   struct datapath *dp)
{
	struct gw *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return NULL;
	snprintf(g->path, sizeof(g->path), "%s/%s", state_dir, GW_FILE);
	snprintf(g->ifname, sizeof(g->ifname), "%s", ifname);
	g->self_ip = self_ip;
	g->overlay.plen = plen;
	g->overlay.net = self_ip & (plen ? htonl(~0u << (32 - plen)) : 0);
	g->shim = shim;
	g->dp = dp;
	err = route_blackhole_add(&g->overlay);
	if (err)
		log_warn("gw: cannot add the overlay blackhole route: %s",
			 strerror(-err));
	err = gw_load(g);
	if (err) {
		log_warn("gw: cannot read %s: %s", g->path, strerror(-err));
		g->n_own = g->n_net = 0;
	}
	if (g->n_own || g->n_net) {
		log_info("gw: restored %d own and %d network routes from %s",
			 g->n_own, g->n_net, g->path);
		gw_apply(g, NULL, 0);
	}
	return g;
}

void gw_free(struct gw *g)
{
	int i;

	if (!g)
		return;
	/* A clean stop: the host is as before vpnd (mavpn0 goes too). */
	for (i = 0; i < g->n_net; i++)
		route_blackhole_del(&g->net[i]);
	route_blackhole_del(&g->overlay);
	free(g);
}

/* "cidr[=gw],..." into @out; -EINVAL if anything is malformed. */
static int gw_parse_net(const char *list, struct route *out, int max)
{
	char buf[512], *tok, *save = NULL, *eq;
	struct in_addr a;
	int n = 0;

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return -EINVAL;
		eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		if (route_parse(tok, 0, &out[n], 1) != 1)
			return -EINVAL;
		if (eq) {
			if (inet_pton(AF_INET, eq + 1, &a) != 1)
				return -EINVAL;
			out[n].gw = a.s_addr;
		}
		n++;
	}
	return n;
}

int gw_hello(struct gw *g, const char *own, const char *net)
{
	struct route o[ROUTE_MAX], nt[ROUTE_MAX], old[ROUTE_MAX];
	int no = g->n_own, nn = g->n_net, n_old = g->n_net, i, j;

	if (own) {
		no = route_parse(own, 0, o, ROUTE_MAX);
		if (no < 0)
			return no;
	}
	if (net) {
		nn = gw_parse_net(net, nt, ROUTE_MAX);
		if (nn < 0)
			return nn;
		/* keep what KEY_GRANTs taught us where HELLO has no gw */
		for (i = 0; i < nn; i++) {
			j = route_find(g->net, g->n_net, &nt[i]);
			if (!nt[i].gw && j >= 0)
				nt[i].gw = g->net[j].gw;
		}
	}
	memcpy(old, g->net, sizeof(old));
	if (own) {
		memcpy(g->own, o, sizeof(o));
		g->n_own = no;
	}
	if (net) {
		memcpy(g->net, nt, sizeof(nt));
		g->n_net = nn;
	}
	log_info("gw: %d own routes (%s), %d network routes (%s)", g->n_own,
		 own ? own : "unchanged", g->n_net, net ? net : "unchanged");
	gw_apply(g, old, n_old);
	return 0;
}

int gw_learn(struct gw *g, uint32_t peer_ip, const char *routes)
{
	struct route r[ROUTE_MAX], old[ROUTE_MAX];
	int n, i, j, n_old = g->n_net;
	bool changed = false;

	n = route_parse(routes, peer_ip, r, ROUTE_MAX);
	if (n <= 0)
		return n;
	memcpy(old, g->net, sizeof(old));
	for (i = 0; i < n; i++) {
		/* our own LAN is never reached through the overlay */
		if (route_find(g->own, g->n_own, &r[i]) >= 0)
			continue;
		j = route_find(g->net, g->n_net, &r[i]);
		if (j < 0 && g->n_net < ROUTE_MAX)
			j = g->n_net++;
		else if (j < 0 || g->net[j].gw == peer_ip)
			continue;
		g->net[j] = r[i];
		changed = true;
	}
	if (changed)
		gw_apply(g, old, n_old);
	return 0;
}
