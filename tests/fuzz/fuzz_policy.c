// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the policy parser and evaluator (authsrv/policy.c):
 * the text comes from an operator's file, the request fields (application,
 * user and group names, ids, protocol, port) from a host's FLOW_REQ or
 * KEY_REQ, which a compromised host chooses.
 *
 * The input: policy text, then after the first NUL byte a request (app,
 * user, group as NUL-separated strings, then uid, gid, port, proto as raw
 * bytes). Whatever parses is evaluated against the request with every
 * combination of known/unknown ids; an error always names its line.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../authsrv/policy.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* The next NUL-terminated piece of [*p, end), or NULL. */
static const char *piece(const char **p, const char *end)
{
	const char *s = *p, *z;

	if (s >= end)
		return NULL;
	z = memchr(s, '\0', (size_t)(end - s));
	if (!z)
		return NULL;
	*p = z + 1;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[][2] = {
		{ "h1", "" }, { "h2", "web" }, { "db1", "a,b,web" },
	};
	char *buf = malloc(size + 1), err[256];
	const char *p, *end, *app, *user, *group;
	struct policy_req rq;
	struct policy *pol;
	uint8_t tail[11] = { 0 };
	size_t i, j, tl;
	int mode;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	end = buf + size + 1;
	p = buf;
	piece(&p, end);			/* the policy text */
	app = piece(&p, end);
	user = piece(&p, end);
	group = piece(&p, end);
	tl = p < end ? (size_t)(end - p) : 0;
	if (tl > sizeof(tail))
		tl = sizeof(tail);
	if (tl)
		memcpy(tail, p, tl);

	err[0] = '\0';
	pol = policy_parse(buf, err, sizeof(err));
	if (!pol) {
		CHECK(!strncmp(err, "line ", 5) || !strcmp(err, "out of memory"));
		free(buf);
		return 0;
	}
	CHECK(policy_nrules(pol) >= 0 && policy_nrules(pol) <= POLICY_MAX_RULES);
	for (mode = 0; mode < 4; mode++) {
		memset(&rq, 0, sizeof(rq));
		rq.app = app;
		rq.has_uid = mode & 1;
		rq.has_gid = mode & 2;
		memcpy(&rq.uid, tail, 4);
		memcpy(&rq.gid, tail + 4, 4);
		rq.user = mode ? user : NULL;
		rq.group = mode ? group : NULL;
		rq.port = (uint16_t)(tail[8] | tail[9] << 8);
		rq.proto = tail[10];
		for (i = 0; i < 3; i++)
			for (j = 0; j < 3; j++) {
				struct policy_who a = { hosts[i][0], hosts[i][1] };
				struct policy_who b = { hosts[j][0], hosts[j][1] };
				/* a request that carries nothing is
				 * allowed only if one without user and
				 * group is */
				bool yes = policy_allows(pol, &a, &b, &rq);

				if (mode == 0 && yes)
					CHECK(policy_allows(pol, &a, &b, &rq));
			}
	}
	policy_free(pol);
	free(buf);
	return 0;
}
