/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The --state directory of vpnd:
 *   host.key   EC P-256 private key (0600)
 *   host.pem   our certificate, issued by the server's CA
 *   ca.pem     the server's CA certificate
 *   host.conf  key=value lines: name, overlay_ip, overlay_plen, server
 * host.conf is written last: its presence means "enrolled".
 */
#ifndef MAVPN_CTL_VPND_STATE_H
#define MAVPN_CTL_VPND_STATE_H

#include <limits.h>
#include <stdint.h>

#include "mavpn/ctlmsg.h"

#define STATE_KEY	"host.key"
#define STATE_CERT	"host.pem"
#define STATE_CA	"ca.pem"
#define STATE_CONF	"host.conf"
#define STATE_SERVER_MAX 256

struct vpnd_state {
	char dir[PATH_MAX];
	char name[CTLMSG_NAME_MAX];
	uint32_t overlay_ip;		/* network order */
	uint8_t overlay_plen;
	char server[STATE_SERVER_MAX];	/* HOST:PORT[,HOST:PORT...] */
	char key_path[PATH_MAX];
	char cert_path[PATH_MAX];
	char ca_path[PATH_MAX];
};

/* Fill the paths of @st for @dir (no I/O). -ENAMETOOLONG. */
int state_paths(struct vpnd_state *st, const char *dir);
/* True if @dir holds an enrollment (host.conf exists). */
int state_enrolled(const char *dir);
/*
 * Read host.conf and check the other files exist. 0, -ENOENT (not
 * enrolled), -EBADMSG (malformed line; logged), -errno.
 */
int state_load(struct vpnd_state *st, const char *dir);
/* Write host.conf atomically (temporary file + rename). 0 or -errno. */
int state_save_conf(const struct vpnd_state *st);
/* Write @data to @dir/@name atomically with @mode. 0 or -errno. */
int state_write_file(const char *dir, const char *name, const void *data,
		     size_t len, mode_t mode);

/* The servers: "HOST:PORT[,HOST:PORT...]" (vpnd enroll --server), at
 * most STATE_SERVERS_MAX, tried in order (chan.c fails over). */
#define STATE_SERVERS_MAX 8
/* Entry @i of @list into @host/@port (@one: "HOST:PORT", may be NULL).
 * 0, -ENOENT past the end, -EINVAL for a malformed entry. */
int state_server_nth(const char *list, unsigned int i, char *host,
		     size_t hostlen, char *port, size_t portlen, char *one,
		     size_t onelen);
/* How many entries @list has if all are well formed, else -EINVAL. */
int state_server_count(const char *list);
/* Split "HOST:PORT" ("[v6]:PORT" too). 0 or -EINVAL. */
int state_split_hostport(const char *s, char *host, size_t hostlen,
			 char *port, size_t portlen);

#endif /* MAVPN_CTL_VPND_STATE_H */
