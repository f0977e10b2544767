// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data-plane header codec. Byte-wise loads and stores: the header sits at
 * an arbitrary offset inside a UMEM frame, so no aligned access is assumed.
 */
#include <errno.h>

#include "mavpn/util.h"
#include "mavpn/wire.h"

void wire_hdr_encode(uint8_t out[MAVPN_DATA_HDR_LEN], uint32_t key_id,
		     uint64_t counter)
{
	out[0] = MAVPN_MSG_DATA;
	out[1] = MAVPN_WIRE_VERSION;
	out[2] = 0;
	out[3] = 0;
	put_be32(out + 4, key_id);
	put_be64(out + 8, counter);
}

int wire_hdr_decode(const uint8_t *payload, size_t len, struct wire_hdr *h)
{
	/* An empty inner packet is never sent, so a datagram without at least
	 * one ciphertext byte is not worth a decryption attempt. */
	if (len < MAVPN_DATA_HDR_LEN + MAVPN_TAG_LEN + 1)
		return -EBADMSG;
	if (payload[0] != MAVPN_MSG_DATA || payload[1] != MAVPN_WIRE_VERSION)
		return -EBADMSG;
	/* Reserved must be zero so it can carry meaning in a later version. */
	if (payload[2] || payload[3])
		return -EBADMSG;
	h->key_id = get_be32(payload + 4);
	h->counter = get_be64(payload + 8);
	return 0;
}

void wire_nonce(uint8_t out[MAVPN_NONCE_LEN], uint64_t counter)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = 0;
	out[3] = 0;
	put_be64(out + 4, counter);
}
