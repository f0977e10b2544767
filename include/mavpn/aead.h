/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * AES-256-GCM behind one module (OpenSSL EVP). One struct aead per key and
 * per thread: a context is not shared between threads. Any libcrypto failure
 * is -EIO; a tag mismatch is -EBADMSG. Keys are wiped when freed.
 */
#ifndef MAVPN_AEAD_H
#define MAVPN_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN	32
#define AEAD_NONCE_LEN	12
#define AEAD_TAG_LEN	16

struct aead;

/* NULL with errno set (ENOMEM, EIO) on failure. */
struct aead *aead_new(const uint8_t key[AEAD_KEY_LEN]);
void aead_free(struct aead *a);		/* accepts NULL; wipes key state */

/*
 * Encrypt @ptlen bytes of @pt into @out (ptlen bytes of ciphertext followed
 * by the 16-byte tag; @out may equal @pt). Returns ptlen + 16 or -EIO.
 */
int aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
	      const uint8_t *aad, size_t aadlen,
	      const uint8_t *pt, size_t ptlen, uint8_t *out);

/*
 * Decrypt @ctlen bytes (ciphertext then tag) of @ct into @out (@out may
 * equal @ct). Returns the plaintext length, -EBADMSG if the tag does not
 * verify or ctlen < 16 (nothing in @out is then to be used), -EIO.
 */
int aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
	      const uint8_t *aad, size_t aadlen,
	      const uint8_t *ct, size_t ctlen, uint8_t *out);

/*
 * Derive the two directional keys of a session from the server-minted
 * secret with HKDF-SHA256. @initiator is 1 on the host that requested the
 * key, 0 on the host it was pushed to; the initiator's tx key is the
 * responder's rx key and vice versa. Returns 0 or -EIO.
 */
int aead_derive_keys(const uint8_t secret[AEAD_KEY_LEN], int initiator,
		     uint8_t tx[AEAD_KEY_LEN], uint8_t rx[AEAD_KEY_LEN]);

/* Zero memory in a way the compiler keeps. */
void aead_wipe(void *p, size_t len);

#endif /* MAVPN_AEAD_H */
