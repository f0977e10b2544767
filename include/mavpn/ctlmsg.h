/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Control-channel message codec (authsrv <-> vpnd, inside TLS 1.3).
 *
 * Frame on the stream:  be32 body_len | body
 * body:                 u8 version (CTLMSG_VERSION) | u8 type | be16 reserved (0)
 *                       then attributes, each: be16 attr | be16 len | value
 * Integers are big-endian; IPv4 addresses are carried as 4 bytes in network
 * order and kept in network order in struct ctlmsg. Strings carry no NUL and
 * must fit their field (with room for the terminating NUL added on decode).
 * Unknown attributes are skipped (forward compatibility); a duplicate, a
 * wrong length, a string with a NUL or that does not fit, or a missing
 * required attribute for the message type is an error (-EBADMSG).
 * CTLA_ROUTE and CTLA_ENDPOINT are the repeated attributes: one per route
 * (at most CTLMSG_ROUTES_MAX, kept in order in routes[0..n_routes)) and one
 * per endpoint (at most CTLMSG_ENDPOINTS_MAX, in endpoints[0..n_endpoints)).
 */
#ifndef MAVPN_CTLMSG_H
#define MAVPN_CTLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mavpn/aead.h"
#include "mavpn/prefix.h"

/* 2: routes as repeated binary CTLA_ROUTE attributes (1 carried them as
 * "cidr,cidr" strings in attributes 19 and 20). */
#define CTLMSG_VERSION		2
#define CTLMSG_HDR_LEN		4	/* be32 length prefix */
#define CTLMSG_MAX_BODY		(32 * 1024)

enum ctlmsg_type {
	CTLMSG_ENROLL_REQ	= 1,	/* token, csr */
	CTLMSG_ENROLL_RESP	= 2,	/* name, overlay_ip, overlay_plen, cert, ca */
	CTLMSG_HELLO		= 3,	/* udp_port, endpoint* (host is authenticated by its TLS cert);
					 * again once online: new endpoint* only */
	CTLMSG_HELLO_ACK	= 4,	/* name, overlay_ip, overlay_plen, route*, probe_id?, probe_key? */
	CTLMSG_KEY_REQ		= 5,	/* req_id, overlay_ip (destination), app?, dst_port?, proto? */
	CTLMSG_KEY_GRANT	= 6,	/* req_id, key_id, key, lifetime, name, overlay_ip, underlay_ip, udp_port, max_packets?, route*, endpoint* */
	CTLMSG_KEY_DENY		= 7,	/* req_id, overlay_ip, reason */
	CTLMSG_KEY_PUSH		= 8,	/* key_id, key, lifetime, name, overlay_ip, underlay_ip, udp_port, max_packets?, route*, endpoint* */
	CTLMSG_KEY_PUSH_ACK	= 9,	/* key_id */
	CTLMSG_RESOLVE_REQ	= 10,	/* req_id, name */
	CTLMSG_RESOLVE_RESP	= 11,	/* req_id, name, overlay_ip (absent: unknown name; reason set) */
	CTLMSG_ERROR		= 12,	/* reason; the sender closes the connection after it */
	CTLMSG_PING		= 13,	/* req_id */
	CTLMSG_PONG		= 14,	/* req_id */
	CTLMSG_KEY_REVOKE	= 15,	/* name, overlay_ip: drop every key with that host */
	CTLMSG_FLOW_REQ		= 16,	/* req_id, overlay_ip (destination as addressed), proto,
					 * dst_port?, app?, uid?, gid?, user?, group? */
	CTLMSG_FLOW_VERDICT	= 17,	/* req_id, overlay_ip, verdict, lifetime (TTL s), reason? */
	CTLMSG_FLOW_FLUSH	= 18,	/* policy_open: forget every cached flow decision */
	/* 19..27: reserved for other work in progress; a gap is an unknown type. */
	CTLMSG_NAME_ADD		= 28,	/* name, overlay_ip?: host NAME is known (DNS registry) */
	CTLMSG_NAME_DEL		= 29,	/* name: host NAME is no longer known */
	CTLMSG_NAMES_END	= 30,	/* end of the full name list that follows HELLO_ACK */
	CTLMSG_TYPE_MAX
};

enum ctlmsg_attr {
	CTLA_REQ_ID		= 1,	/* be32 */
	CTLA_KEY_ID		= 2,	/* be32 */
	CTLA_KEY		= 3,	/* 32 bytes */
	CTLA_LIFETIME		= 4,	/* be32 seconds */
	CTLA_NAME		= 5,	/* string, < CTLMSG_NAME_MAX */
	CTLA_OVERLAY_IP		= 6,	/* 4 bytes */
	CTLA_OVERLAY_PLEN	= 7,	/* u8 */
	CTLA_UNDERLAY_IP	= 8,	/* 4 bytes */
	CTLA_UDP_PORT		= 9,	/* be16 */
	CTLA_TOKEN		= 10,	/* string */
	CTLA_CSR		= 11,	/* string (PEM) */
	CTLA_CERT		= 12,	/* string (PEM) */
	CTLA_CA			= 13,	/* string (PEM) */
	CTLA_REASON		= 14,	/* string */
	CTLA_APP		= 15,	/* string: cgroup path of the application */
	CTLA_DST_PORT		= 16,	/* be16: destination port of the flow (KEY_REQ) */
	CTLA_PROTO		= 17,	/* u8: IP protocol of the flow (KEY_REQ) */
	CTLA_MAX_PACKETS	= 18,	/* be32: packets one direction may send under the key */
	/* 19, 20: version 1's string route lists; not reused. */
	CTLA_ROUTE		= 21,	/* repeated, one route each (CTLMSG_ROUTE_*):
					 * a LAN prefix and its gateway's overlay
					 * address. HELLO_ACK: the complete list, the
					 * receiver's own (gateway = its overlay_ip)
					 * and every other gateway's; KEY_GRANT/
					 * KEY_PUSH: the peer's (gateway = overlay_ip) */
	CTLA_ENDPOINT		= 22,	/* repeated, optional (CTLMSG_EP_*): HELLO:
					 * the sender's candidate underlay endpoints
					 * (its underlay interface's addresses, its UDP
					 * port); KEY_GRANT/KEY_PUSH: the peer's */
	CTLA_UID		= 23,	/* be32: user id of the flow's process (FLOW_REQ, KEY_REQ) */
	CTLA_GID		= 24,	/* be32: its primary group id */
	CTLA_USER		= 25,	/* string: the uid's name on the host */
	CTLA_GROUP		= 26,	/* string: the gid's name on the host */
	CTLA_VERDICT		= 27,	/* u8: 1 allow, 0 deny (FLOW_VERDICT) */
	CTLA_POLICY_OPEN	= 28,	/* u8: 1 no policy stored, every flow
					 * allowed without asking; 0 decisions
					 * needed (HELLO_ACK, FLOW_FLUSH) */
	/* 29, 32..39: reserved for other work in progress; a gap is an
	 * unknown id. */
	CTLA_PROBE_ID		= 30,	/* be32, HELLO_ACK: names this connection's
					 * probe key in DISCO_REQ (mavpn/probe.h) */
	CTLA_PROBE_KEY		= 31,	/* 32 bytes, HELLO_ACK: random, held by the
					 * server for this connection only; the
					 * host's discovery probes are sealed
					 * with it */
	CTLA_DOMAIN		= 40,	/* string, < CTLMSG_DOMAIN_MAX: HELLO_ACK:
					 * the DNS domain of the overlay names */
	CTLA_MAX
};

#define CTLMSG_NAME_MAX		64
#define CTLMSG_TOKEN_MAX	160
#define CTLMSG_PEM_MAX		4096
#define CTLMSG_REASON_MAX	160
#define CTLMSG_APP_MAX		256
#define CTLMSG_KEY_LEN		32
#define CTLMSG_ROUTES_MAX	1024	/* CTLA_ROUTE per message */
#define CTLMSG_DOMAIN_MAX	128	/* CTLA_DOMAIN, NUL included */

/*
 * CTLA_ROUTE value: u8 family (CTLMSG_ROUTE_INET, CTLMSG_ROUTE_INET6) |
 * u8 plen | address (4 or 16 bytes, host bits zero) | gateway overlay
 * address (4 bytes, network order; 0: not known).
 */
#define CTLMSG_ROUTE_INET	4
#define CTLMSG_ROUTE_INET6	6
#define CTLMSG_ROUTE_LEN4	(2 + 4 + 4)
#define CTLMSG_ROUTE_LEN6	(2 + 16 + 4)

struct ctlmsg_route {
	struct prefix prefix;		/* canonical (prefix_valid) */
	uint32_t gw;			/* network order, 0: not known */
};

/*
 * CTLA_ENDPOINT value: u8 family (CTLMSG_ROUTE_INET, CTLMSG_ROUTE_INET6) |
 * u8 reserved (0) | be16 UDP port (nonzero) | address (4 or 16 bytes).
 */
#define CTLMSG_ENDPOINTS_MAX	16	/* CTLA_ENDPOINT per message */
#define CTLMSG_EP_LEN4		(4 + 4)
#define CTLMSG_EP_LEN6		(4 + 16)

struct ctlmsg_endpoint {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint16_t port;			/* host order, nonzero */
	union {
		uint32_t v4;		/* network order */
		uint8_t v6[16];
	};
};

/* CTLA_KEY is the server-minted secret the hosts derive their AEAD keys
 * from (aead_derive_keys): exactly one AEAD key long. */
_Static_assert(CTLMSG_KEY_LEN == AEAD_KEY_LEN, "CTLA_KEY = AEAD key");

#define CTLA_BIT(a)		(1ull << (a))

struct ctlmsg {
	uint8_t type;			/* enum ctlmsg_type */
	uint64_t present;		/* CTLA_BIT() of each attribute set */
	uint32_t req_id;
	uint32_t key_id;
	uint8_t key[CTLMSG_KEY_LEN];
	uint32_t lifetime;
	uint32_t overlay_ip;		/* network order */
	uint8_t overlay_plen;
	uint32_t underlay_ip;		/* network order */
	uint16_t udp_port;		/* host order */
	char name[CTLMSG_NAME_MAX];
	char token[CTLMSG_TOKEN_MAX];
	char reason[CTLMSG_REASON_MAX];
	char app[CTLMSG_APP_MAX];
	uint16_t dst_port;		/* host order */
	uint8_t proto;
	uint32_t max_packets;
	uint32_t uid, gid;
	char user[CTLMSG_NAME_MAX];
	char group[CTLMSG_NAME_MAX];
	uint8_t verdict;
	uint8_t policy_open;
	char csr[CTLMSG_PEM_MAX];
	char cert[CTLMSG_PEM_MAX];
	char ca[CTLMSG_PEM_MAX];
	uint32_t n_routes;		/* CTLA_ROUTE set iff n_routes > 0 */
	struct ctlmsg_route routes[CTLMSG_ROUTES_MAX];
	uint32_t n_endpoints;		/* CTLA_ENDPOINT set iff n_endpoints > 0 */
	struct ctlmsg_endpoint endpoints[CTLMSG_ENDPOINTS_MAX];
	char domain[CTLMSG_DOMAIN_MAX];
	uint32_t probe_id;
	uint8_t probe_key[CTLMSG_KEY_LEN];
};

/* Reset to an empty message of @type (all fields zero, present = 0). */
void ctlmsg_init(struct ctlmsg *m, uint8_t type);

/*
 * Append a CTLA_ROUTE (@p, gateway @gw) to @m and set its present bit. 0,
 * -ENOSPC after CTLMSG_ROUTES_MAX, -EINVAL if @p is not prefix_valid().
 */
int ctlmsg_add_route(struct ctlmsg *m, const struct prefix *p, uint32_t gw);

/*
 * Append a CTLA_ENDPOINT to @m and set its present bit. 0, -ENOSPC after
 * CTLMSG_ENDPOINTS_MAX, -EINVAL for a bad family or a zero port.
 */
int ctlmsg_add_endpoint(struct ctlmsg *m, const struct ctlmsg_endpoint *ep);

/*
 * Encode @m (every attribute whose bit is in m->present) as a whole frame,
 * length prefix included, into @buf. Returns the frame length, -EMSGSIZE if
 * it does not fit in @cap or CTLMSG_MAX_BODY, -EINVAL if a required
 * attribute of the type is missing.
 * Also -EINVAL for an unknown type, a present string field that fills its
 * whole array (no NUL), or CTLA_ROUTE set with n_routes 0, above
 * CTLMSG_ROUTES_MAX or with an invalid prefix. Attributes are written in
 * ascending id order (routes in array order), so the encoding of a struct
 * is canonical; bits of unknown ids are ignored.
 */
int ctlmsg_encode(const struct ctlmsg *m, uint8_t *buf, size_t cap);

/*
 * Given the first @avail bytes of a stream, return the length of the first
 * whole frame (prefix included) if it is all there, 0 if more bytes are
 * needed, -EMSGSIZE if the announced body exceeds CTLMSG_MAX_BODY or is
 * shorter than the 4-byte body header.
 */
int ctlmsg_frame_len(const uint8_t *buf, size_t avail);

/*
 * Decode one whole frame (prefix included, @len from ctlmsg_frame_len) into
 * @m. Returns 0 or -EBADMSG (malformed, unknown version, unknown type,
 * missing required attribute). Never reads outside @buf[0..len).
 * Malformed also covers: a prefix other than len - 4, a body over
 * CTLMSG_MAX_BODY, a non-zero reserved field. @m is zeroed first (unset
 * fields read 0 / ""), and wiped again on any error.
 */
int ctlmsg_decode(const uint8_t *buf, size_t len, struct ctlmsg *m);

/* The type and attribute ids are not dense (ranges are reserved): whether
 * this version knows type @type / attribute @attr. */
bool ctlmsg_type_known(unsigned int type);
bool ctlmsg_attr_known(unsigned int attr);

/* Name of a type for logs ("KEY_REQ"), "UNKNOWN" otherwise. */
const char *ctlmsg_type_name(unsigned int type);

/* Zero the key material (and everything else) of @m. */
void ctlmsg_wipe(struct ctlmsg *m);

#endif /* MAVPN_CTLMSG_H */
