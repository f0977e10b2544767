// SPDX-License-Identifier: GPL-2.0-only
/*
 * DNS query parser and response builder (include/mavpn/dnsmsg.h has the
 * rules). One pass over the question with every length checked against
 * what is left; the response is built into the caller's buffer under a
 * limit computed before the first byte is written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mavpn/dnsmsg.h"
#include "mavpn/util.h"

#define DNS_QR		0x8000
#define DNS_OPCODE(f)	(((f) >> 11) & 0xf)
#define DNS_AA		0x0400
#define DNS_TC		0x0200
#define DNS_RD		0x0100

#define DNS_MAX_LABELS	128	/* 255 bytes of 1-char labels */
#define DNS_RR_FIXED	12	/* pointer, type, class, ttl, rdlength */

struct dnsq {
	uint16_t id, flags;
	size_t qend;			/* end of the question */
	uint16_t qtype, qclass;
	unsigned int nlabels;
	size_t loff[DNS_MAX_LABELS];	/* offset of each label's length byte */
};

static uint8_t dns_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* The question at offset 12: 0 or -EBADMSG (FORMERR). */
static int dns_parse_question(const uint8_t *q, size_t qlen, struct dnsq *d)
{
	size_t off = DNSMSG_HDR_LEN, namelen = 0;
	uint8_t l;

	d->nlabels = 0;
	for (;;) {
		if (off >= qlen)
			return -EBADMSG;
		l = q[off];
		/* 0xc0: a compression pointer (no client puts one in a
		 * lone question); 0x40/0x80: extended label types. */
		if (l & 0xc0)
			return -EBADMSG;
		namelen += 1 + l;
		if (namelen > DNSMSG_NAME_MAX)
			return -EBADMSG;
		if (l == 0) {
			off++;
			break;
		}
		if (qlen - off - 1 < l || d->nlabels == DNS_MAX_LABELS)
			return -EBADMSG;
		d->loff[d->nlabels++] = off;
		off += 1 + l;
	}
	if (qlen - off < 4)
		return -EBADMSG;
	d->qtype = get_be16(q + off);
	d->qclass = get_be16(q + off + 2);
	d->qend = off + 4;
	return 0;
}

/* Does label @i of the question equal @s[0..@n) (ASCII case-insensitive)? */
static bool dns_label_eq(const uint8_t *q, const struct dnsq *d,
			 unsigned int i, const char *s, size_t n)
{
	const uint8_t *p = q + d->loff[i];
	size_t k;

	if (p[0] != n)
		return false;
	for (k = 0; k < n; k++)
		if (dns_lower(p[1 + k]) != (uint8_t)s[k])
			return false;
	return true;
}

/*
 * Labels of @d that belong to @domain: returns the number of labels in
 * front of the domain (0 = the apex), or -1 when the name is outside it.
 */
static int dns_in_domain(const uint8_t *q, const struct dnsq *d,
			 const char *domain)
{
	const char *end = domain + strlen(domain), *dot;
	unsigned int i = d->nlabels;

	/* Walk the domain's labels from the last one. */
	while (end > domain) {
		dot = end;
		while (dot > domain && dot[-1] != '.')
			dot--;
		if (i == 0 || !dns_label_eq(q, d, i - 1, dot, end - dot))
			return -1;
		i--;
		end = dot > domain ? dot - 1 : dot;
	}
	return (int)i;
}

/* Label 0 as a lowercase host name in @out; false if it cannot be one. */
static bool dns_host_label(const uint8_t *q, const struct dnsq *d,
			   char out[DNSMSG_LABEL_MAX + 1])
{
	const uint8_t *p = q + d->loff[0];
	uint8_t k, c;

	for (k = 0; k < p[0]; k++) {
		c = dns_lower(p[1 + k]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		out[k] = (char)c;
	}
	out[k] = '\0';
	return true;
}

static void dns_put_hdr(uint8_t *out, uint16_t id, uint16_t flags,
			uint16_t qd, uint16_t an)
{
	put_be16(out, id);
	put_be16(out + 2, flags);
	put_be16(out + 4, qd);
	put_be16(out + 6, an);
	put_be16(out + 8, 0);
	put_be16(out + 10, 0);
}

/* One answer record for the question's name at @p (12 + rdlen bytes). */
static size_t dns_put_rr(uint8_t *p, uint16_t type, uint32_t ttl,
			 const void *rdata, uint16_t rdlen)
{
	put_be16(p, 0xc000 | DNSMSG_HDR_LEN);	/* the question's name */
	put_be16(p + 2, type);
	put_be16(p + 4, DNSMSG_CLASS_IN);
	put_be32(p + 6, ttl);
	put_be16(p + 10, rdlen);
	memcpy(p + DNS_RR_FIXED, rdata, rdlen);
	return DNS_RR_FIXED + rdlen;
}

size_t dnsmsg_respond(const uint8_t *q, size_t qlen,
		      const struct dnsmsg_zone *z, bool udp, uint8_t *out,
		      size_t cap, struct dnsmsg_result *res)
{
	char host[DNSMSG_LABEL_MAX + 1];
	struct dnsmsg_result r = { 0 };
	struct dnsmsg_host h;
	bool want4 = false, want6 = false;
	uint16_t flags, an = 0;
	size_t limit, need, off;
	struct dnsq d;
	int front;

	if (res)
		*res = r;
	if (!q || qlen < DNSMSG_HDR_LEN)
		return 0;
	d.id = get_be16(q);
	d.flags = get_be16(q + 2);
	if (d.flags & DNS_QR)
		return 0;		/* a response: never answer one */
	limit = cap;
	if (udp && limit / DNSMSG_AMP_FACTOR > qlen)
		limit = qlen * DNSMSG_AMP_FACTOR;
	if (limit < DNSMSG_HDR_LEN)
		return 0;
	/* Echo the opcode and RD; QR set, RA clear (no recursion). */
	flags = DNS_QR | (d.flags & (0x7800 | DNS_RD));

	r.answered = true;
	if (DNS_OPCODE(d.flags) != 0) {
		r.rcode = DNSMSG_NOTIMP;
		goto header_only;
	}
	if (get_be16(q + 4) != 1 || get_be16(q + 6) || get_be16(q + 8) ||
	    dns_parse_question(q, qlen, &d)) {
		r.rcode = DNSMSG_FORMERR;
		goto header_only;
	}
	r.qtype = d.qtype;
	if (d.qclass != DNSMSG_CLASS_IN && d.qclass != DNSMSG_CLASS_ANY) {
		r.rcode = DNSMSG_REFUSED;
		goto with_question;
	}
	front = dns_in_domain(q, &d, z->domain);
	if (front < 0) {
		r.rcode = DNSMSG_REFUSED;
		goto with_question;
	}
	if (!z->ready) {
		r.rcode = DNSMSG_SERVFAIL;
		goto with_question;
	}
	flags |= DNS_AA;
	if (front == 0) {		/* the domain itself: no records */
		r.rcode = DNSMSG_NOERROR;
		goto with_question;
	}
	if (front > 1 || !dns_host_label(q, &d, host) ||
	    z->lookup(z->arg, host, &h)) {
		r.rcode = DNSMSG_NXDOMAIN;
		goto with_question;
	}
	r.rcode = DNSMSG_NOERROR;
	want4 = h.has4 && (d.qtype == DNSMSG_TYPE_A ||
			   d.qtype == DNSMSG_TYPE_ANY);
	want6 = h.has6 && (d.qtype == DNSMSG_TYPE_AAAA ||
			   d.qtype == DNSMSG_TYPE_ANY);

with_question:
	need = d.qend + (want4 ? DNS_RR_FIXED + 4 : 0) +
	       (want6 ? DNS_RR_FIXED + 16 : 0);
	if (need > limit) {
		/* The answer does not fit: say so (the client retries over
		 * TCP) with the question alone, which is never longer than
		 * the query it came in. */
		want4 = want6 = false;
		flags |= DNS_TC;
		r.truncated = true;
		if (d.qend > limit)
			goto header_only;
	}
	an = want4 + want6;
	dns_put_hdr(out, d.id, flags | r.rcode, 1, an);
	memcpy(out + DNSMSG_HDR_LEN, q + DNSMSG_HDR_LEN,
	       d.qend - DNSMSG_HDR_LEN);
	off = d.qend;
	if (want4)
		off += dns_put_rr(out + off, DNSMSG_TYPE_A, z->ttl, &h.v4, 4);
	if (want6)
		off += dns_put_rr(out + off, DNSMSG_TYPE_AAAA, z->ttl, h.v6,
				  16);
	r.ancount = an;
	if (res)
		*res = r;
	return off;

header_only:
	dns_put_hdr(out, d.id, flags | r.rcode, 0, 0);
	if (res)
		*res = r;
	return DNSMSG_HDR_LEN;
}

bool dnsmsg_domain_valid(const char *d)
{
	size_t n = strnlen(d, DNSMSG_DOMAIN_MAX), i, l = 0;
	char c;

	if (n == 0 || n >= DNSMSG_DOMAIN_MAX)
		return false;
	for (i = 0; i <= n; i++) {
		c = d[i];
		if (c == '.' || c == '\0') {
			if (l == 0 || l > DNSMSG_LABEL_MAX || d[i - 1] == '-')
				return false;
			l = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (c == '-' && l > 0)))
			return false;
		l++;
	}
	return true;
}

const char *dnsmsg_rcode_name(unsigned int rcode)
{
	static const char *const names[] = {
		[DNSMSG_NOERROR] = "NOERROR", [DNSMSG_FORMERR] = "FORMERR",
		[DNSMSG_SERVFAIL] = "SERVFAIL", [DNSMSG_NXDOMAIN] = "NXDOMAIN",
		[DNSMSG_NOTIMP] = "NOTIMP", [DNSMSG_REFUSED] = "REFUSED",
	};

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] :
							  "UNKNOWN";
}
