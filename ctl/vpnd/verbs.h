/* SPDX-License-Identifier: GPL-2.0-only */
/* Control-socket verbs, their text/JSON output, and the metrics page. */
#ifndef MAVPN_CTL_VPND_VERBS_H
#define MAVPN_CTL_VPND_VERBS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ctlmsg;
struct linesock_req;
struct vpnd;

/* The control socket's linesock handler (@arg is the struct vpnd). */
int verbs_on_request(void *arg, struct linesock_req *r, const char *verb,
		     const char *argstr);
/* promhttp renderer (@arg is the struct vpnd) */
int verbs_metrics_render(void *arg, FILE *f);
/* RESOLVE answers from the server, and their timeout */
void verbs_resolve_answer(struct vpnd *v, const struct ctlmsg *m);
void verbs_resolve_expire(struct vpnd *v, uint64_t now);

#endif /* MAVPN_CTL_VPND_VERBS_H */
