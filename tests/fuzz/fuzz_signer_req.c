// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the CA signer's wire (authsrv/signer.c): the input
 * is what the network-facing server process could send the signer (which
 * holds the CA key), and what a signer could answer. Beyond "no crash, no
 * out-of-bounds read": a request that parses obeys every rule the signer
 * relies on (host-name rule, serial spelling, sizes) and re-encodes to
 * exactly the input, so there is one way to say each request.
 */
#include <stdint.h>
#include <string.h>

#include "../../authsrv/pki.h"
#include "../../authsrv/signer.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static struct signer_req req;
static uint8_t enc[SIGNER_REQ_MAX];
static char text[CTLMSG_PEM_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = 0;
	int status;

	if (signer_req_parse(data, size, &req) == 0) {
		CHECK(size <= SIGNER_REQ_MAX);
		CHECK(authsrv_valid_name(req.name));
		CHECK(pki_serial_ok(req.serial));
		CHECK(req.csr[0] && strlen(req.csr) < sizeof(req.csr));
		CHECK(signer_req_encode(&req, enc, sizeof(enc), &len) == 0);
		CHECK(len == size && memcmp(enc, data, size) == 0);
	}
	if (signer_resp_parse(data, size, &status, text, sizeof(text)) == 0)
		CHECK(status <= 0 && strlen(text) == size - 12);
	return 0;
}
