// SPDX-License-Identifier: GPL-2.0-only
/*
 * cli unit tests: the one error line for every way an option can be wrong,
 * including the cases where getopt's optind does not point at the culprit
 * (short options stopped inside "-xv", arguments permuted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/cli.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ARGS 8

static char line[1100];
static int lines;

static void capture(const struct cli *c, const char *msg)
{
	snprintf(line, sizeof(line), "%s: %s", c->name, msg);
	lines++;
}

static const struct cli tcli = { .name = "prog verb", .report = capture };

/* --state and --sock share a prefix: "--s" is ambiguous. */
static const struct option longopts[] = {
	{ "state", required_argument, NULL, 's' },
	{ "sock", required_argument, NULL, 'k' },
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

struct getopt_case {
	const char *shortopts;
	const char *argv[MAX_ARGS];	/* after argv[0]; NULL-terminated */
	const char *err;	/* the line, or NULL: parses */
	const char *state;	/* with err NULL: --state's value */
	const char *rest;	/* with err NULL: argv[optind], or NULL */
};

#define SEE " (see prog verb --help)"

static const struct getopt_case cases[] = {
	{ "hv", { "--state", "d", "-v" }, NULL, "d", NULL },
	{ "hv", { "--sta", "d" }, NULL, "d", NULL },		/* abbreviation */
	{ "hv", { "--state=d", "name" }, NULL, "d", "name" },
	{ "hv", { "name", "--state", "d" }, NULL, "d", "name" },	/* permuted */
	{ "hv", { "--", "--foo" }, NULL, NULL, "--foo" },
	{ "hv", { "-" }, NULL, NULL, "-" },
	{ "+hv", { "-v", "cmd", "--foo" }, NULL, NULL, "cmd" },	/* stops at cmd */
	{ "hv", { "--foo" }, .err = "prog verb: unknown option \"--foo\"" SEE },
	{ "hv", { "--foo=bar" }, .err = "prog verb: unknown option \"--foo=bar\"" SEE },
	{ "hv", { "name", "--foo" }, .err = "prog verb: unknown option \"--foo\"" SEE },
	{ "hv", { "--json", "--foo", "x" }, .err = "prog verb: unknown option \"--foo\"" SEE },
	{ "+hv", { "--foo", "cmd" }, .err = "prog verb: unknown option \"--foo\"" SEE },
	{ "hv", { "-x" }, .err = "prog verb: unknown option \"-x\"" SEE },
	{ "hv", { "-vx" }, .err = "prog verb: unknown option \"-x\"" SEE },
	/* stopped inside the word: optind-1 is "--json", not the culprit */
	{ "hv", { "--json", "-xv" }, .err = "prog verb: unknown option \"-x\"" SEE },
	{ "hv", { "name", "-xv" }, .err = "prog verb: unknown option \"-x\"" SEE },
	/* -s is --state's val but not a short option */
	{ "hv", { "-s", "d" }, .err = "prog verb: unknown option \"-s\"" SEE },
	{ "hv", { "--state" }, .err = "prog verb: option \"--state\" needs a value" SEE },
	{ "hv", { "-v", "--sock" }, .err = "prog verb: option \"--sock\" needs a value" SEE },
	{ "hvo:", { "-vo" }, .err = "prog verb: option \"-o\" needs a value" SEE },
	{ "hv", { "--json=1" }, .err = "prog verb: unexpected value in \"--json=1\"" SEE },
	{ "hv", { "--verb=yes" }, .err = "prog verb: unexpected value in \"--verb=yes\"" SEE },
	{ "hv", { "--s", "d" }, .err = "prog verb: option \"--s\" is ambiguous" SEE },
	{ "hv", { "--s=d" }, .err = "prog verb: option \"--s\" is ambiguous" SEE },
};

static void test_getopt(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct getopt_case *t = &cases[i];
		char *argv[MAX_ARGS + 2] = { "prog" };
		const char *st = NULL;
		int argc, o;

		for (argc = 1; t->argv[argc - 1]; argc++)
			argv[argc] = (char *)t->argv[argc - 1];
		lines = 0;
		line[0] = '\0';
		optind = 0;
		while ((o = cli_getopt(&tcli, argc, argv, t->shortopts,
				       longopts)) != -1 && o != '?')
			if (o == 's')
				st = optarg;
		print_message("case %zu: %s\n", i, t->err ? t->err : "ok");
		if (t->err) {
			assert_int_equal(o, '?');
			assert_int_equal(lines, 1);
			assert_string_equal(line, t->err);
			continue;
		}
		assert_int_equal(o, -1);
		assert_int_equal(lines, 0);
		if (t->state)
			assert_string_equal(st, t->state);
		else
			assert_null(st);
		if (t->rest)
			assert_string_equal(argv[optind], t->rest);
		else
			assert_int_equal(optind, argc);
	}
}

static void test_lines(void **state)
{
	char *argv[] = { "prog", "a", "b", NULL };

	(void)state;
	lines = 0;
	assert_int_equal(cli_fail(&tcli, 1, "cannot open \"%s\"", "f"), 1);
	assert_string_equal(line, "prog verb: cannot open \"f\"");
	assert_int_equal(cli_usage_fail(&tcli, "missing %s", "NAME"),
			 CLI_EXIT_USAGE);
	assert_string_equal(line, "prog verb: missing NAME" SEE);
	assert_int_equal(cli_bad_command(&tcli, "bogus"), CLI_EXIT_USAGE);
	assert_string_equal(line, "prog verb: unknown command \"bogus\"" SEE);
	assert_int_equal(cli_bad_command(&tcli, "--bogus"), CLI_EXIT_USAGE);
	assert_string_equal(line, "prog verb: unknown option \"--bogus\"" SEE);
	assert_int_equal(cli_bad_command(&tcli, "-"), CLI_EXIT_USAGE);
	assert_string_equal(line, "prog verb: unknown command \"-\"" SEE);
	optind = 2;
	assert_int_equal(cli_no_more_args(&tcli, 3, argv), CLI_EXIT_USAGE);
	assert_string_equal(line, "prog verb: unexpected argument \"b\"" SEE);
	optind = 3;
	assert_int_equal(cli_no_more_args(&tcli, 3, argv), 0);
	assert_int_equal(lines, 6);
	assert_true(cli_is_help("--help") && cli_is_help("-h") &&
		    cli_is_help("help"));
	assert_false(cli_is_help("--helpme") || cli_is_help("-H"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_getopt),
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
