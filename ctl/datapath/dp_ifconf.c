// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interface settings of the data plane (see dp_ifconf.h): ioctls on a
 * throwaway datagram socket, and sysctl files. Links, addresses, routes
 * and neighbours are rtnetlink, in lib/nl.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "dp_ifconf.h"

static int ifconf_ioctl(const char *ifname, unsigned long req,
			struct ifreq *ifr)
{
	int fd, err = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, req, ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

int dp_ifconf_mac(const char *ifname, uint8_t mac[DP_ETH_ALEN])
{
	struct ifreq ifr = { 0 };
	int err = ifconf_ioctl(ifname, SIOCGIFHWADDR, &ifr);

	if (err)
		return err;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, DP_ETH_ALEN);
	return 0;
}

int dp_ifconf_mtu(const char *ifname, unsigned int *mtu)
{
	struct ifreq ifr = { 0 };
	int err = ifconf_ioctl(ifname, SIOCGIFMTU, &ifr);

	if (!err)
		*mtu = (unsigned int)ifr.ifr_mtu;
	return err;
}

uint32_t dp_ifconf_ipv4(const char *ifname)
{
	struct ifreq ifr = { 0 };

	if (ifconf_ioctl(ifname, SIOCGIFADDR, &ifr))
		return 0;
	return ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
}

/* rx-N entries of /sys/class/net/IF/queues (what `ip link` calls
 * numrxqueues); 0 if unreadable. */
static int sysfs_rx_queues(const char *ifname)
{
	char path[64 + IFNAMSIZ];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "rx-", 3))
			n++;
	closedir(d);
	return n;
}

int dp_ifconf_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { 0 };
	unsigned int n;

	ifr.ifr_data = (void *)&ch;
	if (ifconf_ioctl(ifname, SIOCETHTOOL, &ifr)) {
		/* no channel API (`ethtool -l` fails): the kernel's queues */
		n = (unsigned int)sysfs_rx_queues(ifname);
		return n ? (int)n : 1;
	}
	n = ch.rx_count > ch.combined_count ? ch.rx_count : ch.combined_count;
	return n ? (int)n : 1;
}

int dp_ifconf_disable_offloads(const char *ifname)
{
	/*
	 * With these on, the host hands the far side 64 KiB super-packets
	 * and CHECKSUM_PARTIAL frames whose checksum nobody would fill in
	 * once they are encrypted. GRO would merge what we deliver.
	 */
	static const uint32_t cmds[] = {
		ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO, ETHTOOL_STXCSUM,
	};
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct ethtool_value ev = { .cmd = cmds[i], .data = 0 };
		struct ifreq ifr = { 0 };
		int err;

		ifr.ifr_data = (void *)&ev;
		err = ifconf_ioctl(ifname, SIOCETHTOOL, &ifr);
		if (err)
			return err;
	}
	return 0;
}

int dp_ifconf_ipv6_sysctl(const char *ifname, const char *key,
			  const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname,
		 key);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}
