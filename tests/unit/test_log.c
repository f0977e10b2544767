// SPDX-License-Identifier: GPL-2.0-only
/*
 * log unit tests: log_msg() writes to fd 2, which each case points at a
 * temporary file and reads back. Values (%s) are escaped so that a peer's
 * string cannot end a quoted value, forge a key=value pair or a line.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mavpn/log.h"

/* Run the logging in @fn with fd 2 on a temp file; the text after
 * "level=info " (newline stripped) into @out. */
#define LOGGED(out, ...) do {						\
	FILE *tf_ = tmpfile();						\
	int save_ = dup(2);						\
	char line_[1024] = "", *p_;					\
	assert_non_null(tf_);						\
	dup2(fileno(tf_), 2);						\
	log_msg(LOG_LVL_INFO, __VA_ARGS__);				\
	dup2(save_, 2);							\
	close(save_);							\
	rewind(tf_);							\
	assert_non_null(fgets(line_, sizeof(line_), tf_));		\
	fclose(tf_);							\
	line_[strcspn(line_, "\n")] = '\0';				\
	p_ = strstr(line_, "level=info ");				\
	assert_non_null(p_);						\
	snprintf(out, sizeof(out), "%s", p_ + 11);			\
} while (0)

static void test_quote_in_value(void **state)
{
	char out[1024];

	(void)state;
	LOGGED(out, "closed host=%s reason=\"%s\"", "h1",
	       "x\" forged=\"1");
	assert_string_equal(out, "closed host=h1 reason=\"x\\\" forged=\\\"1\"");
	LOGGED(out, "path=\"%s\"", "a\\b");
	assert_string_equal(out, "path=\"a\\\\b\"");
}

static void test_control_chars(void **state)
{
	char out[1024];

	(void)state;
	LOGGED(out, "app=\"%s\"", "x\nlevel=error y\x1b[2J\x7f");
	assert_string_equal(out, "app=\"x\\x0alevel=error y\\x1b[2J\\x7f\"");
	LOGGED(out, "c=%c", '\t');
	assert_string_equal(out, "c=\\x09");
}

static void test_other_conversions(void **state)
{
	char out[1024];
	uint64_t big = UINT64_MAX;

	(void)state;
	LOGGED(out, "a=%d b=%u c=%lu d=%" PRIu64 " e=%zu f=%x g=%5.2f h=%% i=%-4d| j=%.3s k=%*d",
	       -3, 7u, 8ul, big, (size_t)9, 255, 3.14159, 42, "abcdef", 3, 5);
	assert_string_equal(out, "a=-3 b=7 c=8 d=18446744073709551615 e=9 f=ff g= 3.14 h=% i=42  | j=abc k=  5");
	LOGGED(out, "n=%.*s", 2, "q\"rs");
	assert_string_equal(out, "n=q\\\"");
}

static void test_truncation(void **state)
{
	char out[1024], big[2000];

	(void)state;
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	LOGGED(out, "v=\"%s\" tail=%d", big, 1);
	/* cut at the line buffer, never past it */
	assert_true(strlen(out) < 512);
	assert_int_equal(strncmp(out, "v=\"\\\"\\\"", 7), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_in_value),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_other_conversions),
		cmocka_unit_test(test_truncation),
	};

	log_init("test", LOG_LVL_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
