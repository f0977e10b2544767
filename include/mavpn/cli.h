/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The command-line contract shared by authsrv, vpnd and vpnctl: a failure is
 * one line on stderr that starts with who failed ("vpnd run: ...") and
 * quotes the user's input; a usage error ends with where to read more
 * ("(see vpnd run --help)") and exits 2. getopt_long()'s own messages are
 * off: cli_getopt() writes that one line instead.
 */
#ifndef MAVPN_CLI_H
#define MAVPN_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>

#define CLI_EXIT_FAIL	1
#define CLI_EXIT_USAGE	2

struct cli {
	/* "vpnd", "vpnd run", "authsrv token create": starts every line */
	const char *name;
	/*
	 * NULL: "NAME: MSG\n" on stderr. Otherwise called with MSG (no name,
	 * no newline) instead: vpnctl adds its JSON document, tests capture.
	 */
	void (*report)(const struct cli *c, const char *msg);
};

/* "NAME: MSG"; returns @code (the exit status). */
int cli_fail(const struct cli *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cli_vfail(const struct cli *c, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* "NAME: MSG (see NAME --help)"; returns CLI_EXIT_USAGE. */
int cli_usage_fail(const struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * getopt_long() that reports its errors as one line: unknown option "--foo"
 * or "-x", option "--state" needs a value, unexpected value in "--json=1",
 * option "--s" is ambiguous. @shortopts without the leading ':' (a '+' or
 * '-' ordering flag is fine). Returns the option, -1 at the end, or '?'
 * after the line went out; the caller then exits with CLI_EXIT_USAGE. Reset
 * optind to 0 before parsing a second argument vector in one process.
 */
int cli_getopt(const struct cli *c, int argc, char *const argv[],
	       const char *shortopts, const struct option *longopts);

/* After the options: 0 if argv[optind..] is empty, else a usage error. */
int cli_no_more_args(const struct cli *c, int argc, char *const argv[]);

/* A word where a command was expected: unknown option or unknown command. */
int cli_bad_command(const struct cli *c, const char *word);

/* "--help", "-h" or "help". */
bool cli_is_help(const char *arg);

#endif /* MAVPN_CLI_H */
