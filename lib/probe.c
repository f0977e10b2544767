// SPDX-License-Identifier: GPL-2.0-only
/*
 * Discovery and peer-probe messages of the data port (mavpn/probe.h).
 * Parsers of input from anyone on the underlay: every length is fixed and
 * checked before anything is read; tests/fuzz/fuzz_probe.c drives them.
 */
#include <errno.h>
#include <string.h>

#include "mavpn/probe.h"
#include "mavpn/util.h"

#define PROBE_HDR_LEN	16

_Static_assert(PROBE_HDR_LEN == MAVPN_DATA_HDR_LEN, "one header size");
_Static_assert(PROBE_DISCO_BODY == PROBE_EP_LEN, "an answer carries one endpoint");

void probe_ep_put(uint8_t out[PROBE_EP_LEN], uint32_t ip, uint16_t port)
{
	out[0] = 4;
	out[1] = 0;
	put_be16(out + 2, port);
	memcpy(out + 4, &ip, 4);
}

int probe_ep_get(const uint8_t in[PROBE_EP_LEN], uint32_t *ip,
		 uint16_t *port)
{
	if (in[0] != 4 || in[1])
		return -EBADMSG;
	*port = get_be16(in + 2);
	memcpy(ip, in + 4, 4);
	return *port && *ip ? 0 : -EBADMSG;
}

static void disco_nonce(uint8_t n[AEAD_NONCE_LEN], uint8_t type,
			uint64_t counter)
{
	put_be32(n, type);
	put_be64(n + 4, counter);
}

static void hdr_put(uint8_t *out, uint8_t type, uint32_t id, uint64_t ctr)
{
	out[0] = type;
	out[1] = MAVPN_WIRE_VERSION;
	out[2] = out[3] = 0;
	put_be32(out + 4, id);
	put_be64(out + 8, ctr);
}

int probe_disco_seal(struct aead *a, const struct probe_disco *h,
		     const uint8_t body[PROBE_DISCO_BODY],
		     uint8_t out[PROBE_DISCO_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];
	int n;

	if (h->type != MAVPN_MSG_DISCO_REQ && h->type != MAVPN_MSG_DISCO_RESP)
		return -EINVAL;
	hdr_put(out, h->type, h->id, h->counter);
	disco_nonce(nonce, h->type, h->counter);
	n = aead_seal(a, nonce, out, PROBE_HDR_LEN, body, PROBE_DISCO_BODY,
		      out + PROBE_HDR_LEN);
	return n < 0 ? n : PROBE_DISCO_LEN;
}

int probe_disco_peek(const uint8_t *pl, size_t len, struct probe_disco *h)
{
	if (len != PROBE_DISCO_LEN ||
	    (pl[0] != MAVPN_MSG_DISCO_REQ && pl[0] != MAVPN_MSG_DISCO_RESP) ||
	    pl[1] != MAVPN_WIRE_VERSION || pl[2] || pl[3])
		return -EBADMSG;
	h->type = pl[0];
	h->id = get_be32(pl + 4);
	h->counter = get_be64(pl + 8);
	return 0;
}

int probe_disco_open(struct aead *a, const uint8_t *pl, size_t len,
		     uint8_t body[PROBE_DISCO_BODY])
{
	uint8_t nonce[AEAD_NONCE_LEN], out[PROBE_DISCO_BODY + AEAD_TAG_LEN];
	struct probe_disco h;
	int n;

	if (probe_disco_peek(pl, len, &h))
		return -EBADMSG;
	disco_nonce(nonce, h.type, h.counter);
	n = aead_open(a, nonce, pl, PROBE_HDR_LEN, pl + PROBE_HDR_LEN,
		      len - PROBE_HDR_LEN, out);
	if (n < 0)
		return n;
	if (n != PROBE_DISCO_BODY)
		return -EBADMSG;
	memcpy(body, out, PROBE_DISCO_BODY);
	return 0;
}

void probe_body_put(uint8_t out[PROBE_PEER_BODY], const struct probe_body *b)
{
	put_be64(out, b->token);
	out[8] = b->flags;
	out[9] = 0;
	put_be16(out + 10, b->port);
	memcpy(out + 12, &b->ip, 4);
}

int probe_body_get(const uint8_t in[PROBE_PEER_BODY], struct probe_body *b)
{
	if (in[9])
		return -EBADMSG;
	b->token = get_be64(in);
	b->flags = in[8];
	b->port = get_be16(in + 10);
	memcpy(&b->ip, in + 12, 4);
	return 0;
}

int probe_peer_peek(const uint8_t *pl, size_t len, uint8_t *type,
		    struct wire_hdr *h)
{
	if (len != PROBE_PEER_LEN ||
	    (pl[0] != MAVPN_MSG_PROBE && pl[0] != MAVPN_MSG_PROBE_ACK &&
	     pl[0] != MAVPN_MSG_KEEPALIVE) ||
	    pl[1] != MAVPN_WIRE_VERSION || pl[2] || pl[3])
		return -EBADMSG;
	*type = pl[0];
	h->key_id = get_be32(pl + 4);
	h->counter = get_be64(pl + 8);
	return h->counter ? 0 : -EBADMSG;
}

int probe_peer_seal(struct aead *a, uint8_t type, uint32_t key_id,
		    uint64_t counter, const struct probe_body *b,
		    uint8_t out[PROBE_PEER_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN], body[PROBE_PEER_BODY];
	int n;

	hdr_put(out, type, key_id, counter);
	wire_nonce(nonce, counter);
	probe_body_put(body, b);
	n = aead_seal(a, nonce, out, PROBE_HDR_LEN, body, sizeof(body),
		      out + PROBE_HDR_LEN);
	return n < 0 ? n : PROBE_PEER_LEN;
}

int probe_peer_open(struct aead *a, const uint8_t *pl, size_t len,
		    struct probe_body *b)
{
	uint8_t nonce[AEAD_NONCE_LEN], out[PROBE_PEER_BODY + AEAD_TAG_LEN];
	struct wire_hdr h;
	uint8_t type;
	int n;

	if (probe_peer_peek(pl, len, &type, &h))
		return -EBADMSG;
	wire_nonce(nonce, h.counter);
	n = aead_open(a, nonce, pl, PROBE_HDR_LEN, pl + PROBE_HDR_LEN,
		      len - PROBE_HDR_LEN, out);
	if (n < 0)
		return n;
	if (n != PROBE_PEER_BODY)
		return -EBADMSG;
	return probe_body_get(out, b);
}

/* --- relay --------------------------------------------------------------- */

static void relay_nonce(uint8_t n[AEAD_NONCE_LEN], uint64_t counter)
{
	disco_nonce(n, MAVPN_MSG_RELAY, counter);
}

int probe_relay_seal(struct aead *a, const struct probe_relay *r,
		     uint8_t *out, size_t cap)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	size_t len = PROBE_RELAY_HDR + r->inner_len;
	int n;

	if (!r->inner_len || r->inner_len > PROBE_RELAY_MAX ||
	    cap < len + AEAD_TAG_LEN)
		return -EINVAL;
	hdr_put(out, MAVPN_MSG_RELAY, r->id, r->counter);
	memcpy(out + 16, &r->dst, 4);
	memset(out + 20, 0, 4);
	memmove(out + PROBE_RELAY_HDR, r->inner, r->inner_len);
	relay_nonce(nonce, r->counter);
	n = aead_seal(a, nonce, out, len, NULL, 0, out + len);
	return n < 0 ? n : (int)(len + AEAD_TAG_LEN);
}

int probe_relay_peek(const uint8_t *pl, size_t len, struct probe_relay *r)
{
	if (len < PROBE_RELAY_HDR + 1 + AEAD_TAG_LEN ||
	    len > PROBE_RELAY_HDR + PROBE_RELAY_MAX + AEAD_TAG_LEN ||
	    pl[0] != MAVPN_MSG_RELAY || pl[1] != MAVPN_WIRE_VERSION || pl[2] ||
	    pl[3] || get_be32(pl + 20))
		return -EBADMSG;
	r->id = get_be32(pl + 4);
	r->counter = get_be64(pl + 8);
	memcpy(&r->dst, pl + 16, 4);
	r->inner = pl + PROBE_RELAY_HDR;
	r->inner_len = len - PROBE_RELAY_HDR - AEAD_TAG_LEN;
	return r->counter && r->dst ? 0 : -EBADMSG;
}

int probe_relay_verify(struct aead *a, const uint8_t *pl, size_t len)
{
	uint8_t nonce[AEAD_NONCE_LEN], none[1];
	struct probe_relay r;
	int n;

	if (probe_relay_peek(pl, len, &r))
		return -EBADMSG;
	relay_nonce(nonce, r.counter);
	n = aead_open(a, nonce, pl, len - AEAD_TAG_LEN, pl + len - AEAD_TAG_LEN,
		      AEAD_TAG_LEN, none);
	return n < 0 ? n : 0;
}

void probe_relayed_hdr(uint8_t out[PROBE_RELAYED_HDR], uint32_t src)
{
	out[0] = MAVPN_MSG_RELAYED;
	out[1] = MAVPN_WIRE_VERSION;
	out[2] = out[3] = 0;
	memcpy(out + 4, &src, 4);
}

int probe_relayed_peek(const uint8_t *pl, size_t len, uint32_t *src,
		       const uint8_t **inner, size_t *inner_len)
{
	if (len < PROBE_RELAYED_HDR + 1 ||
	    len > PROBE_RELAYED_HDR + PROBE_RELAY_MAX ||
	    pl[0] != MAVPN_MSG_RELAYED || pl[1] != MAVPN_WIRE_VERSION ||
	    pl[2] || pl[3])
		return -EBADMSG;
	memcpy(src, pl + 4, 4);
	*inner = pl + PROBE_RELAYED_HDR;
	*inner_len = len - PROBE_RELAYED_HDR;
	return 0;
}
