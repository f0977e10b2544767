// SPDX-License-Identifier: GPL-2.0-only
/*
 * The renderer of counter families (see mavpn/counters.h): every output
 * of a family is a loop over its table, so the outputs cannot disagree on
 * which counters exist.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "mavpn/counters.h"
#include "mavpn/jsonw.h"
#include "mavpn/promhttp.h"

#define COUNTERS_NAME_MAX	128
/* names shorter than this line up across tables */
#define COUNTERS_TEXT_WIDTH	20

static const char *kind_name(enum counter_kind k)
{
	return k == COUNTER_GAUGE ? "gauge" : "counter";
}

static int ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && s[ls - lx - 1] == '_' && !strcmp(s + ls - lx, suffix);
}

int counters_prom_name(char *buf, size_t size, const char *prefix,
		       const struct counter_desc *d)
{
	const char *stem = d->prom ? d->prom : d->name;
	int len;

	len = snprintf(buf, size, "%s%s%s%s%s", prefix ? prefix : "", stem,
		       d->unit && !ends_with(stem, d->unit) ? "_" : "",
		       d->unit && !ends_with(stem, d->unit) ? d->unit : "",
		       d->kind == COUNTER_COUNTER ? "_total" : "");
	if (len < 0 || (size_t)len >= size)
		return -ENAMETOOLONG;
	return len;
}

static void field(char *buf, size_t size, const char *prefix,
		  const char *name)
{
	snprintf(buf, size, "%s%s", prefix ? prefix : "", name);
}

void counters_json(struct jsonw *j, const char *prefix,
		   const struct counter_desc *d, const uint64_t *vals,
		   size_t n)
{
	char key[COUNTERS_NAME_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		field(key, sizeof(key), prefix, d[i].name);
		jsonw_u64(j, key, vals[i]);
	}
}

void counters_text(FILE *f, const char *prefix, const struct counter_desc *d,
		   const uint64_t *vals, size_t n, int indent)
{
	size_t i, w = COUNTERS_TEXT_WIDTH, plen = prefix ? strlen(prefix) : 0;

	for (i = 0; i < n; i++)
		if (plen + strlen(d[i].name) > w)
			w = plen + strlen(d[i].name);
	for (i = 0; i < n; i++)
		fprintf(f, "%*s%s%-*s %" PRIu64 "\n", indent, "",
			prefix ? prefix : "", (int)(w - plen), d[i].name,
			vals[i]);
}

int counters_line(char *buf, size_t size, const char *prefix,
		  const struct counter_desc *d, const uint64_t *vals,
		  size_t n)
{
	size_t i, len = 0;
	int k;

	if (size)
		buf[0] = '\0';
	for (i = 0; i < n; i++) {
		k = snprintf(buf + (len < size ? len : size),
			     len < size ? size - len : 0, "%s%s%s=%" PRIu64,
			     i ? " " : "", prefix ? prefix : "", d[i].name,
			     vals[i]);
		if (k < 0)
			return -EINVAL;
		len += k;
	}
	return (int)len;
}

static void labels(FILE *f, const struct counter_labels *l, const char *key,
		   const char *val)
{
	unsigned int i;
	int first = 1;

	if (!l->n && !key)
		return;
	fputc('{', f);
	for (i = 0; i < l->n && i < COUNTERS_LABELS_MAX; i++) {
		fprintf(f, "%s%s=\"", first ? "" : ",", l->key[i]);
		prom_label(f, l->val[i] ? l->val[i] : "");
		fputc('"', f);
		first = 0;
	}
	if (key) {
		fprintf(f, "%s%s=\"", first ? "" : ",", key);
		prom_label(f, val);
		fputc('"', f);
	}
	fputc('}', f);
}

void counters_prom(FILE *f, const char *prefix, const struct counter_desc *d,
		   size_t n, const struct counter_row *rows, size_t nrows)
{
	char name[COUNTERS_NAME_MAX];
	size_t i, r;

	for (i = 0; i < n; i++) {
		if (counters_prom_name(name, sizeof(name), prefix, &d[i]) < 0)
			continue;
		prom_family(f, name, kind_name(d[i].kind), d[i].help);
		for (r = 0; r < nrows; r++) {
			fputs(name, f);
			labels(f, &rows[r].labels, NULL, NULL);
			fprintf(f, " %" PRIu64 "\n", rows[r].vals[i]);
		}
	}
}

void counters_prom_by(FILE *f, const char *metric, enum counter_kind kind,
		      const char *help, const char *label,
		      const struct counter_desc *d, size_t n,
		      const struct counter_row *rows, size_t nrows)
{
	size_t i, r;

	/* prom_family() with the table's names in the help line */
	fprintf(f, "# HELP %s %s", metric, help);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s: %s", i ? "; " : " (", d[i].name, d[i].help);
	fprintf(f, "%s\n# TYPE %s %s\n", n ? ")" : "", metric, kind_name(kind));
	for (r = 0; r < nrows; r++) {
		for (i = 0; i < n; i++) {
			fputs(metric, f);
			labels(f, &rows[r].labels, label, d[i].name);
			fprintf(f, " %" PRIu64 "\n", rows[r].vals[i]);
		}
	}
}
