// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data plane: datapath_start() and datapath_stop() (include/mavpn/
 * datapath.h): configuration check, overlay veth and MTU, XDP programs,
 * the kernel UDP socket, the worker pool; one unwind ladder.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "mavpn/log.h"
#include "mavpn/prefix.h"
#include "mavpn/wire.h"
#include "dp_internal.h"

/* --- setup and teardown ------------------------------------------------- */

static int udp_open(uint16_t port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	int fd, err, one = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Like the AF_XDP path: no UDP checksum, the GCM tag covers it all. */
	setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int check_config(const struct dp_config *cfg)
{
	if (!cfg || !cfg->underlay_ifname || !cfg->overlay_ifname ||
	    !cfg->port || !cfg->overlay_ip || cfg->overlay_plen < 1 ||
	    cfg->overlay_plen > 30) {
		log_err("datapath: invalid configuration");
		return -EINVAL;
	}
	if (strlen(cfg->overlay_ifname) + 2 > IFNAMSIZ ||
	    strlen(cfg->underlay_ifname) + 1 > IFNAMSIZ) {
		log_err("datapath: interface name too long overlay=%s underlay=%s",
			cfg->overlay_ifname, cfg->underlay_ifname);
		return -EINVAL;
	}
	if (cfg->workers < 0 || cfg->workers > DP_WORKERS_MAX) {
		log_err("datapath: workers=%d out of range (0..%d)",
			cfg->workers, DP_WORKERS_MAX);
		return -EINVAL;
	}
	return 0;
}

/*
 * The default pool: one worker per underlay rx queue, at most one per
 * online CPU. More workers than queues only seal (they have no underlay
 * socket: all decryption stays on the queue owners, the rest send through
 * the kernel's UDP socket), which cost more than it gave on a 1-queue
 * NIC (docs/performance.md); more than CPUs only take turns.
 */
static int auto_workers(int ul_queues)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int n = ul_queues;

	if (cpus >= 1 && cpus < n)
		n = (int)cpus;
	if (n > DP_WORKERS_MAX)
		n = DP_WORKERS_MAX;
	return n < 1 ? 1 : n;
}

/*
 * Size the overlay from the underlay: an inner packet plus our overhead
 * (outer IPv4, UDP, header, tag) must fit one underlay frame, and one umem
 * frame. mavpn0's MTU leaves another 20 bytes for a later IPv6 outer header
 * (1500 -> 1420, as WireGuard does), so the host stack never hands us a
 * packet we cannot carry: its own PMTU logic (EMSGSIZE locally, ICMP for
 * forwarded traffic, fragmentation without DF) works against that MTU.
 */
static int overlay_mtu(struct datapath *dp)
{
	unsigned int ul;
	int err;

	err = dp_ifconf_mtu(dp->ul_name, &ul);
	if (err) {
		log_err("datapath: cannot read MTU iface=%s err=%s",
			dp->ul_name, strerror(-err));
		return err;
	}
	if (ul > DP_XSK_FRAME_SIZE - MAVPN_ETH_HLEN)
		ul = DP_XSK_FRAME_SIZE - MAVPN_ETH_HLEN;	/* jumbo */
	if (ul < 576) {
		log_err("datapath: underlay MTU too small iface=%s mtu=%u (need >= 576)",
			dp->ul_name, ul);
		return -EINVAL;
	}
	dp->ov_mtu = ul - (MAVPN_UNDERLAY_MTU - MAVPN_OVERLAY_MTU);
	dp->inner_max = dp->ov_mtu;
	return 0;
}

/* Create the overlay veth pair and bring it up; replaces a leftover. */
static int overlay_create(struct datapath *dp)
{
	struct nl_veth veth = {
		.name = dp->ov_name,
		.peer = dp->far_name,
		.mtu = dp->ov_mtu,
		.queues = (unsigned int)dp->nworkers,
	};
	struct nl *nl = &dp->nl_ctl;
	const char *what;
	int err;

	what = "create veth";
	err = nl_veth_create(nl, &veth);
	if (err == -EEXIST) {
		/* a previous vpnd in this netns died without cleaning up */
		log_warn("datapath: replacing existing interface %s",
			 dp->ov_name);
		nl_link_del(nl, dp->ov_name);
		err = nl_veth_create(nl, &veth);
	}
	if (err)
		goto fail;
	dp->veth_made = 1;
	dp->ov_ifindex = if_nametoindex(dp->ov_name);
	dp->far_ifindex = if_nametoindex(dp->far_name);
	what = "read veth";
	err = -ENODEV;
	if (!dp->ov_ifindex || !dp->far_ifindex)
		goto fail;
	err = dp_ifconf_mac(dp->ov_name, dp->ov_mac);
	if (!err)
		err = dp_ifconf_mac(dp->far_name, dp->far_mac);
	if (err)
		goto fail;
	what = "disable offloads";
	err = dp_ifconf_disable_offloads(dp->ov_name);
	if (!err)
		err = dp_ifconf_disable_offloads(dp->far_name);
	if (err)
		goto fail;
	/* Router solicitations etc. would only be counted and dropped. */
	dp_ifconf_ipv6_sysctl(dp->ov_name, "disable_ipv6", "1");
	dp_ifconf_ipv6_sysctl(dp->far_name, "disable_ipv6", "1");
	what = "bring up veth";
	err = nl_link_up(nl, dp->far_ifindex, true);
	if (!err)
		err = nl_link_up(nl, dp->ov_ifindex, true);
	if (err)
		goto fail;
	what = "add overlay address";
	err = nl_addr_add(nl, dp->ov_ifindex, AF_INET, &dp->cfg.overlay_ip,
			  dp->cfg.overlay_plen);
	if (err)
		goto fail;
	return 0;
fail:
	log_err("datapath: %s failed overlay=%s err=%s", what, dp->ov_name,
		strerror(-err));
	return err;
}

/*
 * Longer than most functions here on purpose: one forward unwind ladder
 * over every resource of the data plane, each step one call and its log
 * line; split, the ladder would be spread over several functions.
 */
struct datapath *datapath_start(const struct dp_config *cfg)
{
	struct datapath *dp;
	int err;

	err = check_config(cfg);
	if (err)
		goto err_out;
	err = -ENOMEM;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		goto err_out;
	dp->cfg = *cfg;
	dp->udp_fd = dp->wake_fd = dp->req_fd = -1;
	dp->nl_ctl.fd = dp->nl_wrk.fd = dp->nl_ev.fd = -1;
	strcpy(dp->ov_name, cfg->overlay_ifname);
	snprintf(dp->far_name, sizeof(dp->far_name), "%sx", cfg->overlay_ifname);
	strcpy(dp->ul_name, cfg->underlay_ifname);
	dp->cfg.overlay_ifname = dp->ov_name;
	dp->cfg.underlay_ifname = dp->ul_name;
	dp->net_mask = prefix_mask4(cfg->overlay_plen);
	pthread_rwlock_init(&dp->lock, NULL);
	pthread_mutex_init(&dp->req_lock, NULL);
	dp_probe_init(dp);

	dp->ul_ifindex = if_nametoindex(dp->ul_name);
	if (!dp->ul_ifindex) {
		err = -errno;
		log_err("datapath: no underlay interface iface=%s", dp->ul_name);
		goto err_free;
	}
	err = dp_ifconf_mac(dp->ul_name, dp->ul_mac);
	if (err) {
		log_err("datapath: cannot read MAC iface=%s err=%s",
			dp->ul_name, strerror(-err));
		goto err_free;
	}
	dp->ul_ip = dp_ifconf_ipv4(dp->ul_name);
	err = overlay_mtu(dp);
	if (err)
		goto err_free;
	dp->ul_queues = dp_ifconf_rx_queues(dp->ul_name);
	dp->nworkers = cfg->workers ? cfg->workers : auto_workers(dp->ul_queues);
	dp->cfg.workers = dp->nworkers;
	/* the peers' per-worker counter slots; no peer exists yet */
	dp->peers.workers = dp->nworkers;
	/* Workers beyond the NIC's queues send by sendmmsg (see dp_worker). */
	if (dp->ul_queues > dp->nworkers)
		dp->ul_queues = dp->nworkers;

	dp->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dp->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dp->wake_fd < 0 || dp->req_fd < 0) {
		err = -errno;
		log_err("datapath: eventfd failed err=%s", strerror(-err));
		goto err_fds;
	}
	err = nl_open(&dp->nl_ctl);
	if (!err)
		err = nl_open(&dp->nl_wrk);
	if (!err)
		err = nl_open_events(&dp->nl_ev, RTMGRP_NEIGH |
				     RTMGRP_IPV4_IFADDR);
	if (err) {
		log_err("datapath: rtnetlink socket failed err=%s",
			strerror(-err));
		goto err_nl;
	}

	err = overlay_create(dp);
	if (err)
		goto err_veth;

	err = dp_xdp_attach_overlay(&dp->xdp, dp->far_ifindex);
	if (err) {
		log_err("datapath: XDP attach failed iface=%s err=%s",
			dp->far_name, strerror(-err));
		goto err_xdp;
	}
	err = dp_xdp_attach_underlay(&dp->xdp, dp->ul_ifindex, cfg->port,
				     dp->ul_ip);
	if (err) {
		log_err("datapath: XDP attach failed iface=%s err=%s",
			dp->ul_name, strerror(-err));
		goto err_xdp;
	}

	dp->udp_fd = udp_open(cfg->port);
	if (dp->udp_fd < 0) {
		err = dp->udp_fd;
		log_err("datapath: cannot bind UDP port=%u err=%s", cfg->port,
			strerror(-err));
		goto err_udp;
	}

	err = dp_workers_open(dp);
	if (err)
		goto err_workers;
	log_info("datapath: up overlay=%s/%u far=%s underlay=%s port=%u workers=%d underlay_queues=%d xdp_overlay=%s xdp_underlay=%s",
		 dp->ov_name, cfg->overlay_plen, dp->far_name, dp->ul_name,
		 cfg->port, dp->nworkers, dp->ul_queues,
		 dp_xdp_mode(&dp->xdp.ov_link),
		 dp_xdp_mode(&dp->xdp.ul_link));
	return dp;

err_workers:
	dp_workers_close(dp);
	close(dp->udp_fd);
err_udp:
err_xdp:
	dp_xdp_detach(&dp->xdp);
err_veth:
	if (dp->veth_made)
		nl_link_del(&dp->nl_ctl, dp->ov_name);
err_nl:
	nl_close(&dp->nl_ev);
	nl_close(&dp->nl_wrk);
	nl_close(&dp->nl_ctl);
err_fds:
	if (dp->wake_fd >= 0)
		close(dp->wake_fd);
	if (dp->req_fd >= 0)
		close(dp->req_fd);
err_free:
	dp_probe_fini(dp);
	pthread_mutex_destroy(&dp->req_lock);
	pthread_rwlock_destroy(&dp->lock);
	free(dp);
err_out:
	errno = -err;
	return NULL;
}

/* The XDP programs' verdicts over this run, one line each. */
static void log_xdp_counters(struct datapath *dp)
{
	uint64_t ul[MAVPN_XDP_UL_NR], ov[MAVPN_XDP_OV_NR];
	char line[512];

	if (!dp_xdp_ul_counters(&dp->xdp, ul)) {
		counters_line(line, sizeof(line), NULL, dp_xdp_ul_desc, ul,
			      MAVPN_XDP_UL_NR);
		log_info("datapath: xdp_underlay %s", line);
	}
	if (!dp_xdp_ov_counters(&dp->xdp, ov)) {
		counters_line(line, sizeof(line), NULL, dp_xdp_ov_desc, ov,
			      MAVPN_XDP_OV_NR);
		log_info("datapath: xdp_overlay %s", line);
	}
}

int datapath_xdp_dispatcher(const struct datapath *dp)
{
	return dp->xdp.ov_link.dispatcher || dp->xdp.ul_link.dispatcher;
}

void datapath_stop(struct datapath *dp)
{
	if (!dp)
		return;
	dp_workers_close(dp);
	log_xdp_counters(dp);
	close(dp->udp_fd);
	dp_xdp_detach(&dp->xdp);
	if (dp->veth_made)
		nl_link_del(&dp->nl_ctl, dp->ov_name);
	nl_close(&dp->nl_ev);
	nl_close(&dp->nl_wrk);
	nl_close(&dp->nl_ctl);
	close(dp->wake_fd);
	close(dp->req_fd);
	dp_peers_free(&dp->peers);	/* wipes every session's keys */
	dp_probe_fini(dp);
	pthread_mutex_destroy(&dp->req_lock);
	pthread_rwlock_destroy(&dp->lock);
	free(dp);
}
