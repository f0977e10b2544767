// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control-channel TLV codec. Everything the codec knows is in two tables:
 * ctla_table (each attribute's wire kind, field and size limit) and
 * ctlmsg_required (the attributes each message type must carry). Adding an
 * attribute or a message type is a table edit; the encode and decode loops
 * never name a field. The repeated attributes (CTLA_ROUTE, kind
 * CTLA_K_ROUTE; CTLA_ENDPOINT, kind CTLA_K_ENDPOINT) have their own pairs
 * of functions, as their fields are arrays with a count.
 *
 * The decoder parses bytes from an authenticated peer, but a compromised or
 * buggy peer must still not be able to make it read outside the frame: every
 * length is checked against what is left before it is used.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/util.h"

#define CTLMSG_BODY_HDR_LEN	4	/* version, type, be16 reserved */
#define CTLA_HDR_LEN		4	/* be16 attr, be16 len */

enum ctla_kind {
	CTLA_K_NONE = 0,	/* not a known attribute: skipped on decode */
	CTLA_K_U8,
	CTLA_K_BE16,
	CTLA_K_BE32,
	CTLA_K_IP4,		/* 4 bytes kept in network order */
	CTLA_K_KEY32,		/* CTLMSG_KEY_LEN raw bytes */
	CTLA_K_STRING,		/* no NUL on the wire; < field size */
	CTLA_K_ROUTE,		/* repeated: struct ctlmsg_route routes[n_routes] */
	CTLA_K_ENDPOINT,	/* repeated: endpoints[n_endpoints] */
};

struct ctla_desc {
	uint8_t kind;
	size_t off;		/* offset of the field in struct ctlmsg */
	size_t size;		/* strings: field size, NUL included */
};

#define FIELD(kind, f) { kind, offsetof(struct ctlmsg, f), \
			 sizeof(((struct ctlmsg *)0)->f) }

static const struct ctla_desc ctla_table[CTLA_MAX] = {
	[CTLA_REQ_ID]		= FIELD(CTLA_K_BE32, req_id),
	[CTLA_KEY_ID]		= FIELD(CTLA_K_BE32, key_id),
	[CTLA_KEY]		= FIELD(CTLA_K_KEY32, key),
	[CTLA_LIFETIME]		= FIELD(CTLA_K_BE32, lifetime),
	[CTLA_NAME]		= FIELD(CTLA_K_STRING, name),
	[CTLA_OVERLAY_IP]	= FIELD(CTLA_K_IP4, overlay_ip),
	[CTLA_OVERLAY_PLEN]	= FIELD(CTLA_K_U8, overlay_plen),
	[CTLA_UNDERLAY_IP]	= FIELD(CTLA_K_IP4, underlay_ip),
	[CTLA_UDP_PORT]		= FIELD(CTLA_K_BE16, udp_port),
	[CTLA_TOKEN]		= FIELD(CTLA_K_STRING, token),
	[CTLA_CSR]		= FIELD(CTLA_K_STRING, csr),
	[CTLA_CERT]		= FIELD(CTLA_K_STRING, cert),
	[CTLA_CA]		= FIELD(CTLA_K_STRING, ca),
	[CTLA_REASON]		= FIELD(CTLA_K_STRING, reason),
	[CTLA_APP]		= FIELD(CTLA_K_STRING, app),
	[CTLA_DST_PORT]		= FIELD(CTLA_K_BE16, dst_port),
	[CTLA_PROTO]		= FIELD(CTLA_K_U8, proto),
	[CTLA_MAX_PACKETS]	= FIELD(CTLA_K_BE32, max_packets),
	[CTLA_ROUTE]		= FIELD(CTLA_K_ROUTE, routes),
	[CTLA_ENDPOINT]		= FIELD(CTLA_K_ENDPOINT, endpoints),
	[CTLA_UID]		= FIELD(CTLA_K_BE32, uid),
	[CTLA_GID]		= FIELD(CTLA_K_BE32, gid),
	[CTLA_USER]		= FIELD(CTLA_K_STRING, user),
	[CTLA_GROUP]		= FIELD(CTLA_K_STRING, group),
	[CTLA_VERDICT]		= FIELD(CTLA_K_U8, verdict),
	[CTLA_POLICY_OPEN]	= FIELD(CTLA_K_U8, policy_open),
	[CTLA_PROBE_ID]		= FIELD(CTLA_K_BE32, probe_id),
	[CTLA_PROBE_KEY]	= FIELD(CTLA_K_KEY32, probe_key),
	[CTLA_DOMAIN]		= FIELD(CTLA_K_STRING, domain),
};

/* The table's field sizes must agree with the header's limits. */
_Static_assert(sizeof(((struct ctlmsg *)0)->name) == CTLMSG_NAME_MAX, "name");
_Static_assert(sizeof(((struct ctlmsg *)0)->token) == CTLMSG_TOKEN_MAX, "token");
_Static_assert(sizeof(((struct ctlmsg *)0)->reason) == CTLMSG_REASON_MAX, "reason");
_Static_assert(sizeof(((struct ctlmsg *)0)->app) == CTLMSG_APP_MAX, "app");
_Static_assert(sizeof(((struct ctlmsg *)0)->routes) ==
	       CTLMSG_ROUTES_MAX * sizeof(struct ctlmsg_route), "routes");
/* A full list of the longest routes fits in a frame with room to spare for
 * the other attributes of HELLO_ACK, KEY_GRANT and KEY_PUSH. */
_Static_assert(CTLMSG_ROUTES_MAX * (CTLA_HDR_LEN + CTLMSG_ROUTE_LEN6) +
	       2048 <= CTLMSG_MAX_BODY, "CTLMSG_ROUTES_MAX routes fit a frame");
_Static_assert(sizeof(((struct ctlmsg *)0)->csr) == CTLMSG_PEM_MAX, "csr");
_Static_assert(CTLA_MAX <= 64, "present is a 64-bit mask");
_Static_assert(sizeof(((struct ctlmsg *)0)->domain) == CTLMSG_DOMAIN_MAX, "domain");

#define B(a)	CTLA_BIT(CTLA_##a)

static const uint64_t ctlmsg_required[CTLMSG_TYPE_MAX] = {
	[CTLMSG_ENROLL_REQ]	= B(TOKEN) | B(CSR),
	[CTLMSG_ENROLL_RESP]	= B(NAME) | B(OVERLAY_IP) | B(OVERLAY_PLEN) |
				  B(CERT) | B(CA),
	[CTLMSG_HELLO]		= B(UDP_PORT),
	[CTLMSG_HELLO_ACK]	= B(NAME) | B(OVERLAY_IP) | B(OVERLAY_PLEN),
	[CTLMSG_KEY_REQ]	= B(REQ_ID) | B(OVERLAY_IP),
	[CTLMSG_KEY_GRANT]	= B(REQ_ID) | B(KEY_ID) | B(KEY) | B(LIFETIME) |
				  B(NAME) | B(OVERLAY_IP) | B(UNDERLAY_IP) |
				  B(UDP_PORT),
	[CTLMSG_KEY_DENY]	= B(REQ_ID) | B(OVERLAY_IP) | B(REASON),
	[CTLMSG_KEY_PUSH]	= B(KEY_ID) | B(KEY) | B(LIFETIME) | B(NAME) |
				  B(OVERLAY_IP) | B(UNDERLAY_IP) | B(UDP_PORT),
	[CTLMSG_KEY_PUSH_ACK]	= B(KEY_ID),
	[CTLMSG_RESOLVE_REQ]	= B(REQ_ID) | B(NAME),
	/* overlay_ip is absent for an unknown name (reason set then). */
	[CTLMSG_RESOLVE_RESP]	= B(REQ_ID) | B(NAME),
	[CTLMSG_ERROR]		= B(REASON),
	[CTLMSG_PING]		= B(REQ_ID),
	[CTLMSG_PONG]		= B(REQ_ID),
	[CTLMSG_KEY_REVOKE]	= B(NAME) | B(OVERLAY_IP),
	[CTLMSG_FLOW_REQ]	= B(REQ_ID) | B(OVERLAY_IP) | B(PROTO),
	[CTLMSG_FLOW_VERDICT]	= B(REQ_ID) | B(OVERLAY_IP) | B(VERDICT) |
				  B(LIFETIME),
	[CTLMSG_FLOW_FLUSH]	= B(POLICY_OPEN),
	/* overlay_ip is absent for a host without an IPv4 overlay address. */
	[CTLMSG_NAME_ADD]	= B(NAME),
	[CTLMSG_NAME_DEL]	= B(NAME),
	[CTLMSG_NAMES_END]	= 0,
};

#undef B

static const char *const ctlmsg_names[CTLMSG_TYPE_MAX] = {
	[CTLMSG_ENROLL_REQ]	= "ENROLL_REQ",
	[CTLMSG_ENROLL_RESP]	= "ENROLL_RESP",
	[CTLMSG_HELLO]		= "HELLO",
	[CTLMSG_HELLO_ACK]	= "HELLO_ACK",
	[CTLMSG_KEY_REQ]	= "KEY_REQ",
	[CTLMSG_KEY_GRANT]	= "KEY_GRANT",
	[CTLMSG_KEY_DENY]	= "KEY_DENY",
	[CTLMSG_KEY_PUSH]	= "KEY_PUSH",
	[CTLMSG_KEY_PUSH_ACK]	= "KEY_PUSH_ACK",
	[CTLMSG_RESOLVE_REQ]	= "RESOLVE_REQ",
	[CTLMSG_RESOLVE_RESP]	= "RESOLVE_RESP",
	[CTLMSG_ERROR]		= "ERROR",
	[CTLMSG_PING]		= "PING",
	[CTLMSG_PONG]		= "PONG",
	[CTLMSG_KEY_REVOKE]	= "KEY_REVOKE",
	[CTLMSG_FLOW_REQ]	= "FLOW_REQ",
	[CTLMSG_FLOW_VERDICT]	= "FLOW_VERDICT",
	[CTLMSG_FLOW_FLUSH]	= "FLOW_FLUSH",
	[CTLMSG_NAME_ADD]	= "NAME_ADD",
	[CTLMSG_NAME_DEL]	= "NAME_DEL",
	[CTLMSG_NAMES_END]	= "NAMES_END",
};

/* The ids are not dense (ranges are reserved for work in progress): a type
 * is known iff it has a name. */
static bool ctlmsg_type_valid(unsigned int type)
{
	return type > 0 && type < CTLMSG_TYPE_MAX && ctlmsg_names[type];
}

bool ctlmsg_type_known(unsigned int type)
{
	return ctlmsg_type_valid(type);
}

bool ctlmsg_attr_known(unsigned int attr)
{
	return attr > 0 && attr < CTLA_MAX &&
	       ctla_table[attr].kind != CTLA_K_NONE;
}

void ctlmsg_init(struct ctlmsg *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

void ctlmsg_wipe(struct ctlmsg *m)
{
	/* explicit_bzero: the compiler may not drop it as a dead store. */
	explicit_bzero(m, sizeof(*m));
}

const char *ctlmsg_type_name(unsigned int type)
{
	return ctlmsg_type_valid(type) ? ctlmsg_names[type] : "UNKNOWN";
}

/* Length of attribute @d's value in @m; -EINVAL for an unterminated string. */
static int ctla_value_len(const struct ctla_desc *d, const struct ctlmsg *m)
{
	const uint8_t *f = (const uint8_t *)m + d->off;
	size_t n;

	switch (d->kind) {
	case CTLA_K_U8:
		return 1;
	case CTLA_K_BE16:
		return 2;
	case CTLA_K_BE32:
	case CTLA_K_IP4:
		return 4;
	case CTLA_K_KEY32:
		return CTLMSG_KEY_LEN;
	case CTLA_K_STRING:
		n = strnlen((const char *)f, d->size);
		return n < d->size ? (int)n : -EINVAL;
	case CTLA_K_ROUTE:	/* ctla_put_routes() */
	case CTLA_K_ENDPOINT:	/* ctla_put_endpoints() */
		break;
	}
	return -EINVAL;
}

static void ctla_put_value(const struct ctla_desc *d, const struct ctlmsg *m,
			   uint8_t *p, size_t len)
{
	const uint8_t *f = (const uint8_t *)m + d->off;
	uint16_t v16;
	uint32_t v32;

	switch (d->kind) {
	case CTLA_K_U8:
		*p = *f;
		break;
	case CTLA_K_BE16:
		memcpy(&v16, f, sizeof(v16));
		put_be16(p, v16);
		break;
	case CTLA_K_BE32:
		memcpy(&v32, f, sizeof(v32));
		put_be32(p, v32);
		break;
	case CTLA_K_IP4:	/* already in network order */
	case CTLA_K_KEY32:
	case CTLA_K_STRING:
		memcpy(p, f, len);
		break;
	case CTLA_K_ROUTE:	/* ctla_put_routes() */
	case CTLA_K_ENDPOINT:	/* ctla_put_endpoints() */
		break;
	}
}

/* ---- CTLA_ROUTE, the repeated attribute ---- */

static int ctla_route_len(const struct ctlmsg_route *r)
{
	if (!prefix_valid(&r->prefix))
		return -EINVAL;
	return r->prefix.family == AF_INET ? CTLMSG_ROUTE_LEN4 :
					     CTLMSG_ROUTE_LEN6;
}

/* Every route of @m as one attribute @a each, at @buf + *@off. */
static int ctla_put_routes(unsigned int a, const struct ctlmsg *m,
			   uint8_t *buf, size_t limit, size_t *off)
{
	const struct ctlmsg_route *r;
	uint8_t *p;
	uint32_t i;
	int vlen;

	if (m->n_routes == 0 || m->n_routes > CTLMSG_ROUTES_MAX)
		return -EINVAL;
	for (i = 0; i < m->n_routes; i++) {
		r = &m->routes[i];
		vlen = ctla_route_len(r);
		if (vlen < 0)
			return vlen;
		if (limit - *off < CTLA_HDR_LEN + (size_t)vlen)
			return -EMSGSIZE;
		p = buf + *off;
		put_be16(p, a);
		put_be16(p + 2, vlen);
		p += CTLA_HDR_LEN;
		if (r->prefix.family == AF_INET) {
			p[0] = CTLMSG_ROUTE_INET;
			memcpy(p + 2, &r->prefix.v4, 4);
		} else {
			p[0] = CTLMSG_ROUTE_INET6;
			memcpy(p + 2, r->prefix.v6, 16);
		}
		p[1] = r->prefix.plen;
		memcpy(p + vlen - 4, &r->gw, 4);
		*off += CTLA_HDR_LEN + vlen;
	}
	return 0;
}

/* One route value of @len bytes at @p, appended to @m. */
static int ctla_get_route(struct ctlmsg *m, const uint8_t *p, size_t len)
{
	struct ctlmsg_route r;

	if (m->n_routes == CTLMSG_ROUTES_MAX || len < 2)
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	if (p[0] == CTLMSG_ROUTE_INET && len == CTLMSG_ROUTE_LEN4) {
		r.prefix.family = AF_INET;
		memcpy(&r.prefix.v4, p + 2, 4);
	} else if (p[0] == CTLMSG_ROUTE_INET6 && len == CTLMSG_ROUTE_LEN6) {
		r.prefix.family = AF_INET6;
		memcpy(r.prefix.v6, p + 2, 16);
	} else {
		return -EBADMSG;
	}
	r.prefix.plen = p[1];
	/* plen in range, host bits zero: one encoding per route. */
	if (!prefix_valid(&r.prefix))
		return -EBADMSG;
	memcpy(&r.gw, p + len - 4, 4);
	m->routes[m->n_routes++] = r;
	return 0;
}

int ctlmsg_add_route(struct ctlmsg *m, const struct prefix *p, uint32_t gw)
{
	if (!prefix_valid(p))
		return -EINVAL;
	if (m->n_routes >= CTLMSG_ROUTES_MAX)
		return -ENOSPC;
	m->routes[m->n_routes].prefix = *p;
	m->routes[m->n_routes].gw = gw;
	m->n_routes++;
	m->present |= CTLA_BIT(CTLA_ROUTE);
	return 0;
}

/* ---- CTLA_ENDPOINT, the other repeated attribute ---- */

static int ctla_ep_len(const struct ctlmsg_endpoint *ep)
{
	if (!ep->port)
		return -EINVAL;
	if (ep->family == AF_INET)
		return CTLMSG_EP_LEN4;
	if (ep->family == AF_INET6)
		return CTLMSG_EP_LEN6;
	return -EINVAL;
}

static int ctla_put_endpoints(unsigned int a, const struct ctlmsg *m,
			      uint8_t *buf, size_t limit, size_t *off)
{
	const struct ctlmsg_endpoint *ep;
	uint8_t *p;
	uint32_t i;
	int vlen;

	if (m->n_endpoints == 0 || m->n_endpoints > CTLMSG_ENDPOINTS_MAX)
		return -EINVAL;
	for (i = 0; i < m->n_endpoints; i++) {
		ep = &m->endpoints[i];
		vlen = ctla_ep_len(ep);
		if (vlen < 0)
			return vlen;
		if (limit - *off < CTLA_HDR_LEN + (size_t)vlen)
			return -EMSGSIZE;
		p = buf + *off;
		put_be16(p, a);
		put_be16(p + 2, vlen);
		p += CTLA_HDR_LEN;
		p[0] = ep->family == AF_INET ? CTLMSG_ROUTE_INET :
					       CTLMSG_ROUTE_INET6;
		p[1] = 0;
		put_be16(p + 2, ep->port);
		if (ep->family == AF_INET)
			memcpy(p + 4, &ep->v4, 4);
		else
			memcpy(p + 4, ep->v6, 16);
		*off += CTLA_HDR_LEN + vlen;
	}
	return 0;
}

static int ctla_get_endpoint(struct ctlmsg *m, const uint8_t *p, size_t len)
{
	struct ctlmsg_endpoint ep;

	if (m->n_endpoints == CTLMSG_ENDPOINTS_MAX || len < 4 || p[1])
		return -EBADMSG;
	memset(&ep, 0, sizeof(ep));
	if (p[0] == CTLMSG_ROUTE_INET && len == CTLMSG_EP_LEN4) {
		ep.family = AF_INET;
		memcpy(&ep.v4, p + 4, 4);
	} else if (p[0] == CTLMSG_ROUTE_INET6 && len == CTLMSG_EP_LEN6) {
		ep.family = AF_INET6;
		memcpy(ep.v6, p + 4, 16);
	} else {
		return -EBADMSG;
	}
	ep.port = get_be16(p + 2);
	if (!ep.port)
		return -EBADMSG;
	m->endpoints[m->n_endpoints++] = ep;
	return 0;
}

int ctlmsg_add_endpoint(struct ctlmsg *m, const struct ctlmsg_endpoint *ep)
{
	if (ctla_ep_len(ep) < 0)
		return -EINVAL;
	if (m->n_endpoints >= CTLMSG_ENDPOINTS_MAX)
		return -ENOSPC;
	m->endpoints[m->n_endpoints++] = *ep;
	m->present |= CTLA_BIT(CTLA_ENDPOINT);
	return 0;
}

int ctlmsg_encode(const struct ctlmsg *m, uint8_t *buf, size_t cap)
{
	size_t limit = cap, off;
	unsigned int a;
	int vlen, ret;

	if (!ctlmsg_type_valid(m->type))
		return -EINVAL;
	if ((m->present & ctlmsg_required[m->type]) != ctlmsg_required[m->type])
		return -EINVAL;
	if (limit > CTLMSG_HDR_LEN + CTLMSG_MAX_BODY)
		limit = CTLMSG_HDR_LEN + CTLMSG_MAX_BODY;
	if (limit < CTLMSG_HDR_LEN + CTLMSG_BODY_HDR_LEN)
		return -EMSGSIZE;

	off = CTLMSG_HDR_LEN;
	buf[off++] = CTLMSG_VERSION;
	buf[off++] = m->type;
	buf[off++] = 0;
	buf[off++] = 0;

	/* Ascending id order: the peer does not care, but a canonical
	 * encoding makes frames comparable in tests and captures. */
	for (a = 1; a < CTLA_MAX; a++) {
		const struct ctla_desc *d = &ctla_table[a];

		if (!(m->present & CTLA_BIT(a)) || d->kind == CTLA_K_NONE)
			continue;
		if (d->kind == CTLA_K_ROUTE) {
			ret = ctla_put_routes(a, m, buf, limit, &off);
			if (ret)
				return ret;
			continue;
		}
		if (d->kind == CTLA_K_ENDPOINT) {
			ret = ctla_put_endpoints(a, m, buf, limit, &off);
			if (ret)
				return ret;
			continue;
		}
		vlen = ctla_value_len(d, m);
		if (vlen < 0)
			return vlen;
		if (limit - off < CTLA_HDR_LEN + (size_t)vlen)
			return -EMSGSIZE;
		put_be16(buf + off, a);
		put_be16(buf + off + 2, vlen);
		ctla_put_value(d, m, buf + off + CTLA_HDR_LEN, vlen);
		off += CTLA_HDR_LEN + vlen;
	}
	put_be32(buf, off - CTLMSG_HDR_LEN);
	return (int)off;
}

int ctlmsg_frame_len(const uint8_t *buf, size_t avail)
{
	uint32_t body;

	if (avail < CTLMSG_HDR_LEN)
		return 0;
	body = get_be32(buf);
	/* Judge the prefix before waiting for the body, so a peer cannot make
	 * us buffer an absurd amount. */
	if (body > CTLMSG_MAX_BODY || body < CTLMSG_BODY_HDR_LEN)
		return -EMSGSIZE;
	if (avail - CTLMSG_HDR_LEN < body)
		return 0;
	return (int)(CTLMSG_HDR_LEN + body);
}

/* Parse one known attribute's value of @len bytes at @p into @m. */
static int ctla_get_value(const struct ctla_desc *d, struct ctlmsg *m,
			  const uint8_t *p, size_t len)
{
	uint8_t *f = (uint8_t *)m + d->off;
	uint16_t v16;
	uint32_t v32;

	switch (d->kind) {
	case CTLA_K_U8:
		if (len != 1)
			return -EBADMSG;
		*f = *p;
		return 0;
	case CTLA_K_BE16:
		if (len != 2)
			return -EBADMSG;
		v16 = get_be16(p);
		memcpy(f, &v16, sizeof(v16));
		return 0;
	case CTLA_K_BE32:
		if (len != 4)
			return -EBADMSG;
		v32 = get_be32(p);
		memcpy(f, &v32, sizeof(v32));
		return 0;
	case CTLA_K_IP4:
		if (len != 4)
			return -EBADMSG;
		memcpy(f, p, 4);
		return 0;
	case CTLA_K_KEY32:
		if (len != CTLMSG_KEY_LEN)
			return -EBADMSG;
		memcpy(f, p, CTLMSG_KEY_LEN);
		return 0;
	case CTLA_K_STRING:
		/* Room for the NUL; an embedded NUL would silently truncate
		 * what the peer said (e.g. a name compared later). */
		if (len >= d->size || memchr(p, 0, len))
			return -EBADMSG;
		memcpy(f, p, len);
		f[len] = 0;
		return 0;
	case CTLA_K_ROUTE:	/* ctla_get_route() */
	case CTLA_K_ENDPOINT:	/* ctla_get_endpoint() */
		break;
	}
	return -EBADMSG;
}

int ctlmsg_decode(const uint8_t *buf, size_t len, struct ctlmsg *m)
{
	const uint8_t *body;
	size_t blen, off;
	uint64_t need;
	int ret;

	memset(m, 0, sizeof(*m));
	if (len < CTLMSG_HDR_LEN + CTLMSG_BODY_HDR_LEN ||
	    len > CTLMSG_HDR_LEN + CTLMSG_MAX_BODY)
		return -EBADMSG;
	blen = len - CTLMSG_HDR_LEN;
	if (get_be32(buf) != blen)
		return -EBADMSG;
	body = buf + CTLMSG_HDR_LEN;
	if (body[0] != CTLMSG_VERSION || !ctlmsg_type_valid(body[1]))
		return -EBADMSG;
	/* Reserved is zero in version 1; a later version that gives it a
	 * meaning bumps the version byte anyway. */
	if (body[2] || body[3])
		return -EBADMSG;
	m->type = body[1];

	off = CTLMSG_BODY_HDR_LEN;
	while (off < blen) {
		unsigned int a;
		size_t alen;

		if (blen - off < CTLA_HDR_LEN)
			goto bad;
		a = get_be16(body + off);
		alen = get_be16(body + off + 2);
		off += CTLA_HDR_LEN;
		if (alen > blen - off)
			goto bad;
		/* Unknown ids are skipped so a newer peer can add optional
		 * attributes without breaking us. */
		if (a > 0 && a < CTLA_MAX &&
		    ctla_table[a].kind == CTLA_K_ROUTE) {
			if (ctla_get_route(m, body + off, alen))
				goto bad;
			m->present |= CTLA_BIT(a);
		} else if (a > 0 && a < CTLA_MAX &&
			   ctla_table[a].kind == CTLA_K_ENDPOINT) {
			if (ctla_get_endpoint(m, body + off, alen))
				goto bad;
			m->present |= CTLA_BIT(a);
		} else if (a > 0 && a < CTLA_MAX &&
			   ctla_table[a].kind != CTLA_K_NONE) {
			if (m->present & CTLA_BIT(a))
				goto bad;
			ret = ctla_get_value(&ctla_table[a], m, body + off,
					     alen);
			if (ret)
				goto bad;
			m->present |= CTLA_BIT(a);
		}
		off += alen;
	}
	need = ctlmsg_required[m->type];
	if ((m->present & need) != need)
		goto bad;
	return 0;

bad:
	/* A half-parsed message may hold a key: leave nothing usable. */
	ctlmsg_wipe(m);
	return -EBADMSG;
}
