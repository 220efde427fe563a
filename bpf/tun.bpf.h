/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tun driver's own structures as tapflow's tracing programs read them
 * (drivers/net/tun.c): a tap's queues are tun->tfiles[], one struct
 * tun_file each, behind the net_device. Shared by trace.bpf.c and
 * capture.bpf.c, which both go from a device and a queue number to the
 * queue's ring, count the header the backend writes before each frame,
 * say why tun_net_xmit dropped a packet and read vhost-net's batches of
 * writes. Include after vmlinux.h.
 */
#ifndef TF_TUN_BPF_H
#define TF_TUN_BPF_H

#include <bpf/bpf_core_read.h>

#include "tf_limits.h"
#include "tf_trace_shared.h"
#include "core_fixes.bpf.h"
#include "rungs.bpf.h"

/* Queue q of a tun device, or NULL past the driver's MAX_TAP_QUEUES. */
static __always_inline struct tun_file *tun_queue(const struct net_device *dev, __u32 q)
{
	struct tun_struct *tun = tf_netdev_priv(dev);
	struct tun_file *tfile = NULL;

	if (q >= TF_MAX_QUEUES)
		return NULL;
	bpf_core_read(&tfile, sizeof(tfile), &tun->tfiles[q]);
	return tfile;
}

/* Bytes of vnet header (and packet info) in front of each frame the backend writes. */
static __always_inline __u32 rx_hdr_len(const struct tun_struct *tun, bool direct)
{
	__u32 flags = RD(direct, tun, flags);
	__u32 n = 0;

	if (flags & 0x4000 /* IFF_VNET_HDR */)
		n += RD(direct, tun, vnet_hdr_sz);
	if (!(flags & 0x1000 /* IFF_NO_PI */))
		n += 4;	/* struct tun_pi */
	return n;
}

/* tun_net_xmit's filters, which it runs in this order: TAP_TXFILTER, SOCKET_FILTER, TAP_FILTER. */
static __always_inline bool tun_filters(const struct net_device *dev, const struct tun_file *tfile)
{
	const struct tun_struct *tun = tf_netdev_priv(dev);

	return BPF_CORE_READ(tun, txflt.count) || BPF_CORE_READ(tfile, sk.sk_filter) ||
	       BPF_CORE_READ(tun, filter_prog);
}

/*
 * Why tun_net_xmit dropped a packet, from what it tests, in its order:
 * the queue (tfiles[q] NULL: DEV_READY), the filters (TAP_TXFILTER,
 * SOCKET_FILTER, TAP_FILTER) and the ring (FULL_RING). full: the caller
 * saw the queue's ring full, at the call's start or its end; the ring only
 * gets emptier while its consumer reads, so a ring full at produce time is
 * seen full at one of them unless the reader freed a batch of slots in
 * between. A drop while the ring is full counts as ring_full even if a
 * filter made it.
 */
static __always_inline __u32 tun_drop_cause(const struct net_device *dev,
					    const struct tun_file *tfile, bool full)
{
	if (!tfile)
		return TF_DROP_DETACHED;
	if (full)
		return TF_DROP_RING_FULL;
	if (tun_filters(dev, tfile))
		return TF_DROP_FILTER;
	return TF_DROP_OTHER;	/* out of memory (pskb_trim), zerocopy frags */
}

#define TUN_MSG_PTR	2	/* include/linux/if_tun.h: msg_control is a tun_msg_ctl */
#define TF_SEND_BATCH	64	/* VHOST_NET_BATCH: xdp_buffs per tun_sendmsg at most */

/*
 * tun_sendmsg(sock, m, len) is vhost-net's way in. With the tap's default
 * sndbuf it hands a batch of xdp_buffs (m->msg_control: a tun_msg_ctl of
 * type TUN_MSG_PTR) that tun_xdp_one turns into packets (inlined on common
 * kernels: no symbol to attach to), never calling tun_get_user; otherwise
 * tun_sendmsg calls tun_get_user, whose own hooks see the frame. The
 * queue's tun_file when m is a batch (ctl read), else NULL.
 */
static __always_inline struct tun_file *tun_batch(const struct socket *sock,
						  const struct msghdr *m, struct tun_msg_ctl *ctl)
{
	void *ctlp = NULL;

	if (bpf_core_read(&ctlp, sizeof(ctlp), &m->msg_control) || !ctlp)
		return NULL;
	if (BPF_CORE_READ(m, msg_controllen) != bpf_core_type_size(struct tun_msg_ctl))
		return NULL;
	if (bpf_core_read(ctl, sizeof(*ctl), ctlp) || ctl->type != TUN_MSG_PTR || !ctl->ptr)
		return NULL;
	return (void *)sock - bpf_core_field_offset(struct tun_file, socket);
}

/*
 * Frame i (< ctl->num) of a batch: where its bytes start, and in *len how
 * many there are (data to data_end: the vnet header sits before data); 0
 * when it has none or cannot be read.
 */
static __always_inline void *tun_batch_frame(const struct tun_msg_ctl *ctl, __u32 i, __u64 *len)
{
	void *d[2] = {};	/* data, data_end: adjacent in every kernel */
	__u64 buf = (__u64)ctl->ptr + bpf_core_field_offset(struct xdp_buff, data);

	bpf_probe_read_kernel(d, sizeof(d), (void *)(buf + (__u64)i * bpf_core_type_size(struct xdp_buff)));
	*len = d[1] > d[0] ? d[1] - d[0] : 0;
	return d[0];
}

#endif
