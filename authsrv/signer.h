/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv CA signer (signer.c): privilege separation as in OpenSSH's
 * monitor. The CA private key lives only in a small child process;
 * `authsrv serve` (the network-facing parent) never reads it.
 *
 *   parent                                  signer (child)
 *   signer_start(): socketpair, fork ─────▶ PR_SET_PDEATHSIG, not dumpable,
 *                                           every other fd closed, no core,
 *                                           loads ca.pem + ca.key
 *                  ◀── ready (or the error) ─┘
 *   signer_sign(): {NAME, SERIAL, CSR} ───▶ checks them itself (sizes, NAME
 *                                           rule, serial spelling, CSR
 *                                           parses and its self-signature
 *                                           verifies), signs
 *                  ◀── {0, certificate PEM} or {-errno, reason}
 *
 * One request kind only: "sign this CSR for host NAME with serial S". The
 * certificate carries nothing else the parent could choose (CN = NAME,
 * clientAuth, one year). The socketpair is SOCK_SEQPACKET: one datagram
 * per request and per answer, so there is no framing to get wrong.
 *
 * The signer exits on EOF (the parent closed or died) and by
 * PR_SET_PDEATHSIG. A signer that dies or hangs (SIGNER_TIMEOUT_MS) is
 * reaped and started again, once per server run; after that, enrollment
 * is refused ("certificate signer unavailable") and everything else goes
 * on.
 */
#ifndef AUTHSRV_SIGNER_H
#define AUTHSRV_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "authsrv.h"
#include "mavpn/ctlmsg.h"

#define SIGNER_TIMEOUT_MS	5000	/* start, and one signature */
#define SIGNER_RESTARTS		1	/* per server run */

#define SIGNER_MAGIC_REQ	0x4d565351u	/* "MVSQ" */
#define SIGNER_MAGIC_RESP	0x4d565352u	/* "MVSR" */

/* The request datagram: this header, then name, serial, csr (no NULs). */
struct signer_req_hdr {
	uint32_t magic;
	uint16_t name_len;		/* 1 .. CTLMSG_NAME_MAX - 1 */
	uint16_t serial_len;		/* 1 .. AUTHSRV_SERIAL_HEX_MAX - 1 */
	uint32_t csr_len;		/* 1 .. CTLMSG_PEM_MAX - 1 */
};

/* The answer: this header, then the certificate PEM (status 0) or the
 * reason (status -errno). */
struct signer_resp_hdr {
	uint32_t magic;
	int32_t status;
	uint32_t len;			/* < CTLMSG_PEM_MAX */
};

#define SIGNER_REQ_MAX	(sizeof(struct signer_req_hdr) + CTLMSG_NAME_MAX + \
			 AUTHSRV_SERIAL_HEX_MAX + CTLMSG_PEM_MAX)
#define SIGNER_RESP_MAX	(sizeof(struct signer_resp_hdr) + CTLMSG_PEM_MAX)

/* A request, parsed: NUL-terminated copies. */
struct signer_req {
	char name[CTLMSG_NAME_MAX];
	char serial[AUTHSRV_SERIAL_HEX_MAX];
	char csr[CTLMSG_PEM_MAX];
};

struct signer;

/*
 * Fork the signer for state directory @dir and wait until it holds the CA
 * key. 0, or -errno with @err set (e.g. the signer could not load the CA).
 */
int signer_start(const char *dir, struct signer **out, char *err,
		 size_t errlen);
/* Close the socketpair (the signer exits) and reap it. NULL: no-op. */
void signer_stop(struct signer *sg);
/* The signer's pid, 0 when there is none. */
pid_t signer_pid(const struct signer *sg);
/*
 * Have @csr signed for host @name with serial @serial: the certificate PEM
 * into @cert. 0; -EINVAL with the signer's reason in @why (a bad request);
 * -EPIPE: no signer (dead and not restartable); other -errno.
 */
int signer_sign(struct signer *sg, const char *csr, const char *name,
		const char *serial, char *cert, size_t cap, char *why,
		size_t whylen);
/* Once per server tick: reap a signer that died, start it again if the
 * restart is not used up. */
void signer_tick(struct signer *sg);

/* The wire, for both ends and the fuzz target: 0 or -EINVAL. Parsing
 * checks every size, the NAME rule (authsrv_valid_name) and the serial's
 * spelling (pki_serial_ok); the CSR is checked when it is signed. */
int signer_req_encode(const struct signer_req *r, uint8_t *buf, size_t cap,
		      size_t *len);
int signer_req_parse(const uint8_t *buf, size_t len, struct signer_req *r);
int signer_resp_parse(const uint8_t *buf, size_t len, int *status,
		      char *text, size_t cap);

#endif /* AUTHSRV_SIGNER_H */
