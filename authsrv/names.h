/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv's side of overlay DNS names: the domain (`authsrv init
 * --domain`, stored in DIR/domain) and the name registry every vpnd
 * caches to answer NAME.DOMAIN (docs/protocol.md "Names").
 *
 * After each HELLO_ACK (which carries the domain) the server sends the
 * full list: one NAME_ADD per enrolled, non-revoked host, then NAMES_END.
 * Later changes go to every online host as they happen: NAME_ADD when a
 * host enrolls, NAME_DEL when one is revoked.
 */
#ifndef AUTHSRV_NAMES_H
#define AUTHSRV_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct session;

#define NAMES_FILE		"domain"	/* in the state directory */
#define NAMES_DEFAULT_DOMAIN	"mavpn"

/*
 * Read DIR/domain into @out (@len >= CTLMSG_DOMAIN_MAX); a state directory
 * without the file (made before --domain existed) has the default. 0,
 * -EINVAL (@out then holds what was read) or -errno.
 */
int names_domain_load(const char *dir, char *out, size_t len);
/* Write DIR/domain (0600); @domain valid per dnsmsg_domain_valid(). */
int names_domain_store(const char *dir, const char *domain);

/* After HELLO_ACK: the full list to @s. */
void names_hello(struct server *srv, struct session *s);
/* A host enrolled / was revoked: tell every online host. */
void names_enrolled(struct server *srv, const char *name, uint32_t ip);
void names_revoked(struct server *srv, const char *name);

#endif /* AUTHSRV_NAMES_H */
