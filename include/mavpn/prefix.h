/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one prefix (route, CIDR) concept of the tree, IPv4 and IPv6: parse,
 * format, mask, contains, overlaps, and a longest-prefix-match table.
 *
 * Text form, strictly (what `ip route` prints):
 *   A.B.C.D/N     N in 0..32, four decimal octets 0..255, no leading zeros
 *   X:X::X/N      N in 0..128, any form inet_pton(AF_INET6) accepts
 *                 (no zone "%eth0")
 * No spaces, no sign, no leading zeros in N ("/08"), nothing after N.
 * Host bits set ("10.0.0.1/8") are an error, as iproute2 users expect from
 * a configuration: a typo must not silently become another network. A
 * caller that must accept them (a peer's list it only re-announces) passes
 * PREFIX_PARSE_CLEAR_HOST and gets them cleared.
 *
 * A struct prefix is always canonical once parsed or built with
 * prefix_from4/6: host bits zero, unused address bytes zero, pad zero, so
 * two equal prefixes compare equal with memcmp.
 */
#ifndef MAVPN_PREFIX_H
#define MAVPN_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>		/* AF_INET, AF_INET6 */

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" and its NUL. */
#define PREFIX_STRLEN	50

struct prefix {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t plen;		/* 0..32 or 0..128 */
	uint8_t pad[2];		/* 0 */
	union {
		uint32_t v4;	/* network order */
		uint8_t v6[16];
	};
};

_Static_assert(sizeof(struct prefix) == 20, "struct prefix is 20 bytes");

/* prefix_parse() flags. */
#define PREFIX_PARSE_V4		0x1u	/* only IPv4 */
#define PREFIX_PARSE_V6		0x2u	/* only IPv6 (neither/both: either) */
#define PREFIX_PARSE_CLEAR_HOST	0x4u	/* clear host bits instead of -EINVAL */
#define PREFIX_PARSE_ADDR	0x8u	/* a bare address is a /32 or /128 */

/*
 * Parse @s (whole string) into @out. 0, or -EINVAL with @why (if not NULL)
 * set to a static phrase for the error message ("expected A.B.C.D/N",
 * "host bits set", ...); @out is then zeroed.
 */
int prefix_parse(const char *s, unsigned int flags, struct prefix *out,
		 const char **why);

/* A bare address: prefix_parse() with PREFIX_PARSE_ADDR, and a "/N" is an
 * error. @out is the host prefix (/32, /128). */
int prefix_addr_parse(const char *s, unsigned int flags, struct prefix *out,
		      const char **why);

/*
 * A comma-separated list ("10.0.0.0/8,192.168.1.0/24", the registry's and
 * the command line's form): each element as prefix_parse(@flags). Returns
 * how many went to @out, -ENOSPC if more than @max, -EINVAL (@why set) for
 * a bad element, an empty one or a trailing comma: nothing of a
 * half-parsed list is to be trusted. "" is an empty list (0).
 */
int prefix_list_parse(const char *list, unsigned int flags, struct prefix *out,
		      unsigned int max, const char **why);
/* The list form of @n prefixes into @buf: 0, or -ENOSPC if it does not
 * fit (then @buf holds the whole entries that did). */
int prefix_list_format(const struct prefix *p, unsigned int n, char *buf,
		       size_t len);

/*
 * "A.B.C.D/N" or "X::/N" into @buf; returns @buf. With @len >=
 * PREFIX_STRLEN it never truncates; shorter buffers get a truncated,
 * NUL-terminated string. A non-canonical or unknown-family prefix prints
 * as "invalid".
 */
const char *prefix_format(const struct prefix *p, char *buf, size_t len);

/* Netmask of @plen bits in network order; /0 is 0, 32 and above ~0. */
uint32_t prefix_mask4(unsigned int plen);
/* The same for IPv6: @plen (0..128, above is 128) leading one bits. */
void prefix_mask6(unsigned int plen, uint8_t mask[16]);

/* Canonical prefixes from an address (host bits are cleared). */
struct prefix prefix_from4(uint32_t addr, unsigned int plen);	/* addr: network order */
struct prefix prefix_from6(const uint8_t addr[16], unsigned int plen);

/* A known family, plen in range, host bits and pad zero. */
bool prefix_valid(const struct prefix *p);
/* Host bits of a /32 (/128) are its address: the host prefix. */
static inline bool prefix_is_host(const struct prefix *p)
{
	return p->plen == (p->family == AF_INET ? 32 : 128);
}

bool prefix_equal(const struct prefix *a, const struct prefix *b);
/* Total order: family, then address bytes, then plen. For sort/bsearch. */
int prefix_cmp(const struct prefix *a, const struct prefix *b);

/* @outer contains @inner: same family, inner at least as long, and its
 * first outer->plen bits equal outer's. A prefix contains itself. */
bool prefix_contains(const struct prefix *outer, const struct prefix *inner);
/* @p (IPv4) contains the address @addr (network order). */
bool prefix_contains4(const struct prefix *p, uint32_t addr);
/* Share at least one address: one contains the other. */
bool prefix_overlaps(const struct prefix *a, const struct prefix *b);

/*
 * Longest-prefix-match table: prefix -> caller value (a gateway address, an
 * index). Capacity fixed at creation; no allocation after it. One hash
 * table keyed by (family, plen, masked address) plus a count per prefix
 * length, so a lookup probes only the lengths in use, longest first: at most
 * 33 (IPv4) or 129 (IPv6) hash probes whatever the number of entries. Not
 * thread safe.
 */
struct prefix_table;

/* NULL with errno set (EINVAL for @max 0 or too large, ENOMEM). */
struct prefix_table *prefix_table_new(unsigned int max);
void prefix_table_free(struct prefix_table *t);		/* accepts NULL */

/* 0; -EEXIST if @p is there (its value unchanged); -ENOSPC when full;
 * -EINVAL if @p is not valid (prefix_valid). */
int prefix_table_add(struct prefix_table *t, const struct prefix *p,
		     uint64_t val);
/* Add or change the value of @p. 0, -ENOSPC, -EINVAL. */
int prefix_table_set(struct prefix_table *t, const struct prefix *p,
		     uint64_t val);
/* 0 or -ENOENT. */
int prefix_table_del(struct prefix_table *t, const struct prefix *p);
/* Exact match: 0 and *@val (if not NULL), or -ENOENT. */
int prefix_table_get(const struct prefix_table *t, const struct prefix *p,
		     uint64_t *val);
/*
 * Longest prefix that contains @key (an address as a host prefix, or any
 * prefix): 0 and the entry's prefix in @match and value in @val (each may
 * be NULL), or -ENOENT.
 */
int prefix_table_lookup(const struct prefix_table *t, const struct prefix *key,
			struct prefix *match, uint64_t *val);
/* The same for an IPv4 address in network order. */
int prefix_table_lookup4(const struct prefix_table *t, uint32_t addr,
			 struct prefix *match, uint64_t *val);

unsigned int prefix_table_count(const struct prefix_table *t);
void prefix_table_clear(struct prefix_table *t);

/*
 * Call @fn for every entry, in no particular order; a non-zero return
 * stops the walk and is returned. @fn must not add or delete.
 */
typedef int (*prefix_table_fn)(void *arg, const struct prefix *p, uint64_t val);
int prefix_table_walk(const struct prefix_table *t, prefix_table_fn fn,
		      void *arg);

#endif /* MAVPN_PREFIX_H */
