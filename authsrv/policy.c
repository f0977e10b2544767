// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy parser and evaluator (format in policy.h). Parsing happens twice:
 * in `authsrv policy set` (so a bad file is refused with its line number
 * before it is stored) and in the server when it (re)loads the stored text.
 * Evaluation is a linear scan: policies are short and a grant already
 * costs two registry lookups and a TLS write per side.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authsrv.h"
#include "mavpn/ctlmsg.h"
#include "mavpn/util.h"
#include "policy.h"

enum who_kind { WHO_ANY, WHO_HOST, WHO_TAG };

struct policy_who_pat {
	enum who_kind kind;
	char v[CTLMSG_NAME_MAX];
};

/* user or group term: an id, or a name */
struct policy_id_pat {
	bool set, by_id;
	uint32_t id;
	char name[CTLMSG_NAME_MAX];
};

struct policy_rule {
	struct policy_who_pat src, dst;
	char app[CTLMSG_APP_MAX];	/* "" = any */
	struct policy_id_pat user, group;
	uint8_t proto;			/* 0 = any */
	uint16_t port_lo, port_hi;	/* 0 = any */
};

struct policy {
	int n;
	struct policy_rule r[];
};

static int perr(char *err, size_t len, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr(char *err, size_t len, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, len, "line %d: ", line);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < len)
		vsnprintf(err + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_who(const char *tok, struct policy_who_pat *w)
{
	if (!strcmp(tok, "*")) {
		w->kind = WHO_ANY;
		return 0;
	}
	if (!strncmp(tok, "tag:", 4)) {
		if (!authsrv_valid_tag(tok + 4))
			return -EINVAL;
		w->kind = WHO_TAG;
		snprintf(w->v, sizeof(w->v), "%s", tok + 4);
		return 0;
	}
	if (!strncmp(tok, "host:", 5))
		tok += 5;
	if (!authsrv_valid_name(tok))
		return -EINVAL;
	w->kind = WHO_HOST;
	snprintf(w->v, sizeof(w->v), "%s", tok);
	return 0;
}

static int parse_proto(const char *s, uint8_t *proto)
{
	long n;

	if (!strcmp(s, "tcp"))
		*proto = 6;
	else if (!strcmp(s, "udp"))
		*proto = 17;
	else if (!strcmp(s, "icmp"))
		*proto = 1;
	else if (!parse_long(s, 1, 255, &n))
		*proto = (uint8_t)n;
	else
		return -EINVAL;
	return 0;
}

static int parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	char buf[16], *dash;
	long a, b;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	if (parse_long(buf, 1, 65535, &a))
		return -EINVAL;
	b = a;
	if (dash && (parse_long(dash, 1, 65535, &b) || b < a))
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/* A user or group name as the hosts' user databases allow them
 * (useradd's default rule, plus '.'), or a decimal id. */
static int parse_id(const char *s, struct policy_id_pat *u)
{
	long n;
	size_t i;

	if (u->set)
		return -EINVAL;		/* said twice */
	u->set = true;
	if (s[0] >= '0' && s[0] <= '9') {
		if (parse_long(s, 0, 0xfffffffeL, &n))
			return -EINVAL;
		u->by_id = true;
		u->id = (uint32_t)n;
		return 0;
	}
	if (strlen(s) >= sizeof(u->name) ||
	    !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return -EINVAL;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-' || s[i] == '.' ||
		      (s[i] == '$' && !s[i + 1])))
			return -EINVAL;
	snprintf(u->name, sizeof(u->name), "%s", s);
	return 0;
}

/* One non-empty line (comment stripped) into @r. */
static int parse_rule(char *line, int ln, struct policy_rule *r, char *err,
		      size_t errlen)
{
	char *tok[16], *save = NULL, *t;
	int n = 0, i;

	for (t = strtok_r(line, " \t\r", &save); t;
	     t = strtok_r(NULL, " \t\r", &save)) {
		if (n == 16)
			return perr(err, errlen, ln, "too many words");
		tok[n++] = t;
	}
	memset(r, 0, sizeof(*r));
	if (n == 0)
		return perr(err, errlen, ln, "empty rule");
	if (strcmp(tok[0], "allow"))
		return perr(err, errlen, ln,
			    "expected \"allow\", got \"%.40s\"", tok[0]);
	if (n < 4 || strcmp(tok[2], "->"))
		return perr(err, errlen, ln, "expected \"allow SRC -> DST\"");
	if (parse_who(tok[1], &r->src))
		return perr(err, errlen, ln,
			    "bad source \"%.64s\" (*, NAME, host:NAME or tag:TAG)",
			    tok[1]);
	if (parse_who(tok[3], &r->dst))
		return perr(err, errlen, ln,
			    "bad destination \"%.64s\" (*, NAME, host:NAME or tag:TAG)",
			    tok[3]);
	for (i = 4; i < n; i += 2) {
		if (i + 1 >= n)
			return perr(err, errlen, ln, "\"%.20s\" needs a value",
				    tok[i]);
		if (!strcmp(tok[i], "app")) {
			if (tok[i + 1][0] == '\0' ||
			    strlen(tok[i + 1]) >= sizeof(r->app))
				return perr(err, errlen, ln, "bad app pattern");
			snprintf(r->app, sizeof(r->app), "%s", tok[i + 1]);
		} else if (!strcmp(tok[i], "user")) {
			if (parse_id(tok[i + 1], &r->user))
				return perr(err, errlen, ln,
					    "bad user \"%.40s\" (NAME or UID, once)",
					    tok[i + 1]);
		} else if (!strcmp(tok[i], "group")) {
			if (parse_id(tok[i + 1], &r->group))
				return perr(err, errlen, ln,
					    "bad group \"%.40s\" (NAME or GID, once)",
					    tok[i + 1]);
		} else if (!strcmp(tok[i], "proto")) {
			if (parse_proto(tok[i + 1], &r->proto))
				return perr(err, errlen, ln,
					    "bad proto \"%.20s\" (tcp, udp, icmp or 1..255)",
					    tok[i + 1]);
		} else if (!strcmp(tok[i], "port")) {
			if (parse_ports(tok[i + 1], &r->port_lo, &r->port_hi))
				return perr(err, errlen, ln,
					    "bad port \"%.20s\" (N or N-M, 1..65535)",
					    tok[i + 1]);
		} else {
			return perr(err, errlen, ln,
				    "unknown word \"%.40s\" (app, user, group, proto, port)",
				    tok[i]);
		}
	}
	return 0;
}

struct policy *policy_parse(const char *text, char *err, size_t errlen)
{
	struct policy *p;
	char *copy, *line, *next, *hash;
	int ln = 0, cap = 16;

	p = calloc(1, sizeof(*p) + (size_t)cap * sizeof(p->r[0]));
	copy = strdup(text);
	if (!p || !copy) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		ln++;
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		if (p->n == POLICY_MAX_RULES) {
			perr(err, errlen, ln, "more than %d rules",
			     POLICY_MAX_RULES);
			goto err;
		}
		if (p->n == cap) {
			struct policy *np;

			cap *= 2;
			np = realloc(p, sizeof(*p) + (size_t)cap * sizeof(p->r[0]));
			if (!np) {
				snprintf(err, errlen, "out of memory");
				goto err;
			}
			p = np;
		}
		if (parse_rule(line, ln, &p->r[p->n], err, errlen))
			goto err;
		p->n++;
	}
	free(copy);
	return p;

err:
	free(copy);
	free(p);
	return NULL;
}

void policy_free(struct policy *p)
{
	free(p);
}

int policy_nrules(const struct policy *p)
{
	return p ? p->n : -1;
}

static bool has_tag(const char *csv, const char *tag)
{
	size_t tl = strlen(tag);
	const char *s = csv;

	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);

		if (l == tl && !memcmp(s, tag, tl))
			return true;
		s = e ? e + 1 : NULL;
	}
	return false;
}

static bool who_match(const struct policy_who_pat *w,
		      const struct policy_who *h)
{
	switch (w->kind) {
	case WHO_ANY:
		return true;
	case WHO_HOST:
		return !strcmp(w->v, h->name);
	case WHO_TAG:
		return h->tags && has_tag(h->tags, w->v);
	}
	return false;
}

static bool id_match(const struct policy_id_pat *u, bool has_id,
		     uint32_t id, const char *name)
{
	if (!u->set)
		return true;
	if (u->by_id)
		return has_id && id == u->id;
	return name && !strcmp(name, u->name);
}

bool policy_may_reach(const struct policy *p, const struct policy_who *a,
		      const struct policy_who *b, uint8_t proto,
		      uint16_t port)
{
	const struct policy_rule *r;
	int i;

	if (!p)
		return true;
	for (i = 0; i < p->n; i++) {
		r = &p->r[i];
		if (!who_match(&r->src, a) || !who_match(&r->dst, b))
			continue;
		if (r->proto && proto && proto != r->proto)
			continue;
		if (r->port_lo && port && (port < r->port_lo ||
					   port > r->port_hi))
			continue;
		return true;
	}
	return false;
}

bool policy_allows(const struct policy *p, const struct policy_who *a,
		   const struct policy_who *b, const struct policy_req *rq)
{
	const struct policy_rule *r;
	int i;

	if (!p)
		return true;
	for (i = 0; i < p->n; i++) {
		r = &p->r[i];
		if (!who_match(&r->src, a) || !who_match(&r->dst, b))
			continue;
		if (r->app[0] && (!rq->app || fnmatch(r->app, rq->app, 0)))
			continue;
		if (!id_match(&r->user, rq->has_uid, rq->uid, rq->user) ||
		    !id_match(&r->group, rq->has_gid, rq->gid, rq->group))
			continue;
		if (r->proto && rq->proto != r->proto)
			continue;
		if (r->port_lo && (!rq->port || rq->port < r->port_lo ||
				   rq->port > r->port_hi))
			continue;
		return true;
	}
	return false;
}
