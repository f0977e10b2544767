// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the data plane's decapsulation (ctl/datapath/dp_decap.c):
 * everything a worker does with a datagram from the wire before it hands
 * the inner packet to the overlay, without AF_XDP. One peer with one
 * session is installed; the first input byte picks the mode:
 *
 *   0: the rest is an outer Ethernet frame (dp_decap_outer + dp_decap)
 *   1: the rest is a UDP payload (dp_decap)
 *   2: the rest is a list of records  be64 counter | u8 len | len bytes ;
 *      each is sealed with the peer's real key, optionally with one bit
 *      flipped (top bit of len), and opened: this reaches the replay
 *      window and the inner-address checks, which forged tags never do.
 *
 * Invariants checked: a DP_DROP_NONE result has an inner length within
 * the output buffer, and the same authenticated counter is never
 * accepted twice.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mavpn/aead.h"
#include "mavpn/wire.h"
#include "dp_decap.h"

#define KID		0x01020304u
#define SELF_IP		0x0a000001u	/* host order, converted below */
#define PEER_IP		0x0a000002u

static struct dp_peers peers;
static struct dp_session *sess;
static struct aead *peer_tx;		/* the peer's tx key = our rx key */

static void setup(void)
{
	struct dp_key k = {
		.key_id = KID,
		.initiator = 0,
		.peer_name = "fuzz",
		.peer_overlay_ip = 0,
		.peer_underlay_ip = 1,
		.peer_port = 1,
	};
	uint8_t tx[AEAD_KEY_LEN], rx[AEAD_KEY_LEN];
	struct dp_peer *p;

	memset(k.secret, 0x42, sizeof(k.secret));
	k.peer_overlay_ip = htonl(PEER_IP);
	sess = dp_session_new(&k, 1, 0);
	p = dp_peer_get(&peers, k.peer_overlay_ip, 0);
	if (!sess || !p)
		abort();
	dp_session_install(&peers, p, sess);
	if (aead_derive_keys(k.secret, 1, tx, rx))
		abort();
	peer_tx = aead_new(tx);
	if (!peer_tx)
		abort();
}

static enum dp_drop open_one(const uint8_t *pl, uint32_t len)
{
	struct dp_decap_ctx c = {
		.peers = &peers,
		.self_ip = htonl(SELF_IP),
		.worker = 0,
		.now_ms = 1,
	};
	struct dp_session *s;
	uint32_t n = 0;
	uint8_t *out = malloc(len ? len : 1);	/* exact size: ASan sees overflows */
	enum dp_drop why;

	if (!out)
		abort();
	why = dp_decap(&c, pl, len, out, &n, &s);
	if (why == DP_DROP_NONE && (n > len || !s))
		abort();
	free(out);
	return why;
}

static void sealed_records(const uint8_t *d, size_t len)
{
	uint8_t pl[MAVPN_DATA_HDR_LEN + 255 + MAVPN_TAG_LEN];
	uint8_t nonce[MAVPN_NONCE_LEN];

	replay_init(&sess->replay);
	while (len >= 9) {
		uint64_t ctr;
		uint32_t n = d[8] & 0x7f;
		int flip = d[8] & 0x80, m;

		memcpy(&ctr, d, 8);
		ctr = be64toh(ctr);
		d += 9;
		len -= 9;
		if (n > len)
			n = len;
		wire_hdr_encode(pl, KID, ctr);
		wire_nonce(nonce, ctr);
		m = aead_seal(peer_tx, nonce, pl, MAVPN_DATA_HDR_LEN, d, n,
			      pl + MAVPN_DATA_HDR_LEN);
		if (m < 0)
			abort();
		if (flip && n)
			pl[MAVPN_DATA_HDR_LEN + d[0] % n] ^= 1;
		if (open_one(pl, MAVPN_DATA_HDR_LEN + m) == DP_DROP_NONE) {
			/* accepted: the window must now refuse it */
			if (flip || ctr == 0 ||
			    open_one(pl, MAVPN_DATA_HDR_LEN + m) !=
				    DP_DROP_REPLAY)
				abort();
		}
		d += n;
		len -= n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *pl;
	uint32_t pllen;

	if (!sess)
		setup();
	if (size < 1 || size > 4096)
		return 0;
	switch (data[0] % 3) {
	case 0: {
		uint8_t *f = malloc(size - 1 ? size - 1 : 1);

		if (!f)
			abort();
		memcpy(f, data + 1, size - 1);
		if (dp_decap_outer(f, size - 1, &pl, &pllen) == DP_DROP_NONE) {
			if (pl < f || pl + pllen > f + size - 1)
				abort();
			open_one(pl, pllen);
		}
		free(f);
		break;
	}
	case 1:
		open_one(data + 1, size - 1);
		break;
	default:
		sealed_records(data + 1, size - 1);
		break;
	}
	return 0;
}
