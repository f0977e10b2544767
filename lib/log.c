// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

struct log_buf {
	char *p;
	size_t len, cap;	/* cap includes the NUL */
};

static void log_put(struct log_buf *b, const char *s, size_t n)
{
	size_t room = b->len < b->cap - 1 ? b->cap - 1 - b->len : 0;

	if (n > room)
		n = room;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/*
 * A string argument (%s) is a value, and values may come from peers (app
 * paths, reasons, host names): a quote must not end the value early and
 * forge a key=value pair, a newline or escape sequence must not forge or
 * hide a line. '"' and '\' get a backslash, control characters and DEL
 * become \xHH; at most @max bytes of @s are read (a %.Ns precision).
 */
static void log_put_value(struct log_buf *b, const char *s, size_t max)
{
	char esc[5];
	size_t i;

	if (!s)
		s = "(null)";
	for (i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			log_put(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			log_put(b, esc, 4);
		} else {
			log_put(b, (const char *)&c, 1);
		}
	}
}

/*
 * vsnprintf, but %s arguments go through log_put_value(). Each other
 * conversion is handed to snprintf on its own, its argument taken with the
 * type its length modifier says (the format attribute on log_msg() has
 * the compiler check them).
 */
static void log_format(struct log_buf *b, const char *fmt, va_list ap)
{
	char spec[32], tmp[128];
	const char *f = fmt, *start;
	int prec, star[2], nstar;
	char len[3];

	while (*f) {
		const char *pct = strchr(f, '%');

		if (!pct) {
			log_put(b, f, strlen(f));
			return;
		}
		log_put(b, f, (size_t)(pct - f));
		start = pct++;
		if (*pct == '%') {
			log_put(b, "%", 1);
			f = pct + 1;
			continue;
		}
		nstar = 0;
		prec = -1;
		while (*pct && strchr("-+ #0", *pct))
			pct++;
		if (*pct == '*') {
			star[nstar++] = va_arg(ap, int);
			pct++;
		}
		while (*pct >= '0' && *pct <= '9')
			pct++;
		if (*pct == '.') {
			pct++;
			if (*pct == '*') {
				prec = va_arg(ap, int);
				star[nstar++] = prec;
				pct++;
			} else {
				prec = 0;
				while (*pct >= '0' && *pct <= '9')
					prec = prec * 10 + (*pct++ - '0');
			}
		}
		len[0] = len[1] = len[2] = '\0';
		if (*pct && strchr("hlzjtL", *pct)) {
			len[0] = *pct++;
			if ((len[0] == 'h' || len[0] == 'l') && *pct == len[0])
				len[1] = *pct++;
		}
		if (!*pct || (size_t)(pct + 1 - start) >= sizeof(spec)) {
			log_put(b, start, strlen(start));	/* malformed */
			return;
		}
		memcpy(spec, start, (size_t)(pct + 1 - start));
		spec[pct + 1 - start] = '\0';
		f = pct + 1;
#define LOG_ONE(type) do {						\
		type v_ = va_arg(ap, type);				\
		if (nstar == 2)						\
			snprintf(tmp, sizeof(tmp), spec, star[0], star[1], v_); \
		else if (nstar == 1)					\
			snprintf(tmp, sizeof(tmp), spec, star[0], v_);	\
		else							\
			snprintf(tmp, sizeof(tmp), spec, v_);		\
	} while (0)
		tmp[0] = '\0';
		switch (*pct) {
		case 's':
			log_put_value(b, va_arg(ap, const char *),
				      prec < 0 ? SIZE_MAX : (size_t)prec);
			continue;
		case 'c':
			LOG_ONE(int);
			log_put_value(b, tmp, SIZE_MAX);
			continue;
		case 'd': case 'i': case 'u': case 'x': case 'X': case 'o':
			if (len[0] == 'l' && len[1])
				LOG_ONE(long long);
			else if (len[0] == 'l')
				LOG_ONE(long);
			else if (len[0] == 'z')
				LOG_ONE(size_t);
			else if (len[0] == 'j')
				LOG_ONE(intmax_t);
			else if (len[0] == 't')
				LOG_ONE(ptrdiff_t);
			else
				LOG_ONE(int);
			break;
		case 'e': case 'f': case 'g': case 'E': case 'F': case 'G':
			if (len[0] == 'L')
				LOG_ONE(long double);
			else
				LOG_ONE(double);
			break;
		case 'p':
			LOG_ONE(void *);
			break;
		default:
			log_put(b, start, (size_t)(f - start));	/* unknown */
			continue;
		}
#undef LOG_ONE
		log_put(b, tmp, strlen(tmp));
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char text[512], *p;
	struct log_buf b = { .p = text, .cap = sizeof(text) };
	va_list ap;

	if (lvl > log_max)
		return;
	text[0] = '\0';
	va_start(ap, fmt);
	log_format(&b, fmt, ap);
	va_end(ap);
	/* The format itself is ours; still, no control character passes. */
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
