// SPDX-License-Identifier: GPL-2.0-only
/*
 * Gateway index (see gwindex.h). Gateways are few and change only at
 * enrollment and revocation, so every change rebuilds the prefix table
 * (lib/prefix: longest-prefix match over hash probes of the lengths in
 * use) from the gateway list, which is sorted by name: a prefix two
 * gateways announce goes to the first by name.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwindex.h"
#include "mavpn/ctlmsg.h"
#include "mavpn/prefix.h"
#include "registry.h"

struct gwindex_gw {
	char name[CTLMSG_NAME_MAX];
	uint32_t overlay_ip;		/* network order */
	char routes[sizeof(((struct reg_host *)0)->routes)];
};

struct gwindex {
	struct gwindex_gw *gws;		/* sorted by name */
	size_t ngw, capgw;
	struct prefix_table *lpm;	/* route -> index into gws */
};

struct gwindex *gwindex_new(void)
{
	return calloc(1, sizeof(struct gwindex));
}

void gwindex_free(struct gwindex *gw)
{
	if (!gw)
		return;
	prefix_table_free(gw->lpm);
	free(gw->gws);
	free(gw);
}

/* Call @fn for each valid "a.b.c.d/n" of @routes (@tok: its text). */
static void gwindex_each_route(const char *routes,
			       void (*fn)(const struct prefix *p,
					  const char *tok, void *arg),
			       void *arg)
{
	char buf[sizeof(((struct gwindex_gw *)0)->routes)], *tok;
	char *save = NULL;
	struct prefix p;

	snprintf(buf, sizeof(buf), "%s", routes);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (!prefix_parse(tok, PREFIX_PARSE_V4, &p, NULL))
			fn(&p, tok, arg);
}

struct gwindex_build {
	struct prefix_table *lpm;	/* NULL: first pass, only count */
	unsigned int n;
	uint32_t gw;
};

static void gwindex_build_one(const struct prefix *p, const char *tok,
			      void *arg)
{
	struct gwindex_build *b = arg;

	(void)tok;
	b->n++;
	/* -EEXIST: an earlier gateway by name has it, and keeps it. */
	if (b->lpm)
		prefix_table_add(b->lpm, p, b->gw);
}

/* A new prefix table from the gateway list; the old one stays on failure. */
static int gwindex_rebuild(struct gwindex *gw)
{
	struct gwindex_build b = { 0 };

	for (b.gw = 0; b.gw < gw->ngw; b.gw++)
		gwindex_each_route(gw->gws[b.gw].routes, gwindex_build_one, &b);
	b.lpm = prefix_table_new(b.n ? b.n : 1);
	if (!b.lpm)
		return -ENOMEM;
	for (b.gw = 0; b.gw < gw->ngw; b.gw++)
		gwindex_each_route(gw->gws[b.gw].routes, gwindex_build_one, &b);
	prefix_table_free(gw->lpm);
	gw->lpm = b.lpm;
	return 0;
}

/* Index of @name in the sorted list, or where it would go (@found). */
static size_t gwindex_find(const struct gwindex *gw, const char *name,
			   bool *found)
{
	size_t lo = 0, hi = gw->ngw, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(gw->gws[mid].name, name);
		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Insert or replace without rebuilding. */
static int gwindex_put(struct gwindex *gw, const char *name,
		       uint32_t overlay_ip, const char *routes)
{
	struct gwindex_gw *n;
	bool found;
	size_t i = gwindex_find(gw, name, &found), cap;

	if (!found) {
		if (gw->ngw == gw->capgw) {
			cap = gw->capgw ? gw->capgw * 2 : 16;
			n = realloc(gw->gws, cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			gw->gws = n;
			gw->capgw = cap;
		}
		memmove(&gw->gws[i + 1], &gw->gws[i],
			(gw->ngw - i) * sizeof(*gw->gws));
		gw->ngw++;
	}
	snprintf(gw->gws[i].name, sizeof(gw->gws[i].name), "%s", name);
	gw->gws[i].overlay_ip = overlay_ip;
	snprintf(gw->gws[i].routes, sizeof(gw->gws[i].routes), "%s", routes);
	return 0;
}

static int gwindex_load_host(const struct reg_host *h, void *arg)
{
	if (h->revoked || !h->routes[0])
		return 0;
	return gwindex_put(arg, h->name, h->overlay_ip, h->routes);
}

int gwindex_load(struct gwindex *gw, struct registry *reg)
{
	int ret = registry_host_foreach(reg, gwindex_load_host, gw);

	return ret ? ret : gwindex_rebuild(gw);
}

int gwindex_add(struct gwindex *gw, const char *name, uint32_t overlay_ip,
		const char *routes)
{
	int ret;

	if (!routes[0])
		return 0;
	ret = gwindex_put(gw, name, overlay_ip, routes);
	return ret ? ret : gwindex_rebuild(gw);
}

void gwindex_remove(struct gwindex *gw, const char *name)
{
	bool found;
	size_t i = gwindex_find(gw, name, &found);

	if (!found)
		return;
	memmove(&gw->gws[i], &gw->gws[i + 1],
		(gw->ngw - i - 1) * sizeof(*gw->gws));
	gw->ngw--;
	/* On out of memory the old table names wrong indexes: drop it. */
	if (gwindex_rebuild(gw))
		prefix_table_clear(gw->lpm);
}

int gwindex_lookup(const struct gwindex *gw, uint32_t ip, const char **name)
{
	uint64_t i;

	if (!gw->lpm || prefix_table_lookup4(gw->lpm, ip, NULL, &i) ||
	    i >= gw->ngw)
		return -ENOENT;
	*name = gw->gws[i].name;
	return 0;
}

struct gwindex_msg {
	struct ctlmsg *m;
	uint32_t gw_ip;
	int ret;			/* -ENOSPC once full */
};

static void gwindex_msg_one(const struct prefix *p, const char *tok,
			    void *arg)
{
	struct gwindex_msg *w = arg;

	(void)tok;
	if (!w->ret && ctlmsg_add_route(w->m, p, w->gw_ip))
		w->ret = -ENOSPC;
}

int gwindex_add_routes(struct ctlmsg *m, const char *routes, uint32_t gw_ip)
{
	struct gwindex_msg w = { .m = m, .gw_ip = gw_ip };

	gwindex_each_route(routes, gwindex_msg_one, &w);
	return w.ret;
}

int gwindex_net_routes(const struct gwindex *gw, const char *skip,
		       struct ctlmsg *m)
{
	size_t i;
	int ret;

	for (i = 0; i < gw->ngw; i++) {
		if (!strcmp(gw->gws[i].name, skip))
			continue;
		ret = gwindex_add_routes(m, gw->gws[i].routes,
					 gw->gws[i].overlay_ip);
		if (ret)
			return ret;
	}
	return 0;
}
