/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tun driver's own structures as tapflow's tracing programs read them
 * (drivers/net/tun.c): a tap's queues are tun->tfiles[], one struct
 * tun_file each, behind the net_device. Shared by trace.bpf.c and
 * capture.bpf.c, which both go from a device and a queue number to the
 * queue's ring, and count the header the backend writes before each
 * frame. Include after vmlinux.h.
 */
#ifndef TF_TUN_BPF_H
#define TF_TUN_BPF_H

#include <bpf/bpf_core_read.h>

#include "tf_limits.h"
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

#endif
