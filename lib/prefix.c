// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prefixes (see prefix.h): a strict parser, the masks, and the
 * longest-prefix-match table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mavpn/prefix.h"

static unsigned int prefix_maxlen(unsigned int family)
{
	return family == AF_INET ? 32 : 128;
}

uint32_t prefix_mask4(unsigned int plen)
{
	/* A shift by 32 is undefined: /0 and /32 are explicit. */
	if (plen == 0)
		return 0;
	if (plen >= 32)
		return 0xffffffffu;
	return htonl(~0u << (32 - plen));
}

void prefix_mask6(unsigned int plen, uint8_t mask[16])
{
	unsigned int i;

	if (plen > 128)
		plen = 128;
	for (i = 0; i < 16; i++) {
		if (plen >= 8) {
			mask[i] = 0xff;
			plen -= 8;
		} else {
			mask[i] = (uint8_t)(0xff00 >> plen);
			plen = 0;
		}
	}
}

struct prefix prefix_from4(uint32_t addr, unsigned int plen)
{
	struct prefix p = { .family = AF_INET };

	p.plen = (uint8_t)(plen > 32 ? 32 : plen);
	p.v4 = addr & prefix_mask4(p.plen);
	return p;
}

struct prefix prefix_from6(const uint8_t addr[16], unsigned int plen)
{
	struct prefix p = { .family = AF_INET6 };
	uint8_t mask[16];
	int i;

	p.plen = (uint8_t)(plen > 128 ? 128 : plen);
	prefix_mask6(p.plen, mask);
	for (i = 0; i < 16; i++)
		p.v6[i] = addr[i] & mask[i];
	return p;
}

/* @p with its host bits cleared (family and plen already checked). */
static struct prefix prefix_canon(const struct prefix *p)
{
	return p->family == AF_INET ? prefix_from4(p->v4, p->plen) :
				      prefix_from6(p->v6, p->plen);
}

bool prefix_valid(const struct prefix *p)
{
	struct prefix c;

	if (p->family != AF_INET && p->family != AF_INET6)
		return false;
	if (p->plen > prefix_maxlen(p->family))
		return false;
	c = prefix_canon(p);
	return !memcmp(&c, p, sizeof(c));
}

/*
 * "0".."255" strictly: 1-3 digits, no leading zero, so "010" (octal to
 * inet_aton) is refused instead of guessed. Returns the digits used, 0 if
 * none fit.
 */
static size_t parse_dec(const char *s, unsigned int max, unsigned int *out)
{
	unsigned int v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 3 || (n == 1 && s[0] == '0'))
			return 0;
		v = v * 10 + (unsigned int)(s[n] - '0');
		n++;
	}
	if (!n || v > max)
		return 0;
	*out = v;
	return n;
}

static int parse_v4(const char *s, size_t len, uint32_t *out)
{
	unsigned int i, octet;
	uint8_t b[4];
	size_t pos = 0, n;

	for (i = 0; i < 4; i++) {
		if (i) {
			if (pos >= len || s[pos] != '.')
				return -EINVAL;
			pos++;
		}
		n = parse_dec(s + pos, 255, &octet);
		if (!n || pos + n > len)
			return -EINVAL;
		b[i] = (uint8_t)octet;
		pos += n;
	}
	if (pos != len)
		return -EINVAL;
	memcpy(out, b, 4);
	return 0;
}

int prefix_parse(const char *s, unsigned int flags, struct prefix *out,
		 const char **why)
{
	bool v4 = !(flags & PREFIX_PARSE_V6) || (flags & PREFIX_PARSE_V4);
	bool v6 = !(flags & PREFIX_PARSE_V4) || (flags & PREFIX_PARSE_V6);
	char addr[INET6_ADDRSTRLEN];
	const char *slash, *w = NULL;
	struct prefix p = { 0 };
	unsigned int plen;
	size_t alen, n;

	memset(out, 0, sizeof(*out));
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr)) {
		w = "not an address";
		goto bad;
	}
	if (memchr(s, ':', alen)) {
		if (!v6) {
			w = "not an IPv4 address";
			goto bad;
		}
		memcpy(addr, s, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET6, addr, p.v6) != 1) {
			w = "not an IPv6 address";
			goto bad;
		}
		p.family = AF_INET6;
	} else {
		if (!v4) {
			w = "not an IPv6 address";
			goto bad;
		}
		if (parse_v4(s, alen, &p.v4)) {
			w = "not an IPv4 address";
			goto bad;
		}
		p.family = AF_INET;
	}
	if (!slash) {
		if (!(flags & PREFIX_PARSE_ADDR)) {
			w = p.family == AF_INET ? "expected A.B.C.D/N" :
						  "expected X:X::X/N";
			goto bad;
		}
		plen = prefix_maxlen(p.family);
	} else {
		n = parse_dec(slash + 1, prefix_maxlen(p.family), &plen);
		if (!n || slash[1 + n]) {
			w = "bad prefix length";
			goto bad;
		}
	}
	p.plen = (uint8_t)plen;
	if (!prefix_valid(&p)) {
		if (!(flags & PREFIX_PARSE_CLEAR_HOST)) {
			w = "host bits set";
			goto bad;
		}
		p = prefix_canon(&p);
	}
	*out = p;
	return 0;
bad:
	if (why)
		*why = w;
	return -EINVAL;
}

int prefix_addr_parse(const char *s, unsigned int flags, struct prefix *out,
		      const char **why)
{
	if (strchr(s, '/')) {
		memset(out, 0, sizeof(*out));
		if (why)
			*why = "expected an address, not a prefix";
		return -EINVAL;
	}
	return prefix_parse(s, (flags & ~PREFIX_PARSE_CLEAR_HOST) |
			    PREFIX_PARSE_ADDR, out, why);
}

int prefix_list_parse(const char *list, unsigned int flags, struct prefix *out,
		      unsigned int max, const char **why)
{
	char buf[PREFIX_STRLEN];
	const char *p = list, *comma;
	unsigned int n = 0;
	size_t len;

	while (*p) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (!len || (comma && !comma[1])) {
			if (why)
				*why = "empty list element";
			return -EINVAL;
		}
		if (len >= sizeof(buf)) {
			if (why)
				*why = "not an address";
			return -EINVAL;
		}
		if (n == max) {
			if (why)
				*why = "too many prefixes";
			return -ENOSPC;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (prefix_parse(buf, flags, &out[n], why))
			return -EINVAL;
		n++;
		p += len + (comma ? 1 : 0);
	}
	return (int)n;
}

int prefix_list_format(const struct prefix *p, unsigned int n, char *buf,
		       size_t len)
{
	char one[PREFIX_STRLEN];
	size_t used = 0, l;
	unsigned int i;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		prefix_format(&p[i], one, sizeof(one));
		l = strlen(one) + (i ? 1 : 0);
		if (used + l >= len)
			return -ENOSPC;
		snprintf(buf + used, len - used, "%s%s", i ? "," : "", one);
		used += l;
	}
	return 0;
}

const char *prefix_format(const struct prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!len)
		return buf;
	if (!prefix_valid(p) ||
	    !inet_ntop(p->family, p->family == AF_INET ? (const void *)&p->v4 :
							 (const void *)p->v6,
		       a, sizeof(a)))
		snprintf(buf, len, "invalid");
	else
		snprintf(buf, len, "%s/%u", a, p->plen);
	return buf;
}

bool prefix_equal(const struct prefix *a, const struct prefix *b)
{
	return prefix_cmp(a, b) == 0;
}

int prefix_cmp(const struct prefix *a, const struct prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = a->family == AF_INET ? memcmp(&a->v4, &b->v4, 4) :
				   memcmp(a->v6, b->v6, 16);
	if (c)
		return c < 0 ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return 0;
}

bool prefix_contains(const struct prefix *outer, const struct prefix *inner)
{
	struct prefix c;

	if (outer->family != inner->family || inner->plen < outer->plen)
		return false;
	if (outer->family == AF_INET)
		return ((inner->v4 ^ outer->v4) & prefix_mask4(outer->plen)) == 0;
	if (outer->family != AF_INET6)
		return false;
	c = prefix_from6(inner->v6, outer->plen);
	return !memcmp(c.v6, outer->v6, 16);
}

bool prefix_contains4(const struct prefix *p, uint32_t addr)
{
	return p->family == AF_INET &&
	       ((addr ^ p->v4) & prefix_mask4(p->plen)) == 0;
}

bool prefix_overlaps(const struct prefix *a, const struct prefix *b)
{
	return prefix_contains(a, b) || prefix_contains(b, a);
}

/* ---- the longest-prefix-match table ---- */

#define PT_NIL		0xffffffffu
#define PT_MAX		(1u << 24)

struct pt_entry {
	struct prefix p;
	uint64_t val;
	uint32_t next;		/* bucket chain, or free list */
	uint8_t used;
};

struct prefix_table {
	unsigned int max, count;
	uint32_t nbuckets;	/* a power of two >= 2 * max */
	uint32_t free;		/* head of the free entries */
	uint32_t *buckets;
	struct pt_entry *e;
	/* Entries per (family, plen): lookups probe only lengths in use. */
	uint32_t n4[33], n6[129];
};

static uint32_t pt_hash(const struct prefix *p)
{
	/* Entries come from configuration, not from the network: a good
	 * mix suffices, no secret seed is needed. */
	uint64_t h = (uint64_t)p->family << 8 | p->plen;
	uint32_t w;
	int i;

	if (p->family == AF_INET) {
		h ^= (uint64_t)p->v4 << 16;
	} else {
		for (i = 0; i < 16; i += 4) {
			memcpy(&w, p->v6 + i, 4);
			h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		}
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

struct prefix_table *prefix_table_new(unsigned int max)
{
	struct prefix_table *t;

	if (!max || max > PT_MAX) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = max;
	t->nbuckets = 2;
	while (t->nbuckets < 2 * max)
		t->nbuckets <<= 1;
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	t->e = calloc(max, sizeof(*t->e));
	if (!t->buckets || !t->e) {
		prefix_table_free(t);
		errno = ENOMEM;
		return NULL;
	}
	prefix_table_clear(t);
	return t;
}

void prefix_table_free(struct prefix_table *t)
{
	if (!t)
		return;
	free(t->buckets);
	free(t->e);
	free(t);
}

void prefix_table_clear(struct prefix_table *t)
{
	uint32_t i;

	for (i = 0; i < t->nbuckets; i++)
		t->buckets[i] = PT_NIL;
	for (i = 0; i < t->max; i++) {
		memset(&t->e[i], 0, sizeof(t->e[i]));
		t->e[i].next = i + 1 < t->max ? i + 1 : PT_NIL;
	}
	t->free = 0;
	t->count = 0;
	memset(t->n4, 0, sizeof(t->n4));
	memset(t->n6, 0, sizeof(t->n6));
}

unsigned int prefix_table_count(const struct prefix_table *t)
{
	return t->count;
}

static uint32_t *pt_plen_count(struct prefix_table *t, const struct prefix *p)
{
	return p->family == AF_INET ? &t->n4[p->plen] : &t->n6[p->plen];
}

/* The slot that points at @p's entry (or the chain's end): for find and
 * unlink alike. @p is canonical. */
static uint32_t *pt_slot(const struct prefix_table *t, const struct prefix *p)
{
	uint32_t *slot = &t->buckets[pt_hash(p) & (t->nbuckets - 1)];

	while (*slot != PT_NIL && memcmp(&t->e[*slot].p, p, sizeof(*p)))
		slot = &t->e[*slot].next;
	return slot;
}

static int pt_put(struct prefix_table *t, const struct prefix *p,
		  uint64_t val, bool replace)
{
	uint32_t *slot, i;

	if (!prefix_valid(p))
		return -EINVAL;
	slot = pt_slot(t, p);
	if (*slot != PT_NIL) {
		if (!replace)
			return -EEXIST;
		t->e[*slot].val = val;
		return 0;
	}
	if (t->free == PT_NIL)
		return -ENOSPC;
	i = t->free;
	t->free = t->e[i].next;
	t->e[i].p = *p;
	t->e[i].val = val;
	t->e[i].used = 1;
	t->e[i].next = PT_NIL;
	*slot = i;
	(*pt_plen_count(t, p))++;
	t->count++;
	return 0;
}

int prefix_table_add(struct prefix_table *t, const struct prefix *p,
		     uint64_t val)
{
	return pt_put(t, p, val, false);
}

int prefix_table_set(struct prefix_table *t, const struct prefix *p,
		     uint64_t val)
{
	return pt_put(t, p, val, true);
}

int prefix_table_del(struct prefix_table *t, const struct prefix *p)
{
	uint32_t *slot, i;

	if (!prefix_valid(p))
		return -ENOENT;
	slot = pt_slot(t, p);
	if (*slot == PT_NIL)
		return -ENOENT;
	i = *slot;
	*slot = t->e[i].next;
	memset(&t->e[i], 0, sizeof(t->e[i]));
	t->e[i].next = t->free;
	t->free = i;
	(*pt_plen_count(t, p))--;
	t->count--;
	return 0;
}

int prefix_table_get(const struct prefix_table *t, const struct prefix *p,
		     uint64_t *val)
{
	uint32_t i;

	if (!prefix_valid(p))
		return -ENOENT;
	i = *pt_slot(t, p);
	if (i == PT_NIL)
		return -ENOENT;
	if (val)
		*val = t->e[i].val;
	return 0;
}

int prefix_table_lookup(const struct prefix_table *t, const struct prefix *key,
			struct prefix *match, uint64_t *val)
{
	const uint32_t *counts;
	struct prefix k;
	uint32_t i;
	int plen;

	if (key->family == AF_INET && key->plen <= 32)
		counts = t->n4;
	else if (key->family == AF_INET6 && key->plen <= 128)
		counts = t->n6;
	else
		return -ENOENT;
	for (plen = key->plen; plen >= 0; plen--) {
		if (!counts[plen])
			continue;
		k = key->family == AF_INET ? prefix_from4(key->v4, plen) :
					     prefix_from6(key->v6, plen);
		i = *pt_slot(t, &k);
		if (i == PT_NIL)
			continue;
		if (match)
			*match = t->e[i].p;
		if (val)
			*val = t->e[i].val;
		return 0;
	}
	return -ENOENT;
}

int prefix_table_lookup4(const struct prefix_table *t, uint32_t addr,
			 struct prefix *match, uint64_t *val)
{
	struct prefix k = prefix_from4(addr, 32);

	return prefix_table_lookup(t, &k, match, val);
}

int prefix_table_walk(const struct prefix_table *t, prefix_table_fn fn,
		      void *arg)
{
	unsigned int i;
	int ret;

	for (i = 0; i < t->max; i++) {
		if (!t->e[i].used)
			continue;
		ret = fn(arg, &t->e[i].p, t->e[i].val);
		if (ret)
			return ret;
	}
	return 0;
}
