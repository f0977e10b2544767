// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket shim loader. The BPF object is opened and loaded once, at startup,
 * with our netns cookie and overlay address baked into its rodata and the
 * overlay prefix put into the `protected` trie. At load the enforcement
 * programs are linked to the root of the cgroup2 hierarchy; attaching a
 * cgroup creates four report links (connect4/6, sendmsg4/6) and puts its id
 * into `allowed`. Links, not legacy attachments: several vpnd (one per netns)
 * may attach to the same cgroup, and to the root, without replacing each
 * other, and destroying our links removes only ours.
 *
 * The enforcement links are pinned in bpffs under SHIM_PIN_ROOT/ns<cookie>/
 * (one directory per network namespace, so several vpnd on a machine do
 * not collide): they outlive a vpnd killed with SIGKILL, so that
 * unattached processes keep getting EPERM while it is dead instead of
 * sending into a data plane nobody runs. The next vpnd in that namespace
 * links its own programs first and then replaces the pins (the old links,
 * no longer referenced, are detached by the kernel); a clean stop removes
 * them. The `ours` socket-storage map is pinned there too and re-used by
 * the next vpnd, so sockets marked by one run (created while enforcing,
 * or accepted) stay marked for the next.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>

#include "mavpn/log.h"
#include "mavpn/prefix.h"
#include "shim_sock.skel.h"
#include "shim.h"

#define SHIM_MAX_ATTACH		64
#define SHIM_PIN_ROOT		"/sys/fs/bpf/mavpn"
/* How deep below an attached directory we look for an event's cgroup. */
#define SHIM_SEARCH_DEPTH	8
/* ... and below the root, for processes in no attached cgroup. */
#define SHIM_ROOT_SEARCH_DEPTH	3
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE		71
#endif

enum { SHIM_L_CONNECT4, SHIM_L_SENDMSG4, SHIM_L_CONNECT6, SHIM_L_SENDMSG6,
       SHIM_L_NR };
enum { SHIM_E_CONNECT4, SHIM_E_SENDMSG4, SHIM_E_CONNECT6, SHIM_E_SENDMSG6,
       SHIM_E_SOCK_CREATE, SHIM_E_EGRESS, SHIM_E_INGRESS, SHIM_E_SOCKOPS,
       SHIM_E_NR };

/* pin names, the programs' names */
static const char *const shim_enf_names[SHIM_E_NR] = {
	[SHIM_E_CONNECT4] = "enf_connect4", [SHIM_E_SENDMSG4] = "enf_sendmsg4",
	[SHIM_E_CONNECT6] = "enf_connect6", [SHIM_E_SENDMSG6] = "enf_sendmsg6",
	[SHIM_E_SOCK_CREATE] = "enf_sock_create",
	[SHIM_E_EGRESS] = "enf_egress", [SHIM_E_INGRESS] = "enf_ingress",
	[SHIM_E_SOCKOPS] = "enf_sockops",
};

struct shim_attachment {
	char path[PATH_MAX];
	uint64_t cgroup_id;
	struct bpf_link *link[SHIM_L_NR];
};

struct shim {
	struct shim_sock *skel;
	struct ring_buffer *rb;
	shim_event_fn fn;
	void *arg;
	char root[PATH_MAX];		/* cgroup2 mount point */
	unsigned long bad_event_rl;	/* log_ratelimited() state */
	struct bpf_link *enf[SHIM_E_NR];
	char pin_dir[PATH_MAX];		/* "" until pinned */
	int n_attached;
	struct shim_attachment att[SHIM_MAX_ATTACH];
};

static int shim_ring_cb(void *ctx, void *data, size_t size)
{
	struct shim *s = ctx;
	const struct shim_event *e = data;

	if (size < sizeof(*e) || e->version != SHIM_EVENT_VERSION) {
		if (log_ratelimited(&s->bad_event_rl))
			log_warn("shim: ignoring event size=%zu version=%u",
				 size, size >= 4 ? e->version : 0);
		return 0;
	}
	s->fn(s->arg, e);
	return 0;
}

/* The cgroup2 mount point from /proc/self/mountinfo. */
static int shim_cgroup2_root(char *out, size_t len)
{
	char line[4096], mnt[PATH_MAX], *sep;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts... - fstype src */
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
		    strlen(mnt) < len) {
			strcpy(out, mnt);
			err = 0;
		}
	}
	fclose(f);
	return err;
}

/* The cookie the kernel gives our network namespace (Linux >= 5.14). */
static int shim_netns_cookie(uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0)
		err = -errno;
	close(fd);
	return err;
}

static void shim_enf_detach(struct shim *s)
{
	int i;

	for (i = 0; i < SHIM_E_NR; i++) {
		/* the pin holds the link: remove it first, or it stays */
		if (s->enf[i] && s->pin_dir[0])
			bpf_link__unpin(s->enf[i]);
		bpf_link__destroy(s->enf[i]);
		s->enf[i] = NULL;
	}
	if (s->pin_dir[0]) {
		bpf_map__unpin(s->skel->maps.ours, NULL);
		rmdir(s->pin_dir);
		rmdir(SHIM_PIN_ROOT);	/* fails while another vpnd pins */
		s->pin_dir[0] = '\0';
	}
}

/*
 * Pin our enforcement links, replacing what a vpnd killed in this netns
 * left: unlinking its pin drops the last reference to its link, and the
 * kernel detaches that program. Ours are linked already, so there is no
 * moment without enforcement.
 */
/* Before load: our pin directory, and the `ours` map's pin path in it
 * (libbpf re-uses a pinned map of the same shape, else pins the new one). */
static int shim_pin_prepare(struct shim *s, uint64_t cookie)
{
	char path[PATH_MAX + 64];
	int err;

	if (mkdir(SHIM_PIN_ROOT, 0700) && errno != EEXIST)
		return -errno;
	snprintf(s->pin_dir, sizeof(s->pin_dir), "%s/ns%" PRIu64,
		 SHIM_PIN_ROOT, cookie);
	if (mkdir(s->pin_dir, 0700) && errno != EEXIST) {
		err = -errno;
		s->pin_dir[0] = '\0';
		return err;
	}
	snprintf(path, sizeof(path), "%s/ours", s->pin_dir);
	return bpf_map__set_pin_path(s->skel->maps.ours, path);
}

static int shim_enf_pin(struct shim *s)
{
	char path[PATH_MAX + 64];
	int i, err, replaced = 0;

	for (i = 0; i < SHIM_E_NR; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->pin_dir,
			 shim_enf_names[i]);
		if (!unlink(path))
			replaced++;
		err = bpf_link__pin(s->enf[i], path);
		if (err)
			return err;
	}
	if (replaced)
		log_info("shim: replaced %d enforcement links a previous vpnd left in %s",
			 replaced, s->pin_dir);
	return 0;
}

/* Link the enforcement programs to the cgroup2 root. */
static int shim_enf_attach(struct shim *s)
{
	struct bpf_program *progs[SHIM_E_NR] = {
		[SHIM_E_CONNECT4] = s->skel->progs.enf_connect4,
		[SHIM_E_SENDMSG4] = s->skel->progs.enf_sendmsg4,
		[SHIM_E_CONNECT6] = s->skel->progs.enf_connect6,
		[SHIM_E_SENDMSG6] = s->skel->progs.enf_sendmsg6,
		[SHIM_E_SOCK_CREATE] = s->skel->progs.enf_sock_create,
		[SHIM_E_EGRESS] = s->skel->progs.enf_egress,
		[SHIM_E_INGRESS] = s->skel->progs.enf_ingress,
		[SHIM_E_SOCKOPS] = s->skel->progs.enf_sockops,
	};
	int fd, i, err = 0;

	fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; i < SHIM_E_NR && !err; i++) {
		s->enf[i] = bpf_program__attach_cgroup(progs[i], fd);
		if (!s->enf[i])
			err = -errno;
	}
	close(fd);
	if (err == -E2BIG)
		/* BPF_CGROUP_MAX_PROGS: every vpnd on the machine (one per
		 * netns) links its set to the one cgroup root. */
		log_err("shim: cannot attach %s to cgroup root %s: it already has the kernel's maximum of 64 programs of that type (about 64 vpnd per cgroup root; see docs/operations.md)",
			bpf_program__name(progs[i - 1]), s->root);
	else if (err)
		log_err("shim: cannot attach %s to cgroup root %s: %s",
			bpf_program__name(progs[i - 1]), s->root,
			strerror(-err));
	if (err)
		shim_enf_detach(s);
	return err;
}

/*
 * tc egress on the overlay interface (enf_forward): forwarded traffic from
 * namespaces that are not attached is dropped there. The filter lives as
 * long as the interface (the data plane deletes it at stop; after a crash
 * the next start deletes the old one).
 */
static int shim_fwd_attach(struct shim *s, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1,
		    .prog_fd = bpf_program__fd(s->skel->progs.enf_forward));
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		log_err("shim: cannot add a clsact qdisc to the overlay: %s",
			strerror(-err));
		return err;
	}
	opts.flags = BPF_TC_F_REPLACE;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		log_err("shim: cannot attach the forwarding check: %s",
			strerror(-err));
		return err;
	}
	return 0;
}

int shim_own_lan(struct shim *s, uint32_t net, uint8_t plen, bool add)
{
	struct shim_prefix k = { .prefixlen = plen, .addr = net };
	uint8_t one = 1;

	if (plen > 32)
		return -EINVAL;
	if (!add)
		return bpf_map__delete_elem(s->skel->maps.own_lan, &k,
					    sizeof(k), 0);
	return bpf_map__update_elem(s->skel->maps.own_lan, &k, sizeof(k),
				    &one, sizeof(one), BPF_ANY);
}

int shim_fwd_allow(struct shim *s, int ifindex, bool add)
{
	uint32_t k = (uint32_t)ifindex;
	uint8_t one = 1;

	if (!add)
		return bpf_map__delete_elem(s->skel->maps.fwd_allowed, &k,
					    sizeof(k), 0);
	return bpf_map__update_elem(s->skel->maps.fwd_allowed, &k, sizeof(k),
				    &one, sizeof(one), BPF_ANY);
}

int shim_set_overlay(struct shim *s, const char *overlay_ifname)
{
	unsigned int ifindex = if_nametoindex(overlay_ifname);

	if (!ifindex) {
		log_err("shim: no overlay interface %s", overlay_ifname);
		return -ENODEV;
	}
	__atomic_store_n(&s->skel->bss->overlay_ifindex, ifindex,
			 __ATOMIC_RELEASE);
	return shim_fwd_attach(s, (int)ifindex);
}

struct shim *shim_open(uint32_t net, uint8_t plen, uint32_t self_ip,
		       shim_event_fn fn, void *arg)
{
	uint32_t mask = prefix_mask4(plen);
	uint64_t cookie;
	struct shim *s;
	int err;

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
	err = shim_netns_cookie(&cookie);
	if (err) {
		log_err("shim: cannot read the netns cookie: %s",
			strerror(-err));
		goto err_skel;
	}
	err = shim_cgroup2_root(s->root, sizeof(s->root));
	if (err) {
		log_err("shim: no cgroup2 mount in /proc/self/mountinfo");
		goto err_skel;
	}
	s->skel->rodata->netns_cookie = cookie;
	/* 6.1 has no netns cookie in cgroup_skb: the egress check of
	 * sockets from before enforcement needs it (see the BPF source) */
	s->skel->rodata->skb_netns = libbpf_probe_bpf_helper(
		BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_get_netns_cookie, NULL) > 0;
	s->skel->rodata->self_ip = self_ip;
	err = shim_pin_prepare(s, cookie);
	if (err) {
		log_err("shim: cannot prepare pins under %s: %s",
			SHIM_PIN_ROOT, strerror(-err));
		goto err_skel;
	}
	err = shim_sock__load(s->skel);
	if (err) {
		log_err("shim: cannot load BPF programs: %s", strerror(-err));
		goto err_skel;
	}
	err = shim_protect(s, net & mask, plen);
	if (err) {
		log_err("shim: cannot protect the overlay prefix: %s",
			strerror(-err));
		goto err_skel;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events),
				 shim_ring_cb, s, NULL);
	if (!s->rb) {
		err = -errno;
		log_err("shim: cannot open ring buffer: %s", strerror(-err));
		goto err_skel;
	}
	err = shim_enf_attach(s);
	if (err)
		goto err_rb;
	err = shim_enf_pin(s);
	if (err) {
		log_err("shim: cannot pin the enforcement links under %s: %s",
			SHIM_PIN_ROOT, strerror(-err));
		goto err_enf;
	}
	log_info("shim: enforcing on cgroup root %s netns_cookie=%" PRIu64
		 " pinned=%s", s->root, cookie, s->pin_dir);
	return s;

err_enf:
	shim_enf_detach(s);
err_rb:
	ring_buffer__free(s->rb);
err_skel:
	if (s->pin_dir[0]) {
		/* the map pin is ours only if the load went that far; a
		 * previous run's stays (its links still use it) */
		rmdir(s->pin_dir);
		rmdir(SHIM_PIN_ROOT);
	}
	shim_sock__destroy(s->skel);
err_free:
	free(s);
	errno = -err;
	return NULL;
}

static void shim_att_destroy(struct shim *s, struct shim_attachment *a)
{
	int i;

	bpf_map__delete_elem(s->skel->maps.allowed, &a->cgroup_id,
			     sizeof(a->cgroup_id), 0);
	for (i = 0; i < SHIM_L_NR; i++) {
		bpf_link__destroy(a->link[i]);
		a->link[i] = NULL;
	}
}

void shim_close(struct shim *s)
{
	int i;

	if (!s)
		return;
	shim_enf_detach(s);
	for (i = 0; i < s->n_attached; i++)
		shim_att_destroy(s, &s->att[i]);
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
	struct bpf_program *progs[SHIM_L_NR] = {
		[SHIM_L_CONNECT4] = s->skel->progs.shim_connect4,
		[SHIM_L_SENDMSG4] = s->skel->progs.shim_sendmsg4,
		[SHIM_L_CONNECT6] = s->skel->progs.shim_connect6,
		[SHIM_L_SENDMSG6] = s->skel->progs.shim_sendmsg6,
	};
	struct shim_attachment *a;
	char canon[PATH_MAX];
	uint8_t one = 1;
	int fd, i, err;

	err = shim_canon(path, canon);
	if (err)
		return err;
	if (shim_find(s, canon))
		return -EALREADY;
	/* The root holds every process: allowing it would allow all. */
	if (!strcmp(canon, s->root))
		return -EPERM;
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
	for (i = 0; i < SHIM_L_NR; i++) {
		a->link[i] = bpf_program__attach_cgroup(progs[i], fd);
		if (!a->link[i]) {
			err = -errno;
			goto err_links;
		}
	}
	err = bpf_map__update_elem(s->skel->maps.allowed, &a->cgroup_id,
				   sizeof(a->cgroup_id), &one, sizeof(one),
				   BPF_ANY);
	if (err)
		goto err_links;
	close(fd);
	s->n_attached++;
	return 0;

err_links:
	shim_att_destroy(s, a);
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
	shim_att_destroy(s, a);
	*a = s->att[--s->n_attached];
	return 0;
}

int shim_protect(struct shim *s, uint32_t net, uint8_t plen)
{
	struct shim_prefix k = { .prefixlen = plen, .addr = net };
	uint8_t one = 1;

	if (plen > 32)
		return -EINVAL;
	return bpf_map__update_elem(s->skel->maps.protected, &k, sizeof(k),
				    &one, sizeof(one), BPF_ANY);
}

int shim_unprotect(struct shim *s, uint32_t net, uint8_t plen)
{
	struct shim_prefix k = { .prefixlen = plen, .addr = net };

	return bpf_map__delete_elem(s->skel->maps.protected, &k, sizeof(k), 0);
}

int shim_save(const struct shim *s, const char *file)
{
	char tmp[PATH_MAX];
	FILE *f;
	int i, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	for (i = 0; i < s->n_attached; i++)
		fprintf(f, "%s\n", s->att[i].path);
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	/* rename: a crash leaves the old list or the new one, never half. */
	if (!err && rename(tmp, file) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int shim_restore(struct shim *s, const char *file)
{
	char line[PATH_MAX + 2];
	int n = 0, err;
	size_t len;
	FILE *f;

	f = fopen(file, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		len = strlen(line);
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len)
			continue;
		err = shim_attach(s, line);
		if (err && err != -EALREADY) {
			/* e.g. a `vpnctl run` cgroup whose command ended */
			log_warn("shim: not re-attaching cgroup=\"%s\": %s",
				 line, strerror(-err));
			continue;
		}
		log_info("shim: re-attached cgroup=\"%s\"", line);
		n++;
	}
	fclose(f);
	return n;
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
	uint64_t root_id;
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
	/* Blocked callers are in no attached cgroup: a shallow look from
	 * the root (their events are deduplicated, so this stays rare). */
	if (!shim_cgroup_id(s->root, &root_id) && root_id == cgroup_id) {
		snprintf(buf, len, "%s", s->root);
		return;
	}
	if (shim_search(s->root, cgroup_id, SHIM_ROOT_SEARCH_DEPTH, buf, len))
		return;
	snprintf(buf, len, "cgroup:%" PRIu64, cgroup_id);
}

#define SHIM_DESC(id, name, prom, help) \
	{ name, help, COUNTER_COUNTER, NULL, prom },
const struct counter_desc shim_desc[SHIM_CNT_MAX] = {
	SHIM_COUNTERS(SHIM_DESC)
};

void shim_get_counters(const struct shim *s, struct shim_counters *c)
{
	uint32_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < SHIM_CNT_MAX; i++)
		bpf_map__lookup_elem(s->skel->maps.counters, &i, sizeof(i),
				     &c->cnt[i], sizeof(c->cnt[i]), 0);
}

/* ---- per-flow decisions (the `flows` map) ------------------------------ */

static uint64_t shim_now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int shim_flow_get(const struct shim *s, const struct shim_fkey *k,
		  uint64_t *left_ns, bool *allow)
{
	struct shim_fval v;
	uint64_t now = shim_now_ns();

	if (bpf_map__lookup_elem(s->skel->maps.flows, k, sizeof(*k), &v,
				 sizeof(v), 0))
		return -ENOENT;
	if (now >= v.expires_ns)
		return -ENOENT;
	*left_ns = v.expires_ns - now;
	*allow = v.allow;
	return 0;
}

int shim_flow_set(struct shim *s, const struct shim_fkey *k, bool allow,
		  uint32_t ttl_s)
{
	struct shim_fval v = { .allow = allow };

	v.expires_ns = shim_now_ns() + (uint64_t)ttl_s * 1000000000ULL;
	if (bpf_map__update_elem(s->skel->maps.flows, k, sizeof(*k), &v,
				 sizeof(v), BPF_ANY))
		return -errno;
	return 0;
}

int shim_flow_flush(struct shim *s)
{
	struct bpf_map *m = s->skel->maps.flows;
	struct shim_fkey k, next;
	int n = 0;

	/* Delete the successor each time: deleting the current key would
	 * restart the walk from the beginning of the map. */
	while (!bpf_map__get_next_key(m, NULL, &next, sizeof(next))) {
		k = next;
		if (bpf_map__delete_elem(m, &k, sizeof(k), 0))
			return -errno;
		n++;
	}
	return n;
}

int shim_flow_shorten(struct shim *s, uint64_t ttl_ns)
{
	struct bpf_map *m = s->skel->maps.flows;
	struct shim_fkey k, next, *deny = NULL, *grown;
	uint64_t until = shim_now_ns() + ttl_ns;
	size_t n_deny = 0, cap = 0, i;
	struct shim_fval v;
	int n = 0, err = 0;
	void *prev = NULL;

	while (!bpf_map__get_next_key(m, prev, &next, sizeof(next))) {
		k = next;
		prev = &k;
		if (bpf_map__lookup_elem(m, &k, sizeof(k), &v, sizeof(v), 0))
			continue;
		if (v.allow) {
			if (v.expires_ns > until) {
				v.expires_ns = until;
				bpf_map__update_elem(m, &k, sizeof(k), &v,
						     sizeof(v), BPF_EXIST);
			}
			n++;
			continue;
		}
		if (n_deny == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(deny, cap * sizeof(*deny));
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			deny = grown;
		}
		deny[n_deny++] = k;
	}
	for (i = 0; i < n_deny; i++)
		bpf_map__delete_elem(m, &deny[i], sizeof(deny[i]), 0);
	free(deny);
	return err ? err : n;
}

void shim_set_open(struct shim *s, bool open)
{
	__atomic_store_n(&s->skel->bss->flows_open, open ? 1 : 0,
			 __ATOMIC_RELEASE);
}
