/* SPDX-License-Identifier: GPL-2.0-only */
/* The PostgreSQL backend of the registry (registry.h has the interface). */
#ifndef AUTHSRV_REGISTRY_PG_H
#define AUTHSRV_REGISTRY_PG_H

#include <stdint.h>

struct registry;

int registry_pg_create(const char *url, uint32_t net, uint8_t plen);
struct registry *registry_pg_open(const char *url);

#endif /* AUTHSRV_REGISTRY_PG_H */
