// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv load generator (`make bench-authsrv`): a program, not a test.
 *
 * Speaks the real protocol with the real codecs (tlsconn + ctlmsg):
 *   1. `authsrv init` a state directory (kept in build/bench-authsrv, so a
 *      second run reuses the enrolled hosts) and start `authsrv serve` on
 *      127.0.0.1.
 *   2. `authsrv token create bench --count N`, then enroll every token over
 *      the protocol (EC P-256 key, CSR, ALPN mavpn-enroll/1, ENROLL_REQ).
 *   3. Connect all N hosts at once (mutual TLS with each host's own
 *      certificate, HELLO/HELLO_ACK), from 127.0.0.x source addresses.
 *   4. Request keys between random pairs with a fixed number in flight; every
 *      host answers KEY_PUSH with KEY_PUSH_ACK like vpnd does.
 * Reports connected hosts, the server's RSS per host (VmRSS, after minus
 * before connecting), grants/s and p50/p99 grant latency (KEY_REQ sent to
 * KEY_GRANT read). Loopback only.
 *
 * One thread, one epoll set; the server is one thread too, so on two cores
 * each side has one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mavpn/ctlmsg.h"
#include "mavpn/log.h"
#include "mavpn/tlsconn.h"

#define BENCH_PORT_DEFAULT	17543
#define BENCH_MAX_CONNECTING	256	/* handshakes in flight */

enum host_state { H_IDLE, H_CONNECTING, H_HELLO, H_ONLINE, H_FAILED };

struct host {
	char name[CTLMSG_NAME_MAX];
	char token[CTLMSG_TOKEN_MAX];
	EVP_PKEY *key;
	X509 *cert;
	struct tlsconn *tc;
	enum host_state state;
	uint32_t overlay_ip;
	unsigned int outstanding;	/* our KEY_REQs in flight */
};

struct bench {
	const char *authsrv, *dir;
	int port, n, requests, inflight;
	pid_t srv_pid;
	struct host *h;
	int epfd;
	SSL_CTX *enroll_ctx, *ctl_ctx;
	struct ctlmsg m;
	/* key phase */
	uint32_t next_req;
	double *sent_at;		/* by req_id */
	double *lat;
	int nlat, sent, granted, denied;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int run_cmd(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

/* Non-blocking TCP connect to the server from 127.0.0.(2 + i % 200). */
static int tcp_connect(const struct bench *b, int i)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Many source addresses: no ephemeral port shortage at 10k+. */
	src.sin_addr.s_addr = htonl(0x7f000002 + (uint32_t)(i % 200));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)))
		goto err;
	dst.sin_addr.s_addr = htonl(0x7f000001);
	dst.sin_port = htons((uint16_t)b->port);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) &&
	    errno != EINPROGRESS)
		goto err;
	return fd;
err:
	close(fd);
	return -errno;
}

static void ep_set(struct bench *b, struct host *h, bool add)
{
	struct epoll_event ev = {
		.events = EPOLLIN | (tlsconn_want_write(h->tc) ? EPOLLOUT : 0),
		.data.ptr = h,
	};

	epoll_ctl(b->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
		  tlsconn_fd(h->tc), &ev);
}

static void host_drop(struct bench *b, struct host *h)
{
	if (h->tc) {
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, tlsconn_fd(h->tc), NULL);
		tlsconn_free(h->tc);
		h->tc = NULL;
	}
	h->state = H_FAILED;
}

/* ---- enrollment ---- */

static char *make_csr(EVP_PKEY **key)
{
	X509_REQ *req = X509_REQ_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL, *p;
	long len;

	*key = EVP_EC_gen("P-256");
	if (!req || !bio || !*key || !X509_REQ_set_pubkey(req, *key) ||
	    !X509_REQ_sign(req, *key, EVP_sha256()) ||
	    !PEM_write_bio_X509_REQ(bio, req))
		goto out;
	len = BIO_get_mem_data(bio, &p);
	pem = strndup(p, (size_t)len);
out:
	X509_REQ_free(req);
	BIO_free(bio);
	return pem;
}

/* Enroll hosts [0, n) with up to 32 in flight; returns how many made it. */
static int enroll_all(struct bench *b)
{
	struct epoll_event evs[64];
	int next = 0, done = 0, busy = 0, ok = 0, i, k, ret;

	while (done < b->n) {
		while (busy < 32 && next < b->n) {
			struct host *h = &b->h[next];
			char *csr = make_csr(&h->key);
			int fd = tcp_connect(b, next);

			next++;
			if (!csr || fd < 0 ||
			    !(h->tc = tlsconn_new(b->enroll_ctx, fd, false))) {
				free(csr);
				h->state = H_FAILED;
				done++;
				continue;
			}
			ctlmsg_init(&b->m, CTLMSG_ENROLL_REQ);
			snprintf(b->m.token, sizeof(b->m.token), "%s", h->token);
			snprintf(b->m.csr, sizeof(b->m.csr), "%s", csr);
			b->m.present = CTLA_BIT(CTLA_TOKEN) | CTLA_BIT(CTLA_CSR);
			free(csr);
			/* Queued now, written when the handshake is done. */
			tlsconn_send(h->tc, &b->m);
			h->state = H_CONNECTING;
			ep_set(b, h, true);
			busy++;
		}
		k = epoll_wait(b->epfd, evs, 64, 10000);
		if (k <= 0) {
			fprintf(stderr, "bench: enrollment stalled\n");
			return ok;
		}
		for (i = 0; i < k; i++) {
			struct host *h = evs[i].data.ptr;
			BIO *bio;

			ret = tlsconn_read(h->tc);
			if (!ret && tlsconn_want_write(h->tc))
				ret = tlsconn_flush(h->tc) < 0 ? -EIO : 0;
			while (ret >= 0 && (ret = tlsconn_next(h->tc, &b->m)) == 1) {
				if (b->m.type != CTLMSG_ENROLL_RESP) {
					fprintf(stderr, "bench: enroll %s: %s\n",
						h->name, b->m.reason);
					ret = -EPROTO;
					break;
				}
				bio = BIO_new_mem_buf(b->m.cert, -1);
				h->cert = bio ? PEM_read_bio_X509(bio, NULL, NULL,
								  NULL) : NULL;
				BIO_free(bio);
				snprintf(h->name, sizeof(h->name), "%s", b->m.name);
				ret = h->cert ? 2 : -EPROTO;
				break;
			}
			if (ret == 0) {
				ep_set(b, h, false);
				continue;
			}
			if (ret == 2)
				ok++;
			host_drop(b, h);
			h->state = H_IDLE;
			if (!h->cert)
				h->state = H_FAILED;
			busy--;
			done++;
		}
	}
	return ok;
}

/* ---- credentials cache: DIR/bench-hosts.pem (key then cert per host) ---- */

static int creds_save(struct bench *b)
{
	char path[4096];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/bench-hosts.pem", b->dir);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fchmod(fileno(f), 0600);
	for (i = 0; i < b->n; i++)
		if (b->h[i].cert)
			if (!PEM_write_PrivateKey(f, b->h[i].key, NULL, NULL, 0,
						  NULL, NULL) ||
			    !PEM_write_X509(f, b->h[i].cert))
				break;
	fclose(f);
	return 0;
}

static int creds_load(struct bench *b)
{
	char path[4096];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/bench-hosts.pem", b->dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	for (i = 0; i < b->n; i++) {
		b->h[i].key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		b->h[i].cert = b->h[i].key ? PEM_read_X509(f, NULL, NULL, NULL) :
					     NULL;
		if (!b->h[i].cert)
			break;
	}
	fclose(f);
	ERR_clear_error();
	return i;
}

/* ---- connect ---- */

static void send_hello(struct bench *b, struct host *h)
{
	ctlmsg_init(&b->m, CTLMSG_HELLO);
	b->m.udp_port = 51820;
	b->m.present = CTLA_BIT(CTLA_UDP_PORT);
	tlsconn_send(h->tc, &b->m);
	h->state = H_HELLO;
}

static void send_key_req(struct bench *b)
{
	struct host *a, *p;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		a = &b->h[rand() % b->n];
		p = &b->h[rand() % b->n];
		if (a != p && a->state == H_ONLINE && p->state == H_ONLINE &&
		    a->outstanding < 64)
			break;
	}
	if (tries == 100)
		return;
	ctlmsg_init(&b->m, CTLMSG_KEY_REQ);
	b->m.req_id = b->next_req++;
	b->m.overlay_ip = p->overlay_ip;
	b->m.present = CTLA_BIT(CTLA_REQ_ID) | CTLA_BIT(CTLA_OVERLAY_IP);
	b->sent_at[b->m.req_id] = now_s();
	a->outstanding++;
	b->sent++;
	tlsconn_send(a->tc, &b->m);
	ep_set(b, a, false);
}

/* One readable/writable host in the connect or key phase. */
static void host_io(struct bench *b, struct host *h, int *online)
{
	struct ctlmsg *m = &b->m;
	int ret;

	ret = tlsconn_read(h->tc);
	if (ret == 0)
		ret = tlsconn_flush(h->tc) < 0 ? -EIO : 0;
	/* After the flush: it may be what completed the handshake. */
	if (ret == 0 && h->state == H_CONNECTING && tlsconn_alpn(h->tc)[0])
		send_hello(b, h);
	while (ret >= 0 && (ret = tlsconn_next(h->tc, m)) == 1) {
		switch (m->type) {
		case CTLMSG_HELLO_ACK:
			h->overlay_ip = m->overlay_ip;
			h->state = H_ONLINE;
			(*online)++;
			break;
		case CTLMSG_KEY_PUSH: {
			uint32_t id = m->key_id;

			ctlmsg_init(m, CTLMSG_KEY_PUSH_ACK);
			m->key_id = id;
			m->present = CTLA_BIT(CTLA_KEY_ID);
			tlsconn_send(h->tc, m);
			break;
		}
		case CTLMSG_KEY_GRANT:
		case CTLMSG_KEY_DENY:
			if (m->type == CTLMSG_KEY_GRANT) {
				b->granted++;
				b->lat[b->nlat++] = now_s() - b->sent_at[m->req_id];
			} else {
				b->denied++;
				if (b->denied < 5)
					fprintf(stderr, "bench: deny: %s\n",
						m->reason);
			}
			h->outstanding--;
			if (b->sent < b->requests)
				send_key_req(b);
			break;
		case CTLMSG_ERROR:
			fprintf(stderr, "bench: %s: server error: %s\n",
				h->name, m->reason);
			ret = -EPROTO;
			break;
		default:
			break;
		}
		ctlmsg_wipe(m);
	}
	if (ret < 0) {
		if (h->state == H_ONLINE)
			(*online)--;
		host_drop(b, h);
		return;
	}
	ep_set(b, h, false);
}

static int cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return a < c ? -1 : a > c;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: authsrv_load [--hosts N] [--requests M] [--inflight K]\n"
		"                    [--dir DIR] [--port PORT] [--authsrv PATH]\n"
		"defaults: 10000 hosts, 200000 requests, 512 in flight,\n"
		"          build/bench-authsrv, port %d, build/bin/authsrv\n",
		BENCH_PORT_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'n' },
		{ "requests", required_argument, NULL, 'r' },
		{ "inflight", required_argument, NULL, 'k' },
		{ "dir", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "authsrv", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct bench b = {
		.authsrv = "build/bin/authsrv", .dir = "build/bench-authsrv",
		.port = BENCH_PORT_DEFAULT, .n = 10000, .requests = 200000,
		.inflight = 512,
	};
	struct epoll_event evs[256];
	char cmd[8192], path[4096], line[512];
	double t0, t_conn, t_keys, gps;
	long rss0, rss1, rss2;
	int o, i, k, online = 0, have, connecting = 0, next = 0, stalls = 0;
	struct rlimit rl;
	FILE *p;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'n': b.n = atoi(optarg); break;
		case 'r': b.requests = atoi(optarg); break;
		case 'k': b.inflight = atoi(optarg); break;
		case 'd': b.dir = optarg; break;
		case 'p': b.port = atoi(optarg); break;
		case 'a': b.authsrv = optarg; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (b.n < 2 || b.requests < 1 || b.inflight < 1) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_init("authsrv_load", LOG_LVL_ERR);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)b.n + 64) {
		fprintf(stderr, "bench: RLIMIT_NOFILE %lu is below %d hosts\n",
			(unsigned long)rl.rlim_cur, b.n);
		return 1;
	}
	b.h = calloc((size_t)b.n, sizeof(*b.h));
	/* + the unloaded phase's 2000 */
	b.sent_at = calloc((size_t)b.requests + 2001, sizeof(double));
	b.lat = calloc((size_t)b.requests + 2001, sizeof(double));
	b.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!b.h || !b.sent_at || !b.lat || b.epfd < 0)
		return 1;

	/* 1. server */
	snprintf(path, sizeof(path), "%s/registry.db", b.dir);
	if (access(path, F_OK)) {
		snprintf(cmd, sizeof(cmd), "%s init --state %s >/dev/null",
			 b.authsrv, b.dir);
		if (run_cmd(cmd))
			return 1;
	}
	snprintf(path, sizeof(path), "%s/ca.pem", b.dir);
	b.enroll_ctx = tlsconn_client_ctx(TLSCONN_ALPN_ENROLL, path, NULL, NULL);
	b.ctl_ctx = tlsconn_client_ctx(TLSCONN_ALPN_CTL, path, NULL, NULL);
	if (!b.enroll_ctx || !b.ctl_ctx)
		return 1;
	b.srv_pid = fork();
	if (b.srv_pid == 0) {
		char ms[16], listen[32], logp[4096];
		int fd;

		snprintf(ms, sizeof(ms), "%d", b.n + 256);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", b.port);
		snprintf(logp, sizeof(logp), "%s/serve.log", b.dir);
		fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		execl(b.authsrv, "authsrv", "serve", "--state", b.dir,
		      "--listen", listen, "--max-sessions", ms, (char *)NULL);
		_exit(127);
	}
	/* Wait until it listens (blocking probes, 5 s at most). */
	for (i = 0; i < 100; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int up;

		sa.sin_addr.s_addr = htonl(0x7f000001);
		sa.sin_port = htons((uint16_t)b.port);
		up = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (fd >= 0)
			close(fd);
		if (up)
			break;
		usleep(50000);
	}
	printf("server pid %d on 127.0.0.1:%d, state %s\n", b.srv_pid, b.port,
	       b.dir);

	/* 2. credentials: cached, or tokens + enrollment over the protocol */
	have = creds_load(&b);
	if (have < b.n) {
		for (i = 0; i < b.n; i++) {
			EVP_PKEY_free(b.h[i].key);
			X509_free(b.h[i].cert);
			b.h[i].key = NULL;
			b.h[i].cert = NULL;
		}
		snprintf(cmd, sizeof(cmd),
			 "%s token create b%ld --count %d --state %s",
			 b.authsrv, (long)time(NULL) % 100000, b.n, b.dir);
		p = popen(cmd, "r");
		for (i = 0; p && i < b.n && fgets(line, sizeof(line), p); i++)
			if (sscanf(line, "%63s %159s", b.h[i].name,
				   b.h[i].token) != 2)
				break;
		if (!p || pclose(p) != 0 || i != b.n) {
			fprintf(stderr, "bench: token create failed\n");
			goto out;
		}
		t0 = now_s();
		have = enroll_all(&b);
		printf("enrolled %d/%d hosts over the protocol in %.1f s (%.0f/s)\n",
		       have, b.n, now_s() - t0, have / (now_s() - t0));
		if (have < b.n)
			goto out;
		creds_save(&b);
	} else {
		printf("reusing %d enrolled hosts from %s/bench-hosts.pem\n",
		       have, b.dir);
	}
	for (i = 0; i < b.n; i++)
		b.h[i].state = H_IDLE;

	/* 3. connect all */
	rss0 = rss_kib(b.srv_pid);
	t0 = now_s();
	while (online < b.n) {
		while (connecting < BENCH_MAX_CONNECTING && next < b.n) {
			struct host *h = &b.h[next];
			int fd = tcp_connect(&b, next);

			next++;
			h->tc = fd >= 0 ? tlsconn_new(b.ctl_ctx, fd, false) : NULL;
			if (!h->tc || SSL_use_certificate(tlsconn_ssl(h->tc), h->cert) != 1 ||
			    SSL_use_PrivateKey(tlsconn_ssl(h->tc), h->key) != 1) {
				h->state = H_FAILED;
				continue;
			}
			/* The handshake starts with the first write/read. */
			tlsconn_handshake(h->tc);
			h->state = H_CONNECTING;
			ep_set(&b, h, true);
			connecting++;
		}
		if (next >= b.n && connecting == 0)
			break;
		k = epoll_wait(b.epfd, evs, 256, 1000);
		if (k == 0 && ++stalls <= 10) {
			/* A lost wakeup in some handshake: poke the laggards. */
			for (i = 0; i < next; i++) {
				struct host *h = &b.h[i];

				if (h->state != H_CONNECTING && h->state != H_HELLO)
					continue;
				host_io(&b, h, &online);
				if (h->state == H_ONLINE || h->state == H_FAILED)
					connecting--;
			}
			continue;
		}
		if (k <= 0) {
			fprintf(stderr, "bench: connect phase stalled at %d online\n",
				online);
			break;
		}
		for (i = 0; i < k; i++) {
			struct host *h = evs[i].data.ptr;
			enum host_state was = h->state;

			host_io(&b, h, &online);
			if (was != H_ONLINE && was != H_FAILED &&
			    (h->state == H_ONLINE || h->state == H_FAILED))
				connecting--;
		}
	}
	t_conn = now_s() - t0;
	rss1 = rss_kib(b.srv_pid);
	printf("connected hosts: %d/%d in %.1f s (%.0f handshakes/s)\n", online,
	       b.n, t_conn, online / t_conn);
	printf("server RSS: %.1f MiB idle, %.1f MiB with %d hosts: %.1f KiB per host\n",
	       rss0 / 1024.0, rss1 / 1024.0, online,
	       online ? (double)(rss1 - rss0) / online : 0);

	/* 4. keys between random pairs */
	t0 = now_s();
	for (i = 0; i < b.inflight && b.sent < b.requests; i++)
		send_key_req(&b);
	while (b.granted + b.denied < b.sent) {
		k = epoll_wait(b.epfd, evs, 256, 10000);
		if (k <= 0) {
			fprintf(stderr, "bench: key phase stalled\n");
			break;
		}
		for (i = 0; i < k; i++)
			host_io(&b, evs[i].data.ptr, &online);
	}
	t_keys = now_s() - t0;
	rss2 = rss_kib(b.srv_pid);
	qsort(b.lat, (size_t)b.nlat, sizeof(double), cmp_d);
	gps = b.granted / t_keys;
	printf("key grants: %d granted, %d denied in %.2f s: %.0f grants/s (%d in flight)\n",
	       b.granted, b.denied, t_keys, gps, b.inflight);
	if (b.nlat)
		printf("grant latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		       b.lat[b.nlat / 2] * 1e3, b.lat[b.nlat * 99 / 100] * 1e3,
		       b.lat[b.nlat - 1] * 1e3);
	printf("server RSS after the key phase: %.1f MiB\n", rss2 / 1024.0);

	/* 5. the same, one request at a time: latency without queueing */
	b.nlat = 0;
	b.requests = b.sent + 2000;
	b.granted = b.denied = 0;
	k = b.sent;
	t0 = now_s();
	send_key_req(&b);
	while (b.granted + b.denied < b.sent - k) {
		int j, e = epoll_wait(b.epfd, evs, 256, 10000);

		if (e <= 0)
			break;
		for (j = 0; j < e; j++)
			host_io(&b, evs[j].data.ptr, &online);
	}
	qsort(b.lat, (size_t)b.nlat, sizeof(double), cmp_d);
	if (b.nlat)
		printf("unloaded (1 in flight, %d grants in %.2f s): p50 %.2f ms, p99 %.2f ms\n",
		       b.nlat, now_s() - t0, b.lat[b.nlat / 2] * 1e3,
		       b.lat[b.nlat * 99 / 100] * 1e3);
	printf("goals: 10000 hosts within 1 GiB RSS: %s; >= 20000 grants/s: %s\n",
	       online >= 10000 && rss1 < 1024 * 1024 ? "met" : "not met",
	       gps >= 20000 ? "met" : "not met");
out:
	for (i = 0; i < b.n; i++) {
		if (b.h[i].tc)
			tlsconn_free(b.h[i].tc);
		EVP_PKEY_free(b.h[i].key);
		X509_free(b.h[i].cert);
	}
	if (b.srv_pid > 0) {
		kill(b.srv_pid, SIGTERM);
		waitpid(b.srv_pid, NULL, 0);
	}
	SSL_CTX_free(b.enroll_ctx);
	SSL_CTX_free(b.ctl_ctx);
	free(b.h);
	free(b.sent_at);
	free(b.lat);
	close(b.epfd);
	return 0;
}
