// SPDX-License-Identifier: GPL-2.0-only
/*
 * authsrv command line: a verb table, one function per command. Commands
 * print one line on success (or one JSON document with --json) and one
 * line on stderr, quoting the offending input, on failure.
 * Exit codes: 0 ok, 1 failure, 2 usage error.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "audit.h"
#include "authsrv.h"
#include "keyrate.h"
#include "keysvc.h"
#include "names.h"
#include "mavpn/cli.h"
#include "mavpn/dnsmsg.h"
#include "mavpn/jsonw.h"
#include "mavpn/log.h"
#include "mavpn/prefix.h"
#include "mavpn/promhttp.h"
#include "mavpn/util.h"
#include "pki.h"
#include "policy.h"
#include "registry.h"
#include "replica.h"
#include "server.h"
#include "status.h"
#include "token.h"

struct cmd {
	const char *verb;
	const char *sub;	/* NULL: single-word command */
	int (*fn)(const struct cmd *c, int argc, char **argv);
	const char *usage;
	const char *help;
};

/* "authsrv", then "authsrv init", "authsrv token create", ... */
static struct cli cli = { .name = "authsrv" };

static int fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vfail(&cli, code, fmt, ap);
	va_end(ap);
	return code;
}

static void cmd_usage(const struct cmd *c, FILE *f)
{
	fprintf(f, "usage: authsrv %s\n  %s\n", c->usage, c->help);
}

static int need_state(const char *dir)
{
	if (!dir || !*dir)
		return cli_usage_fail(&cli, "missing --state DIR");
	return 0;
}

static struct registry *open_registry(const char *dir)
{
	char where[PATH_MAX], desc[PATH_MAX];
	struct registry *r;
	int ret;

	ret = registry_locate(dir, where, sizeof(where));
	if (ret) {
		fail(1, ret == -EINVAL ?
		     "bad %s in \"%s\": expected one postgresql:// URL line" :
		     "state directory path too long: \"%s\"",
		     ret == -EINVAL ? AUTHSRV_REGISTRY_URL : dir, dir);
		return NULL;
	}
	r = registry_open(where);
	if (!r) {
		if (errno == ENOENT)
			fail(1, "no registry in \"%s\" (run authsrv init first)",
			     dir);
		else
			fail(1, "cannot open registry \"%s\": %s",
			     registry_describe(where, desc, sizeof(desc)),
			     *registry_error() ? registry_error() :
						 strerror(errno));
	}
	return r;
}

/* --db URL: kept in DIR/registry.url (0600: it may hold a password). */
static int write_db_url(const char *dir, const char *url)
{
	char path[PATH_MAX];
	FILE *f;
	int fd;

	if (authsrv_path(path, sizeof(path), dir, AUTHSRV_REGISTRY_URL))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	fprintf(f, "%s\n", url);
	if (fclose(f)) {
		unlink(path);
		return -EIO;
	}
	return 0;
}

/* ---- init ---- */

static int cmd_init(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "overlay", required_argument, NULL, 'o' },
		{ "db", required_argument, NULL, 'd' },
		{ "domain", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *dir = NULL, *overlay = AUTHSRV_DEFAULT_OVERLAY, *why;
	const char *db = NULL;
	char domain[CTLMSG_DOMAIN_MAX] = NAMES_DEFAULT_DOMAIN;
	char reg[PATH_MAX], fp[AUTHSRV_FP_HEX_LEN + 1], file[PATH_MAX];
	char url_path[PATH_MAX], desc[PATH_MAX];
	static const char *const pki_files[] = {
		AUTHSRV_CA_PEM, AUTHSRV_CA_KEY, AUTHSRV_SERVER_PEM,
		AUTHSRV_SERVER_KEY,
	};
	bool created = false;
	struct prefix ov;
	size_t i;
	int o, ret;

	while ((o = cli_getopt(&cli, argc, argv, "h", opts)) != -1) {
		switch (o) {
		case 's': dir = optarg; break;
		case 'o': overlay = optarg; break;
		case 'd': db = optarg; break;
		case 'D':
			/* DNS names are case-insensitive: keep it lowercase. */
			for (i = 0; optarg[i] && i + 1 < sizeof(domain); i++)
				domain[i] = tolower((unsigned char)optarg[i]);
			domain[i] = '\0';
			if (optarg[i] || !dnsmsg_domain_valid(domain))
				return fail(CLI_EXIT_USAGE,
					    "bad --domain \"%.200s\": dot-separated labels of a-z, 0-9 and '-', at most %d characters",
					    optarg, CTLMSG_DOMAIN_MAX - 1);
			break;
		case 'h': cmd_usage(c, stdout); return 0;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&cli, argc, argv))
		return CLI_EXIT_USAGE;
	if (need_state(dir))
		return CLI_EXIT_USAGE;
	if (db && (!registry_is_url(db) || strlen(db) >= PATH_MAX ||
		   strpbrk(db, "\n\r")))
		return fail(CLI_EXIT_USAGE,
			    "bad --db \"%s\": expected postgresql://...",
			    registry_describe(db, desc, sizeof(desc)));
	if (prefix_parse(overlay, PREFIX_PARSE_V4, &ov, &why))
		return fail(CLI_EXIT_USAGE, "bad --overlay \"%s\": %s", overlay, why);
	if (ov.plen < 8)
		return fail(CLI_EXIT_USAGE,
			    "bad --overlay \"%s\": prefix length out of range",
			    overlay);
	if (ov.plen > 30)
		return fail(CLI_EXIT_USAGE,
			    "bad --overlay \"%s\": prefix too small (at most /30)",
			    overlay);
	if (authsrv_path(reg, sizeof(reg), dir, AUTHSRV_REGISTRY) ||
	    authsrv_path(url_path, sizeof(url_path), dir, AUTHSRV_REGISTRY_URL))
		return fail(1, "state directory path too long: \"%s\"", dir);

	if (mkdir(dir, 0700) == 0) {
		created = true;
		chmod(dir, 0700);	/* whatever the umask said */
	} else if (errno != EEXIST) {
		return fail(1, "cannot create state directory \"%s\": %s", dir,
			    strerror(errno));
	}
	if (access(reg, F_OK) == 0 || access(url_path, F_OK) == 0)
		return fail(1, "\"%s\" already holds a registry (%s); refusing to overwrite",
			    dir, access(reg, F_OK) == 0 ? AUTHSRV_REGISTRY :
			    AUTHSRV_REGISTRY_URL);

	ret = pki_create(dir, &why);
	if (ret) {
		fail(1, "cannot create CA in \"%s\": %s: %s", dir, why,
		     strerror(-ret));
		goto err_dir;
	}
	ret = names_domain_store(dir, domain);
	if (ret) {
		fail(1, "cannot write \"%s/%s\": %s", dir, NAMES_FILE,
		     strerror(-ret));
		goto err_pki;
	}
	ret = registry_create(db ? db : reg, ov.v4, ov.plen);
	if (ret) {
		if (ret == -EEXIST && db)
			fail(1, "database \"%s\" already holds a registry; refusing to overwrite (a replica is a copy of the first server's state directory)",
			     registry_describe(db, desc, sizeof(desc)));
		else
			fail(1, "cannot create registry \"%s\": %s",
			     db ? registry_describe(db, desc, sizeof(desc)) : reg,
			     *registry_error() ? registry_error() :
						 strerror(-ret));
		goto err_domain;
	}
	if (db) {
		ret = write_db_url(dir, db);
		if (ret) {
			fail(1, "cannot write \"%s\": %s", url_path,
			     strerror(-ret));
			goto err_domain;
		}
	}
	authsrv_path(file, sizeof(file), dir, AUTHSRV_CA_PEM);
	if (pki_fingerprint_file(file, fp))
		snprintf(fp, sizeof(fp), "unknown");
	printf("initialized \"%s\": CA %s (sha256 %s), server certificate %s, registry %s, overlay %s, domain %s\n",
	       dir, AUTHSRV_CA_PEM, fp, AUTHSRV_SERVER_PEM,
	       db ? registry_describe(db, desc, sizeof(desc)) : AUTHSRV_REGISTRY,
	       overlay, domain);
	return 0;

err_domain:
	if (!authsrv_path(file, sizeof(file), dir, NAMES_FILE))
		unlink(file);

err_pki:
	for (i = 0; i < sizeof(pki_files) / sizeof(pki_files[0]); i++)
		if (!authsrv_path(file, sizeof(file), dir, pki_files[i]))
			unlink(file);
err_dir:
	if (created)
		rmdir(dir);
	return 1;
}

/* ---- token create ---- */

/* Append @item to a comma-separated list. */
static int list_add(char *list, size_t cap, const char *item)
{
	size_t len = strlen(list);
	int n = snprintf(list + len, cap - len, "%s%s", len ? "," : "", item);

	return n < 0 || (size_t)n >= cap - len ? -ENOSPC : 0;
}

/* One token for @name (@tp has the CA fingerprint), printed alone. */
static int cmd_token_one(struct registry *reg, const char *dir,
			    const char *name, long ttl, const char *tags,
			    const char *routes, struct token_parts *tp)
{
	uint8_t hash[32];

	if (token_generate(tp) || token_hash(tp, hash))
		return fail(1, "random number generator failed");
	if (registry_token_add(reg, tp->id, hash, name, real_s() + ttl,
			       tags, routes))
		return fail(1, "cannot store token in registry of \"%s\"", dir);
	printf("%s.%s.%s.%s\n", AUTHSRV_TOKEN_PREFIX, tp->id, tp->secret,
	       tp->ca_fp);
	return 0;
}

/*
 * --count N: tokens for NAME-1 .. NAME-N, one per line as "NAME-i TOKEN",
 * in one transaction (fleet provisioning; one fsync instead of N). Names
 * already enrolled are skipped at enrollment.
 */
static int cmd_token_count(struct registry *reg, const char *dir,
			      const char *name, long count, long ttl,
			      const char *tags, const char *routes,
			      struct token_parts *tp)
{
	char hname[CTLMSG_NAME_MAX];
	uint8_t hash[32];
	long i;
	int ret;

	ret = registry_begin(reg);
	for (i = 1; !ret && i <= count; i++) {
		snprintf(hname, sizeof(hname), "%s-%ld", name, i);
		if (token_generate(tp) || token_hash(tp, hash)) {
			ret = -EIO;
			break;
		}
		ret = registry_token_add(reg, tp->id, hash, hname,
					 real_s() + ttl, tags, routes);
		if (!ret)
			printf("%s %s.%s.%s.%s\n", hname, AUTHSRV_TOKEN_PREFIX,
			       tp->id, tp->secret, tp->ca_fp);
	}
	if (!ret)
		ret = registry_commit(reg);
	else
		registry_rollback(reg);
	if (ret) {
		fflush(stdout);
		return fail(1, "cannot store tokens in registry of \"%s\" (none kept)",
			    dir);
	}
	return 0;
}

/* Long for its option loop: each option's check and error line sit next
 * to it (the storing is cmd_token_one/_count()). */
#define TOKEN_MAX_ROUTES	32

struct route_check {
	const struct prefix *routes;
	unsigned int n;
	char err[256];
};

/* An enrolled, not revoked gateway whose routes overlap one of ours. */
static int route_check_host(const struct reg_host *h, void *arg)
{
	struct prefix theirs[TOKEN_MAX_ROUTES * 4];
	char a[PREFIX_STRLEN], b[PREFIX_STRLEN];
	struct route_check *rc = arg;
	const char *why;
	unsigned int i;
	int j, n;

	if (h->revoked || !h->routes[0])
		return 0;
	n = prefix_list_parse(h->routes, PREFIX_PARSE_V4, theirs,
			      sizeof(theirs) / sizeof(theirs[0]), &why);
	for (j = 0; j < n; j++)
		for (i = 0; i < rc->n; i++)
			if (prefix_overlaps(&rc->routes[i], &theirs[j])) {
				snprintf(rc->err, sizeof(rc->err),
					 "--route %s overlaps %s of gateway %s",
					 prefix_format(&rc->routes[i], a,
						       sizeof(a)),
					 prefix_format(&theirs[j], b,
						       sizeof(b)),
					 h->name);
				return 1;
			}
	return 0;
}

/*
 * Routes are data other hosts act on: none may cover the overlay (its
 * traffic would leave the tunnel), a default route needs --full-tunnel,
 * and no two gateways front the same addresses. 0, or 1 after one line on
 * stderr.
 */
static int token_check_routes(struct registry *reg, const struct prefix *r,
			      unsigned int n, bool full_tunnel)
{
	struct route_check rc = { .routes = r, .n = n };
	struct prefix overlay = { .family = AF_INET };
	char a[PREFIX_STRLEN], b[PREFIX_STRLEN];
	unsigned int i, k;
	int ret;

	if (registry_overlay(reg, &overlay.v4, &overlay.plen))
		return fail(1, "cannot read the overlay prefix from the registry");
	for (i = 0; i < n; i++) {
		if (!r[i].plen && !full_tunnel)
			return fail(CLI_EXIT_USAGE,
				    "--route %s takes every address: add --full-tunnel if this gateway is meant to carry all traffic",
				    prefix_format(&r[i], a, sizeof(a)));
		if (prefix_overlaps(&r[i], &overlay) && r[i].plen)
			return fail(CLI_EXIT_USAGE,
				    "--route %s overlaps the overlay %s",
				    prefix_format(&r[i], a, sizeof(a)),
				    prefix_format(&overlay, b, sizeof(b)));
		for (k = 0; k < i; k++)
			if (prefix_overlaps(&r[i], &r[k]))
				return fail(CLI_EXIT_USAGE,
					    "--route %s overlaps --route %s",
					    prefix_format(&r[i], a, sizeof(a)),
					    prefix_format(&r[k], b, sizeof(b)));
	}
	ret = registry_host_foreach(reg, route_check_host, &rc);
	if (ret < 0)
		return fail(1, "cannot read the gateways from the registry");
	if (ret)
		return fail(1, "%s", rc.err);
	return 0;
}

static int cmd_token_create(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		{ "tag", required_argument, NULL, 'g' },
		{ "route", required_argument, NULL, 'r' },
		{ "full-tunnel", no_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *dir = NULL, *name, *why;
	long count = 0;
	char tags[512] = "", routes[512] = "", path[PATH_MAX];
	struct token_parts tp;
	struct registry *reg;
	struct reg_host h;
	long ttl = 3600;
	struct prefix route[TOKEN_MAX_ROUTES];
	unsigned int nroutes = 0;
	bool full_tunnel = false;
	int o, ret;

	while ((o = cli_getopt(&cli, argc, argv, "h", opts)) != -1) {
		switch (o) {
		case 's':
			dir = optarg;
			break;
		case 't':
			if (parse_long(optarg, 1, 365L * 86400, &ttl))
				return fail(CLI_EXIT_USAGE,
					    "bad --ttl \"%s\": seconds, 1..31536000",
					    optarg);
			break;
		case 'g':
			if (!authsrv_valid_tag(optarg))
				return fail(CLI_EXIT_USAGE,
					    "bad --tag \"%s\": use [a-z0-9][a-z0-9._-]{0,31}",
					    optarg);
			if (list_add(tags, sizeof(tags), optarg))
				return fail(CLI_EXIT_USAGE, "too many tags at \"%s\"",
					    optarg);
			break;
		case 'r':
			if (nroutes == TOKEN_MAX_ROUTES)
				return fail(CLI_EXIT_USAGE,
					    "too many routes at \"%s\"", optarg);
			if (prefix_parse(optarg, PREFIX_PARSE_V4,
					 &route[nroutes], &why))
				return fail(CLI_EXIT_USAGE, "bad --route \"%s\": %s",
					    optarg, why);
			nroutes++;
			if (list_add(routes, sizeof(routes), optarg))
				return fail(CLI_EXIT_USAGE,
					    "too many routes at \"%s\"", optarg);
			break;
		case 'F':
			full_tunnel = true;
			break;
		case 'n':
			if (parse_long(optarg, 1, 1000000, &count))
				return fail(CLI_EXIT_USAGE,
					    "bad --count \"%s\": 1..1000000",
					    optarg);
			break;
		case 'h':
			cmd_usage(c, stdout);
			return 0;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_fail(&cli, "missing NAME");
	if (optind + 1 < argc)
		return cli_usage_fail(&cli, "unexpected argument \"%s\"",
				      argv[optind + 1]);
	name = argv[optind];
	if (!strcmp(name, TLSCONN_SERVER_NAME))
		return fail(CLI_EXIT_USAGE,
			    "bad NAME \"%s\": reserved for the server certificate",
			    name);
	if (!authsrv_valid_name(name) || (count && strlen(name) > 55))
		return fail(CLI_EXIT_USAGE,
			    "bad NAME \"%s\": use [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?%s",
			    name, count ? ", at most 55 with --count" : "");
	if (need_state(dir))
		return CLI_EXIT_USAGE;

	reg = open_registry(dir);
	if (!reg)
		return 1;
	ret = nroutes ? token_check_routes(reg, route, nroutes, full_tunnel) : 0;
	if (ret) {
		registry_close(reg);
		return ret;
	}
	if (!count) {
		ret = registry_host_by_name(reg, name, &h);
		if (ret != -ENOENT) {
			registry_close(reg);
			if (ret == 0)
				return fail(1, "host \"%s\" is already enrolled",
					    name);
			return fail(1, "cannot read registry in \"%s\"", dir);
		}
	}
	authsrv_path(path, sizeof(path), dir, AUTHSRV_CA_PEM);
	ret = pki_fingerprint_file(path, tp.ca_fp);
	if (ret) {
		registry_close(reg);
		return fail(1, "cannot read CA certificate \"%s\": %s", path,
			    strerror(-ret));
	}
	ret = count ? cmd_token_count(reg, dir, name, count, ttl, tags,
					 routes, &tp) :
		      cmd_token_one(reg, dir, name, ttl, tags, routes, &tp);
	registry_close(reg);
	return ret;
}

/* ---- client list ---- */

struct list_ctx {
	struct jsonw *j;
	struct status_set *st;
	char *online;		/* admin socket: "name\n"..., shared
				 * registry: "name replica\n"... */
	int running;		/* 1 live server status, 0 unknown */
	bool shared;		/* replicas: online from the registry */
};

/* The line of @name in l->online, or NULL. */
static const char *list_online_line(const struct list_ctx *l, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = l->online; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, n) &&
		    (p[n] == '\n' || p[n] == '\0' || p[n] == ' '))
			return p;
	return NULL;
}

static bool list_online(const struct list_ctx *l, const char *name)
{
	if (!l->online)
		return status_online(l->st, name);
	return list_online_line(l, name) != NULL;
}

/* Shared registry: "name replica\n" lines of the live replicas. */
static int list_online_add(const char *name, const char *replica, void *arg)
{
	FILE *f = arg;

	fprintf(f, "%s %s\n", name, replica);
	return 0;
}

static int list_online_shared(struct registry *reg, struct list_ctx *l)
{
	size_t len = 0;
	FILE *f = open_memstream(&l->online, &len);
	int ret;

	if (!f)
		return -ENOMEM;
	ret = registry_online_foreach(reg, real_s() - REPLICA_DEAD_S,
				      list_online_add, f);
	fclose(f);
	return ret;
}

static void json_list(struct jsonw *j, const char *key, const char *csv)
{
	char buf[512], *save = NULL, *tok;

	jsonw_arr_begin(j, key);
	snprintf(buf, sizeof(buf), "%s", csv);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		jsonw_str(j, NULL, tok);
	jsonw_arr_end(j);
}

static int list_one(const struct reg_host *h, void *arg)
{
	struct list_ctx *l = arg;
	char ip[INET_ADDRSTRLEN], when[32];
	bool online = list_online(l, h->name);
	time_t t = (time_t)h->enrolled_at;
	struct tm tm;

	inet_ntop(AF_INET, &h->overlay_ip, ip, sizeof(ip));
	if (l->j) {
		jsonw_obj_begin(l->j, NULL);
		jsonw_str(l->j, "name", h->name);
		jsonw_str(l->j, "overlay_ip", ip);
		if (l->running)
			jsonw_bool(l->j, "online", online);
		else
			jsonw_null(l->j, "online");
		if (l->shared) {
			const char *line = list_online_line(l, h->name);
			char rep[320] = "";

			if (line)
				sscanf(line + strlen(h->name), " %319[^\n]", rep);
			if (rep[0])
				jsonw_str(l->j, "replica", rep);
			else
				jsonw_null(l->j, "replica");
		}
		jsonw_bool(l->j, "revoked", h->revoked);
		jsonw_i64(l->j, "enrolled_at", h->enrolled_at);
		jsonw_str(l->j, "cert_serial", h->cert_serial);
		json_list(l->j, "tags", h->tags);
		json_list(l->j, "routes", h->routes);
		jsonw_obj_end(l->j);
		return 0;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-24s %-15s %-7s %-7s %-20s %s\n", h->name, ip,
	       !l->running ? "unknown" : online ? "yes" : "no",
	       h->revoked ? "yes" : "no", when, h->tags[0] ? h->tags : "-");
	return 0;
}

static int cmd_client_list(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct list_ctx l = {};
	struct registry *reg;
	const char *dir = NULL;
	bool json = false;
	int o, ret;

	while ((o = cli_getopt(&cli, argc, argv, "h", opts)) != -1) {
		switch (o) {
		case 's': dir = optarg; break;
		case 'j': json = true; break;
		case 'h': cmd_usage(c, stdout); return 0;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&cli, argc, argv))
		return CLI_EXIT_USAGE;
	if (need_state(dir))
		return CLI_EXIT_USAGE;
	reg = open_registry(dir);
	if (!reg)
		return 1;
	/* Replicas: the fleet's table. Else the live answer if a server
	 * runs; its status file otherwise. */
	if (registry_shared(reg)) {
		l.shared = true;
		l.running = 1;
		if (list_online_shared(reg, &l)) {
			ret = fail(1, "cannot read the online hosts from the registry: %s",
				   registry_error());
			goto out;
		}
	} else if (admin_request(dir, "online", &l.online) == 0) {
		l.running = 1;
	} else {
		free(l.online);
		l.online = NULL;
		l.running = status_load(dir, &l.st);
		if (l.running < 0)
			l.running = 0;
	}
	if (json) {
		l.j = jsonw_new();
		if (!l.j) {
			ret = fail(1, "out of memory");
			goto out;
		}
		jsonw_arr_begin(l.j, NULL);
	} else {
		printf("%-24s %-15s %-7s %-7s %-20s %s\n", "NAME", "OVERLAY_IP",
		       "ONLINE", "REVOKED", "ENROLLED", "TAGS");
	}
	ret = registry_host_foreach(reg, list_one, &l);
	if (ret) {
		ret = fail(1, "cannot read registry in \"%s\"", dir);
		goto out;
	}
	if (json) {
		jsonw_arr_end(l.j);
		if (!jsonw_get(l.j)) {
			ret = fail(1, "out of memory");
			goto out;
		}
		printf("%s\n", jsonw_get(l.j));
	}
	ret = 0;
out:
	jsonw_free(l.j);
	free(l.online);
	status_free(l.st);
	registry_close(reg);
	return ret;
}

/* ---- options shared by revoke and policy set: ARG --state DIR ---- */

static int cmd_arg_state(const struct cmd *c, int argc, char **argv,
			 const char *what, const char **arg, const char **dir)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int o;

	*dir = NULL;
	while ((o = cli_getopt(&cli, argc, argv, "h", opts)) != -1) {
		switch (o) {
		case 's': *dir = optarg; break;
		case 'h': cmd_usage(c, stdout); return -1;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_fail(&cli, "missing %s", what);
	if (optind + 1 < argc)
		return cli_usage_fail(&cli, "unexpected argument \"%s\"",
				      argv[optind + 1]);
	*arg = argv[optind];
	return need_state(*dir);
}

/* Offline: the CLI writes the audit line the server would have written. */
static void audit_offline(const char *dir, const struct audit_rec *r)
{
	struct audit *a;

	if (audit_open(dir, &a) == 0) {
		audit_write(a, r);
		audit_close(a);
	}
}

/* ---- client revoke ---- */

static int cmd_client_revoke(const struct cmd *c, int argc, char **argv)
{
	const char *dir, *name;
	struct registry *reg;
	struct reg_host h;
	char line[ADMIN_LINE_MAX], *reply = NULL, state[16] = "";
	int ret, n = 0;

	ret = cmd_arg_state(c, argc, argv, "NAME", &name, &dir);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (!authsrv_name_syntax(name))
		return fail(CLI_EXIT_USAGE, "bad NAME \"%s\": use [a-z0-9][a-z0-9-]{0,62}",
			    name);
	reg = open_registry(dir);
	if (!reg)
		return 1;
	/* The registry first: from this commit on the host is refused,
	 * whether or not a server runs (it re-reads per session/request). */
	ret = registry_revoke(reg, name, real_s(), &h);
	registry_close(reg);
	if (ret == -ENOENT)
		return fail(1, "no host named \"%s\" in \"%s\"", name, dir);
	if (ret)
		return fail(1, "cannot update registry in \"%s\"", dir);
	snprintf(line, sizeof(line), "revoke %s", name);
	ret = admin_request(dir, line, &reply);
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		audit_offline(dir, &(struct audit_rec){ .event = "revoke",
			.host = name, .reason = "no server running" });
		printf("revoked %s%s (no server running)\n", name,
		       h.revoked ? " (already revoked)" : "");
		return 0;
	}
	if (ret) {
		ret = fail(1, "revoked %s in the registry, but the running server did not confirm: %s",
			   name, ret == -EPROTO && reply ? reply : strerror(-ret));
		free(reply);
		return ret;
	}
	sscanf(reply, "%15s %d", state, &n);
	free(reply);
	printf("revoked %s: %s, %d peer%s told to drop their keys\n", name,
	       !strcmp(state, "closed") ? "channel closed" : "host was offline",
	       n, n == 1 ? "" : "s");
	return 0;
}

/* ---- policy set ---- */

static int cmd_policy_set(const struct cmd *c, int argc, char **argv)
{
	const char *dir, *file;
	char err[256], *text = NULL, *reply = NULL;
	struct registry *reg;
	struct policy *p;
	size_t len = 0;
	FILE *f;
	int ret, n;

	ret = cmd_arg_state(c, argc, argv, "FILE", &file, &dir);
	if (ret)
		return ret < 0 ? 0 : ret;
	f = strcmp(file, "-") ? fopen(file, "re") : stdin;
	if (!f)
		return fail(1, "cannot open \"%s\": %s", file, strerror(errno));
	{
		FILE *m = open_memstream(&text, &len);
		char buf[4096];
		size_t got, total = 0;

		if (!m) {
			if (f != stdin)
				fclose(f);
			return fail(1, "out of memory");
		}
		/* Not @len: open_memstream() updates it only on flush. */
		while ((got = fread(buf, 1, sizeof(buf), f)) > 0 &&
		       total + got < 1024 * 1024) {
			fwrite(buf, 1, got, m);
			total += got;
		}
		fclose(m);
	}
	if (f != stdin)
		fclose(f);
	if (!text || len >= 1024 * 1024 - 4096 || strlen(text) != len) {
		free(text);
		return fail(1, "\"%s\" is not a policy text file (binary or over 1 MiB)",
			    file);
	}
	p = policy_parse(text, err, sizeof(err));
	if (!p) {
		free(text);
		return fail(1, "\"%s\" %s", file, err);
	}
	n = policy_nrules(p);
	policy_free(p);
	reg = open_registry(dir);
	if (!reg) {
		free(text);
		return 1;
	}
	ret = registry_policy_set(reg, text, real_s());
	registry_close(reg);
	free(text);
	if (ret)
		return fail(1, "cannot store the policy in the registry of \"%s\"",
			    dir);
	ret = admin_request(dir, "policy", &reply);
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		audit_offline(dir, &(struct audit_rec){ .event = "policy_set",
			.reason = "stored; no server running" });
		printf("policy stored: %d rule%s from %s (no server running)\n",
		       n, n == 1 ? "" : "s", file);
		return 0;
	}
	if (ret) {
		ret = fail(1, "policy stored, but the running server did not load it: %s",
			   ret == -EPROTO && reply ? reply : strerror(-ret));
		free(reply);
		return ret;
	}
	free(reply);
	printf("policy loaded: %d rule%s from %s\n", n, n == 1 ? "" : "s",
	       file);
	return 0;
}

/* ---- serve ---- */

static int cmd_serve(const struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "key-lifetime", required_argument, NULL, 'L' },
		{ "key-packets", required_argument, NULL, 'P' },
		{ "max-sessions", required_argument, NULL, 'M' },
		{ "handshake-timeout", required_argument, NULL, 'H' },
		{ "key-rate", required_argument, NULL, 'R' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct serve_opts so = { .key_lifetime = KEYSVC_LIFETIME_S,
				 .key_rate = KEYRATE_DEFAULT };
	const char *dir = NULL, *listen = NULL;
	bool verbose = false;
	long n;
	int o;

	while ((o = cli_getopt(&cli, argc, argv, "hv", opts)) != -1) {
		switch (o) {
		case 's': dir = optarg; break;
		case 'l': listen = optarg; break;
		case 'L':
		case 'P':
		case 'M':
			if (parse_long(optarg, 1, o == 'L' ? 86400L :
					o == 'M' ? 1000000L : 0xffffffffL, &n))
				return fail(CLI_EXIT_USAGE, "bad --%s \"%s\"",
					    o == 'L' ? "key-lifetime" :
					    o == 'P' ? "key-packets" :
						       "max-sessions", optarg);
			if (o == 'L')
				so.key_lifetime = (uint32_t)n;
			else if (o == 'P')
				so.key_max_packets = (uint32_t)n;
			else
				so.max_sessions = (unsigned int)n;
			break;
		case 'H':
			if (parse_long(optarg, 1, 300, &n))
				return fail(CLI_EXIT_USAGE,
					    "bad --handshake-timeout \"%s\": seconds, 1..300",
					    optarg);
			so.handshake_timeout = (unsigned int)n;
			break;
		case 'R':
			if (parse_long(optarg, 0, 1000000, &n))
				return fail(CLI_EXIT_USAGE,
					    "bad --key-rate \"%s\": key requests per second and host, 0..1000000 (0: no limit)",
					    optarg);
			so.key_rate = (uint32_t)n;
			break;
		case 'm': {
			struct sockaddr_in sa;

			if (promhttp_parse_addr(optarg, &sa))
				return fail(CLI_EXIT_USAGE,
					    "bad --metrics \"%s\": expected IPV4-ADDRESS:PORT",
					    optarg);
			so.metrics = optarg;
			break;
		}
		case 'v': verbose = true; break;
		case 'h': cmd_usage(c, stdout); return 0;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&cli, argc, argv))
		return CLI_EXIT_USAGE;
	if (need_state(dir))
		return CLI_EXIT_USAGE;
	if (!listen)
		return cli_usage_fail(&cli, "missing --listen ADDR:PORT");
	log_init("authsrv", verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	so.dir = dir;
	so.listen = listen;
	return server_serve(&so);
}

static const struct cmd cmds[] = {
	{ "init", NULL, cmd_init, "init --state DIR [--overlay CIDR] [--domain DOMAIN] [--db URL]",
	  "create CA, server certificate and registry (refuses to overwrite); "
	  "default overlay " AUTHSRV_DEFAULT_OVERLAY ", default domain "
	  NAMES_DEFAULT_DOMAIN " (vpnd answers DNS for NAME.DOMAIN); --db postgresql://...: "
	  "the registry lives in PostgreSQL (URL kept in DIR/" AUTHSRV_REGISTRY_URL
	  "), a replica is a copy of DIR running serve against the same database; "
	  "default: SQLite in DIR/" AUTHSRV_REGISTRY },
	{ "serve", NULL, cmd_serve,
	  "serve --state DIR --listen ADDR:PORT [--key-lifetime SECONDS] [--key-packets N] [--max-sessions N] [--handshake-timeout SECONDS] [--key-rate N] [--metrics ADDR:PORT] [--verbose]",
	  "run the server in the foreground (SIGINT/SIGTERM: clean exit); keys live "
	  "300 s by default, --key-packets caps packets per key and direction, "
	  "--max-sessions defaults to 8192 (one source address may hold "
	  "min(16, N/8) unauthenticated ones), --handshake-timeout (default 5) "
	  "bounds TLS handshake and ENROLL_REQ of unauthenticated connections, --key-rate limits KEY_REQ per host "
	  "(default 32/s after a burst of 2x; 0: off), --metrics serves Prometheus metrics "
	  "on http://ADDR:PORT/metrics (off by default)" },
	{ "token", "create", cmd_token_create,
	  "token create NAME --state DIR [--ttl SECONDS] [--tag TAG]... [--route CIDR]... [--full-tunnel] [--count N]",
	  "print a one-time enrollment token for host NAME (default ttl 3600); "
	  "--route: a LAN this gateway fronts (not the overlay, not another "
	  "gateway's; 0.0.0.0/0 only with --full-tunnel); "
	  "--count N prints \"NAME-i TOKEN\" lines for NAME-1..NAME-N" },
	{ "client", "list", cmd_client_list, "client list --state DIR [--json]",
	  "enrolled hosts, overlay addresses, online, revoked" },
	{ "client", "revoke", cmd_client_revoke, "client revoke NAME --state DIR",
	  "revoke host NAME: refused from now on; a running server closes its "
	  "channel and makes its peers drop their keys" },
	{ "policy", "set", cmd_policy_set, "policy set FILE --state DIR",
	  "check and store the access policy (FILE \"-\": stdin) and load it "
	  "into a running server (without one: all enrolled may talk)" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage_all(FILE *f, const char *verb)
{
	size_t i;

	fprintf(f, "usage:\n");
	for (i = 0; i < NCMDS; i++)
		if (!verb || !strcmp(verb, cmds[i].verb))
			fprintf(f, "  authsrv %s\n      %s\n", cmds[i].usage,
				cmds[i].help);
}

int main(int argc, char **argv)
{
	static char name[64];
	const char *verb;
	bool known = false;
	size_t i;

	if (argc < 2)
		return cli_usage_fail(&cli, "missing command");
	verb = argv[1];
	if (cli_is_help(verb)) {
		usage_all(stdout, NULL);
		return 0;
	}
	for (i = 0; i < NCMDS; i++) {
		const struct cmd *c = &cmds[i];

		if (strcmp(verb, c->verb))
			continue;
		known = true;
		if (!c->sub) {
			snprintf(name, sizeof(name), "authsrv %s", c->verb);
			cli.name = name;
			return c->fn(c, argc - 1, argv + 1);
		}
		if (argc >= 3 && !strcmp(argv[2], c->sub)) {
			snprintf(name, sizeof(name), "authsrv %s %s", c->verb,
				 c->sub);
			cli.name = name;
			return c->fn(c, argc - 2, argv + 2);
		}
	}
	if (!known)
		return cli_bad_command(&cli, verb);
	snprintf(name, sizeof(name), "authsrv %s", verb);
	cli.name = name;
	if (argc < 3)
		return cli_usage_fail(&cli, "missing subcommand");
	if (cli_is_help(argv[2])) {
		usage_all(stdout, verb);
		return 0;
	}
	return cli_bad_command(&cli, argv[2]);
}
