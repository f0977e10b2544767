/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small JSON writer into a growable buffer: every --json document goes
 * through it, so escaping and commas are right in one place. @key is NULL
 * for array elements and for the top-level value.
 */
#ifndef MAVPN_JSONW_H
#define MAVPN_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw;

struct jsonw *jsonw_new(void);		/* NULL on ENOMEM */
void jsonw_free(struct jsonw *j);	/* accepts NULL */
void jsonw_obj_begin(struct jsonw *j, const char *key);
void jsonw_obj_end(struct jsonw *j);
void jsonw_arr_begin(struct jsonw *j, const char *key);
void jsonw_arr_end(struct jsonw *j);
void jsonw_str(struct jsonw *j, const char *key, const char *val);
void jsonw_u64(struct jsonw *j, const char *key, uint64_t val);
void jsonw_i64(struct jsonw *j, const char *key, int64_t val);
void jsonw_bool(struct jsonw *j, const char *key, bool val);
void jsonw_null(struct jsonw *j, const char *key);
/* The document so far (NUL-terminated, compact: no whitespace), or NULL
 * after an allocation failure or misuse (nesting deeper than 32 levels, an
 * end without a begin); such errors are sticky. A NULL string value is
 * written as null. Valid until the next call on @j. */
const char *jsonw_get(const struct jsonw *j);

#endif /* MAVPN_JSONW_H */
