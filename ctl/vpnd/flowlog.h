/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vpnd's record of recent flows (`vpnctl flows`): a ring of the last
 * FLOWLOG_MAX flows the shims and the data plane reported, with the
 * application (cgroup path, pid, comm), the destination and what became of
 * it. Control thread only; no locking.
 */
#ifndef MAVPN_CTL_VPND_FLOWLOG_H
#define MAVPN_CTL_VPND_FLOWLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/shim_abi.h"

#define FLOWLOG_MAX	256

enum flowlog_verdict {
	FLOWLOG_PASS,		/* a key already existed */
	FLOWLOG_REQUESTED,	/* a key request went out (or waits for the link) */
	FLOWLOG_PENDING,	/* a request for this destination was in flight */
	FLOWLOG_GRANTED,	/* the server granted the key */
	FLOWLOG_DENIED,		/* the server refused, or no answer */
	FLOWLOG_BLOCKED,	/* not an attached cgroup: EPERM / dropped */
	FLOWLOG_FLOW_ASKED,	/* the flow's decision was asked for */
	FLOWLOG_FLOW_ALLOWED,	/* the server allowed this flow */
	FLOWLOG_FLOW_DENIED,	/* the server refused this flow (EPERM / drop) */
};

struct flowlog_entry {
	uint64_t ts_ms;			/* CLOCK_REALTIME, filled by add */
	uint32_t daddr;			/* network order */
	uint32_t via;			/* gateway overlay IP, 0: direct */
	uint16_t dport;			/* host order */
	uint8_t proto;
	uint8_t hook;			/* enum shim_hook, 0: data plane */
	uint8_t verdict;		/* enum flowlog_verdict */
	uint32_t pid;
	uint32_t uid;			/* SHIM_GID_NONE: unknown (data plane) */
	char user[CTLMSG_NAME_MAX];	/* uid's name on this host, "" */
	char comm[SHIM_COMM_LEN];
	char app[CTLMSG_APP_MAX];	/* cgroup path, "" for the data plane */
};

struct flowlog;

struct flowlog *flowlog_new(void);	/* NULL with errno */
void flowlog_free(struct flowlog *fl);	/* accepts NULL */

void flowlog_add(struct flowlog *fl, const struct flowlog_entry *e);
/* The answer for key destination @dst (overlay IP) arrived: entries still
 * REQUESTED/PENDING for it become @v. */
void flowlog_settle(struct flowlog *fl, uint32_t dst, enum flowlog_verdict v);

/* The server decided the flow of the entry whose @daddr, @dport, @proto
 * and @uid match and that is still FLOW_ASKED: it becomes @v. */
void flowlog_settle_flow(struct flowlog *fl, uint32_t daddr, uint16_t dport,
			 uint8_t proto, uint32_t uid, enum flowlog_verdict v);

/* Oldest first, text or one JSON array; malloc'd, NULL on ENOMEM. */
char *flowlog_format(const struct flowlog *fl, bool json);

#endif /* MAVPN_CTL_VPND_FLOWLOG_H */
