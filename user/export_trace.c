// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The tracing families of the export: tapflow's own gauges (build, traced
 * taps, backend, trace start, attached queues), the per-queue tx/rx
 * counters, drops by reason and the ring-wait, rx-time and occupancy
 * histograms, rendered from struct tf_tap_stats through the text writer
 * (export_text.c). Adding a per-queue family is one tfx_q_counter() or
 * tfx_q_hist() call in tf_export_render() and a row in the README's Metrics
 * table.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "export_text.h"

/* Each reason as its line's tail after the labels: ,reason="R"} */
#define REASON(r) { ",reason=\"" r "\"} ", sizeof(",reason=\"" r "\"} ") - 1 }
static const struct {
	char s[32];
	size_t n;
} drop_reason[TF_DROP__MAX] = {
	[TF_DROP_RING_FULL] = REASON("ring_full"),
	[TF_DROP_FILTER] = REASON("filter"),
	[TF_DROP_DETACHED] = REASON("detached"),
	[TF_DROP_OTHER] = REASON("other"),
};

static void q_tx_dropped(struct out *o, const struct tf_tap_stats *taps, size_t n)
{
	static const char name[] = "tapflow_tx_dropped_total";
	const struct tf_tap_stats *t;
	const struct tf_queue_stats *qs;
	char tl[TAPLBL_MAX], ql[QLBL_MAX];
	size_t qn;

	if (!tfx_any_queue(taps, n, false))
		return;
	tfx_put_meta(o, name, "counter",
		 "Packets tun_net_xmit dropped instead of queuing them for the backend, by reason.");
	FOR_EACH_QUEUE(taps, n, false, t, qs, tl, ql, qn) {
		char *p = cur_begin(o, TF_DROP__MAX * (sizeof(name) + QLBL_MAX + 32 + U64_MAX_DEC));

		if (!p)
			return;
		for (int r = 0; r < TF_DROP__MAX; r++) {
			p = cur_put(p, name, sizeof(name) - 1);
			*p++ = '{';
			p = cur_put(p, ql, qn);
			p = cur_put(p, drop_reason[r].s, drop_reason[r].n);
			p = cur_u64(p, qs->c.tx_drops[r]);
			*p++ = '\n';
		}
		cur_end(o, p);
	}
}

static const char *backend_label(int backend)
{
	/*
	 * Spelled here, not borrowed from the CLI: label values are part of
	 * the metrics' interface and must not change with CLI wording.
	 */
	switch (backend) {
	case TF_BACKEND_FENTRY: return "fentry";
	case TF_BACKEND_KPROBE: return "kprobe";
	case TF_BACKEND_TRACEPOINT: return "tracepoint";
	default: return "unknown";
	}
}

static void tap_families(struct out *o, const struct tf_tap_stats *taps, size_t n)
{
	char tl[TAPLBL_MAX], ver[64];
	uint64_t mono = clock_ns(CLOCK_MONOTONIC), real = clock_ns(CLOCK_REALTIME);
	size_t live = 0, tn, vn;

	vn = tfx_esc_label(ver, tf_version(), 20);
	PUTS(o, "# HELP tapflow_build_info tapflow's version; always 1.\n"
		"# TYPE tapflow_build_info gauge\n"
		"tapflow_build_info{version=\"");
	put(o, ver, vn);
	PUTS(o, "\"} 1\n");

	for (size_t i = 0; i < n; i++)
		live += tap_live(&taps[i]);
	PUTS(o, "# HELP tapflow_traced_taps Traced taps being exported.\n"
		"# TYPE tapflow_traced_taps gauge\n"
		"tapflow_traced_taps ");
	put_u64(o, live);
	put(o, "\n", 1);
	if (!live)
		return;

	PUTS(o, "# HELP tapflow_info A traced tap: tapflow's version and the tracing backend that runs; always 1.\n"
		"# TYPE tapflow_info gauge\n");
	for (size_t i = 0; i < n; i++) {
		if (!tap_live(&taps[i]))
			continue;
		tn = tfx_tap_label(tl, &taps[i]);
		PUTS(o, "tapflow_info{");
		put(o, tl, tn);
		PUTS(o, ",version=\"");
		put(o, ver, vn);
		PUTS(o, "\",backend=\"");
		put_str(o, backend_label(taps[i].backend));
		PUTS(o, "\"} 1\n");
	}

	PUTS(o, "# HELP tapflow_trace_start_time_seconds When tracing of the tap began (counters count from then), Unix time.\n"
		"# TYPE tapflow_trace_start_time_seconds gauge\n");
	for (size_t i = 0; i < n; i++) {
		const struct tf_tap_stats *t = &taps[i];

		if (!tap_live(t))
			continue;
		tn = tfx_tap_label(tl, t);
		PUTS(o, "tapflow_trace_start_time_seconds{");
		put(o, tl, tn);
		PUTS(o, "} ");
		/* since_ns is CLOCK_MONOTONIC; shift it onto the wall clock. */
		put_sec(o, real - (mono > t->since_ns ? mono - t->since_ns : 0));
		put(o, "\n", 1);
	}

	PUTS(o, "# HELP tapflow_queues_attached Queues attached to the tap now (tun numqueues).\n"
		"# TYPE tapflow_queues_attached gauge\n");
	for (size_t i = 0; i < n; i++) {
		if (!tap_live(&taps[i]))
			continue;
		tn = tfx_tap_label(tl, &taps[i]);
		PUTS(o, "tapflow_queues_attached{");
		put(o, tl, tn);
		PUTS(o, "} ");
		put_u64(o, taps[i].queues_attached);
		put(o, "\n", 1);
	}
}

/*
 * Packets counted with no queue (the extra table was full when a queue
 * beyond its tap's rows counted): per tap, only for a tap that has any,
 * so the usual export carries none of these series.
 */
static void noqueue(struct out *o, const struct tf_tap_stats *taps, size_t n)
{
	bool head = false;
	char tl[TAPLBL_MAX];
	size_t tn;

	for (size_t i = 0; i < n; i++) {
		const struct tf_qcount *c = &taps[i].noqueue;

		if (!tap_live(&taps[i]) || (!c->tx_packets && !c->rx_packets))
			continue;
		if (!head)
			PUTS(o, "# HELP tapflow_noqueue_packets_total Packets of the tap counted with no queue: tracing's extra table (TAPFLOW_TRACE_EXTRA) was full.\n"
				"# TYPE tapflow_noqueue_packets_total counter\n");
		head = true;
		tn = tfx_tap_label(tl, &taps[i]);
		PUTS(o, "tapflow_noqueue_packets_total{");
		put(o, tl, tn);
		PUTS(o, ",dir=\"tx\"} ");
		put_u64(o, c->tx_packets);
		PUTS(o, "\ntapflow_noqueue_packets_total{");
		put(o, tl, tn);
		PUTS(o, ",dir=\"rx\"} ");
		put_u64(o, c->rx_packets);
		put(o, "\n", 1);
	}
}

#define QOFF(f) offsetof(struct tf_queue_stats, f)

/*
 * The per-queue counter families, in the order they are written (the
 * tx_dropped family, which sums several counters, stands between the two).
 * need_rx_ns: only where the tracing backend measures it.
 */
struct q_counter {
	const char *name, *help;
	size_t off;
	bool need_rx_ns;
};

static const struct q_counter tx_counters[] = {
	{ "tapflow_tx_packets_total",
	  "Packets queued into the queue's ring (host to backend): skbs by tun_net_xmit, XDP frames by tun_xdp_xmit.",
	  QOFF(c.tx_packets), false },
	{ "tapflow_tx_bytes_total",
	  "Bytes queued into the queue's ring (host to backend), skbs and XDP frames.",
	  QOFF(c.tx_bytes), false },
	{ "tapflow_tx_xdp_packets_total",
	  "Of tapflow_tx_packets_total, XDP frames redirected into the queue's ring (tun_xdp_xmit: the fast path).",
	  QOFF(c.tx_xdp_packets), false },
};

static const struct q_counter rx_counters[] = {
	{ "tapflow_rx_packets_total",
	  "Frames the backend wrote into the queue (tun_get_user, backend to host).",
	  QOFF(c.rx_packets), false },
	{ "tapflow_rx_bytes_total",
	  "Bytes the backend wrote into the queue (tun_get_user, backend to host).",
	  QOFF(c.rx_bytes), false },
	{ "tapflow_rx_dropped_total",
	  "Frames tun_get_user refused (only where the tracing backend measures it).",
	  QOFF(c.rx_drops), true },
	{ "tapflow_ring_wait_untracked_total",
	  "Packets queued without an in-flight record (its map was full), so they give no ring-wait sample.",
	  QOFF(c.ring_wait_untracked), false },
};

static void q_counters(struct out *o, const struct tf_tap_stats *taps, size_t n,
		       const struct q_counter *c, size_t nc)
{
	for (size_t i = 0; i < nc; i++)
		tfx_q_counter(o, taps, n, c[i].name, c[i].help, c[i].off, c[i].need_rx_ns);
}

/* 1 while the queue is attached, 0 while not: its counters stay exported. */
static void q_attached(struct out *o, const struct tf_tap_stats *taps, size_t n)
{
	tfx_q_family(o, taps, n, "tapflow_queue_attached", "gauge",
		     "1 while a backend holds the queue, 0 while not (its counters stay exported).",
		     QOFF(attached), sizeof(bool), false);
}

int tf_export_hist_parse(const char *s)
{
	if (!strcmp(s, "queue"))
		return TF_EXPORT_HIST_QUEUE;
	if (!strcmp(s, "tap"))
		return TF_EXPORT_HIST_TAP;
	if (!strcmp(s, "off"))
		return TF_EXPORT_HIST_OFF;
	return -1;
}

int tf_export_render(struct tf_export_buf *b, const struct tf_tap_stats *taps,
		     size_t n, uint64_t t0_ns)
{
	return tf_export_render_hist(b, taps, n, t0_ns, TF_EXPORT_HIST_QUEUE);
}

int tf_export_render_hist(struct tf_export_buf *b, const struct tf_tap_stats *taps,
			  size_t n, uint64_t t0_ns, enum tf_export_hist mode)
{
	static const struct hist_desc ring_wait = {
		"tapflow_ring_wait_seconds",
		"Time packets waited in the queue's ring, from tun_net_xmit to the backend reading them.",
		QOFF(h.ring_wait_ns), QOFF(h.ring_wait_sum_ns), HIST_T_LO, HIST_T_HI, true, false,
	};
	static const struct hist_desc rx_time = {
		"tapflow_rx_seconds",
		"Time tun_get_user spent on each frame the backend wrote.",
		QOFF(h.rx_ns), QOFF(h.rx_sum_ns), HIST_T_LO, HIST_T_HI, true, true,
	};
	static const struct hist_desc occupancy = {
		"tapflow_ring_occupancy",
		"Entries already in the queue's ring when tun_net_xmit queued a packet.",
		QOFF(h.occupancy), QOFF(h.occupancy_sum), HIST_O_LO, HIST_O_HI, false, false,
	};
	struct out o = { .b = b };

	tf_text_init();
	if (!t0_ns)
		t0_ns = clock_ns(CLOCK_MONOTONIC);
	b->len = 0;

	tap_families(&o, taps, n);
	noqueue(&o, taps, n);
	q_attached(&o, taps, n);
	q_counters(&o, taps, n, tx_counters, ARRAY_SIZE(tx_counters));
	q_tx_dropped(&o, taps, n);
	q_counters(&o, taps, n, rx_counters, ARRAY_SIZE(rx_counters));
	tfx_q_hist(&o, taps, n, &ring_wait, mode);
	tfx_q_hist(&o, taps, n, &rx_time, mode);
	tfx_q_hist(&o, taps, n, &occupancy, mode);

	PUTS(&o, "# HELP tapflow_scrape_duration_seconds Time this scrape took to read the counters and render them.\n"
		 "# TYPE tapflow_scrape_duration_seconds gauge\n"
		 "tapflow_scrape_duration_seconds ");
	put_sec(&o, clock_ns(CLOCK_MONOTONIC) - t0_ns);
	put(&o, "\n", 1);

	if (o.oom)
		return tf_err(-ENOMEM, "export: out of memory rendering %zu taps", n);
	return 0;
}

