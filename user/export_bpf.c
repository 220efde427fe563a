// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The exporter's BPF cost family (`tapflow export --bpf-stats`): each
 * tracing program's runs and run time from the kernel's run-time
 * statistics, so an operator graphs what tracing costs the host beside what
 * it measures. Kept apart from export.c's per-queue families: it reads no
 * map, only bpf_prog_info of the programs behind the tracing pins.
 *
 *   tapflow_bpf_prog_runs_total{prog="tp_net_dev_xmit"}
 *   tapflow_bpf_prog_run_seconds_total{prog="tp_net_dev_xmit"}
 *
 * The kernel counts only while statistics are on; the exporter holds them
 * on (BPF_ENABLE_STATS, an fd) for its whole life when asked, so the
 * counters are runs since it started (plus any other time something had
 * them on), and start again from 0 when tracing is reloaded (new programs).
 */
#include <errno.h>
#include <string.h>

#include "export_text.h"

/* One counter family, a sample a program: run counts, or run time in seconds. */
static void put_family(struct out *o, const char *family, const char *help,
		       const struct tf_prog_cost *c, size_t n, bool seconds)
{
	tfx_put_meta(o, family, "counter", help);
	for (size_t i = 0; i < n; i++) {
		put_str(o, family);
		put_str(o, "{prog=\"");
		put_str(o, c[i].name);
		put_str(o, "\"} ");
		if (seconds)
			put_sec(o, c[i].run_ns);
		else
			put_u64(o, c[i].runs);
		put(o, "\n", 1);
	}
}

int tf_export_render_bpf(struct tf_export_buf *b, const struct tf_prog_cost *c, size_t n)
{
	struct out o = { .b = b };

	if (!n)
		return 0;
	put_family(&o, "tapflow_bpf_prog_runs_total",
		   "Runs of each of tracing's BPF programs while the kernel's BPF run-time statistics were on.",
		   c, n, false);
	put_family(&o, "tapflow_bpf_prog_run_seconds_total",
		   "Time each of tracing's BPF programs ran for, over those runs.", c, n, true);
	if (o.oom)
		return tf_err(-ENOMEM, "export: out of memory rendering the BPF cost family");
	return 0;
}

int tf_export_scrape_bpf(struct tf_export_buf *b)
{
	struct tf_prog_cost *c;
	size_t n;
	int err = tf_trace_prog_costs(&c, &n);

	if (err)
		return err;
	err = tf_export_render_bpf(b, c, n);
	tf_trace_prog_costs_free(c);
	return err;
}
