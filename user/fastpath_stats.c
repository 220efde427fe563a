// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fast path's counters: per-queue, per-action packets and bytes summed
 * over CPUs, for one port (`tapflow fastpath stats`) or every port (the
 * exporter).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "tapflow.h"
#include "log.h"
#include "fastpath.skel.h"

#include "fastpath_int.h"

const char *tf_fastpath_action_name(enum tf_fp_action act)
{
	static const char *const names[TF_FP_ACT__MAX] = {
		[TF_FP_REDIRECT_TAP] = "redirect_tap",
		[TF_FP_REDIRECT_UPLINK] = "redirect_uplink",
		[TF_FP_XSK] = "xsk",
		[TF_FP_PASS] = "pass",
		[TF_FP_DROP] = "drop",
	};

	return act < TF_FP_ACT__MAX ? names[act] : "?";
}

/* Per-queue counters of one port: the queues with any count, and their total. */
static int read_port_stats(struct fp *s, const struct tf_fp_port *port,
			   struct tf_fastpath_qstats **out, size_t *n,
			   struct tf_fastpath_qstats *total)
{
	int ncpu = libbpf_num_possible_cpus(), vsz = fp_stats_value_size();
	struct tf_fastpath_qstats *qs = NULL;
	char *all = NULL, *buf;
	uint32_t *keys = NULL, nrows;
	bool batched;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (total)
		memset(total, 0, sizeof(*total));
	if (vsz < 0)
		return tf_err(-EINVAL, "cannot count the possible CPUs");
	/* the port's rows (its queues, then the spill row) in one batch lookup (a scrape reads every port) */
	nrows = port->nrows + 1;
	if (port->row + nrows > TF_FP_MAX_ROWS)
		return tf_err(-EINVAL, "port %s: rows %u..%u are past the map's %d", port->name,
			      port->row, port->row + nrows - 1, TF_FP_MAX_ROWS);
	all = malloc((size_t)vsz * nrows);
	keys = calloc(nrows, sizeof(*keys));
	qs = calloc(nrows, sizeof(*qs));
	if (!all || !keys || !qs) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	batched = tf_map_read_range(s->stats, port->row, nrows, keys, all);
	for (__u32 q = 0; q < nrows; q++) {
		struct tf_fastpath_qstats *d = &qs[*n];
		__u32 k = port->row + q;
		struct tf_fp_qstats sum;
		bool any = false;

		buf = all + (size_t)vsz * (batched ? q : 0);
		if (!batched && bpf_map_lookup_elem(s->stats, &k, buf))
			continue;
		memset(d, 0, sizeof(*d));
		d->queue = q < port->nrows ? q : TF_FP_QUEUE_OTHER;
		memset(&sum, 0, sizeof(sum));
		tf_percpu_sum(buf, ncpu, sizeof(sum), &sum);
		memcpy(d->packets, sum.packets, sizeof(d->packets));
		memcpy(d->bytes, sum.bytes, sizeof(d->bytes));
		d->xsk_miss = sum.xsk_miss;
		d->learned = sum.learned;
		for (int a = 0; a < TF_FP_ACT__MAX; a++) {
			any |= d->packets[a] != 0;
			if (total) {
				total->packets[a] += d->packets[a];
				total->bytes[a] += d->bytes[a];
			}
		}
		any |= d->xsk_miss || d->learned;
		if (total) {
			total->xsk_miss += d->xsk_miss;
			total->learned += d->learned;
		}
		if (any)
			(*n)++;
	}
	if (total)
		total->queue = TF_MAX_QUEUES;
	*out = qs;
	qs = NULL;
out:
	free(all);
	free(keys);
	free(qs);
	return err;
}

int tf_fastpath_stats(const char *name, struct tf_fastpath_qstats **out, size_t *n,
		      struct tf_fastpath_qstats *total)
{
	struct tf_fp_port port;
	int ifindex, err;
	struct fp s;

	*out = NULL;
	*n = 0;
	err = fp_open_port(&s, name, &ifindex, &port, true);
	if (err)
		return err;
	err = read_port_stats(&s, &port, out, n, total);
	fp_close(&s);
	return err;
}

void tf_fastpath_ports_free(struct tf_fp_port_stats *ports, size_t n)
{
	for (size_t i = 0; ports && i < n; i++)
		free(ports[i].q);
	free(ports);
}

int tf_fastpath_ports(struct tf_fp_port_stats **out, size_t *n)
{
	struct tf_fp_port_stats *ps = NULL;
	__u32 k, next, *prev = NULL;
	size_t cnt = 0;
	struct fp s;
	int err;

	*out = NULL;
	*n = 0;
	err = fp_open_ro(&s);
	if (err == -ENOENT)
		return 0;	/* not on in this namespace: no ports */
	if (err)
		return err;
	if (!fp_same_netns(&s))
		goto out;
	ps = calloc(TF_FP_MAX_PORTS, sizeof(*ps));
	if (!ps) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	while (cnt < TF_FP_MAX_PORTS && !bpf_map_get_next_key(s.ports, prev, &next)) {
		struct tf_fp_port port;
		struct tf_fp_port_stats *p = &ps[cnt];

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(s.ports, &k, &port))
			continue;
		snprintf(p->name, sizeof(p->name), "%s", port.name);
		p->ifindex = k;
		p->kind = port.kind;
		err = read_port_stats(&s, &port, &p->q, &p->nqueues, NULL);
		if (err)
			goto out;
		cnt++;
	}
	*out = ps;
	*n = cnt;
	ps = NULL;
out:
	tf_fastpath_ports_free(ps, cnt);
	fp_close(&s);
	return err;
}

