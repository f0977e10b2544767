// SPDX-License-Identifier: GPL-2.0-only
/*
 * Component-test driver for the data plane: starts a datapath in the
 * current network namespace and installs a key given on the command line,
 * as vpnd's control side would after a server grant. Only for
 * tests/dp/dp_pair.sh: the product gets its keys from authsrv.
 *
 *   dp_pair --underlay IF --overlay-if NAME --overlay CIDR --port N
 *           --peer-overlay IP --peer-underlay IP --peer-port N
 *           --key-id N --secret HEX64 --initiator 0|1 [--on-request]
 *
 * --on-request installs the key only when the datapath asks for one (the
 * first packet to the peer), to exercise hold-and-flush. Runs until
 * SIGINT/SIGTERM, then prints the counters as key=value lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mavpn/aead.h"
#include "mavpn/datapath.h"
#include "mavpn/log.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
	size_t i;

	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return -EINVAL;
	return 0;
}

static int parse_cidr(const char *s, uint32_t *ip, uint8_t *plen)
{
	char buf[32], *slash;
	struct in_addr a;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	*plen = atoi(slash + 1);
	return 0;
}

static uint32_t parse_ip(const char *s)
{
	struct in_addr a = { 0 };

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void print_stats(struct datapath *dp)
{
	char fr[256], dr[512], ev[128], pc[256], pd[512];
	struct dp_peer_stats ps[8];
	struct dp_stats st;
	int i, n;

	datapath_stats(dp, &st);
	counters_line(fr, sizeof(fr), "rx_frames_", datapath_frame_desc,
		      st.frames, DP_FRAME__COUNT);
	counters_line(dr, sizeof(dr), "drop_", datapath_drop_desc, st.drop,
		      DP_DROP__COUNT);
	counters_line(ev, sizeof(ev), NULL, datapath_event_desc, st.events,
		      DP_EVENT__COUNT);
	printf("stats %s %s %s\n", fr, dr, ev);
	n = datapath_peer_stats(dp, ps, 8);
	for (i = 0; i < n; i++) {
		counters_line(pc, sizeof(pc), NULL, datapath_peer_desc,
			      ps[i].cnt, DP_PEER__COUNT);
		counters_line(pd, sizeof(pd), "drop_", datapath_drop_desc,
			      ps[i].drop, DP_DROP__COUNT);
		printf("peer name=%s overlay=%s key_id=%u %s %s\n", ps[i].name,
		       inet_ntoa((struct in_addr){ ps[i].overlay_ip }),
		       ps[i].key_id, pc, pd);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "underlay", 1, 0, 'u' }, { "overlay-if", 1, 0, 'o' },
		{ "overlay", 1, 0, 'a' }, { "port", 1, 0, 'p' },
		{ "peer-overlay", 1, 0, 'O' }, { "peer-underlay", 1, 0, 'U' },
		{ "peer-port", 1, 0, 'P' }, { "key-id", 1, 0, 'k' },
		{ "secret", 1, 0, 's' }, { "initiator", 1, 0, 'i' },
		{ "on-request", 0, 0, 'r' }, { "workers", 1, 0, 'w' },
		{ 0 }
	};
	struct dp_config cfg = { .workers = 1, .overlay_ifname = "mavpn0" };
	struct dp_key key = { .lifetime = 3600 };
	struct sigaction sa = { .sa_handler = on_signal };
	int on_request = 0, installed = 0, c, err;
	struct datapath *dp;
	struct pollfd pfd;

	snprintf(key.peer_name, sizeof(key.peer_name), "peer");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': cfg.underlay_ifname = optarg; break;
		case 'o': cfg.overlay_ifname = optarg; break;
		case 'a':
			if (parse_cidr(optarg, &cfg.overlay_ip,
				       &cfg.overlay_plen))
				goto usage;
			break;
		case 'p': cfg.port = atoi(optarg); break;
		case 'O': key.peer_overlay_ip = parse_ip(optarg); break;
		case 'U': key.peer_underlay_ip = parse_ip(optarg); break;
		case 'P': key.peer_port = atoi(optarg); break;
		case 'k': key.key_id = strtoul(optarg, NULL, 0); break;
		case 's':
			if (parse_hex(optarg, key.secret, sizeof(key.secret)))
				goto usage;
			break;
		case 'i': key.initiator = atoi(optarg); break;
		case 'r': on_request = 1; break;
		case 'w': cfg.workers = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (!cfg.underlay_ifname || !cfg.overlay_ip || !key.peer_overlay_ip)
		goto usage;

	log_init("dp_pair", LOG_LVL_DEBUG);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	dp = datapath_start(&cfg);
	if (!dp) {
		fprintf(stderr, "dp_pair: datapath_start: %s\n",
			strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	if (!on_request) {
		err = datapath_install_key(dp, &key);
		if (err)
			goto fail_key;
		installed = 1;
	}
	pfd.fd = datapath_request_fd(dp);
	pfd.events = POLLIN;
	while (!stop) {
		uint32_t ip;

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		while (datapath_next_request(dp, &ip) == 1) {
			printf("request overlay=%s has_key=%d\n",
			       inet_ntoa((struct in_addr){ ip }),
			       datapath_has_key(dp, ip));
			fflush(stdout);
			if (ip == key.peer_overlay_ip && !installed) {
				err = datapath_install_key(dp, &key);
				if (err)
					goto fail_key;
				installed = 1;
				printf("installed key_id=%u has_key=%d\n",
				       key.key_id, datapath_has_key(dp, ip));
				fflush(stdout);
			} else if (ip != key.peer_overlay_ip) {
				datapath_key_refused(dp, ip);
			}
		}
	}
	aead_wipe(key.secret, sizeof(key.secret));
	print_stats(dp);
	datapath_stop(dp);
	return 0;

fail_key:
	fprintf(stderr, "dp_pair: install key: %s\n", strerror(-err));
	aead_wipe(key.secret, sizeof(key.secret));
	datapath_stop(dp);
	return 1;
usage:
	fprintf(stderr, "usage: see the comment at the top of tests/dp/dp_pair.c\n");
	return 2;
}
