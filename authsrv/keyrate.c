// SPDX-License-Identifier: GPL-2.0-only
/* KEY_REQ token bucket per session (see keyrate.h). */
#include "keyrate.h"

bool keyrate_take(struct keyrate *kr, uint32_t rate, uint64_t now)
{
	double burst = KEYRATE_BURST(rate), t;

	if (!rate)
		return true;
	if (!kr->last_ms) {
		kr->tokens = burst;
	} else {
		t = kr->tokens + (double)(now - kr->last_ms) * rate / 1000.0;
		kr->tokens = t > burst ? burst : t;
	}
	kr->last_ms = now;
	if (kr->tokens >= 1) {
		kr->tokens -= 1;
		return true;
	}
	return false;
}

bool keyrate_refused(struct keyrate *kr, uint64_t now, uint32_t *n)
{
	kr->limited++;
	if (now - kr->logged_ms < 1000)
		return false;
	*n = kr->limited;
	kr->logged_ms = now;
	kr->limited = 0;
	return true;
}
