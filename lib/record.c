// SPDX-License-Identifier: GPL-2.0-only
/*
 * Record codec (include/mavpn/record.h): header, split, bounded
 * reassembly. Pure: no I/O, no allocation, no clock of its own.
 */
#include <errno.h>
#include <string.h>

#include "mavpn/record.h"
#include "mavpn/util.h"

void rec_hdr_encode(uint8_t out[REC_HDR_LEN], const struct rec_hdr *h)
{
	out[0] = MAVPN_MSG_RECORD;
	out[1] = MAVPN_WIRE_VERSION_REC;
	out[2] = h->idx;
	out[3] = h->cnt;
	put_be32(out + 4, h->key_id);
	put_be64(out + 8, h->counter);
}

int rec_hdr_decode(const uint8_t *payload, size_t len, struct rec_hdr *h)
{
	if (len < REC_HDR_LEN + MAVPN_TAG_LEN + 1)
		return -EBADMSG;
	if (payload[0] != MAVPN_MSG_RECORD ||
	    payload[1] != MAVPN_WIRE_VERSION_REC)
		return -EBADMSG;
	if (payload[3] < 2 || payload[3] > REC_DGRAMS_MAX ||
	    payload[2] >= payload[3])
		return -EBADMSG;
	h->idx = payload[2];
	h->cnt = payload[3];
	h->key_id = get_be32(payload + 4);
	h->counter = get_be64(payload + 8);
	/* counters start at 1: the base is at least 1 */
	if (h->counter <= h->idx)
		return -EBADMSG;
	return 0;
}

int rec_split(uint32_t len, uint32_t seg, unsigned int *n)
{
	uint32_t k;

	if (!seg || seg > REC_SEG_MAX || len <= seg)
		return -EINVAL;
	k = len / seg + (len % seg != 0);
	if (k > REC_DGRAMS_MAX)
		return -EMSGSIZE;
	*n = k;
	return 0;
}

void rec_reasm_init(struct rec_reasm *r, rec_drop_fn drop, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->drop = drop;
	r->arg = arg;
}

static void slot_clear(struct rec_slot *s)
{
	memset(s, 0, sizeof(*s));
}

/* Give every held handle back and free the slot. */
static void slot_drop(struct rec_reasm *r, struct rec_slot *s)
{
	unsigned int i;

	for (i = 0; i < s->cnt; i++)
		if (s->mask & (1u << i))
			r->drop(r->arg, s->buf[i]);
	r->records_dropped++;
	slot_clear(s);
}

unsigned int rec_expire(struct rec_reasm *r, uint64_t now_ms)
{
	unsigned int i, n = 0;

	for (i = 0; i < REC_SLOTS; i++) {
		struct rec_slot *s = &r->slot[i];

		/* a clock that went back counts as expired too */
		if (s->used && (now_ms < s->at_ms ||
				now_ms - s->at_ms >= REC_TIMEOUT_MS)) {
			slot_drop(r, s);
			n++;
		}
	}
	return n;
}

void rec_flush(struct rec_reasm *r)
{
	unsigned int i;

	for (i = 0; i < REC_SLOTS; i++)
		if (r->slot[i].used)
			slot_drop(r, &r->slot[i]);
}

/* The record's slot, or a free (or freed: the oldest) one for it. */
static struct rec_slot *slot_for(struct rec_reasm *r, const struct rec_hdr *h,
				 uint64_t now_ms)
{
	struct rec_slot *s, *free_s = NULL, *old = NULL;
	uint64_t base = rec_base(h);
	unsigned int i;

	for (i = 0; i < REC_SLOTS; i++) {
		s = &r->slot[i];
		if (!s->used) {
			if (!free_s)
				free_s = s;
			continue;
		}
		if (s->key_id == h->key_id && s->base == base)
			return s;
		if (!old || s->at_ms < old->at_ms)
			old = s;
	}
	if (!free_s) {
		slot_drop(r, old);
		free_s = old;
	}
	free_s->used = 1;
	free_s->key_id = h->key_id;
	free_s->base = base;
	free_s->cnt = h->cnt;
	free_s->at_ms = now_ms;
	return free_s;
}

/* Does a datagram of @len bytes at @idx fit the slot's shape? Learns seg
 * from the first non-last datagram. */
static int shape_ok(struct rec_slot *s, unsigned int idx, uint32_t len)
{
	unsigned int last = s->cnt - 1u;

	if (!len || len > REC_SEG_MAX)
		return 0;
	if (idx == last)
		return !s->seg || len <= s->seg;
	if (s->seg)
		return len == s->seg;
	/* the last one, if held, must not be longer than seg */
	if ((s->mask & (1u << last)) && s->len[last] > len)
		return 0;
	s->seg = (uint16_t)len;
	return 1;
}

int rec_add(struct rec_reasm *r, const struct rec_hdr *h, uint32_t len,
	    uint64_t handle, uint64_t now_ms)
{
	struct rec_slot *s;

	if (h->cnt < 2 || h->cnt > REC_DGRAMS_MAX || h->idx >= h->cnt)
		return -EBADMSG;
	rec_expire(r, now_ms);
	s = slot_for(r, h, now_ms);
	if (s->mask & (1u << h->idx))
		return -EBADMSG;	/* same counter: the replay check's job */
	if (s->cnt != h->cnt || !shape_ok(s, h->idx, len)) {
		slot_drop(r, s);
		return -EBADMSG;
	}
	s->mask |= 1u << h->idx;
	s->len[h->idx] = (uint16_t)len;
	s->buf[h->idx] = handle;
	s->have++;
	if (s->have < s->cnt)
		return -EINPROGRESS;
	r->records_done++;
	return (int)(s - r->slot);
}

uint32_t rec_slot_len(const struct rec_slot *s)
{
	uint32_t n = 0;
	unsigned int i;

	for (i = 0; i < s->cnt; i++)
		n += s->len[i];
	return n;
}

void rec_slot_release(struct rec_reasm *r, int slot)
{
	if (slot >= 0 && slot < REC_SLOTS)
		slot_clear(&r->slot[slot]);
}
