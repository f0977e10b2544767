// SPDX-License-Identifier: GPL-2.0-only
/*
 * The line protocol over real unix sockets in a fresh temporary directory:
 * the server runs in the test's epoll loop, clients are linesock_request()
 * in a thread (it blocks) or raw sockets driven by hand (to be slow,
 * oversized, or many).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "mavpn/linesock.h"
#include "mavpn/util.h"

static char dir[64];
static char path[128];

/* ---- the server side: a handler with a few verbs ---- */

struct srv {
	struct linesock *ls;
	struct linesock_req *deferred;
	int calls;
	char *big;		/* body of "big" */
};

static int handler(void *arg, struct linesock_req *r, const char *verb,
		   const char *argstr)
{
	struct srv *s = arg;
	char body[256];

	s->calls++;
	if (!strcmp(verb, "echo")) {
		snprintf(body, sizeof(body), "verb=%s arg=%s flag=%d\n", verb,
			 argstr, linesock_req_flag(r));
		linesock_reply_ok(r, body);
		return 0;
	}
	if (!strcmp(verb, "fail")) {
		linesock_reply_err(r, "cannot %s:\nsecond line", argstr);
		return 0;
	}
	if (!strcmp(verb, "errno"))
		return -ENOENT;
	if (!strcmp(verb, "later")) {
		s->deferred = r;
		return LINESOCK_DEFER;
	}
	if (!strcmp(verb, "big")) {
		linesock_reply_ok(r, s->big);
		return 0;
	}
	if (!strcmp(verb, "forget"))
		return 0;	/* a buggy handler: answers nothing */
	linesock_reply_err(r, "unknown request \"%s\"", verb);
	return 0;
}

static struct linesock *srv_open(struct srv *s, const struct linesock_cfg *over)
{
	struct linesock_cfg cfg = { .path = path, .flag = "json", .mkdir = true };

	if (over)
		cfg = *over;
	cfg.fn = handler;
	cfg.arg = s;
	s->ls = linesock_open(&cfg);
	return s->ls;
}

/* One turn of an event loop: wait up to @ms for the server's fd. */
static void srv_turn(struct linesock *ls, int ms)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0);

	assert_true(ep >= 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, linesock_fd(ls), &ev), 0);
	if (epoll_wait(ep, &ev, 1, ms) > 0)
		linesock_process(ls);
	linesock_tick(ls, mono_ms());
	close(ep);
}

/* ---- a blocking client in a thread ---- */

struct cli {
	pthread_t th;
	const char *line;
	unsigned int timeout_ms;
	size_t max;
	int ret;
	char *body;
	atomic_int done;
};

static void *cli_main(void *arg)
{
	struct cli *c = arg;

	c->ret = linesock_request(path, c->line, c->timeout_ms, c->max,
				  &c->body);
	atomic_store(&c->done, 1);
	return NULL;
}

static void cli_start(struct cli *c, const char *line)
{
	c->line = line;
	if (!c->timeout_ms)
		c->timeout_ms = 5000;
	if (!c->max)
		c->max = 1 << 24;
	atomic_store(&c->done, 0);
	assert_int_equal(pthread_create(&c->th, NULL, cli_main, c), 0);
}

/* Run the server until the client is done (or 5 s). */
static void cli_finish(struct cli *c, struct linesock *ls)
{
	uint64_t end = mono_ms() + 5000;

	while (!atomic_load(&c->done) && mono_ms() < end)
		srv_turn(ls, 10);
	assert_true(atomic_load(&c->done));
	pthread_join(c->th, NULL);
}

static int ask(struct linesock *ls, const char *line, char **body)
{
	struct cli c = { 0 };

	cli_start(&c, line);
	cli_finish(&c, ls);
	*body = c.body;
	return c.ret;
}

/* ---- raw clients ---- */

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read what is there without blocking; -1 if nothing yet, 0 at EOF. */
static ssize_t raw_read(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Run the server until @fd has something to read (or EOF), 5 s at most. */
static ssize_t raw_wait(struct linesock *ls, int fd, char *buf, size_t len)
{
	uint64_t end = mono_ms() + 5000;
	ssize_t n;

	while ((n = raw_read(fd, buf, len)) < 0 && mono_ms() < end)
		srv_turn(ls, 10);
	assert_true(n >= 0);
	return n;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_linesock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/run/ctl.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ---- */

static void test_request_reply(void **state)
{
	struct linesock_cfg cfg = { .path = path, .flag = "json",
				    .mkdir = true };
	struct srv s = { 0 };
	struct stat st;
	char *body;

	(void)state;
	assert_non_null(srv_open(&s, &cfg));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);

	assert_int_equal(ask(s.ls, "echo a b", &body), 0);
	assert_string_equal(body, "verb=echo arg=a b flag=0\n");
	free(body);
	assert_int_equal(ask(s.ls, "json echo x", &body), 0);
	assert_string_equal(body, "verb=echo arg=x flag=1\n");
	free(body);
	/* "json" alone is a verb, not the flag. */
	assert_int_equal(ask(s.ls, "json", &body), -EPROTO);
	assert_string_equal(body, "unknown request \"json\"");
	free(body);
	assert_int_equal(ask(s.ls, "echo", &body), 0);
	assert_string_equal(body, "verb=echo arg= flag=0\n");
	free(body);
	/* An error is one line whatever the handler wrote. */
	assert_int_equal(ask(s.ls, "fail x", &body), -EPROTO);
	assert_string_equal(body, "cannot x: second line");
	free(body);
	assert_int_equal(ask(s.ls, "errno", &body), -EPROTO);
	assert_string_equal(body, strerror(ENOENT));
	free(body);
	assert_int_equal(ask(s.ls, "forget", &body), -EPROTO);
	assert_string_equal(body, "internal error: no answer");
	free(body);
	assert_int_equal(linesock_conns(s.ls), 0);
	linesock_close(s.ls);
	/* The file goes with the server. */
	assert_int_equal(stat(path, &st), -1);
}

static void test_raw_line_forms(void **state)
{
	struct srv s = { 0 };
	char buf[256];
	int fd;

	(void)state;
	assert_non_null(srv_open(&s, NULL));
	/* CRLF, and bytes after the line (ignored, and no ECONNRESET). */
	fd = raw_connect();
	assert_int_equal(send(fd, "echo z\r\nmore junk", 17, 0), 17);
	raw_wait(s.ls, fd, buf, sizeof(buf));
	assert_string_equal(buf, "ok\nverb=echo arg=z flag=0\n");
	close(fd);
	/* A line split over several writes. */
	fd = raw_connect();
	assert_int_equal(send(fd, "ec", 2, 0), 2);
	srv_turn(s.ls, 10);
	assert_int_equal(send(fd, "ho 1", 4, 0), 4);
	srv_turn(s.ls, 10);
	assert_int_equal(s.calls, 1);
	assert_int_equal(send(fd, "\n", 1, 0), 1);
	raw_wait(s.ls, fd, buf, sizeof(buf));
	assert_string_equal(buf, "ok\nverb=echo arg=1 flag=0\n");
	close(fd);
	/* A NUL inside the line. */
	fd = raw_connect();
	assert_int_equal(send(fd, "echo\0x\n", 7, 0), 7);
	raw_wait(s.ls, fd, buf, sizeof(buf));
	assert_string_equal(buf, "error malformed request: NUL byte\n");
	close(fd);
	/* EOF before the newline: dropped, no handler call. */
	fd = raw_connect();
	assert_int_equal(send(fd, "echo", 4, 0), 4);
	shutdown(fd, SHUT_WR);
	raw_wait(s.ls, fd, buf, sizeof(buf));
	assert_int_equal(raw_read(fd, buf, sizeof(buf)), 0);
	close(fd);
	assert_int_equal(s.calls, 2);
	assert_int_equal(linesock_conns(s.ls), 0);
	linesock_close(s.ls);
}

static void test_deferred(void **state)
{
	struct srv s = { 0 };
	struct cli c = { 0 }, d = { 0 };
	uint64_t end;
	char *body;

	(void)state;
	assert_non_null(srv_open(&s, &(struct linesock_cfg){
		.path = path, .mkdir = true, .read_ms = 50 }));
	cli_start(&c, "later");
	end = mono_ms() + 5000;
	while (!s.deferred && mono_ms() < end)
		srv_turn(s.ls, 10);
	assert_non_null(s.deferred);
	/* Deferred requests have no read deadline: still there later. */
	for (end = mono_ms() + 200; mono_ms() < end;)
		srv_turn(s.ls, 10);
	assert_int_equal(linesock_conns(s.ls), 1);
	assert_false(atomic_load(&c.done));
	assert_int_equal(linesock_next_timeout(s.ls, mono_ms()), -1);
	/* Other requests are served meanwhile. */
	assert_int_equal(ask(s.ls, "echo meanwhile", &body), 0);
	free(body);
	linesock_reply_ok(s.deferred, "resolved\n");
	s.deferred = NULL;
	cli_finish(&c, s.ls);
	assert_int_equal(c.ret, 0);
	assert_string_equal(c.body, "resolved\n");
	free(c.body);

	/* A deferred request still open at close is freed by it; the
	 * client sees the connection end without an answer. */
	d.timeout_ms = 5000;
	cli_start(&d, "later");
	end = mono_ms() + 5000;
	while (!s.deferred && mono_ms() < end)
		srv_turn(s.ls, 10);
	assert_non_null(s.deferred);
	linesock_close(s.ls);
	pthread_join(d.th, NULL);
	assert_int_equal(d.ret, -EBADMSG);
	assert_null(d.body);
}

static void test_oversize(void **state)
{
	struct srv s = { 0 };
	char line[200], buf[128], *body;
	int fd;

	(void)state;
	assert_non_null(srv_open(&s, &(struct linesock_cfg){
		.path = path, .mkdir = true, .line_max = 64 }));
	/* 63 characters and the newline: the largest line that fits. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "echo ", 5);
	line[63] = '\0';
	assert_int_equal(ask(s.ls, line, &body), 0);
	free(body);
	line[63] = 'a';
	line[64] = '\0';
	assert_int_equal(ask(s.ls, line, &body), -EPROTO);
	assert_string_equal(body, "request line too long");
	free(body);
	/* A client that keeps sending gets the same answer and EOF. */
	fd = raw_connect();
	memset(line, 'x', sizeof(line));
	assert_int_equal(send(fd, line, sizeof(line), 0), (ssize_t)sizeof(line));
	raw_wait(s.ls, fd, buf, sizeof(buf));
	assert_string_equal(buf, "error request line too long\n");
	raw_wait(s.ls, fd, buf, sizeof(buf));
	assert_int_equal(raw_read(fd, buf, sizeof(buf)), 0);
	close(fd);
	assert_int_equal(s.calls, 1);
	linesock_close(s.ls);
}

static void test_slow_client(void **state)
{
	struct srv s = { 0 };
	uint64_t t0, end;
	char buf[64];
	int fd, to;

	(void)state;
	assert_non_null(srv_open(&s, &(struct linesock_cfg){
		.path = path, .mkdir = true, .read_ms = 150 }));
	fd = raw_connect();
	assert_int_equal(send(fd, "ech", 3, 0), 3);
	t0 = mono_ms();
	srv_turn(s.ls, 10);
	assert_int_equal(linesock_conns(s.ls), 1);
	to = linesock_next_timeout(s.ls, mono_ms());
	assert_true(to > 0 && to <= 150);
	end = t0 + 2000;
	while (linesock_conns(s.ls) && mono_ms() < end)
		srv_turn(s.ls, 10);
	assert_int_equal(linesock_conns(s.ls), 0);
	assert_true(mono_ms() - t0 >= 140);
	/* Dropped without an answer. */
	assert_int_equal(raw_read(fd, buf, sizeof(buf)), 0);
	close(fd);
	assert_int_equal(s.calls, 0);
	linesock_close(s.ls);
}

static void test_big_reply_and_write_deadline(void **state)
{
	const size_t big = 4 << 20;
	struct srv s = { 0 };
	struct cli c = { 0 };
	uint64_t end;
	int fd;

	(void)state;
	s.big = malloc(big + 1);
	assert_non_null(s.big);
	memset(s.big, 'b', big);
	s.big[big] = '\0';
	assert_non_null(srv_open(&s, &(struct linesock_cfg){
		.path = path, .mkdir = true, .write_ms = 2000 }));
	/* Larger than any socket buffer: written as the client reads (the
	 * deadline leaves a loaded machine's client time to read 4 MiB). */
	cli_start(&c, "big");
	cli_finish(&c, s.ls);
	assert_int_equal(c.ret, 0);
	assert_int_equal(strlen(c.body), big);
	free(c.body);
	/* The client's limit. */
	c = (struct cli){ .max = 1000 };
	cli_start(&c, "big");
	cli_finish(&c, s.ls);
	assert_int_equal(c.ret, -EMSGSIZE);
	assert_null(c.body);
	/* A client that never reads is cut at the write deadline. */
	fd = raw_connect();
	assert_int_equal(send(fd, "big\n", 4, 0), 4);
	end = mono_ms() + 20000;
	srv_turn(s.ls, 10);
	assert_int_equal(linesock_conns(s.ls), 1);
	while (linesock_conns(s.ls) && mono_ms() < end)
		srv_turn(s.ls, 10);
	assert_int_equal(linesock_conns(s.ls), 0);
	close(fd);
	linesock_close(s.ls);
	free(s.big);
}

static void test_max_conns(void **state)
{
	struct srv s = { 0 };
	char buf[64];
	int a, b, c;

	(void)state;
	assert_non_null(srv_open(&s, &(struct linesock_cfg){
		.path = path, .mkdir = true, .max_conns = 2 }));
	a = raw_connect();
	b = raw_connect();
	srv_turn(s.ls, 10);
	assert_int_equal(linesock_conns(s.ls), 2);
	c = raw_connect();
	raw_wait(s.ls, c, buf, sizeof(buf));
	assert_string_equal(buf, "error busy\n");
	assert_int_equal(linesock_conns(s.ls), 2);
	close(c);
	/* The two are still served. */
	assert_int_equal(send(a, "echo a\n", 7, 0), 7);
	raw_wait(s.ls, a, buf, sizeof(buf));
	assert_string_equal(buf, "ok\nverb=echo arg=a flag=0\n");
	close(a);
	close(b);
	srv_turn(s.ls, 10);
	assert_int_equal(linesock_conns(s.ls), 0);
	linesock_close(s.ls);
}

static void test_stale_and_second_server(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct srv s = { 0 }, t = { 0 };
	struct linesock_cfg cfg = { .path = path, .mkdir = true,
				    .mode = 0600 };
	struct stat st;
	char *body;
	int fd;

	(void)state;
	/* A socket file left by a killed server: nobody listens on it. */
	assert_non_null(srv_open(&s, &cfg));
	linesock_close(s.ls);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	/* Taken over, with the mode asked for whatever the umask. */
	umask(0);
	assert_non_null(srv_open(&s, &cfg));
	umask(022);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* A second server on a live path is refused... */
	errno = 0;
	assert_null(srv_open(&t, &cfg));
	assert_int_equal(errno, EADDRINUSE);
	/* ...and the first one still works (it saw the probe come and go). */
	assert_int_equal(ask(s.ls, "echo still", &body), 0);
	free(body);

	/* Close removes only our own file: here another took the path. */
	assert_int_equal(unlink(path), 0);
	assert_non_null(srv_open(&t, &cfg));
	linesock_close(s.ls);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(ask(t.ls, "echo second", &body), 0);
	free(body);
	linesock_close(t.ls);
	assert_int_equal(stat(path, &st), -1);

	/* Not a socket: refused, never removed. */
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	errno = 0;
	assert_null(srv_open(&t, &cfg));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(stat(path, &st), 0);
	unlink(path);
}

static void test_client_errors(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct srv s = { 0 };
	struct cli c = { 0 };
	char *body = (char *)1, longpath[200];
	uint64_t t0;
	int fd;

	(void)state;
	assert_int_equal(linesock_request(path, "echo", 1000, 100, &body),
			 -ENOENT);
	assert_null(body);
	memset(longpath, 'p', sizeof(longpath));
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(linesock_request(longpath, "x", 1000, 100, &body),
			 -ENAMETOOLONG);
	assert_int_equal(linesock_request(path, "a\nb", 1000, 100, &body),
			 -EINVAL);
	/* A socket file nobody listens on. */
	snprintf(longpath, sizeof(longpath), "%s/run", dir);
	assert_int_equal(mkdir(longpath, 0755), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(linesock_request(path, "echo", 1000, 100, &body),
			 -ECONNREFUSED);
	/* Listening but never answering: the timeout. */
	assert_int_equal(listen(fd, 4), 0);
	t0 = mono_ms();
	assert_int_equal(linesock_request(path, "echo", 200, 100, &body),
			 -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 190);
	close(accept(fd, NULL, NULL));	/* that client, long gone */
	/* An answer that is neither ok nor error. */
	c.timeout_ms = 2000;
	cli_start(&c, "echo");
	{
		int a = accept(fd, NULL, NULL);
		char buf[16];

		assert_true(a >= 0);
		assert_true(recv(a, buf, sizeof(buf), 0) > 0);
		assert_int_equal(send(a, "hello\n", 6, 0), 6);
		close(a);
	}
	pthread_join(c.th, NULL);
	assert_int_equal(c.ret, -EBADMSG);
	assert_null(c.body);
	close(fd);
	unlink(path);
	/* And a deferred answer that never comes. */
	assert_non_null(srv_open(&s, &(struct linesock_cfg){
		.path = path, .mkdir = true }));
	c = (struct cli){ .timeout_ms = 200 };
	cli_start(&c, "later");
	cli_finish(&c, s.ls);
	assert_int_equal(c.ret, -ETIMEDOUT);
	linesock_reply_ok(s.deferred, "too late");	/* client gone: fine */
	srv_turn(s.ls, 10);
	assert_int_equal(linesock_conns(s.ls), 0);
	linesock_close(s.ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_line_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_reply_and_write_deadline,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_conns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_second_server,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
