// SPDX-License-Identifier: GPL-2.0-only
/*
 * The recent-flows ring behind `vpnctl flows` (ctl/vpnd/flowlog.c, compiled in):
 * wrap-around keeps the newest FLOWLOG_MAX oldest first, settling changes
 * only open requests for that destination (direct or via a gateway), and
 * both formats are produced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../ctl/vpnd/flowlog.c"

static struct flowlog_entry entry(uint32_t daddr, uint32_t via, uint16_t port,
				  enum flowlog_verdict v)
{
	struct flowlog_entry e = {
		.daddr = daddr, .via = via, .dport = port, .proto = 6,
		.hook = SHIM_HOOK_CONNECT4, .verdict = v, .pid = 42,
	};

	strcpy(e.comm, "curl");
	strcpy(e.app, "/sys/fs/cgroup/unified/app");
	return e;
}

static void test_wrap(void **state)
{
	struct flowlog *fl = flowlog_new();
	struct flowlog_entry e;
	unsigned int i;

	(void)state;
	assert_non_null(fl);
	for (i = 0; i < FLOWLOG_MAX + 10; i++) {
		e = entry(htonl(0x64500000 + i), 0, (uint16_t)i, FLOWLOG_PASS);
		flowlog_add(fl, &e);
	}
	assert_int_equal(fl->n, FLOWLOG_MAX);
	assert_int_equal(nth(fl, 0)->dport, 10);		/* oldest kept */
	assert_int_equal(nth(fl, FLOWLOG_MAX - 1)->dport, FLOWLOG_MAX + 9);
	flowlog_free(fl);
}

static void test_settle(void **state)
{
	uint32_t gw = htonl(0x64500002), lan = htonl(0xc613000a);
	uint32_t peer = htonl(0x64500003);
	struct flowlog *fl = flowlog_new();
	struct flowlog_entry e;

	(void)state;
	e = entry(peer, 0, 80, FLOWLOG_REQUESTED);
	flowlog_add(fl, &e);
	e = entry(peer, 0, 81, FLOWLOG_BLOCKED);
	flowlog_add(fl, &e);
	e = entry(lan, gw, 8080, FLOWLOG_PENDING);
	flowlog_add(fl, &e);
	e = entry(lan, 0, 8081, FLOWLOG_REQUESTED);	/* gateway unknown */
	flowlog_add(fl, &e);

	flowlog_settle(fl, peer, FLOWLOG_GRANTED);
	assert_int_equal(nth(fl, 0)->verdict, FLOWLOG_GRANTED);
	assert_int_equal(nth(fl, 1)->verdict, FLOWLOG_BLOCKED);
	flowlog_settle(fl, gw, FLOWLOG_DENIED);
	assert_int_equal(nth(fl, 2)->verdict, FLOWLOG_DENIED);
	assert_int_equal(nth(fl, 3)->verdict, FLOWLOG_REQUESTED);
	flowlog_settle(fl, lan, FLOWLOG_GRANTED);
	assert_int_equal(nth(fl, 3)->verdict, FLOWLOG_GRANTED);
	flowlog_free(fl);
}

static void test_format(void **state)
{
	struct flowlog *fl = flowlog_new();
	struct flowlog_entry e = entry(htonl(0x64500003), 0, 8080,
				       FLOWLOG_BLOCKED);
	char *t;

	(void)state;
	t = flowlog_format(fl, true);
	assert_string_equal(t, "[]\n");
	free(t);
	flowlog_add(fl, &e);
	t = flowlog_format(fl, true);
	assert_non_null(strstr(t, "\"dst\":\"100.80.0.3\""));
	assert_non_null(strstr(t, "\"verdict\":\"blocked\""));
	assert_non_null(strstr(t, "\"via\":null"));
	free(t);
	t = flowlog_format(fl, false);
	assert_non_null(strstr(t, "100.80.0.3:8080"));
	assert_non_null(strstr(t, "/sys/fs/cgroup/unified/app"));
	free(t);
	flowlog_free(fl);
}

/* comm and the cgroup path come from the process: no raw terminal escapes
 * in the text table; JSON escapes them itself. */
static void test_format_escapes(void **state)
{
	struct flowlog *fl = flowlog_new();
	struct flowlog_entry e = entry(htonl(0x64500003), 0, 80,
				       FLOWLOG_PASS);
	char *text;

	(void)state;
	assert_non_null(fl);
	strcpy(e.comm, "\x1b]0;pwn\x07\\x");
	strcpy(e.app, "/cg/a\nb\x7f");
	flowlog_add(fl, &e);
	text = flowlog_format(fl, false);
	assert_non_null(text);
	assert_null(strchr(text, 0x1b));
	assert_null(strchr(text, 0x07));
	assert_null(strchr(text, 0x7f));
	/* one header line and one entry line, nothing more */
	assert_int_equal(strchr(strchr(text, '\n') + 1, '\n')[1], '\0');
	assert_non_null(strstr(text, "\\x1b]0;pwn\\x07\\x5cx"));
	assert_non_null(strstr(text, "/cg/a\\x0ab\\x7f"));
	free(text);
	flowlog_free(fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_settle),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
