/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Structured logging to stderr (journald friendly): one line per event,
 *   <prog>[pid]: level=<lvl> <subsystem>: <event words> key=value ...
 * The event words say what happened; everything a tool may want to filter
 * on (addresses, names, ids, errors) goes in key=value pairs, values with
 * spaces in double quotes. docs/operations.md shows examples.
 * log_ratelimited() lets per-packet paths log at most a few lines a second.
 */
#ifndef MAVPN_LOG_H
#define MAVPN_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *prog, enum log_level max);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* True at most 5 times per second per call site state @s. */
bool log_ratelimited(unsigned long *state);

#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif /* MAVPN_LOG_H */
