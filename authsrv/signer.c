// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CA signer process and the parent's side of it (see signer.h).
 *
 * The child is forked, not exec'd: at `serve` start before anything else
 * is opened; a restart forks from the running server, so the child first
 * closes every fd it inherited and never touches the parent's objects
 * (SQLite, TLS, epoll); it leaves with _exit(), which flushes nothing.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "authsrv.h"
#include "mavpn/log.h"
#include "pki.h"
#include "signer.h"

_Static_assert(sizeof(struct signer_req_hdr) == 12, "signer request header");
_Static_assert(sizeof(struct signer_resp_hdr) == 12, "signer answer header");

#define SIGNER_FD	3		/* the signer's end of the socketpair */

struct signer {
	char *dir;
	pid_t pid;			/* 0: none */
	int fd;				/* parent's end, -1: none */
	int restarts;			/* left */
	/* scratch, 12 KiB: off the event loop's stack */
	struct signer_req req;
	uint8_t buf[SIGNER_REQ_MAX > SIGNER_RESP_MAX ? SIGNER_REQ_MAX + 1 :
		    SIGNER_RESP_MAX + 1];
};

/* ---- the wire ---- */

int signer_req_encode(const struct signer_req *r, uint8_t *buf, size_t cap,
		      size_t *len)
{
	size_t nl = strnlen(r->name, sizeof(r->name));
	size_t sl = strnlen(r->serial, sizeof(r->serial));
	size_t cl = strnlen(r->csr, sizeof(r->csr));
	struct signer_req_hdr h = {
		.magic = SIGNER_MAGIC_REQ, .name_len = (uint16_t)nl,
		.serial_len = (uint16_t)sl, .csr_len = (uint32_t)cl,
	};
	uint8_t *p = buf;

	if (!nl || nl >= sizeof(r->name) || !sl || sl >= sizeof(r->serial) ||
	    !cl || cl >= sizeof(r->csr) || sizeof(h) + nl + sl + cl > cap)
		return -EINVAL;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, r->name, nl);
	p += nl;
	memcpy(p, r->serial, sl);
	p += sl;
	memcpy(p, r->csr, cl);
	*len = sizeof(h) + nl + sl + cl;
	return 0;
}

/* @n bytes of text without NULs into @out (n < @cap checked by caller). */
static int signer_text(char *out, const uint8_t *p, size_t n)
{
	if (memchr(p, '\0', n))
		return -EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int signer_req_parse(const uint8_t *buf, size_t len, struct signer_req *r)
{
	struct signer_req_hdr h;
	const uint8_t *p = buf + sizeof(h);

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != SIGNER_MAGIC_REQ ||
	    !h.name_len || h.name_len >= sizeof(r->name) ||
	    !h.serial_len || h.serial_len >= sizeof(r->serial) ||
	    !h.csr_len || h.csr_len >= sizeof(r->csr) ||
	    len != sizeof(h) + (size_t)h.name_len + h.serial_len + h.csr_len)
		return -EINVAL;
	if (signer_text(r->name, p, h.name_len) ||
	    signer_text(r->serial, p + h.name_len, h.serial_len) ||
	    signer_text(r->csr, p + h.name_len + h.serial_len, h.csr_len))
		return -EINVAL;
	/* The parent's word is not enough: the same rules as at its end. */
	if (!authsrv_valid_name(r->name) || !pki_serial_ok(r->serial))
		return -EINVAL;
	return 0;
}

int signer_resp_parse(const uint8_t *buf, size_t len, int *status,
		      char *text, size_t cap)
{
	struct signer_resp_hdr h;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != SIGNER_MAGIC_RESP || h.status > 0 || h.status < -4095 ||
	    h.len != len - sizeof(h) || h.len >= cap ||
	    signer_text(text, buf + sizeof(h), h.len))
		return -EINVAL;
	*status = h.status;
	return 0;
}

/* ---- the signer process ---- */

static void signer_answer(int fd, int status, const char *text)
{
	uint8_t buf[SIGNER_RESP_MAX];
	struct signer_resp_hdr h = { .magic = SIGNER_MAGIC_RESP,
				     .status = status };
	size_t n = strnlen(text, CTLMSG_PEM_MAX - 1);

	h.len = (uint32_t)n;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), text, n);
	if (send(fd, buf, sizeof(h) + n, MSG_NOSIGNAL) < 0)
		_exit(1);	/* the parent is gone */
}

/*
 * Keep stdin/out/err (the log goes to stderr) and the socket, moved to fd
 * 3; close everything else inherited: TLS sockets, SQLite, epoll, the
 * listening socket. Returns the socket's fd.
 */
static int signer_close_fds(int fd)
{
	struct rlimit rl;
	int i, max = 65536;

	if (fd != SIGNER_FD) {
		if (dup2(fd, SIGNER_FD) < 0)
			_exit(1);
		close(fd);
	}
	if (!close_range(SIGNER_FD + 1, ~0U, 0))
		return SIGNER_FD;
	/* close_range filtered (seccomp) or missing: one by one. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		max = (int)rl.rlim_cur;
	for (i = SIGNER_FD + 1; i < max; i++)
		close(i);
	return SIGNER_FD;
}

/* What the signer gives up before it reads the key; returns its socket. */
static int signer_confine(int fd)
{
	struct rlimit zero = { 0, 0 };
	sigset_t none;

	prctl(PR_SET_DUMPABLE, 0);	/* no ptrace/proc by the same uid */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &zero);
	setrlimit(RLIMIT_NPROC, &zero);	/* no fork (not binding on root) */
	/* ^C on a terminal: the parent leaves first, then EOF ends us. */
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return signer_close_fds(fd);
}

static void signer_one(struct pki *p, int fd, const uint8_t *buf, size_t n)
{
	struct signer_req r;
	char cert[CTLMSG_PEM_MAX];
	const char *why = NULL;
	bool parsed = false;
	int ret;

	if (n > SIGNER_REQ_MAX) {
		ret = -EMSGSIZE;
		why = "request too large";
	} else if (signer_req_parse(buf, n, &r)) {
		ret = -EINVAL;
		why = "malformed signing request";
	} else {
		parsed = true;
		ret = pki_sign_csr(p, r.csr, r.name, r.serial, cert,
				   sizeof(cert), &why);
	}
	if (ret) {
		log_warn("signer refused host=%s reason=\"%s\"",
			 parsed ? r.name : "-", why ? why : "signing failed");
		signer_answer(fd, ret, why ? why : "signing failed");
	} else {
		log_info("signer signed host=%s serial=%s", r.name,
			 r.serial);
		signer_answer(fd, 0, cert);
	}
	OPENSSL_cleanse(&r, sizeof(r));
}

static void __attribute__((noreturn))
signer_child(int fd, const char *dir, pid_t parent)
{
	uint8_t buf[SIGNER_REQ_MAX + 1];
	struct rlimit rl;
	struct pki *p;
	char err[256];
	ssize_t n;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);	/* died before the line above */
	fd = signer_confine(fd);
	p = pki_load(dir, true);
	if (!p) {
		snprintf(err, sizeof(err), "cannot load CA from \"%s\": %s",
			 dir, strerror(errno));
		signer_answer(fd, -EIO, err);
		_exit(1);
	}
	signer_answer(fd, 0, "");
	/* The key is in: no new fd from here on (0-2 and the socket). */
	rl.rlim_cur = rl.rlim_max = SIGNER_FD + 1;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* EOF: the parent closed or died */
		signer_one(p, fd, buf, (size_t)n);
		OPENSSL_cleanse(buf, sizeof(buf));
	}
	pki_free(p);
	_exit(0);
}

/* ---- the parent's side ---- */

/* One answer within SIGNER_TIMEOUT_MS: 0, -ETIMEDOUT, -EPIPE (EOF). */
static int signer_recv(struct signer *sg, int *status, char *text,
		       size_t cap)
{
	uint8_t *buf = sg->buf;
	struct pollfd pfd = { .fd = sg->fd, .events = POLLIN };
	ssize_t n;
	int ret;

	do
		ret = poll(&pfd, 1, SIGNER_TIMEOUT_MS);
	while (ret < 0 && errno == EINTR);
	if (ret == 0)
		return -ETIMEDOUT;
	if (ret < 0)
		return -errno;
	n = recv(sg->fd, buf, SIGNER_RESP_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	ret = (size_t)n > SIGNER_RESP_MAX ? -EPROTO :
	      signer_resp_parse(buf, (size_t)n, status, text, cap) ? -EPROTO :
	      0;
	OPENSSL_cleanse(buf, SIGNER_RESP_MAX + 1);
	return ret;
}

/* The signer is gone or useless: (kill,) reap and log how it ended. */
static void signer_reap(struct signer *sg, bool kill_it, const char *why)
{
	int st = 0;

	if (!sg->pid)
		return;
	if (kill_it)
		kill(sg->pid, SIGKILL);
	if (sg->fd >= 0)
		close(sg->fd);
	sg->fd = -1;
	while (waitpid(sg->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (why) {
		if (WIFSIGNALED(st))
			log_err("signer lost pid=%d reason=\"%s\" signal=%d",
				(int)sg->pid, why, WTERMSIG(st));
		else
			log_err("signer lost pid=%d reason=\"%s\" status=%d",
				(int)sg->pid, why, WEXITSTATUS(st));
	}
	sg->pid = 0;
}

static int signer_spawn(struct signer *sg, char *err, size_t errlen)
{
	char text[256];
	pid_t parent = getpid(), pid;
	int sv[2], ret, status = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(-ret));
		return ret;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(sv[0]);
		close(sv[1]);
		snprintf(err, errlen, "fork: %s", strerror(-ret));
		return ret;
	}
	if (pid == 0) {
		close(sv[0]);
		signer_child(sv[1], sg->dir, parent);
	}
	close(sv[1]);
	sg->pid = pid;
	sg->fd = sv[0];
	ret = signer_recv(sg, &status, text, sizeof(text));
	if (ret || status) {
		snprintf(err, errlen, "%s", ret ? "the CA signer did not start" :
			 text);
		signer_reap(sg, true, NULL);
		return ret ? ret : status;
	}
	log_info("signer started pid=%d", (int)pid);
	return 0;
}

int signer_start(const char *dir, struct signer **out, char *err,
		 size_t errlen)
{
	struct signer *sg = calloc(1, sizeof(*sg));
	int ret;

	*out = NULL;
	if (!sg || !(sg->dir = strdup(dir))) {
		free(sg);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sg->fd = -1;
	sg->restarts = SIGNER_RESTARTS;
	ret = signer_spawn(sg, err, errlen);
	if (ret) {
		free(sg->dir);
		free(sg);
		return ret;
	}
	*out = sg;
	return 0;
}

void signer_stop(struct signer *sg)
{
	if (!sg)
		return;
	/* EOF makes it exit at once; it holds nothing worth waiting for. */
	signer_reap(sg, false, NULL);
	free(sg->dir);
	free(sg);
}

pid_t signer_pid(const struct signer *sg)
{
	return sg->pid;
}

/* The signer was lost: start it again if the restart is not used up. */
static void signer_recover(struct signer *sg)
{
	char err[256];

	if (sg->restarts) {
		sg->restarts--;
		if (!signer_spawn(sg, err, sizeof(err)))
			return;
		log_err("signer restart failed reason=\"%s\"", err);
	}
	log_err("signer unavailable: enrollments are refused until the server restarts");
}

void signer_tick(struct signer *sg)
{
	int st;

	if (!sg->pid || waitpid(sg->pid, &st, WNOHANG) != sg->pid)
		return;
	if (WIFSIGNALED(st))
		log_err("signer died pid=%d signal=%d", (int)sg->pid,
			WTERMSIG(st));
	else
		log_err("signer died pid=%d status=%d", (int)sg->pid,
			WEXITSTATUS(st));
	close(sg->fd);
	sg->fd = -1;
	sg->pid = 0;
	signer_recover(sg);
}

int signer_sign(struct signer *sg, const char *csr, const char *name,
		const char *serial, char *cert, size_t cap, char *why,
		size_t whylen)
{
	struct signer_req *r = &sg->req;
	uint8_t *buf = sg->buf;
	int attempt, ret = -EPIPE, status;
	size_t len;

	snprintf(why, whylen, "certificate signer unavailable");
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	snprintf(r->csr, sizeof(r->csr), "%s", csr);
	if (signer_req_encode(r, buf, SIGNER_REQ_MAX, &len)) {
		snprintf(why, whylen, "signing request too large");
		return -EINVAL;
	}
	/* A signer that dies on this request gets its one restart. */
	for (attempt = 0; attempt < 2 && sg->pid; attempt++) {
		/* @buf also receives: send the request from @r each time */
		signer_req_encode(r, buf, SIGNER_REQ_MAX, &len);
		if (send(sg->fd, buf, len, MSG_NOSIGNAL) < 0) {
			signer_reap(sg, true, "request not delivered");
			signer_recover(sg);
			continue;
		}
		ret = signer_recv(sg, &status, cert, cap);
		if (ret) {
			signer_reap(sg, true, ret == -ETIMEDOUT ?
				    "no answer in time" : ret == -EPROTO ?
				    "malformed answer" : "went away");
			signer_recover(sg);
			ret = -EPIPE;
			continue;
		}
		if (status) {
			snprintf(why, whylen, "%s", cert);
			cert[0] = '\0';
		}
		ret = status;
		break;
	}
	OPENSSL_cleanse(r, sizeof(*r));
	return ret;
}
