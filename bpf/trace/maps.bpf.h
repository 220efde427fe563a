/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Tracing's maps, for every rung: the traced taps (`traced`, and the
 * tracepoint rung's per-CPU copy of an entry), the counter and histogram
 * rows of each tap's queues with the spill-over for queues that have none
 * yet, the per-tap ring records, and the transmit in progress on a CPU.
 * The layout user space reads is include/tf_trace_shared.h's. Part of
 * bpf/trace.bpf.c.
 */
#ifndef TF_TRACE_MAPS_BPF_H
#define TF_TRACE_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "tf_trace_shared.h"
#include "core_fixes.bpf.h"
#include "rungs.bpf.h"

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

#endif
