/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * authsrv KEY_REQ rate limit (keyrate.c): a token bucket per session.
 *
 * Each request mints a key and pushes it to a peer, so a compromised host
 * could otherwise make the server push keys at its peers as fast as it can
 * send. Full at HELLO (burst = 2 x --key-rate), refilled at --key-rate per
 * second. Over it the request gets KEY_DENY "rate limited ..."; the log and
 * audit line for it is written at most once a second per session, with the
 * count, so the limit cannot be turned into a flood of the audit log.
 */
#ifndef AUTHSRV_KEYRATE_H
#define AUTHSRV_KEYRATE_H

#include <stdbool.h>
#include <stdint.h>

#define KEYRATE_DEFAULT		32	/* default --key-rate: KEY_REQ/s per
					 * session, after a burst of */
#define KEYRATE_BURST(rate)	(2 * (double)(rate))

/* One session's bucket; all zero = not started (full). */
struct keyrate {
	double tokens;
	uint64_t last_ms;		/* 0: bucket not started */
	uint64_t logged_ms;
	uint32_t limited;		/* denied since the last log line */
};

/* May one more request pass at @now (ms)? @rate 0: always. */
bool keyrate_take(struct keyrate *kr, uint32_t rate, uint64_t now);
/* A request was refused: true when a log line is due (at most one a
 * second), with the refusals since the last one in @n (then reset). */
bool keyrate_refused(struct keyrate *kr, uint64_t now, uint32_t *n);

#endif /* AUTHSRV_KEYRATE_H */
