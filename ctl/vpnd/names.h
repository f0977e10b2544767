/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vpnd's cache of the overlay names the server sends (NAME_ADD, NAME_DEL,
 * NAMES_END; docs/protocol.md "Names"): host name -> overlay address, for
 * the DNS server (dns.h). Bounded: at most the count given to
 * names_new(); a NAME_ADD beyond it is refused (counted, logged by the
 * caller) and the name does not resolve.
 *
 * A full list arrives after every HELLO_ACK: names_begin() opens a new
 * generation, names_add() marks each name with it, names_end() drops the
 * names the list did not carry. Until then the old names keep answering
 * (a reconnect does not make names flicker).
 */
#ifndef MAVPN_CTL_VPND_NAMES_H
#define MAVPN_CTL_VPND_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/dnsmsg.h"

#define NAMES_MAX_DEFAULT	65536

struct names;

struct names *names_new(unsigned int max);	/* NULL: out of memory */
void names_free(struct names *n);		/* accepts NULL */

void names_begin(struct names *n);
/* 0, -EINVAL (not a host name), -ENOSPC (full). */
int names_add(struct names *n, const char *name, uint32_t v4);
/* 0, -ENOENT */
int names_del(struct names *n, const char *name);
/* Returns how many stale names were dropped. */
unsigned int names_end(struct names *n);
/* dnsmsg_zone.lookup: @name one lowercase label. 0 or -ENOENT. */
int names_lookup(void *n, const char *name, struct dnsmsg_host *h);
unsigned int names_count(const struct names *n);

#endif /* MAVPN_CTL_VPND_NAMES_H */
