/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The transmit side every rung of capture shares: tun_net_xmit's start (a
 * frame noted, copied and filtered) and end (a drop captured with its
 * cause, from what tun_net_xmit tests), and the delivery of a queued skb to
 * the backend with its ring wait. Part of bpf/capture.bpf.c.
 */
#ifndef TF_CAPTURE_TX_BPF_H
#define TF_CAPTURE_TX_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "tun.bpf.h"
#include "copy.bpf.h"

#define NETDEV_TX_OK 0

/* tun_net_xmit in progress on this CPU (BH off: no nesting). */
struct cap_xmit {
	__u64 skb;
	__u64 dev;
	__u64 tfile;
	__u64 ts;
	__u32 queue;
	__u32 full;
	__u32 copied;
	__u32 match;
	__u32 len;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cap_xmit);
} xmit SEC(".maps");

/* Queued skbs that matched, until the backend reads them. */
struct inflight {
	__u64 ts;
	__u32 queue;
	__u32 pad;
};

/*
 * LRU: an entry whose delivery no hook saw (a queue purged on detach, a
 * read() that slept for it) ages out instead of filling the map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct inflight);
} queued SEC(".maps");

/*
 * ptr_ring_produce's "full" test: the entry at the producer index is taken.
 * The producer's cache line, then size and queue from the ring's last one
 * in one read (adjacent in every struct ptr_ring), then the slot: never the
 * consumer's line, which the reading CPU keeps writing (copying the whole
 * ring, as tracing does, would pull it over on every packet).
 */
struct ring_tail {
	int size;
	int batch;
	void **queue;
};

static __always_inline bool ring_full(const struct tun_file *tfile)
{
	struct ring_tail t = {};
	void *cur = NULL;
	int prod = 0;

	if (bpf_core_field_offset(struct ptr_ring, queue) !=
	    bpf_core_field_offset(struct ptr_ring, size) + 8)
		return false;	/* a layout this code does not know: never "full" */
	if (bpf_core_read(&prod, sizeof(prod), &tfile->tx_ring.producer) ||
	    bpf_core_read(&t, sizeof(t), &tfile->tx_ring.size))
		return false;
	if (t.size <= 0 || prod < 0 || prod >= t.size || !t.queue)
		return false;
	bpf_probe_read_kernel(&cur, sizeof(cur), &t.queue[prod]);
	return cur != NULL;
}

/* tun_net_xmit(skb, dev) is about to run (every rung). */
static __always_inline void tx_start(const struct sk_buff *skb, const struct net_device *dev,
				     bool direct)
{
	struct tf_cap_scratch *s;
	struct tun_file *tfile;
	struct cap_xmit *x;
	__u32 zero = 0, q, len;
	bool full;

	if (!(cfg_dirs & (1 << TF_CAP_TX)) || !our_dev_rd(dev, direct))
		return;
	q = RD(direct, skb, queue_mapping);
	if (!want_queue(q))
		return;
	x = bpf_map_lookup_elem(&xmit, &zero);
	if (!x)
		return;
	tfile = tun_queue(dev, q);
	full = tfile && ring_full(tfile);
	x->skb = (__u64)skb;
	x->dev = (__u64)dev;
	x->queue = q;
	x->tfile = (__u64)tfile;
	x->full = full;
	x->copied = 0;
	x->match = 0;
	x->len = RD(direct, skb, len);
	/* --drops copies only what it expects to be dropped, and notes nothing else */
	if (cfg_drops_only && tfile && !full && !tun_filters(dev, tfile))
		return;
	s = bpf_map_lookup_elem(&tx_scratch, &zero);
	if (!s)
		return;
	x->ts = bpf_ktime_get_ns();
	x->copied = 1;
	len = x->len;
	x->match = copy_filter(s, RD(direct, skb, data), len, len - RD(direct, skb, data_len));
	if (x->match && !cfg_drops_only) {
		/*
		 * Noted before tun_net_xmit puts it in the ring: a reader on
		 * another CPU may take it before the transmit returns.
		 */
		struct inflight f = { .ts = x->ts, .queue = q };
		__u64 key = (__u64)skb;

		if (bpf_map_update_elem(&queued, &key, &f, BPF_ANY))
			lost();
	}
}

/* tun_net_xmit returned rc for skb: a drop is captured here, with its cause. */
static __always_inline void tx_end(__u64 skb, int rc)
{
	const struct net_device *dev;
	const struct tun_file *tfile;
	struct tf_cap_scratch *s;
	struct cap_xmit *x;
	__u32 zero = 0, cause;

	x = bpf_map_lookup_elem(&xmit, &zero);
	if (!x || !x->skb || x->skb != skb)
		return;
	x->skb = 0;
	if (rc == NETDEV_TX_OK)
		return;	/* queued: captured when delivered */
	if (x->match && !cfg_drops_only)
		bpf_map_delete_elem(&queued, &skb);
	tfile = (const void *)x->tfile;
	dev = (const void *)x->dev;
	cause = tun_drop_cause(dev, tfile, tfile && (x->full || ring_full(tfile)));
	if (!(cfg_drop_mask & (1u << cause)))
		return;
	s = bpf_map_lookup_elem(&tx_scratch, &zero);
	if (!s)
		return;
	if (!x->copied) {
		if (cfg_filtered)
			return;	/* its bytes are gone: the filter cannot say */
		x->ts = bpf_ktime_get_ns();
		s->rec.wirelen = x->len;
		s->rec.caplen = 0;
		s->rec.flags = TF_CAP_F_NODATA;
	} else if (!x->match) {
		return;
	}
	emit(s, x->ts, x->queue, TF_CAP_TX, TF_CAP_EV_DROPPED, cause);
}

/*
 * skb, queued earlier, is being delivered to the backend: its ring wait
 * ends. Captured whole here (it matched the filter when it was queued).
 */
static __always_inline void deliver_skb(const struct sk_buff *skb, bool direct)
{
	struct tf_cap_rec *rec;
	struct inflight *f;
	__u64 key = (__u64)skb, now;
	__u32 headlen, wirelen;
	__u64 n;

	f = bpf_map_lookup_elem(&queued, &key);
	if (!f)
		return;
	now = bpf_ktime_get_ns();
	rec = bpf_ringbuf_reserve(&events, sizeof(*rec) + TF_CAP_MAX, 0);
	if (!rec) {
		lost();
		bpf_map_delete_elem(&queued, &key);
		return;
	}
	rec->ts = f->ts;
	rec->wait_ns = now - f->ts;
	rec->queue = f->queue;
	bpf_map_delete_elem(&queued, &key);
	wirelen = RD(direct, skb, len);
	rec->wirelen = wirelen;
	headlen = wirelen - RD(direct, skb, data_len);
	n = clamp_len(headlen < cfg_snaplen ? headlen : cfg_snaplen);
	rec->flags = headlen < wirelen && headlen < cfg_snaplen ? TF_CAP_F_CUT : 0;
	if (bpf_probe_read_kernel(rec + 1, n, RD(direct, skb, data)))
		n = 0;
	rec->caplen = n;
	rec->dir = TF_CAP_TX;
	rec->event = TF_CAP_EV_DELIVERED;
	rec->cause = 0;
	rec->away = 0;
	rec->pad = 0;
	rec->missed = missed;
	bpf_ringbuf_submit(rec, 0);
}

#endif
