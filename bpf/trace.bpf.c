// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Per-queue tracing of taps: what each queue carried, what it dropped and
 * why, how full its ring was, and how long packets waited in it before the
 * backend read them.
 *
 *   host stack ──dev_queue_xmit──> tun_net_xmit ──ptr_ring_produce──┐   (tx)
 *                                                  tfile[q]->tx_ring │
 *   backend <──read()── tun_do_read <──ptr_ring_consume──────────────┘
 *   backend ──write()──> tun_get_user ──> netif_receive_skb ──> host    (rx)
 *
 * Three attach backends share one body; user space autoloads one set after
 * probing (the table in user space lists which program belongs to which):
 *
 *   fentry/fexit, kprobe/kretprobe: tun's own functions only, tun_net_xmit,
 *     tun_get_user, tun_xdp_xmit, tun_do_read and __tun_detach. Traffic of
 *     other devices runs none of these programs; an untraced tap pays one
 *     early exit per hook.
 *   BTF tracepoints: net_dev_start_xmit/net_dev_xmit (every device's
 *     transmit), skb_copy_datagram_iovec (every copy of a datagram to user
 *     space: tun's reads, socket receives; never forwarding) and
 *     xdp_devmap_xmit (DEVMAP flushes). Rx is a tcx ingress program on each
 *     traced tap where the kernel has tcx (v6.6+), so frames of other
 *     devices, and of untraced taps, run nothing on the way in; before
 *     that, the global netif_receive_skb_entry/netif_rx_entry.
 *
 * No rung hooks kfree_skb or consume_skb: they run for every skb the host
 * frees. The cause of a tx drop comes from what tun_net_xmit tests, read
 * at its start and end: no queue (detached), the ring slot at the producer
 * index taken (ring full), else a filter if the tap has one, else other.
 *
 * Ring wait needs no shared hash: the ring numbers its slots. When a packet
 * is about to be queued, its slot is the ring's producer index; when the
 * backend takes it out, its slot is consumer_head - 1 (read(): one entry a
 * call), or one of the entries just before it (vhost takes a batch and hands
 * them in one by one: found by pointer). The in-flight record (packet
 * pointer, time) lives in a per-tap array indexed by (queue, slot): written
 * by the transmitting CPU, cleared by the reading CPU, never allocated or
 * freed per packet, and bounded by the ring's own size.
 *
 * XDP frames redirected into a tap (the fast path: DEVMAP -> tun_xdp_xmit)
 * enter the same ring as skbs, tagged with bit 0, and leave it through
 * tun_do_read without any skb. fentry/kprobe on tun_xdp_xmit count them and
 * put their records in the ring the same way; tun_do_read's exit takes the
 * record of the entry it read, frame or skb. The tracepoint rung has only
 * xdp:xdp_devmap_xmit, after the fact: it counts them (and their bytes, from
 * the ring) but cannot see them leave, so they give no ring-wait sample.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tf_trace_shared.h"
#include "core_fixes.bpf.h"
#include "tun.bpf.h"
#include "bits.bpf.h"
#include "tun_load.bpf.h"
#include "rungs.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NETDEV_TX_OK 0
/*
 * vhost-net takes at most VHOST_NET_BATCH (64) entries out of a ring at
 * once: the packet it hands in is among the last 64 slots consumed.
 */
#define TF_TAKE_SEARCH 64
#define TF_RECS_PER_LINE 4
_Static_assert(sizeof(struct tf_ring_rec) * TF_RECS_PER_LINE == 64, "records per cache line");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TF_TRACE_MAX_TAPS);
	__type(key, struct tf_traced_key);
	__type(value, struct tf_traced);
} traced SEC(".maps");

/*
 * Rows, not slots, size the counters (layout 3): each slot's spill row
 * first, then the runs user space hands out. Row counts are set at load
 * (TAPFLOW_TRACE_ROWS): the programs only index, the kernel bounds-checks.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TF_TRACE_MAX_TAPS);
	__type(key, __u32);
	__type(value, struct tf_rows);
} slot_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TF_TRACE_MAX_TAPS + TF_TRACE_ROWS);
	__type(key, __u32);
	__type(value, struct tf_qcount);
} qcount SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TF_TRACE_MAX_TAPS + TF_TRACE_ROWS);
	__type(key, __u32);
	__type(value, struct tf_qhist);
} hists SEC(".maps");

/*
 * A queue its tap has no row for yet (a backend attached more queues than
 * the tap had when tracing started, or its run is being moved): counted
 * exactly by {slot, queue} here until user space gives it a row, then the
 * reader adds both. Preallocated: programs on every rung may add to them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TF_TRACE_EXTRA);
	__type(key, struct tf_qkey);
	__type(value, struct tf_qcount);
} qextra SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TF_TRACE_EXTRA);
	__type(key, struct tf_qkey);
	__type(value, struct tf_qhist);
} hextra SEC(".maps");

/* A zeroed histogram to add hextra entries from: 856 bytes fit no stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tf_qhist);
} hist_zero SEC(".maps");

struct ring_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);	/* sized per tap: queues x ring */
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct tf_ring_rec));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TF_TRACE_MAX_TAPS);
	__type(key, __u32);
	__array(values, struct ring_inner);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tf_trace_meta);
} meta SEC(".maps");

/* tun_net_xmit in progress on this CPU (it runs with BH off: no nesting). */
struct xmit_state {
	__u64 skb;
	__u64 ts;
	__u64 dev;
	__u64 tfile;		/* the queue's tun_file at the start; 0: none (detached) */
	__u32 slot;
	__u32 queue;
	__u32 rec_idx;
	__u32 has_rec;
	__u32 full;		/* the slot at the producer index was taken at the start */
	__u32 len;
	__u32 occ;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xmit_state);
} xmit_pending SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rx_state);
} rx_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct rx_state);
} rx_tid SEC(".maps");

/* tun_do_read of a traced tap in progress in this thread (kprobe rung). */
struct read_state {
	__u64 tfile;
	__u64 ptr;		/* the entry vhost handed in; 0 for read() */
	__u32 slot;
	__u32 queue;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct read_state);
} read_tid SEC(".maps");

/*
 * fentry and BTF-tracepoint programs get typed kernel pointers that the
 * verifier lets them load from directly (CO-RE relocates those loads just
 * the same); kprobes must copy every field with bpf_probe_read_kernel, a
 * helper call each, which costs hundreds of ns a packet with retpolines.
 * Each entry point passes `direct` as a constant: after inlining, the
 * compiler keeps only that entry point's variant.
 */
/*
 * The tracepoint rung's per-CPU cache of lookup_dev: a traced tap's entry
 * of `traced`, copied, for the device it was found for. The hash lookup it
 * saves is most of what a traced packet's program costs beyond the hook
 * (~85 ns a lookup here, of 150-300 per run). An entry is good while the
 * tap's ring-record map in `rings` is the one it was copied with: every
 * `trace stop` deletes that map (and the traced entry, first), every
 * `trace start` makes a new one, and map ids are never reused, so a
 * stopped or restarted tap misses and is looked up again. The fields of a
 * traced entry do not change while it exists but for queues_seen, which
 * saw_queue() grows in the hash entry itself. Untraced devices are not
 * cached: they still pay the hash lookup.
 */
#define TF_DEV_CACHE 16

struct dev_cache_ent {
	__u64 dev;
	__u32 netns;
	__u32 ifindex;
	__u32 map_id;	/* of rings[t.slot] when copied; 0: empty */
	__u32 pad;
	struct tf_traced t;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TF_DEV_CACHE);
	__type(key, __u32);
	__type(value, struct dev_cache_ent);
} dev_cache SEC(".maps");

/* Set by user space on the tracepoint rung. */
const volatile bool dev_cache_on;

static __always_inline __u32 ring_map_id(__u32 slot)
{
	struct bpf_map *inner = bpf_map_lookup_elem(&rings, &slot);

	return inner ? inner->id : 0;
}

/* The traced entry of dev, or its cached copy; *key is dev's key. */
static __always_inline struct tf_traced *lookup_dev_key(const struct net_device *dev, bool direct,
							struct tf_traced_key *key)
{
	struct dev_cache_ent *e;
	struct tf_traced *t;
	__u32 i, id;

	if (!dev)
		return NULL;
	key->netns = direct ? dev->nd_net.net->ns.inum : tf_dev_netns(dev);
	key->ifindex = RD(direct, dev, ifindex);
	if (!dev_cache_on || !direct)
		return bpf_map_lookup_elem(&traced, key);
	i = key->ifindex & (TF_DEV_CACHE - 1);
	e = bpf_map_lookup_elem(&dev_cache, &i);
	if (!e)
		return NULL;
	if (e->dev == (__u64)dev && e->netns == key->netns && e->ifindex == key->ifindex &&
	    e->map_id && e->map_id == ring_map_id(e->t.slot))
		return &e->t;
	t = bpf_map_lookup_elem(&traced, key);
	if (!t)
		return NULL;
	id = ring_map_id(t->slot);
	if (id) {
		e->dev = (__u64)dev;
		e->netns = key->netns;
		e->ifindex = key->ifindex;
		e->map_id = id;
		e->t = *t;
	}
	return t;
}

static __always_inline struct tf_traced *lookup_dev(const struct net_device *dev, bool direct)
{
	struct tf_traced_key key;

	return lookup_dev_key(dev, direct, &key);
}

/*
 * Grows a handful of times per tap: readers scan only seen queues. t may
 * be a cached copy (lookup_dev_key): the hash entry of key is the one
 * readers see, the copy follows it.
 */
static __always_inline void saw_queue(struct tf_traced *t, const struct tf_traced_key *key,
				      __u32 queue)
{
	struct tf_traced *real;

	if (queue < t->queues_seen || queue >= TF_MAX_QUEUES)
		return;
	real = bpf_map_lookup_elem(&traced, key);
	if (!real)
		return;
	if (queue >= real->queues_seen)
		real->queues_seen = queue + 1;
	t->queues_seen = real->queues_seen;
}

/*
 * The row of (slot, queue): base + queue within the tap's run; -1 beyond
 * it (qextra), or when user space has set rows to 0 while it moves the run.
 * slot_rows is read here, when counting, not when the packet was first
 * seen: an rx that slept in between counts where the run is now.
 */
static __always_inline int row_of(__u32 slot, __u32 queue)
{
	struct tf_rows *r = bpf_map_lookup_elem(&slot_rows, &slot);

	if (!r || queue >= r->rows)
		return -1;
	return r->base + queue;
}

static __always_inline struct tf_qcount *qcount_of(__u32 slot, __u32 queue)
{
	struct tf_qkey k = { slot, queue };
	struct tf_qcount *c, zero = {};
	int row = row_of(slot, queue);
	__u32 idx;

	if (row >= 0) {
		idx = row;
		return bpf_map_lookup_elem(&qcount, &idx);
	}
	c = bpf_map_lookup_elem(&qextra, &k);
	if (c)
		return c;
	bpf_map_update_elem(&qextra, &k, &zero, BPF_NOEXIST);
	c = bpf_map_lookup_elem(&qextra, &k);
	if (c)
		return c;
	/* qextra is full: the slot's spill row, a count with no queue */
	return bpf_map_lookup_elem(&qcount, &slot);
}

static __always_inline struct tf_qhist *qhist_of(__u32 slot, __u32 queue)
{
	struct tf_qkey k = { slot, queue };
	int row = row_of(slot, queue);
	struct tf_qhist *h;
	__u32 idx = 0;

	if (row >= 0) {
		idx = row;
		return bpf_map_lookup_elem(&hists, &idx);
	}
	h = bpf_map_lookup_elem(&hextra, &k);
	if (h)
		return h;
	h = bpf_map_lookup_elem(&hist_zero, &idx);
	if (h)
		bpf_map_update_elem(&hextra, &k, h, BPF_NOEXIST);
	h = bpf_map_lookup_elem(&hextra, &k);
	if (h)
		return h;
	return bpf_map_lookup_elem(&hists, &slot);
}

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

/*
 * Why tun_net_xmit dropped a packet, from what it tests, in its order:
 * the queue (tfiles[q] NULL: DEV_READY), the filters (TAP_TXFILTER,
 * SOCKET_FILTER, TAP_FILTER) and the ring (FULL_RING). The ring is looked at
 * when the call starts and when it ends: it only gets emptier while its
 * consumer reads, so a ring full at produce time is seen full at one of
 * them unless the reader freed a batch of slots in between. A drop while
 * the ring is full counts as ring_full even if a filter made it.
 */
static __always_inline __u32 tx_drop_cause(const struct xmit_state *st)
{
	const struct tun_file *tfile = (const void *)st->tfile;
	const struct tun_struct *tun;

	if (!tfile)
		return TF_DROP_DETACHED;
	if (st->full || ring_full(tfile))
		return TF_DROP_RING_FULL;
	tun = tf_netdev_priv((const struct net_device *)st->dev);
	if (BPF_CORE_READ(tun, txflt.count) || BPF_CORE_READ(tfile, sk.sk_filter) ||
	    BPF_CORE_READ(tun, filter_prog))
		return TF_DROP_FILTER;
	return TF_DROP_OTHER;	/* out of memory (pskb_trim), zerocopy frags */
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
 * The backend took an entry out of queue q's ring; head is consumer_head
 * now. pkt is the entry when the hook knows it (vhost hands it in; the
 * tracepoint rung sees the skb): it is among the last TF_TAKE_SEARCH slots
 * consumed. pkt 0 (read(), seen from tun_do_read's exit): the entry was the
 * one at head - 1. Clear its record; if the backend got it (delivered),
 * the time since it was queued is the ring wait.
 */
struct take_ctx {
	__u32 from;		/* bpf_loop's index 0 is this look */
	__u32 slot;
	__u32 q;
	__u32 ring_size;
	int head;
	int size;
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
	void *inner;
	__u32 idx;
	int pos;

	inner = bpf_map_lookup_elem(&rings, &x->slot);
	if (!inner || !x->ring_size || x->size <= 0)
		return 1;
	i += x->from;
	pos = x->head - 1 - (int)i;	/* i < TF_TAKE_SEARCH, i < size */
	if (pos < 0)
		pos += x->size;
	idx = rec_index(x->q, x->ring_size, (__u32)pos);
	rec = bpf_map_lookup_elem(inner, &idx);
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
		ring_sample(x->slot, x->q, x->now - rec->ts);
	x->done = true;
	return 1;
}

static __always_inline void ring_take(const struct tf_traced *t, const struct tun_file *tfile,
				      __u32 q, __u64 pkt, bool delivered)
{
	struct take_ctx x = {
		.slot = t->slot, .q = q, .ring_size = t->ring_size, .pkt = pkt,
		.now = bpf_ktime_get_ns(), .delivered = delivered,
	};

	/*
	 * Two reads, not ring_read(): the producer's cache line is the
	 * transmitting CPU's, and this runs on the reader's.
	 */
	if (q >= t->ring_queues)
		return;
	x.head = TFILE(tfile, tx_ring.consumer_head);
	x.size = TFILE(tfile, tx_ring.size);
	if (x.size <= 0 || x.head < 0 || x.head >= x.size)
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
	bpf_loop((x.size < TF_TAKE_SEARCH ? x.size : TF_TAKE_SEARCH) - 1, take_one, &x, 0);
}

/*
 * Tracepoint rung: an skb is being copied to user space. If it is a traced
 * tap's, tun_put_user is delivering it to the backend.
 */
static __always_inline void deliver_skb(const struct sk_buff *skb)
{
	/* Only BTF tracepoints call this: direct loads. */
	const struct net_device *dev = skb->dev;
	struct tf_traced *t;
	struct tun_file *tfile;
	__u32 q;

	if (!dev)
		return;
	/*
	 * Most skbs copied to user space with a tap as skb->dev came in from
	 * that tap (a socket on the host read them): they never sat in its
	 * ring. Ring skbs were made locally (skb_iif 0) or forwarded from
	 * another device. Two loads spare socket receives the lookups below.
	 */
	if (skb->skb_iif == dev->ifindex)
		return;
	t = lookup_dev(dev, true);
	if (!t)
		return;
	q = skb->queue_mapping;
	tfile = tf_tun_queue(dev, q);
	if (!tfile)
		return;
	ring_take(t, tfile, q, (__u64)skb, true);
}

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
struct purge_ctx {
	__u32 slot;
	__u32 q;
	__u32 ring_size;
	int head;
	int size;
};

static long purge_one(__u32 i, struct purge_ctx *x)
{
	struct tf_ring_rec *rec;
	void *inner;
	__u32 idx;
	int pos;

	inner = bpf_map_lookup_elem(&rings, &x->slot);
	if (!inner || !x->ring_size || x->size <= 0)
		return 1;
	pos = x->head + (int)i;
	if (pos >= x->size)
		pos -= x->size;
	idx = rec_index(x->q, x->ring_size, (__u32)pos);
	rec = bpf_map_lookup_elem(inner, &idx);
	if (rec)
		rec->pkt = 0;
	return 0;
}

static __always_inline void detach_start(const struct tun_file *tfile, bool direct)
{
	const struct tun_struct *tun = RD(direct, tfile, tun);
	struct purge_ctx x;
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

/* ---- XDP frames redirected into a tap ------------------------------------ */

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

/* ---- vhost-net's batched writes ------------------------------------------ */

#define TUN_MSG_PTR	2	/* include/linux/if_tun.h: msg_control is a tun_msg_ctl */
#define TF_SEND_BATCH	64	/* VHOST_NET_BATCH: xdp_buffs per tun_sendmsg at most */

/*
 * tun_sendmsg(sock, m, len) is vhost-net's way in. With the tap's default
 * sndbuf it hands a batch of xdp_buffs (m->msg_control: a tun_msg_ctl of
 * type TUN_MSG_PTR) that tun_xdp_one turns into packets, never calling
 * tun_get_user; otherwise tun_sendmsg calls tun_get_user, whose own hooks
 * count the frame, so only batches are counted here. tun_xdp_one is inlined
 * on common kernels (no symbol to attach to) and keeps no per-frame result
 * the caller sees: a batch's frames are counted as written (rx_packets, and
 * their bytes without the vnet header, data_end - data), and neither rx_ns
 * nor rx_drops are measured for them. One program run per batch.
 */
static __always_inline void rx_batch(const struct socket *sock, const struct msghdr *m)
{
	struct tun_file *tfile = (void *)sock - bpf_core_field_offset(struct tun_file, socket);
	struct tun_msg_ctl ctl = {};
	struct tf_traced_key key;
	struct tun_struct *tun;
	struct tf_qcount *c;
	struct tf_traced *t;
	__u64 bytes = 0, buf;
	__u32 stride, q, n;
	void *ctlp = NULL;

	if (bpf_core_read(&ctlp, sizeof(ctlp), &m->msg_control) || !ctlp)
		return;
	if (BPF_CORE_READ(m, msg_controllen) != bpf_core_type_size(struct tun_msg_ctl))
		return;
	if (bpf_core_read(&ctl, sizeof(ctl), ctlp) || ctl.type != TUN_MSG_PTR || !ctl.ptr)
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
	stride = bpf_core_type_size(struct xdp_buff);
	buf = (__u64)ctl.ptr + bpf_core_field_offset(struct xdp_buff, data);
	for (int i = 0; i < TF_SEND_BATCH; i++) {
		void *d[2] = {};	/* data, data_end: adjacent in every kernel */

		if (i >= n)
			break;
		bpf_probe_read_kernel(d, sizeof(d), (void *)(buf + (__u64)i * stride));
		if (d[1] > d[0])
			bytes += d[1] - d[0];
	}
	c->rx_packets += n;
	c->rx_bytes += bytes;
}

/* ---- fentry and kprobe, one body (rungs.bpf.h) ------------------------ */

TF_ENTRY_HOOK(, tun_net_xmit, tx_start(skb, dev, direct),
	      struct sk_buff *skb, struct net_device *dev)

TF_ENTRY_HOOK_ARG(, tun_xdp_xmit, 2, struct xdp_frame **, frames,
		  xdp_xmit_start(dev, n, frames, direct),
		  struct net_device *dev, int n)

TF_EXIT_HOOK(, tun_xdp_xmit, int, xdp_xmit_end(ret))

TF_ENTRY_HOOK(, __tun_detach, detach_start(tfile, direct), struct tun_file *tfile)

TF_ENTRY_HOOK(, tun_sendmsg, rx_batch(sock, m), struct socket *sock, struct msghdr *m)

/* ---- fentry/fexit ----------------------------------------------------- */

SEC("fexit/tun_net_xmit")
int BPF_PROG(fexit_tun_net_xmit, struct sk_buff *skb, struct net_device *dev, int ret)
{
	tx_end((__u64)skb, ret);
	return 0;
}

/* The untraced tap's price is the lookup: no task storage is made for it. */
SEC("fentry/tun_get_user")
int BPF_PROG(fentry_tun_get_user, struct tun_struct *tun, struct tun_file *tfile)
{
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(tun->dev, true, &key);
	struct rx_state *s;

	if (!t)
		return 0;
	s = bpf_task_storage_get(&rx_task, bpf_get_current_task_btf(), NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s)
		rx_begin(s, t, &key, tun, tfile, true);
	return 0;
}

SEC("fexit/tun_get_user")
int BPF_PROG(fexit_tun_get_user, struct tun_struct *tun, struct tun_file *tfile,
	     void *msg_control, struct iov_iter *from, int noblock, bool more, long ret)
{
	struct rx_state *s;

	s = bpf_task_storage_get(&rx_task, bpf_get_current_task_btf(), NULL, 0);
	if (!s || !s->valid || s->tfile != (__u64)tfile)
		return 0;
	s->valid = 0;
	rx_account(s->slot, s->queue, ret, s->hdr, bpf_ktime_get_ns() - s->ts);
	return 0;
}

/*
 * fexit sees the arguments too: no state between entry and exit. ptr is no
 * struct pointer: bpf_get_func_arg() (rungs.bpf.h says why).
 */
SEC("fexit/tun_do_read")
int BPF_PROG(fexit_tun_do_read, struct tun_struct *tun, struct tun_file *tfile)
{
	struct tf_traced *t = lookup_dev(tun->dev, true);
	__u64 ptr = 0, ret = 0;

	if (!t)
		return 0;
	bpf_get_func_arg(ctx, 4, &ptr);
	bpf_get_func_ret(ctx, &ret);
	read_end(t, tfile, tfile->queue_index, ptr, (long)ret);
	return 0;
}

/* ---- kprobe/kretprobe ------------------------------------------------- */

SEC("kretprobe/tun_net_xmit")
int BPF_KRETPROBE(kretprobe_tun_net_xmit, int ret)
{
	struct xmit_state *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&xmit_pending, &zero);
	if (st)
		tx_end(st->skb, ret);
	return 0;
}

SEC("kprobe/tun_get_user")
int BPF_KPROBE(kprobe_tun_get_user, struct tun_struct *tun, struct tun_file *tfile)
{
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(BPF_CORE_READ(tun, dev), false, &key);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rx_state s = {};

	if (!t)
		return 0;
	rx_begin(&s, t, &key, tun, tfile, false);
	bpf_map_update_elem(&rx_tid, &tid, &s, BPF_ANY);
	return 0;
}

SEC("kretprobe/tun_get_user")
int BPF_KRETPROBE(kretprobe_tun_get_user, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rx_state *s = bpf_map_lookup_elem(&rx_tid, &tid);

	if (!s)
		return 0;
	rx_account(s->slot, s->queue, ret, s->hdr, bpf_ktime_get_ns() - s->ts);
	bpf_map_delete_elem(&rx_tid, &tid);
	return 0;
}

SEC("kprobe/tun_do_read")
int BPF_KPROBE(kprobe_tun_do_read, struct tun_struct *tun, struct tun_file *tfile,
	       struct iov_iter *to, int noblock, void *ptr)
{
	struct tf_traced *t = lookup_dev(BPF_CORE_READ(tun, dev), false);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct read_state s = {};

	if (!t)
		return 0;
	s.tfile = (__u64)tfile;
	s.ptr = (__u64)ptr;
	s.slot = t->slot;
	s.queue = BPF_CORE_READ(tfile, queue_index);
	bpf_map_update_elem(&read_tid, &tid, &s, BPF_ANY);
	return 0;
}

SEC("kretprobe/tun_do_read")
int BPF_KRETPROBE(kretprobe_tun_do_read, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct read_state *s = bpf_map_lookup_elem(&read_tid, &tid);
	const struct tun_file *tfile;
	const struct tun_struct *tun;
	struct tf_traced *t;

	if (!s)
		return 0;
	/* the tap's entry again (ring_take wants its geometry), if it is the same slot */
	tfile = (const void *)s->tfile;
	tun = BPF_CORE_READ(tfile, tun);
	t = tun ? lookup_dev(BPF_CORE_READ(tun, dev), false) : NULL;
	if (t && t->slot == s->slot)
		read_end(t, tfile, s->queue, s->ptr, ret);
	bpf_map_delete_elem(&read_tid, &tid);
	return 0;
}

/* ---- BTF tracepoints and tcx (the last rung) -------------------------- */

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(tp_net_dev_start_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	tx_start(skb, dev, true);
	return 0;
}

SEC("tp_btf/net_dev_xmit")
int BPF_PROG(tp_net_dev_xmit, struct sk_buff *skb, int rc)
{
	tx_end((__u64)skb, rc);
	return 0;
}

SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(tp_skb_copy_datagram_iovec, const struct sk_buff *skb, int len)
{
	deliver_skb(skb);
	return 0;
}

/*
 * No tracepoint brackets tun_get_user, so this rung counts frames as they
 * enter the stack (tun records the queue with skb_record_rx_queue) and does
 * not measure rx time or rx drops; frames an XDP program consumed never
 * get here.
 */
static __always_inline void rx_skb(const struct sk_buff *skb, __u32 extra)
{
	const struct net_device *dev = skb->dev;	/* BTF pointers only: direct */
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(dev, true, &key);
	struct tf_qcount *c;
	__u16 q, mac;
	unsigned char *head, *data;

	if (!t)
		return;
	q = skb->queue_mapping;
	q = q ? q - 1 : 0;
	saw_queue(t, &key, q);
	c = qcount_of(t->slot, q);
	if (!c)
		return;
	/* eth_type_trans has pulled the link header: count the whole frame. */
	head = skb->head;
	data = skb->data;
	mac = skb->mac_header;
	c->rx_packets++;
	c->rx_bytes += skb->len + (data - (head + mac)) + extra;
}

/*
 * Where the kernel has tcx (v6.6+), user space attaches this to each traced
 * tap's ingress instead of the two global tracepoints below: frames of
 * every other device run nothing. It sees what netif_receive_skb_entry
 * sees, after a VLAN tag was moved out of the frame (put back in the
 * count). bpf_cast_to_kern_ctx (v6.3) reads the device's netns.
 */
extern void *bpf_cast_to_kern_ctx(void *) __ksym __weak;

SEC("tc")
int tc_rx(struct __sk_buff *ctx)
{
	const struct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);

	rx_skb(skb, ctx->vlan_present ? 4 : 0);
	return TCX_NEXT;
}

SEC("tp_btf/netif_receive_skb_entry")
int BPF_PROG(tp_netif_receive_skb_entry, const struct sk_buff *skb)
{
	rx_skb(skb, 0);
	return 0;
}

SEC("tp_btf/netif_rx_entry")
int BPF_PROG(tp_netif_rx_entry, const struct sk_buff *skb)
{
	rx_skb(skb, 0);
	return 0;
}

/*
 * XDP frames redirected into a tap, after tun_xdp_xmit returned (sent queued,
 * drops not). This rung sees no tun_do_read: the frames are counted, their
 * bytes read from the ring slots they took (one a fast reader already took
 * may be gone: counted without bytes), and they give no ring-wait sample.
 */
SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(tp_xdp_devmap_xmit, const struct net_device *from_dev,
	     const struct net_device *to_dev, int sent, int drops, int err)
{
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(to_dev, true, &key);
	struct tun_file *tfile;
	__u32 q = 0, queue = 0, occ = 0;
	struct ring_view r;
	__u64 bytes = 0;

	if (!t)
		return 0;
	tfile = xdp_queue(to_dev, &q);
	if (tfile) {
		queue = TFILE(tfile, queue_index);
		saw_queue(t, &key, queue);
		if (sent > 0 && ring_view(tfile, &r)) {
			int o = r.occ - sent;

			/*
			 * A reader (vhost above all, which takes 64 at once)
			 * may have drained the ring since: fewer entries
			 * than were just sent. What was ahead of the first
			 * is then unknown but small: 0, never a wrap to
			 * nearly the ring's size.
			 */
			occ = o < 0 ? 0 : o;
			for (int i = 0; i < TF_XDP_BULK; i++) {
				__u64 cur = 0;
				int pos = r.prod - sent + i;

				if (i >= sent)
					break;
				if (pos < 0)
					pos += r.size;
				cur = (__u64)load_ptr(&r.queue[pos]);
				if (cur & TUN_XDP_FLAG)
					bytes += frame_len(cur);
			}
		}
	}
	xdp_account(t->slot, queue, sent > 0 ? sent : 0, bytes, drops > 0 ? drops : 0,
		    !tfile || err == -6 /* -ENXIO */ ? TF_DROP_DETACHED : TF_DROP_RING_FULL,
		    sent > 0 ? sent : 0, occ);
	return 0;
}
