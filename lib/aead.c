// SPDX-License-Identifier: GPL-2.0-only
/*
 * AES-256-GCM through OpenSSL 3 EVP.
 *
 * Each struct aead owns one encryption and one decryption context. The key
 * is installed once in aead_new(), which runs the AES key schedule and the
 * GHASH key setup; every seal/open then only re-initialises the context with
 * a new IV (cipher and key NULL), which keeps that expensive state. This is
 * why a struct aead is per key and per thread.
 *
 * Any libcrypto failure maps to -EIO, a failed tag check to -EBADMSG, so
 * callers can count authentication drops apart from internal errors.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "mavpn/aead.h"

struct aead {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

void aead_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

struct aead *aead_new(const uint8_t key[AEAD_KEY_LEN])
{
	struct aead *a;

	a = calloc(1, sizeof(*a));
	if (!a) {
		errno = ENOMEM;
		return NULL;
	}
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	if (!a->enc || !a->dec)
		goto err_free;
	/* 12 bytes is GCM's default IV length: no SET_IVLEN needed. */
	if (EVP_EncryptInit_ex(a->enc, EVP_aes_256_gcm(), NULL, key, NULL) != 1)
		goto err_free;
	if (EVP_DecryptInit_ex(a->dec, EVP_aes_256_gcm(), NULL, key, NULL) != 1)
		goto err_free;
	return a;

err_free:
	aead_free(a);
	errno = EIO;
	return NULL;
}

void aead_free(struct aead *a)
{
	if (!a)
		return;
	/* EVP_CIPHER_CTX_free() cleanses the key schedule it holds. */
	EVP_CIPHER_CTX_free(a->enc);
	EVP_CIPHER_CTX_free(a->dec);
	free(a);
}

int aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
	      const uint8_t *aad, size_t aadlen,
	      const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	int n, fin;

	/* EVP takes int lengths and we return ptlen + tag as an int. */
	if (aadlen > INT_MAX || ptlen > (size_t)INT_MAX - AEAD_TAG_LEN)
		return -EIO;
	if (EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, nonce) != 1)
		return -EIO;
	if (aadlen &&
	    EVP_EncryptUpdate(a->enc, NULL, &n, aad, (int)aadlen) != 1)
		return -EIO;
	n = 0;
	if (ptlen && EVP_EncryptUpdate(a->enc, out, &n, pt, (int)ptlen) != 1)
		return -EIO;
	if (EVP_EncryptFinal_ex(a->enc, out + n, &fin) != 1)
		return -EIO;
	if ((size_t)(n + fin) != ptlen)
		return -EIO;
	if (EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN,
				out + ptlen) != 1)
		return -EIO;
	return (int)ptlen + AEAD_TAG_LEN;
}

int aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
	      const uint8_t *aad, size_t aadlen,
	      const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	uint8_t tag[AEAD_TAG_LEN];
	size_t ptlen;
	int n, fin;

	if (ctlen < AEAD_TAG_LEN)
		return -EBADMSG;
	ptlen = ctlen - AEAD_TAG_LEN;
	if (aadlen > INT_MAX || ptlen > INT_MAX)
		return -EIO;
	/* Copy the tag first: with out == ct the plaintext may not clobber
	 * it, but keeping it aside makes that independent of EVP internals. */
	memcpy(tag, ct + ptlen, AEAD_TAG_LEN);
	if (EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, nonce) != 1)
		return -EIO;
	if (aadlen &&
	    EVP_DecryptUpdate(a->dec, NULL, &n, aad, (int)aadlen) != 1)
		return -EIO;
	n = 0;
	if (ptlen && EVP_DecryptUpdate(a->dec, out, &n, ct, (int)ptlen) != 1)
		return -EIO;
	if (EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN,
				tag) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(a->dec, out + n, &fin) != 1) {
		/* Never leave unauthenticated plaintext behind. */
		aead_wipe(out, ptlen);
		return -EBADMSG;
	}
	return (int)ptlen;
}

static int aead_hkdf(const uint8_t secret[AEAD_KEY_LEN], const char *info,
		     uint8_t out[AEAD_KEY_LEN])
{
	static const char salt[] = "mavpn-v1";
	OSSL_PARAM params[5], *p = params;
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;
	int ret = -EIO;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		return -EIO;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!kctx)
		return -EIO;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)secret, AEAD_KEY_LEN);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						 (void *)salt,
						 sizeof(salt) - 1);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						 (void *)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, AEAD_KEY_LEN, params) == 1)
		ret = 0;
	EVP_KDF_CTX_free(kctx);
	return ret;
}

int aead_derive_keys(const uint8_t secret[AEAD_KEY_LEN], int initiator,
		     uint8_t tx[AEAD_KEY_LEN], uint8_t rx[AEAD_KEY_LEN])
{
	/* One key per direction, so both hosts can start their counters at 1
	 * without ever reusing a (key, nonce) pair. */
	static const char i2r[] = "mavpn v1 initiator->responder";
	static const char r2i[] = "mavpn v1 responder->initiator";
	int ret;

	ret = aead_hkdf(secret, initiator ? i2r : r2i, tx);
	if (!ret)
		ret = aead_hkdf(secret, initiator ? r2i : i2r, rx);
	if (ret) {
		aead_wipe(tx, AEAD_KEY_LEN);
		aead_wipe(rx, AEAD_KEY_LEN);
	}
	return ret;
}
