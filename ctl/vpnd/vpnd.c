// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnd: the per-host daemon.
 *
 *   vpnd enroll --state DIR --server HOST:PORT (--token TOKEN | --token-file FILE|-)
 *   vpnd run    --state DIR [--iface IFACE] [--sock PATH] [--workers N]
 *               [--port UDP_PORT]
 *
 * run is one thread of control around one epoll set: the control channel
 * (chan.c), the socket shim's ring buffer (shim.c), the data plane's "need a
 * key" eventfd, the local control socket (lib/linesock.c), a 250 ms timer and a
 * signalfd. The AF_XDP workers are the data plane's own threads.
 *
 * Flows and keys: keys.c; control-socket verbs: verbs.c. Once set up,
 * vpnd keeps only the capabilities its loop needs (VPND_CAPS_RUN).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "caps.h"
#include "mavpn/cli.h"
#include "mavpn/ctlproto.h"
#include "mavpn/datapath.h"
#include "mavpn/linesock.h"
#include "mavpn/log.h"
#include "mavpn/promhttp.h"
#include "mavpn/util.h"
#include "mavpn/wire.h"
#include "chan.h"
#include "enroll.h"
#include "flowlog.h"
#include "gw.h"
#include "route.h"
#include "shim.h"
#include "state.h"
#include "keys.h"
#include "verbs.h"
#include "vpnd.h"

#define VPND_BPFFS		"/sys/fs/bpf"
#define VPND_TICK_MS		250
/* In --state: the cgroups attached, re-attached on the next start. */
#define VPND_ATTACHED_FILE	"attached"

/*
 * Capabilities kept after setup (docs/vpnd.md "Capabilities"): rtnetlink
 * changes (gateway routes, blackholes; at stop the overlay link and XDP
 * detach) and bpf(2) itself (attach/detach: cgroup links and map updates;
 * counters). Loading programs, AF_XDP sockets, umem and bpffs were setup.
 */
#define VPND_CAPS_RUN		(CAPS_BIT(CAP_NET_ADMIN) | CAPS_BIT(CAP_BPF))
/* ... plus this while libxdp's dispatcher holds our XDP programs: it is
 * read back by program id to detach them (BPF_PROG_GET_FD_BY_ID). */
#define VPND_CAPS_DISPATCHER	CAPS_BIT(CAP_SYS_ADMIN)
/* The data-plane workers: next-hop resolution (see struct dp_config). */
#define VPND_CAPS_WORKER	CAPS_BIT(CAP_NET_ADMIN)

enum { EV_CHAN = 1, EV_SHIM, EV_DPREQ, EV_CTLSOCK, EV_TIMER, EV_SIGNAL,
       EV_METRICS, EV_DNS, EV_ROUTE };

/* ---- logging ----------------------------------------------------------- */

/* libbpf and libxdp print through process-wide callbacks: vpnd sets both
 * once, before any BPF use (vpnd_log_libs). Debug output is dropped. */
static void vpnd_lib_log(enum log_level lvl, const char *lib, const char *fmt,
			 va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_msg(lvl, "%s: %s", lib, line);
}

static int vpnd_libbpf_log(enum libbpf_print_level lvl, const char *fmt,
			   va_list ap)
{
	if (lvl != LIBBPF_DEBUG)
		vpnd_lib_log(lvl == LIBBPF_WARN ? LOG_LVL_WARN : LOG_LVL_INFO,
			     "libbpf", fmt, ap);
	return 0;
}

static int vpnd_libxdp_log(enum libxdp_print_level lvl, const char *fmt,
			   va_list ap)
{
	if (lvl != LIBXDP_DEBUG)
		vpnd_lib_log(lvl == LIBXDP_WARN ? LOG_LVL_WARN : LOG_LVL_INFO,
			     "libxdp", fmt, ap);
	return 0;
}

static void vpnd_log_libs(void)
{
	libbpf_set_print(vpnd_libbpf_log);
	libxdp_set_print(vpnd_libxdp_log);
}

/* ---- setup and loop ---------------------------------------------------- */

static int mount_bpffs(void)
{
	struct statfs sfs;

	if (statfs(VPND_BPFFS, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", VPND_BPFFS, "bpf", 0, "mode=0700") < 0) {
		log_err("run: cannot mount bpffs at %s: %s", VPND_BPFFS,
			strerror(errno));
		return -errno;
	}
	log_info("run: mounted bpffs at %s", VPND_BPFFS);
	return 0;
}

struct dp_peer_stats *vpnd_peers(struct vpnd *v, int *n)
{
	struct dp_peer_stats *p = malloc(sizeof(*p) * DP_MAX_PEERS);

	*n = p ? datapath_peer_stats(v->dp, p, DP_MAX_PEERS) : 0;
	return p;
}

static int ep_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void on_tick(struct vpnd *v)
{
	uint64_t now = mono_ms(), exp;

	if (read(v->tfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		log_warn("run: timerfd: %s", strerror(errno));
	chan_tick(v->ch, now);
	linesock_tick(v->cs, now);
	promhttp_tick(v->metrics);
	keys_flow_expire(v, now);
	keys_renew_tick(v, now);
	keys_disco_tick(v);
	verbs_resolve_expire(v, now);
	dns_tick(v->dns, now);
}

/*
 * Without --iface the underlay is the interface of the default route
 * (nl_route_default). 0, or -errno after one log line.
 */
static int vpnd_pick_iface(struct vpnd *v)
{
	struct nl nl = { .fd = -1 };
	int err, oif = 0;

	if (!v->follow) {
		snprintf(v->iface, sizeof(v->iface), "%s", v->o->iface);
		v->ul_ifindex = (int)if_nametoindex(v->iface);
		return 0;
	}
	err = nl_open(&nl);
	if (!err)
		err = nl_route_default(&nl, AF_INET, &oif);
	nl_close(&nl);
	if (err || !if_indextoname((unsigned int)oif, v->iface)) {
		log_err("run: no --iface and no IPv4 default route to take the underlay from");
		return err ? err : -ENODEV;
	}
	v->ul_ifindex = oif;
	log_info("run: underlay iface=%s (the default route's; followed)",
		 v->iface);
	return nl_open_events(&v->nl_route, RTMGRP_IPV4_ROUTE);
}

/*
 * Route events while following the default route: when it moves to
 * another interface, stop (exit status VPND_EXIT_MOVED) so that the
 * service manager starts vpnd again on it. The data plane cannot move in
 * place: it dropped the capabilities that attaching XDP and loading the
 * programs for another interface need; the pinned enforcement keeps
 * refusing unattached traffic meanwhile, and peers' keys are asked again.
 */
static void vpnd_nl_ignore(void *arg, const struct nlmsghdr *h)
{
	(void)arg;
	(void)h;
}

static void vpnd_route_events(struct vpnd *v)
{
	char name[IF_NAMESIZE] = "";
	struct nl nl = { .fd = -1 };
	int oif = 0, err;

	nl_events(&v->nl_route, vpnd_nl_ignore, NULL);
	err = nl_open(&nl);
	if (!err)
		err = nl_route_default(&nl, AF_INET, &oif);
	nl_close(&nl);
	if (err || oif == v->ul_ifindex)
		return;		/* no default route for now: keep ours */
	if_indextoname((unsigned int)oif, name);
	log_warn("run: the default route moved to iface=%s (underlay iface=%s): stopping for a restart on it",
		 name, v->iface);
	v->moved = true;
	v->stop = true;
}

static void vpnd_loop(struct vpnd *v)
{
	struct signalfd_siginfo si;
	struct epoll_event evs[16];
	int i, n;

	/* First connection attempt right away, not after the first tick. */
	chan_tick(v->ch, mono_ms());
	while (!v->stop) {
		n = epoll_wait(v->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("run: epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EV_CHAN:
				chan_process(v->ch);
				break;
			case EV_SHIM:
				shim_poll(v->shim);
				break;
			case EV_DPREQ:
				keys_dp_requests(v);
				break;
			case EV_CTLSOCK:
				linesock_process(v->cs);
				break;
			case EV_METRICS:
				promhttp_process(v->metrics);
				break;
			case EV_DNS:
				dns_process(v->dns);
				break;
			case EV_ROUTE:
				vpnd_route_events(v);
				break;
			case EV_TIMER:
				on_tick(v);
				break;
			case EV_SIGNAL:
				if (read(v->sfd, &si, sizeof(si)) ==
				    sizeof(si)) {
					log_info("run: signal %u, stopping",
						 si.ssi_signo);
					v->stop = true;
				}
				break;
			}
		}
	}
}

/*
 * The data plane and the shim need CAP_NET_ADMIN (interfaces, XDP, routes)
 * and CAP_BPF or CAP_SYS_ADMIN (loading programs, cgroup links). Say so in
 * one line up front rather than fail half-way through setup with EPERM.
 */
static int check_privileges(void)
{
	uint64_t eff;
	int err = caps_effective(&eff);

	if (err)
		return err;
	if (!(eff & CAPS_BIT(CAP_NET_ADMIN)) ||
	    !(eff & (CAPS_BIT(CAP_BPF) | CAPS_BIT(CAP_SYS_ADMIN)))) {
		log_err("run: missing privileges: needs CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN); run as root");
		return -EPERM;
	}
	return 0;
}

/* dp_config.worker_init: each data-plane thread limits itself. */
static int vpnd_worker_init(void *arg)
{
	(void)arg;
	return caps_limit(VPND_CAPS_WORKER);
}

/* The last step of setup: keep only what the loop needs. */
static int vpnd_drop_caps(struct vpnd *v)
{
	uint64_t keep = VPND_CAPS_RUN;
	int err;

	if (datapath_xdp_dispatcher(v->dp))
		keep |= VPND_CAPS_DISPATCHER;
	err = caps_limit(keep);
	if (err)
		log_err("run: cannot drop capabilities: %s", strerror(-err));
	return err;
}

/* struct vpnd with its flow log and the enrolled state; NULL with errno
 * set (logged). */
static struct vpnd *vpnd_new(const struct vpnd_opts *o)
{
	struct vpnd *v;
	int err = -ENOMEM;

	v = calloc(1, sizeof(*v));
	if (!v)
		goto err_out;
	v->o = o;
	v->sfd = v->tfd = v->epfd = -1;
	v->nl_route.fd = -1;
	v->follow = !o->iface;
	v->fl = flowlog_new();
	if (!v->fl)
		goto err_free;
	err = state_load(&v->st, o->state_dir);
	if (err) {
		if (err == -ENOENT)
			log_err("run: \"%s\" holds no enrollment (run vpnd enroll first)",
				o->state_dir);
		else
			log_err("run: cannot load state \"%s\": %s",
				o->state_dir, strerror(-err));
		goto err_fl;
	}
	v->mask = prefix_mask4(v->st.overlay_plen);
	v->net = v->st.overlay_ip & v->mask;
	snprintf(v->attached_file, sizeof(v->attached_file), "%s/%s",
		 o->state_dir, VPND_ATTACHED_FILE);
	return v;

err_fl:
	flowlog_free(v->fl);
err_free:
	free(v);
err_out:
	errno = -err;
	return NULL;
}

static void vpnd_free(struct vpnd *v)
{
	flowlog_free(v->fl);
	free(v);
}

/* SIGINT and SIGTERM through a signalfd, blocked first: one during setup
 * still unwinds cleanly. 0 or -errno. */
static int vpnd_signals(struct vpnd *v)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	v->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return v->sfd < 0 ? -errno : 0;
}

/* The data plane on --iface for our overlay address. 0 or -errno. */
static int vpnd_datapath_start(struct vpnd *v)
{
	struct dp_config dc = {
		.underlay_ifname = v->iface,
		.overlay_ifname = VPND_OVERLAY_IFNAME,
		.port = v->o->port,
		.workers = v->o->workers,
		.xdp_mode = v->o->xdp_mode,
		.busy_poll_us = v->o->busy_poll_us,
		.overlay_ip = v->st.overlay_ip,
		.overlay_plen = v->st.overlay_plen,
		.worker_init = vpnd_worker_init,
		.keepalive_s = v->o->keepalive_s,
	};

	v->dp = datapath_start(&dc);
	if (!v->dp) {
		log_err("run: data plane failed to start on iface=%s",
			v->iface);
		return errno ? -errno : -EIO;
	}
	return 0;
}

static void vpnd_loop_close(struct vpnd *v)
{
	promhttp_close(v->metrics);
	v->metrics = NULL;
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->tfd >= 0)
		close(v->tfd);
	v->epfd = v->tfd = -1;
}

/* The tick timer and the epoll set of every source, with the metrics
 * listener if asked for. 0 or -errno (logged). */
static int vpnd_loop_open(struct vpnd *v)
{
	struct itimerspec its = {
		.it_interval = { 0, VPND_TICK_MS * 1000000L },
		.it_value = { 0, VPND_TICK_MS * 1000000L },
	};
	const char *m = v->o->metrics;
	int err;

	v->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (v->tfd < 0 || v->epfd < 0 ||
	    timerfd_settime(v->tfd, 0, &its, NULL) < 0) {
		err = -errno;
		log_err("run: timer: %s", strerror(-err));
		goto err_close;
	}
	err = ep_add(v->epfd, chan_fd(v->ch), EV_CHAN);
	if (!err && v->follow)
		err = ep_add(v->epfd, v->nl_route.fd, EV_ROUTE);
	if (!err)
		err = ep_add(v->epfd, shim_fd(v->shim), EV_SHIM);
	if (!err)
		err = ep_add(v->epfd, datapath_request_fd(v->dp), EV_DPREQ);
	if (!err)
		err = ep_add(v->epfd, linesock_fd(v->cs), EV_CTLSOCK);
	if (!err)
		err = ep_add(v->epfd, v->tfd, EV_TIMER);
	if (!err)
		err = ep_add(v->epfd, v->sfd, EV_SIGNAL);
	if (!err)
		err = ep_add(v->epfd, dns_fd(v->dns), EV_DNS);
	if (err) {
		log_err("run: epoll: %s", strerror(-err));
		goto err_close;
	}
	if (!m)
		return 0;
	v->metrics = promhttp_open(m, verbs_metrics_render, v);
	err = v->metrics ? ep_add(v->epfd, promhttp_fd(v->metrics),
				  EV_METRICS) : -errno;
	if (err) {
		log_err("run: cannot serve metrics on \"%s\": %s", m,
			err == -EINVAL ? "expected IPV4-ADDRESS:PORT" :
			strerror(-err));
		goto err_close;
	}
	return 0;

err_close:
	vpnd_loop_close(v);
	return err;
}

/*
 * The control socket (protocol: mavpn/ctlproto.h). NULL with errno and one
 * line logged; EADDRINUSE if another vpnd answers on @path.
 */
static struct linesock *ctl_open(struct vpnd *v, const char *path)
{
	struct linesock_cfg cfg = {
		.path = path,
		.mode = CTLPROTO_MODE,
		.mkdir = true,
		.line_max = CTLPROTO_LINE_MAX,
		.read_ms = CTLPROTO_READ_MS,
		.write_ms = CTLPROTO_WRITE_MS,
		.flag = CTLPROTO_JSON_FLAG,
		.fn = verbs_on_request,
		.arg = v,
	};
	struct linesock *ls = linesock_open(&cfg);
	int err = errno;

	if (ls)
		return ls;
	if (err == EADDRINUSE)
		log_err("ctlsock: another vpnd answers on path=\"%s\"", path);
	else
		log_err("ctlsock: cannot listen on path=\"%s\": %s", path,
			strerror(err));
	errno = err;
	return NULL;
}

static int vpnd_run(const struct vpnd_opts *o)
{
	struct chan_ops ops = { .msg = keys_on_chan_msg,
				.link = keys_on_chan_link };
	char ip[INET_ADDRSTRLEN];
	struct dp_stats ds;
	struct gw_changes ch;
	struct vpnd *v;
	int err, i;

	err = check_privileges();
	if (err)
		return err;
	v = vpnd_new(o);
	if (!v)
		return -errno;
	err = vpnd_signals(v);
	if (err)
		goto err_free;
	err = vpnd_pick_iface(v);
	if (err)
		goto err_sfd;
	/* Before the data plane: a second vpnd on the same socket must not
	 * get as far as touching the first one's interfaces. */
	v->cs = ctl_open(v, o->sock_path);
	if (!v->cs) {
		err = -errno;
		goto err_sfd;
	}
	err = mount_bpffs();
	if (err)
		goto err_cs;
	/* Enforcement before the data plane: from the moment mavpn0 can
	 * carry anything, unattached processes are refused (and a restart
	 * replaces the pinned programs of the last run without a gap). */
	v->shim = shim_open(v->net, v->st.overlay_plen, v->st.overlay_ip,
			    keys_on_shim_event, v);
	if (!v->shim) {
		err = -errno;
		goto err_cs;
	}
	err = vpnd_datapath_start(v);
	if (err)
		goto err_shim;
	err = shim_set_overlay(v->shim, VPND_OVERLAY_IFNAME);
	if (err)
		goto err_dp;
	err = shim_restore(v->shim, v->attached_file);
	if (err < 0)
		log_warn("run: cannot read %s: %s", v->attached_file,
			 strerror(-err));
	/* Routes of the last run before the server answers: a LAN prefix
	 * must reach mavpn0 (and be dropped there), never the default. */
	v->rt = route_open(VPND_OVERLAY_IFNAME, v->st.overlay_ip,
			   v->st.overlay_plen, v->shim, v->dp);
	if (!v->rt) {
		err = -errno;
		goto err_dp;
	}
	v->gw = gw_new(o->state_dir, v->st.overlay_ip, &ch);
	if (!v->gw) {
		err = -ENOMEM;
		goto err_gw;
	}
	route_apply(v->rt, v->gw, &ch);
	/* Port 53 on the overlay address (mavpn0 has it now) while we may
	 * still bind it; without it vpnd runs on, names unanswered. */
	v->dns = dns_new(o->state_dir, VPND_OVERLAY_IFNAME);
	if (!v->dns) {
		err = -ENOMEM;
		goto err_gw;
	}
	dns_listen(v->dns, v->st.overlay_ip);
	v->ch = chan_new(&v->st, o->port, &ops, v);
	if (!v->ch) {
		err = -errno;
		goto err_dns;
	}
	chan_set_iface(v->ch, v->iface);
	err = vpnd_loop_open(v);
	if (err)
		goto err_ch;
	err = vpnd_drop_caps(v);
	if (err)
		goto err_loop;

	datapath_stats(v->dp, &ds);
	log_info("run: up name=%s overlay_ip=%s/%u iface=%s port=%u workers=%d sock=%s server=%s",
		 v->st.name, vpnd_ip4(v->st.overlay_ip, ip), v->st.overlay_plen,
		 v->iface, o->port, ds.workers, o->sock_path, v->st.server);
	vpnd_loop(v);
	err = v->moved ? VPND_EXIT_MOVED : 0;

	/* Answer whoever still waits before the socket goes away. */
	for (i = 0; i < VPND_MAX_RESOLVES; i++)
		if (v->resolves[i].req)
			linesock_reply_err(v->resolves[i].req,
					   "vpnd is shutting down");
err_loop:
	vpnd_loop_close(v);
err_ch:
	chan_free(v->ch);
err_dns:
	dns_free(v->dns);
err_gw:
	route_close(v->rt, v->gw);
	gw_free(v->gw);
err_dp:
	datapath_stop(v->dp);
err_shim:
	shim_close(v->shim);
err_cs:
	linesock_close(v->cs);
err_sfd:
	close(v->sfd);
	nl_close(&v->nl_route);
err_free:
	vpnd_free(v);
	return err;
}

/* ---- command line ------------------------------------------------------ */

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: vpnd enroll --state DIR --server HOST:PORT[,HOST:PORT...]\n"
		"                   (--token TOKEN | --token-file FILE|-)\n"
		"       vpnd run --state DIR [--iface UNDERLAY_IFACE] [--sock PATH]\n"
		"                [--workers N] [--port UDP_PORT] [--metrics ADDR:PORT]\n"
		"                [--xdp-mode auto|copy|zerocopy] [--busy-poll USEC]\n"
		"       vpnd COMMAND --help\n");
}

static void usage_enroll(FILE *f)
{
	fprintf(f,
		"usage: vpnd enroll --state DIR --server HOST:PORT[,HOST:PORT...]\n"
		"                   (--token TOKEN | --token-file FILE|-)\n"
		"\n"
		"Enroll this host with authsrv using a one-time token. Creates in DIR:\n"
		"host.key (0600), host.pem, ca.pem and host.conf. Refuses if DIR is\n"
		"already enrolled. The token pins the server's CA certificate.\n"
		"  --server LIST        up to 8 replicas of one authsrv, tried in\n"
		"                       order (enrollment, and vpnd run's failover)\n"
		"  --token TOKEN        the token on the command line (visible to\n"
		"                       every local user in /proc/PID/cmdline)\n"
		"  --token-file FILE|-  read the token from FILE, or stdin for -\n"
		"                       (first line; surrounding blanks ignored)\n"
		"  -v, --verbose        log TLS details\n");
}

static void usage_run(FILE *f)
{
	fprintf(f,
		"usage: vpnd run --state DIR [--iface UNDERLAY_IFACE] [--sock PATH]\n"
		"                [--workers N] [--port UDP_PORT] [--metrics ADDR:PORT]\n"
		"                [--xdp-mode auto|copy|zerocopy] [--busy-poll USEC]\n"
		"                [--keepalive SECONDS]\n"
		"\n"
		"Run the daemon in the foreground until SIGINT/SIGTERM.\n"
		"  --state DIR       enrolled state directory\n"
		"  --iface IFACE     underlay interface (encrypted traffic); without it (or\n"
		"                    \"default\") the default route's interface: when the\n"
		"                    default route moves to another one, vpnd exits with\n"
		"                    status 75 to be started again on it\n"
		"  --sock PATH       control socket (default %s)\n"
		"  --workers N       data-plane workers (default: min(online CPUs, underlay\n"
		"                    rx queues))\n"
		"  --port PORT       UDP port for encrypted traffic (default %u)\n"
		"  --xdp-mode MODE   AF_XDP on the underlay: auto (zero copy where the\n"
		"                    driver has it, else copy; default), copy, zerocopy\n"
		"                    (fail if the driver cannot)\n"
		"  --busy-poll USEC  kernel busy polling on the AF_XDP sockets: a worker\n"
		"                    with nothing to do polls the NIC for up to USEC\n"
		"                    microseconds before it sleeps (0..1000, default 0:\n"
		"                    off; costs CPU, see docs/performance.md)\n"
		"  --keepalive SECONDS  keepalive to active peers and endpoint discovery\n"
		"                    refresh, keeps NAT mappings open (default %u)\n"
		"  --metrics ADDR:PORT  serve Prometheus metrics on http://ADDR:PORT/metrics\n"
		"                    (off by default; use a local address)\n"
		"  -v, --verbose     debug logging\n",
		CTLPROTO_PATH_DEFAULT, MAVPN_UDP_PORT_DEFAULT,
		DP_KEEPALIVE_DEFAULT_S);
}

/*
 * --token-file: the token's first line from @path ("-": stdin) into @buf,
 * blanks around it dropped. 0 or -errno (-EINVAL: empty or too long).
 */
static int read_token_file(const char *path, char *buf, size_t size)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t n, i = 0;
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, size, f))
		err = ferror(f) ? -EIO : -EINVAL;
	else if (!strchr(buf, '\n') && !feof(f))
		err = -EINVAL;		/* longer than any token */
	if (f != stdin)
		fclose(f);
	if (err) {
		explicit_bzero(buf, size);
		return err;
	}
	n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	while (isspace((unsigned char)buf[i]))
		i++;
	memmove(buf, buf + i, n - i + 1);
	return buf[0] ? 0 : -EINVAL;
}

static int cmd_enroll(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "server", required_argument, NULL, 'S' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dir = NULL, *server = NULL, *token = NULL, *tfile = NULL;
	char tbuf[512];
	enum log_level lvl = LOG_LVL_ERR;
	struct enroll_token t;
	int c, err;

	while ((c = cli_getopt(cli, argc, argv, "hv", opts)) != -1) {
		switch (c) {
		case 's': dir = optarg; break;
		case 'S': server = optarg; break;
		case 't': token = optarg; break;
		case 'T': tfile = optarg; break;
		case 'v': lvl = LOG_LVL_DEBUG; break;
		case 'h': usage_enroll(stdout); return 0;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(cli, argc, argv))
		return CLI_EXIT_USAGE;
	if (!dir)
		return cli_usage_fail(cli, "missing --state DIR");
	if (!server)
		return cli_usage_fail(cli, "missing --server HOST:PORT");
	if (token && tfile)
		return cli_usage_fail(cli, "--token and --token-file exclude each other");
	if (!token && !tfile)
		return cli_usage_fail(cli, "missing --token TOKEN or --token-file FILE|-");
	if (tfile) {
		err = read_token_file(tfile, tbuf, sizeof(tbuf));
		if (err == -EINVAL)
			return cli_fail(cli, CLI_EXIT_USAGE,
					"--token-file %s: no token in it (one line expected)",
					tfile);
		if (err)
			return cli_fail(cli, 1, "--token-file %s: %s", tfile,
					strerror(-err));
		token = tbuf;
	}
	/* Malformed input is a usage error (2), found before any file or
	 * socket is touched. The token is a secret: never echoed. */
	if (enroll_parse_token(token, &t))
		return cli_fail(cli, CLI_EXIT_USAGE,
				"malformed --token (expected %s.<id>.<secret>.<ca-sha256>)",
				ENROLL_TOKEN_PREFIX);
	if (strlen(server) >= STATE_SERVER_MAX || state_server_count(server) < 0)
		return cli_fail(cli, CLI_EXIT_USAGE,
				"bad --server \"%s\" (expected HOST:PORT[,HOST:PORT...], at most %d)",
				server, STATE_SERVERS_MAX);
	log_init("vpnd", lvl);
	/* tlsconn writes with write(2): a closed peer must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	err = enroll_run(dir, server, token) ? 1 : 0;
	explicit_bzero(tbuf, sizeof(tbuf));
	return err;
}

static int cmd_run(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "iface", required_argument, NULL, 'i' },
		{ "sock", required_argument, NULL, 'k' },
		{ "workers", required_argument, NULL, 'w' },
		{ "port", required_argument, NULL, 'p' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "xdp-mode", required_argument, NULL, 'x' },
		{ "busy-poll", required_argument, NULL, 'b' },
		{ "keepalive", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct vpnd_opts o = {
		.sock_path = CTLPROTO_PATH_DEFAULT,
		.workers = 0,	/* the data plane picks (dp_config) */
		.port = MAVPN_UDP_PORT_DEFAULT,
	};
	enum log_level lvl = LOG_LVL_INFO;
	long n;
	int c, ret;

	while ((c = cli_getopt(cli, argc, argv, "hv", opts)) != -1) {
		switch (c) {
		case 's': o.state_dir = optarg; break;
		case 'i': o.iface = optarg; break;
		case 'k': o.sock_path = optarg; break;
		case 'w':
			if (parse_long(optarg, 1, DP_WORKERS_MAX, &n))
				return cli_fail(cli, CLI_EXIT_USAGE,
						"bad --workers \"%s\" (1..%d)",
						optarg, DP_WORKERS_MAX);
			o.workers = (int)n;
			break;
		case 'p':
			if (parse_long(optarg, 1, 65535, &n))
				return cli_fail(cli, CLI_EXIT_USAGE,
						"bad --port \"%s\" (1..65535)",
						optarg);
			o.port = (uint16_t)n;
			break;
		case 'm': {
			struct sockaddr_in sa;

			if (promhttp_parse_addr(optarg, &sa))
				return cli_fail(cli, CLI_EXIT_USAGE,
						"bad --metrics \"%s\" (expected IPV4-ADDRESS:PORT)",
						optarg);
			o.metrics = optarg;
			break;
		}
		case 'x':
			if (datapath_xdp_mode_parse(optarg, &o.xdp_mode))
				return cli_fail(cli, CLI_EXIT_USAGE,
						"bad --xdp-mode \"%s\" (auto, copy or zerocopy)",
						optarg);
			break;
		case 'b':
			if (parse_long(optarg, 0, 1000, &n))
				return cli_fail(cli, CLI_EXIT_USAGE,
						"bad --busy-poll \"%s\" (0..1000 microseconds)",
						optarg);
			o.busy_poll_us = (unsigned int)n;
			break;
		case 'a':
			if (parse_long(optarg, 1, 3600, &n))
				return cli_fail(cli, CLI_EXIT_USAGE,
						"bad --keepalive \"%s\" (1..3600 seconds)",
						optarg);
			o.keepalive_s = (uint32_t)n;
			break;
		case 'v': lvl = LOG_LVL_DEBUG; break;
		case 'h': usage_run(stdout); return 0;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(cli, argc, argv))
		return CLI_EXIT_USAGE;
	if (!o.state_dir)
		return cli_usage_fail(cli, "missing --state DIR");
	if (o.iface && !strcmp(o.iface, "default"))
		o.iface = NULL;	/* follow the default route */
	log_init("vpnd", lvl);
	vpnd_log_libs();
	ret = vpnd_run(&o);
	return ret == VPND_EXIT_MOVED ? VPND_EXIT_MOVED : ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	/* "vpnd", then "vpnd enroll" or "vpnd run": starts every usage error */
	struct cli cli = { .name = "vpnd" };

	if (argc < 2)
		return cli_usage_fail(&cli, "missing command");
	if (!strcmp(argv[1], "enroll")) {
		cli.name = "vpnd enroll";
		return cmd_enroll(&cli, argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "run")) {
		cli.name = "vpnd run";
		return cmd_run(&cli, argc - 1, argv + 1);
	}
	if (cli_is_help(argv[1])) {
		usage_main(stdout);
		return 0;
	}
	return cli_bad_command(&cli, argv[1]);
}
