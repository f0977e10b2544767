/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flows, key requests, renewal and revocation: what vpnd does with shim
 * events, datapath requests and the server's key messages.
 */
#ifndef MAVPN_CTL_VPND_KEYS_H
#define MAVPN_CTL_VPND_KEYS_H

#include <stdbool.h>
#include <stdint.h>

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

#endif /* MAVPN_CTL_VPND_KEYS_H */
