// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>

#include "mavpn/cli.h"

int cli_vfail(const struct cli *c, int code, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->report)
		c->report(c, msg);
	else
		fprintf(stderr, "%s: %s\n", c->name, msg);
	return code;
}

int cli_fail(const struct cli *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vfail(c, code, fmt, ap);
	va_end(ap);
	return code;
}

int cli_usage_fail(const struct cli *c, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cli_fail(c, CLI_EXIT_USAGE, "%s (see %s --help)", msg, c->name);
}

/*
 * Long options that @word ("--name" or "--name=value") names: the exact
 * match, or every option it is a prefix of (getopt_long accepts unique
 * abbreviations). Returns how many; *@hit is the first.
 */
static int long_matches(const struct option *longopts, const char *word,
			const struct option **hit)
{
	const char *name = word + 2;
	size_t len = strcspn(name, "=");
	const struct option *o;
	int n = 0;

	*hit = NULL;
	for (o = longopts; o && o->name; o++) {
		if (strncmp(o->name, name, len))
			continue;
		if (strlen(o->name) == len) {
			*hit = o;
			return 1;
		}
		if (!n++)
			*hit = o;
	}
	return n;
}

/*
 * Which argument failed: getopt_long() does not say, and optind-1 is the
 * failed word only when getopt finished with it. It always is after a long
 * option; a short option may stop in the middle of "-vx", so short options
 * are named from optopt instead ("-x"). A missing value only happens at
 * the end of argv: argv[argc-1] is the option.
 */
int cli_getopt(const struct cli *c, int argc, char *const argv[],
	       const char *shortopts, const struct option *longopts)
{
	const struct option *hit;
	const char *word;
	char opts[64];
	int lead, o, n;

	/* ':' after any ordering flag: a missing value returns ':' */
	lead = *shortopts == '+' || *shortopts == '-';
	snprintf(opts, sizeof(opts), "%.*s:%s", lead, shortopts,
		 shortopts + lead);
	opterr = 0;
	o = getopt_long(argc, argv, opts, longopts, NULL);
	if (o != '?' && o != ':')
		return o;
	word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	if (o == ':') {
		if (!strncmp(word, "--", 2))
			cli_usage_fail(c, "option \"%s\" needs a value", word);
		else
			cli_usage_fail(c, "option \"-%c\" needs a value",
				       optopt);
		return '?';
	}
	/* A short option sets optopt to its character, never 0. */
	if (!optopt) {
		n = long_matches(longopts, word, &hit);
		if (n > 1)
			cli_usage_fail(c, "option \"%.*s\" is ambiguous",
				       (int)strcspn(word, "="), word);
		else
			cli_usage_fail(c, "unknown option \"%s\"", word);
		return '?';
	}
	/* A flag given a value ("--json=1") sets optopt to the flag's val. */
	if (!strncmp(word, "--", 2) && strchr(word, '=') &&
	    long_matches(longopts, word, &hit) == 1 &&
	    hit->has_arg == no_argument && !hit->flag && hit->val == optopt) {
		cli_usage_fail(c, "unexpected value in \"%s\"", word);
		return '?';
	}
	cli_usage_fail(c, "unknown option \"-%c\"", optopt);
	return '?';
}

int cli_no_more_args(const struct cli *c, int argc, char *const argv[])
{
	if (optind < argc)
		return cli_usage_fail(c, "unexpected argument \"%s\"",
				      argv[optind]);
	return 0;
}

int cli_bad_command(const struct cli *c, const char *word)
{
	if (word[0] == '-' && word[1])
		return cli_usage_fail(c, "unknown option \"%s\"", word);
	return cli_usage_fail(c, "unknown command \"%s\"", word);
}

bool cli_is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h") ||
	       !strcmp(arg, "help");
}
