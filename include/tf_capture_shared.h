/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What bpf/capture.bpf.c hands user space, defined once. Only __u8..__u64,
 * enums and #defines, so this compiles after vmlinux.h and after
 * <linux/types.h> alike.
 *
 *   events   RINGBUF: struct tf_cap_rec followed by caplen bytes of frame
 *   cap_pe   (bpf/fastpath.bpf.c, per tap) PERF_EVENT_ARRAY: the same
 *            record, for frames the fast path redirected away
 *   scratch  PERCPU_ARRAY[1] -> struct tf_cap_scratch: the filter's copy
 *
 * The filter region: user/cbpf.c translates libpcap's classic BPF into eBPF
 * and writes it over TF_CBPF_REGION instructions that capture.bpf.c leaves
 * in each program (bpf/cbpf.bpf.h), before the object is loaded. On entry
 * r1 points to the frame's first byte in the scratch copy, r2 holds the
 * bytes copied, r3 points to the scratch (M[] and the wire length); the
 * translated code keeps A in w4 and X in w5, uses r0 as a temporary and
 * leaves its verdict (0: reject) in r0, jumping to the end of the region.
 */
#ifndef TF_CAPTURE_SHARED_H
#define TF_CAPTURE_SHARED_H

#define TF_CAP_MAX		2048	/* bytes a packet is copied (and filtered) on */
#define TF_CBPF_REGION		1024	/* eBPF instructions a filter may take */
#define TF_CBPF_MARK		0x7cafe11	/* first placeholder instruction's imm */
#define TF_CBPF_FILL		0x7cafe12	/* the other placeholders' imm */
#define TF_CBPF_MEMWORDS	16	/* classic BPF's M[] */
#define TF_CBPF_WIRELEN_OFF	(TF_CBPF_MEMWORDS * 4)	/* scratch offset of the wire length */
#define TF_CAP_QWORDS		8	/* queue bitmap words: 256 queues */

/* One classic BPF instruction, laid out as libpcap's and the kernel's. */
struct tf_cbpf_insn {
	__u16 code;
	__u8 jt;
	__u8 jf;
	__u32 k;
};

enum tf_cap_dir {
	TF_CAP_TX = 0,		/* host -> tap queue ring -> backend (outbound) */
	TF_CAP_RX = 1,		/* backend -> tap -> host (inbound) */
};

enum tf_cap_event {
	TF_CAP_EV_DELIVERED = 0,	/* tx: the backend read it; wait_ns is its ring wait */
	TF_CAP_EV_QUEUED,		/* tx: queued; no reader seen on this rung */
	TF_CAP_EV_DROPPED,		/* tx: tun_net_xmit dropped it; cause says why */
	TF_CAP_EV_RECEIVED,		/* rx: the backend wrote it */
};

#define TF_CAP_F_CUT		0x1	/* data not linear: cut at the linear part */
#define TF_CAP_F_NODATA		0x2	/* bytes gone before they could be copied */
#define TF_CAP_F_FASTPATH	0x4	/* an XDP frame the fast path redirected into the ring */
#define TF_CAP_F_AWAY		0x8	/* written by the backend, redirected away by the fast
					 * path (bpf/fastpath.bpf.c); away says where */

enum tf_cap_away {
	TF_CAP_AWAY_TAP = 1,		/* into another tap (DEVMAP, tun_xdp_xmit) */
	TF_CAP_AWAY_UPLINK,		/* out of an uplink */
	TF_CAP_AWAY_XSK,		/* to an AF_XDP socket */
};

/*
 * bpf/fastpath.bpf.c's cap_on[port slot]: whether a capture of that port
 * asks for the frames the fast path redirects away from it. One program
 * serves every port of a namespace, so the request is per port; the pid
 * says whose it is (a capture killed with -9 leaves its entry, which the
 * next capture sees is nobody's).
 */
struct tf_fp_cap {
	__u32 snaplen;		/* 0: not asked */
	__u32 pid;		/* the capture's process */
};

struct tf_cap_rec {
	__u64 ts;		/* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
	__u64 wait_ns;		/* ring wait, EV_DELIVERED only */
	__u64 missed;		/* records lost to a full ring buffer so far */
	__u32 wirelen;
	__u32 caplen;
	__u16 queue;
	__u8 dir;		/* enum tf_cap_dir */
	__u8 event;		/* enum tf_cap_event */
	__u8 cause;		/* enum tf_drop_cause (tf_trace_shared.h), EV_DROPPED */
	__u8 flags;		/* TF_CAP_F_* */
	__u8 away;		/* enum tf_cap_away, with TF_CAP_F_AWAY */
	__u8 pad;
};

struct tf_cap_scratch {
	__u32 mem[TF_CBPF_MEMWORDS];
	__u32 wirelen;
	__u32 pad;
	struct tf_cap_rec rec;	/* so rec and data go out in one ringbuf output */
	__u8 data[TF_CAP_MAX];
};

#endif
