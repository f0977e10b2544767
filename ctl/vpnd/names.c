// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd's name cache (names.h): a chained hash over a fixed array of
 * entries with a free list; nothing grows after names_new().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define NAMES_NIL	UINT32_MAX

struct name_ent {
	char name[CTLMSG_NAME_MAX];	/* "" = free */
	uint32_t v4;			/* network order, 0 = none */
	uint32_t gen;
	uint32_t next;			/* chain or free list */
};

struct names {
	unsigned int max, count, nbuckets;
	uint32_t gen;
	uint32_t free;
	uint32_t *buckets;
	struct name_ent *e;
};

static uint32_t names_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* A host name as authsrv gives them: [a-z0-9-], 1..63. */
static bool names_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return i > 0 && i <= DNSMSG_LABEL_MAX;
}

struct names *names_new(unsigned int max)
{
	struct names *n = calloc(1, sizeof(*n));
	unsigned int i;

	if (!n || !max)
		goto err;
	n->max = max;
	for (n->nbuckets = 64; n->nbuckets < max; n->nbuckets <<= 1)
		;
	n->buckets = malloc(n->nbuckets * sizeof(*n->buckets));
	n->e = calloc(max, sizeof(*n->e));
	if (!n->buckets || !n->e)
		goto err;
	for (i = 0; i < n->nbuckets; i++)
		n->buckets[i] = NAMES_NIL;
	for (i = 0; i < max; i++)
		n->e[i].next = i + 1 < max ? i + 1 : NAMES_NIL;
	n->free = 0;
	return n;
err:
	names_free(n);
	return NULL;
}

void names_free(struct names *n)
{
	if (!n)
		return;
	free(n->buckets);
	free(n->e);
	free(n);
}

/* The slot that points at @name's entry (bucket or a chain's next). */
static uint32_t *names_find(struct names *n, const char *name)
{
	uint32_t *p = &n->buckets[names_hash(name) & (n->nbuckets - 1)];

	while (*p != NAMES_NIL && strcmp(n->e[*p].name, name))
		p = &n->e[*p].next;
	return p;
}

void names_begin(struct names *n)
{
	n->gen++;
}

int names_add(struct names *n, const char *name, uint32_t v4)
{
	uint32_t *p, i;

	if (!names_valid(name))
		return -EINVAL;
	p = names_find(n, name);
	if (*p == NAMES_NIL) {
		if (n->free == NAMES_NIL)
			return -ENOSPC;
		i = n->free;
		n->free = n->e[i].next;
		strcpy(n->e[i].name, name);	/* valid: fits */
		n->e[i].next = NAMES_NIL;
		*p = i;
		n->count++;
	}
	n->e[*p].v4 = v4;
	n->e[*p].gen = n->gen;
	return 0;
}

static void names_unlink(struct names *n, uint32_t *p)
{
	uint32_t i = *p;

	*p = n->e[i].next;
	memset(&n->e[i], 0, sizeof(n->e[i]));
	n->e[i].next = n->free;
	n->free = i;
	n->count--;
}

int names_del(struct names *n, const char *name)
{
	uint32_t *p = names_find(n, name);

	if (*p == NAMES_NIL)
		return -ENOENT;
	names_unlink(n, p);
	return 0;
}

unsigned int names_end(struct names *n)
{
	unsigned int b, dropped = 0;
	uint32_t *p;

	for (b = 0; b < n->nbuckets; b++) {
		p = &n->buckets[b];
		while (*p != NAMES_NIL) {
			if (n->e[*p].gen != n->gen) {
				names_unlink(n, p);
				dropped++;
			} else {
				p = &n->e[*p].next;
			}
		}
	}
	return dropped;
}

int names_lookup(void *arg, const char *name, struct dnsmsg_host *h)
{
	struct names *n = arg;
	uint32_t *p = names_find(n, name);

	memset(h, 0, sizeof(*h));
	if (*p == NAMES_NIL)
		return -ENOENT;
	/* IPv6 overlay addresses: has6/v6 once the registry carries them. */
	h->v4 = n->e[*p].v4;
	h->has4 = h->v4 != 0;
	return 0;
}

unsigned int names_count(const struct names *n)
{
	return n->count;
}
