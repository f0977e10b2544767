/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Data-plane wire format: every limit and layout of an encrypted datagram.
 *
 *   outer Ethernet | outer IPv4 | UDP (dst port = peer's --port)
 *   | struct mavpn_data_hdr (16 bytes, also the AEAD's associated data)
 *   | AES-256-GCM ciphertext of the inner IP packet | 16-byte tag
 *
 * Nonce (12 bytes) = 4 zero bytes | be64 counter. Each direction of a
 * session has its own key (derived from the server-minted secret, see
 * aead.h), so a counter is unique per key; counters start at 1.
 */
#ifndef MAVPN_WIRE_H
#define MAVPN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mavpn/aead.h"

#define MAVPN_UDP_PORT_DEFAULT	51820
#define MAVPN_MSG_DATA		1
/* Datagram types 2..9 besides data (first byte of the UDP payload; layouts
 * and codec in mavpn/probe.h, docs/protocol.md "Discovery and probes"). */
#define MAVPN_MSG_DISCO_REQ	2	/* host -> server: where do you see me? */
#define MAVPN_MSG_DISCO_RESP	3	/* server -> host: there */
#define MAVPN_MSG_PROBE		4	/* host -> peer, under the session key */
#define MAVPN_MSG_PROBE_ACK	5	/* peer -> host: the answer to a PROBE */
#define MAVPN_MSG_KEEPALIVE	6	/* host -> peer: keeps NAT mappings open */
#define MAVPN_MSG_RELAY		7	/* host -> relay: forward to a peer */
#define MAVPN_MSG_RELAYED	8	/* relay -> peer: forwarded */
#define MAVPN_WIRE_VERSION	1

#define MAVPN_NONCE_LEN		12
#define MAVPN_TAG_LEN		16
#define MAVPN_DATA_HDR_LEN	16

#define MAVPN_ETH_HLEN		14
#define MAVPN_IP4_HLEN		20
#define MAVPN_UDP_HLEN		8
/* Bytes added to an inner IP packet, outer IPv4 + UDP + header + tag. */
#define MAVPN_OVERHEAD		(MAVPN_IP4_HLEN + MAVPN_UDP_HLEN + \
				 MAVPN_DATA_HDR_LEN + MAVPN_TAG_LEN)
#define MAVPN_UNDERLAY_MTU	1500
/* Overlay MTU: leaves room for the overhead and for a later IPv6 outer. */
#define MAVPN_OVERLAY_MTU	1420

struct mavpn_data_hdr {
	uint8_t type;		/* MAVPN_MSG_DATA */
	uint8_t version;	/* MAVPN_WIRE_VERSION */
	uint16_t reserved;	/* 0 */
	uint32_t key_id;	/* big-endian */
	uint64_t counter;	/* big-endian; the nonce's unique part */
} __attribute__((packed));

_Static_assert(sizeof(struct mavpn_data_hdr) == MAVPN_DATA_HDR_LEN,
	       "data header is 16 bytes on the wire");
/* The cipher (aead.h) names each size once; the wire layout must agree. */
_Static_assert(MAVPN_NONCE_LEN == AEAD_NONCE_LEN, "wire nonce = AEAD nonce");
_Static_assert(MAVPN_TAG_LEN == AEAD_TAG_LEN, "wire tag = AEAD tag");

/* Host-order view of a parsed header. */
struct wire_hdr {
	uint32_t key_id;
	uint64_t counter;
};

/* Write the 16-byte header for @key_id/@counter into @out. */
void wire_hdr_encode(uint8_t out[MAVPN_DATA_HDR_LEN], uint32_t key_id,
		     uint64_t counter);

/*
 * Parse a UDP payload of @len bytes. Returns 0 and fills @h if it is a data
 * message long enough to hold a header and a tag (and at least one byte of
 * ciphertext), -EBADMSG otherwise (bad type, version, reserved, or length).
 */
int wire_hdr_decode(const uint8_t *payload, size_t len, struct wire_hdr *h);

/* Build the 12-byte GCM nonce for @counter. */
void wire_nonce(uint8_t out[MAVPN_NONCE_LEN], uint64_t counter);

#endif /* MAVPN_WIRE_H */
