/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vpnd's DNS server: NAME.DOMAIN of every enrolled host, on the overlay
 * IPv4 address, port 53, UDP and TCP (docs/operations.md "Names (DNS)").
 * Answers come from the name cache (names.h) the server fills; the
 * messages are lib/dnsmsg.c's. Driven by vpnd's loop through one stable
 * fd (an inner epoll set over the UDP socket, the TCP listener and the
 * TCP connections).
 *
 * Bounds: UDP answers at most DNSMSG_AMP_FACTOR x the query (TC beyond);
 * at most DNS_TCP_CONNS TCP connections (more are closed at accept), each
 * closed after DNS_TCP_IDLE_MS without a whole query, a query over
 * DNS_TCP_QUERY_MAX bytes closes its connection.
 *
 * Where systemd-resolved runs in our network namespace, the domain is
 * registered on the overlay link as a routing domain with our address as
 * its server (resolvectl dns/domain); otherwise that step is skipped and
 * logged.
 */
#ifndef MAVPN_CTL_VPND_DNS_H
#define MAVPN_CTL_VPND_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "mavpn/counters.h"

#define DNS_PORT		53
#define DNS_TCP_CONNS		32
#define DNS_TCP_IDLE_MS		10000
#define DNS_TCP_QUERY_MAX	4096
#define DNS_UDP_BATCH		64	/* datagrams per wake-up */
#define DNS_DOMAIN_FILE		"domain"	/* in --state: the last domain */

#define DNS_COUNTERS(X) \
	X(QUERIES_UDP, "queries_udp", "DNS queries received over UDP.") \
	X(QUERIES_TCP, "queries_tcp", "DNS queries received over TCP.") \
	X(NOERROR, "noerror", "DNS answers NOERROR (with or without records).") \
	X(NXDOMAIN, "nxdomain", "DNS answers NXDOMAIN (no such host in the domain).") \
	X(REFUSED, "refused", "DNS answers REFUSED (a name outside the domain).") \
	X(FORMERR, "formerr", "DNS answers FORMERR (malformed query).") \
	X(OTHER, "other_rcode", "DNS answers NOTIMP or SERVFAIL.") \
	X(TRUNCATED, "truncated", "DNS answers with TC set (the answer did not fit).") \
	X(DROPPED, "dropped", "DNS datagrams not answered (shorter than a header, a response, oversized).") \
	X(TCP_REFUSED, "tcp_refused", "DNS TCP connections closed at accept (too many).") \
	X(TCP_CLOSED, "tcp_closed", "DNS TCP connections closed by us (idle, oversized query, error).") \
	X(NAMES_FULL, "names_full", "Names not cached because the cache was full.")

enum dns_counter {
#define DNS_ENUM(id, name, help) DNS_##id,
	DNS_COUNTERS(DNS_ENUM)
#undef DNS_ENUM
	DNS__COUNT
};

extern const struct counter_desc dns_desc[DNS__COUNT];

struct ctlmsg;
struct dns;

/* @state_dir: where the last domain is kept; @ifname: the overlay link.
 * NULL with errno set. */
struct dns *dns_new(const char *state_dir, const char *ifname);
void dns_free(struct dns *d);			/* accepts NULL */

/* Listen on @addr (network order) port 53, UDP and TCP. 0 or -errno
 * (logged); vpnd runs on without DNS then. Needs CAP_NET_BIND_SERVICE:
 * call during setup. */
int dns_listen(struct dns *d, uint32_t addr);
int dns_fd(const struct dns *d);		/* epoll it for EPOLLIN */
void dns_process(struct dns *d);		/* after dns_fd fired */
void dns_tick(struct dns *d, uint64_t now_ms);

/* HELLO_ACK (the domain), NAME_ADD, NAME_DEL, NAMES_END. */
void dns_on_chan_msg(struct dns *d, const struct ctlmsg *m);

/* "" while unknown. */
const char *dns_domain(const struct dns *d);
/* "ADDR:53" into @buf, or "" when not listening. */
const char *dns_listen_addr(const struct dns *d, char *buf, size_t len);
unsigned int dns_names(const struct dns *d);
const uint64_t *dns_counters(const struct dns *d);

#endif /* MAVPN_CTL_VPND_DNS_H */
