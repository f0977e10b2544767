/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * DIR/status: what a running server tells offline readers (client list).
 * Rewritten atomically (tmp + rename) when the set of online hosts changes:
 *   line 1:   "pid <pid>"
 *   then:     "<name> <underlay-ip> <udp-port> <online-since-epoch>"
 * Removed on clean exit. A reader trusts it only if the pid is alive.
 */
#ifndef AUTHSRV_STATUS_H
#define AUTHSRV_STATUS_H

#include <stdbool.h>
#include <stdint.h>

struct status_entry {
	const char *name;
	uint32_t underlay_ip;	/* network order */
	uint16_t udp_port;
	int64_t since;
};

/* Server side. */
int status_write(const char *dir, const struct status_entry *e, int n);
void status_remove(const char *dir);

/* Reader: load the file. Returns 1 if a live server wrote it, 0 if no
 * server is running (online state unknown), -errno on other errors. */
struct status_set;
int status_load(const char *dir, struct status_set **out);
bool status_online(const struct status_set *s, const char *name);
void status_free(struct status_set *s);

#endif /* AUTHSRV_STATUS_H */
