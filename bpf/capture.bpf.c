// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `tapflow capture`: the packets of one tap, per queue, with why they were
 * dropped and how long they waited in the ring. Three rungs, as tracing has
 * (user space switches one on, the table in user/capture.c says which
 * program belongs to which):
 *
 * BTF tracepoints (every kernel with BTF):
 *   host stack ─dev_queue_xmit─> [net_dev_start_xmit] tun_net_xmit [net_dev_xmit]
 *        matching: noted (skb -> time)    dropped: captured here, with its cause
 *                         tfile[q]->tx_ring ──> tun_put_user
 *        [skb_copy_datagram_iovec]: delivered, captured with its ring wait
 *   DEVMAP ─> tun_xdp_xmit ─> ring    [xdp_devmap_xmit]: fast-path frames, queued
 *   backend ─write()─> tun_get_user ─> [netif_receive_skb_entry/netif_rx_entry]: rx
 *
 * fentry/fexit and kprobe/kretprobe (tun's own functions, nothing else runs them):
 *   tun_net_xmit        entry: noted; exit: dropped ones captured with their cause
 *   tun_xdp_xmit        entry: fast-path frames noted; exit: dropped ones captured
 *   tun_do_read         entry: the entry the backend is about to get (vhost
 *                       hands it in, read() takes the one at consumer_head):
 *                       delivered, skb or fast-path frame, with its ring wait
 *   tun_get_user        entry: what the backend wrote, from its buffers (also
 *                       frames XDP or tun then drop)
 *   tun_sendmsg         vhost-net's batches of xdp_buffs (tun_get_user is not
 *                       called for them): each frame of the batch
 *
 * The programs are loaded per capture, for one tap: every entry point tests
 * the device's ifindex first and its netns second, so other devices pay one
 * load and one compare. Frames are copied (the linear part, up to
 * TF_CAP_MAX) into a per-CPU scratch, the pcap filter (cbpf.bpf.h) runs on
 * that copy, and only matching frames go to the ring buffer. Entry points
 * that run with bottom halves off (transmit, XDP) and those that run in
 * process context (reads, writes) have scratches of their own, so one
 * cannot interrupt the other's copy. A delivered skb needs no filter (it
 * was decided at queue time) and is reserved in the ring buffer directly.
 * A full ring buffer loses the record, never the packet: `missed` counts
 * them.
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
#include "rungs.bpf.h"

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

/*
 * Process context (tun_do_read, tun_get_user, tun_sendmsg on the fentry
 * and kprobe rungs): a backend's buffers come in segments, copied one
 * after another; the spill lets a segment start anywhere below TF_CAP_MAX
 * and still be copied whole-sized, as the verifier wants.
 */
struct proc_scratch {
	struct tf_cap_scratch s;
	__u8 spill[TF_CAP_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_scratch);
} proc_scratch SEC(".maps");

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
 * fentry and BTF-tracepoint programs get typed kernel pointers they may
 * load from directly; kprobes copy every field with a helper. Each entry
 * point passes `direct` as a constant: inlining keeps only its variant.
 */
static __always_inline bool our_dev_rd(const struct net_device *dev, bool direct)
{
	if (!dev || RD(direct, dev, ifindex) != cfg_ifindex)
		return false;
	return (direct ? dev->nd_net.net->ns.inum : tf_dev_netns(dev)) == cfg_netns;
}

static __always_inline bool our_dev(const struct net_device *dev)
{
	return our_dev_rd(dev, true);
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

/* Send the copy in s, its record filled, to the ring buffer, cut at the snaplen. */
static __always_inline void output(struct tf_cap_scratch *s)
{
	__u64 n = s->rec.caplen;

	if (n > cfg_snaplen)
		n = cfg_snaplen;
	n = clamp_len(n);
	s->rec.caplen = n;
	s->rec.missed = missed;
	if (bpf_ringbuf_output(&events, &s->rec, sizeof(s->rec) + n, 0))
		lost();
}

/*
 * Send the copy in s to the ring buffer as one event: every event but a
 * delivery (which has its ring wait) is stamped here.
 */
static __always_inline void emit(struct tf_cap_scratch *s, __u64 ts, __u32 queue, __u8 dir,
				 __u8 event, __u8 cause)
{
	s->rec.ts = ts;
	s->rec.wait_ns = 0;
	s->rec.queue = queue;
	s->rec.dir = dir;
	s->rec.event = event;
	s->rec.cause = cause;
	output(s);
}

/* ---- tx: host -> tap queue ring ----------------------------------------- */

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
	if (!tfile)
		cause = TF_DROP_DETACHED;
	else if (x->full || ring_full(tfile))
		cause = TF_DROP_RING_FULL;
	else if (tun_filters(dev, tfile))
		cause = TF_DROP_FILTER;
	else
		cause = TF_DROP_OTHER;
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

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(cap_start_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	tx_start(skb, dev, true);
	return 0;
}

SEC("tp_btf/net_dev_xmit")
int BPF_PROG(cap_xmit, struct sk_buff *skb, int rc, struct net_device *dev)
{
	/* every device's transmit ends here: ours first, before any lookup */
	if (our_dev(dev))
		tx_end((__u64)skb, rc);
	return 0;
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

/*
 * Tracepoint rung: tun_put_user copies a queued skb to the backend. Most
 * skbs copied to user space with the tap as skb->dev came in from it (a
 * host socket reading them) and never sat in its ring: skb_iif tells.
 */
SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(cap_deliver, const struct sk_buff *skb, int len)
{
	const struct net_device *dev = skb->dev;

	if (!our_dev(dev) || skb->skb_iif == dev->ifindex)
		return 0;
	deliver_skb(skb, true);
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

/* ---- fentry/fexit and kprobe/kretprobe: tun's own functions ------------- */

#define TUN_MSG_PTR	2	/* include/linux/if_tun.h: msg_control is a tun_msg_ctl */
#define TF_SEND_BATCH	64	/* VHOST_NET_BATCH: xdp_buffs per tun_sendmsg at most */
#define TF_RX_SEGS	8	/* iovec segments of one write copied at most */

static __always_inline struct proc_scratch *proc_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&proc_scratch, &zero);
}

/* The bytes of the xdp_frame behind a tagged ring entry. */
static __always_inline void *xdpf_data(__u64 entry, __u32 *len)
{
	struct xdp_frame *xf = (struct xdp_frame *)(entry & ~TUN_XDP_FLAG);

	/* u16 before v6.2, u32 since: the probed-bitfield read sizes it by relocation */
	*len = BPF_CORE_READ_BITFIELD_PROBED(xf, len);
	return BPF_CORE_READ(xf, data);
}

/* tun_xdp_xmit in progress on this CPU (BH off, from the DEVMAP flush). */
struct cap_xdp {
	__u64 frames;		/* struct xdp_frame ** */
	__u64 ts;
	__u32 n;
	__u32 queue;
	__u32 detached;
	__u32 active;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cap_xdp);
} xdp_xmit SEC(".maps");

/*
 * tun_xdp_xmit(dev, n, frames) is about to put n fast-path frames into the
 * ring of queue smp_processor_id() % numqueues. Each is noted before it is
 * produced (a reader on another CPU may take it at once): captured when
 * tun_do_read delivers it, or at the exit if it was dropped.
 */
static __always_inline void xdp_xmit_start(const struct net_device *dev, int n, __u64 frames,
					   bool direct)
{
	struct tun_file *tfile = NULL;
	struct tun_struct *tun;
	struct inflight f;
	struct cap_xdp *x;
	__u32 zero = 0, numq, q = 0;

	if (!(cfg_dirs & (1 << TF_CAP_TX)) || !our_dev_rd(dev, direct))
		return;
	x = bpf_map_lookup_elem(&xdp_xmit, &zero);
	if (!x)
		return;
	x->active = 0;
	tun = tf_netdev_priv(dev);
	numq = BPF_CORE_READ(tun, numqueues);
	if (numq)
		tfile = tun_queue(dev, bpf_get_smp_processor_id() % numq);
	if (tfile)
		q = BPF_CORE_READ(tfile, queue_index);
	if (!want_queue(q))
		return;
	x->active = 1;
	x->frames = frames;
	x->n = n < 0 ? 0 : n > TF_XDP_BULK ? TF_XDP_BULK : n;
	x->ts = bpf_ktime_get_ns();
	x->queue = q;
	x->detached = !tfile;
	if (cfg_drops_only || !tfile)
		return;
	f.ts = x->ts;
	f.queue = q;
	f.pad = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < TF_XDP_BULK; i++) {
		__u64 p = 0;

		if (i >= x->n)
			break;
		bpf_probe_read_kernel(&p, sizeof(p), (void *)(frames + i * sizeof(p)));
		p |= TUN_XDP_FLAG;	/* as the ring holds it */
		if (bpf_map_update_elem(&queued, &p, &f, BPF_ANY))
			lost();
	}
}

/* tun_xdp_xmit returned ret: frames [0, ret) are in the ring, the rest dropped. */
static __always_inline void xdp_xmit_end(long ret)
{
	struct tf_cap_scratch *s;
	struct cap_xdp *x;
	__u32 zero = 0, sent, cause;

	x = bpf_map_lookup_elem(&xdp_xmit, &zero);
	if (!x || !x->active)
		return;
	x->active = 0;
	sent = ret > 0 ? ret : 0;
	if (sent >= x->n)
		return;
	cause = ret < 0 || x->detached ? TF_DROP_DETACHED : TF_DROP_RING_FULL;
	s = bpf_map_lookup_elem(&tx_scratch, &zero);
	if (!s)
		return;
	/* the caller frees the dropped frames after this returns: still readable */
#pragma clang loop unroll(disable)
	for (int i = 0; i < TF_XDP_BULK; i++) {
		__u64 p = 0;
		void *data;
		__u32 len;

		if (i >= x->n)
			break;
		if (i < sent)
			continue;
		bpf_probe_read_kernel(&p, sizeof(p), (void *)(x->frames + i * sizeof(p)));
		p |= TUN_XDP_FLAG;
		if (!cfg_drops_only)
			bpf_map_delete_elem(&queued, &p);
		if (!(cfg_drop_mask & (1u << cause)))
			continue;
		data = xdpf_data(p, &len);
		if (!copy_filter(s, data, len, len))
			continue;
		s->rec.flags |= TF_CAP_F_FASTPATH;
		emit(s, x->ts, x->queue, TF_CAP_TX, TF_CAP_EV_DROPPED, cause);
	}
}

/* A fast-path frame the backend is about to get: filtered now, with its wait. */
static __always_inline void deliver_xdp(__u64 entry)
{
	struct proc_scratch *ps;
	struct inflight *f;
	void *data;
	__u32 len;
	__u64 now;

	f = bpf_map_lookup_elem(&queued, &entry);
	if (!f)
		return;
	ps = proc_scratch_get();
	if (!ps)
		return;
	now = bpf_ktime_get_ns();
	ps->s.rec.ts = f->ts;
	ps->s.rec.wait_ns = now - f->ts;
	ps->s.rec.queue = f->queue;
	bpf_map_delete_elem(&queued, &entry);
	data = xdpf_data(entry, &len);
	if (!copy_filter(&ps->s, data, len, len))
		return;
	ps->s.rec.dir = TF_CAP_TX;
	ps->s.rec.event = TF_CAP_EV_DELIVERED;
	ps->s.rec.cause = 0;
	ps->s.rec.flags |= TF_CAP_F_FASTPATH;
	output(&ps->s);	/* a delivery: its own record, with the wait */
}

/* read() that found its ring empty and sleeps: what it wakes up for is not seen. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} sleepers SEC(".maps");

/*
 * tun_do_read(tun, tfile, to, noblock, ptr) is about to hand the backend
 * one entry: ptr (vhost took a batch out of the ring and hands them in one
 * by one) or, for read(), the one at consumer_head, which it takes now
 * unless the ring is empty. Either is alive until tun_do_read frees it.
 */
static __always_inline void read_start(const struct tun_struct *tun, const struct tun_file *tfile,
				       int noblock, __u64 ptr, bool direct)
{
	if (cfg_drops_only || !(cfg_dirs & (1 << TF_CAP_TX)) || !our_dev_rd(RD(direct, tun, dev), direct))
		return;
	if (!ptr) {
		int head = BPF_CORE_READ(tfile, tx_ring.consumer_head);
		int size = BPF_CORE_READ(tfile, tx_ring.size);
		void **queue = BPF_CORE_READ(tfile, tx_ring.queue);

		if (head < 0 || head >= size || !queue)
			return;
		bpf_probe_read_kernel(&ptr, sizeof(ptr), &queue[head]);
		if (!ptr) {
			__u32 tid = (__u32)bpf_get_current_pid_tgid();
			__u64 one = 1;

			if (!noblock)
				bpf_map_update_elem(&sleepers, &tid, &one, BPF_ANY);
			return;
		}
	}
	if (ptr & TUN_XDP_FLAG)
		deliver_xdp(ptr);
	else
		deliver_skb((const struct sk_buff *)ptr, false);
}

/* A read that slept got something the capture could not see: say so. */
static __always_inline void read_end(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!bpf_map_lookup_elem(&sleepers, &tid))
		return;
	bpf_map_delete_elem(&sleepers, &tid);
	if (ret > 0)
		lost();
}

/* iov_iter's iovec array: `iov` until v6.4 ("iov_iter: rename iov to __iov"). */
struct iov_iter___iov {
	const struct iovec *iov;
} __attribute__((preserve_access_index));

struct iov_iter___uiov {
	const struct iovec *__iov;
} __attribute__((preserve_access_index));

static __always_inline const struct iovec *iter_iov(const struct iov_iter *from)
{
	const struct iovec *iov = NULL;

	if (bpf_core_field_exists(((struct iov_iter___uiov *)from)->__iov))
		bpf_core_read(&iov, sizeof(iov), &((struct iov_iter___uiov *)from)->__iov);
	else
		bpf_core_read(&iov, sizeof(iov), &((struct iov_iter___iov *)from)->iov);
	return iov;
}

/* An offset into the scratch the verifier can bound: at most TF_CAP_MAX. */
static __always_inline __u64 clamp_off(__u64 n)
{
	asm volatile("if %[n] <= " TF_STR(TF_CAP_MAX) " goto +1\n"
		     "%[n] = " TF_STR(TF_CAP_MAX) "\n"
		     : [n] "+r"(n));
	return n;
}

/*
 * Copy up to want bytes the backend wrote, after skip bytes of header, from
 * the user buffers behind `from` (one buffer, ITER_UBUF, or up to
 * TF_RX_SEGS segments of an iovec, as qemu writes a vnet header and the
 * frame) into ps. Returns the bytes copied.
 */
static __always_inline __u32 copy_user(struct proc_scratch *ps, const struct iov_iter *from,
				       __u32 skip, __u32 want)
{
	__u8 type = BPF_CORE_READ(from, iter_type);
	__u64 off = BPF_CORE_READ(from, iov_offset);
	const struct iovec *iov;
	__u64 nr, got = 0;

	if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
	    type == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
		const char *base = BPF_CORE_READ(from, ubuf);
		__u64 n = clamp_len(want);

		if (bpf_probe_read_user(ps->s.data, n, base + off + skip))
			return 0;
		return n;
	}
	if (type != bpf_core_enum_value(enum iter_type, ITER_IOVEC))
		return 0;
	iov = iter_iov(from);
	nr = BPF_CORE_READ(from, nr_segs);
#pragma clang loop unroll(disable)
	for (int i = 0; i < TF_RX_SEGS; i++) {
		struct iovec v = {};
		__u64 len, k, n;
		const char *base;

		if (i >= nr || got >= want)
			break;
		if (bpf_probe_read_kernel(&v, sizeof(v), &iov[i]))
			break;
		base = v.iov_base;
		len = v.iov_len;
		if (!i) {
			k = off < len ? off : len;
			base += k;
			len -= k;
		}
		k = skip < len ? skip : len;
		skip -= k;
		base += k;
		len -= k;
		if (!len)
			continue;
		n = want - got < len ? want - got : len;
		n = clamp_len(n);
		got = clamp_off(got);
		if (bpf_probe_read_user(ps->s.data + got, n, base))
			break;
		got += n;
	}
	return got;
}

/*
 * tun_get_user(tun, tfile, msg_control, from, ...) is about to take a
 * frame the backend wrote (write(), or vhost's one-at-a-time path): it is
 * captured as written, before the tap's XDP program or tun itself decide
 * its fate. Process context: it may sleep later, not here.
 */
static __always_inline void rx_user(const struct tun_struct *tun, const struct tun_file *tfile,
				    const struct iov_iter *from, bool direct)
{
	struct proc_scratch *ps;
	__u32 hdr, q, wirelen, want, got;
	__u64 count;

	if (cfg_drops_only || !(cfg_dirs & (1 << TF_CAP_RX)) || !our_dev_rd(RD(direct, tun, dev), direct))
		return;
	q = RD(direct, tfile, queue_index);
	if (!want_queue(q))
		return;
	hdr = rx_hdr_len(tun, direct);
	count = BPF_CORE_READ(from, count);
	if (count <= hdr)
		return;
	wirelen = count - hdr;
	ps = proc_scratch_get();
	if (!ps)
		return;
	want = wirelen < TF_CAP_MAX ? wirelen : TF_CAP_MAX;
	got = copy_user(ps, from, hdr, want);
	ps->s.rec.wirelen = wirelen;
	ps->s.rec.caplen = got;
	ps->s.rec.flags = got < want ? TF_CAP_F_CUT : 0;
	ps->s.wirelen = wirelen;
	if (cfg_filtered && !tf_cbpf_run(&ps->s, got))
		return;
	emit(&ps->s, bpf_ktime_get_ns(), q, TF_CAP_RX, TF_CAP_EV_RECEIVED, 0);
}

/*
 * tun_sendmsg(sock, m, len): vhost-net's way in. With the tap's default
 * sndbuf it hands a batch of xdp_buffs (m->msg_control: a tun_msg_ctl of
 * type TUN_MSG_PTR) that tun_xdp_one turns into packets (inlined: no symbol
 * to attach to), never calling tun_get_user; each frame of the batch is
 * captured here, data to data_end (the vnet header sits before data).
 * Otherwise tun_sendmsg calls tun_get_user, which captures the frame.
 */
static __always_inline void rx_batch(const struct socket *sock, const struct msghdr *m)
{
	struct tun_file *tfile = (void *)sock - bpf_core_field_offset(struct tun_file, socket);
	struct tun_msg_ctl ctl = {};
	struct proc_scratch *ps;
	struct tun_struct *tun;
	__u32 stride, q, n;
	void *ctlp = NULL;
	__u64 buf, ts;

	if (cfg_drops_only || !(cfg_dirs & (1 << TF_CAP_RX)))
		return;
	if (bpf_core_read(&ctlp, sizeof(ctlp), &m->msg_control) || !ctlp)
		return;
	if (BPF_CORE_READ(m, msg_controllen) != bpf_core_type_size(struct tun_msg_ctl))
		return;
	if (bpf_core_read(&ctl, sizeof(ctl), ctlp) || ctl.type != TUN_MSG_PTR || !ctl.ptr)
		return;
	tun = BPF_CORE_READ(tfile, tun);
	if (!tun || !our_dev_rd(BPF_CORE_READ(tun, dev), false))
		return;
	q = BPF_CORE_READ(tfile, queue_index);
	if (!want_queue(q))
		return;
	ps = proc_scratch_get();
	if (!ps)
		return;
	n = ctl.num;
	stride = bpf_core_type_size(struct xdp_buff);
	buf = (__u64)ctl.ptr + bpf_core_field_offset(struct xdp_buff, data);
	ts = bpf_ktime_get_ns();
#pragma clang loop unroll(disable)
	for (int i = 0; i < TF_SEND_BATCH; i++) {
		void *d[2] = {};	/* data, data_end: adjacent in every kernel */
		__u32 len;

		if (i >= n)
			break;
		bpf_probe_read_kernel(d, sizeof(d), (void *)(buf + (__u64)i * stride));
		if (d[1] <= d[0])
			continue;
		len = d[1] - d[0];
		if (!copy_filter(&ps->s, d[0], len, len))
			continue;
		emit(&ps->s, ts, q, TF_CAP_RX, TF_CAP_EV_RECEIVED, 0);
	}
}

/*
 * The function-hook rungs: each hook's body once, as an fentry/fexit and a
 * kprobe/kretprobe program (rungs.bpf.h).
 */
TF_ENTRY_HOOK(cap_, tun_net_xmit, tx_start(skb, dev, direct),
	      struct sk_buff *skb, struct net_device *dev)

SEC("fexit/tun_net_xmit")
int BPF_PROG(cap_fexit_tun_net_xmit, struct sk_buff *skb, struct net_device *dev, int ret)
{
	tx_end((__u64)skb, ret);
	return 0;
}

SEC("kretprobe/tun_net_xmit")
int BPF_KRETPROBE(cap_kretprobe_tun_net_xmit, int ret)
{
	struct cap_xmit *x;
	__u32 zero = 0;

	x = bpf_map_lookup_elem(&xmit, &zero);
	if (x && x->skb)
		tx_end(x->skb, ret);
	return 0;
}

TF_ENTRY_HOOK_ARG(cap_, tun_xdp_xmit, 2, __u64, frames,
		  xdp_xmit_start(dev, n, frames, direct),
		  struct net_device *dev, int n)

TF_EXIT_HOOK(cap_, tun_xdp_xmit, int, xdp_xmit_end(ret))

TF_ENTRY_HOOK_ARG(cap_, tun_do_read, 4, __u64, ptr,
		  read_start(tun, tfile, noblock, ptr, direct),
		  struct tun_struct *tun, struct tun_file *tfile, struct iov_iter *to, int noblock)

TF_EXIT_HOOK(cap_, tun_do_read, long, read_end(ret))

TF_ENTRY_HOOK(cap_, tun_get_user, rx_user(tun, tfile, from, direct),
	      struct tun_struct *tun, struct tun_file *tfile, void *msg_control,
	      struct iov_iter *from)

TF_ENTRY_HOOK(cap_, tun_sendmsg, rx_batch(sock, m), struct socket *sock, struct msghdr *m)
