// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway table of one vpnd (see gw.h): two longest-prefix-match
 * tables (own, net: value = gateway), a spare pair that HELLO_ACK fills
 * and swaps in, and STATE/routes. No kernel, shim or data plane here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mavpn/log.h"
#include "gw.h"

#define GW_FILE		"routes"

struct gw {
	char path[PATH_MAX];
	uint32_t self_ip;
	struct prefix_table *own, *net;
	struct prefix_table *own2, *net2;	/* spare: gw_hello() */
};

static void change_add(struct gw_changes *ch, enum gw_op op,
		       const struct prefix *p, uint32_t gw, bool own)
{
	/* Cannot overflow: at most a delete and an add per table entry. */
	if (ch->n < GW_CHANGES_MAX)
		ch->c[ch->n++] = (struct gw_change){
			.op = op,
			.r = { .prefix = *p, .gw = gw, .own = own },
		};
}

uint32_t gw_key_dst(const struct gw *g, uint32_t dst)
{
	uint64_t gw;

	if (!g || prefix_table_lookup4(g->net, dst, NULL, &gw))
		return 0;
	return (uint32_t)gw;
}

bool gw_is_remote(const struct gw *g, uint32_t dst)
{
	return g && !prefix_table_lookup4(g->net, dst, NULL, NULL);
}

unsigned int gw_n_own(const struct gw *g)
{
	return prefix_table_count(g->own);
}

struct gw_collect {
	struct gw_route *out;
	int n, max;
	bool own;
};

static int gw_collect_one(void *arg, const struct prefix *p, uint64_t val)
{
	struct gw_collect *c = arg;

	if (c->n == c->max)
		return 1;
	c->out[c->n++] = (struct gw_route){ .prefix = *p,
					    .gw = c->own ? 0 : (uint32_t)val,
					    .own = c->own };
	return 0;
}

static int gw_route_cmp(const void *a, const void *b)
{
	return prefix_cmp(&((const struct gw_route *)a)->prefix,
			  &((const struct gw_route *)b)->prefix);
}

/* The entries of @t (sorted) after the @n already in @out. */
static int gw_collect(const struct prefix_table *t, bool own,
		      struct gw_route *out, int n, int max)
{
	struct gw_collect c = { .out = out, .n = n, .max = max, .own = own };

	prefix_table_walk(t, gw_collect_one, &c);
	qsort(out + n, c.n - n, sizeof(*out), gw_route_cmp);
	return c.n;
}

int gw_routes(const struct gw *g, struct gw_route *out, int max)
{
	return gw_collect(g->net, false, out, gw_collect(g->own, true, out, 0,
							 max), max);
}

/* An add for every route of the table, in gw_routes() order. */
static void gw_add_all(const struct gw *g, struct gw_changes *ch)
{
	struct gw_route r[GW_ROUTES_MAX];
	int i, n = gw_routes(g, r, GW_ROUTES_MAX);

	for (i = 0; i < n; i++)
		change_add(ch, GW_ADD, &r[i].prefix, r[i].gw, r[i].own);
}

static int gw_save(const struct gw *g)
{
	char tmp[PATH_MAX + 8], ip[INET_ADDRSTRLEN], cidr[PREFIX_STRLEN];
	struct gw_route r[GW_ROUTES_MAX];
	int i, n, err = 0;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", g->path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	n = gw_routes(g, r, GW_ROUTES_MAX);
	for (i = 0; i < n; i++) {
		prefix_format(&r[i].prefix, cidr, sizeof(cidr));
		if (r[i].own)
			fprintf(f, "own %s\n", cidr);
		else
			fprintf(f, "net %s %s\n", cidr, r[i].gw ?
				inet_ntop(AF_INET, &r[i].gw, ip, sizeof(ip)) :
				"-");
	}
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

static void gw_changed(const struct gw *g)
{
	int err = gw_save(g);

	if (err)
		log_warn("gw: cannot save %s: %s", g->path, strerror(-err));
}

static unsigned int gw_count(const struct gw *g)
{
	return prefix_table_count(g->own) + prefix_table_count(g->net);
}

/* STATE/routes: "own CIDR" and "net CIDR GW|-" lines; others skipped. */
static int gw_load(struct gw *g)
{
	char line[128], kind[8], cidr[PREFIX_STRLEN], gwip[INET_ADDRSTRLEN];
	struct prefix p;
	struct in_addr a;
	FILE *f;
	int n;

	f = fopen(g->path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		n = sscanf(line, "%7s %49s %15s", kind, cidr, gwip);
		if (n < 2 || gw_count(g) == GW_ROUTES_MAX ||
		    prefix_parse(cidr, PREFIX_PARSE_V4 |
				 PREFIX_PARSE_CLEAR_HOST, &p, NULL))
			continue;
		if (!strcmp(kind, "own")) {
			prefix_table_add(g->own, &p, 0);
		} else if (!strcmp(kind, "net")) {
			a.s_addr = 0;
			if (n == 3 && inet_pton(AF_INET, gwip, &a) != 1)
				a.s_addr = 0;
			prefix_table_add(g->net, &p, a.s_addr);
		}
	}
	fclose(f);
	return 0;
}

struct gw *gw_new(const char *state_dir, uint32_t self_ip,
		  struct gw_changes *ch)
{
	struct gw *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return NULL;
	snprintf(g->path, sizeof(g->path), "%s/%s", state_dir, GW_FILE);
	g->self_ip = self_ip;
	g->own = prefix_table_new(GW_ROUTES_MAX);
	g->net = prefix_table_new(GW_ROUTES_MAX);
	g->own2 = prefix_table_new(GW_ROUTES_MAX);
	g->net2 = prefix_table_new(GW_ROUTES_MAX);
	if (!g->own || !g->net || !g->own2 || !g->net2) {
		gw_free(g);
		errno = ENOMEM;
		return NULL;
	}
	ch->n = 0;
	err = gw_load(g);
	if (err) {
		log_warn("gw: cannot read %s: %s", g->path, strerror(-err));
		prefix_table_clear(g->own);
		prefix_table_clear(g->net);
	}
	if (gw_count(g)) {
		log_info("gw: restored %u own and %u network routes from %s",
			 prefix_table_count(g->own),
			 prefix_table_count(g->net), g->path);
		gw_add_all(g, ch);
	}
	return g;
}

void gw_free(struct gw *g)
{
	if (!g)
		return;
	prefix_table_free(g->own);
	prefix_table_free(g->net);
	prefix_table_free(g->own2);
	prefix_table_free(g->net2);
	free(g);
}

struct gw_gone {
	const struct prefix_table *now;
	struct gw_changes *ch;
	bool own;
};

static int gw_gone_one(void *arg, const struct prefix *p, uint64_t val)
{
	struct gw_gone *w = arg;

	if (prefix_table_get(w->now, p, NULL))
		change_add(w->ch, GW_DEL, p, (uint32_t)val, w->own);
	return 0;
}

static int gw_change_cmp(const void *a, const void *b)
{
	return prefix_cmp(&((const struct gw_change *)a)->r.prefix,
			  &((const struct gw_change *)b)->r.prefix);
}

/* A delete for each entry of @was not in @now, in prefix order. */
static void gw_gone(const struct prefix_table *was,
		    const struct prefix_table *now, bool own,
		    struct gw_changes *ch)
{
	struct gw_gone w = { .now = now, .ch = ch, .own = own };
	unsigned int first = ch->n;

	prefix_table_walk(was, gw_gone_one, &w);
	qsort(ch->c + first, ch->n - first, sizeof(ch->c[0]), gw_change_cmp);
}

int gw_hello(struct gw *g, const struct ctlmsg_route *r, unsigned int n,
	     struct gw_changes *ch)
{
	struct prefix_table *t;
	unsigned int i, n4 = 0;
	uint64_t old;

	ch->n = 0;
	for (i = 0; i < n; i++)
		n4 += r[i].prefix.family == AF_INET;
	if (n4 > GW_ROUTES_MAX)
		return -E2BIG;
	prefix_table_clear(g->own2);
	prefix_table_clear(g->net2);
	for (i = 0; i < n; i++) {
		if (r[i].prefix.family != AF_INET)
			continue;
		/* A prefix listed twice keeps its first gateway. */
		if (r[i].gw == g->self_ip) {
			prefix_table_add(g->own2, &r[i].prefix, 0);
		} else if (r[i].gw) {
			prefix_table_add(g->net2, &r[i].prefix, r[i].gw);
		} else {
			/* keep what a KEY_GRANT taught us */
			if (prefix_table_get(g->net, &r[i].prefix, &old))
				old = 0;
			prefix_table_add(g->net2, &r[i].prefix, old);
		}
	}
	gw_gone(g->own, g->own2, true, ch);
	gw_gone(g->net, g->net2, false, ch);
	t = g->own;
	g->own = g->own2;
	g->own2 = t;
	t = g->net;
	g->net = g->net2;
	g->net2 = t;
	gw_add_all(g, ch);
	log_info("gw: %u own routes, %u network routes",
		 prefix_table_count(g->own), prefix_table_count(g->net));
	gw_changed(g);
	return 0;
}

int gw_learn(struct gw *g, uint32_t peer_ip, const struct ctlmsg_route *r,
	     unsigned int n, struct gw_changes *ch)
{
	const struct prefix *p;
	unsigned int i;
	uint64_t gw;
	int have;

	ch->n = 0;
	for (i = 0; i < n; i++) {
		p = &r[i].prefix;
		/* our own LAN is never reached through the overlay */
		if (p->family != AF_INET || !prefix_table_get(g->own, p, NULL))
			continue;
		have = !prefix_table_get(g->net, p, &gw);
		if ((have && gw == peer_ip) ||
		    (!have && gw_count(g) == GW_ROUTES_MAX))
			continue;
		prefix_table_set(g->net, p, peer_ip);
		change_add(ch, GW_ADD, p, peer_ip, false);
	}
	if (ch->n)
		gw_changed(g);
	return (int)ch->n;
}
