/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * DNS message codec for vpnd's name server (RFC 1035): parse one query,
 * build its one response. The parser takes bytes from anyone who can reach
 * the overlay address (untrusted) and never reads outside them.
 *
 * What is answered (dnsmsg_respond):
 *   - shorter than a header, or a response (QR set): nothing (dropped, so
 *     two servers can never ping-pong)
 *   - opcode other than QUERY: NOTIMP, header only
 *   - QDCOUNT != 1, ANCOUNT or NSCOUNT != 0, a bad question (label over
 *     63, name over 255, a compression pointer, a cut): FORMERR, header only
 *   - class other than IN (or ANY): REFUSED
 *   - a name outside the zone's domain: REFUSED
 *   - NAME.DOMAIN of a known host: A -> its IPv4 address (ANY the same);
 *     AAAA -> its IPv6 address once hosts have one, NODATA (NOERROR, no
 *     answer) until then; any other type: NODATA
 *   - DOMAIN itself: NODATA; any other name in the domain: NXDOMAIN
 *   - a name in the domain while the zone is not ready: SERVFAIL
 * The additional section (an EDNS OPT record) is ignored and not echoed:
 * the client falls back to the classic 512-byte UDP limit, which every
 * answer fits by far.
 *
 * Amplification bound: a response is never longer than DNSMSG_AMP_FACTOR
 * times its query nor than the caller's capacity; an answer that would not
 * fit is sent as header + question with TC set (honest truncation: retry
 * over TCP). The question is echoed byte for byte (0x20 case randomisation
 * survives).
 */
#ifndef MAVPN_DNSMSG_H
#define MAVPN_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSMSG_HDR_LEN		12
#define DNSMSG_NAME_MAX		255	/* wire form, root label included */
#define DNSMSG_LABEL_MAX	63
#define DNSMSG_UDP_MAX		512	/* classic UDP payload limit */
#define DNSMSG_TCP_MAX		65535
#define DNSMSG_AMP_FACTOR	2	/* response <= query length x this */
#define DNSMSG_DOMAIN_MAX	128	/* text, NUL included */
#define DNSMSG_TTL_DEFAULT	10	/* s: short, names go on revoke */

enum dnsmsg_rcode {
	DNSMSG_NOERROR	= 0,
	DNSMSG_FORMERR	= 1,
	DNSMSG_SERVFAIL	= 2,
	DNSMSG_NXDOMAIN	= 3,
	DNSMSG_NOTIMP	= 4,
	DNSMSG_REFUSED	= 5,
};

enum dnsmsg_type {
	DNSMSG_TYPE_A		= 1,
	DNSMSG_TYPE_AAAA	= 28,
	DNSMSG_TYPE_ANY		= 255,
};

#define DNSMSG_CLASS_IN		1
#define DNSMSG_CLASS_ANY	255

/* What a lookup found for one host name (a label, lowercase). */
struct dnsmsg_host {
	bool has4, has6;
	uint32_t v4;			/* network order */
	uint8_t v6[16];
};

struct dnsmsg_zone {
	/* Lowercase, no trailing dot, valid per dnsmsg_domain_valid(). */
	char domain[DNSMSG_DOMAIN_MAX];
	uint32_t ttl;			/* seconds, of every answer */
	/* false until the name list is known: names in the domain get
	 * SERVFAIL (try again) rather than a cacheable NXDOMAIN. */
	bool ready;
	/* 0 and @h filled if @name (one lowercase label, NUL-terminated)
	 * is a known host, -ENOENT if not. */
	int (*lookup)(void *arg, const char *name, struct dnsmsg_host *h);
	void *arg;
};

/* How a query was answered (for counters and logs). */
struct dnsmsg_result {
	bool answered;			/* a response was written */
	uint8_t rcode;			/* enum dnsmsg_rcode */
	bool truncated;			/* TC set */
	uint16_t ancount;
	uint16_t qtype;			/* 0 if there was no question */
};

/*
 * Answer the query @q[0..@qlen) for zone @z into @out (capacity @cap: the
 * transport's limit, DNSMSG_UDP_MAX or DNSMSG_TCP_MAX). Returns the
 * response length (> 0), or 0 when the query gets no response at all;
 * never more than @cap, and for @udp never more than @qlen *
 * DNSMSG_AMP_FACTOR (TCP has no spoofed sources to amplify towards).
 * @res (may be NULL) says what was sent.
 */
size_t dnsmsg_respond(const uint8_t *q, size_t qlen,
		      const struct dnsmsg_zone *z, bool udp, uint8_t *out,
		      size_t cap, struct dnsmsg_result *res);

/*
 * A domain vpnd may serve: 1..127 characters, dot-separated labels of
 * [a-z0-9-] (1..63 each, not starting or ending with '-'), no trailing
 * dot. Uppercase is refused (the caller lowercases what it is given).
 */
bool dnsmsg_domain_valid(const char *d);

/* Name of an rcode for logs ("NXDOMAIN"), "RCODE<n>" style otherwise. */
const char *dnsmsg_rcode_name(unsigned int rcode);

#endif /* MAVPN_DNSMSG_H */
