/* SPDX-License-Identifier: GPL-2.0-only */
/* The SQLite backend of the registry (registry.h has the interface). */
#ifndef AUTHSRV_REGISTRY_SQLITE_H
#define AUTHSRV_REGISTRY_SQLITE_H

#include <stdint.h>

struct registry;

int registry_sqlite_create(const char *path, uint32_t net, uint8_t plen);
struct registry *registry_sqlite_open(const char *path);

#endif /* AUTHSRV_REGISTRY_SQLITE_H */
