// SPDX-License-Identifier: GPL-2.0-only
/*
 * Recent flows for `vpnctl flows`. A fixed ring: the newest entry
 * overwrites the oldest, so memory stays bounded however busy the host is
 * (the shim already dedups per destination and second, so one busy
 * application does not push everything else out at once).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mavpn/jsonw.h"
#include "flowlog.h"

struct flowlog {
	unsigned int head;		/* next slot to write */
	unsigned int n;			/* valid entries, <= FLOWLOG_MAX */
	struct flowlog_entry e[FLOWLOG_MAX];
};

static const char *const verdict_names[] = {
	[FLOWLOG_PASS] = "pass",
	[FLOWLOG_REQUESTED] = "key-requested",
	[FLOWLOG_PENDING] = "key-pending",
	[FLOWLOG_GRANTED] = "key-granted",
	[FLOWLOG_DENIED] = "key-denied",
	[FLOWLOG_BLOCKED] = "blocked",
	[FLOWLOG_FLOW_ASKED] = "flow-asked",
	[FLOWLOG_FLOW_ALLOWED] = "flow-allowed",
	[FLOWLOG_FLOW_DENIED] = "flow-denied",
};

static const char *const hook_names[] = {
	[0] = "datapath",
	[SHIM_HOOK_CONNECT4] = "connect4",
	[SHIM_HOOK_SENDMSG4] = "sendmsg4",
	[SHIM_HOOK_CONNECT6] = "connect6",
	[SHIM_HOOK_SENDMSG6] = "sendmsg6",
	[SHIM_HOOK_EGRESS] = "egress",
};

static const char *flowlog_verdict_name(enum flowlog_verdict v)
{
	return (unsigned int)v < sizeof(verdict_names) / sizeof(verdict_names[0])
	       ? verdict_names[v] : "unknown";
}

static const char *hook_name(unsigned int h)
{
	return h < sizeof(hook_names) / sizeof(hook_names[0]) && hook_names[h]
	       ? hook_names[h] : "unknown";
}

static const char *proto_name(unsigned int p, char buf[8])
{
	if (p == 6)
		return "tcp";
	if (p == 17)
		return "udp";
	if (p == 1)
		return "icmp";
	snprintf(buf, 8, "%u", p);
	return buf;
}

struct flowlog *flowlog_new(void)
{
	return calloc(1, sizeof(struct flowlog));
}

void flowlog_free(struct flowlog *fl)
{
	free(fl);
}

void flowlog_add(struct flowlog *fl, const struct flowlog_entry *e)
{
	struct flowlog_entry *d = &fl->e[fl->head];
	struct timespec ts;

	*d = *e;
	clock_gettime(CLOCK_REALTIME, &ts);
	d->ts_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	d->comm[sizeof(d->comm) - 1] = '\0';
	d->app[sizeof(d->app) - 1] = '\0';
	d->user[sizeof(d->user) - 1] = '\0';
	fl->head = (fl->head + 1) % FLOWLOG_MAX;
	if (fl->n < FLOWLOG_MAX)
		fl->n++;
}

void flowlog_settle(struct flowlog *fl, uint32_t dst, enum flowlog_verdict v)
{
	struct flowlog_entry *e;
	unsigned int i;

	for (i = 0; i < fl->n; i++) {
		e = &fl->e[i];
		if ((e->verdict == FLOWLOG_REQUESTED ||
		     e->verdict == FLOWLOG_PENDING) &&
		    (e->via ? e->via : e->daddr) == dst)
			e->verdict = v;
	}
}

void flowlog_settle_flow(struct flowlog *fl, uint32_t daddr, uint16_t dport,
			 uint8_t proto, uint32_t uid, enum flowlog_verdict v)
{
	struct flowlog_entry *e;
	unsigned int i;

	for (i = 0; i < fl->n; i++) {
		e = &fl->e[i];
		if (e->verdict == FLOWLOG_FLOW_ASKED && e->daddr == daddr &&
		    e->dport == dport && e->proto == proto && e->uid == uid)
			e->verdict = v;
	}
}

/* "NAME(UID)", "UID" or "-" */
static const char *user_str(const struct flowlog_entry *e, char *buf,
			    size_t len)
{
	if (e->uid == SHIM_GID_NONE)
		snprintf(buf, len, "-");
	else if (e->user[0])
		snprintf(buf, len, "%s(%u)", e->user, e->uid);
	else
		snprintf(buf, len, "%u", e->uid);
	return buf;
}

static const struct flowlog_entry *nth(const struct flowlog *fl,
				       unsigned int i)
{
	return &fl->e[(fl->head + FLOWLOG_MAX - fl->n + i) % FLOWLOG_MAX];
}

static void fmt_time(uint64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000);
	size_t n;
	struct tm tm;

	gmtime_r(&t, &tm);
	n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03uZ", (unsigned int)(ms % 1000));
}

static char *format_json(const struct flowlog *fl)
{
	char ip[INET_ADDRSTRLEN], t[32], pb[8];
	const struct flowlog_entry *e;
	struct jsonw *j = jsonw_new();
	char *out = NULL;
	unsigned int i;

	if (!j)
		return NULL;
	jsonw_arr_begin(j, NULL);
	for (i = 0; i < fl->n; i++) {
		e = nth(fl, i);
		fmt_time(e->ts_ms, t);
		jsonw_obj_begin(j, NULL);
		jsonw_str(j, "time", t);
		jsonw_u64(j, "ts_ms", e->ts_ms);
		jsonw_str(j, "app", e->app[0] ? e->app : NULL);
		jsonw_u64(j, "pid", e->pid);
		if (e->uid == SHIM_GID_NONE) {
			jsonw_null(j, "uid");
			jsonw_null(j, "user");
		} else {
			jsonw_u64(j, "uid", e->uid);
			jsonw_str(j, "user", e->user[0] ? e->user : NULL);
		}
		jsonw_str(j, "comm", e->comm);
		jsonw_str(j, "dst", inet_ntop(AF_INET, &e->daddr, ip,
					      sizeof(ip)));
		jsonw_u64(j, "dport", e->dport);
		jsonw_str(j, "proto", proto_name(e->proto, pb));
		jsonw_str(j, "hook", hook_name(e->hook));
		if (e->via)
			jsonw_str(j, "via", inet_ntop(AF_INET, &e->via, ip,
						      sizeof(ip)));
		else
			jsonw_null(j, "via");
		jsonw_str(j, "verdict", flowlog_verdict_name(e->verdict));
		jsonw_obj_end(j);
	}
	jsonw_arr_end(j);
	if (jsonw_get(j) && asprintf(&out, "%s\n", jsonw_get(j)) < 0)
		out = NULL;
	jsonw_free(j);
	return out;
}

/*
 * For the text table: comm and the cgroup path come from the process
 * (prctl(PR_SET_NAME), mkdir), so control bytes (terminal escapes), DEL and
 * the backslash are written as \xNN. Non-ASCII bytes are left (UTF-8).
 */
static const char *text_escape(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	unsigned char c;

	for (; (c = (unsigned char)*in) && o + 5 <= size; in++) {
		if (c < 0x20 || c == 0x7f || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

char *flowlog_format(const struct flowlog *fl, bool json)
{
	char ip[INET_ADDRSTRLEN], dst[32], t[32], pb[8];
	char comm[4 * SHIM_COMM_LEN + 1], app[4 * CTLMSG_APP_MAX + 1];
	char user[CTLMSG_NAME_MAX + 16], ueb[4 * sizeof(user) + 1];
	const struct flowlog_entry *e;
	char *text = NULL;
	size_t len = 0;
	unsigned int i;
	FILE *f;

	if (json)
		return format_json(fl);
	f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	fprintf(f, "%-24s %-14s %-21s %-5s %-8s %7s %-16s %-16s %s\n",
		"TIME", "VERDICT", "DESTINATION", "PROTO", "HOOK", "PID",
		"USER", "COMM", "APP");
	for (i = 0; i < fl->n; i++) {
		e = nth(fl, i);
		fmt_time(e->ts_ms, t);
		snprintf(dst, sizeof(dst), "%s:%u",
			 inet_ntop(AF_INET, &e->daddr, ip, sizeof(ip)),
			 e->dport);
		fprintf(f, "%-24s %-14s %-21s %-5s %-8s %7u %-16s %-16s %s\n",
			t, flowlog_verdict_name(e->verdict), dst,
			proto_name(e->proto, pb), hook_name(e->hook), e->pid,
			text_escape(user_str(e, user, sizeof(user)), ueb,
				    sizeof(ueb)),
			e->comm[0] ? text_escape(e->comm, comm, sizeof(comm)) :
				     "-",
			e->app[0] ? text_escape(e->app, app, sizeof(app)) :
				    "-");
	}
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}
