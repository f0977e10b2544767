// SPDX-License-Identifier: GPL-2.0-only
/*
 * lib/counters.c: known outputs of every renderer on a small table, the
 * Prometheus name rules, then every real counter family (built from its
 * X-macro as the daemons build it) through every renderer: JSON, text,
 * log line and Prometheus must each name exactly the table's counters,
 * in order, with their values, and Prometheus names must not collide
 * within a daemon. A family whose outputs drift fails here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mavpn/counters.h"
#include "mavpn/datapath.h"
#include "mavpn/jsonw.h"
#include "mavpn/shim_abi.h"
#include "mavpn/xdp_abi.h"
#include "../../authsrv/metrics.h"
#include "../../ctl/vpnd/dns.h"
#include "../../ctl/vpnd/keys.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- known outputs ------------------------------------------------------ */

static const struct counter_desc small[] = {
	{ "alpha", "First one.", COUNTER_COUNTER, NULL, NULL },
	{ "b", "Has \"quotes\".", COUNTER_GAUGE, "bytes", NULL },
	{ "rx_packets", "Legacy stem.", COUNTER_COUNTER, "packets", "old_rx" },
};
static const uint64_t small_v[] = { 1, 22, 18446744073709551615ull };

/* Run @fn into a memory stream; the caller frees the text. */
#define CAPTURE(buf, stmt) do {						\
	size_t _len = 0;						\
	FILE *f = open_memstream(&(buf), &_len);			\
	assert_non_null(f);						\
	stmt;								\
	assert_int_equal(fclose(f), 0);					\
} while (0)

static void test_json_known(void **state)
{
	struct jsonw *j = jsonw_new();

	(void)state;
	assert_non_null(j);
	jsonw_obj_begin(j, NULL);
	jsonw_str(j, "x", "y");
	counters_json(j, "p_", small, small_v, ARRAY_SIZE(small));
	jsonw_obj_end(j);
	assert_string_equal(jsonw_get(j),
			    "{\"x\":\"y\",\"p_alpha\":1,\"p_b\":22,"
			    "\"p_rx_packets\":18446744073709551615}");
	jsonw_free(j);
}

static void test_text_known(void **state)
{
	char *t = NULL;

	(void)state;
	CAPTURE(t, counters_text(f, NULL, small, small_v, 2, 2));
	assert_string_equal(t, "  alpha                1\n"
			       "  b                    22\n");
	free(t);
	CAPTURE(t, counters_text(f, "a_very_long_prefix_", small, small_v, 1,
				 0));
	assert_string_equal(t, "a_very_long_prefix_alpha 1\n");
	free(t);
}

static void test_line_known(void **state)
{
	char buf[64], tiny[8];

	(void)state;
	assert_int_equal(counters_line(buf, sizeof(buf), "d_", small, small_v,
				       2), 16);
	assert_string_equal(buf, "d_alpha=1 d_b=22");
	/* cut like snprintf, length of the whole line returned */
	assert_int_equal(counters_line(tiny, sizeof(tiny), "d_", small,
				       small_v, 2), 16);
	assert_string_equal(tiny, "d_alpha");
	assert_int_equal(counters_line(buf, sizeof(buf), NULL, small, small_v,
				       0), 0);
	assert_string_equal(buf, "");
}

static void test_prom_names(void **state)
{
	static const struct {
		struct counter_desc d;
		const char *want;
	} t[] = {
		{ { "drops", "", COUNTER_COUNTER, NULL, NULL }, "p_drops_total" },
		{ { "pending", "", COUNTER_GAUGE, "packets", NULL },
		  "p_pending_packets" },
		{ { "tx_packets", "", COUNTER_COUNTER, "packets", NULL },
		  "p_tx_packets_total" },
		{ { "up", "", COUNTER_GAUGE, "seconds", NULL }, "p_up_seconds" },
		{ { "packets", "", COUNTER_COUNTER, "packets", NULL },
		  "p_packets_packets_total" },
		{ { "granted", "", COUNTER_COUNTER, NULL, "key_grants" },
		  "p_key_grants_total" },
	};
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		assert_int_equal(counters_prom_name(buf, sizeof(buf), "p_",
						    &t[i].d),
				 (int)strlen(t[i].want));
		assert_string_equal(buf, t[i].want);
	}
	assert_int_equal(counters_prom_name(buf, 8, "p_", &t[0].d),
			 -ENAMETOOLONG);
}

static void test_prom_known(void **state)
{
	const struct counter_row rows[] = {
		{ .labels = { .n = 2, .key = { "name", "ip" },
			      .val = { "h\"1\\", "10.0.0.1" } },
		  .vals = small_v },
		{ .vals = small_v },
	};
	char *t = NULL;

	(void)state;
	CAPTURE(t, counters_prom(f, "m_", small, ARRAY_SIZE(small), rows, 2));
	assert_string_equal(t,
		"# HELP m_alpha_total First one.\n"
		"# TYPE m_alpha_total counter\n"
		"m_alpha_total{name=\"h\\\"1\\\\\",ip=\"10.0.0.1\"} 1\n"
		"m_alpha_total 1\n"
		"# HELP m_b_bytes Has \"quotes\".\n"
		"# TYPE m_b_bytes gauge\n"
		"m_b_bytes{name=\"h\\\"1\\\\\",ip=\"10.0.0.1\"} 22\n"
		"m_b_bytes 22\n"
		"# HELP m_old_rx_packets_total Legacy stem.\n"
		"# TYPE m_old_rx_packets_total counter\n"
		"m_old_rx_packets_total{name=\"h\\\"1\\\\\",ip=\"10.0.0.1\"} 18446744073709551615\n"
		"m_old_rx_packets_total 18446744073709551615\n");
	free(t);
	/* no rows: the families are declared all the same */
	CAPTURE(t, counters_prom(f, "m_", small, 1, NULL, 0));
	assert_string_equal(t, "# HELP m_alpha_total First one.\n"
			       "# TYPE m_alpha_total counter\n");
	free(t);

	CAPTURE(t, counters_prom_by(f, "m_drops_total", COUNTER_COUNTER,
				    "Dropped, by reason", "reason", small, 2,
				    rows, 2));
	assert_string_equal(t,
		"# HELP m_drops_total Dropped, by reason (alpha: First one.; b: Has \"quotes\".)\n"
		"# TYPE m_drops_total counter\n"
		"m_drops_total{name=\"h\\\"1\\\\\",ip=\"10.0.0.1\",reason=\"alpha\"} 1\n"
		"m_drops_total{name=\"h\\\"1\\\\\",ip=\"10.0.0.1\",reason=\"b\"} 22\n"
		"m_drops_total{reason=\"alpha\"} 1\n"
		"m_drops_total{reason=\"b\"} 22\n");
	free(t);
}

/* ---- every real family through every renderer ---------------------------- */

#define DESC3(id, name, help) { name, help, COUNTER_COUNTER, NULL, NULL },
#define DESC4(id, name, prom, help) { name, help, COUNTER_COUNTER, NULL, prom },
#define DESC5(id, name, kind, unit, help) { name, help, kind, unit, NULL },

static const struct counter_desc drop_d[] = { DP_DROP_REASONS(DESC3) };
static const struct counter_desc peer_d[] = { DP_PEER_COUNTERS(DESC5) };
static const struct counter_desc frame_d[] = { DP_FRAMES(DESC3) };
static const struct counter_desc event_d[] = { DP_EVENTS(DESC3) };
static const struct counter_desc level_d[] = { DP_LEVELS(DESC5) };
static const struct counter_desc xsk_d[] = { DP_XSK_COUNTERS(DESC3) };
static const struct counter_desc ul_d[] = { MAVPN_XDP_UL_REASONS(DESC3) };
static const struct counter_desc ov_d[] = { MAVPN_XDP_OV_REASONS(DESC3) };
static const struct counter_desc shim_d[] = { SHIM_COUNTERS(DESC4) };
static const struct counter_desc keys_d[] = { KEYS_COUNTERS(DESC4) };
static const struct counter_desc dns_d[] = { DNS_COUNTERS(DESC3) };
static const struct counter_desc as_d[] = { METRICS_COUNTERS(DESC3) };
static const struct counter_desc deny_d[] = { METRICS_DENY_CLASSES(DESC3) };

struct family {
	const char *what;
	const struct counter_desc *d;
	size_t n, count;	/* table size, the enum's __COUNT */
	const char *prefix;	/* JSON/text prefix as the daemon uses it */
};

#define FAMILY(what, d, count, prefix) \
	{ what, d, ARRAY_SIZE(d), count, prefix }

static const struct family families[] = {
	FAMILY("datapath drops", drop_d, DP_DROP__COUNT, "drop_"),
	FAMILY("datapath peer", peer_d, DP_PEER__COUNT, NULL),
	FAMILY("datapath frames", frame_d, DP_FRAME__COUNT, "rx_frames_"),
	FAMILY("datapath events", event_d, DP_EVENT__COUNT, NULL),
	FAMILY("datapath levels", level_d, DP_LEVEL__COUNT, NULL),
	FAMILY("AF_XDP rings", xsk_d, DP_XSK__COUNT, NULL),
	FAMILY("xdp_underlay", ul_d, MAVPN_XDP_UL_NR, NULL),
	FAMILY("xdp_overlay", ov_d, MAVPN_XDP_OV_NR, NULL),
	FAMILY("shim", shim_d, SHIM_CNT_MAX, NULL),
	FAMILY("vpnd keys", keys_d, KEYS__COUNT, NULL),
	FAMILY("vpnd dns", dns_d, DNS__COUNT, NULL),
	FAMILY("authsrv", as_d, METRICS_CNT__COUNT, NULL),
	FAMILY("authsrv denials", deny_d, DENY__COUNT, NULL),
};

static void want_name(const struct family *fm, size_t i, const char *got,
		      size_t len)
{
	char want[128];

	snprintf(want, sizeof(want), "%s%s", fm->prefix ? fm->prefix : "",
		 fm->d[i].name);
	if (strlen(want) != len || strncmp(want, got, len))
		fail_msg("%s: output names \"%.*s\" where the table has \"%s\"",
			 fm->what, (int)len, got, want);
}

static void check_json(const struct family *fm, const uint64_t *v)
{
	struct jsonw *j = jsonw_new();
	const char *p, *q;
	size_t i = 0;

	jsonw_obj_begin(j, NULL);
	counters_json(j, fm->prefix, fm->d, v, fm->n);
	jsonw_obj_end(j);
	for (p = jsonw_get(j) + 1; *p == '"'; p = q + 1) {
		q = strchr(p + 1, '"');
		assert_true(i < fm->n);
		want_name(fm, i, p + 1, q - p - 1);
		assert_int_equal(strtoull(q + 2, (char **)&q, 10), v[i]);
		i++;
		if (*q != ',')
			break;
	}
	assert_int_equal(i, fm->n);
	jsonw_free(j);
}

static void check_text(const struct family *fm, const uint64_t *v)
{
	char *t = NULL, *line, *sp, *save = NULL;
	size_t i = 0;

	CAPTURE(t, counters_text(f, fm->prefix, fm->d, v, fm->n, 2));
	for (line = strtok_r(t, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		assert_memory_equal(line, "  ", 2);
		sp = strchr(line + 2, ' ');
		assert_non_null(sp);
		assert_true(i < fm->n);
		want_name(fm, i, line + 2, sp - line - 2);
		assert_int_equal(strtoull(sp, NULL, 10), v[i]);
		i++;
	}
	assert_int_equal(i, fm->n);
	free(t);
}

static void check_line(const struct family *fm, const uint64_t *v)
{
	char buf[2048], *kv, *eq, *save = NULL;
	size_t i = 0;

	assert_true(counters_line(buf, sizeof(buf), fm->prefix, fm->d, v,
				  fm->n) < (int)sizeof(buf));
	for (kv = strtok_r(buf, " ", &save); kv;
	     kv = strtok_r(NULL, " ", &save)) {
		eq = strchr(kv, '=');
		assert_non_null(eq);
		assert_true(i < fm->n);
		want_name(fm, i, kv, eq - kv);
		assert_int_equal(strtoull(eq + 1, NULL, 10), v[i]);
		i++;
	}
	assert_int_equal(i, fm->n);
}

/* Prometheus: per-counter metrics and one metric labelled by name. */
static void check_prom(const struct family *fm, const uint64_t *v)
{
	const struct counter_row row = {
		.labels = { .n = 1, .key = { "k" }, .val = { "v" } },
		.vals = v,
	};
	char *t = NULL, *line, *save = NULL, name[128], want[160];
	size_t i = 0, nl;

	CAPTURE(t, counters_prom(f, "x_", fm->d, fm->n, &row, 1));
	for (line = strtok_r(t, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), i++) {
		assert_true(i / 3 < fm->n);
		assert_true(counters_prom_name(name, sizeof(name), "x_",
					       &fm->d[i / 3]) > 0);
		if (i % 3 == 0)
			snprintf(want, sizeof(want), "# HELP %s %s", name,
				 fm->d[i / 3].help);
		else if (i % 3 == 1)
			snprintf(want, sizeof(want), "# TYPE %s %s", name,
				 fm->d[i / 3].kind == COUNTER_GAUGE ?
				 "gauge" : "counter");
		else
			snprintf(want, sizeof(want), "%s{k=\"v\"} %llu", name,
				 (unsigned long long)v[i / 3]);
		assert_string_equal(line, want);
	}
	assert_int_equal(i, 3 * fm->n);
	free(t);

	CAPTURE(t, counters_prom_by(f, "x_total", COUNTER_COUNTER, "By name",
				    "what", fm->d, fm->n, &row, 1));
	save = NULL;
	line = strtok_r(t, "\n", &save);	/* HELP */
	assert_memory_equal(line, "# HELP x_total By name (", 24);
	line = strtok_r(NULL, "\n", &save);
	assert_string_equal(line, "# TYPE x_total counter");
	for (i = 0; (line = strtok_r(NULL, "\n", &save)); i++) {
		assert_true(i < fm->n);
		nl = strlen("x_total{k=\"v\",what=\"");
		assert_memory_equal(line, "x_total{k=\"v\",what=\"", nl);
		snprintf(want, sizeof(want), "%s\"} %llu", fm->d[i].name,
			 (unsigned long long)v[i]);
		assert_string_equal(line + nl, want);
	}
	assert_int_equal(i, fm->n);
	free(t);
}

static int name_ok(const char *s)
{
	if (!*s || *s < 'a' || *s > 'z')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return 0;
	return 1;
}

static void test_families(void **state)
{
	uint64_t v[64];
	size_t k, i, m;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(v); i++)
		v[i] = 1000 + 7 * i;	/* distinct: a shifted value shows */
	for (k = 0; k < ARRAY_SIZE(families); k++) {
		const struct family *fm = &families[k];

		print_message("%s: %zu counters\n", fm->what, fm->n);
		assert_int_equal(fm->n, fm->count);
		assert_true(fm->n <= ARRAY_SIZE(v));
		for (i = 0; i < fm->n; i++) {
			if (!name_ok(fm->d[i].name) ||
			    (fm->d[i].prom && !name_ok(fm->d[i].prom)))
				fail_msg("%s: bad name \"%s\"", fm->what,
					 fm->d[i].name);
			assert_true(fm->d[i].help && *fm->d[i].help &&
				    !strchr(fm->d[i].help, '\n'));
			for (m = 0; m < i; m++)
				if (!strcmp(fm->d[i].name, fm->d[m].name))
					fail_msg("%s: \"%s\" twice", fm->what,
						 fm->d[i].name);
		}
		check_json(fm, v);
		check_text(fm, v);
		check_line(fm, v);
		check_prom(fm, v);
	}
}

/* The metric names one daemon writes through counters_prom() (prefix,
 * family) plus those it writes by hand: none may be written twice. */
struct prom_use {
	const char *prefix;
	const struct counter_desc *d;
	size_t n;
};

static void unique_names(const struct prom_use *u, size_t nu,
			 const char *const *fixed, size_t nfixed,
			 const char *const *before, size_t nbefore)
{
	char names[128][96];
	size_t n = 0, i, k, m;

	for (i = 0; i < nfixed; i++)
		snprintf(names[n++], sizeof(names[0]), "%s", fixed[i]);
	for (k = 0; k < nu; k++)
		for (i = 0; i < u[k].n; i++) {
			assert_true(n < ARRAY_SIZE(names));
			assert_true(counters_prom_name(names[n],
						       sizeof(names[0]),
						       u[k].prefix,
						       &u[k].d[i]) > 0);
			n++;
		}
	for (i = 0; i < n; i++)
		for (m = 0; m < i; m++)
			if (!strcmp(names[i], names[m]))
				fail_msg("metric %s written twice", names[i]);
	/* operators' names from before the tables are all still there */
	for (k = 0; k < nbefore; k++) {
		for (i = 0; i < n && strcmp(names[i], before[k]); i++)
			;
		if (i == n)
			fail_msg("metric %s is gone", before[k]);
	}
}

static void test_prom_unique(void **state)
{
	/* as ctl/vpnd/metrics.c writes them */
	static const struct prom_use vpnd[] = {
		{ "mavpn_vpnd_", keys_d, ARRAY_SIZE(keys_d) },
		{ "mavpn_vpnd_", shim_d, ARRAY_SIZE(shim_d) },
		{ "mavpn_vpnd_dp_", event_d, ARRAY_SIZE(event_d) },
		{ "mavpn_vpnd_xsk_", xsk_d, ARRAY_SIZE(xsk_d) },
		{ "mavpn_vpnd_peer_", peer_d, ARRAY_SIZE(peer_d) },
	};
	static const char *const vpnd_fixed[] = {
		"mavpn_vpnd_info", "mavpn_vpnd_server_up",
		"mavpn_vpnd_server_up_seconds",
		"mavpn_vpnd_server_connect_attempts_total",
		"mavpn_vpnd_attached_cgroups", "mavpn_vpnd_workers",
		"mavpn_vpnd_dp_rx_frames_total", "mavpn_vpnd_dp_drops_total",
		"mavpn_vpnd_peers", "mavpn_vpnd_peer_info",
		"mavpn_vpnd_peer_drops_total",
	};
	/* as authsrv/metrics.c writes them (gauges: its own table) */
	static const struct prom_use authsrv[] = {
		{ "mavpn_authsrv_", as_d, ARRAY_SIZE(as_d) },
	};
	static const char *const authsrv_fixed[] = {
		"mavpn_authsrv_hosts_connected", "mavpn_authsrv_hosts_enrolled",
		"mavpn_authsrv_hosts_revoked", "mavpn_authsrv_keys_live",
		"mavpn_authsrv_sessions", "mavpn_authsrv_key_denials_total",
		"mavpn_authsrv_messages_received_total",
		"mavpn_authsrv_messages_sent_total",
	};

	/* docs/operations.md before the tables */
	static const char *const vpnd_before[] = {
		"mavpn_vpnd_key_requests_total", "mavpn_vpnd_key_grants_total",
		"mavpn_vpnd_key_pushes_total", "mavpn_vpnd_key_denials_total",
		"mavpn_vpnd_key_request_timeouts_total",
		"mavpn_vpnd_key_install_failures_total",
		"mavpn_vpnd_key_requests_dropped_total",
		"mavpn_vpnd_shim_seen_total", "mavpn_vpnd_shim_events_total",
		"mavpn_vpnd_shim_dedup_total",
		"mavpn_vpnd_shim_ringbuf_drops_total",
		"mavpn_vpnd_shim_blocked_total",
		"mavpn_vpnd_datapath_key_requests_total",
		"mavpn_vpnd_xsk_rx_dropped_total",
		"mavpn_vpnd_xsk_rx_ring_full_total",
		"mavpn_vpnd_xsk_fill_ring_empty_total",
		"mavpn_vpnd_xsk_tx_ring_empty_total",
		"mavpn_vpnd_xsk_rx_invalid_descs_total",
		"mavpn_vpnd_xsk_tx_invalid_descs_total",
		"mavpn_vpnd_peer_tx_packets_total",
		"mavpn_vpnd_peer_tx_bytes_total",
		"mavpn_vpnd_peer_rx_packets_total",
		"mavpn_vpnd_peer_rx_bytes_total",
		"mavpn_vpnd_peer_pending_packets",
	};
	static const char *const authsrv_before[] = {
		"mavpn_authsrv_enrollments_total",
		"mavpn_authsrv_enrollment_refusals_total",
		"mavpn_authsrv_auth_refusals_total",
		"mavpn_authsrv_tls_handshake_failures_total",
		"mavpn_authsrv_key_requests_total",
		"mavpn_authsrv_key_pushes_total",
		"mavpn_authsrv_key_grants_total",
		"mavpn_authsrv_key_revocations_total",
	};

	(void)state;
	unique_names(vpnd, ARRAY_SIZE(vpnd), vpnd_fixed,
		     ARRAY_SIZE(vpnd_fixed), vpnd_before,
		     ARRAY_SIZE(vpnd_before));
	unique_names(authsrv, ARRAY_SIZE(authsrv), authsrv_fixed,
		     ARRAY_SIZE(authsrv_fixed), authsrv_before,
		     ARRAY_SIZE(authsrv_before));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_known),
		cmocka_unit_test(test_text_known),
		cmocka_unit_test(test_line_known),
		cmocka_unit_test(test_prom_names),
		cmocka_unit_test(test_prom_known),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_prom_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
