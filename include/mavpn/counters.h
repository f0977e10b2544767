/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Counter families and their one renderer.
 *
 * A family is a table of struct counter_desc, written once as an X-macro
 * in the header that owns the concept (datapath drop reasons in
 * mavpn/datapath.h, vpnd's key counters in ctl/vpnd/keys.h, authsrv's
 * denial classes in authsrv/metrics.h, ...). The same X-macro makes the
 * enum that indexes the values, so the counters are stored as an array
 * (uint64_t cnt[FAMILY__COUNT]) and every output iterates the table:
 * JSON (`--json status`), text (`status`), Prometheus (`--metrics`) and
 * key=value log lines. A new counter is one line in its family.
 *
 * Names: desc->name is the JSON/text field (after an optional per-call
 * prefix, e.g. "drop_"). Prometheus: a family is written either as one
 * metric per counter (counters_prom: PREFIX + prom-or-name + "_" unit
 * unless the name already ends in it + "_total" for counters), or as one
 * metric labelled by the counter's name (counters_prom_by: e.g.
 * dp_drops_total{reason="auth"}). desc->prom, when set, keeps a metric
 * name from before the tables; new counters leave it NULL.
 */
#ifndef MAVPN_COUNTERS_H
#define MAVPN_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct jsonw;

enum counter_kind {
	COUNTER_COUNTER,	/* only goes up (Prometheus "counter") */
	COUNTER_GAUGE,		/* a level read at that moment */
};

struct counter_desc {
	const char *name;	/* [a-z0-9_]: JSON/text field, label value */
	const char *help;	/* one line, no trailing period needed */
	enum counter_kind kind;
	const char *unit;	/* "packets", "bytes", "seconds" or NULL */
	const char *prom;	/* metric stem if not name (legacy), or NULL */
};

/* Table entries from X-macro lines (id, name, help) of one kind. */
#define COUNTER_DESC_COUNTER(id, name, help) \
	{ name, help, COUNTER_COUNTER, NULL, NULL },

#define COUNTERS_LABELS_MAX	4

/* The labels of one sample row: keys and (unescaped) values. */
struct counter_labels {
	unsigned int n;
	const char *key[COUNTERS_LABELS_MAX];
	const char *val[COUNTERS_LABELS_MAX];
};

/* One set of values of a family (e.g. one peer) and its labels. */
struct counter_row {
	struct counter_labels labels;
	const uint64_t *vals;	/* indexed like the table */
};

/* JSON: "PREFIX name": value for each counter, into the open object. */
void counters_json(struct jsonw *j, const char *prefix,
		   const struct counter_desc *d, const uint64_t *vals,
		   size_t n);

/* Text: one "PREFIXname  value" line per counter, @indent spaces in,
 * values aligned (at column 20 unless a name is longer, so that several
 * tables printed one after the other line up). */
void counters_text(FILE *f, const char *prefix, const struct counter_desc *d,
		   const uint64_t *vals, size_t n, int indent);

/* Log: "PREFIXname=value PREFIXname=value..." into @buf (NUL-terminated,
 * cut at @size). Returns the length it needed, like snprintf. */
int counters_line(char *buf, size_t size, const char *prefix,
		  const struct counter_desc *d, const uint64_t *vals,
		  size_t n);

/* The Prometheus metric name of @d under @prefix into @buf; its length or
 * -ENAMETOOLONG. */
int counters_prom_name(char *buf, size_t size, const char *prefix,
		       const struct counter_desc *d);

/*
 * Prometheus, one metric per counter: HELP and TYPE once per metric (also
 * with no rows, so the names exist from the first scrape), then one sample
 * per row with its labels.
 */
void counters_prom(FILE *f, const char *prefix, const struct counter_desc *d,
		   size_t n, const struct counter_row *rows, size_t nrows);

/*
 * Prometheus, one metric @metric of @kind for the whole table: HELP is
 * @help followed by the table's names and helps; each row gives one sample
 * per counter, labelled with the row's labels and @label="name".
 */
void counters_prom_by(FILE *f, const char *metric, enum counter_kind kind,
		      const char *help, const char *label,
		      const struct counter_desc *d, size_t n,
		      const struct counter_row *rows, size_t nrows);

#endif /* MAVPN_COUNTERS_H */
