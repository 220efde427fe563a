// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The bound of tracing's cost, for the benchmark (scripts/bench-trace.sh
 * through tests/tf-empty-trace bound): on the tracepoint rung's hooks,
 * programs that make only the memory accesses tapflow's features need and
 * none of its bookkeeping. An empty program measures the hook; these
 * measure the hook plus what any exact per-queue count and ring-wait
 * sample must touch: the tap's queue (tun->tfiles[q]), its ring's producer
 * and consumer indices (two cache lines, the consumer's written by the
 * reading CPU), the ring entry at the producer index (taken: the ring is
 * full and the packet will be dropped), one 16-byte in-flight record per
 * queued packet (written by
 * the transmitting CPU, read and cleared by the reading one), one ring-wait
 * bucket, the occupancy each queued packet found (the consumer index, a
 * bucket and a sum: for redirected XDP frames too, once per bulk) and
 * per-CPU counters (the histograms per-CPU too: cheaper than any shared
 * one). Taps are picked by ifindex from a mask set
 * before load (ifindex < 64, no netns check, one queue's records per tap):
 * cheaper than any real filter, so tapflow can only come close from above.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "core_fixes.bpf.h"
#include "bits.bpf.h"
#include "tun_load.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define B_RING 4096	/* records per tap: the benchmark's rings hold 4096 */

const volatile __u64 tap_mask;	/* bit i: ifindex i is a traced tap */

struct rec {
	__u64 pkt;
	__u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64 * B_RING);
	__type(key, __u32);
	__type(value, struct rec);
} recs SEC(".maps");

struct cnt {
	__u64 packets;
	__u64 bytes;
	__u64 occ_sum;
	__u64 wait[40];
	__u64 occ[24];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct cnt);
} cnts SEC(".maps");

static __always_inline bool traced(__u32 ifindex)
{
	return ifindex < 64 && (tap_mask & (1ULL << ifindex));
}

static __always_inline struct tun_file *queue_of(const struct net_device *dev, __u32 q)
{
	struct tun_struct *tun = tf_netdev_priv(dev);

	return load_ptr(&tun->tfiles[q & 255]);
}

/* The packet's record at the producer index; the occupancy from consumer_head. */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(b_start_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	__u32 ifx = dev->ifindex, idx;
	struct tun_file *tfile;
	int prod, head;
	void **queue;
	struct cnt *c;
	struct rec *r;

	if (!traced(ifx))
		return 0;
	tfile = queue_of(dev, skb->queue_mapping);
	if (!tfile)
		return 0;
	prod = TFILE(tfile, tx_ring.producer);
	head = TFILE(tfile, tx_ring.consumer_head);
	queue = TFILE(tfile, tx_ring.queue);
	/* the slot's entry: a record must not replace a queued packet's (ring full) */
	if (load_ptr(&queue[prod & 0xffff]))
		return 0;
	idx = ifx * B_RING + ((__u32)prod & (B_RING - 1));
	r = bpf_map_lookup_elem(&recs, &idx);
	c = bpf_map_lookup_elem(&cnts, &ifx);
	if (!r || !c)
		return 0;
	r->pkt = (__u64)skb;
	r->ts = bpf_ktime_get_ns();
	c->occ_sum += prod - head;
	c->occ[tf_bucket((__u32)(prod - head) & 0xffff, 24)]++;
	return 0;
}

/* The queued count. */
SEC("tp_btf/net_dev_xmit")
int BPF_PROG(b_xmit, const struct sk_buff *skb, int rc, const struct net_device *dev)
{
	__u32 ifx = dev->ifindex;
	struct cnt *c;

	if (!traced(ifx) || rc)
		return 0;
	c = bpf_map_lookup_elem(&cnts, &ifx);
	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
	return 0;
}

/* The ring wait: the record at consumer_head - 1, cleared, one bucket. */
SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(b_copy_datagram, const struct sk_buff *skb)
{
	const struct net_device *dev = skb->dev;
	struct tun_file *tfile;
	__u32 ifx, idx;
	struct cnt *c;
	struct rec *r;
	int head;

	if (!dev)
		return 0;
	ifx = dev->ifindex;
	if (!traced(ifx))
		return 0;
	tfile = queue_of(dev, skb->queue_mapping);
	if (!tfile)
		return 0;
	head = TFILE(tfile, tx_ring.consumer_head);
	idx = ifx * B_RING + ((__u32)(head - 1) & (B_RING - 1));
	r = bpf_map_lookup_elem(&recs, &idx);
	c = bpf_map_lookup_elem(&cnts, &ifx);
	if (!r || !c || r->pkt != (__u64)skb)
		return 0;
	r->pkt = 0;
	c->wait[tf_bucket(bpf_ktime_get_ns() - r->ts, 40)]++;
	return 0;
}

/*
 * The queued count, bytes and occupancy of a bulk: the queue tun_xdp_xmit
 * took, its frames' lengths, the entries ahead of the first (consumer
 * index), one bucket and the sum for the bulk.
 */
SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(b_devmap_xmit, const struct net_device *from_dev, const struct net_device *to_dev,
	     int sent)
{
	struct tun_struct *tun = tf_netdev_priv(to_dev);
	__u32 ifx = to_dev->ifindex, numq;
	struct tun_file *tfile;
	__u64 bytes = 0;
	struct cnt *c;
	void **queue;
	int prod, size, head, occ;

	if (!traced(ifx) || sent <= 0)
		return 0;
	numq = tun_cast ? TF_CAST(tun, struct tun_struct)->numqueues : BPF_CORE_READ(tun, numqueues);
	if (!numq)
		return 0;
	tfile = queue_of(to_dev, bpf_get_smp_processor_id() % numq);
	if (!tfile)
		return 0;
	prod = TFILE(tfile, tx_ring.producer);
	head = TFILE(tfile, tx_ring.consumer_head);
	size = TFILE(tfile, tx_ring.size);
	queue = TFILE(tfile, tx_ring.queue);
	occ = prod - head - sent;
	if (occ < 0)
		occ += size;
	if (occ < 0)
		occ = 0;
	for (int i = 0; i < 16 && i < sent; i++) {
		int pos = prod - sent + i;
		__u64 f;

		if (pos < 0)
			pos += size;
		f = (__u64)load_ptr(&queue[pos & 0xffff]);
		if (f & 1)
			bytes += tun_cast ? TF_CAST(f & ~1UL, struct xdp_frame)->len :
				BPF_CORE_READ((struct xdp_frame *)(f & ~1UL), len);
	}
	c = bpf_map_lookup_elem(&cnts, &ifx);
	if (c) {
		c->packets += sent;
		c->bytes += bytes;
		c->occ[tf_bucket(occ & 0xffff, 24)] += sent;
		c->occ_sum += (__u64)sent * occ;
	}
	return 0;
}

/* Per tap already: a count and its bytes. */
SEC("tc")
int b_tc_rx(struct __sk_buff *ctx)
{
	__u32 ifx = ctx->ifindex;
	struct cnt *c;

	if (ifx >= 64)
		return TCX_NEXT;
	c = bpf_map_lookup_elem(&cnts, &ifx);
	if (c) {
		c->packets++;
		c->bytes += ctx->len;
	}
	return TCX_NEXT;
}
