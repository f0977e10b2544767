// SPDX-License-Identifier: GPL-2.0-only
/* Key-id allocation and expiry (see keyid.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "keyid.h"

struct keyid {
	struct keyid_rec *buckets[KEYID_BUCKETS];
	struct keyid_rec *fifo_head, *fifo_tail;
};

struct keyid *keyid_new(void)
{
	return calloc(1, sizeof(struct keyid));
}

void keyid_free(struct keyid *t)
{
	struct keyid_rec *e;

	if (!t)
		return;
	while ((e = t->fifo_head)) {
		t->fifo_head = e->fnext;
		free(e);
	}
	free(t);
}

static unsigned int keyid_bucket(uint32_t id)
{
	return (id * 2654435761u) >> 12;	/* 20 bits: KEYID_BUCKETS */
}
_Static_assert(KEYID_BUCKETS == 1u << 20, "bucket hash width");

struct keyid_rec *keyid_find(const struct keyid *t, uint32_t id)
{
	struct keyid_rec *e;

	for (e = t->buckets[keyid_bucket(id)]; e; e = e->hnext)
		if (e->id == id)
			return e;
	return NULL;
}

struct keyid_rec *keyid_alloc(struct keyid *t, uint64_t now_ms,
			      uint32_t lifetime_s, uint32_t a_ip,
			      uint32_t b_ip)
{
	struct keyid_rec *e;
	uint32_t id;
	int tries;

	for (tries = 0; tries < 64; tries++) {
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			return NULL;
		if (id && !keyid_find(t, id))
			break;
	}
	if (tries == 64)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->id = id;
	e->a_ip = a_ip;
	e->b_ip = b_ip;
	e->expires_ms = now_ms + ((uint64_t)lifetime_s + KEYID_SLACK_S) * 1000;
	e->hnext = t->buckets[keyid_bucket(id)];
	t->buckets[keyid_bucket(id)] = e;
	if (t->fifo_tail)
		t->fifo_tail->fnext = e;
	else
		t->fifo_head = e;
	t->fifo_tail = e;
	return e;
}

void keyid_expire(struct keyid *t, uint64_t now_ms)
{
	struct keyid_rec *e, **pp;

	while ((e = t->fifo_head) && e->expires_ms <= now_ms) {
		t->fifo_head = e->fnext;
		if (!t->fifo_head)
			t->fifo_tail = NULL;
		for (pp = &t->buckets[keyid_bucket(e->id)]; *pp;
		     pp = &(*pp)->hnext) {
			if (*pp == e) {
				*pp = e->hnext;
				break;
			}
		}
		free(e);
	}
}

static int keyid_cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

int keyid_peers_of(struct keyid *t, uint32_t ip, uint64_t now_ms,
		   uint32_t **peers, size_t *n)
{
	uint32_t *list = NULL, *nl, other;
	size_t len = 0, cap = 0, i, out;
	struct keyid_rec *e;

	for (e = t->fifo_head; e; e = e->fnext) {
		if (e->expires_ms <= now_ms)
			continue;
		if (e->a_ip == ip)
			other = e->b_ip;
		else if (e->b_ip == ip)
			other = e->a_ip;
		else
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 64;
			nl = realloc(list, cap * sizeof(*list));
			if (!nl)
				break;	/* the keys still expire */
			list = nl;
		}
		list[len++] = other;
		/* told once is enough; only once it is sure to be told */
		e->a_ip = e->b_ip = 0;
	}
	if (len)
		qsort(list, len, sizeof(*list), keyid_cmp_u32);
	for (i = 0, out = 0; i < len; i++)
		if (!out || list[i] != list[out - 1])
			list[out++] = list[i];
	*peers = list;
	*n = out;
	return 0;
}
