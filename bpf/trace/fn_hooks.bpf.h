/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the two function-hook rungs (fentry/fexit and kprobe/kretprobe) run
 * in tun's own functions, written once: the read's take, the purge of a
 * detaching queue, fast-path frames entering the ring (tun_xdp_xmit), the
 * backend's writes (tun_get_user) and vhost-net's batches (tun_sendmsg).
 * TRACE_FN_HOOKS(rung) lists the hooks both rungs make with one body
 * (rungs.bpf.h); fentry.bpf.c and kprobe.bpf.c instantiate it, beside the
 * programs each rung writes its own way. Part of bpf/trace.bpf.c.
 */
#ifndef TF_TRACE_FN_HOOKS_BPF_H
#define TF_TRACE_FN_HOOKS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tun.bpf.h"
#include "rungs.bpf.h"
#include "maps.bpf.h"
#include "ring.bpf.h"

/* tun_xdp_xmit in progress on this CPU (BH off, from the DEVMAP flush). */
struct xdp_xmit_state {
	__u64 dev;
	__u64 ts;
	__u32 slot;
	__u32 queue;
	__u32 n;
	__u32 occ;
	__u32 recs;		/* frames [0, recs) have ring records */
	__u32 prod;
	__u32 detached;		/* no queue: tun_xdp_xmit fails with -ENXIO */
	__u32 pad;
	__u32 len[TF_XDP_BULK];
	__u32 ridx[TF_XDP_BULK];	/* record index of frame i, i < recs */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_xmit_state);
} xdp_pending SEC(".maps");

/* tun_get_user in progress in this thread: it may sleep and migrate. */
struct rx_state {
	__u64 ts;
	__u64 tfile;		/* the call it belongs to */
	__u32 slot;
	__u32 queue;
	__u32 hdr;
	__u32 valid;
};

/*
 * fentry/kprobe rungs: tun_do_read(tun, tfile, .., ptr) returned ret. It
 * took one entry out of the ring (ptr NULL: read()) or was handed one that
 * vhost took earlier (ptr); ret > 0: the backend got it.
 */
static __always_inline void read_end(const struct tf_traced *t, const struct tun_file *tfile,
				     __u32 q, __u64 ptr, long ret)
{
	/* EAGAIN and friends took nothing; an error after the take (a bad
	 * buffer) freed the entry: its record goes without a sample. */
	if (ret == -11 /* -EAGAIN */ || ret == -512 /* -ERESTARTSYS */ || ret == -4 /* -EINTR */)
		return;
	ring_take(t, tfile, q, ptr, ret > 0);
}

/*
 * __tun_detach is about to purge a queue (tun_queue_purge): the entries
 * between consumer_head and producer are freed unread. Their records go.
 */
static long purge_one(__u32 i, struct ring_walk *x)
{
	struct tf_ring_rec *rec = walk_rec(x, (int)i);	/* i < occ <= size */

	if (!rec)
		return 1;
	rec->pkt = 0;
	return 0;
}

static __always_inline void detach_start(const struct tun_file *tfile, bool direct)
{
	const struct tun_struct *tun = RD(direct, tfile, tun);
	struct ring_walk x;
	struct tf_traced *t;
	struct ring_view r;

	if (!tun || RD(direct, tfile, detached))
		return;		/* nothing to purge: detached queues were purged then */
	t = lookup_dev(RD(direct, tun, dev), direct);
	if (!t || !ring_view(tfile, &r) || !r.occ)
		return;
	x.slot = t->slot;
	x.q = RD(direct, tfile, queue_index);
	x.ring_size = t->ring_size;
	x.head = r.head;
	x.size = r.size;
	if (x.q >= t->ring_queues)
		return;
	bpf_loop(r.occ, purge_one, &x, 0);
}

/*
 * tun_xdp_xmit(dev, n, frames) is about to queue n frames at the ring's
 * producer index, in order, until the ring is full. Note their lengths and
 * give each one that will fit a record in its slot.
 */
static __always_inline void xdp_xmit_start(const struct net_device *dev, int n,
					   struct xdp_frame **frames, bool direct)
{
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(dev, direct, &key);
	struct xdp_xmit_state *st;
	struct tf_ring_rec *rec;
	struct tun_file *tfile;
	__u32 zero = 0, q = 0, idx;
	struct ring_view r = {};
	bool room;

	if (!t)
		return;
	st = bpf_map_lookup_elem(&xdp_pending, &zero);
	if (!st)
		return;
	st->dev = (__u64)dev;
	st->ts = bpf_ktime_get_ns();
	st->slot = t->slot;
	st->n = n > 0 ? n : 0;
	st->recs = 0;
	st->occ = 0;
	st->queue = 0;
	st->detached = 0;
	tfile = xdp_queue(dev, &q);
	if (!tfile) {
		st->detached = 1;
		return;
	}
	st->queue = BPF_CORE_READ(tfile, queue_index);
	saw_queue(t, &key, st->queue);
	room = ring_view(tfile, &r);
	if (room) {
		st->occ = r.occ;
		st->prod = r.prod;
	}
	/* one pass: each frame's length, and its record while the ring has room */
	for (int i = 0; i < TF_XDP_BULK; i++) {
		void *cur = NULL;
		__u64 f = 0;
		int pos = r.prod + i;

		if (i >= n)
			break;
		bpf_probe_read_kernel(&f, sizeof(f), &frames[i]);
		st->len[i] = f ? frame_len(f) : 0;
		if (!room)
			continue;
		if (pos >= r.size)
			pos -= r.size;
		bpf_probe_read_kernel(&cur, sizeof(cur), &r.queue[pos]);
		rec = cur ? NULL : ring_rec(t, st->queue, pos, &idx);
		if (!rec) {
			room = false;	/* ring full from here on: the rest will be dropped */
			continue;
		}
		rec_reuse(t, st->queue, rec);
		rec->ts = st->ts;
		rec->pkt = f | TUN_XDP_FLAG;
		st->ridx[i] = idx;
		st->recs = i + 1;
	}
}

/* tun_xdp_xmit returned ret: frames [0, ret) are in the ring, the rest dropped. */
static __always_inline void xdp_xmit_end(long ret)
{
	struct xdp_xmit_state *st;
	struct tf_ring_rec *rec;
	__u32 zero = 0, sent, idx;
	__u64 bytes = 0;
	void *inner;

	st = bpf_map_lookup_elem(&xdp_pending, &zero);
	if (!st || !st->dev)
		return;
	st->dev = 0;
	sent = ret > 0 ? ret : 0;
	if (sent > st->n)
		sent = st->n;
	for (int i = 0; i < TF_XDP_BULK; i++) {
		if (i >= sent)
			break;
		bytes += st->len[i];
	}
	xdp_account(st->slot, st->queue, sent, bytes, st->n - sent,
		    st->detached || ret < 0 ? TF_DROP_DETACHED : TF_DROP_RING_FULL,
		    sent > st->recs ? sent - st->recs : 0, st->occ);
	if (st->recs <= sent)
		return;
	/* records of frames that did not make it: take them back */
	inner = bpf_map_lookup_elem(&rings, &st->slot);
	if (!inner)
		return;
	for (int i = 0; i < TF_XDP_BULK; i++) {
		if (i < sent)
			continue;
		if (i >= st->recs)
			break;
		idx = st->ridx[i];
		rec = bpf_map_lookup_elem(inner, &idx);
		if (rec && (rec->pkt & TUN_XDP_FLAG) && rec->ts == st->ts)
			rec->pkt = 0;
	}
}

static __always_inline void rx_account(__u32 slot, __u32 queue, long ret, __u32 hdr, __u64 ns)
{
	struct tf_qcount *c = qcount_of(slot, queue);
	struct tf_qhist *h;

	if (!c)
		return;
	if (ret > 0) {
		c->rx_packets++;
		c->rx_bytes += (__u64)ret > hdr ? ret - hdr : 0;
	} else {
		c->rx_drops++;
	}
	h = qhist_of(slot, queue);
	if (h) {
		__sync_fetch_and_add(&h->rx_ns[tf_bucket(ns, TF_HIST_SLOTS)], 1);
		__sync_fetch_and_add(&h->rx_sum_ns, ns);
	}
}

static __always_inline void rx_begin(struct rx_state *s, struct tf_traced *t,
				     const struct tf_traced_key *key,
				     const struct tun_struct *tun, const struct tun_file *tfile,
				     bool direct)
{
	s->ts = bpf_ktime_get_ns();
	s->tfile = (__u64)tfile;
	s->slot = t->slot;
	s->queue = RD(direct, tfile, queue_index);
	s->hdr = rx_hdr_len(tun, direct);
	saw_queue(t, key, s->queue);
	s->valid = 1;
}

/*
 * vhost-net's batches of writes (tun_batch): counted here, as tun_get_user
 * does not run for them. tun_xdp_one keeps no per-frame result the caller
 * sees: a batch's frames are counted as written (rx_packets, and their
 * bytes without the vnet header, data_end - data), and neither rx_ns nor
 * rx_drops are measured for them. One program run per batch.
 */
static __always_inline void rx_batch(const struct socket *sock, const struct msghdr *m)
{
	struct tun_msg_ctl ctl = {};
	struct tf_traced_key key;
	struct tun_file *tfile;
	struct tun_struct *tun;
	struct tf_qcount *c;
	struct tf_traced *t;
	__u64 bytes = 0;
	__u32 q, n;

	tfile = tun_batch(sock, m, &ctl);
	if (!tfile)
		return;
	tun = BPF_CORE_READ(tfile, tun);
	if (!tun)
		return;
	t = lookup_dev_key(BPF_CORE_READ(tun, dev), false, &key);
	if (!t)
		return;
	q = BPF_CORE_READ(tfile, queue_index);
	saw_queue(t, &key, q);
	c = qcount_of(t->slot, q);
	if (!c)
		return;
	n = ctl.num;
	for (int i = 0; i < TF_SEND_BATCH; i++) {
		__u64 len;

		if (i >= n)
			break;
		tun_batch_frame(&ctl, i, &len);
		bytes += len;
	}
	c->rx_packets += n;
	c->rx_bytes += bytes;
}

/* The hooks made with one body on both rungs: rung is fentry or kprobe. */
#define TRACE_FN_HOOKS(rung)							\
TF_ENTRY_HOOK(rung, , tun_net_xmit, tx_start(skb, dev, direct),			\
	      struct sk_buff *skb, struct net_device *dev)			\
										\
TF_ENTRY_HOOK_ARG(rung, , tun_xdp_xmit, 2, struct xdp_frame **, frames,		\
		  xdp_xmit_start(dev, n, frames, direct),			\
		  struct net_device *dev, int n)				\
										\
TF_EXIT_HOOK(rung, , tun_xdp_xmit, int, xdp_xmit_end(ret))			\
										\
TF_ENTRY_HOOK(rung, , __tun_detach, detach_start(tfile, direct), struct tun_file *tfile) \
										\
TF_ENTRY_HOOK(rung, , tun_sendmsg, rx_batch(sock, m), struct socket *sock, struct msghdr *m)

#endif
