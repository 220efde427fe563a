// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `tapflow capture`: the packets of one tap, per queue, with why they were
 * dropped and how long they waited in the ring, on the tracepoint rung.
 *
 *   host stack ─dev_queue_xmit─> [net_dev_start_xmit] tun_net_xmit [net_dev_xmit]
 *        matching: noted (skb -> time)    dropped: captured here, with its cause
 *                         tfile[q]->tx_ring ──> tun_put_user
 *        [skb_copy_datagram_iovec]: delivered, captured with its ring wait
 *   DEVMAP ─> tun_xdp_xmit ─> ring    [xdp_devmap_xmit]: fast-path frames, queued
 *   backend ─write()─> tun_get_user ─> [netif_receive_skb_entry/netif_rx_entry]: rx
 *
 * The same hooks as the tracing's tracepoint rung (bpf/trace.bpf.c). The
 * programs are loaded per capture, for one tap: every entry point tests
 * the device's ifindex first and its netns second, so other devices pay one
 * load and one compare. Frames are copied (the linear part, up to
 * TF_CAP_MAX) into a per-CPU scratch, the pcap filter (cbpf.bpf.h) runs on
 * that copy, and only matching frames go to the ring buffer. Every entry
 * point runs with bottom halves off except the delivery one, which needs
 * no filter (it was decided at queue time) and reserves its record in the
 * ring buffer directly. A full ring buffer loses the record, never the
 * packet: `missed` counts them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tf_trace_shared.h"
#include "tf_capture_shared.h"
#include "core_fixes.bpf.h"
#include "tun.bpf.h"
#include "cbpf.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NETDEV_TX_OK 0
#define TUN_XDP_FLAG 1UL

const volatile __u32 cfg_ifindex;
const volatile __u32 cfg_netns;
const volatile __u32 cfg_dirs = 3;		/* bit TF_CAP_TX, bit TF_CAP_RX */
const volatile __u32 cfg_drops_only;
const volatile __u32 cfg_drop_mask = 0xff;	/* bit per enum tf_drop_cause */
const volatile __u32 cfg_snaplen = TF_CAP_MAX;
const volatile __u32 cfg_filtered;		/* a pcap filter is in the region */
const volatile __u32 cfg_allq = 1;
const volatile __u32 cfg_qmask[TF_CAP_QWORDS];

__u64 missed;	/* records the ring buffer had no room for */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);	/* resized by user space */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tf_cap_scratch);
} tx_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tf_cap_scratch);
} rx_scratch SEC(".maps");

/* tun_net_xmit in progress on this CPU (BH off: no nesting). */
struct cap_xmit {
	__u64 skb;
	__u64 tfile;
	__u64 ts;
	__u32 queue;
	__u32 full;
	__u32 copied;
	__u32 match;
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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct inflight);
} queued SEC(".maps");

static __always_inline bool our_dev(const struct net_device *dev)
{
	if (!dev || dev->ifindex != cfg_ifindex)
		return false;
	return dev->nd_net.net->ns.inum == cfg_netns;
}

static __always_inline bool want_queue(__u32 q)
{
	if (cfg_allq)
		return true;
	if (q >= TF_CAP_QWORDS * 32)
		return false;
	/* masked in asm: the compiler would drop a C mask after the test above,
	 * and the test alone is on another register than the index */
	__u64 w = q / 32;

	asm volatile("%[w] &= " TF_STR(TF_CAP_QWORDS) " - 1" : [w] "+r"(w));
	return cfg_qmask[w] & (1u << (q % 32));
}

static __always_inline void lost(void)
{
	__sync_fetch_and_add(&missed, 1);
}

/* ptr_ring_produce's "full" test: the entry at the producer index is taken. */
static __always_inline bool ring_full(const struct tun_file *tfile)
{
	int size = BPF_CORE_READ(tfile, tx_ring.size);
	int prod = BPF_CORE_READ(tfile, tx_ring.producer);
	void **queue = BPF_CORE_READ(tfile, tx_ring.queue);
	void *cur = NULL;

	if (size <= 0 || prod < 0 || prod >= size || !queue)
		return false;
	bpf_probe_read_kernel(&cur, sizeof(cur), &queue[prod]);
	return cur != NULL;
}

/* What tun_net_xmit tests before dropping, in its order (as trace.bpf.c). */
static __always_inline bool tun_filters(const struct net_device *dev, const struct tun_file *tfile)
{
	const struct tun_struct *tun = tf_netdev_priv(dev);

	return BPF_CORE_READ(tun, txflt.count) || BPF_CORE_READ(tfile, sk.sk_filter) ||
	       BPF_CORE_READ(tun, filter_prog);
}

/*
 * n, at most TF_CAP_MAX, in a form the verifier can bound: the compiler
 * would otherwise fold the clamp into a compare of another register.
 */
static __always_inline __u64 clamp_len(__u64 n)
{
	asm volatile("if %[n] <= " TF_STR(TF_CAP_MAX) " goto +1\n"
		     "%[n] = " TF_STR(TF_CAP_MAX) "\n"
		     : [n] "+r"(n));
	return n;
}

/*
 * Copy a frame's linear part (up to TF_CAP_MAX) into s and run the filter
 * on it. A frame with paged data is cut where its linear part ends.
 */
static __always_inline __u32 copy_filter(struct tf_cap_scratch *s, const void *data,
					 __u32 wirelen, __u32 headlen)
{
	__u64 n = headlen < wirelen ? headlen : wirelen;

	s->rec.flags = headlen < wirelen && headlen < TF_CAP_MAX ? TF_CAP_F_CUT : 0;
	n = clamp_len(n);
	if (bpf_probe_read_kernel(s->data, n, data))
		n = 0;
	s->rec.wirelen = wirelen;
	s->rec.caplen = n;
	s->wirelen = wirelen;
	if (!cfg_filtered)
		return 1;
	return tf_cbpf_run(s, n);
}

/*
 * Send the copy in s to the ring buffer as one event, cut at the snaplen:
 * every event but a delivery (which has its ring wait) is stamped here.
 */
static __always_inline void emit(struct tf_cap_scratch *s, __u64 ts, __u32 queue, __u8 dir,
				 __u8 event, __u8 cause)
{
	__u64 n = s->rec.caplen;

	s->rec.ts = ts;
	s->rec.wait_ns = 0;
	s->rec.queue = queue;
	s->rec.dir = dir;
	s->rec.event = event;
	s->rec.cause = cause;

	if (n > cfg_snaplen)
		n = cfg_snaplen;
	n = clamp_len(n);
	s->rec.caplen = n;
	s->rec.missed = missed;
	if (bpf_ringbuf_output(&events, &s->rec, sizeof(s->rec) + n, 0))
		lost();
}

/* ---- tx: host -> tap queue ring ----------------------------------------- */

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(cap_start_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	struct tf_cap_scratch *s;
	struct tun_file *tfile;
	struct cap_xmit *x;
	__u32 zero = 0, q;

	if (!our_dev(dev) || !(cfg_dirs & (1 << TF_CAP_TX)))
		return 0;
	q = skb->queue_mapping;
	if (!want_queue(q))
		return 0;
	x = bpf_map_lookup_elem(&xmit, &zero);
	s = bpf_map_lookup_elem(&tx_scratch, &zero);
	if (!x || !s)
		return 0;
	x->skb = (__u64)skb;
	x->ts = bpf_ktime_get_ns();
	x->queue = q;
	tfile = tun_queue(dev, q);
	x->tfile = (__u64)tfile;
	x->full = tfile && ring_full(tfile);
	x->copied = 0;
	x->match = 0;
	/* --drops copies only what it expects to be dropped */
	if (cfg_drops_only && tfile && !x->full && !tun_filters(dev, tfile))
		return 0;
	x->copied = 1;
	x->match = copy_filter(s, skb->data, skb->len, skb->len - skb->data_len);
	if (x->match && !cfg_drops_only) {
		/*
		 * Noted before tun_net_xmit puts it in the ring: a reader on
		 * another CPU may take it before net_dev_xmit fires.
		 */
		struct inflight f = { .ts = x->ts, .queue = q };
		__u64 key = (__u64)skb;

		if (bpf_map_update_elem(&queued, &key, &f, BPF_ANY))
			lost();
	}
	return 0;
}

SEC("tp_btf/net_dev_xmit")
int BPF_PROG(cap_xmit, struct sk_buff *skb, int rc, struct net_device *dev)
{
	const struct tun_file *tfile;
	struct tf_cap_scratch *s;
	struct cap_xmit *x;
	__u64 key = (__u64)skb;
	__u32 zero = 0, cause;

	if (!our_dev(dev))
		return 0;
	x = bpf_map_lookup_elem(&xmit, &zero);
	if (!x || x->skb != (__u64)skb)
		return 0;
	x->skb = 0;
	if (rc == NETDEV_TX_OK)
		return 0;	/* queued: captured when delivered */
	if (x->match && !cfg_drops_only)
		bpf_map_delete_elem(&queued, &key);
	tfile = (const void *)x->tfile;
	if (!tfile)
		cause = TF_DROP_DETACHED;
	else if (x->full || ring_full(tfile))
		cause = TF_DROP_RING_FULL;
	else if (tun_filters(dev, tfile))
		cause = TF_DROP_FILTER;
	else
		cause = TF_DROP_OTHER;
	if (!(cfg_drop_mask & (1u << cause)))
		return 0;
	s = bpf_map_lookup_elem(&tx_scratch, &zero);
	if (!s)
		return 0;
	if (!x->copied) {
		if (cfg_filtered)
			return 0;	/* its bytes are gone: the filter cannot say */
		s->rec.wirelen = skb->len;
		s->rec.caplen = 0;
		s->rec.flags = TF_CAP_F_NODATA;
	} else if (!x->match) {
		return 0;
	}
	emit(s, x->ts, x->queue, TF_CAP_TX, TF_CAP_EV_DROPPED, cause);
	return 0;
}

/*
 * tun_put_user copies a queued skb to the backend: its ring wait ends. Most
 * skbs copied to user space with the tap as skb->dev came in from it (a
 * host socket reading them) and never sat in its ring: skb_iif tells.
 */
SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(cap_deliver, const struct sk_buff *skb, int len)
{
	const struct net_device *dev = skb->dev;
	struct tf_cap_rec *rec;
	struct inflight *f;
	__u64 key = (__u64)skb, now;
	__u64 n;
	__u32 headlen;

	if (!our_dev(dev) || skb->skb_iif == dev->ifindex)
		return 0;
	f = bpf_map_lookup_elem(&queued, &key);
	if (!f)
		return 0;
	now = bpf_ktime_get_ns();
	rec = bpf_ringbuf_reserve(&events, sizeof(*rec) + TF_CAP_MAX, 0);
	if (!rec) {
		lost();
		bpf_map_delete_elem(&queued, &key);
		return 0;
	}
	rec->ts = f->ts;
	rec->wait_ns = now - f->ts;
	rec->queue = f->queue;
	bpf_map_delete_elem(&queued, &key);
	rec->wirelen = skb->len;
	headlen = skb->len - skb->data_len;
	n = clamp_len(headlen < cfg_snaplen ? headlen : cfg_snaplen);
	rec->flags = headlen < rec->wirelen && headlen < cfg_snaplen ? TF_CAP_F_CUT : 0;
	if (bpf_probe_read_kernel(rec + 1, n, skb->data))
		n = 0;
	rec->caplen = n;
	rec->dir = TF_CAP_TX;
	rec->event = TF_CAP_EV_DELIVERED;
	rec->cause = 0;
	rec->pad = 0;
	rec->missed = missed;
	bpf_ringbuf_submit(rec, 0);
	return 0;
}

/*
 * Fast-path frames redirected into the tap (DEVMAP -> tun_xdp_xmit), after
 * they were queued: read back from the ring slots they took. A frame a
 * fast reader already took is gone (counted in missed); dropped ones are
 * not seen on this rung (tracing counts them).
 */
struct xdp_ctx {
	const void **ring;
	int prod;
	int size;
	int sent;
	__u32 queue;
	__u64 ts;
};

static __always_inline long xdp_one(__u32 i, struct xdp_ctx *c)
{
	struct tf_cap_scratch *s;
	struct xdp_frame *xf;
	__u64 cur = 0;
	__u32 zero = 0, len;
	void *data;
	int pos;

	if ((int)i >= c->sent)
		return 1;
	pos = c->prod - c->sent + (int)i;
	if (pos < 0)
		pos += c->size;
	if (pos < 0 || pos >= c->size)
		return 1;
	bpf_probe_read_kernel(&cur, sizeof(cur), &c->ring[pos]);
	if (!(cur & TUN_XDP_FLAG)) {
		lost();
		return 0;
	}
	xf = (struct xdp_frame *)(cur & ~TUN_XDP_FLAG);
	len = BPF_CORE_READ_BITFIELD_PROBED(xf, len);
	data = BPF_CORE_READ(xf, data);
	s = bpf_map_lookup_elem(&rx_scratch, &zero);
	if (!s)
		return 1;
	if (!copy_filter(s, data, len, len))
		return 0;
	s->rec.flags |= TF_CAP_F_FASTPATH;
	emit(s, c->ts, c->queue, TF_CAP_TX, TF_CAP_EV_QUEUED, 0);
	return 0;
}

SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(cap_devmap_xmit, const struct net_device *from_dev,
	     const struct net_device *to_dev, int sent, int drops, int err)
{
	struct tun_struct *tun;
	struct tun_file *tfile;
	struct xdp_ctx c = {};
	__u32 numq;

	if (!our_dev(to_dev) || !(cfg_dirs & (1 << TF_CAP_TX)) || cfg_drops_only || sent <= 0)
		return 0;
	tun = tf_netdev_priv(to_dev);
	numq = BPF_CORE_READ(tun, numqueues);
	if (!numq)
		return 0;
	tfile = tun_queue(to_dev, bpf_get_smp_processor_id() % numq);
	if (!tfile)
		return 0;
	c.queue = BPF_CORE_READ(tfile, queue_index);
	if (!want_queue(c.queue))
		return 0;
	c.size = BPF_CORE_READ(tfile, tx_ring.size);
	c.prod = BPF_CORE_READ(tfile, tx_ring.producer);
	c.ring = (const void **)BPF_CORE_READ(tfile, tx_ring.queue);
	c.sent = sent;
	c.ts = bpf_ktime_get_ns();
	if (c.size <= 0 || !c.ring)
		return 0;
	/* a loop, not bpf_loop: a callback is a subprogram, which the filter patch skips */
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < TF_XDP_BULK; i++)
		if (xdp_one(i, &c))
			break;
	return 0;
}

/* ---- rx: backend -> tap -> host ----------------------------------------- */

/* The frame as the backend wrote it: eth_type_trans pulled the link header. */
static __always_inline void rx_skb(const struct sk_buff *skb)
{
	struct tf_cap_scratch *s;
	unsigned char *head, *data;
	__u32 zero = 0, q, pulled, wirelen;
	__u16 mac;

	if (!our_dev(skb->dev) || !(cfg_dirs & (1 << TF_CAP_RX)) || cfg_drops_only)
		return;
	q = skb->queue_mapping;
	q = q ? q - 1 : 0;
	if (!want_queue(q))
		return;
	s = bpf_map_lookup_elem(&rx_scratch, &zero);
	if (!s)
		return;
	head = skb->head;
	data = skb->data;
	mac = skb->mac_header;
	pulled = data - (head + mac);
	wirelen = skb->len + pulled;
	if (!copy_filter(s, head + mac, wirelen, wirelen - skb->data_len))
		return;
	emit(s, bpf_ktime_get_ns(), q, TF_CAP_RX, TF_CAP_EV_RECEIVED, 0);
}

SEC("tp_btf/netif_receive_skb_entry")
int BPF_PROG(cap_rx_skb, const struct sk_buff *skb)
{
	rx_skb(skb);
	return 0;
}

SEC("tp_btf/netif_rx_entry")
int BPF_PROG(cap_rx_ni, const struct sk_buff *skb)
{
	rx_skb(skb);
	return 0;
}
