// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authsrv.h"
#include "status.h"

struct status_set {
	char **names;
	int n;
};

int status_write(const char *dir, const struct status_entry *e, int n)
{
	char path[4096], tmp[4200], addr[INET_ADDRSTRLEN];
	FILE *f;
	int i, ok;

	if (authsrv_path(path, sizeof(path), dir, AUTHSRV_STATUS))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "pid %d\n", (int)getpid());
	for (i = 0; i < n; i++) {
		inet_ntop(AF_INET, &e[i].underlay_ip, addr, sizeof(addr));
		fprintf(f, "%s %s %u %lld\n", e[i].name, addr, e[i].udp_port,
			(long long)e[i].since);
	}
	ok = !ferror(f);
	if (fclose(f))
		ok = 0;
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

void status_remove(const char *dir)
{
	char path[4096];

	if (!authsrv_path(path, sizeof(path), dir, AUTHSRV_STATUS))
		unlink(path);
}

int status_load(const char *dir, struct status_set **out)
{
	char path[4096], line[256], name[65];
	struct status_set *s;
	FILE *f;
	int pid, ret = 0;

	*out = NULL;
	if (authsrv_path(path, sizeof(path), dir, AUTHSRV_STATUS))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "pid %d", &pid) != 1 ||
	    pid <= 0 || (kill(pid, 0) && errno == ESRCH))
		goto out;	/* stale: no server is running */
	s = calloc(1, sizeof(*s));
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		char **nn;

		if (sscanf(line, "%64s", name) != 1)
			continue;
		nn = realloc(s->names, sizeof(*nn) * (size_t)(s->n + 1));
		if (!nn || !(nn[s->n] = strdup(name))) {
			if (nn)
				s->names = nn;
			status_free(s);
			ret = -ENOMEM;
			goto out;
		}
		s->names = nn;
		s->n++;
	}
	*out = s;
	ret = 1;
out:
	fclose(f);
	return ret;
}

bool status_online(const struct status_set *s, const char *name)
{
	int i;

	for (i = 0; s && i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return true;
	return false;
}

void status_free(struct status_set *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s);
}
