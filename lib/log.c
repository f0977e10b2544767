// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mavpn/log.h"

static const char *log_prog = "mavpn";
static enum log_level log_max = LOG_LVL_INFO;

static const char *const log_names[] = {
	[LOG_LVL_ERR] = "error", [LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
};

void log_init(const char *prog, enum log_level max)
{
	log_prog = prog;
	log_max = max;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char text[512], *p;
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Values may come from peers (app paths, reasons, names): a newline
	 * or escape sequence in one must not forge or hide a log line. */
	for (p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	/* One write per line so lines from several threads never interleave. */
	dprintf(STDERR_FILENO, "%s[%d]: level=%s %s\n", log_prog, (int)getpid(),
		log_names[lvl], text);
}

bool log_ratelimited(unsigned long *state)
{
	/* state: high bits = second, low 4 bits = lines in that second */
	struct timespec ts;
	unsigned long sec, cur = __atomic_load_n(state, __ATOMIC_RELAXED);

	/* Not mono_ms(): the datapath's drop paths call this per packet,
	 * and a second's resolution is all it needs, so the coarse clock. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	sec = (unsigned long)ts.tv_sec << 4;
	if ((cur & ~0xful) != sec) {
		__atomic_store_n(state, sec | 1, __ATOMIC_RELAXED);
		return true;
	}
	if ((cur & 0xf) >= 5)
		return false;
	__atomic_store_n(state, cur + 1, __ATOMIC_RELAXED);
	return true;
}
