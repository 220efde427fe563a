// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests for the Prometheus export (no root, no BPF): rendering is a
 * pure function of struct tf_tap_stats, so synthetic arrays pin down the
 * families, cumulative buckets, the log2 -> le boundaries, escaping and
 * what is left out; a fake stats source drives the HTTP server on a
 * loopback port and the textfile writer.
 */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tapflow.h"
#include "tf_export.h"
#include "tf_test.h"

/* ---- synthetic stats ----------------------------------------------------- */

static struct tf_tap_stats *mk_taps(size_t ntaps, uint32_t nq)
{
	struct tf_tap_stats *t = calloc(ntaps, sizeof(*t));

	for (size_t i = 0; i < ntaps; i++) {
		snprintf(t[i].name, sizeof(t[i].name), "vm%u", (unsigned int)(i % 100000));
		t[i].netns = 4026531840u;
		t[i].ifindex = 10 + i;
		t[i].local = true;
		t[i].backend = TF_BACKEND_TRACEPOINT;
		t[i].since_ns = 1;
		t[i].queues_attached = nq;
		t[i].nqueues = nq;
		t[i].q = calloc(nq, sizeof(*t[i].q));
		for (uint32_t q = 0; q < nq; q++) {
			struct tf_queue_stats *s = &t[i].q[q];

			s->queue = q;
			s->attached = true;
			s->c.tx_packets = 1000 + q;
			s->c.tx_bytes = 64000 + q;
			s->c.rx_packets = 2000 + q;
			s->c.rx_bytes = 128000 + q;
			s->c.tx_drops[TF_DROP_RING_FULL] = 7;
			s->h.ring_wait_ns[12] = 3;
			s->h.ring_wait_sum_ns = 3 * 5000;
			s->h.occupancy[0] = 5;
			s->h.occupancy[3] = 2;
			s->h.occupancy_sum = 2 * 9;
		}
	}
	return t;
}

static void free_taps(struct tf_tap_stats *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].q);
	free(t);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Value of the sample whose line starts with `series ` (exact series). */
static long long sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	}
	return -1;
}

static char *render(const struct tf_tap_stats *t, size_t n)
{
	struct tf_export_buf b = {};
	char *s;

	if (!ASSERT_OK(tf_export_render(&b, t, n, 0), "render"))
		return NULL;
	s = strndup(b.data, b.len);
	tf_export_buf_free(&b);
	return s;
}

/* ---- rendering ----------------------------------------------------------- */

/*
 * Counted with no queue (the extra table was full): a series per direction
 * for the tap that has any, none for a tap without, and no family at all
 * when no tap has any.
 */
static void test_noqueue(void)
{
	struct tf_tap_stats *t = mk_taps(2, 1);
	char *s;

	s = render(t, 2);
	if (s)
		ASSERT_EQ(count_of(s, "tapflow_noqueue_packets_total"), 0, "none without counts");
	free(s);
	t[1].noqueue.rx_packets = 10;
	s = render(t, 2);
	if (s) {
		ASSERT_EQ(count_of(s, "# TYPE tapflow_noqueue_packets_total counter\n"), 1, "one family");
		ASSERT_EQ(sample(s, "tapflow_noqueue_packets_total{tap=\"vm1\",dir=\"rx\"}"), 10, "rx");
		ASSERT_EQ(sample(s, "tapflow_noqueue_packets_total{tap=\"vm1\",dir=\"tx\"}"), 0, "tx");
		ASSERT_EQ(count_of(s, "tapflow_noqueue_packets_total{tap=\"vm0\""), 0, "a tap without");
	}
	free(s);
	free_taps(t, 2);
}

static void test_families(void)
{
	static const char *const fam[][2] = {
		{ "tapflow_build_info", "gauge" },
		{ "tapflow_traced_taps", "gauge" },
		{ "tapflow_info", "gauge" },
		{ "tapflow_trace_start_time_seconds", "gauge" },
		{ "tapflow_queues_attached", "gauge" },
		{ "tapflow_queue_attached", "gauge" },
		{ "tapflow_tx_packets_total", "counter" },
		{ "tapflow_tx_bytes_total", "counter" },
		{ "tapflow_tx_xdp_packets_total", "counter" },
		{ "tapflow_tx_dropped_total", "counter" },
		{ "tapflow_rx_packets_total", "counter" },
		{ "tapflow_rx_bytes_total", "counter" },
		{ "tapflow_ring_wait_untracked_total", "counter" },
		{ "tapflow_ring_wait_seconds", "histogram" },
		{ "tapflow_ring_occupancy", "histogram" },
		{ "tapflow_scrape_duration_seconds", "gauge" },
	};
	struct tf_tap_stats *t = mk_taps(2, 2);
	char line[128], *s;

	s = render(t, 2);
	if (!s)
		goto out;
	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		snprintf(line, sizeof(line), "# TYPE %s %s\n", fam[i][0], fam[i][1]);
		ASSERT_EQ(count_of(s, line), 1, line);
		snprintf(line, sizeof(line), "# HELP %s ", fam[i][0]);
		ASSERT_EQ(count_of(s, line), 1, line);
	}
	ASSERT_EQ(count_of(s, "# TYPE "), sizeof(fam) / sizeof(fam[0]), "no other family");
	/* The tracepoint backend measures neither rx_ns nor rx_drops. */
	ASSERT_EQ(count_of(s, "tapflow_rx_seconds"), 0, "no rx_seconds");
	ASSERT_EQ(count_of(s, "tapflow_rx_dropped_total"), 0, "no rx_dropped");

	ASSERT_EQ(sample(s, "tapflow_tx_packets_total{tap=\"vm1\",queue=\"1\"}"), 1001, "tx_packets");
	ASSERT_EQ(sample(s, "tapflow_rx_bytes_total{tap=\"vm0\",queue=\"0\"}"), 128000, "rx_bytes");
	ASSERT_EQ(sample(s, "tapflow_tx_dropped_total{tap=\"vm0\",queue=\"1\",reason=\"ring_full\"}"), 7, "ring_full");
	ASSERT_EQ(sample(s, "tapflow_tx_dropped_total{tap=\"vm0\",queue=\"1\",reason=\"detached\"}"), 0, "detached");
	ASSERT_EQ(sample(s, "tapflow_queues_attached{tap=\"vm1\"}"), 2, "attached");
	ASSERT_EQ(sample(s, "tapflow_traced_taps"), 2, "traced taps");
	ASSERT_HAS(s, "tapflow_info{tap=\"vm0\",version=\"", "info");
	ASSERT_HAS(s, "\",backend=\"tracepoint\"} 1\n", "info backend");
	ASSERT_EQ(s[strlen(s) - 1], '\n', "ends with a newline");
out:
	free(s);
	free_taps(t, 2);
}

static char *render_mode(const struct tf_tap_stats *t, size_t n, enum tf_export_hist mode)
{
	struct tf_export_buf b = { 0 };
	char *s;

	if (!ASSERT_OK(tf_export_render_hist(&b, t, n, 0, mode), "render"))
		return NULL;
	s = strndup(b.data, b.len);
	tf_export_buf_free(&b);
	return s;
}

/* --histograms queue|tap|off: counters stay per queue; histograms per queue, summed, none. */
static void test_hist_modes(void)
{
	struct tf_tap_stats *t = mk_taps(2, 4);
	char *q = NULL, *tp = NULL, *off = NULL;

	t[0].q[2].h.ring_wait_ns[20] = 5;	/* one queue differs */
	t[0].q[2].h.ring_wait_sum_ns += 5 * 1500000;
	q = render_mode(t, 2, TF_EXPORT_HIST_QUEUE);
	tp = render_mode(t, 2, TF_EXPORT_HIST_TAP);
	off = render_mode(t, 2, TF_EXPORT_HIST_OFF);
	if (!q || !tp || !off)
		goto out;
	/* per queue: 3 families x (28 window + Inf + sum + count) x 8 queues (no rx_ns here: 2 families) */
	ASSERT_EQ(count_of(q, "tapflow_ring_wait_seconds_count{"), 8, "per queue: a series per queue");
	ASSERT_EQ(count_of(tp, "tapflow_ring_wait_seconds_count{"), 2, "per tap: one per tap");
	ASSERT_EQ(sample(tp, "tapflow_ring_wait_seconds_count{tap=\"vm0\"}"), 4 * 3 + 5, "queues summed");
	ASSERT_HAS(tp, "tapflow_ring_wait_seconds_sum{tap=\"vm0\"} 0.00756\n", "sums summed");
	ASSERT_EQ(sample(tp, "tapflow_ring_occupancy_bucket{tap=\"vm1\",le=\"+Inf\"}"), 4 * 7, "occupancy summed");
	ASSERT_EQ(count_of(tp, "tapflow_ring_wait_seconds_bucket{tap=\"vm0\",queue="), 0, "no queue label");
	ASSERT_EQ(count_of(off, "_bucket{"), 0, "off: no histogram");
	ASSERT_EQ(count_of(off, "# TYPE tapflow_ring_wait_seconds"), 0, "off: no family");
	/* counters the same in every mode */
	ASSERT_EQ(sample(off, "tapflow_rx_packets_total{tap=\"vm1\",queue=\"3\"}"), 2003, "off: counters");
	ASSERT_EQ(sample(tp, "tapflow_rx_packets_total{tap=\"vm1\",queue=\"3\"}"), 2003, "tap: counters");
	ASSERT_EQ(count_of(q, "tapflow_tx_packets_total{"), count_of(off, "tapflow_tx_packets_total{"),
		  "same counter series");
	ASSERT_EQ(tf_export_hist_parse("tap"), TF_EXPORT_HIST_TAP, "parse tap");
	ASSERT_EQ(tf_export_hist_parse("queue"), TF_EXPORT_HIST_QUEUE, "parse queue");
	ASSERT_EQ(tf_export_hist_parse("off"), TF_EXPORT_HIST_OFF, "parse off");
	ASSERT_EQ(tf_export_hist_parse("none"), -1, "parse bad");
out:
	free(q);
	free(tp);
	free(off);
	free_taps(t, 2);
}

static void test_backend_info(void)
{
	struct tf_export_backend be[2] = {
		{ .tap = "vnet0", .local = true,
		  .b = { .pid = 4242, .comm = "qemu-system-x86", .vm = "vm-\"alpha\"",
			 .cgroup = "/machine/qemu-1-vm.libvirt-qemu" } },
		{ .tap = "tap0", .netns = 4026532000u,
		  .b = { .pid = 7, .comm = "firecracker", .vm = "mvm-7", .cgroup = "/" } },
	};
	struct tf_export_buf b = { 0 };
	char *s;

	if (!ASSERT_OK(tf_export_render_backends(&b, be, 2), "render"))
		return;
	s = strndup(b.data, b.len);
	ASSERT_HAS(s, "# TYPE tapflow_tap_backend_info gauge\n", "type");
	ASSERT_HAS(s, "tapflow_tap_backend_info{tap=\"vnet0\",vm=\"vm-\\\"alpha\\\"\",pid=\"4242\","
		   "comm=\"qemu-system-x86\",cgroup=\"/machine/qemu-1-vm.libvirt-qemu\"} 1\n", "local tap");
	ASSERT_HAS(s, "tapflow_tap_backend_info{tap=\"tap0\",netns=\"4026532000\",vm=\"mvm-7\",pid=\"7\","
		   "comm=\"firecracker\",cgroup=\"/\"} 1\n", "tap of another namespace");
	b.len = 0;
	ASSERT_OK(tf_export_render_backends(&b, be, 0), "none");
	ASSERT_EQ(b.len, 0, "no family without backends");
	free(s);
	tf_export_buf_free(&b);
}

static void test_left_out(void)
{
	struct tf_tap_stats *t = mk_taps(3, 3);
	char *s;

	t[0].q[1].attached = false;	/* detached: kept, with queue_attached 0 */
	t[1].gone = true;		/* deleted tap */
	t[2].rx_ns = true;		/* a backend that measures rx */
	t[2].q[0].c.rx_drops = 4;
	t[2].q[0].h.rx_ns[9] = 2;
	t[2].q[0].h.rx_sum_ns = 1200;
	s = render(t, 3);
	if (!s)
		goto out;
	ASSERT_EQ(sample(s, "tapflow_rx_packets_total{tap=\"vm0\",queue=\"1\"}"), 2001,
		  "a detached queue keeps its counters");
	ASSERT_EQ(sample(s, "tapflow_queue_attached{tap=\"vm0\",queue=\"1\"}"), 0, "detached: 0");
	ASSERT_EQ(sample(s, "tapflow_queue_attached{tap=\"vm0\",queue=\"0\"}"), 1, "attached: 1");
	ASSERT_EQ(sample(s, "tapflow_ring_wait_seconds_count{tap=\"vm0\",queue=\"1\"}"), 3,
		  "and its histograms");
	ASSERT_EQ(count_of(s, "tap=\"vm1\""), 0, "gone tap absent");
	ASSERT_EQ(sample(s, "tapflow_traced_taps"), 2, "traced taps");
	ASSERT_EQ(sample(s, "tapflow_rx_dropped_total{tap=\"vm2\",queue=\"0\"}"), 4, "rx_dropped on vm2");
	ASSERT_EQ(count_of(s, "tapflow_rx_dropped_total{tap=\"vm0\""), 0, "no rx_dropped on vm0");
	ASSERT_EQ(sample(s, "tapflow_rx_seconds_count{tap=\"vm2\",queue=\"0\"}"), 2, "rx_seconds count");
	ASSERT_HAS(s, "tapflow_rx_seconds_sum{tap=\"vm2\",queue=\"0\"} 0.0000012\n", "rx_seconds sum");
	ASSERT_EQ(count_of(s, "tapflow_rx_seconds_count{tap=\"vm0\""), 0, "no rx_seconds on vm0");
out:
	free(s);
	free_taps(t, 3);
}

static void test_empty(void)
{
	char *s = render(NULL, 0);

	if (!s)
		return;
	ASSERT_EQ(sample(s, "tapflow_traced_taps"), 0, "zero taps");
	ASSERT_HAS(s, "tapflow_build_info{version=\"", "build info");
	ASSERT_HAS(s, "# TYPE tapflow_scrape_duration_seconds gauge\n", "scrape duration");
	ASSERT_EQ(count_of(s, "_total"), 0, "no per-queue family");
	free(s);
}

/*
 * Parse every bucket of one series in order; check they are cumulative,
 * +Inf == _count, and return the count at a given le (or -1).
 */
static long long bucket_at(const char *s, const char *fam, const char *lbl,
			   const char *le, int *nbuckets, long long *inf)
{
	char pfx[256];
	long long prev = 0, at = -1;
	const char *p = s;
	size_t n;

	snprintf(pfx, sizeof(pfx), "%s_bucket{%s,le=\"", fam, lbl);
	n = strlen(pfx);
	*nbuckets = 0;
	*inf = -1;
	while ((p = strstr(p, pfx))) {
		const char *q = p + n, *end = strchr(q, '"');
		long long v = strtoll(end + 3, NULL, 10);

		ASSERT_TRUE(v >= prev, "cumulative");
		prev = v;
		if (!strncmp(q, le, end - q) && strlen(le) == (size_t)(end - q))
			at = v;
		if (!strncmp(q, "+Inf", 4))
			*inf = v;
		(*nbuckets)++;
		p = end;
	}
	return at;
}

static void test_boundaries(void)
{
	struct tf_tap_stats *t = mk_taps(1, 1);
	struct tf_qhist *h = &t->q[0].h;
	const char *L = "tap=\"vm0\",queue=\"0\"";
	long long inf;
	int nb;
	char *s;

	memset(h, 0, sizeof(*h));
	h->ring_wait_ns[0] = 1;		/* 0 or 1 ns: below the window */
	h->ring_wait_ns[9] = 10;	/* 512..1023 ns */
	h->ring_wait_ns[10] = 100;	/* 1024..2047 ns, e.g. exactly 2^10 */
	h->ring_wait_ns[33] = 1000;	/* top of the window */
	h->ring_wait_ns[39] = 10000;	/* beyond: only in +Inf */
	h->ring_wait_sum_ns = 1500000001ull;
	h->occupancy[0] = 4;		/* empty ring */
	h->occupancy[1] = 8;		/* 2..3 entries */
	h->occupancy[23] = 16;		/* beyond the window */
	s = render(t, 1);
	if (!s)
		goto out;

	/* le of bucket k is (2^(k+1) - 1) ns: 2^10 ns is counted from 2047 ns on. */
	ASSERT_EQ(bucket_at(s, "tapflow_ring_wait_seconds", L, "0.000000127", &nb, &inf), 1, "le 127ns");
	ASSERT_EQ(bucket_at(s, "tapflow_ring_wait_seconds", L, "0.000000511", &nb, &inf), 1, "le 511ns");
	ASSERT_EQ(bucket_at(s, "tapflow_ring_wait_seconds", L, "0.000001023", &nb, &inf), 11, "le 1023ns excludes 1024");
	ASSERT_EQ(bucket_at(s, "tapflow_ring_wait_seconds", L, "0.000002047", &nb, &inf), 111, "le 2047ns includes 1024");
	ASSERT_EQ(bucket_at(s, "tapflow_ring_wait_seconds", L, "8.589934591", &nb, &inf), 111, "le 2^33-1");
	ASSERT_EQ(bucket_at(s, "tapflow_ring_wait_seconds", L, "17.179869183", &nb, &inf), 1111, "le 2^34-1 (window top)");
	ASSERT_EQ(inf, 11111, "+Inf has everything");
	ASSERT_EQ(nb, 33 - 6 + 1 + 1, "window + Inf");
	ASSERT_EQ(sample(s, "tapflow_ring_wait_seconds_count{tap=\"vm0\",queue=\"0\"}"), inf, "+Inf == _count");
	ASSERT_HAS(s, "tapflow_ring_wait_seconds_sum{tap=\"vm0\",queue=\"0\"} 1.500000001\n", "exact sum");

	/* The bound of bucket k agrees with the contract's tf_hist_upper(). */
	ASSERT_EQ(tf_hist_upper(10) - 1, 2047, "upper(10) - 1");

	ASSERT_EQ(bucket_at(s, "tapflow_ring_occupancy", L, "1", &nb, &inf), 4, "occ le 1");
	ASSERT_EQ(bucket_at(s, "tapflow_ring_occupancy", L, "3", &nb, &inf), 12, "occ le 3");
	ASSERT_EQ(bucket_at(s, "tapflow_ring_occupancy", L, "131071", &nb, &inf), 12, "occ le top");
	ASSERT_EQ(inf, 28, "occ +Inf");
	ASSERT_EQ(nb, 16 - 0 + 1 + 1, "occ window + Inf");
	ASSERT_EQ(sample(s, "tapflow_ring_occupancy_count{tap=\"vm0\",queue=\"0\"}"), 28, "occ count");
out:
	free(s);
	free_taps(t, 1);
}

static void test_escaping(void)
{
	struct tf_tap_stats *t = mk_taps(3, 1);
	char *s;

	strcpy(t[0].name, "a\"b\\c");
	strcpy(t[1].name, "x\xffy\xc3\xa9");	/* a stray byte, then a valid é */
	t[2].local = false;			/* in another network namespace */
	t[2].netns = 4026532000u;
	s = render(t, 3);
	if (!s)
		goto out;
	ASSERT_HAS(s, "tapflow_queues_attached{tap=\"a\\\"b\\\\c\"} 1\n", "quote and backslash");
	ASSERT_HAS(s, "tapflow_queues_attached{tap=\"x\xef\xbf\xbdy\xc3\xa9\"} 1\n", "invalid UTF-8 replaced");
	ASSERT_HAS(s, "tapflow_queues_attached{tap=\"vm2\",netns=\"4026532000\"} 1\n", "netns label");
	ASSERT_HAS(s, "tapflow_tx_packets_total{tap=\"vm2\",netns=\"4026532000\",queue=\"0\"} 1000\n", "netns per queue");
	ASSERT_EQ(count_of(s, "netns=\"4026531840\""), 0, "no netns label for local taps");
out:
	free(s);
	free_taps(t, 3);
}

static void test_render_64x16(void)
{
	struct tf_tap_stats *t = mk_taps(64, 16);
	struct tf_export_buf b = {};
	struct timespec a, z;
	double best = 1e9;

	for (int i = 0; i < 20; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		ASSERT_OK(tf_export_render(&b, t, 64, 0), "render");
		clock_gettime(CLOCK_MONOTONIC, &z);
		double ms = (z.tv_sec - a.tv_sec) * 1e3 + (z.tv_nsec - a.tv_nsec) / 1e6;
		if (ms < best)
			best = ms;
	}
	printf("    64x16 render: %.2f ms best of 20, %zu bytes\n", best, b.len);
	/* The goal is 5 ms; the bound here only catches gross regressions on a noisy box. */
	ASSERT_TRUE(best < 50.0, "render under 50 ms");
	ASSERT_EQ(count_of(b.data, "tapflow_tx_packets_total{"), 64 * 16, "every queue");
	tf_export_buf_free(&b);
	free_taps(t, 64);
}

/* ---- listen addresses ---------------------------------------------------- */

/* The fast path's section: every action of every counted queue, escaped labels. */
static void test_fastpath(void)
{
	struct tf_fastpath_qstats q[2] = {
		{ .queue = 0, .packets = { [TF_FP_REDIRECT_TAP] = 7, [TF_FP_PASS] = 2 },
		  .bytes = { [TF_FP_REDIRECT_TAP] = 448 }, .learned = 1 },
		{ .queue = 3, .xsk_miss = 5 },
	};
	struct tf_fp_port_stats p = { .name = "vm\"0", .ifindex = 4, .kind = TF_FP_PORT_TAP,
				      .nqueues = 2, .q = q };
	struct tf_export_buf b = {};
	char *s;

	ASSERT_OK(tf_export_render_fastpath(&b, &p, 0), "no ports");
	ASSERT_EQ(b.len, 0, "nothing for no ports");
	if (!ASSERT_OK(tf_export_render_fastpath(&b, &p, 1), "render"))
		return;
	s = strndup(b.data, b.len);
	ASSERT_EQ(sample(s, "tapflow_fastpath_packets_total{port=\"vm\\\"0\",queue=\"0\",action=\"redirect_tap\"}"), 7,
		  "redirect_tap");
	ASSERT_EQ(sample(s, "tapflow_fastpath_bytes_total{port=\"vm\\\"0\",queue=\"0\",action=\"redirect_tap\"}"), 448,
		  "bytes");
	ASSERT_EQ(sample(s, "tapflow_fastpath_packets_total{port=\"vm\\\"0\",queue=\"3\",action=\"pass\"}"), 0,
		  "a zero action is there");
	ASSERT_EQ(sample(s, "tapflow_fastpath_xsk_miss_total{port=\"vm\\\"0\",queue=\"3\"}"), 5, "xsk_miss");
	ASSERT_EQ(sample(s, "tapflow_fastpath_learned_total{port=\"vm\\\"0\",queue=\"0\"}"), 1, "learned");
	ASSERT_EQ(count_of(s, "# TYPE tapflow_fastpath_packets_total counter\n"), 1, "TYPE once");
	ASSERT_EQ(count_of(s, "tapflow_fastpath_packets_total{"), 2 * TF_FP_ACT__MAX, "every action of both queues");
	free(s);
	tf_export_buf_free(&b);
}

static void test_parse_listen(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;
	socklen_t len;

	ASSERT_OK(tf_export_parse_listen("127.0.0.1:10725", &ss, &len), "v4");
	ASSERT_EQ(ss.ss_family, AF_INET, "v4 family");
	ASSERT_EQ(ntohs(s4->sin_port), 10725, "v4 port");
	ASSERT_EQ(s4->sin_addr.s_addr, htonl(INADDR_LOOPBACK), "v4 addr");
	ASSERT_OK(tf_export_parse_listen("[::1]:9", &ss, &len), "v6");
	ASSERT_EQ(ss.ss_family, AF_INET6, "v6 family");
	ASSERT_TRUE(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr), "v6 loopback");
	ASSERT_OK(tf_export_parse_listen(":10725", &ss, &len), "any");
	ASSERT_EQ(ss.ss_family, AF_INET6, "any is v6 (dual stack)");
	ASSERT_TRUE(IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr), "any addr");
	ASSERT_ERR(tf_export_parse_listen("127.0.0.1", &ss, &len), "no port");
	ASSERT_HAS(tf_errmsg(), "no port", "no port message");
	ASSERT_ERR(tf_export_parse_listen("::1:80", &ss, &len), "bare v6");
	ASSERT_HAS(tf_errmsg(), "brackets", "bare v6 message");
	ASSERT_ERR(tf_export_parse_listen("localhost:80", &ss, &len), "name");
	ASSERT_ERR(tf_export_parse_listen("1.2.3.4:65536", &ss, &len), "port range");
	ASSERT_ERR(tf_export_parse_listen("1.2.3.4:", &ss, &len), "empty port");
	ASSERT_ERR(tf_export_parse_listen("[::1]80", &ss, &len), "v6 no colon");
	ASSERT_ERR(tf_export_parse_listen("", &ss, &len), "empty");
}

/* ---- the server and the textfile, on a fake source ------------------------ */

static int fake_reads;

static int fake_read(const char *name, struct tf_tap_stats **taps, size_t *n)
{
	(void)name;
	fake_reads++;
	*taps = mk_taps(2, 2);
	*n = 2;
	return 0;
}

static const struct tf_export_source fake = { fake_read, free_taps };

/* One request on a fresh connection; returns the whole response. */
static char *http(const char *bound, const char *req)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char *resp = NULL;
	size_t len = 0, cap = 0;
	const char *colon = strrchr(bound, ':');
	int fd;

	a.sin_port = htons(atoi(colon + 1));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (void *)&a, sizeof(a)) < 0)
		return NULL;
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return NULL;
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			resp = realloc(resp, cap + 1);
		}
		ssize_t r = read(fd, resp + len, cap - len);
		if (r <= 0)
			break;
		len += r;
	}
	close(fd);
	resp[len] = '\0';
	return resp;
}

static void test_http(void)
{
	struct tf_exporter *e;
	char *r;

	if (!ASSERT_OK(tf_export_new(&fake, &e), "new"))
		return;
	if (tf_export_serve(e, "127.0.0.1:0")) {
		tf_export_free(e);
		TEST_SKIP("cannot listen on loopback here");
	}
	ASSERT_HAS(tf_export_bound(e), "127.0.0.1:", "bound");

	r = http(tf_export_bound(e), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	ASSERT_HAS(r, "HTTP/1.1 200", "metrics 200");
	ASSERT_HAS(r, "Content-Type: text/plain; version=0.0.4", "content type");
	ASSERT_HAS(r, "tapflow_tx_packets_total{tap=\"vm1\",queue=\"1\"} 1001\n", "body");
	free(r);

	r = http(tf_export_bound(e), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	ASSERT_HAS(r, "HTTP/1.1 200", "head 200");
	ASSERT_EQ(r ? count_of(r, "tapflow_") : -1, 0, "head has no body");
	free(r);

	r = http(tf_export_bound(e), "GET / HTTP/1.0\r\n\r\n");
	ASSERT_HAS(r, " 200 ", "root 200");
	ASSERT_HAS(r, "/metrics", "root points at /metrics");
	free(r);

	r = http(tf_export_bound(e), "GET /nope HTTP/1.0\r\n\r\n");
	ASSERT_HAS(r, " 404 ", "unknown path 404");
	free(r);

	r = http(tf_export_bound(e), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
	ASSERT_HAS(r, " 405 ", "POST 405");
	ASSERT_HAS(r, "Allow: GET, HEAD", "Allow header");
	free(r);

	r = http(tf_export_bound(e), "\x01\x02garbage\r\n\r\n");
	ASSERT_TRUE(!r || !strstr(r, " 200 "), "garbage is not served");
	free(r);

	r = http(tf_export_bound(e), "GET /metrics HTTP/1.0\r\n\r\n");
	ASSERT_HAS(r, " 200 ", "still serving");
	free(r);
	tf_export_free(e);
}

/* ---- --web.config.file and basic auth ------------------------------------ */

/* A bcrypt hash of pw at cost 4 (libcrypt's minimum: the test stays fast). */
static void bcrypt_of(const char *pw, char out[64])
{
	static struct crypt_data cd;
	char salt[64];

	out[0] = '\0';
	if (!crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)))
		return;
	snprintf(out, 64, "%s", crypt_rn(pw, salt, &cd, sizeof(cd)));
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Load text as a web config; returns tf_export_web_config()'s result. */
static int load_cfg(const char *path, const char *text)
{
	struct tf_exporter *e;
	int err;

	if (write_file(path, text) || tf_export_new(&fake, &e))
		return -999;
	err = tf_export_web_config(e, path);
	tf_export_free(e);
	return err;
}

static void test_web_config(void)
{
	char path[] = "/tmp/tf-webcfg-XXXXXX", yml[64], hash[64], text[256];
	int fd = mkstemp(path);

	if (fd < 0)
		TEST_SKIP("no /tmp");
	close(fd);
	snprintf(yml, sizeof(yml), "%s.yml", path);
	bcrypt_of("pw", hash);
	ASSERT_HAS(hash, "$2b$04$", "libcrypt makes bcrypt");

	ASSERT_OK(load_cfg(yml, ""), "empty file: plain HTTP, no auth");
	snprintf(text, sizeof(text), "basic_auth_users:\n  prom: '%s'\n", hash);
	ASSERT_OK(load_cfg(yml, text), "users only");

	ASSERT_EQ(load_cfg(yml, "basic_auth_users:\n  prom: plaintext\n"), -EINVAL, "plain password");
	ASSERT_HAS(tf_errmsg(), "not a bcrypt hash", "says so");
	ASSERT_HAS(tf_errmsg(), "line 2", "names the line");
	snprintf(text, sizeof(text), "basic_auth_users:\n  a: '%s'\n  a: '%s'\n", hash, hash);
	ASSERT_EQ(load_cfg(yml, text), -EINVAL, "a user twice");
	snprintf(text, sizeof(text), "basic_auth_users:\n  a: '%s'\nbasic_auth_users:\n  b: '%s'\n", hash, hash);
	ASSERT_EQ(load_cfg(yml, text), -EINVAL, "basic_auth_users twice");
	ASSERT_HAS(tf_errmsg(), "basic_auth_users is given twice", "says so");
	ASSERT_HAS(tf_errmsg(), "line 3", "names the second");
	ASSERT_EQ(load_cfg(yml, "tls_server_config: [\n"), -EINVAL, "not YAML");
	ASSERT_EQ(load_cfg(yml, "- a\n- b\n"), -EINVAL, "a list");
	ASSERT_EQ(load_cfg(yml, "rate_limit:\n  burst: 1\n"), -EINVAL, "unsupported key");
	ASSERT_HAS(tf_errmsg(), "'rate_limit' is not supported", "names the key");
	ASSERT_EQ(load_cfg(yml, "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: x\n"),
		  -EINVAL, "missing cert file");
	ASSERT_HAS(tf_errmsg(), "/nonexistent.crt", "names the file");
	ASSERT_EQ(load_cfg(yml, "tls_server_config:\n  client_auth_type: Sometimes\n"), -EINVAL,
		  "bad client_auth_type");
	ASSERT_HAS(tf_errmsg(), "RequireAndVerifyClientCert", "lists the values");
	unlink(yml);
	{
		struct tf_exporter *e;

		if (ASSERT_OK(tf_export_new(&fake, &e), "new")) {
			ASSERT_EQ(tf_export_web_config(e, yml), -EINVAL, "missing config");
			ASSERT_HAS(tf_errmsg(), "No such file", "says so");
			tf_export_free(e);
		}
	}
	unlink(path);
}

/* Basic auth over plain HTTP, on a fake source: 401, 200, cached 200. */
static void test_http_basic_auth(void)
{
	char path[] = "/tmp/tf-webcfg-XXXXXX", hash[64], text[256];
	struct tf_exporter *e;
	int fd = mkstemp(path);
	char *r;

	if (fd < 0)
		TEST_SKIP("no /tmp");
	close(fd);
	bcrypt_of("pw", hash);
	snprintf(text, sizeof(text), "basic_auth_users:\n  prom: '%s'\n", hash);
	write_file(path, text);
	if (!ASSERT_OK(tf_export_new(&fake, &e), "new"))
		goto out;
	if (!ASSERT_OK(tf_export_web_config(e, path), "web config"))
		goto free;
	if (tf_export_serve(e, "127.0.0.1:0")) {
		tf_export_free(e);
		unlink(path);
		TEST_SKIP("cannot listen on loopback here");
	}
	ASSERT_EQ(strcmp(tf_export_scheme(e), "http"), 0, "plain http without TLS");
	r = http(tf_export_bound(e), "GET /metrics HTTP/1.0\r\n\r\n");
	ASSERT_HAS(r, " 401 ", "no password");
	ASSERT_HAS(r, "WWW-Authenticate: Basic realm=\"tapflow\"", "asks for basic auth");
	free(r);
	/* cHJvbTpwdw== is prom:pw, cHJvbTpubw== prom:no */
	r = http(tf_export_bound(e), "GET /metrics HTTP/1.0\r\nAuthorization: Basic cHJvbTpubw==\r\n\r\n");
	ASSERT_HAS(r, " 401 ", "wrong password");
	free(r);
	for (int i = 0; i < 2; i++) {	/* checked, then from the cache */
		r = http(tf_export_bound(e), "GET /metrics HTTP/1.0\r\nAuthorization: Basic cHJvbTpwdw==\r\n\r\n");
		ASSERT_HAS(r, " 200 ", "right password");
		ASSERT_HAS(r, "tapflow_tx_packets_total{tap=\"vm1\",queue=\"1\"} 1001\n", "body");
		free(r);
	}
free:
	tf_export_free(e);
out:
	unlink(path);
}

static void test_textfile(void)
{
	char dir[] = "/tmp/tf-export-XXXXXX", path[64], tmp[80];
	struct tf_exporter *e;
	struct stat st;
	mode_t old = umask(077);
	char buf[256];
	FILE *f;

	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		goto out_umask;
	snprintf(path, sizeof(path), "%s/tapflow.prom", dir);
	if (!ASSERT_OK(tf_export_new(&fake, &e), "new"))
		goto out_dir;
	ASSERT_OK(tf_export_write_textfile(e, path), "write");
	ASSERT_OK(tf_export_write_textfile(e, path), "rewrite");
	ASSERT_OK(stat(path, &st), "stat");
	ASSERT_EQ(st.st_mode & 0777, 0644, "mode 0644 despite umask 077");
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	ASSERT_ERR(stat(tmp, &st), "no temporary left");
	f = fopen(path, "r");
	ASSERT_TRUE(f && fgets(buf, sizeof(buf), f), "readable");
	ASSERT_HAS(buf, "# HELP tapflow_build_info", "content");
	if (f)
		fclose(f);
	snprintf(tmp, sizeof(tmp), "%s/missing/x.prom", dir);
	ASSERT_ERR(tf_export_write_textfile(e, tmp), "missing directory");
	ASSERT_HAS(tf_errmsg(), "missing/x.prom", "error names the path");
	tf_export_free(e);
	unlink(path);
out_dir:
	rmdir(dir);
out_umask:
	umask(old);
}

TF_MAIN("export",
	TF_TEST(test_families),
	TF_TEST(test_noqueue),
	TF_TEST(test_left_out),
	TF_TEST(test_hist_modes),
	TF_TEST(test_backend_info),
	TF_TEST(test_empty),
	TF_TEST(test_boundaries),
	TF_TEST(test_escaping),
	TF_TEST(test_render_64x16),
	TF_TEST(test_fastpath),
	TF_TEST(test_parse_listen),
	TF_TEST(test_http),
	TF_TEST(test_web_config),
	TF_TEST(test_http_basic_auth),
	TF_TEST(test_textfile))
