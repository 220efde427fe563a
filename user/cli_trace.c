// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CLI for per-queue tracing: trace start|stop|status, stats, top, hist.
 * Everything is read back from the pinned maps, so these commands work from
 * any process while tracing runs.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_cmds.h"
#include "json.h"
#include "log.h"
#include "tapflow.h"
#include "tf_trace.h"

static const char *const backend_choices[] = { "auto", "fentry", "kprobe", "tracepoint", NULL };
static const char *const drop_names[TF_DROP__MAX] = { "ring_full", "filter", "detached", "other" };

/* ---- trace start|stop|status ------------------------------------------- */

struct trace_opts {
	int backend;
	bool all;
	bool json;
	bool bpf_stats;
	double window;
};

static const struct cli_opt trace_start_opts[] = {
	{ "backend", 'b', CLI_ENUM, offsetof(struct trace_opts, backend), "BACKEND",
	  "attach with this backend instead of probing", .choices = backend_choices },
	{ 0 }
};

static const struct cli_spec trace_start_spec = {
	"trace start", "NAME...",
	"Trace the named taps per queue until `tapflow trace stop`. The programs are\n"
	"pinned under " TF_TRACE_PIN_DIR " and keep running after this command exits.\n"
	"The backend is probed: fentry, then kprobe, then BTF tracepoints.",
	trace_start_opts, 1, -1,
};

static const struct cli_opt trace_stop_opts[] = {
	{ "all", 'a', CLI_FLAG, offsetof(struct trace_opts, all), NULL,
	  "stop tracing every tap and unload the programs" },
	{ 0 }
};

static const struct cli_spec trace_stop_spec = {
	"trace stop", "NAME...",
	"Stop tracing the named taps; the programs are unloaded and their pins\n"
	"removed when no traced tap is left.",
	trace_stop_opts, 0, -1,
};

static const struct cli_opt trace_status_opts[] = {
	{ "json", 'j', CLI_FLAG, offsetof(struct trace_opts, json), NULL, "print JSON" },
	{ .name = "bpf-stats", .type = CLI_FLAG, .off = offsetof(struct trace_opts, bpf_stats),
	  .help = "also count each tracing program's runs and ns per run for --window "
		  "(the kernel's run-time statistics, on only meanwhile)" },
	{ .name = "window", .short_name = 'w', .type = CLI_SECONDS,
	  .off = offsetof(struct trace_opts, window), .metavar = "S",
	  .help = "how long --bpf-stats counts (default 1 s)", .dmin = 0.1, .dmax = 3600 },
	{ 0 }
};

static const struct cli_spec trace_status_spec = {
	"trace status", NULL, "Say whether tracing runs, with which backend, and on which taps.",
	trace_status_opts, 0, 0,
};

static int trace_start(int argc, char **argv)
{
	struct trace_opts o = { 0 };
	struct cli_parsed p;
	int r, backend = 0;

	r = cli_parse(&trace_start_spec, argc, argv, &o, &p);
	if (r)
		return r == 1 ? 0 : r;
	r = tf_trace_start((const char *const *)p.argv, p.argc, o.backend, &backend);
	if (r)
		return cli_fail(&trace_start_spec, r);
	printf("tracing");
	for (int i = 0; i < p.argc; i++)
		printf("%s %s", i ? "," : "", p.argv[i]);
	printf(" (backend: %s)\n", tf_backend_name(backend));
	return 0;
}

static int trace_stop(int argc, char **argv)
{
	struct trace_opts o = { 0 };
	struct cli_parsed p;
	int r;

	r = cli_parse(&trace_stop_spec, argc, argv, &o, &p);
	if (r)
		return r == 1 ? 0 : r;
	if (o.all == (p.argc > 0))
		return cli_usage_error(&trace_stop_spec, "name the taps or give --all, not both");
	r = o.all ? tf_trace_stop_all() : tf_trace_stop((const char *const *)p.argv, p.argc);
	if (r)
		return cli_fail(&trace_stop_spec, r);
	return 0;
}

/*
 * Runs of each program during a window, from the kernel's statistics
 * (turned on for the window only, unless the sysctl has them on already).
 */
static int prog_costs(double window, struct tf_prog_cost **out, size_t *n)
{
	struct tf_prog_cost *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	struct timespec ts;
	int fd, err;

	fd = tf_bpf_stats_enable();
	if (fd < 0)
		return fd;
	err = tf_trace_prog_costs(&a, &na);
	if (!err) {
		ts.tv_sec = (time_t)window;
		ts.tv_nsec = (long)((window - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		err = tf_trace_prog_costs(&b, &nb);
	}
	close(fd);
	if (err) {
		tf_trace_prog_costs_free(a);
		return err;
	}
	/* b minus a, program by program (by id: a restarted session has new ones) */
	for (size_t i = 0; i < nb; i++) {
		uint64_t r0 = 0, t0 = 0;

		for (size_t k = 0; k < na; k++)
			if (a[k].id == b[i].id) {
				r0 = a[k].runs;
				t0 = a[k].run_ns;
			}
		b[i].runs -= r0;
		b[i].run_ns -= t0;
	}
	tf_trace_prog_costs_free(a);
	*out = b;
	*n = nb;
	return 0;
}

static double per_run(const struct tf_prog_cost *c)
{
	return c->runs ? (double)c->run_ns / (double)c->runs : 0;
}

static int trace_status(int argc, char **argv)
{
	struct tf_prog_cost *cost = NULL;
	size_t ncost = 0;
	struct trace_opts o = { 0 };
	struct tf_tap_stats *t = NULL;
	struct cli_parsed p;
	struct tf_json j;
	size_t n = 0;
	int r, backend;

	r = cli_parse(&trace_status_spec, argc, argv, &o, &p);
	if (r)
		return r == 1 ? 0 : r;
	backend = tf_trace_backend();
	if (backend < 0)
		return cli_fail(&trace_status_spec, backend);
	if (!cli_given(&trace_status_spec, &p, "window"))
		o.window = 1.0;
	else if (!o.bpf_stats)
		return cli_usage_error(&trace_status_spec, "--window is how long --bpf-stats counts: give --bpf-stats");
	if (backend > 0) {
		r = tf_trace_read(NULL, &t, &n);
		if (r)
			return cli_fail(&trace_status_spec, r);
		if (o.bpf_stats) {
			r = prog_costs(o.window, &cost, &ncost);
			if (r) {
				tf_trace_stats_free(t, n);
				return cli_fail(&trace_status_spec, r);
			}
		}
	}
	if (o.json) {
		tf_json_init(&j, stdout);
		tf_json_obj_begin(&j, NULL);
		tf_json_bool(&j, "running", backend > 0);
		if (backend > 0)
			tf_json_str(&j, "backend", tf_backend_name(backend));
		else
			tf_json_null(&j, "backend");
		tf_json_arr_begin(&j, "taps");
		for (size_t i = 0; i < n; i++) {
			tf_json_obj_begin(&j, NULL);
			tf_json_str(&j, "tap", t[i].name);
			tf_json_u64(&j, "ifindex", t[i].ifindex);
			tf_json_bool(&j, "gone", t[i].gone);
			tf_json_bool(&j, "other_netns", !t[i].local);
			tf_json_obj_end(&j);
		}
		tf_json_arr_end(&j);
		if (o.bpf_stats && backend > 0) {
			tf_json_obj_begin(&j, "bpf_stats");
			tf_json_double(&j, "window_s", o.window);
			tf_json_arr_begin(&j, "programs");
			for (size_t i = 0; i < ncost; i++) {
				tf_json_obj_begin(&j, NULL);
				tf_json_str(&j, "program", cost[i].name);
				tf_json_u64(&j, "id", cost[i].id);
				tf_json_u64(&j, "runs", cost[i].runs);
				tf_json_u64(&j, "run_ns", cost[i].run_ns);
				tf_json_double(&j, "ns_per_run", per_run(&cost[i]));
				tf_json_obj_end(&j);
			}
			tf_json_arr_end(&j);
			tf_json_obj_end(&j);
		}
		tf_json_obj_end(&j);
		tf_json_end(&j);
	} else if (backend <= 0) {
		printf("tracing is not running\n");
	} else {
		printf("tracing runs with the %s backend on %zu tap(s)\n", tf_backend_name(backend), n);
		for (size_t i = 0; i < n; i++)
			printf("  %-15s ifindex %u%s%s\n", t[i].name, t[i].ifindex,
			       t[i].gone ? "  (gone: deleted while traced)" : "",
			       t[i].local ? "" : "  (another network namespace)");
		if (o.bpf_stats) {
			uint64_t runs = 0, ns = 0;

			printf("programs over %.1f s (BPF run-time statistics):\n",
			       o.window);
			printf("  %-28s %12s %12s %10s\n", "program", "runs", "runs/s", "ns/run");
			for (size_t i = 0; i < ncost; i++) {
				printf("  %-28s %12llu %12.0f %10.1f\n", cost[i].name,
				       (unsigned long long)cost[i].runs, cost[i].runs / o.window,
				       per_run(&cost[i]));
				runs += cost[i].runs;
				ns += cost[i].run_ns;
			}
			printf("  %-28s %12llu %12.0f %10.1f   (%.4f of a CPU)\n", "all", (unsigned long long)runs,
			       runs / o.window, runs ? (double)ns / runs : 0, ns / o.window / 1e9);
		}
	}
	tf_trace_prog_costs_free(cost);
	tf_trace_stats_free(t, n);
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
			"Usage: tapflow trace start [--backend B] NAME...\n"
			"       tapflow trace stop NAME... | --all\n"
			"       tapflow trace status [--json]\n");
		return argc < 2 ? TF_EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "start"))
		return trace_start(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stop"))
		return trace_stop(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return trace_status(argc - 1, argv + 1);
	fprintf(stderr, "tapflow trace: unknown subcommand '%s' (start, stop, status)\n", argv[1]);
	return TF_EXIT_USAGE;
}

/* ---- stats -------------------------------------------------------------- */

struct stats_opts {
	bool json;
};

static const struct cli_opt stats_opts[] = {
	{ "json", 'j', CLI_FLAG, offsetof(struct stats_opts, json), NULL, "print JSON" },
	{ 0 }
};

static const struct cli_spec stats_spec = {
	"stats", "NAME",
	"Cumulative per-queue counters and histograms since tracing of NAME began.\n"
	"tx is tun_net_xmit (host -> queue ring -> backend), rx is tun_get_user\n"
	"(backend -> host).",
	stats_opts, 1, 1,
};

static void json_hist(struct tf_json *j, const char *key, const __u64 *b, int n,
		      uint64_t sum, bool avail)
{
	uint64_t count = 0;

	if (!avail) {
		tf_json_null(j, key);
		return;
	}
	for (int i = 0; i < n; i++)
		count += b[i];
	tf_json_obj_begin(j, key);
	tf_json_u64(j, "count", count);
	tf_json_u64(j, "sum", sum);
	tf_json_arr_begin(j, "buckets");
	for (int i = 0; i < n; i++) {
		if (!b[i])
			continue;
		tf_json_obj_begin(j, NULL);
		tf_json_u64(j, "ge", i ? (uint64_t)1 << i : 0);
		tf_json_u64(j, "lt", tf_hist_upper(i));
		tf_json_u64(j, "count", b[i]);
		tf_json_obj_end(j);
	}
	tf_json_arr_end(j);
	tf_json_obj_end(j);
}

static void stats_json(const struct tf_tap_stats *t)
{
	struct tf_json j;

	tf_json_init(&j, stdout);
	tf_json_obj_begin(&j, NULL);
	tf_json_str(&j, "tap", t->name);
	tf_json_str(&j, "backend", tf_backend_name(t->backend));
	tf_json_bool(&j, "gone", t->gone);
	tf_json_u64(&j, "queues_attached", t->queues_attached);
	tf_json_arr_begin(&j, "queues");
	for (uint32_t i = 0; i < t->nqueues; i++) {
		const struct tf_queue_stats *q = &t->q[i];

		tf_json_obj_begin(&j, NULL);
		tf_json_u64(&j, "queue", q->queue);
		tf_json_bool(&j, "attached", q->attached);
		tf_json_u64(&j, "tx_packets", q->c.tx_packets);
		tf_json_u64(&j, "tx_xdp_packets", q->c.tx_xdp_packets);
		tf_json_u64(&j, "tx_bytes", q->c.tx_bytes);
		tf_json_u64(&j, "tx_drops", q->tx_drops);
		tf_json_obj_begin(&j, "tx_drop_causes");
		for (int d = 0; d < TF_DROP__MAX; d++)
			tf_json_u64(&j, drop_names[d], q->c.tx_drops[d]);
		tf_json_obj_end(&j);
		tf_json_u64(&j, "rx_packets", q->c.rx_packets);
		tf_json_u64(&j, "rx_bytes", q->c.rx_bytes);
		if (t->rx_ns)
			tf_json_u64(&j, "rx_drops", q->c.rx_drops);
		else
			tf_json_null(&j, "rx_drops");
		tf_json_u64(&j, "ring_wait_untracked", q->c.ring_wait_untracked);
		json_hist(&j, "ring_wait_ns", q->h.ring_wait_ns, TF_HIST_SLOTS, q->h.ring_wait_sum_ns, true);
		json_hist(&j, "rx_ns", q->h.rx_ns, TF_HIST_SLOTS, q->h.rx_sum_ns, t->rx_ns);
		json_hist(&j, "ring_occupancy", q->h.occupancy, TF_OCC_SLOTS, q->h.occupancy_sum, true);
		tf_json_obj_end(&j);
	}
	tf_json_arr_end(&j);
	tf_json_obj_end(&j);
	tf_json_end(&j);
}

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (!ns)
		snprintf(buf, len, "-");
	else if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
}

static void stats_text(const struct tf_tap_stats *t)
{
	printf("%s  backend %s%s, %u queue(s) attached\n", t->name, tf_backend_name(t->backend),
	       t->gone ? "  (gone: deleted while traced)" : "", t->queues_attached);
	printf("%5s %12s %10s %14s %10s %12s %14s %9s %9s %9s\n", "queue", "tx_packets", "tx_xdp",
	       "tx_bytes", "tx_drops", "rx_packets", "rx_bytes", "rx_drops", "wait_p50", "wait_p99");
	for (uint32_t i = 0; i < t->nqueues; i++) {
		const struct tf_queue_stats *q = &t->q[i];
		char p50[16], p99[16], rxd[24];

		fmt_ns(p50, sizeof(p50), tf_hist_quantile(q->h.ring_wait_ns, TF_HIST_SLOTS, 0.5));
		fmt_ns(p99, sizeof(p99), tf_hist_quantile(q->h.ring_wait_ns, TF_HIST_SLOTS, 0.99));
		if (t->rx_ns)
			snprintf(rxd, sizeof(rxd), "%llu", (unsigned long long)q->c.rx_drops);
		else
			snprintf(rxd, sizeof(rxd), "n/a");
		printf("%5u %12llu %10llu %14llu %10llu %12llu %14llu %9s %9s %9s%s\n", q->queue,
		       (unsigned long long)q->c.tx_packets, (unsigned long long)q->c.tx_xdp_packets,
		       (unsigned long long)q->c.tx_bytes,
		       (unsigned long long)q->tx_drops, (unsigned long long)q->c.rx_packets,
		       (unsigned long long)q->c.rx_bytes, rxd, p50, p99,
		       q->attached ? "" : "  (detached)");
	}
}

int cmd_stats(int argc, char **argv)
{
	struct stats_opts o = { 0 };
	struct tf_tap_stats *t = NULL;
	struct cli_parsed p;
	size_t n = 0;
	int r;

	r = cli_parse(&stats_spec, argc, argv, &o, &p);
	if (r)
		return r == 1 ? 0 : r;
	r = tf_parse_ifname(p.argv[0], NULL);
	if (r)
		return cli_usage_error(&stats_spec, "%s", tf_errmsg());
	r = tf_trace_read(p.argv[0], &t, &n);
	if (r)
		return cli_fail(&stats_spec, r);
	if (o.json)
		stats_json(&t[0]);
	else
		stats_text(&t[0]);
	tf_trace_stats_free(t, n);
	return 0;
}

/* ---- hist --------------------------------------------------------------- */

struct hist_opts {
	unsigned int queue;
};

static const struct cli_opt hist_opts[] = {
	{ "queue", 'q', CLI_UINT, offsetof(struct hist_opts, queue), "Q", "only this queue",
	  .min = 0, .max = TF_MAX_QUEUES - 1 },
	{ 0 }
};

static const struct cli_spec hist_spec = {
	"hist", "NAME", "Draw the log2 histograms of NAME's queues: ring wait, rx time, ring occupancy.",
	hist_opts, 1, 1,
};

static void draw(const char *title, const __u64 *b, int n, bool ns)
{
	uint64_t max = 0, total = 0;
	int lo = -1, hi = -1;

	for (int i = 0; i < n; i++) {
		total += b[i];
		if (b[i] > max)
			max = b[i];
		if (b[i]) {
			if (lo < 0)
				lo = i;
			hi = i;
		}
	}
	printf("  %s (%llu samples)\n", title, (unsigned long long)total);
	if (!total)
		return;
	for (int i = lo; i <= hi; i++) {
		char a[32], z[32];
		int w = (int)((b[i] * 40 + max - 1) / max);

		if (ns) {
			fmt_ns(a, sizeof(a), i ? (uint64_t)1 << i : 0);
			fmt_ns(z, sizeof(z), tf_hist_upper(i));
			if (!i)
				snprintf(a, sizeof(a), "0");
		} else {
			snprintf(a, sizeof(a), "%llu", i ? 1ull << i : 0ull);
			snprintf(z, sizeof(z), "%llu", (unsigned long long)tf_hist_upper(i));
		}
		printf("  %9s .. %-9s %10llu |%.*s%*s|\n", a, z, (unsigned long long)b[i], w,
		       "****************************************", 40 - w, "");
	}
}

int cmd_hist(int argc, char **argv)
{
	struct hist_opts o = { 0 };
	struct tf_tap_stats *t = NULL;
	struct cli_parsed p;
	size_t n = 0;
	bool shown = false;
	int r;

	r = cli_parse(&hist_spec, argc, argv, &o, &p);
	if (r)
		return r == 1 ? 0 : r;
	r = tf_trace_read(p.argv[0], &t, &n);
	if (r)
		return cli_fail(&hist_spec, r);
	for (uint32_t i = 0; i < t[0].nqueues; i++) {
		const struct tf_queue_stats *q = &t[0].q[i];

		if (cli_given(&hist_spec, &p, "queue") && q->queue != o.queue)
			continue;
		shown = true;
		printf("%s queue %u\n", t[0].name, q->queue);
		draw("ring wait (tun_net_xmit -> backend read)", q->h.ring_wait_ns, TF_HIST_SLOTS, true);
		if (t[0].rx_ns)
			draw("rx time in tun_get_user", q->h.rx_ns, TF_HIST_SLOTS, true);
		draw("ring occupancy when queued (entries)", q->h.occupancy, TF_OCC_SLOTS, false);
	}
	if (!shown && cli_given(&hist_spec, &p, "queue")) {
		tf_trace_stats_free(t, n);
		return cli_usage_error(&hist_spec, "queue %u of %s has no data", o.queue, p.argv[0]);
	}
	tf_trace_stats_free(t, n);
	return 0;
}

/* ---- top ---------------------------------------------------------------- */

struct top_opts {
	double interval;
	unsigned int count;
	int backend;
};

static const struct cli_opt top_opts[] = {
	{ "interval", 'i', CLI_SECONDS, offsetof(struct top_opts, interval), "S",
	  "refresh every S seconds (default 1)", .dmin = 0.1, .dmax = 3600 },
	{ "count", 'c', CLI_UINT, offsetof(struct top_opts, count), "N",
	  "stop after N refreshes (default: until interrupted)", .min = 1, .max = 1000000 },
	{ "backend", 'b', CLI_ENUM, offsetof(struct top_opts, backend), "BACKEND",
	  "backend when top starts tracing itself", .choices = backend_choices },
	{ 0 }
};

static const struct cli_spec top_spec = {
	"top", "[NAME...]",
	"A live per-queue table: tx/rx packets and bytes per second, drops, ring\n"
	"occupancy and ring wait p50/p99/max over each interval. Without names it\n"
	"shows every traced tap. Taps not yet traced are traced for top's lifetime.",
	top_opts, 0, -1,
};

static volatile sig_atomic_t top_stop;

static void on_sigint(int sig)
{
	(void)sig;
	top_stop = 1;
}

static const struct tf_queue_stats *find_q(const struct tf_tap_stats *t, size_t n,
					   const char *name, uint32_t ifindex, uint32_t queue)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].name, name) || t[i].ifindex != ifindex)
			continue;
		for (uint32_t k = 0; k < t[i].nqueues; k++)
			if (t[i].q[k].queue == queue)
				return &t[i].q[k];
	}
	return NULL;
}

static uint64_t hist_max(const __u64 *b, int n)
{
	for (int i = n - 1; i >= 0; i--)
		if (b[i])
			return tf_hist_upper(i);
	return 0;
}

static void top_frame(const struct tf_tap_stats *cur, size_t n, const struct tf_tap_stats *prev,
		      size_t pn, double secs, bool clear)
{
	if (clear)
		printf("\033[H\033[J");
	printf("%-15s %5s %10s %12s %10s %12s %8s %8s %6s %9s %9s %9s\n", "tap", "queue", "tx_pps",
	       "tx_B/s", "rx_pps", "rx_B/s", "tx_drop", "rx_drop", "occ", "wait_p50", "wait_p99",
	       "wait_max");
	for (size_t i = 0; i < n; i++) {
		const struct tf_tap_stats *t = &cur[i];

		if (t->gone) {
			printf("%-15s  (gone: deleted while traced)\n", t->name);
			continue;
		}
		for (uint32_t k = 0; k < t->nqueues; k++) {
			const struct tf_queue_stats *q = &t->q[k], *o;
			struct tf_queue_stats d;
			char p50[16], p99[16], mx[16], rxd[24];
			uint64_t occn = 0;

			o = find_q(prev, pn, t->name, t->ifindex, q->queue);
			memcpy(&d, q, sizeof(d));
			if (o) {
				const __u64 *a = (const __u64 *)&o->c;
				__u64 *z = (__u64 *)&d.c;

				for (size_t m = 0; m < sizeof(d.c) / sizeof(__u64); m++)
					z[m] -= a[m];
				d.tx_drops -= o->tx_drops;
				for (int m = 0; m < TF_HIST_SLOTS; m++)
					d.h.ring_wait_ns[m] -= o->h.ring_wait_ns[m];
				for (int m = 0; m < TF_OCC_SLOTS; m++)
					d.h.occupancy[m] -= o->h.occupancy[m];
				d.h.occupancy_sum -= o->h.occupancy_sum;
			}
			for (int m = 0; m < TF_OCC_SLOTS; m++)
				occn += d.h.occupancy[m];
			fmt_ns(p50, sizeof(p50), tf_hist_quantile(d.h.ring_wait_ns, TF_HIST_SLOTS, 0.5));
			fmt_ns(p99, sizeof(p99), tf_hist_quantile(d.h.ring_wait_ns, TF_HIST_SLOTS, 0.99));
			fmt_ns(mx, sizeof(mx), hist_max(d.h.ring_wait_ns, TF_HIST_SLOTS));
			if (t->rx_ns)
				snprintf(rxd, sizeof(rxd), "%llu", (unsigned long long)d.c.rx_drops);
			else
				snprintf(rxd, sizeof(rxd), "n/a");
			printf("%-15s %5u %10.0f %12.0f %10.0f %12.0f %8llu %8s %6.1f %9s %9s %9s\n",
			       k ? "" : t->name, q->queue, d.c.tx_packets / secs, d.c.tx_bytes / secs,
			       d.c.rx_packets / secs, d.c.rx_bytes / secs,
			       (unsigned long long)d.tx_drops, rxd,
			       occn ? (double)d.h.occupancy_sum / occn : 0.0, p50, p99, mx);
		}
	}
	fflush(stdout);
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o = { .interval = 1.0 };
	struct tf_tap_stats *cur = NULL, *prev = NULL;
	size_t n = 0, pn = 0;
	const char **mine = NULL;
	int nmine = 0, r, backend = 0;
	struct cli_parsed p;
	bool tty = isatty(STDOUT_FILENO);

	r = cli_parse(&top_spec, argc, argv, &o, &p);
	if (r)
		return r == 1 ? 0 : r;
	/* Trace, for our lifetime, the named taps not traced yet. */
	mine = calloc(p.argc ? p.argc : 1, sizeof(*mine));
	if (!mine)
		return TF_EXIT_FAIL;
	for (int i = 0; i < p.argc; i++) {
		struct tf_tap_info ti;

		r = tf_tap_get(p.argv[i], &ti);
		if (r) {
			free(mine);
			if (r == -ENODEV)
				tf_err(r, "no tap named '%s'", p.argv[i]);
			return cli_fail(&top_spec, r);
		}
		if (tf_trace_is_traced(ti.ifindex, NULL) != 1)
			mine[nmine++] = p.argv[i];
	}
	if (!p.argc && tf_trace_backend() <= 0) {
		free(mine);
		return cli_usage_error(&top_spec, "tracing is not running: name the taps to watch");
	}
	if (nmine) {
		r = tf_trace_start(mine, nmine, o.backend, &backend);
		if (r) {
			free(mine);
			return cli_fail(&top_spec, r);
		}
		fprintf(stderr, "tapflow top: tracing %d tap(s) for this session (backend: %s)\n",
			nmine, tf_backend_name(backend));
	}
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	r = tf_trace_read(NULL, &prev, &pn);
	for (unsigned int frame = 0; !r && !top_stop && (!o.count || frame < o.count); frame++) {
		struct timespec ts = { (time_t)o.interval,
				       (long)((o.interval - floor(o.interval)) * 1e9) };

		while (nanosleep(&ts, &ts) && !top_stop)
			;
		if (top_stop)
			break;
		r = tf_trace_read(NULL, &cur, &n);
		if (r)
			break;
		if (p.argc) {
			/* Keep only the named taps. */
			size_t w = 0;

			for (size_t i = 0; i < n; i++) {
				bool keep = false;

				for (int k = 0; k < p.argc; k++)
					keep |= !strcmp(cur[i].name, p.argv[k]) && cur[i].local;
				if (keep)
					cur[w++] = cur[i];
				else
					free(cur[i].q);
			}
			n = w;
		}
		top_frame(cur, n, prev, pn, o.interval, tty);
		tf_trace_stats_free(prev, pn);
		prev = cur;
		pn = n;
		cur = NULL;
	}
	tf_trace_stats_free(prev, pn);
	if (nmine && tf_trace_stop(mine, nmine))
		fprintf(stderr, "tapflow top: could not stop tracing: %s\n", tf_errmsg());
	free(mine);
	if (r)
		return cli_fail(&top_spec, r);
	return 0;
}
