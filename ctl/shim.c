// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket shim loader. The BPF object is opened and loaded once, at startup,
 * with the overlay prefix baked into its rodata; attaching to a cgroup only
 * creates two bpf_links (connect4, sendmsg4). Links, not legacy attachments:
 * several vpnd (one per netns) may attach to the same cgroup without
 * replacing each other, and destroying our links removes only ours.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>

#include "mavpn/log.h"
#include "shim_sock.skel.h"
#include "vpnd_shim.h"

#define SHIM_MAX_ATTACH		64
/* How deep below an attached directory we look for an event's cgroup. */
#define SHIM_SEARCH_DEPTH	8

struct shim_attachment {
	char path[PATH_MAX];
	uint64_t cgroup_id;
	struct bpf_link *connect4;
	struct bpf_link *sendmsg4;
};

struct shim {
	struct shim_sock *skel;
	struct ring_buffer *rb;
	shim_event_fn fn;
	void *arg;
	int n_attached;
	struct shim_attachment att[SHIM_MAX_ATTACH];
};

static int shim_libbpf_log(enum libbpf_print_level lvl, const char *fmt,
			   va_list ap)
{
	char line[512];
	size_t n;

	if (lvl == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_msg(lvl == LIBBPF_WARN ? LOG_LVL_WARN : LOG_LVL_INFO,
		"libbpf: %s", line);
	return 0;
}

void shim_log_init(void)
{
	libbpf_set_print(shim_libbpf_log);
}

static int shim_ring_cb(void *ctx, void *data, size_t size)
{
	struct shim *s = ctx;
	const struct shim_event *e = data;
	static unsigned long rl;

	if (size < sizeof(*e) || e->version != SHIM_EVENT_VERSION) {
		if (log_ratelimited(&rl))
			log_warn("shim: ignoring event size=%zu version=%u",
				 size, size >= 4 ? e->version : 0);
		return 0;
	}
	s->fn(s->arg, e);
	return 0;
}

struct shim *shim_open(uint32_t net, uint8_t plen, uint32_t self_ip,
		       shim_event_fn fn, void *arg)
{
	uint32_t mask = plen ? htonl(~0u << (32 - plen)) : 0;
	struct shim *s;
	int err;

	shim_log_init();
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fn = fn;
	s->arg = arg;

	s->skel = shim_sock__open();
	if (!s->skel) {
		err = -errno;
		log_err("shim: cannot open BPF object: %s", strerror(-err));
		goto err_free;
	}
	s->skel->rodata->overlay_net = net & mask;
	s->skel->rodata->overlay_mask = mask;
	s->skel->rodata->self_ip = self_ip;
	err = shim_sock__load(s->skel);
	if (err) {
		log_err("shim: cannot load BPF programs: %s", strerror(-err));
		goto err_skel;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events),
				 shim_ring_cb, s, NULL);
	if (!s->rb) {
		err = -errno;
		log_err("shim: cannot open ring buffer: %s", strerror(-err));
		goto err_skel;
	}
	return s;

err_skel:
	shim_sock__destroy(s->skel);
err_free:
	free(s);
	errno = -err;
	return NULL;
}

static void shim_att_destroy(struct shim_attachment *a)
{
	bpf_link__destroy(a->connect4);
	bpf_link__destroy(a->sendmsg4);
	a->connect4 = a->sendmsg4 = NULL;
}

void shim_close(struct shim *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->n_attached; i++)
		shim_att_destroy(&s->att[i]);
	ring_buffer__free(s->rb);
	shim_sock__destroy(s->skel);
	free(s);
}

int shim_fd(const struct shim *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int shim_poll(struct shim *s)
{
	int n = ring_buffer__consume(s->rb);

	return n < 0 ? n : 0;
}

/* The cgroup id of a cgroup v2 directory is its kernfs file handle. */
static int shim_cgroup_id(const char *path, uint64_t *id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	int mount_id;

	h.fh.handle_bytes = sizeof(uint64_t);
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return -errno;
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EINVAL;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

static struct shim_attachment *shim_find(struct shim *s, const char *path)
{
	int i;

	for (i = 0; i < s->n_attached; i++)
		if (!strcmp(s->att[i].path, path))
			return &s->att[i];
	return NULL;
}

/* Canonical path of a cgroup v2 directory, or -errno. */
static int shim_canon(const char *path, char out[PATH_MAX])
{
	struct statfs sfs;
	struct stat st;

	if (!realpath(path, out))
		return -errno;
	if (stat(out, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (statfs(out, &sfs) < 0)
		return -errno;
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return -EINVAL;
	return 0;
}

int shim_attach(struct shim *s, const char *path)
{
	struct shim_attachment *a;
	char canon[PATH_MAX];
	int fd, err;

	err = shim_canon(path, canon);
	if (err)
		return err;
	if (shim_find(s, canon))
		return -EALREADY;
	if (s->n_attached == SHIM_MAX_ATTACH)
		return -ENOSPC;
	a = &s->att[s->n_attached];
	memset(a, 0, sizeof(*a));
	snprintf(a->path, sizeof(a->path), "%s", canon);
	err = shim_cgroup_id(canon, &a->cgroup_id);
	if (err)
		return err;

	fd = open(canon, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The links hold their own reference to the cgroup; fd can go. */
	a->connect4 = bpf_program__attach_cgroup(s->skel->progs.shim_connect4,
						 fd);
	if (!a->connect4) {
		err = -errno;
		goto err_close;
	}
	a->sendmsg4 = bpf_program__attach_cgroup(s->skel->progs.shim_sendmsg4,
						 fd);
	if (!a->sendmsg4) {
		err = -errno;
		goto err_connect4;
	}
	close(fd);
	s->n_attached++;
	return 0;

err_connect4:
	bpf_link__destroy(a->connect4);
	a->connect4 = NULL;
err_close:
	close(fd);
	return err;
}

int shim_detach(struct shim *s, const char *path)
{
	struct shim_attachment *a;
	char canon[PATH_MAX];

	/* A removed cgroup cannot be resolved any more: match it verbatim. */
	if (!realpath(path, canon))
		snprintf(canon, sizeof(canon), "%s", path);
	a = shim_find(s, canon);
	if (!a)
		return -ENOENT;
	shim_att_destroy(a);
	*a = s->att[--s->n_attached];
	return 0;
}

const char *shim_attached(const struct shim *s, int i)
{
	return i >= 0 && i < s->n_attached ? s->att[i].path : NULL;
}

/* Depth-limited search below @dir for the cgroup with @id. */
static int shim_search(const char *dir, uint64_t id, int depth, char *buf,
		       size_t len)
{
	char sub[PATH_MAX];
	struct dirent *de;
	uint64_t sub_id;
	int found = 0;
	DIR *d;

	if (depth == 0)
		return 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(sub))
			continue;
		if (!shim_cgroup_id(sub, &sub_id) && sub_id == id) {
			snprintf(buf, len, "%s", sub);
			found = 1;
		} else {
			found = shim_search(sub, id, depth - 1, buf, len);
		}
	}
	closedir(d);
	return found;
}

void shim_cgroup_path(struct shim *s, uint64_t cgroup_id, char *buf,
		      size_t len)
{
	int i;

	for (i = 0; i < s->n_attached; i++) {
		if (s->att[i].cgroup_id == cgroup_id) {
			snprintf(buf, len, "%s", s->att[i].path);
			return;
		}
	}
	/* Programs attached to a cgroup also run for its descendants. */
	for (i = 0; i < s->n_attached; i++)
		if (shim_search(s->att[i].path, cgroup_id, SHIM_SEARCH_DEPTH,
				buf, len))
			return;
	snprintf(buf, len, "cgroup:%" PRIu64, cgroup_id);
}

void shim_get_counters(const struct shim *s, struct shim_counters *c)
{
	uint64_t v[SHIM_CNT_MAX] = { 0 };
	uint32_t i;

	for (i = 0; i < SHIM_CNT_MAX; i++)
		bpf_map__lookup_elem(s->skel->maps.counters, &i, sizeof(i),
				     &v[i], sizeof(v[i]), 0);
	c->seen = v[SHIM_CNT_SEEN];
	c->events = v[SHIM_CNT_EVENTS];
	c->dedup = v[SHIM_CNT_DEDUP];
	c->drops = v[SHIM_CNT_DROPS];
}
