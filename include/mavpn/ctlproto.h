/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The protocol of vpnd's local control socket, shared by vpnd (the
 * server) and vpnctl (the client); both speak it with lib/linesock.c
 * (mavpn/linesock.h), these are its settings.
 *
 * A unix stream socket, mode 0660. One request per connection: a line
 *   [json ]VERB[ ARG]\n
 * with VERB one of status, peers, flows, attach, detach, resolve. The answer is
 *   ok\n<body>            (body: text, or one JSON document with "json ")
 *   error <one line>\n
 * and vpnd closes the connection after it, so a client reads to EOF.
 */
#ifndef MAVPN_CTLPROTO_H
#define MAVPN_CTLPROTO_H

#include <stdbool.h>
#include <stdint.h>

#define CTLPROTO_PATH_DEFAULT	"/run/mavpn/vpnd.sock"
#define CTLPROTO_MODE		0660
/* The leading word asking for JSON (linesock's flag), with its space. */
#define CTLPROTO_JSON_FLAG	"json"
#define CTLPROTO_JSON_PREFIX	CTLPROTO_JSON_FLAG " "
/* A request line, newline included (verb + a cgroup path). */
#define CTLPROTO_LINE_MAX	4200
/* A client must send its line within this. */
#define CTLPROTO_READ_MS		2000
/* vpnd gives up writing an answer after this. */
#define CTLPROTO_WRITE_MS	2000

#endif /* MAVPN_CTLPROTO_H */
