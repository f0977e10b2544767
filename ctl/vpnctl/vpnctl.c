// SPDX-License-Identifier: GPL-2.0-only
/*
 * vpnctl: the operator's CLI for a running vpnd. It only sends one request
 * line on the control socket and prints the answer: vpnd formats text and
 * JSON itself, so both stay in one place.
 *
 *   vpnctl [--sock PATH] [--json] attach CGROUP_DIR | detach CGROUP_DIR |
 *                                 status | peers | flows | resolve NAME
 *   vpnctl [--sock PATH] run [--] CMD [ARG]...
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "mavpn/cli.h"
#include "mavpn/ctlproto.h"
#include "mavpn/jsonw.h"
#include "mavpn/linesock.h"

/* How long we wait for vpnd's answer (resolve waits up to 3 s there). */
#define VPNCTL_TIMEOUT_MS	10000
#define VPNCTL_REPLY_MAX	(4 * 1024 * 1024)

/* The global options and the error reporter, for whatever talks to vpnd. */
struct vpnctl {
	struct cli cli;		/* first: report() gets from it to json */
	const char *sock;	/* --sock */
	bool json;		/* --json */
};

/* The one error path: a line on stderr and, with --json, a JSON object. */
static void report(const struct cli *c, const char *msg)
{
	const struct vpnctl *v = (const struct vpnctl *)c;
	struct jsonw *j;

	fprintf(stderr, "%s: %s\n", c->name, msg);
	if (!v->json)
		return;
	j = jsonw_new();
	if (!j)
		return;
	jsonw_obj_begin(j, NULL);
	jsonw_str(j, "error", msg);
	jsonw_obj_end(j);
	if (jsonw_get(j))
		printf("%s\n", jsonw_get(j));
	jsonw_free(j);
}

static void __attribute__((format(printf, 2, 3)))
fail(const struct vpnctl *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vfail(&v->cli, 1, fmt, ap);
	va_end(ap);
}

/*
 * Send "[json ]VERB[ ARG]\n" and read the whole answer. Returns 0 and the
 * body in *body (caller frees) on "ok", 1 after printing vpnd's error, -1
 * after printing a local error.
 */
static int request(const struct vpnctl *v, const char *verb, const char *arg,
		   char **body)
{
	char *line = NULL;
	int ret, llen;

	*body = NULL;
	llen = asprintf(&line, "%s%s%s%s", v->json ? CTLPROTO_JSON_PREFIX : "",
			verb, arg ? " " : "", arg ? arg : "");
	if (llen < 0 || llen + 1 > CTLPROTO_LINE_MAX) {
		free(line);
		fail(v, "argument too long for %s", verb);
		return -1;
	}
	ret = linesock_request(v->sock, line, VPNCTL_TIMEOUT_MS,
			       VPNCTL_REPLY_MAX, body);
	free(line);
	switch (ret) {
	case 0:
		return 0;
	case -EPROTO:
		fail(v, "%s", *body);
		free(*body);
		*body = NULL;
		return 1;
	case -ENAMETOOLONG:
		fail(v, "socket path too long: %s", v->sock);
		break;
	case -ETIMEDOUT:
		fail(v, "no answer from vpnd at %s: timed out", v->sock);
		break;
	case -EMSGSIZE:
		fail(v, "answer from vpnd too large");
		break;
	case -EBADMSG:
		fail(v, "malformed answer from vpnd at %s", v->sock);
		break;
	case -EINVAL:
		fail(v, "argument for %s holds a newline", verb);
		break;
	case -ECONNRESET:
	case -EPIPE:
		fail(v, "no answer from vpnd at %s: %s", v->sock,
		     strerror(-ret));
		break;
	default:
		fail(v, "cannot connect to vpnd at %s: %s", v->sock,
		     strerror(-ret));
	}
	return -1;
}

/* Ask vpnd and print its answer as is. Exit code. */
static int simple(const struct vpnctl *v, const char *verb, const char *arg)
{
	char *body;
	int ret = request(v, verb, arg, &body);

	if (ret)
		return 1;
	fputs(body, stdout);
	free(body);
	return 0;
}

static bool is_netns(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == NSFS_MAGIC;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vpnctl [--sock PATH] [--json] COMMAND [ARG]\n"
		"\n"
		"commands:\n"
		"  attach CGROUP_DIR|NETNS  protect every process in that cgroup (v2),\n"
		"                      or let that network namespace's forwarded traffic in\n"
		"  detach CGROUP_DIR|NETNS  stop it\n"
		"  run [--] CMD [ARG]...  run CMD in a fresh attached cgroup\n"
		"  status              this host, the server link, workers\n"
		"  peers               peers with live keys and their counters\n"
		"  flows               recent flows: application, user, destination, verdict\n"
		"  resolve NAME        overlay address of an enrolled host\n"
		"\n"
		"options:\n"
		"  --sock PATH   vpnd's control socket (default %s)\n"
		"  --json        one JSON document on stdout\n"
		"  --help        this text (also: vpnctl COMMAND --help)\n"
		"\n"
		"exit status: 0 ok, 1 failure, 2 usage error\n",
		CTLPROTO_PATH_DEFAULT);
}

static const struct {
	const char *verb;
	const char *args;	/* NULL: takes no argument */
	const char *help;
} cmds[] = {
	{ "attach", "CGROUP_DIR|NETNS", "Attach vpnd's socket shim to a cgroup v2 directory: its processes (and\nits descendants') may reach protected destinations (the overlay and\ngateway routes), and their flows request keys ahead. Processes in no\nattached cgroup get EPERM. vpnd remembers the list across restarts.\nNETNS (a named network namespace, /run/netns/NAME; a container's by its\nPID: ip netns attach NAME PID first): traffic this host forwards from that namespace into the overlay (a\ncontainer it routes or NATs) is let in; from namespaces not attached it\nis dropped. Resolved to this host's links into it (veth) at attach." },
	{ "detach", "CGROUP_DIR|NETNS", "Detach vpnd's socket shim from a cgroup v2 directory (its processes\nlose access to protected destinations), or stop letting in a network\nnamespace's forwarded traffic." },
	{ "status", NULL, "Show this host, the server link, the workers and counters." },
	{ "peers", NULL, "List peers with live keys and their traffic counters." },
	{ "flows", NULL, "List the last 256 flows towards protected destinations: time,\nverdict (pass, key-requested, key-pending, key-granted, key-denied,\nblocked, flow-asked, flow-allowed, flow-denied), destination, protocol,\nhook, pid, user (NAME(UID)), comm and application (cgroup path; \"-\"\nwhen the data plane saw the packet)." },
	{ "resolve", "NAME", "Print the overlay address of the enrolled host NAME (asks the server)." },
};

static int cmd_help(const char *verb)
{
	size_t i;

	if (!strcmp(verb, "run")) {
		printf("usage: vpnctl [--sock PATH] run [--] CMD [ARG]...\n\n"
		       "Run CMD in a fresh cgroup that vpnd protects; remove the cgroup\n"
		       "when CMD exits. Exits with CMD's status (128+N if killed by signal N).\n"
		       "Put -- before a CMD that starts with \"-\".\n");
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(verb, cmds[i].verb))
			continue;
		printf("usage: vpnctl [--sock PATH] [--json] %s%s%s\n\n%s\n",
		       verb, cmds[i].args ? " " : "",
		       cmds[i].args ? cmds[i].args : "", cmds[i].help);
		return 0;
	}
	return 2;
}

/* The cgroup2 mount point from /proc/self/mountinfo. */
static int cgroup2_mount(char *out, size_t len)
{
	char line[4096], mnt[PATH_MAX], *sep;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (found && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts... - fstype src */
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (strlen(mnt) < len) {
			strcpy(out, mnt);	/* no escapes in usual paths */
			found = 0;
		}
	}
	fclose(f);
	return found;
}

/* The command `run` waits for: a signal handler reaches it only here. */
static volatile pid_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int cmd_run(const struct vpnctl *v, int argc, char **argv)
{
	char mnt[PATH_MAX], cg[PATH_MAX], procs[PATH_MAX + 16], *body;
	struct sigaction sa = { .sa_handler = forward_signal };
	unsigned int rnd = 0;
	int status, ret = 1, fd;
	pid_t pid;

	if (argc < 1)
		return cli_usage_fail(&v->cli, "missing CMD");
	if (cgroup2_mount(mnt, sizeof(mnt))) {
		fail(v, "no cgroup2 mount found in /proc/self/mountinfo");
		return 1;
	}
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (unsigned int)getpid() * 2654435761u;
	snprintf(cg, sizeof(cg), "%s/mavpn-run.%d.%08x", mnt, (int)getpid(),
		 rnd);
	if (mkdir(cg, 0755) < 0) {
		fail(v, "cannot create cgroup %s: %s", cg, strerror(errno));
		return 1;
	}
	if (request(v, "attach", cg, &body))
		goto out_rmdir;
	free(body);

	/* Ctrl-C reaches the child through the terminal; SIGTERM sent to us
	 * is passed on, so the cleanup below still runs. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid = fork();
	if (pid < 0) {
		fail(v, "fork: %s", strerror(errno));
		goto out_detach;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0) {
			fprintf(stderr, "vpnctl run: cannot enter cgroup %s: %s\n",
				cg, strerror(errno));
			_exit(127);
		}
		close(fd);
		execvp(argv[0], argv);
		fprintf(stderr, "vpnctl run: cannot execute \"%s\": %s\n",
			argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fail(v, "waitpid: %s", strerror(errno));
			goto out_detach;
		}
	}
	if (WIFEXITED(status))
		ret = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		ret = 128 + WTERMSIG(status);
out_detach:
	if (!request(v, "detach", cg, &body))
		free(body);
out_rmdir:
	/* Descendants the command left behind keep the cgroup busy. */
	if (rmdir(cg) < 0)
		fprintf(stderr, "vpnctl run: cannot remove cgroup %s: %s\n", cg,
			strerror(errno));
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sock", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static const struct option verb_opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	/* "vpnctl", then "vpnctl VERB" once the command is known. */
	struct vpnctl ctl = {
		.cli = { .name = "vpnctl", .report = report },
		.sock = CTLPROTO_PATH_DEFAULT,
	}, *v = &ctl;
	char path[PATH_MAX], name[64];
	const char *verb, *arg = NULL;
	bool run;
	size_t i;
	int c;

	/* --json anywhere before the command: usage errors are JSON too. */
	for (c = 1; c < argc && argv[c][0] == '-' && strcmp(argv[c], "--"); c++) {
		if (!strcmp(argv[c], "--json"))
			ctl.json = true;
		else if (!strcmp(argv[c], "--sock"))
			c++;
	}
	/* '+': stop at the command, its arguments are not ours. */
	while ((c = cli_getopt(&ctl.cli, argc, argv, "+h", opts)) != -1) {
		switch (c) {
		case 's': ctl.sock = optarg; break;
		case 'j': ctl.json = true; break;
		case 'h': usage(stdout); return 0;
		default: return CLI_EXIT_USAGE;
		}
	}
	if (optind == argc)
		return cli_usage_fail(&ctl.cli, "missing command");
	verb = argv[optind];
	run = !strcmp(verb, "run");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(verb, cmds[i].verb))
			break;
	if (!run && i == sizeof(cmds) / sizeof(cmds[0]))
		return cli_bad_command(&ctl.cli, verb);
	snprintf(name, sizeof(name), "vpnctl %s", verb);
	ctl.cli.name = name;

	/* The command's own options: --help. For run, '+': what follows
	 * CMD is CMD's; "--" ends ours. */
	argc -= optind;
	argv += optind;
	optind = 0;
	c = cli_getopt(&ctl.cli, argc, argv, run ? "+h" : "h", verb_opts);
	if (c != -1)
		return c == 'h' ? cmd_help(verb) : CLI_EXIT_USAGE;
	if (run)
		return cmd_run(v, argc - optind, argv + optind);
	if (cmds[i].args) {
		if (optind == argc)
			return cli_usage_fail(&ctl.cli, "missing %s", cmds[i].args);
		arg = argv[optind++];
	}
	if (cli_no_more_args(&ctl.cli, argc, argv))
		return CLI_EXIT_USAGE;
	/* vpnd runs elsewhere: send it an absolute path. */
	if (!strcmp(verb, "attach") || !strcmp(verb, "detach")) {
		/* a namespace file (/proc/PID/ns/net is a magic link
		 * realpath cannot follow): absolute as given */
		if (is_netns(arg) && arg[0] == '/')
			;
		else if (realpath(arg, path))
			arg = path;
		else if (!strcmp(verb, "attach")) {
			fail(v, "cannot attach \"%s\": %s", arg, strerror(errno));
			return 1;
		}
	}
	return simple(v, verb, arg);
}
