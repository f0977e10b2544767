/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data port's messages besides data (types in mavpn/wire.h): endpoint
 * discovery with the server and path probes between peers. Every one is
 * authenticated with AES-256-GCM and has a fixed size; an answer is never
 * larger than the request it answers (no amplification).
 *
 * Discovery (DISCO_REQ from the host's data port to the server's UDP port,
 * DISCO_RESP back), PROBE_DISCO_LEN = 40 bytes:
 *   u8 type | u8 version | be16 reserved (0) | be32 probe id | be64 counter
 *   | 8 bytes sealed body | 16-byte tag
 * Key: the per-connection probe key from HELLO_ACK (CTLA_PROBE_KEY), the
 * id is CTLA_PROBE_ID. Nonce: be32 type | be64 counter (request and answer
 * differ by type; the server answers a counter once, strictly increasing).
 * AAD: the first 16 bytes. REQ body: 8 zero bytes (the answer's room).
 * RESP body: the address the request came from (probe_ep_put()).
 *
 * Peer probes (PROBE, PROBE_ACK, KEEPALIVE), PROBE_PEER_LEN = 48 bytes:
 *   the 16-byte data header (mavpn/wire.h) with the type byte changed
 *   | 16 bytes sealed body | 16-byte tag
 * Sealed under the session's directional key (wire_nonce(), AAD = the
 * header) with counters from 2^62 up (data stays below 2^60), checked
 * against a replay window of the probes' own, so a probe proves
 * possession of the key and cannot be replayed.
 * Body: be64 token | u8 flags (PROBE_F_*) | u8 reserved (0) | be16 port
 * | 4-byte IPv4 address (PROBE_ACK: where the PROBE came from; else 0).
 */
#ifndef MAVPN_PROBE_H
#define MAVPN_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "mavpn/aead.h"
#include "mavpn/wire.h"

#define PROBE_DISCO_BODY	8
#define PROBE_DISCO_LEN		(16 + PROBE_DISCO_BODY + AEAD_TAG_LEN)
#define PROBE_PEER_BODY		16
#define PROBE_PEER_LEN		(MAVPN_DATA_HDR_LEN + PROBE_PEER_BODY + \
				 AEAD_TAG_LEN)

/* Probe body flags */
#define PROBE_F_NAT		0x01	/* the sender is behind a NAT: send to
					 * it from your data port */

struct probe_disco {
	uint8_t type;			/* MAVPN_MSG_DISCO_REQ or _RESP */
	uint32_t id;
	uint64_t counter;
};

/* An IPv4 endpoint as carried in a body: u8 family (4) | u8 0 | be16 port
 * | 4-byte address. */
#define PROBE_EP_LEN		8
void probe_ep_put(uint8_t out[PROBE_EP_LEN], uint32_t ip, uint16_t port);
/* 0, or -EBADMSG (not family 4, reserved set, port or address 0). */
int probe_ep_get(const uint8_t in[PROBE_EP_LEN], uint32_t *ip,
		 uint16_t *port);

/* Seal a discovery message into @out. Returns PROBE_DISCO_LEN or -errno. */
int probe_disco_seal(struct aead *a, const struct probe_disco *h,
		     const uint8_t body[PROBE_DISCO_BODY],
		     uint8_t out[PROBE_DISCO_LEN]);
/* Header of a discovery message (structure only: length, type, version,
 * reserved): 0 or -EBADMSG. */
int probe_disco_peek(const uint8_t *pl, size_t len, struct probe_disco *h);
/* Authenticate and open a message probe_disco_peek() accepted: 0 and
 * @body, -EBADMSG (tag) or -EIO. */
int probe_disco_open(struct aead *a, const uint8_t *pl, size_t len,
		     uint8_t body[PROBE_DISCO_BODY]);

/* A peer probe's body. */
struct probe_body {
	uint64_t token;			/* echoed by PROBE_ACK */
	uint8_t flags;			/* PROBE_F_* */
	uint32_t ip;			/* PROBE_ACK: where the PROBE came */
	uint16_t port;			/* from (network order ip, host port);
					 * 0 in PROBE and KEEPALIVE */
};

/* Header of a peer probe (length, type PROBE/PROBE_ACK/KEEPALIVE,
 * version, reserved): 0 (@type, @h) or -EBADMSG. */
int probe_peer_peek(const uint8_t *pl, size_t len, uint8_t *type,
		    struct wire_hdr *h);
/* Seal a peer probe of @type under @a with @counter into @out. Returns
 * PROBE_PEER_LEN or -errno. */
int probe_peer_seal(struct aead *a, uint8_t type, uint32_t key_id,
		    uint64_t counter, const struct probe_body *b,
		    uint8_t out[PROBE_PEER_LEN]);
/* Open a peer probe probe_peer_peek() accepted: 0 and @b, -EBADMSG (tag
 * or body) or -EIO. */
int probe_peer_open(struct aead *a, const uint8_t *pl, size_t len,
		    struct probe_body *b);
/* The body codec alone (the fuzz target drives it): 0 or -EBADMSG. */
void probe_body_put(uint8_t out[PROBE_PEER_BODY], const struct probe_body *b);
int probe_body_get(const uint8_t in[PROBE_PEER_BODY], struct probe_body *b);

/*
 * Relay (the server forwards ciphertext between two online hosts that
 * found no direct path). RELAY, host -> relay:
 *   u8 type (7) | u8 version | be16 reserved (0) | be32 probe id
 *   | be64 counter | be32 destination overlay address | be32 reserved (0)
 *   | inner datagram (a sealed data or probe datagram, 1..PROBE_RELAY_MAX)
 *   | 16-byte tag
 * The tag is AES-GCM under the sender's probe key with no plaintext
 * (GMAC): nonce be32 7 | be64 counter, AAD = everything before the tag.
 * RELAYED, relay -> destination host: u8 type (8) | u8 version | be16 0
 * | be32 source overlay address | the inner datagram, as it came (it is
 * authenticated end to end by the session key; the relay holds none).
 */
#define PROBE_RELAY_HDR		24
#define PROBE_RELAYED_HDR	8
#define PROBE_RELAY_MAX		2048	/* inner datagram */

struct probe_relay {
	uint32_t id;			/* the sender's probe id */
	uint64_t counter;
	uint32_t dst;			/* network order */
	const uint8_t *inner;		/* into the datagram */
	size_t inner_len;
};

/* Wrap @inner into a RELAY at @out (room for PROBE_RELAY_HDR + inner_len
 * + AEAD_TAG_LEN). Returns the length or -errno. */
int probe_relay_seal(struct aead *a, const struct probe_relay *r,
		     uint8_t *out, size_t cap);
/* Structure of a RELAY (@r's fields point into @pl): 0 or -EBADMSG. */
int probe_relay_peek(const uint8_t *pl, size_t len, struct probe_relay *r);
/* Check a RELAY's tag: 0, -EBADMSG or -EIO. */
int probe_relay_verify(struct aead *a, const uint8_t *pl, size_t len);
/* The RELAYED header for @src in @out[0..PROBE_RELAYED_HDR). */
void probe_relayed_hdr(uint8_t out[PROBE_RELAYED_HDR], uint32_t src);
/* Structure of a RELAYED: 0 (@src, @inner) or -EBADMSG. */
int probe_relayed_peek(const uint8_t *pl, size_t len, uint32_t *src,
		       const uint8_t **inner, size_t *inner_len);

#endif /* MAVPN_PROBE_H */
