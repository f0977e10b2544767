/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv PKI: the CA, the server certificate, signing host CSRs.
 * All keys are EC P-256; all signatures SHA-256.
 */
#ifndef AUTHSRV_PKI_H
#define AUTHSRV_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>

#include "authsrv.h"

struct pki;

/*
 * Create ca.pem, ca.key, server.pem (leaf + CA) and server.key in @dir.
 * Key files are created 0600 and never overwritten (-EEXIST). On failure
 * @why says what failed.
 */
int pki_create(const char *dir, const char **why);

/* SHA-256 over the CA certificate's DER, lowercase hex (65 bytes). */
int pki_fingerprint_file(const char *ca_pem_path, char hex[AUTHSRV_FP_HEX_LEN + 1]);

/*
 * Load the CA certificate from @dir, and with @with_key its private key
 * (for signing: the signer process, the offline CLI). The network-facing
 * server loads the certificate only. NULL + errno.
 */
struct pki *pki_load(const char *dir, bool with_key);
void pki_free(struct pki *p);
const char *pki_ca_pem(const struct pki *p);	/* PEM text */
const char *pki_ca_fp(const struct pki *p);	/* hex fingerprint */

/* Is @csr_pem acceptable (see pki_sign_csr)? 0 or -EINVAL with @why. */
int pki_check_csr(const char *csr_pem, const char **why);
/*
 * Sign @csr_pem for host @name: the CSR must parse and carry a valid self
 * signature on an acceptable key; the certificate gets CN=@name (nothing
 * of the CSR's subject or extensions is copied), EKU clientAuth, one year,
 * serial @serial_hex (see pki_serial_ok). @cert_pem receives PEM text.
 * 0, or -EINVAL (bad CSR or serial, @why set) / -EPERM (loaded without
 * the key) / -ENOMEM / -EIO / -EMSGSIZE.
 */
int pki_sign_csr(struct pki *p, const char *csr_pem, const char *name,
		 const char *serial_hex, char *cert_pem, size_t cap,
		 const char **why);
/* A fresh serial: 127 random bits, nonzero, in its one spelling (lowercase
 * hex of whole bytes, as the registry stores it). 0 or -EIO. */
int pki_new_serial(char serial_hex[AUTHSRV_SERIAL_HEX_MAX]);
/* Is @serial_hex a serial in that spelling (positive, at most 159 bits)? */
bool pki_serial_ok(const char *serial_hex);

/* Common name of @x into @buf (0, or -EINVAL if none or too long). */
int pki_cert_cn(X509 *x, char *buf, size_t len);
/* Serial of @x as lowercase hex. */
int pki_cert_serial(X509 *x, char serial_hex[AUTHSRV_SERIAL_HEX_MAX]);

#endif /* AUTHSRV_PKI_H */
