/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A traced queue's ring, as every rung sees it: where a ring slot's
 * in-flight record sits, the ring's geometry and fill, why tun_net_xmit
 * dropped a packet, the transmit's start and end, the take of an entry a
 * backend read (vhost's batch searched by pointer), and the accounting of
 * fast-path frames redirected into the ring. Part of bpf/trace.bpf.c.
 */
#ifndef TF_TRACE_RING_BPF_H
#define TF_TRACE_RING_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "tun.bpf.h"
#include "bits.bpf.h"
#include "tun_load.bpf.h"
#include "maps.bpf.h"

#define NETDEV_TX_OK 0
/*
 * vhost-net takes at most VHOST_NET_BATCH (64) entries out of a ring at
 * once: the packet it hands in is among the last 64 slots consumed.
 */
#define TF_TAKE_SEARCH 64
#define TF_RECS_PER_LINE 4
_Static_assert(sizeof(struct tf_ring_rec) * TF_RECS_PER_LINE == 64, "records per cache line");

/*
 * Where the record of ring slot pos of queue q sits in the tap's record
 * array. Four records share a cache line; were neighbouring slots
 * neighbours there, the transmitting CPU writing slot s + 1 and the reading
 * CPU clearing slot s would pull one line back and forth for every packet.
 * Interleaved, a line holds slots a quarter of the ring apart (ring_size is
 * a power of 2, at least 16): writer and reader meet on a line only when
 * the ring holds a multiple of a quarter of it.
 */
static __always_inline __u32 rec_index(__u32 q, __u32 ring_size, __u32 pos)
{
	__u32 quarter = ring_size / TF_RECS_PER_LINE;

	pos &= ring_size - 1;
	return q * ring_size + (pos & (quarter - 1)) * TF_RECS_PER_LINE + pos / quarter;
}

static __always_inline struct tf_ring_rec *ring_rec(const struct tf_traced *t,
						    __u32 queue, __u32 pos, __u32 *idx)
{
	__u32 slot = t->slot;
	void *inner;

	if (queue >= t->ring_queues || !t->ring_size)
		return NULL;
	inner = bpf_map_lookup_elem(&rings, &slot);
	if (!inner)
		return NULL;
	*idx = rec_index(queue, t->ring_size, pos);
	return bpf_map_lookup_elem(inner, idx);
}

/*
 * tun.bpf.h's tun_queue() with the load of tun_load.bpf.h: direct where
 * tun_cast is set (capture keeps the probe read).
 */
static __always_inline struct tun_file *tf_tun_queue(const struct net_device *dev, __u32 q)
{
	struct tun_struct *tun = tf_netdev_priv(dev);

	if (q >= TF_MAX_QUEUES)
		return NULL;
	return load_ptr(&tun->tfiles[q]);
}

/*
 * A record still set in a ring slot the kernel has freed belongs to a packet
 * whose leaving was not seen: vhost held it in its batch while the ring
 * wrapped round behind it (ptr_ring_unconsume then frees what no longer
 * fits), or tun freed it where no hook looks. It will get no sample, so it
 * counts as untracked now, before its record is reused: never lost silently.
 */
static __always_inline void rec_reuse(const struct tf_traced *t, __u32 queue,
				      const struct tf_ring_rec *rec)
{
	struct tf_qcount *c;

	if (!rec->pkt)
		return;
	c = qcount_of(t->slot, queue);
	if (c)
		c->ring_wait_untracked++;
}

/* A queue's ptr_ring as it is now: its geometry and how full it is. */
struct ring_view {
	void **queue;
	int size;
	int prod;
	int head;	/* consumer_head */
	int occ;	/* entries between head and prod */
};

/*
 * One helper call for the ring's fields rather than one each: they sit on
 * three cache lines of struct ptr_ring, which is copied whole (the copy's
 * fields are CO-RE relocated like the kernel's).
 */
static __always_inline bool ring_read(const struct tun_file *tfile, struct ptr_ring *ring)
{
	__u32 sz = bpf_core_type_size(struct ptr_ring);

	if (sz > sizeof(*ring))
		sz = sizeof(*ring);
	return !bpf_core_read(ring, sz, &tfile->tx_ring);
}

static __always_inline bool ring_view(const struct tun_file *tfile, struct ring_view *r)
{
	struct ptr_ring ring;

	if (tun_cast) {
		const struct tun_file *f = TF_CAST(tfile, struct tun_file);

		r->size = f->tx_ring.size;
		r->prod = f->tx_ring.producer;
		r->head = f->tx_ring.consumer_head;
		r->queue = f->tx_ring.queue;
	} else {
		if (!ring_read(tfile, &ring))
			return false;
		r->size = ring.size;
		r->prod = ring.producer;
		r->head = ring.consumer_head;
		r->queue = ring.queue;
	}
	if (r->size <= 0 || r->prod < 0 || r->prod >= r->size || !r->queue)
		return false;
	r->occ = r->prod - r->head;
	if (r->occ < 0)
		r->occ += r->size;
	return true;
}

/* The entry at the producer index is taken: ptr_ring_produce's "full" test. */
static __always_inline bool ring_full(const struct tun_file *tfile)
{
	struct ring_view r;
	void *cur = NULL;

	if (!ring_view(tfile, &r))
		return false;
	cur = load_ptr(&r.queue[r.prod]);
	return cur != NULL;
}

/* Why tun_net_xmit dropped st's packet (tun_drop_cause): the ring looked at now too. */
static __always_inline __u32 tx_drop_cause(const struct xmit_state *st)
{
	const struct tun_file *tfile = (const void *)st->tfile;

	return tun_drop_cause((const void *)st->dev, tfile, tfile && (st->full || ring_full(tfile)));
}

/*
 * tun_net_xmit is about to run. Note the packet, and if its ring slot is
 * free (the kernel's own "full" test: queue[producer] != NULL), put the
 * in-flight record there before the packet can be seen by a reader.
 */
static __always_inline void tx_start(const struct sk_buff *skb, const struct net_device *dev,
				     bool direct)
{
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(dev, direct, &key);
	struct tf_ring_rec *rec;
	struct xmit_state *st;
	struct tun_file *tfile;
	struct ring_view r;
	__u32 zero = 0, idx;
	void *cur = NULL;

	if (!t)
		return;
	st = bpf_map_lookup_elem(&xmit_pending, &zero);
	if (!st)
		return;
	st->skb = (__u64)skb;
	st->ts = bpf_ktime_get_ns();
	st->dev = (__u64)dev;
	st->slot = t->slot;
	st->queue = RD(direct, skb, queue_mapping);
	st->len = RD(direct, skb, len);
	st->has_rec = 0;
	st->full = 0;
	st->occ = 0;
	saw_queue(t, &key, st->queue);

	tfile = tf_tun_queue(dev, st->queue);
	st->tfile = (__u64)tfile;
	if (!tfile)
		return;		/* tun_net_xmit will drop it: queue detached */
	if (!ring_view(tfile, &r))
		return;
	st->occ = r.occ;
	cur = load_ptr(&r.queue[r.prod]);
	if (cur) {
		st->full = 1;	/* it will be dropped: keep the old record */
		return;
	}
	rec = ring_rec(t, st->queue, r.prod, &idx);
	if (!rec)
		return;
	rec_reuse(t, st->queue, rec);
	rec->ts = st->ts;
	rec->pkt = (__u64)skb;
	st->rec_idx = idx;
	st->has_rec = 1;
}

static __always_inline void tx_end(__u64 skb, int rc)
{
	struct xmit_state *st;
	struct tf_qcount *c;
	struct tf_qhist *h;
	__u32 zero = 0, cause;

	st = bpf_map_lookup_elem(&xmit_pending, &zero);
	if (!st || !st->skb || st->skb != skb)
		return;
	st->skb = 0;
	c = qcount_of(st->slot, st->queue);
	if (!c)
		return;
	if (rc == NETDEV_TX_OK) {
		c->tx_packets++;
		c->tx_bytes += st->len;
		if (!st->has_rec)
			c->ring_wait_untracked++;
		h = qhist_of(st->slot, st->queue);
		if (h) {
			__sync_fetch_and_add(&h->occupancy[tf_bucket(st->occ, TF_OCC_SLOTS)], 1);
			__sync_fetch_and_add(&h->occupancy_sum, st->occ);
		}
		return;
	}
	cause = tx_drop_cause(st);
	c->tx_drops[cause & (TF_DROP__MAX - 1)]++;
	if (st->has_rec) {
		/* Dropped after we wrote its record (a filter): take it back. */
		struct tf_ring_rec *rec;
		__u32 slot = st->slot, idx = st->rec_idx;
		void *inner;

		inner = bpf_map_lookup_elem(&rings, &slot);
		if (!inner)
			return;
		rec = bpf_map_lookup_elem(inner, &idx);
		if (rec && rec->pkt == skb)
			rec->pkt = 0;
	}
}

/*
 * A queue's records as a bpf_loop callback walks them (the take below, the
 * purge of a detaching queue): the tap's slot and record geometry, and
 * where the kernel's ring stands.
 */
struct ring_walk {
	__u32 slot;
	__u32 q;
	__u32 ring_size;	/* of the records (the traced entry's) */
	int head;		/* consumer_head */
	int size;		/* of the kernel's ring */
};

/*
 * The record of the entry off places from head (off < 0: behind it),
 * -size < off < size; NULL once the tap's records are gone.
 */
static __always_inline struct tf_ring_rec *walk_rec(const struct ring_walk *w, int off)
{
	void *inner = bpf_map_lookup_elem(&rings, &w->slot);
	__u32 idx;
	int pos;

	if (!inner || !w->ring_size || w->size <= 0)
		return NULL;
	pos = w->head + off;
	if (pos < 0)
		pos += w->size;
	else if (pos >= w->size)
		pos -= w->size;
	idx = rec_index(w->q, w->ring_size, (__u32)pos);
	return bpf_map_lookup_elem(inner, &idx);
}

/*
 * The backend took an entry out of queue q's ring; head is consumer_head
 * now. pkt is the entry when the hook knows it (vhost hands it in; the
 * tracepoint rung sees the skb): it is among the last TF_TAKE_SEARCH slots
 * consumed. pkt 0 (read(), seen from tun_do_read's exit): the entry was the
 * one at head - 1. Clear its record; if the backend got it (delivered),
 * the time since it was queued is the ring wait.
 */
struct take_ctx {
	struct ring_walk w;
	__u32 from;		/* bpf_loop's index 0 is this look */
	__u64 pkt;
	__u64 now;
	bool delivered;
	bool done;
};

static __always_inline void ring_sample(__u32 slot, __u32 q, __u64 wait)
{
	struct tf_qhist *h = qhist_of(slot, q);

	if (!h)
		return;
	__sync_fetch_and_add(&h->ring_wait_ns[tf_bucket(wait, TF_HIST_SLOTS)], 1);
	__sync_fetch_and_add(&h->ring_wait_sum_ns, wait);
}

static long take_one(__u32 i, struct take_ctx *x)
{
	struct tf_ring_rec *rec;

	i += x->from;
	rec = walk_rec(&x->w, -1 - (int)i);	/* i < TF_TAKE_SEARCH, i < size */
	if (!rec)
		return 1;
	/*
	 * read(): only head - 1 can be it. vhost delivers its batch in order
	 * and takes the next one only when it has none left: a cleared record
	 * at head - 1 means the batch is done, so this entry has no record
	 * (it was queued untracked, or is a second copy of one skb).
	 */
	if (!rec->pkt && !i)
		return 1;
	if (x->pkt ? rec->pkt != x->pkt : !rec->pkt)
		return x->pkt ? 0 : 1;
	rec->pkt = 0;
	if (x->delivered)
		ring_sample(x->w.slot, x->w.q, x->now - rec->ts);
	x->done = true;
	return 1;
}

static __always_inline void ring_take(const struct tf_traced *t, const struct tun_file *tfile,
				      __u32 q, __u64 pkt, bool delivered)
{
	struct take_ctx x = {
		.w = { .slot = t->slot, .q = q, .ring_size = t->ring_size },
		.pkt = pkt, .now = bpf_ktime_get_ns(), .delivered = delivered,
	};

	/*
	 * Two reads, not ring_read(): the producer's cache line is the
	 * transmitting CPU's, and this runs on the reader's.
	 */
	if (q >= t->ring_queues)
		return;
	x.w.head = TFILE(tfile, tx_ring.consumer_head);
	x.w.size = TFILE(tfile, tx_ring.size);
	if (x.w.size <= 0 || x.w.head < 0 || x.w.head >= x.w.size)
		return;
	/*
	 * The first look (head - 1) is all a read() needs, and finds most of
	 * what the tracepoint rung sees: no loop for it. The rest of vhost's
	 * batch is searched only when the first look neither found it nor
	 * ruled it out.
	 */
	if (take_one(0, &x) || !pkt)
		return;
	x.from = 1;
	bpf_loop((x.w.size < TF_TAKE_SEARCH ? x.w.size : TF_TAKE_SEARCH) - 1, take_one, &x, 0);
}

#define TUN_XDP_FLAG	1UL	/* tun's tag on xdp_frame pointers in the ring */

/*
 * The queue tun_xdp_xmit picks: tfiles[smp_processor_id() % numqueues]. The
 * caller runs on the CPU the kernel will use. NULL when no queue is there.
 */
static __always_inline struct tun_file *xdp_queue(const struct net_device *dev, __u32 *q)
{
	struct tun_struct *tun = tf_netdev_priv(dev);
	__u32 numq = tun_cast ? TF_CAST(tun, struct tun_struct)->numqueues : BPF_CORE_READ(tun, numqueues);

	if (!numq)
		return NULL;
	*q = bpf_get_smp_processor_id() % numq;
	return tf_tun_queue(dev, *q);
}

static __always_inline __u32 frame_len(__u64 frame)
{
	struct xdp_frame *f = (struct xdp_frame *)(frame & ~TUN_XDP_FLAG);

	/* u16 before v6.2, u32 since: the probed-bitfield read sizes it by relocation */
	if (tun_cast)	/* v6.2+ */
		return TF_CAST(f, struct xdp_frame)->len;
	return BPF_CORE_READ_BITFIELD_PROBED(f, len);
}

static __always_inline void xdp_account(__u32 slot, __u32 queue, __u32 sent, __u64 bytes,
					__u32 dropped, __u32 cause, __u32 untracked, __u32 occ)
{
	struct tf_qcount *c = qcount_of(slot, queue);
	struct tf_qhist *h;

	if (!c)
		return;
	c->tx_packets += sent;
	c->tx_xdp_packets += sent;
	c->tx_bytes += bytes;
	c->ring_wait_untracked += untracked;
	c->tx_drops[cause & (TF_DROP__MAX - 1)] += dropped;
	h = qhist_of(slot, queue);
	if (!h || !sent)
		return;
	/*
	 * Frame i of the bulk found occ + i entries ahead of it; one bucket
	 * (the first frame's) stands for the bulk, the sum is exact.
	 */
	__sync_fetch_and_add(&h->occupancy[tf_bucket(occ, TF_OCC_SLOTS)], sent);
	__sync_fetch_and_add(&h->occupancy_sum, (__u64)sent * occ + (__u64)sent * (sent - 1) / 2);
}

#endif
