// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd's DNS server (dns.h): UDP and TCP on the overlay address, answers
 * from the name cache, split-DNS registration with systemd-resolved.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns.h"
#include "mavpn/ctlmsg.h"
#include "mavpn/dnsmsg.h"
#include "mavpn/log.h"
#include "mavpn/util.h"
#include "names.h"

#define DNS_RESOLVED_SOCK	"/run/systemd/resolve/io.systemd.Resolve"

const struct counter_desc dns_desc[DNS__COUNT] = {
#define DNS_DESC(id, name, help) COUNTER_DESC_COUNTER(DNS_##id, name, help)
	DNS_COUNTERS(DNS_DESC)
#undef DNS_DESC
};

enum { DNS_TAG_UDP = 1, DNS_TAG_TCP, DNS_TAG_CONN };	/* + slot */

struct dns_conn {
	int fd;				/* -1: free */
	uint64_t idle_at;		/* ms: closed when reached */
	size_t in_len;
	size_t out_len, out_off;	/* a response still being written */
	uint8_t in[2 + DNS_TCP_QUERY_MAX];
	uint8_t out[2 + DNS_TCP_QUERY_MAX + 64];
};

struct dns {
	int epfd, ufd, tfd;
	uint32_t addr;			/* network order, 0: not listening */
	char state_dir[4096];
	char ifname[16];
	struct names *names;
	struct dnsmsg_zone zone;
	char registered[DNSMSG_DOMAIN_MAX];	/* with resolved, "" none */
	uint64_t cnt[DNS__COUNT];
	unsigned long full_rl, err_rl;	/* log_ratelimited() state */
	struct dns_conn conns[DNS_TCP_CONNS];
};

/* The domain of the last run (the server's word before it answers). */
static void dns_load_domain(struct dns *d)
{
	char path[4200], buf[DNSMSG_DOMAIN_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d->state_dir, DNS_DOMAIN_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (dnsmsg_domain_valid(buf))
		memcpy(d->zone.domain, buf, sizeof(buf));
}

static void dns_store_domain(struct dns *d)
{
	char path[4200], tmp[4300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d->state_dir, DNS_DOMAIN_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f || fprintf(f, "%s\n", d->zone.domain) < 0 || fclose(f) ||
	    rename(tmp, path)) {
		log_warn("dns: cannot keep the domain in %s: %s", path,
			 strerror(errno));
		if (f)
			unlink(tmp);
	}
}

struct dns *dns_new(const char *state_dir, const char *ifname)
{
	struct dns *d = calloc(1, sizeof(*d));
	unsigned int i;

	if (!d)
		return NULL;
	d->ufd = d->tfd = -1;
	for (i = 0; i < DNS_TCP_CONNS; i++)
		d->conns[i].fd = -1;
	snprintf(d->state_dir, sizeof(d->state_dir), "%s", state_dir);
	snprintf(d->ifname, sizeof(d->ifname), "%s", ifname);
	d->names = names_new(NAMES_MAX_DEFAULT);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!d->names || d->epfd < 0) {
		dns_free(d);
		errno = ENOMEM;
		return NULL;
	}
	d->zone.ttl = DNSMSG_TTL_DEFAULT;
	d->zone.lookup = names_lookup;
	d->zone.arg = d->names;
	dns_load_domain(d);
	return d;
}

static void dns_conn_close(struct dns *d, struct dns_conn *c, bool ours)
{
	if (c->fd < 0)
		return;
	close(c->fd);		/* leaves the epoll set with it */
	c->fd = -1;
	if (ours)
		d->cnt[DNS_TCP_CLOSED]++;
}

void dns_free(struct dns *d)
{
	unsigned int i;

	if (!d)
		return;
	for (i = 0; i < DNS_TCP_CONNS; i++)
		dns_conn_close(d, &d->conns[i], false);
	if (d->ufd >= 0)
		close(d->ufd);
	if (d->tfd >= 0)
		close(d->tfd);
	if (d->epfd >= 0)
		close(d->epfd);
	names_free(d->names);
	free(d);
}

int dns_fd(const struct dns *d)
{
	return d->epfd;
}

static int dns_ep(struct dns *d, int op, int fd, uint32_t events,
		  uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(d->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static int dns_socket(int type, uint32_t addr)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(DNS_PORT),
		.sin_addr.s_addr = addr,
	};
	int one = 1, fd, err;

	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, DNS_TCP_CONNS) < 0)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void dns_resolved(struct dns *d);

int dns_listen(struct dns *d, uint32_t addr)
{
	char ip[INET_ADDRSTRLEN];
	int err;

	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	d->ufd = dns_socket(SOCK_DGRAM, addr);
	if (d->ufd < 0) {
		err = d->ufd;
		goto fail;
	}
	d->tfd = dns_socket(SOCK_STREAM, addr);
	if (d->tfd < 0) {
		err = d->tfd;
		goto fail;
	}
	err = dns_ep(d, EPOLL_CTL_ADD, d->ufd, EPOLLIN, DNS_TAG_UDP);
	if (!err)
		err = dns_ep(d, EPOLL_CTL_ADD, d->tfd, EPOLLIN, DNS_TAG_TCP);
	if (err)
		goto fail;
	d->addr = addr;
	log_info("dns: listening addr=%s:%u domain=%s", ip, DNS_PORT,
		 d->zone.domain[0] ? d->zone.domain : "(from the server)");
	dns_resolved(d);
	return 0;

fail:
	log_warn("dns: cannot listen on %s:%u (no DNS names on this host): %s",
		 ip, DNS_PORT, strerror(-err));
	if (d->ufd >= 0)
		close(d->ufd);
	if (d->tfd >= 0)
		close(d->tfd);
	d->ufd = d->tfd = -1;
	return err;
}

/* The rcode of an answer, counted. */
static void dns_count(struct dns *d, const struct dnsmsg_result *r)
{
	if (!r->answered) {
		d->cnt[DNS_DROPPED]++;
		return;
	}
	switch (r->rcode) {
	case DNSMSG_NOERROR: d->cnt[DNS_NOERROR]++; break;
	case DNSMSG_NXDOMAIN: d->cnt[DNS_NXDOMAIN]++; break;
	case DNSMSG_REFUSED: d->cnt[DNS_REFUSED]++; break;
	case DNSMSG_FORMERR: d->cnt[DNS_FORMERR]++; break;
	default: d->cnt[DNS_OTHER]++; break;
	}
	if (r->truncated)
		d->cnt[DNS_TRUNCATED]++;
}

/* The zone as it stands: no domain yet means nothing is ours. */
static size_t dns_answer(struct dns *d, const uint8_t *q, size_t qlen,
			 bool udp, uint8_t *out, size_t cap)
{
	struct dnsmsg_result r;
	size_t n;

	if (!d->zone.domain[0]) {
		/* Not even the domain is known (first run, server not
		 * reached yet): every name is someone else's. */
		struct dnsmsg_zone z = d->zone;

		strcpy(z.domain, "invalid");
		z.ready = false;
		n = dnsmsg_respond(q, qlen, &z, udp, out, cap, &r);
	} else {
		n = dnsmsg_respond(q, qlen, &d->zone, udp, out, cap, &r);
	}
	dns_count(d, &r);
	return n;
}

static void dns_udp(struct dns *d)
{
	uint8_t q[DNSMSG_UDP_MAX * 8], out[DNSMSG_UDP_MAX];
	struct sockaddr_storage from;
	socklen_t flen;
	unsigned int i;
	ssize_t n;
	size_t len;

	for (i = 0; i < DNS_UDP_BATCH; i++) {
		flen = sizeof(from);
		n = recvfrom(d->ufd, q, sizeof(q), MSG_TRUNC,
			     (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				if (log_ratelimited(&d->err_rl))
					log_warn("dns: udp recv: %s",
						 strerror(errno));
			return;
		}
		d->cnt[DNS_QUERIES_UDP]++;
		if ((size_t)n > sizeof(q)) {	/* no query is this big */
			d->cnt[DNS_DROPPED]++;
			continue;
		}
		len = dns_answer(d, q, n, true, out, sizeof(out));
		if (len && sendto(d->ufd, out, len, MSG_DONTWAIT,
				  (struct sockaddr *)&from, flen) < 0 &&
		    log_ratelimited(&d->err_rl))
			log_warn("dns: udp send: %s", strerror(errno));
	}
}

static void dns_accept(struct dns *d)
{
	struct dns_conn *c = NULL;
	unsigned int i;
	int fd;

	for (;;) {
		fd = accept4(d->tfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		for (i = 0, c = NULL; i < DNS_TCP_CONNS && !c; i++)
			if (d->conns[i].fd < 0)
				c = &d->conns[i];
		if (!c || dns_ep(d, EPOLL_CTL_ADD, fd, EPOLLIN,
				 DNS_TAG_CONN + (c - d->conns))) {
			close(fd);
			d->cnt[DNS_TCP_REFUSED]++;
			if (log_ratelimited(&d->full_rl))
				log_warn("dns: tcp connection refused: %u open",
					 DNS_TCP_CONNS);
			continue;
		}
		c->fd = fd;
		c->in_len = c->out_len = c->out_off = 0;
		c->idle_at = mono_ms() + DNS_TCP_IDLE_MS;
	}
}

/* Write what is pending. 0: all out; -EAGAIN: wait for EPOLLOUT; other:
 * the connection is done for. */
static int dns_conn_flush(struct dns *d, struct dns_conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		c->out_off += n;
	}
	if (c->out_off < c->out_len) {
		dns_ep(d, EPOLL_CTL_MOD, c->fd, EPOLLOUT,
		       DNS_TAG_CONN + (c - d->conns));
		return -EAGAIN;
	}
	c->out_len = c->out_off = 0;
	dns_ep(d, EPOLL_CTL_MOD, c->fd, EPOLLIN, DNS_TAG_CONN + (c - d->conns));
	return 0;
}

/* Answer every whole query in the input, one at a time. */
static int dns_conn_queries(struct dns *d, struct dns_conn *c)
{
	size_t qlen, n;
	int err;

	while (c->out_len == 0 && c->in_len >= 2) {
		qlen = get_be16(c->in);
		if (qlen > DNS_TCP_QUERY_MAX)
			return -EMSGSIZE;
		if (c->in_len < 2 + qlen)
			break;
		d->cnt[DNS_QUERIES_TCP]++;
		n = dns_answer(d, c->in + 2, qlen, false, c->out + 2,
			       sizeof(c->out) - 2);
		memmove(c->in, c->in + 2 + qlen, c->in_len - 2 - qlen);
		c->in_len -= 2 + qlen;
		if (!n)
			return -EBADMSG;	/* nothing to say: hang up */
		put_be16(c->out, n);
		c->out_len = 2 + n;
		c->out_off = 0;
		c->idle_at = mono_ms() + DNS_TCP_IDLE_MS;
		err = dns_conn_flush(d, c);
		if (err)
			return err == -EAGAIN ? 0 : err;
	}
	return 0;
}

static void dns_conn_io(struct dns *d, struct dns_conn *c, uint32_t events)
{
	ssize_t n;
	int err;

	if (c->fd < 0)
		return;
	if (c->out_len) {
		err = dns_conn_flush(d, c);
		if (err == -EAGAIN)
			return;
		if (err)
			goto close;
		/* Pipelined queries that waited behind that answer. */
		err = dns_conn_queries(d, c);
		if (err)
			goto close;
		if (c->out_len)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLOUT)))
		return;
	for (;;) {
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
			 MSG_DONTWAIT);
		if (n == 0) {
			dns_conn_close(d, c, false);	/* the client is done */
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				goto close;
			break;
		}
		c->in_len += n;
		err = dns_conn_queries(d, c);
		if (err)
			goto close;
		if (c->out_len || c->in_len == sizeof(c->in))
			break;		/* reading resumes once written */
	}
	return;
close:
	dns_conn_close(d, c, true);
}

void dns_process(struct dns *d)
{
	struct epoll_event evs[16];
	int i, n;
	uint64_t tag;

	n = epoll_wait(d->epfd, evs, 16, 0);
	for (i = 0; i < n; i++) {
		tag = evs[i].data.u64;
		if (tag == DNS_TAG_UDP)
			dns_udp(d);
		else if (tag == DNS_TAG_TCP)
			dns_accept(d);
		else if (tag >= DNS_TAG_CONN &&
			 tag < DNS_TAG_CONN + DNS_TCP_CONNS)
			dns_conn_io(d, &d->conns[tag - DNS_TAG_CONN],
				    evs[i].events);
	}
}

void dns_tick(struct dns *d, uint64_t now_ms)
{
	unsigned int i;

	for (i = 0; i < DNS_TCP_CONNS; i++)
		if (d->conns[i].fd >= 0 && now_ms >= d->conns[i].idle_at)
			dns_conn_close(d, &d->conns[i], true);
}

/* ---- split DNS with systemd-resolved ---- */

/* resolved is ours only if it serves our network namespace, and running
 * if its varlink socket accepts (connecting does not start it, unlike a
 * D-Bus call); the listener's credentials name its process, whose network
 * namespace must be ours (links are per namespace: "mavpn0" elsewhere is
 * another link). */
static const char *dns_resolved_absent(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat self, them;
	struct ucred uc = { 0 };
	socklen_t ulen = sizeof(uc);
	char path[64];
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return "no socket";
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", DNS_RESOLVED_SOCK);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (!ret)
		ret = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen);
	close(fd);
	if (ret)
		return "systemd-resolved is not running";
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)uc.pid);
	if (uc.pid <= 0 || stat("/proc/self/ns/net", &self) || stat(path, &them))
		return "cannot tell systemd-resolved's network namespace";
	if (self.st_ino != them.st_ino || self.st_dev != them.st_dev)
		return "systemd-resolved serves another network namespace";
	return NULL;
}

/* Run resolvectl with @argv; 0 if it exited 0. */
static int dns_resolvectl(char *const argv[])
{
	int status, fd;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp("resolvectl", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static void dns_resolved(struct dns *d)
{
	char ip[32], dom[DNSMSG_DOMAIN_MAX + 1];
	const char *why;

	if (!d->addr || !d->zone.domain[0] ||
	    !strcmp(d->registered, d->zone.domain))
		return;
	why = dns_resolved_absent();
	if (why) {
		log_info("dns: split DNS not registered (%s): point a resolver at %s for %s",
			 why, dns_listen_addr(d, ip, sizeof(ip)),
			 d->zone.domain);
		snprintf(d->registered, sizeof(d->registered), "%s",
			 d->zone.domain);	/* once per domain */
		return;
	}
	inet_ntop(AF_INET, &d->addr, ip, sizeof(ip));
	snprintf(dom, sizeof(dom), "~%s", d->zone.domain);
	if (dns_resolvectl((char *[]){ "resolvectl", "dns", d->ifname, ip,
				       NULL }) ||
	    dns_resolvectl((char *[]){ "resolvectl", "domain", d->ifname, dom,
				       NULL })) {
		log_warn("dns: resolvectl failed: split DNS for %s not registered on %s",
			 d->zone.domain, d->ifname);
	} else {
		log_info("dns: registered with systemd-resolved link=%s dns=%s domain=%s",
			 d->ifname, ip, dom);
	}
	snprintf(d->registered, sizeof(d->registered), "%s", d->zone.domain);
}

/* ---- the name list from the server ---- */

void dns_on_chan_msg(struct dns *d, const struct ctlmsg *m)
{
	char ip[INET_ADDRSTRLEN];
	unsigned int n;
	int err;

	switch (m->type) {
	case CTLMSG_HELLO_ACK:
		names_begin(d->names);
		if (!(m->present & CTLA_BIT(CTLA_DOMAIN)))
			break;		/* a server from before names */
		if (!dnsmsg_domain_valid(m->domain)) {
			log_warn("dns: server sent an invalid domain \"%s\"",
				 m->domain);
			break;
		}
		if (strcmp(m->domain, d->zone.domain)) {
			log_info("dns: domain %s (was %s)", m->domain,
				 d->zone.domain[0] ? d->zone.domain : "unset");
			snprintf(d->zone.domain, sizeof(d->zone.domain), "%s",
				 m->domain);
			dns_store_domain(d);
		}
		dns_resolved(d);
		break;
	case CTLMSG_NAME_ADD:
		err = names_add(d->names, m->name,
				(m->present & CTLA_BIT(CTLA_OVERLAY_IP)) ?
				m->overlay_ip : 0);
		if (err == -ENOSPC) {
			d->cnt[DNS_NAMES_FULL]++;
			if (log_ratelimited(&d->full_rl))
				log_warn("dns: name cache full (%u): %s not cached",
					 names_count(d->names), m->name);
		} else if (err) {
			log_warn("dns: server sent an invalid name \"%s\"",
				 m->name);
		} else {
			log_debug("dns: name %s -> %s", m->name,
				  inet_ntop(AF_INET, &m->overlay_ip, ip,
					    sizeof(ip)));
		}
		break;
	case CTLMSG_NAME_DEL:
		if (!names_del(d->names, m->name))
			log_info("dns: name %s removed", m->name);
		break;
	case CTLMSG_NAMES_END:
		n = names_end(d->names);
		d->zone.ready = true;
		log_info("dns: %u names (%u dropped)", names_count(d->names), n);
		break;
	}
}

const char *dns_domain(const struct dns *d)
{
	return d->zone.domain;
}

const char *dns_listen_addr(const struct dns *d, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	if (!d->addr) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	inet_ntop(AF_INET, &d->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, DNS_PORT);
	return buf;
}

unsigned int dns_names(const struct dns *d)
{
	return names_count(d->names);
}

const uint64_t *dns_counters(const struct dns *d)
{
	return d->cnt;
}
