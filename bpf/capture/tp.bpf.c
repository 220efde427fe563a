// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The tracepoint rung of capture, on every kernel with BTF: the transmit
 * (net_dev_start_xmit, net_dev_xmit), the copy of a queued skb to the
 * backend (skb_copy_datagram_iovec), fast-path frames after DEVMAP queued
 * them (xdp_devmap_xmit), and rx as frames enter the stack. Part of
 * bpf/capture.bpf.c; user/capture.c's table lists these programs as
 * TF_BACKEND_TRACEPOINT.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "copy.bpf.h"
#include "tx.bpf.h"

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
