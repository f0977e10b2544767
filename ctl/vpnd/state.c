// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mavpn/log.h"
#include "state.h"

static int state_join(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int state_paths(struct vpnd_state *st, const char *dir)
{
	memset(st, 0, sizeof(*st));
	if (snprintf(st->dir, sizeof(st->dir), "%s", dir) >=
	    (int)sizeof(st->dir))
		return -ENAMETOOLONG;
	if (state_join(st->key_path, dir, STATE_KEY) ||
	    state_join(st->cert_path, dir, STATE_CERT) ||
	    state_join(st->ca_path, dir, STATE_CA))
		return -ENAMETOOLONG;
	return 0;
}

int state_enrolled(const char *dir)
{
	char p[PATH_MAX];

	if (state_join(p, dir, STATE_CONF))
		return 0;
	return access(p, F_OK) == 0;
}

static int state_set(struct vpnd_state *st, const char *k, const char *v)
{
	char *end;
	long n;

	if (!strcmp(k, "name")) {
		if (!*v || strlen(v) >= sizeof(st->name))
			return -EBADMSG;
		strcpy(st->name, v);
	} else if (!strcmp(k, "overlay_ip")) {
		if (inet_pton(AF_INET, v, &st->overlay_ip) != 1)
			return -EBADMSG;
	} else if (!strcmp(k, "overlay_plen")) {
		n = strtol(v, &end, 10);
		if (*end || end == v || n < 1 || n > 32)
			return -EBADMSG;
		st->overlay_plen = (uint8_t)n;
	} else if (!strcmp(k, "server")) {
		if (!*v || strlen(v) >= sizeof(st->server))
			return -EBADMSG;
		strcpy(st->server, v);
	}
	/* Unknown keys are kept for later versions: ignored. */
	return 0;
}

int state_load(struct vpnd_state *st, const char *dir)
{
	char conf[PATH_MAX], line[512], *eq, *nl;
	int err = 0, lineno = 0;
	FILE *f;

	err = state_paths(st, dir);
	if (err)
		return err;
	if (state_join(conf, dir, STATE_CONF))
		return -ENAMETOOLONG;
	f = fopen(conf, "re");
	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		lineno++;
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			err = -EBADMSG;
			break;
		}
		*eq = '\0';
		err = state_set(st, line, eq + 1);
	}
	fclose(f);
	if (!err && (!st->name[0] || !st->overlay_ip || !st->overlay_plen ||
		     !st->server[0]))
		err = -EBADMSG;
	if (err) {
		log_err("state: malformed file=\"%s\" line=%d", conf, lineno);
		return err;
	}
	if (access(st->key_path, R_OK) || access(st->cert_path, R_OK) ||
	    access(st->ca_path, R_OK))
		return -errno;
	return 0;
}

int state_write_file(const char *dir, const char *name, const void *data,
		     size_t len, mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	const char *p = data;
	ssize_t n;
	int fd, err;

	if (state_join(path, dir, name))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	/* O_CREAT honours the umask and keeps an old mode: set it. */
	if (fchmod(fd, mode) < 0)
		goto err_errno;
	while (len) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto err_errno;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto err_errno;
	if (close(fd) < 0) {
		fd = -1;
		goto err_errno;
	}
	if (rename(tmp, path) < 0) {
		fd = -1;
		goto err_errno;
	}
	return 0;

err_errno:
	err = -errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err;
}

int state_save_conf(const struct vpnd_state *st)
{
	char ip[INET_ADDRSTRLEN], buf[1024];
	int n;

	inet_ntop(AF_INET, &st->overlay_ip, ip, sizeof(ip));
	n = snprintf(buf, sizeof(buf),
		     "# mavpn host state, written by vpnd enroll\n"
		     "name=%s\noverlay_ip=%s\noverlay_plen=%u\nserver=%s\n",
		     st->name, ip, st->overlay_plen, st->server);
	if (n < 0 || n >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	return state_write_file(st->dir, STATE_CONF, buf, (size_t)n, 0644);
}

int state_split_hostport(const char *s, char *host, size_t hostlen,
			 char *port, size_t portlen)
{
	const char *colon, *h = s;
	size_t hl;

	if (*s == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (!hl || hl >= hostlen || !colon[1] || strlen(colon + 1) >= portlen)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

int state_server_nth(const char *list, unsigned int i, char *host,
		     size_t hostlen, char *port, size_t portlen, char *one,
		     size_t onelen)
{
	char buf[STATE_SERVER_MAX];
	const char *p = list;
	size_t n;

	for (; i; i--) {
		p = strchr(p, ',');
		if (!p)
			return -ENOENT;
		p++;
	}
	n = strcspn(p, ",");
	if (!n && !*p)
		return -ENOENT;
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (one)
		snprintf(one, onelen, "%s", buf);
	return state_split_hostport(buf, host, hostlen, port, portlen);
}

int state_server_count(const char *list)
{
	char host[STATE_SERVER_MAX], port[16];
	unsigned int i;
	int ret;

	for (i = 0;; i++) {
		ret = state_server_nth(list, i, host, sizeof(host), port,
				       sizeof(port), NULL, 0);
		if (ret == -ENOENT)
			break;
		if (ret || i == STATE_SERVERS_MAX)
			return -EINVAL;
	}
	return i ? (int)i : -EINVAL;
}
