// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv policy: parser errors (with their line) and a decision table.
 * Built with authsrv/policy.c and authsrv/authsrv.c (see the Makefile rule).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../authsrv/authsrv.h"
#include "../../authsrv/policy.h"

static const char policy_text[] =
	"# comment line\n"
	"\n"
	"allow tag:client -> tag:web app */mavpn-run.* proto tcp port 8080\n"
	"allow monitor -> *   # trailing comment\n"
	"allow host:db1 -> db2 proto udp port 5000-5010\n"
	"allow h9 -> tag:web proto icmp\n";

struct decision {
	const char *a, *a_tags, *b, *b_tags, *app;
	uint8_t proto;
	uint16_t port;
	bool allow;
};

static const struct decision table[] = {
	{ "h1", "client", "h2", "web", "/sys/fs/cgroup/mavpn-run.1.x", 6, 8080, true },
	{ "h1", "client,x", "h2", "a,web", "/cg/mavpn-run.9", 6, 8080, true },
	{ "h1", "client", "h2", "web", "/sys/fs/cgroup/other", 6, 8080, false },
	{ "h1", "client", "h2", "web", NULL, 6, 8080, false },
	{ "h1", "client", "h2", "web", "/x/mavpn-run.1", 6, 8081, false },
	{ "h1", "client", "h2", "web", "/x/mavpn-run.1", 17, 8080, false },
	{ "h1", "client", "h2", "web", "/x/mavpn-run.1", 0, 0, false },
	{ "h1", "clients", "h2", "web", "/x/mavpn-run.1", 6, 8080, false },
	{ "h2", "web", "h1", "client", "/x/mavpn-run.1", 6, 8080, false },
	{ "monitor", "", "anything", "", NULL, 0, 0, true },
	{ "db1", "", "db2", "", NULL, 17, 5005, true },
	{ "db1", "", "db2", "", NULL, 17, 5011, false },
	{ "db1", "", "db2", "", NULL, 17, 0, false },
	{ "h9", "", "w", "web", NULL, 1, 0, true },
	{ "h9", "", "w", "web", NULL, 0, 0, false },
};

static void test_decisions(void **state)
{
	char err[128];
	struct policy *p = policy_parse(policy_text, err, sizeof(err));
	size_t i;

	(void)state;
	assert_non_null(p);
	assert_int_equal(policy_nrules(p), 4);
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct decision *d = &table[i];
		struct policy_who a = { d->a, d->a_tags }, b = { d->b, d->b_tags };
		struct policy_req rq = { .app = d->app, .proto = d->proto,
					 .port = d->port };

		if (policy_allows(p, &a, &b, &rq) != d->allow)
			fail_msg("row %zu: %s -> %s app %s %u/%u: want %s", i,
				 d->a, d->b, d->app ? d->app : "-", d->proto,
				 d->port, d->allow ? "allow" : "deny");
	}
	policy_free(p);
}

/* user NAME|UID and group NAME|GID: by id or by the host's name for it */
static void test_users(void **state)
{
	static const char text[] =
		"allow h1 -> h2 user alice proto tcp port 22\n"
		"allow h1 -> h2 user 1001 group 100\n"
		"allow h1 -> h3 group ops\n"
		"allow h1 -> h4 user svc_backup$ app */backup\n";
	static const struct {
		const char *b, *app;
		bool has_uid, has_gid;
		uint32_t uid, gid;
		const char *user, *group;
		uint16_t port;
		bool allow;
	} t[] = {
		{ "h2", NULL, true, true, 1000, 1000, "alice", "alice", 22, true },
		{ "h2", NULL, true, true, 1000, 1000, "alice", "alice", 23, false },
		{ "h2", NULL, true, true, 1000, 1000, "bob", "alice", 22, false },
		{ "h2", NULL, true, false, 1000, 0, NULL, NULL, 22, false },
		{ "h2", NULL, false, false, 0, 0, NULL, NULL, 22, false },
		{ "h2", NULL, true, true, 1001, 100, "carol", "users", 80, true },
		{ "h2", NULL, true, true, 1001, 101, "carol", "users", 80, false },
		{ "h2", NULL, true, false, 1001, 100, "carol", NULL, 80, false },
		{ "h2", NULL, true, true, 1002, 100, "1001", "users", 80, false },
		{ "h3", NULL, true, true, 5, 7, "x", "ops", 1, true },
		{ "h3", NULL, true, true, 5, 7, "x", "ops2", 1, false },
		{ "h3", NULL, true, true, 5, 7, "x", NULL, 1, false },
		{ "h4", "/c/backup", true, true, 9, 9, "svc_backup$", "b", 1, true },
		{ "h4", "/c/other", true, true, 9, 9, "svc_backup$", "b", 1, false },
	};
	struct policy_who a = { "h1", "" }, b;
	char err[128];
	struct policy *p = policy_parse(text, err, sizeof(err));
	size_t i;

	(void)state;
	if (!p)
		fail_msg("%s", err);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct policy_req rq = {
			.app = t[i].app, .has_uid = t[i].has_uid,
			.has_gid = t[i].has_gid, .uid = t[i].uid,
			.gid = t[i].gid, .user = t[i].user,
			.group = t[i].group, .proto = 6, .port = t[i].port,
		};

		b.name = t[i].b;
		b.tags = "";
		if (policy_allows(p, &a, &b, &rq) != t[i].allow)
			fail_msg("row %zu: want %s", i,
				 t[i].allow ? "allow" : "deny");
	}
	policy_free(p);
}

static void test_default_and_empty(void **state)
{
	struct policy_who a = { "x", "" }, b = { "y", "" };
	struct policy_req rq = { .app = NULL };
	char err[128];
	struct policy *p;

	(void)state;
	assert_true(policy_allows(NULL, &a, &b, &rq));	/* none stored */
	p = policy_parse("# nothing\n\n", err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(policy_nrules(p), 0);
	assert_false(policy_allows(p, &a, &b, &rq));	/* stored: deny */
	policy_free(p);
}

static void test_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "deny a -> b\n", "line 1: expected \"allow\"" },
		{ "allow a b\n", "line 1: expected \"allow SRC -> DST\"" },
		{ "\nallow a => b\n", "line 2: expected \"allow SRC -> DST\"" },
		{ "allow A -> b\n", "line 1: bad source" },
		{ "allow a -> tag:\n", "line 1: bad destination" },
		{ "allow a -> b port 0\n", "line 1: bad port" },
		{ "allow a -> b port 9-1\n", "line 1: bad port" },
		{ "allow a -> b proto sctpx\n", "line 1: bad proto" },
		{ "allow a -> b app\n", "line 1: \"app\" needs a value" },
		{ "allow a -> b color red\n", "line 1: unknown word" },
		{ "allow tag:-x -> b\n", "line 1: bad source" },
		{ "allow a -> tag:.web\n", "line 1: bad destination" },
		{ "allow mavpn-authsrv -> b\n", "line 1: bad source" },
		{ "allow a -> host:b-\n", "line 1: bad destination" },
		{ "allow a -> b user\n", "line 1: \"user\" needs a value" },
		{ "allow a -> b user Alice\n", "line 1: bad user" },
		{ "allow a -> b user 4294967295\n", "line 1: bad user" },
		{ "allow a -> b user -1\n", "line 1: bad user" },
		{ "allow a -> b user a b\n", "line 1: \"b\" needs a value" },
		{ "allow a -> b user a user b\n", "line 1: bad user" },
		{ "allow a -> b group 1x\n", "line 1: bad group" },
		{ "allow a -> b group a:b\n", "line 1: bad group" },
		{ "allow a -> b group abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01\n",
		  "line 1: bad group" },
	};
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(policy_parse(bad[i].text, err, sizeof(err)));
		if (strncmp(err, bad[i].want, strlen(bad[i].want)))
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err,
				 bad[i].want);
	}
}

/* The one rule for names and tags (authsrv/authsrv.c), used by the CLI, the
 * server and the policy parser alike. */
static void test_names_and_tags(void **state)
{
	static const struct {
		const char *s;
		bool name, syntax, tag;
	} t[] = {
		{ "h1", true, true, true },
		{ "web-01", true, true, true },
		{ "a", true, true, true },
		{ "mavpn-authsrv", false, true, true },	/* the server's name */
		{ "mavpn-authsrv2", true, true, true },
		{ "h-", false, true, true },		/* trailing hyphen */
		{ "-h", false, false, false },
		{ "H1", false, false, false },
		{ "h_1", false, false, true },
		{ "h.1", false, false, true },
		{ ".web", false, false, false },
		{ "_web", false, false, false },
		{ "", false, false, false },
		{ "h 1", false, false, false },
		{ "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0",
		  true, true, false },			/* 63 chars */
		{ "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01",
		  false, false, false },		/* 64 chars */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (authsrv_valid_name(t[i].s) != t[i].name ||
		    authsrv_name_syntax(t[i].s) != t[i].syntax ||
		    authsrv_valid_tag(t[i].s) != t[i].tag)
			fail_msg("\"%s\": name %d syntax %d tag %d", t[i].s,
				 authsrv_valid_name(t[i].s),
				 authsrv_name_syntax(t[i].s),
				 authsrv_valid_tag(t[i].s));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_default_and_empty),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_names_and_tags),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
