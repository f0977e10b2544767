/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv access policy: which host (or tag), from which application, may
 * get a key to which host (or tag), optionally only for a protocol/port.
 *
 * Text format, one rule per line ('#' starts a comment, blank lines ok):
 *
 *   allow SRC -> DST [app GLOB] [user NAME|UID] [group NAME|GID]
 *                    [proto tcp|udp|icmp|NUM] [port N[-M]]
 *
 *   SRC, DST:  *            any enrolled host
 *              NAME         the host NAME (also written host:NAME)
 *              tag:TAG      any host enrolled with --tag TAG
 *   app GLOB:  fnmatch(3) pattern (no flags: '*' also matches '/') against
 *              the cgroup path the requester's KEY_REQ carries; a request
 *              without an app matches only rules without "app".
 *   user, group: the user (uid, or its name on the requesting host) and
 *              primary group (gid or name) of the process that opened the
 *              flow, as the host's socket shim saw it; a number matches the
 *              id, anything else the name. A request without them matches
 *              only rules without "user"/"group".
 *   proto/port: the flow that triggered the request (KEY_REQ dst_port,
 *              proto); a request that does not say matches only rules
 *              without them.
 *
 * No policy stored: every enrolled host may reach every other. A stored
 * policy is default deny: a key is granted only if some rule allows it.
 */
#ifndef AUTHSRV_POLICY_H
#define AUTHSRV_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_RULES	4096

struct policy;

struct policy_who {
	const char *name;
	const char *tags;	/* comma-separated, as in the registry */
};

struct policy_req {
	const char *app;	/* NULL: not carried */
	bool has_uid, has_gid;
	uint32_t uid, gid;
	const char *user;	/* NULL: not carried */
	const char *group;	/* NULL: not carried */
	uint8_t proto;		/* 0: not carried */
	uint16_t port;		/* 0: not carried */
};

/* Parse @text. NULL on error with "line N: reason" in @err. */
struct policy *policy_parse(const char *text, char *err, size_t errlen);
void policy_free(struct policy *p);
int policy_nrules(const struct policy *p);
/* NULL policy: true (the default). */
bool policy_allows(const struct policy *p, const struct policy_who *a,
		   const struct policy_who *b, const struct policy_req *rq);
/*
 * Could any flow from @a to @b on @proto/@port (0: any) be allowed, for
 * some application and user? (An inbound flow: we do not know the peer's
 * application or user.) NULL policy: true.
 */
bool policy_may_reach(const struct policy *p, const struct policy_who *a,
		      const struct policy_who *b, uint8_t proto,
		      uint16_t port);

#endif /* AUTHSRV_POLICY_H */
