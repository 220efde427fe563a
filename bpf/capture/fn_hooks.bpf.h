/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What capture's two function-hook rungs (fentry/fexit and kprobe/kretprobe)
 * run in tun's own functions, written once: fast-path frames entering the
 * ring (tun_xdp_xmit), the entry a read hands the backend (tun_do_read), the
 * backend's writes copied from its buffers (tun_get_user) and vhost-net's
 * batches (tun_sendmsg). CAPTURE_FN_HOOKS(rung) lists the hooks both rungs
 * make with one body (rungs.bpf.h); fentry.bpf.c and kprobe.bpf.c
 * instantiate it. Part of bpf/capture.bpf.c.
 */
#ifndef TF_CAPTURE_FN_HOOKS_BPF_H
#define TF_CAPTURE_FN_HOOKS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tun.bpf.h"
#include "rungs.bpf.h"
#include "copy.bpf.h"
#include "tx.bpf.h"

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
 * tun_sendmsg(sock, m, len): vhost-net's batches of xdp_buffs (tun_batch);
 * each frame of one is captured here, data to data_end. A frame that
 * tun_sendmsg hands to tun_get_user is captured there.
 */
static __always_inline void rx_batch(const struct socket *sock, const struct msghdr *m)
{
	struct tun_msg_ctl ctl = {};
	struct proc_scratch *ps;
	struct tun_file *tfile;
	struct tun_struct *tun;
	__u32 q, n;
	__u64 ts;

	if (cfg_drops_only || !(cfg_dirs & (1 << TF_CAP_RX)))
		return;
	tfile = tun_batch(sock, m, &ctl);
	if (!tfile)
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
	ts = bpf_ktime_get_ns();
#pragma clang loop unroll(disable)
	for (int i = 0; i < TF_SEND_BATCH; i++) {
		__u64 len;
		void *data;

		if (i >= n)
			break;
		data = tun_batch_frame(&ctl, i, &len);
		if (!len || !copy_filter(&ps->s, data, len, len))
			continue;
		emit(&ps->s, ts, q, TF_CAP_RX, TF_CAP_EV_RECEIVED, 0);
	}
}

/* The hooks made with one body on both rungs: rung is fentry or kprobe. */
#define CAPTURE_FN_HOOKS(rung)							\
TF_ENTRY_HOOK(rung, cap_, tun_net_xmit, tx_start(skb, dev, direct),		\
	      struct sk_buff *skb, struct net_device *dev)			\
										\
TF_ENTRY_HOOK_ARG(rung, cap_, tun_xdp_xmit, 2, __u64, frames,			\
		  xdp_xmit_start(dev, n, frames, direct),			\
		  struct net_device *dev, int n)				\
										\
TF_EXIT_HOOK(rung, cap_, tun_xdp_xmit, int, xdp_xmit_end(ret))			\
										\
TF_ENTRY_HOOK_ARG(rung, cap_, tun_do_read, 4, __u64, ptr,			\
		  read_start(tun, tfile, noblock, ptr, direct),			\
		  struct tun_struct *tun, struct tun_file *tfile, struct iov_iter *to, int noblock) \
										\
TF_EXIT_HOOK(rung, cap_, tun_do_read, long, read_end(ret))			\
										\
TF_ENTRY_HOOK(rung, cap_, tun_get_user, rx_user(tun, tfile, from, direct),	\
	      struct tun_struct *tun, struct tun_file *tfile, void *msg_control,	\
	      struct iov_iter *from)						\
										\
TF_ENTRY_HOOK(rung, cap_, tun_sendmsg, rx_batch(sock, m), struct socket *sock, struct msghdr *m)

#endif
