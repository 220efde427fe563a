/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What every rung of capture captures with: the capture's settings (read-only
 * constants user space sets before load), the ring buffer and the per-CPU
 * scratches a frame is copied into, whether a device and a queue are the
 * captured ones, and the copy, the pcap filter's run (cbpf.bpf.h) and the
 * record sent to user space. Part of bpf/capture.bpf.c.
 */
#ifndef TF_CAPTURE_COPY_BPF_H
#define TF_CAPTURE_COPY_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "tf_trace_shared.h"
#include "tf_capture_shared.h"
#include "core_fixes.bpf.h"
#include "cbpf.bpf.h"
#include "rungs.bpf.h"

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

#endif
