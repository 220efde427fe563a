// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CLI for per-queue tracing: trace start|stop|status, stats, top, hist.
 * Everything is read back from the pinned maps, so these commands work from
 * any process while tracing runs.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_cmds.h"
#include "json.h"
#include "cli_backend.h"
#include "log.h"
#include "tapflow.h"
#include "tf_trace.h"

static const char *const backend_choices[] = { "auto", "fentry", "kprobe", "tracepoint", NULL };
static const char *const drop_names[TF_DROP__MAX] = { "ring_full", "filter", "detached", "other" };

/* ---- trace start|stop|status ------------------------------------------- */

struct trace_cfg {
	struct cli_list names;
	int backend;
	bool all;
	bool json;
	bool bpf_stats;
	double window;
};

static const struct cli_opt trace_start_opts[] = {
	CLI_OPT(struct trace_cfg, CLI_ENUM, backend, "backend", .short_name = 'b',
		.metavar = "BACKEND", .help = "attach with this backend instead of probing",
		.choices = backend_choices),
	CLI_OPT(struct trace_cfg, CLI_FLAG, all, "all", .short_name = 'a',
		.help = "trace every tun/tap device of this network namespace, once "
			"(tapflow export --trace GLOB follows new ones)"),
	CLI_END
};

static const struct cli_opt trace_names_opt[] = {
	CLI_ARG(struct trace_cfg, CLI_IFNAMES, names, "NAME", .optional = true),
	CLI_END
};

static const struct cli_opt trace_stop_opts[] = {
	CLI_OPT(struct trace_cfg, CLI_FLAG, all, "all", .short_name = 'a',
		.help = "stop tracing every tap and unload the programs"),
	CLI_END
};

static const struct cli_opt trace_status_opts[] = {
	CLI_OPT(struct trace_cfg, CLI_FLAG, json, "json", .short_name = 'j', .help = "print JSON"),
	CLI_OPT(struct trace_cfg, CLI_FLAG, bpf_stats, "bpf-stats",
		.help = "also count each tracing program's runs and ns per run for --window "
			"(the kernel's run-time statistics, on only meanwhile)"),
	CLI_OPT(struct trace_cfg, CLI_SECONDS, window, "window", .short_name = 'w',
		.metavar = "S", .help = "how long --bpf-stats counts (default 1 s)",
		.dmin = 0.1, .dmax = 3600),
	CLI_END
};

static int trace_start(void *p)
{
	struct trace_cfg *o = p;
	int r, backend = 0;

	if (o->all == (o->names.n > 0))
		return cli_usage_error(o->all ? "--all traces every tap: name none"
				       : "missing NAME... or --all (see tapflow trace start --help)");
	if (o->all) {
		struct tf_tap_info *taps;
		const char **names;
		size_t n;

		r = tf_tap_list(&taps, &n);
		if (r)
			return cli_fail(r);
		if (!n) {
			tf_tap_list_free(taps);
			printf("no tun/tap devices in this network namespace: nothing traced\n");
			return 0;
		}
		names = calloc(n, sizeof(*names));
		for (size_t i = 0; names && i < n; i++)
			names[i] = taps[i].name;
		r = names ? tf_trace_start(names, (int)n, o->backend, &backend) :
			    tf_err(-ENOMEM, "out of memory");
		free(names);
		if (!r)
			printf("tracing %zu tap(s) (backend: %s)\n", n, tf_backend_name(backend));
		tf_tap_list_free(taps);
		return r ? cli_fail(r) : 0;
	}
	r = tf_trace_start((const char *const *)o->names.v, o->names.n, o->backend, &backend);
	if (r)
		return cli_fail(r);
	printf("tracing");
	for (size_t i = 0; i < o->names.n; i++)
		printf("%s %s", i ? "," : "", o->names.v[i]);
	printf(" (backend: %s)\n", tf_backend_name(backend));
	return 0;
}

static int trace_stop(void *p)
{
	struct trace_cfg *o = p;
	int r;

	if (o->all == (o->names.n > 0))
		return cli_usage_error("name the taps or give --all, not both");
	r = o->all ? tf_trace_stop_all() : tf_trace_stop((const char *const *)o->names.v, o->names.n);
	if (r)
		return cli_fail(r);
	return 0;
}

static int trace_status(void *p)
{
	struct trace_cfg *o = p;
	struct tf_prog_cost *cost = NULL;
	struct tf_tap_stats *t = NULL;
	size_t n = 0, ncost = 0;
	struct tf_json j;
	int r, backend;

	backend = tf_trace_backend();
	if (backend < 0)
		return cli_fail(backend);
	if (!cli_given("window"))
		o->window = 1.0;
	else if (!o->bpf_stats)
		return cli_usage_error("--window is how long --bpf-stats counts: give --bpf-stats");
	if (backend > 0) {
		r = tf_trace_read(NULL, &t, &n);
		if (r)
			return cli_fail(r);
		if (o->bpf_stats) {
			r = cli_trace_costs(o->window, &cost, &ncost);
			if (r) {
				tf_trace_stats_free(t, n);
				return cli_fail(r);
			}
		}
	}
	if (o->json) {
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
		if (o->bpf_stats && backend > 0)
			cli_trace_costs_json(&j, o->window, cost, ncost);
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
		if (o->bpf_stats)
			cli_trace_costs_print(o->window, cost, ncost);
	}
	tf_trace_prog_costs_free(cost);
	tf_trace_stats_free(t, n);
	return 0;
}

static const struct cli_cmd trace_start_cmd = {
	.name = "start",
	.summary = "trace the named taps per queue",
	.doc = "Trace the named taps per queue until `tapflow trace stop`. The programs are\n"
	       "pinned under " TF_TRACE_PIN_DIR " and keep running after this command exits.\n"
	       "The backend is probed: fentry, then kprobe, then BTF tracepoints. A tap\n"
	       "named twice is refused.",
	.opts = trace_start_opts,
	.args = trace_names_opt,
	.synopsis = "NAME... | --all",
	CLI_CFG(struct trace_cfg, .backend = 0),
	.run = trace_start,
};

static const struct cli_cmd trace_stop_cmd = {
	.name = "stop",
	.summary = "stop tracing the named taps, or all of them",
	.doc = "Stop tracing the named taps; the programs are unloaded and their pins\n"
	       "removed when no traced tap is left.",
	.opts = trace_stop_opts,
	.args = trace_names_opt,
	.synopsis = "NAME... | --all",
	CLI_CFG(struct trace_cfg, .all = false),
	.run = trace_stop,
};

static const struct cli_cmd trace_status_cmd = {
	.name = "status",
	.summary = "say whether tracing runs, with which backend, on which taps",
	.doc = "Say whether tracing runs, with which backend, and on which taps.",
	.opts = trace_status_opts,
	CLI_CFG(struct trace_cfg, .json = false),
	.run = trace_status,
};

const struct cli_cmd cli_trace = {
	.name = "trace",
	.summary = "start, stop or check per-queue tracing (trace start NAME...)",
	.subs = (const struct cli_cmd *const[]){ &trace_start_cmd, &trace_stop_cmd,
						 &trace_status_cmd, NULL },
};

/* ---- stats -------------------------------------------------------------- */

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
	cli_backend_json(&j, cli_backend_of(t->name));
	tf_json_u64(&j, "rows", t->rows);
	tf_json_u64(&j, "queues_extra", t->queues_extra);
	/* counted with no queue: the extra table was full (never lost) */
	tf_json_obj_begin(&j, "noqueue");
	tf_json_u64(&j, "tx_packets", t->noqueue.tx_packets);
	tf_json_u64(&j, "tx_bytes", t->noqueue.tx_bytes);
	tf_json_u64(&j, "rx_packets", t->noqueue.rx_packets);
	tf_json_u64(&j, "rx_bytes", t->noqueue.rx_bytes);
	tf_json_obj_end(&j);
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
		if (t->in_flight_known)
			tf_json_u64(&j, "ring_wait_in_flight", q->in_flight);
		else
			tf_json_null(&j, "ring_wait_in_flight");
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
	printf("%s  backend %s%s, %u queue(s) attached, vm %s\n", t->name, tf_backend_name(t->backend),
	       t->gone ? "  (gone: deleted while traced)" : "", t->queues_attached,
	       cli_backend_vm(cli_backend_of(t->name)));
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
	if (t->noqueue.tx_packets || t->noqueue.rx_packets)
		printf("%5s %12llu %10s %14llu %10s %12llu %14llu  (no queue: tracing's extra table "
		       "was full, TAPFLOW_TRACE_EXTRA)\n", "-",
		       (unsigned long long)t->noqueue.tx_packets, "-",
		       (unsigned long long)t->noqueue.tx_bytes, "-",
		       (unsigned long long)t->noqueue.rx_packets,
		       (unsigned long long)t->noqueue.rx_bytes);
}

static int run_stats(void *p)
{
	struct cli_tap_cfg *o = p;
	struct tf_tap_stats *t = NULL;
	size_t n = 0;
	int r;

	r = tf_trace_read(o->name, &t, &n);
	if (!r)
		r = tf_trace_read_in_flight(&t[0]);
	if (r) {
		tf_trace_stats_free(t, n);
		return cli_fail(r);
	}
	{
		const char *nm = t[0].name;

		cli_backends_refresh(&nm, &t[0].queues_attached, 1);
	}
	if (o->json)
		stats_json(&t[0]);
	else
		stats_text(&t[0]);
	tf_trace_stats_free(t, n);
	return 0;
}

const struct cli_cmd cli_stats = {
	.name = "stats",
	.summary = "cumulative per-queue counters of a traced tap",
	.doc = "Cumulative per-queue counters and histograms since tracing of NAME began.\n"
	       "tx is tun_net_xmit (host -> queue ring -> backend), rx is tun_get_user\n"
	       "(backend -> host).",
	.opts = cli_tap_json_opts,
	CLI_TAP_ARG(struct cli_tap_cfg),
	CLI_CFG(struct cli_tap_cfg, .json = false),
	.run = run_stats,
};

/* ---- hist --------------------------------------------------------------- */

struct hist_cfg {
	char name[TF_IFNAMSIZ];
	unsigned int queue;
};

static const struct cli_opt hist_opts[] = {
	CLI_OPT(struct hist_cfg, CLI_UINT, queue, "queue", .short_name = 'q', .metavar = "Q",
		.help = "only this queue", .min = 0, .max = TF_MAX_QUEUES - 1),
	CLI_END
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

static int run_hist(void *p)
{
	struct hist_cfg *o = p;
	struct tf_tap_stats *t = NULL;
	size_t n = 0;
	bool shown = false;
	int r;

	r = tf_trace_read(o->name, &t, &n);
	if (r)
		return cli_fail(r);
	for (uint32_t i = 0; i < t[0].nqueues; i++) {
		const struct tf_queue_stats *q = &t[0].q[i];

		if (cli_given("queue") && q->queue != o->queue)
			continue;
		shown = true;
		printf("%s queue %u\n", t[0].name, q->queue);
		draw("ring wait (tun_net_xmit -> backend read)", q->h.ring_wait_ns, TF_HIST_SLOTS, true);
		if (t[0].rx_ns)
			draw("rx time in tun_get_user", q->h.rx_ns, TF_HIST_SLOTS, true);
		draw("ring occupancy when queued (entries)", q->h.occupancy, TF_OCC_SLOTS, false);
	}
	if (!shown && cli_given("queue")) {
		tf_trace_stats_free(t, n);
		return cli_usage_error("queue %u of %s has no data", o->queue, o->name);
	}
	tf_trace_stats_free(t, n);
	return 0;
}

const struct cli_cmd cli_hist = {
	.name = "hist",
	.summary = "log2 histograms of a traced tap's queues",
	.doc = "Draw the log2 histograms of NAME's queues: ring wait, rx time, ring occupancy.",
	.opts = hist_opts,
	CLI_TAP_ARG(struct hist_cfg),
	CLI_CFG(struct hist_cfg, .queue = 0),
	.run = run_hist,
};

/* ---- top ---------------------------------------------------------------- */

struct top_cfg {
	struct cli_list names;
	double interval;
	unsigned int count;
	int backend;
};

static const struct cli_opt top_opts[] = {
	CLI_OPT(struct top_cfg, CLI_SECONDS, interval, "interval", .short_name = 'i',
		.metavar = "S", .help = "refresh every S seconds (default 1)",
		.dmin = 0.1, .dmax = 3600),
	CLI_OPT(struct top_cfg, CLI_UINT, count, "count", .short_name = 'c', .metavar = "N",
		.help = "stop after N refreshes (default: until interrupted)",
		.min = 1, .max = 1000000),
	CLI_OPT(struct top_cfg, CLI_ENUM, backend, "backend", .short_name = 'b',
		.metavar = "BACKEND", .help = "backend when top starts tracing itself",
		.choices = backend_choices),
	CLI_END
};

static const struct cli_opt top_args[] = {
	CLI_ARG(struct top_cfg, CLI_IFNAMES, names, "NAME", .optional = true),
	CLI_END
};

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
	{
		/* who holds each tap: a walk of /proc only when a tap's queue count moved */
		const char *names[n ? n : 1];
		unsigned int att[n ? n : 1];

		for (size_t i = 0; i < n; i++) {
			names[i] = cur[i].name;
			att[i] = cur[i].local ? cur[i].queues_attached : 0;
		}
		cli_backends_refresh(names, att, n);
	}
	printf("%-15s %5s %10s %12s %10s %12s %8s %8s %6s %9s %9s %9s %s\n", "tap", "queue", "tx_pps",
	       "tx_B/s", "rx_pps", "rx_B/s", "tx_drop", "rx_drop", "occ", "wait_p50", "wait_p99",
	       "wait_max", "vm");
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
			printf("%-15s %5u %10.0f %12.0f %10.0f %12.0f %8llu %8s %6.1f %9s %9s %9s %s\n",
			       k ? "" : t->name, q->queue, d.c.tx_packets / secs, d.c.tx_bytes / secs,
			       d.c.rx_packets / secs, d.c.rx_bytes / secs,
			       (unsigned long long)d.tx_drops, rxd,
			       occn ? (double)d.h.occupancy_sum / occn : 0.0, p50, p99, mx,
			       k ? "" : cli_backend_vm(t->local ? cli_backend_of(t->name) : NULL));
		}
	}
	fflush(stdout);
}

static int run_top(void *cfg)
{
	struct top_cfg *o = cfg;
	struct tf_tap_stats *cur = NULL, *prev = NULL;
	size_t n = 0, pn = 0;
	const char **mine = NULL;
	int nmine = 0, r, backend = 0;
	struct { int argc; char **argv; } p = { (int)o->names.n, o->names.v };
	bool tty = isatty(STDOUT_FILENO);

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
			return cli_fail(r);
		}
		if (tf_trace_is_traced(ti.ifindex, NULL) != 1)
			mine[nmine++] = p.argv[i];
	}
	if (!p.argc && tf_trace_backend() <= 0) {
		free(mine);
		return cli_usage_error("tracing is not running: name the taps to watch");
	}
	if (nmine) {
		r = tf_trace_start(mine, nmine, o->backend, &backend);
		if (r) {
			free(mine);
			return cli_fail(r);
		}
		fprintf(stderr, "tapflow top: tracing %d tap(s) for this session (backend: %s)\n",
			nmine, tf_backend_name(backend));
	}
	cli_stop_on_signals(false, true);
	r = tf_trace_read(NULL, &prev, &pn);
	for (unsigned int frame = 0; !r && !cli_stop && (!o->count || frame < o->count); frame++) {
		struct timespec ts = { (time_t)o->interval,
				       (long)((o->interval - floor(o->interval)) * 1e9) };

		while (nanosleep(&ts, &ts) && !cli_stop)
			;
		if (cli_stop)
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
		top_frame(cur, n, prev, pn, o->interval, tty);
		tf_trace_stats_free(prev, pn);
		prev = cur;
		pn = n;
		cur = NULL;
	}
	tf_trace_stats_free(prev, pn);
	if (nmine && tf_trace_stop(mine, nmine))
		fprintf(stderr, "tapflow top: could not stop tracing: %s\n", tf_errmsg());
	free(mine);
	return r ? cli_fail(r) : 0;
}

const struct cli_cmd cli_top = {
	.name = "top",
	.summary = "live per-queue table of traced taps",
	.doc = "A live per-queue table: tx/rx packets and bytes per second, drops, ring\n"
	       "occupancy and ring wait p50/p99/max over each interval. Without names it\n"
	       "shows every traced tap. Taps not yet traced are traced for top's lifetime.",
	.opts = top_opts,
	.args = top_args,
	CLI_CFG(struct top_cfg, .interval = 1.0),
	.run = run_top,
};
