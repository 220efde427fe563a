// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `tapflow trace status --bpf-stats`: what tracing costs the host, as the
 * kernel's run-time statistics count it over a window (runs and ns per run
 * of each tracing program), rendered as text or JSON for trace status.
 * The statistics are switched on for the window only (BPF_ENABLE_STATS,
 * released with its fd), since they cost every BPF program on the host.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli_cmds.h"
#include "json.h"
#include "tapflow.h"

int cli_trace_costs(double window, struct tf_prog_cost **out, size_t *n)
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

void cli_trace_costs_json(struct tf_json *j, double window,
			  const struct tf_prog_cost *cost, size_t n)
{
	tf_json_obj_begin(j, "bpf_stats");
	tf_json_double(j, "window_s", window);
	tf_json_arr_begin(j, "programs");
	for (size_t i = 0; i < n; i++) {
		tf_json_obj_begin(j, NULL);
		tf_json_str(j, "program", cost[i].name);
		tf_json_u64(j, "id", cost[i].id);
		tf_json_u64(j, "runs", cost[i].runs);
		tf_json_u64(j, "run_ns", cost[i].run_ns);
		tf_json_double(j, "ns_per_run", per_run(&cost[i]));
		tf_json_obj_end(j);
	}
	tf_json_arr_end(j);
	tf_json_obj_end(j);
}

void cli_trace_costs_print(double window, const struct tf_prog_cost *cost, size_t n)
{
	uint64_t runs = 0, ns = 0;

	printf("programs over %.1f s (BPF run-time statistics):\n", window);
	printf("  %-28s %12s %12s %10s\n", "program", "runs", "runs/s", "ns/run");
	for (size_t i = 0; i < n; i++) {
		printf("  %-28s %12llu %12.0f %10.1f\n", cost[i].name,
		       (unsigned long long)cost[i].runs, cost[i].runs / window,
		       per_run(&cost[i]));
		runs += cost[i].runs;
		ns += cost[i].run_ns;
	}
	printf("  %-28s %12llu %12.0f %10.1f   (%.4f of a CPU)\n", "all", (unsigned long long)runs,
	       runs / window, runs ? (double)ns / runs : 0, ns / window / 1e9);
}
