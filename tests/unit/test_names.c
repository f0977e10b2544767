// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd's name cache (ctl/vpnd/names.c): add/replace/delete, the bound, and
 * the generations that let a full list replace the cache only at its end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "names.h"

static uint32_t ip(unsigned int n)
{
	return htonl(0x64500000 + n);
}

static void want(struct names *n, const char *name, uint32_t v4)
{
	struct dnsmsg_host h;

	if (!v4) {
		assert_int_equal(names_lookup(n, name, &h), -ENOENT);
		assert_false(h.has4);
		return;
	}
	assert_int_equal(names_lookup(n, name, &h), 0);
	assert_true(h.has4);
	assert_false(h.has6);
	assert_int_equal(h.v4, v4);
}

static void test_add_del(void **state)
{
	struct names *n = names_new(8);

	(void)state;
	assert_non_null(n);
	want(n, "h1", 0);
	assert_int_equal(names_add(n, "h1", ip(2)), 0);
	assert_int_equal(names_add(n, "h2", ip(3)), 0);
	want(n, "h1", ip(2));
	want(n, "h2", ip(3));
	assert_int_equal(names_add(n, "h1", ip(9)), 0);	/* replaced */
	want(n, "h1", ip(9));
	assert_int_equal(names_count(n), 2);
	assert_int_equal(names_del(n, "h1"), 0);
	assert_int_equal(names_del(n, "h1"), -ENOENT);
	want(n, "h1", 0);
	want(n, "h2", ip(3));
	/* not host names */
	assert_int_equal(names_add(n, "", ip(4)), -EINVAL);
	assert_int_equal(names_add(n, "H1", ip(4)), -EINVAL);
	assert_int_equal(names_add(n, "a.b", ip(4)), -EINVAL);
	assert_int_equal(names_add(n, "a_b", ip(4)), -EINVAL);
	assert_int_equal(names_count(n), 1);
	names_free(n);
	names_free(NULL);
}

static void test_bound(void **state)
{
	struct names *n = names_new(100);
	char name[16];
	unsigned int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "h%u", i);
		assert_int_equal(names_add(n, name, ip(i + 1)), 0);
	}
	assert_int_equal(names_add(n, "one-more", ip(1)), -ENOSPC);
	assert_int_equal(names_add(n, "h7", ip(77)), 0);	/* replace: fine */
	assert_int_equal(names_count(n), 100);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "h%u", i);
		want(n, name, i == 7 ? ip(77) : ip(i + 1));
	}
	/* a freed slot is reused */
	assert_int_equal(names_del(n, "h50"), 0);
	assert_int_equal(names_add(n, "one-more", ip(1)), 0);
	want(n, "one-more", ip(1));
	want(n, "h50", 0);
	names_free(n);
}

static void test_generations(void **state)
{
	struct names *n = names_new(16);

	(void)state;
	names_begin(n);
	assert_int_equal(names_add(n, "h1", ip(2)), 0);
	assert_int_equal(names_add(n, "h2", ip(3)), 0);
	assert_int_equal(names_add(n, "h3", ip(4)), 0);
	assert_int_equal(names_end(n), 0);
	/* a new list without h2: h2 answers until the list ends */
	names_begin(n);
	assert_int_equal(names_add(n, "h1", ip(2)), 0);
	want(n, "h2", ip(3));
	assert_int_equal(names_add(n, "h3", ip(5)), 0);
	assert_int_equal(names_add(n, "h4", ip(6)), 0);
	assert_int_equal(names_end(n), 1);
	want(n, "h1", ip(2));
	want(n, "h2", 0);
	want(n, "h3", ip(5));
	want(n, "h4", ip(6));
	/* a list cut short (connection lost): the next full one decides */
	names_begin(n);
	assert_int_equal(names_add(n, "h1", ip(2)), 0);
	names_begin(n);
	assert_int_equal(names_add(n, "h4", ip(6)), 0);
	assert_int_equal(names_end(n), 2);
	want(n, "h1", 0);
	want(n, "h3", 0);
	want(n, "h4", ip(6));
	/* an update between lists belongs to the current one */
	assert_int_equal(names_add(n, "h9", ip(10)), 0);
	assert_int_equal(names_end(n), 0);
	want(n, "h9", ip(10));
	assert_int_equal(names_count(n), 2);
	names_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_del),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_generations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
