/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus metrics endpoint: a minimal HTTP/1.0 server for a daemon's
 * epoll loop. One request per connection: `GET /metrics` is answered with
 * the text exposition format (version 0.0.4), any other path with 404, any
 * other method with 405; then the connection is closed.
 *
 * Like linesock, the listening socket and the clients live on an inner
 * epoll set, so the daemon adds one stable fd (promhttp_fd) to its loop,
 * calls promhttp_process() when it is readable and promhttp_tick() from
 * its timer (drops clients that stall). Clients are non-blocking: a slow
 * scraper never stalls the daemon.
 *
 * The body is produced by the daemon's render callback at request time,
 * from its own counters: nothing is sampled in the background.
 */
#ifndef MAVPN_PROMHTTP_H
#define MAVPN_PROMHTTP_H

#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

/* Write the exposition to @out. 0 or -errno (then the client gets 500). */
typedef int (*promhttp_render_fn)(void *arg, FILE *out);

struct promhttp;

/* "IPV4:PORT" -> @sa. 0 or -EINVAL. */
int promhttp_parse_addr(const char *s, struct sockaddr_in *sa);
/* Listen on @addr ("IPV4:PORT"). NULL with errno set (EINVAL: bad @addr);
 * the caller logs. */
struct promhttp *promhttp_open(const char *addr, promhttp_render_fn fn,
			       void *arg);
void promhttp_close(struct promhttp *h);	/* NULL ok */
int promhttp_fd(const struct promhttp *h);
void promhttp_process(struct promhttp *h);
void promhttp_tick(struct promhttp *h);
/* Requests answered since open (any status), for tests and debugging. */
uint64_t promhttp_requests(const struct promhttp *h);

/* Exposition helpers. */
/* "# HELP name help\n# TYPE name type\n" */
void prom_family(FILE *f, const char *name, const char *type,
		 const char *help);
/* @v as a label value: backslash, double quote and newline escaped. */
void prom_label(FILE *f, const char *v);

#endif /* MAVPN_PROMHTTP_H */
