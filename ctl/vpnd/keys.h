/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flows, key requests, renewal and revocation: what vpnd does with shim
 * events, datapath requests and the server's key messages.
 */
#ifndef MAVPN_CTL_VPND_KEYS_H
#define MAVPN_CTL_VPND_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "mavpn/counters.h"

/*
 * vpnd's key counters (see mavpn/counters.h), X(ID, name, prom, help):
 * name is the field of `vpnctl status` (keys{}), prom the metric stem
 * (mavpn_vpnd_PROM_total). Stored in struct vpnd's cnt[], counted here.
 */
#define KEYS_COUNTERS(X) \
	X(REQUESTS, "requests_sent", "key_requests", "KEY_REQ sent to the server.") \
	X(GRANTED, "granted", "key_grants", "Keys granted to us (we initiated) and installed.") \
	X(PUSHED, "pushed", "key_pushes", "Keys pushed to us by the server (a peer initiated) and installed.") \
	X(DENIED, "denied", "key_denials", "KEY_DENY received from the server.") \
	X(TIMEOUTS, "timeouts", "key_request_timeouts", "Key requests that got no answer in time.") \
	X(INSTALL_FAILED, "install_failed", "key_install_failures", "Keys the data plane refused to install.") \
	X(RENEWALS, "renewals", "key_renewals", "Live keys renewed before they ran out.") \
	X(REVOKED, "revoked", "key_revocations", "Peers the server revoked while we held keys with them.") \
	X(REQUESTS_DROPPED, "requests_dropped", "key_requests_dropped", "Destinations not requested because the request table was full.") \
	X(DP_REQUESTS, "datapath_requests", "datapath_key_requests", "Key requests triggered by packets at the interface layer.") \
	X(FLOW_REQUESTS, "flow_requests", NULL, "FLOW_REQ sent: a new flow's decision asked of the server.") \
	X(FLOW_ALLOWED, "flows_allowed", NULL, "Flows the server allowed (decision cached in the kernel).") \
	X(FLOW_DENIED, "flows_denied", NULL, "Flows the server refused (EPERM / dropped until the TTL ends).") \
	X(FLOW_FLUSHES, "flow_flushes", NULL, "Cached flow decisions dropped at once (policy changed, host revoked).")

enum keys_counter {
#define KEYS_ENUM(id, name, prom, help) KEYS_##id,
	KEYS_COUNTERS(KEYS_ENUM)
#undef KEYS_ENUM
	KEYS__COUNT
};

extern const struct counter_desc keys_desc[KEYS__COUNT];

struct ctlmsg;
struct shim_event;
struct vpnd;

/* chan callbacks (@arg is the struct vpnd) */
void keys_on_chan_msg(void *arg, struct ctlmsg *m);
void keys_on_chan_link(void *arg, bool up);
/* shim ring-buffer callback */
void keys_on_shim_event(void *arg, const struct shim_event *e);
/* drain the datapath's key requests (packets without a key) */
void keys_dp_requests(struct vpnd *v);
/* timers */
void keys_flow_expire(struct vpnd *v, uint64_t now);
void keys_renew_tick(struct vpnd *v, uint64_t now);
/* Our discovered endpoint into the candidates HELLO reports. */
void keys_disco_tick(struct vpnd *v);

#endif /* MAVPN_CTL_VPND_KEYS_H */
