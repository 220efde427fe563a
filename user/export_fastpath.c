// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fast path's families of the export: per port and rx queue, frames
 * and bytes by action, AF_XDP misses and fdb learning, rendered from
 * tf_fastpath_ports() through the text writer (export_text.c) after the
 * tracing families.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "export_text.h"

/* port="NAME",queue="Q" */
static size_t port_queue_label(char *dst, const struct tf_fp_port_stats *p, uint32_t q)
{
	char tl[TAPLBL_MAX];
	size_t n;

	memcpy(tl, "port=\"", 6);
	n = 6 + tfx_esc_label(tl + 6, p->name, sizeof(p->name));
	tl[n++] = '"';
	if (q == TF_FP_QUEUE_OTHER) {	/* frames of queues past the port's rows */
		memcpy(dst, tl, n);
		memcpy(dst + n, ",queue=\"other\"", 15);
		return n + 15;
	}
	return tfx_queue_label(dst, tl, n, q);
}

static void fp_family(struct out *o, const struct tf_fp_port_stats *ports, size_t n,
		      const char *name, const char *help, int what)
{
	char ql[QLBL_MAX];

	tfx_put_meta(o, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ports[i].nqueues; j++) {
			const struct tf_fastpath_qstats *q = &ports[i].q[j];
			size_t qn = port_queue_label(ql, &ports[i], q->queue);

			if (what >= 2) {
				put_str(o, name);
				put(o, "{", 1);
				put(o, ql, qn);
				PUTS(o, "} ");
				put_u64(o, what == 2 ? q->xsk_miss : q->learned);
				put(o, "\n", 1);
				continue;
			}
			for (int a = 0; a < TF_FP_ACT__MAX; a++) {
				put_str(o, name);
				put(o, "{", 1);
				put(o, ql, qn);
				PUTS(o, ",action=\"");
				put_str(o, tf_fastpath_action_name(a));
				PUTS(o, "\"} ");
				put_u64(o, what == 0 ? q->packets[a] : q->bytes[a]);
				put(o, "\n", 1);
			}
		}
	}
}

int tf_export_render_fastpath(struct tf_export_buf *b, const struct tf_fp_port_stats *ports,
			      size_t n)
{
	struct out o = { .b = b };

	if (!n)
		return 0;
	fp_family(&o, ports, n, "tapflow_fastpath_packets_total",
		  "Frames the XDP fast path handled on the port's queue (rx queue of a tap or uplink), by action.", 0);
	fp_family(&o, ports, n, "tapflow_fastpath_bytes_total",
		  "Bytes of those frames, by action.", 1);
	fp_family(&o, ports, n, "tapflow_fastpath_xsk_miss_total",
		  "Frames that matched an AF_XDP rule with no socket on their queue, and went on along the normal path.", 2);
	fp_family(&o, ports, n, "tapflow_fastpath_learned_total",
		  "fdb entries the port's frames created or moved.", 3);
	if (o.oom)
		return tf_err(-ENOMEM, "export: out of memory rendering %zu fast path ports", n);
	return 0;
}
