// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The last rung of tracing, on every kernel with BTF: tracepoints that run
 * for every device (the transmit, the copy of a datagram to user space,
 * DEVMAP flushes), and rx in a tcx program on each traced tap where the
 * kernel has tcx, the global rx tracepoints where not. Part of
 * bpf/trace.bpf.c; user/trace_load.c's table lists these programs as
 * TF_BACKEND_TRACEPOINT.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "maps.bpf.h"
#include "ring.bpf.h"

/*
 * Tracepoint rung: an skb is being copied to user space. If it is a traced
 * tap's, tun_put_user is delivering it to the backend.
 */
static __always_inline void deliver_skb(const struct sk_buff *skb)
{
	/* Only BTF tracepoints call this: direct loads. */
	const struct net_device *dev = skb->dev;
	struct tf_traced *t;
	struct tun_file *tfile;
	__u32 q;

	if (!dev)
		return;
	/*
	 * Most skbs copied to user space with a tap as skb->dev came in from
	 * that tap (a socket on the host read them): they never sat in its
	 * ring. Ring skbs were made locally (skb_iif 0) or forwarded from
	 * another device. Two loads spare socket receives the lookups below.
	 */
	if (skb->skb_iif == dev->ifindex)
		return;
	t = lookup_dev(dev, true);
	if (!t)
		return;
	q = skb->queue_mapping;
	tfile = tf_tun_queue(dev, q);
	if (!tfile)
		return;
	ring_take(t, tfile, q, (__u64)skb, true);
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(tp_net_dev_start_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	tx_start(skb, dev, true);
	return 0;
}

SEC("tp_btf/net_dev_xmit")
int BPF_PROG(tp_net_dev_xmit, struct sk_buff *skb, int rc)
{
	tx_end((__u64)skb, rc);
	return 0;
}

SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(tp_skb_copy_datagram_iovec, const struct sk_buff *skb, int len)
{
	deliver_skb(skb);
	return 0;
}

/*
 * No tracepoint brackets tun_get_user, so this rung counts frames as they
 * enter the stack (tun records the queue with skb_record_rx_queue) and does
 * not measure rx time or rx drops; frames an XDP program consumed never
 * get here.
 */
static __always_inline void rx_skb(const struct sk_buff *skb, __u32 extra)
{
	const struct net_device *dev = skb->dev;	/* BTF pointers only: direct */
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(dev, true, &key);
	struct tf_qcount *c;
	__u16 q, mac;
	unsigned char *head, *data;

	if (!t)
		return;
	q = skb->queue_mapping;
	q = q ? q - 1 : 0;
	saw_queue(t, &key, q);
	c = qcount_of(t->slot, q);
	if (!c)
		return;
	/* eth_type_trans has pulled the link header: count the whole frame. */
	head = skb->head;
	data = skb->data;
	mac = skb->mac_header;
	c->rx_packets++;
	c->rx_bytes += skb->len + (data - (head + mac)) + extra;
}

/*
 * Where the kernel has tcx (v6.6+), user space attaches this to each traced
 * tap's ingress instead of the two global tracepoints below: frames of
 * every other device run nothing. It sees what netif_receive_skb_entry
 * sees, after a VLAN tag was moved out of the frame (put back in the
 * count). bpf_cast_to_kern_ctx (v6.3) reads the device's netns.
 */
extern void *bpf_cast_to_kern_ctx(void *) __ksym __weak;

SEC("tc")
int tc_rx(struct __sk_buff *ctx)
{
	const struct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);

	rx_skb(skb, ctx->vlan_present ? 4 : 0);
	return TCX_NEXT;
}

SEC("tp_btf/netif_receive_skb_entry")
int BPF_PROG(tp_netif_receive_skb_entry, const struct sk_buff *skb)
{
	rx_skb(skb, 0);
	return 0;
}

SEC("tp_btf/netif_rx_entry")
int BPF_PROG(tp_netif_rx_entry, const struct sk_buff *skb)
{
	rx_skb(skb, 0);
	return 0;
}

/*
 * XDP frames redirected into a tap, after tun_xdp_xmit returned (sent queued,
 * drops not). This rung sees no tun_do_read: the frames are counted, their
 * bytes read from the ring slots they took (one a fast reader already took
 * may be gone: counted without bytes), and they give no ring-wait sample.
 */
SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(tp_xdp_devmap_xmit, const struct net_device *from_dev,
	     const struct net_device *to_dev, int sent, int drops, int err)
{
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(to_dev, true, &key);
	struct tun_file *tfile;
	__u32 q = 0, queue = 0, occ = 0;
	struct ring_view r;
	__u64 bytes = 0;

	if (!t)
		return 0;
	tfile = xdp_queue(to_dev, &q);
	if (tfile) {
		queue = TFILE(tfile, queue_index);
		saw_queue(t, &key, queue);
		if (sent > 0 && ring_view(tfile, &r)) {
			int o = r.occ - sent;

			/*
			 * A reader (vhost above all, which takes 64 at once)
			 * may have drained the ring since: fewer entries
			 * than were just sent. What was ahead of the first
			 * is then unknown but small: 0, never a wrap to
			 * nearly the ring's size.
			 */
			occ = o < 0 ? 0 : o;
			for (int i = 0; i < TF_XDP_BULK; i++) {
				__u64 cur = 0;
				int pos = r.prod - sent + i;

				if (i >= sent)
					break;
				if (pos < 0)
					pos += r.size;
				cur = (__u64)load_ptr(&r.queue[pos]);
				if (cur & TUN_XDP_FLAG)
					bytes += frame_len(cur);
			}
		}
	}
	xdp_account(t->slot, queue, sent > 0 ? sent : 0, bytes, drops > 0 ? drops : 0,
		    !tfile || err == -6 /* -ENXIO */ ? TF_DROP_DETACHED : TF_DROP_RING_FULL,
		    sent > 0 ? sent : 0, occ);
	return 0;
}
