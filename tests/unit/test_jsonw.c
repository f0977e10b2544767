// SPDX-License-Identifier: GPL-2.0-only
/* jsonw unit tests: each case builds a document and compares the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/jsonw.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void build_empty_obj(struct jsonw *j)
{
	jsonw_obj_begin(j, NULL);
	jsonw_obj_end(j);
}

static void build_empty_arr(struct jsonw *j)
{
	jsonw_arr_begin(j, NULL);
	jsonw_arr_end(j);
}

static void build_scalars(struct jsonw *j)
{
	jsonw_obj_begin(j, NULL);
	jsonw_str(j, "s", "x");
	jsonw_u64(j, "u", 0);
	jsonw_u64(j, "umax", UINT64_MAX);
	jsonw_i64(j, "i", -5);
	jsonw_i64(j, "imin", INT64_MIN);
	jsonw_i64(j, "imax", INT64_MAX);
	jsonw_bool(j, "t", true);
	jsonw_bool(j, "f", false);
	jsonw_null(j, "n");
	jsonw_str(j, "nullstr", NULL);
	jsonw_str(j, "empty", "");
	jsonw_obj_end(j);
}

/* The shape of `vpnctl --json status` and `peers` together. */
static void build_nested(struct jsonw *j)
{
	jsonw_obj_begin(j, NULL);
	jsonw_obj_begin(j, "self");
	jsonw_str(j, "name", "h1");
	jsonw_str(j, "overlay_ip", "10.99.0.1");
	jsonw_bool(j, "connected", true);
	jsonw_obj_end(j);
	jsonw_arr_begin(j, "peers");
	jsonw_obj_begin(j, NULL);
	jsonw_str(j, "name", "b");
	jsonw_u64(j, "key_id", 7);
	jsonw_obj_end(j);
	jsonw_obj_begin(j, NULL);
	jsonw_str(j, "name", "c");
	jsonw_u64(j, "key_id", 8);
	jsonw_obj_end(j);
	jsonw_arr_end(j);
	jsonw_arr_begin(j, "empty");
	jsonw_arr_end(j);
	jsonw_obj_begin(j, "none");
	jsonw_obj_end(j);
	jsonw_arr_begin(j, "n");
	jsonw_u64(j, NULL, 1);
	jsonw_i64(j, NULL, -2);
	jsonw_bool(j, NULL, false);
	jsonw_null(j, NULL);
	jsonw_str(j, NULL, "s");
	jsonw_obj_begin(j, NULL);
	jsonw_obj_end(j);
	jsonw_arr_end(j);
	jsonw_str(j, "after", "y");
	jsonw_obj_end(j);
}

static void build_arrays(struct jsonw *j)
{
	jsonw_arr_begin(j, NULL);
	jsonw_arr_begin(j, NULL);
	jsonw_arr_end(j);
	jsonw_arr_begin(j, NULL);
	jsonw_u64(j, NULL, 1);
	jsonw_arr_end(j);
	jsonw_arr_begin(j, NULL);
	jsonw_arr_begin(j, NULL);
	jsonw_u64(j, NULL, 2);
	jsonw_arr_end(j);
	jsonw_arr_end(j);
	jsonw_arr_end(j);
}

static void build_escapes(struct jsonw *j)
{
	jsonw_obj_begin(j, NULL);
	jsonw_str(j, "q", "say \"hi\"");
	jsonw_str(j, "bs", "C:\\dir\\");
	jsonw_str(j, "ctl", "a\nb\tc\rd\x01" "e\x1f" "f\b\f");
	jsonw_str(j, "del", "\x7f");
	jsonw_str(j, "utf8", "h\xc3\xa9llo");
	jsonw_str(j, "k\"ey\n", "v");
	jsonw_str(j, "slash", "/");
	jsonw_obj_end(j);
}

static void build_top_scalar(struct jsonw *j)
{
	jsonw_str(j, NULL, "just a string");
}

static void build_depth_max(struct jsonw *j)
{
	int i;

	for (i = 0; i < 32; i++)
		jsonw_arr_begin(j, NULL);
	for (i = 0; i < 32; i++)
		jsonw_arr_end(j);
}

static void build_depth_over(struct jsonw *j)
{
	int i;

	for (i = 0; i < 33; i++)
		jsonw_arr_begin(j, NULL);
	for (i = 0; i < 33; i++)
		jsonw_arr_end(j);
}

static void build_unbalanced(struct jsonw *j)
{
	jsonw_obj_begin(j, NULL);
	jsonw_obj_end(j);
	jsonw_obj_end(j);
	/* sticky: later calls do not revive the document */
	jsonw_obj_begin(j, NULL);
	jsonw_obj_end(j);
}

static const struct {
	const char *name;
	void (*build)(struct jsonw *j);
	const char *want;	/* NULL: jsonw_get() must return NULL */
} cases[] = {
	{ "empty object", build_empty_obj, "{}" },
	{ "empty array", build_empty_arr, "[]" },
	{ "scalars", build_scalars,
	  "{\"s\":\"x\",\"u\":0,\"umax\":18446744073709551615,\"i\":-5,"
	  "\"imin\":-9223372036854775808,\"imax\":9223372036854775807,"
	  "\"t\":true,\"f\":false,\"n\":null,\"nullstr\":null,\"empty\":\"\"}" },
	{ "nested", build_nested,
	  "{\"self\":{\"name\":\"h1\",\"overlay_ip\":\"10.99.0.1\","
	  "\"connected\":true},\"peers\":[{\"name\":\"b\",\"key_id\":7},"
	  "{\"name\":\"c\",\"key_id\":8}],\"empty\":[],\"none\":{},"
	  "\"n\":[1,-2,false,null,\"s\",{}],\"after\":\"y\"}" },
	{ "arrays", build_arrays, "[[],[1],[[2]]]" },
	{ "escapes", build_escapes,
	  "{\"q\":\"say \\\"hi\\\"\",\"bs\":\"C:\\\\dir\\\\\","
	  "\"ctl\":\"a\\u000ab\\u0009c\\u000dd\\u0001e\\u001ff\\u0008\\u000c\","
	  "\"del\":\"\x7f\",\"utf8\":\"h\xc3\xa9llo\","
	  "\"k\\\"ey\\u000a\":\"v\",\"slash\":\"/\"}" },
	{ "top-level scalar", build_top_scalar, "\"just a string\"" },
	{ "depth 32", build_depth_max,
	  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]" },
	{ "depth 33 fails", build_depth_over, NULL },
	{ "end without begin fails", build_unbalanced, NULL },
};

static void test_documents(void **state)
{
	struct jsonw *j;
	const char *got;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		j = jsonw_new();
		assert_non_null(j);
		assert_string_equal(jsonw_get(j), "");
		cases[i].build(j);
		got = jsonw_get(j);
		if (!cases[i].want && got)
			fail_msg("case \"%s\": got \"%s\", want NULL",
				 cases[i].name, got);
		if (cases[i].want && (!got || strcmp(got, cases[i].want)))
			fail_msg("case \"%s\":\n got  %s\n want %s",
				 cases[i].name, got ? got : "(NULL)",
				 cases[i].want);
		jsonw_free(j);
	}
	jsonw_free(NULL);
}

/* Growth well past the initial buffer keeps every byte. */
static void test_growth(void **state)
{
	enum { N = 20000 };
	char *want, *p;
	struct jsonw *j;
	int i;

	(void)state;
	want = malloc(N * 24 + 16);
	assert_non_null(want);
	j = jsonw_new();
	assert_non_null(j);
	p = want;
	p += sprintf(p, "[");
	jsonw_arr_begin(j, NULL);
	for (i = 0; i < N; i++) {
		jsonw_u64(j, NULL, (uint64_t)i * 1000003u);
		p += sprintf(p, "%s%llu", i ? "," : "",
			     (unsigned long long)i * 1000003u);
	}
	jsonw_arr_end(j);
	sprintf(p, "]");
	assert_string_equal(jsonw_get(j), want);
	jsonw_free(j);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests_name("jsonw", tests, NULL, NULL);
}
