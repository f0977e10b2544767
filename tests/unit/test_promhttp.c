// SPDX-License-Identifier: GPL-2.0-only
/*
 * promhttp: address parsing and label escaping (tables), then the server
 * on a loopback socket driven by hand: requests whole and in pieces, the
 * status for wrong paths and methods, a failing render callback.
 * As root the sockets live in a private network namespace of this test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mavpn/promhttp.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_parse_addr(void **state)
{
	static const struct {
		const char *in;
		int ok;
		uint16_t port;
	} t[] = {
		{ "127.0.0.1:9100", 1, 9100 }, { "0.0.0.0:1", 1, 1 },
		{ "10.1.2.3:65535", 1, 65535 }, { "127.0.0.1:0", 0, 0 },
		{ "127.0.0.1:65536", 0, 0 }, { "127.0.0.1:", 0, 0 },
		{ ":9100", 0, 0 }, { "localhost:9100", 0, 0 },
		{ "::1:9100", 0, 0 }, { "127.0.0.1:91x", 0, 0 },
		{ "127.0.0.1", 0, 0 }, { "", 0, 0 },
	};
	struct sockaddr_in sa;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		int ret = promhttp_parse_addr(t[i].in, &sa);

		if (t[i].ok) {
			assert_int_equal(ret, 0);
			assert_int_equal(ntohs(sa.sin_port), t[i].port);
		} else {
			assert_int_equal(ret, -EINVAL);
		}
	}
}

static void test_label_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "h1", "h1" }, { "", "" },
		{ "a\"b", "a\\\"b" }, { "a\\b", "a\\\\b" }, { "a\nb", "a\\nb" },
	};
	char buf[64];
	size_t i;
	FILE *f;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		memset(buf, 0, sizeof(buf));
		f = fmemopen(buf, sizeof(buf), "w");
		assert_non_null(f);
		prom_label(f, t[i].in);
		fclose(f);
		assert_string_equal(buf, t[i].out);
	}
}

static int render_calls, render_fail;

static int render(void *arg, FILE *f)
{
	(void)arg;
	render_calls++;
	if (render_fail)
		return -EIO;
	prom_family(f, "t_total", "counter", "a test counter");
	fprintf(f, "t_total %d\n", render_calls);
	return 0;
}

struct fixture {
	struct promhttp *h;
	struct sockaddr_in sa;
};

static int setup(void **state)
{
	static struct fixture fx;
	char addr[32];
	int port;

	/* A free port near a random start; bind failures just move on. */
	for (port = 20000 + getpid() % 20000; port < 65000; port += 7) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		fx.h = promhttp_open(addr, render, NULL);
		if (fx.h)
			break;
	}
	if (!fx.h)
		return -1;
	promhttp_parse_addr(addr, &fx.sa);
	render_calls = render_fail = 0;
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	promhttp_close(fx->h);
	return 0;
}

/* Send @req in @parts pieces, drive the server, return the response. */
static char *exchange(struct fixture *fx, const char *req, int parts)
{
	struct pollfd p = { .fd = promhttp_fd(fx->h), .events = POLLIN };
	size_t len = strlen(req), off = 0, chunk, got = 0;
	static char resp[8192];
	int c, i;
	ssize_t n;

	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&fx->sa,
				 sizeof(fx->sa)), 0);
	for (i = 0; i < parts; i++) {
		chunk = i == parts - 1 ? len - off : len / parts;
		assert_int_equal(send(c, req + off, chunk, 0), (ssize_t)chunk);
		off += chunk;
		/* accept, then read what arrived */
		while (poll(&p, 1, 200) == 1) {
			promhttp_process(fx->h);
			if (poll(&(struct pollfd){ .fd = c, .events = POLLIN },
				 1, 0) == 1)
				break;
		}
	}
	for (;;) {
		n = recv(c, resp + got, sizeof(resp) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	resp[got] = '\0';
	close(c);
	return resp;
}

static void test_get_metrics(void **state)
{
	char *r = exchange(*state, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1);

	assert_non_null(strstr(r, "HTTP/1.0 200 OK\r\n"));
	assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(r, "Content-Length: "));
	assert_non_null(strstr(r, "\r\n\r\n# HELP t_total a test counter\n"
				  "# TYPE t_total counter\nt_total 1\n"));
	assert_int_equal(render_calls, 1);
}

static void test_request_in_pieces(void **state)
{
	char *r = exchange(*state, "GET /metrics?x=1 HTTP/1.0\r\n"
			   "User-Agent: Prometheus/2\r\n\r\n", 3);

	assert_non_null(strstr(r, "HTTP/1.0 200 OK\r\n"));
	assert_non_null(strstr(r, "t_total 1\n"));
}

static void test_not_found_and_method(void **state)
{
	char *r = exchange(*state, "GET /metricsx HTTP/1.0\r\n\r\n", 1);

	assert_non_null(strstr(r, "HTTP/1.0 404 Not Found\r\n"));
	r = exchange(*state, "GET / HTTP/1.0\r\n\r\n", 1);
	assert_non_null(strstr(r, "HTTP/1.0 404 Not Found\r\n"));
	r = exchange(*state, "POST /metrics HTTP/1.0\r\n\r\n", 1);
	assert_non_null(strstr(r, "HTTP/1.0 405 Method Not Allowed\r\n"));
	assert_int_equal(render_calls, 0);
	assert_int_equal(promhttp_requests(((struct fixture *)*state)->h), 3);
}

static void test_render_error(void **state)
{
	char *r;

	render_fail = 1;
	r = exchange(*state, "GET /metrics HTTP/1.0\r\n\r\n", 1);
	assert_non_null(strstr(r, "HTTP/1.0 500 Internal Server Error\r\n"));
	assert_non_null(strstr(r, "Content-Length: 0\r\n"));
}

/* A network namespace of our own with lo up; without privileges the
 * test uses the host's loopback instead. */
static void private_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (unshare(CLONE_NEWNET))
		return;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_label_escape),
		cmocka_unit_test_setup_teardown(test_get_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found_and_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_error, setup, teardown),
	};

	private_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
