// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the prefix module: route lists and policy files are
 * parsed with it, and a peer's announced routes reach it.
 *
 * 1. The input as a string, with each flag combination: whatever parses is
 *    valid, formats without truncation, and parse(format(p)) == p byte for
 *    byte; an address parses to a host prefix. The same for the input
 *    as a comma-separated list.
 * 2. The input as a program of table operations (add, set, del, lookup)
 *    on a small table, checked against a linear model: never a crash,
 *    and the longest match is the model's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mavpn/prefix.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

#define TMAX	16

static void roundtrip(const char *s)
{
	static const unsigned int flags[] = {
		0, PREFIX_PARSE_V4, PREFIX_PARSE_V6, PREFIX_PARSE_CLEAR_HOST,
		PREFIX_PARSE_ADDR, PREFIX_PARSE_ADDR | PREFIX_PARSE_CLEAR_HOST,
	};
	char buf[PREFIX_STRLEN];
	struct prefix p, q;
	const char *why;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		why = NULL;
		ret = prefix_parse(s, flags[i], &p, &why);
		if (ret) {
			CHECK(ret == -EINVAL && why && p.family == 0);
			continue;
		}
		CHECK(prefix_valid(&p));
		CHECK(!(flags[i] & PREFIX_PARSE_V4) || p.family == AF_INET);
		CHECK(!(flags[i] & PREFIX_PARSE_V6) || p.family == AF_INET6);
		prefix_format(&p, buf, sizeof(buf));
		CHECK(strcmp(buf, "invalid") != 0);
		CHECK(prefix_parse(buf, 0, &q, NULL) == 0);
		CHECK(!memcmp(&p, &q, sizeof(p)));
		CHECK(prefix_contains(&p, &q) && prefix_overlaps(&p, &q));
	}
	ret = prefix_addr_parse(s, 0, &p, NULL);
	if (!ret)
		CHECK(prefix_is_host(&p) && prefix_valid(&p));
}

/* The list form round-trips too. */
static void list_roundtrip(const char *s)
{
	struct prefix a[8], b[8];
	char buf[8 * PREFIX_STRLEN];
	int n;

	n = prefix_list_parse(s, PREFIX_PARSE_CLEAR_HOST, a, 8, NULL);
	if (n < 0) {
		CHECK(n == -EINVAL || n == -ENOSPC);
		return;
	}
	CHECK(prefix_list_format(a, (unsigned int)n, buf, sizeof(buf)) == 0);
	CHECK(prefix_list_parse(buf, 0, b, 8, NULL) == n);
	CHECK(!memcmp(a, b, (size_t)n * sizeof(a[0])));
}

static struct prefix take_prefix(const uint8_t **d, size_t *n)
{
	uint8_t a[16] = { 0 };
	uint32_t a4;
	uint8_t b;

	b = *n ? **d : 0;
	if (*n) {
		(*d)++;
		(*n)--;
	}
	/* Few distinct addresses, so that entries collide and nest. */
	a[0] = 10;
	a[1] = (b & 0x30) ? (uint8_t)(b & 0x30) : 0;
	a[2] = (uint8_t)(b & 0x0c);
	if (b & 0x80)
		return prefix_from6(a, (unsigned int)(b & 0x7f) +
				       ((b & 0x40) ? 1 : 0));
	memcpy(&a4, a, sizeof(a4));
	return prefix_from4(a4, (b & 0x3f) % 33);
}

static void table_ops(const uint8_t *d, size_t n)
{
	struct prefix_table *t = prefix_table_new(TMAX);
	struct prefix mp[TMAX], p, key, got;
	uint64_t mv[TMAX], v;
	int mn = 0, i, best, ret;
	uint8_t op;

	CHECK(t);
	while (n) {
		op = *d++;
		n--;
		p = take_prefix(&d, &n);
		for (i = 0; i < mn && !prefix_equal(&mp[i], &p); i++)
			;
		switch (op & 3) {
		case 0:
			ret = prefix_table_add(t, &p, op);
			CHECK(i < mn ? ret == -EEXIST :
			      mn == TMAX ? ret == -ENOSPC : ret == 0);
			if (!ret) {
				mp[mn] = p;
				mv[mn++] = op;
			}
			break;
		case 1:
			ret = prefix_table_set(t, &p, op);
			CHECK(i < mn || mn < TMAX ? ret == 0 : ret == -ENOSPC);
			if (!ret) {
				if (i == mn)
					mp[mn++] = p;
				mv[i] = op;
			}
			break;
		case 2:
			ret = prefix_table_del(t, &p);
			CHECK(i < mn ? ret == 0 : ret == -ENOENT);
			if (!ret) {
				mp[i] = mp[--mn];
				mv[i] = mv[mn];
			}
			break;
		default:
			key = p;
			key.plen = p.family == AF_INET ? 32 : 128;
			best = -1;
			for (i = 0; i < mn; i++)
				if (prefix_contains(&mp[i], &key) &&
				    (best < 0 || mp[i].plen > mp[best].plen))
					best = i;
			ret = prefix_table_lookup(t, &key, &got, &v);
			CHECK(best < 0 ? ret == -ENOENT :
			      ret == 0 && v == mv[best] &&
			      prefix_equal(&got, &mp[best]));
		}
		CHECK(prefix_table_count(t) == (unsigned int)mn);
	}
	prefix_table_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128];

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		table_ops(data + 1, size - 1);
		return 0;
	}
	if (size - 1 >= sizeof(s))
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	roundtrip(s);
	list_roundtrip(s);
	return 0;
}
