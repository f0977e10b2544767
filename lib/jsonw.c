// SPDX-License-Identifier: GPL-2.0-only
/*
 * Compact JSON writer. The document is built in one growable, always
 * NUL-terminated buffer. Whether a comma is due is remembered per nesting
 * level, so callers never think about separators. Errors are sticky: after
 * an allocation failure or misuse (nesting deeper than JSONW_MAX_DEPTH, an
 * end without a begin) every call is a no-op and jsonw_get() returns NULL,
 * so a caller checks once, at the end, and never prints half a document.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mavpn/jsonw.h"

#define JSONW_MAX_DEPTH	32
#define JSONW_INIT_CAP	256

struct jsonw {
	char *buf;
	size_t len;		/* excluding the NUL */
	size_t cap;
	int depth;		/* open objects and arrays */
	bool failed;
	/* sep[d]: a value was already written at depth d, next needs a comma */
	bool sep[JSONW_MAX_DEPTH + 1];
};

struct jsonw *jsonw_new(void)
{
	struct jsonw *j;

	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->buf = malloc(JSONW_INIT_CAP);
	if (!j->buf) {
		free(j);
		return NULL;
	}
	j->cap = JSONW_INIT_CAP;
	j->buf[0] = '\0';
	return j;
}

void jsonw_free(struct jsonw *j)
{
	if (!j)
		return;
	free(j->buf);
	free(j);
}

const char *jsonw_get(const struct jsonw *j)
{
	return j->failed ? NULL : j->buf;
}

static bool jsonw_reserve(struct jsonw *j, size_t n)
{
	size_t cap;
	char *nb;

	if (j->failed)
		return false;
	if (j->cap - j->len > n)	/* room for n bytes plus the NUL */
		return true;
	cap = j->cap;
	while (cap - j->len <= n) {
		if (cap > SIZE_MAX / 2) {
			j->failed = true;
			return false;
		}
		cap *= 2;
	}
	nb = realloc(j->buf, cap);
	if (!nb) {
		j->failed = true;
		return false;
	}
	j->buf = nb;
	j->cap = cap;
	return true;
}

static void jsonw_putn(struct jsonw *j, const char *s, size_t n)
{
	if (!jsonw_reserve(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void jsonw_puts(struct jsonw *j, const char *s)
{
	jsonw_putn(j, s, strlen(s));
}

/* A JSON string literal. Bytes >= 0x80 pass through: callers hand us UTF-8. */
static void jsonw_quote(struct jsonw *j, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;
	char esc[8];

	jsonw_putn(j, "\"", 1);
	for (; *p; p++) {
		if (*p != '"' && *p != '\\' && *p >= 0x20)
			continue;
		jsonw_putn(j, (const char *)run, p - run);
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = *p;
			jsonw_putn(j, esc, 2);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			jsonw_putn(j, esc, 6);
		}
		run = p + 1;
	}
	jsonw_putn(j, (const char *)run, p - run);
	jsonw_putn(j, "\"", 1);
}

/* Separator and key before any value. */
static void jsonw_prefix(struct jsonw *j, const char *key)
{
	if (j->failed)
		return;
	if (j->sep[j->depth])
		jsonw_putn(j, ",", 1);
	j->sep[j->depth] = true;
	if (key) {
		jsonw_quote(j, key);
		jsonw_putn(j, ":", 1);
	}
}

static void jsonw_open(struct jsonw *j, const char *key, const char *tok)
{
	if (j->failed)
		return;
	if (j->depth >= JSONW_MAX_DEPTH) {
		j->failed = true;
		return;
	}
	jsonw_prefix(j, key);
	jsonw_puts(j, tok);
	j->depth++;
	j->sep[j->depth] = false;
}

static void jsonw_close(struct jsonw *j, const char *tok)
{
	if (j->failed)
		return;
	if (j->depth == 0) {
		j->failed = true;
		return;
	}
	j->depth--;
	jsonw_puts(j, tok);
}

void jsonw_obj_begin(struct jsonw *j, const char *key)
{
	jsonw_open(j, key, "{");
}

void jsonw_obj_end(struct jsonw *j)
{
	jsonw_close(j, "}");
}

void jsonw_arr_begin(struct jsonw *j, const char *key)
{
	jsonw_open(j, key, "[");
}

void jsonw_arr_end(struct jsonw *j)
{
	jsonw_close(j, "]");
}

void jsonw_str(struct jsonw *j, const char *key, const char *val)
{
	jsonw_prefix(j, key);
	if (val)
		jsonw_quote(j, val);
	else
		jsonw_puts(j, "null");	/* a missing string is no crash */
}

void jsonw_u64(struct jsonw *j, const char *key, uint64_t val)
{
	char num[24];

	jsonw_prefix(j, key);
	snprintf(num, sizeof(num), "%" PRIu64, val);
	jsonw_puts(j, num);
}

void jsonw_i64(struct jsonw *j, const char *key, int64_t val)
{
	char num[24];

	jsonw_prefix(j, key);
	snprintf(num, sizeof(num), "%" PRId64, val);
	jsonw_puts(j, num);
}

void jsonw_bool(struct jsonw *j, const char *key, bool val)
{
	jsonw_prefix(j, key);
	jsonw_puts(j, val ? "true" : "false");
}

void jsonw_null(struct jsonw *j, const char *key)
{
	jsonw_prefix(j, key);
	jsonw_puts(j, "null");
}
