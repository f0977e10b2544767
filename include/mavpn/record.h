/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Records (super-packets), wire version 2: one large inner packet carried
 * by N consecutive underlay datagrams (docs/protocol.md, "Records"). This
 * is the codec alone: the 16-byte record header, the sender's split, and
 * the receiver's bounded reassembly of datagrams that already passed the
 * tag and replay checks. The data plane does not use it yet.
 *
 *   | type=16 | version=2 | idx | cnt | key_id (be32) | counter (be64) |
 *   | ciphertext of bytes [idx*seg, idx*seg + len) | 16-byte tag
 *
 * Datagram idx of a record uses counter base + idx (one fetch-add of N
 * reserves them); every datagram but the last carries exactly seg bytes.
 *
 * Reassembly state is per worker (struct rec_reasm, no lock). It holds the
 * caller's buffers by handle (e.g. a umem frame address): every handle
 * given to rec_add() comes back exactly once, through the completed slot
 * (rec_slot_release()) or the drop callback, never both and never twice.
 */
#ifndef MAVPN_RECORD_H
#define MAVPN_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "mavpn/wire.h"

#define MAVPN_MSG_RECORD	16	/* datagram types 16..23: records */
#define MAVPN_WIRE_VERSION_REC	2
#define REC_HDR_LEN		MAVPN_DATA_HDR_LEN
#define REC_DGRAMS_MAX		16	/* copy-mode AF_XDP: <= 17 descs/packet */
#define REC_SEG_MAX		2048	/* plaintext bytes per datagram */
#define REC_SLOTS		8	/* records in reassembly per worker */
#define REC_TIMEOUT_MS		20	/* an incomplete record is dropped */

struct rec_hdr {
	uint8_t idx;		/* 0..cnt-1 */
	uint8_t cnt;		/* 2..REC_DGRAMS_MAX */
	uint32_t key_id;
	uint64_t counter;	/* base + idx */
};

/* Write the 16-byte header of @h into @out. */
void rec_hdr_encode(uint8_t out[REC_HDR_LEN], const struct rec_hdr *h);

/*
 * Parse a UDP payload of @len bytes: 0 and @h filled if it is a record
 * datagram (type 16, version 2) with 2 <= cnt <= REC_DGRAMS_MAX, idx < cnt,
 * idx <= counter, room for a header, a tag and one ciphertext byte;
 * -EBADMSG otherwise.
 */
int rec_hdr_decode(const uint8_t *payload, size_t len, struct rec_hdr *h);

/* The record's first counter. */
static inline uint64_t rec_base(const struct rec_hdr *h)
{
	return h->counter - h->idx;
}

/*
 * Sender: how many datagrams carry @len bytes at @seg bytes each (the
 * last one 1..seg). 0 and *n (2..REC_DGRAMS_MAX) if it takes a record;
 * -EINVAL for a bad @seg (0 or above REC_SEG_MAX) or a @len that fits one
 * datagram (send it as type 1); -EMSGSIZE above REC_DGRAMS_MAX * @seg.
 */
int rec_split(uint32_t len, uint32_t seg, unsigned int *n);

/* Datagram @idx of a record of @len bytes split at @seg: offset, length. */
static inline uint32_t rec_piece_off(uint32_t seg, unsigned int idx)
{
	return seg * idx;
}

static inline uint32_t rec_piece_len(uint32_t len, uint32_t seg,
				     unsigned int idx)
{
	uint32_t off = seg * idx;

	return len - off < seg ? len - off : seg;
}

struct rec_slot {
	int used;
	uint32_t key_id;
	uint64_t base;
	uint64_t at_ms;			/* first datagram's arrival */
	uint8_t cnt;
	uint8_t have;			/* datagrams held */
	uint16_t seg;			/* 0 until a non-last datagram came */
	uint32_t mask;			/* bit idx: datagram held */
	uint16_t len[REC_DGRAMS_MAX];	/* plaintext bytes of each */
	uint64_t buf[REC_DGRAMS_MAX];	/* the caller's handles */
};

/* Give a handle back (the record it was in was dropped). */
typedef void (*rec_drop_fn)(void *arg, uint64_t handle);

struct rec_reasm {
	struct rec_slot slot[REC_SLOTS];
	rec_drop_fn drop;
	void *arg;
	uint64_t records_dropped;	/* incomplete: timed out, evicted,
					 * inconsistent */
	uint64_t records_done;
};

/* An empty reassembly; @drop gets every handle of a dropped record. */
void rec_reasm_init(struct rec_reasm *r, rec_drop_fn drop, void *arg);

/*
 * One authenticated datagram @h whose plaintext (@len bytes, at the
 * caller's buffer @handle) passed the replay window, at @now_ms.
 * Returns:
 *   >= 0  the slot index of the record it completed: read the pieces
 *         slot[i].buf[0..cnt-1] / len[] in order (rec_slot_len() is the
 *         total), then rec_slot_release();
 *   -EINPROGRESS  held, the record is not complete yet;
 *   -EBADMSG  the datagram does not fit its record (length against seg,
 *         cnt, a position already held): the handle is NOT taken (the
 *         caller frees it) and, for a length or cnt mismatch, the record
 *         is dropped (records_dropped).
 * Slots older than REC_TIMEOUT_MS are dropped first; with all slots busy
 * the oldest record is dropped to make room.
 */
int rec_add(struct rec_reasm *r, const struct rec_hdr *h, uint32_t len,
	    uint64_t handle, uint64_t now_ms);

/* Total plaintext of a complete slot. */
uint32_t rec_slot_len(const struct rec_slot *s);
/* Free a completed slot; its handles are the caller's again. */
void rec_slot_release(struct rec_reasm *r, int slot);

/* Drop every record older than REC_TIMEOUT_MS at @now_ms (also done by
 * rec_add); returns how many. */
unsigned int rec_expire(struct rec_reasm *r, uint64_t now_ms);
/* Drop everything held (shutdown, key retired). */
void rec_flush(struct rec_reasm *r);

#endif /* MAVPN_RECORD_H */
