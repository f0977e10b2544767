// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authsrv.h"
#include "mavpn/tlsconn.h"

int authsrv_path(char *buf, size_t len, const char *dir, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool authsrv_name_syntax(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 63)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '-' && i > 0)
			continue;
		return false;
	}
	return true;
}

/*
 * A host name becomes a certificate CN that the server's own CA signs:
 * the server's name must never be one, or a host certificate could pass a
 * client's check of the server name (SSL_set1_host falls back to the CN).
 */
bool authsrv_valid_name(const char *s)
{
	return authsrv_name_syntax(s) && s[strlen(s) - 1] != '-' &&
	       strcmp(s, TLSCONN_SERVER_NAME) != 0;
}

bool authsrv_valid_tag(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= 32 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") >= 1 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == len;
}

void authsrv_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

