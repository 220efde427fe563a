/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Structures shared by bpf/trace.bpf.c and user space, defined once. Only
 * __u8..__u64, enums and #defines, so this compiles after vmlinux.h and
 * after <linux/types.h> alike.
 *
 * Layout of what tracing keeps (pinned under /sys/fs/bpf/tapflow/trace/),
 * version 3: counter rows are handed out per queue, not per slot, so a tap
 * costs the queues it has, not TF_MAX_QUEUES of them.
 *   traced   HASH  {netns, ifindex} -> struct tf_traced   which taps, which slot
 *   slot_rows ARRAY [slot] -> struct tf_rows     the tap's run of rows: queue q
 *            (q < rows) counts in row base + q; user space hands runs out,
 *            and keeps a frozen run of what counted before the last move
 *   qcount   PERCPU_ARRAY [row] -> struct tf_qcount   rows 0..TF_TRACE_MAX_TAPS-1
 *            are each slot's spill row (see qextra), queue runs come after
 *   hists    ARRAY [row] -> struct tf_qhist          the same rows
 *   qextra   PERCPU_HASH {slot, queue} -> struct tf_qcount  a queue beyond its
 *            tap's rows, added by BPF on its first packet; when full, the
 *            packet counts in the slot's spill row (qcount[slot]): a count
 *            with no queue, never lost
 *   hextra   HASH {slot, queue} -> struct tf_qhist   the same for histograms
 *   rings    ARRAY_OF_MAPS [slot] -> ARRAY [queue * ring_size + ring slot]
 *                                     -> struct tf_ring_rec (in-flight packets)
 *   meta     ARRAY [0] -> struct tf_trace_meta          backend, version
 */
#ifndef TF_TRACE_SHARED_H
#define TF_TRACE_SHARED_H

#include "tf_limits.h"

#define TF_TRACE_MAX_TAPS	4096	/* slots; the traced map's size */
#define TF_TRACE_ROWS		8192	/* queue rows (qcount, hists) by default; TAPFLOW_TRACE_ROWS at load */
#define TF_TRACE_EXTRA		1024	/* qextra/hextra entries by default; TAPFLOW_TRACE_EXTRA at load */
#define TF_HIST_SLOTS		40	/* log2 buckets: [2^k, 2^(k+1)), 0 in bucket 0 */
#define TF_OCC_SLOTS		24	/* log2 of ring occupancy (entries) */
#define TF_RING_MAX		65536	/* ring records per queue, at most */
#define TF_TRACE_LAYOUT		3	/* tf_trace_meta.version: bumped when a value changes size */
#define TF_XDP_BULK		16	/* frames per tun_xdp_xmit call we account one by one */

enum tf_backend {
	TF_BACKEND_FENTRY = 1,
	TF_BACKEND_KPROBE = 2,
	TF_BACKEND_TRACEPOINT = 3,
};

/* Why tun_net_xmit dropped a packet (from the skb drop reason). */
enum tf_drop_cause {
	TF_DROP_RING_FULL = 0,	/* SKB_DROP_REASON_FULL_RING: the backend is not reading */
	TF_DROP_FILTER,		/* TAP_TXFILTER, SOCKET_FILTER, TAP_FILTER */
	TF_DROP_DETACHED,	/* DEV_READY: queue disabled or detached */
	TF_DROP_OTHER,
	TF_DROP__MAX,
};

struct tf_traced_key {
	__u32 netns;		/* inode number of the tap's network namespace */
	__u32 ifindex;
};

struct tf_traced {
	__u32 slot;		/* index into slot_rows/rings; its spill row */
	__u32 ring_size;	/* records per queue in rings[slot] (power of 2) */
	__u32 ring_queues;	/* queues with ring records */
	__u32 queues_seen;	/* 1 + the highest queue index seen (BPF keeps it) */
	__u64 since_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns) at start */
	char name[16];
};

struct tf_rows {
	__u32 base;		/* first row of the run (>= TF_TRACE_MAX_TAPS) */
	__u32 rows;		/* queues 0..rows-1 count in rows base..base+rows-1 */
	/*
	 * What the tap counted before its run last moved, frozen: queue q
	 * (q < carry_rows) adds row carry_base + q. User space's alone: the
	 * programs never read or write it (user space cannot add into a live
	 * per-CPU row without racing the programs' increments).
	 */
	__u32 carry_base;
	__u32 carry_rows;
};

/* A queue beyond its tap's run of rows (qextra, hextra). */
struct tf_qkey {
	__u32 slot;
	__u32 queue;
};

struct tf_qcount {
	__u64 tx_packets;	/* queued into the ring by tun_net_xmit */
	__u64 tx_bytes;
	__u64 tx_drops[TF_DROP__MAX];
	__u64 rx_packets;	/* written by the backend (tun_get_user) */
	__u64 rx_bytes;
	__u64 rx_drops;		/* tun_get_user refused the frame */
	__u64 ring_wait_untracked; /* queued with no in-flight record: no ring-wait sample */
	__u64 tx_xdp_packets;	/* of tx_packets, XDP frames redirected in (tun_xdp_xmit) */
};

struct tf_qhist {
	__u64 ring_wait_ns[TF_HIST_SLOTS];
	__u64 ring_wait_sum_ns;
	__u64 rx_ns[TF_HIST_SLOTS];
	__u64 rx_sum_ns;
	__u64 occupancy[TF_OCC_SLOTS];	/* ring entries ahead of a queued packet */
	__u64 occupancy_sum;
};

struct tf_ring_rec {
	__u64 pkt;		/* the skb (or xdp_frame | 1, as tun tags it) queued in this slot */
	__u64 ts;		/* when tun_net_xmit (tun_xdp_xmit) queued it */
};

struct tf_trace_meta {
	__u32 backend;		/* enum tf_backend */
	__u32 version;
	__u32 rx_ns;		/* 1: this backend measures rx_ns and rx_drops */
	__u32 flags;		/* TF_META_* */
};

#define TF_META_RX_TCX	1	/* tracepoint rung: rx on a tcx link per traced tap */

#endif
