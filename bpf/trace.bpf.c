// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Per-queue tracing of taps: what each queue carried, what it dropped and
 * why, how full its ring was, and how long packets waited in it before the
 * backend read them.
 *
 *   host stack ──dev_queue_xmit──> tun_net_xmit ──ptr_ring_produce──┐   (tx)
 *                                                  tfile[q]->tx_ring │
 *   backend <──read()── tun_do_read <──ptr_ring_consume──────────────┘
 *   backend ──write()──> tun_get_user ──> netif_receive_skb ──> host    (rx)
 *
 * Three attach backends share one body; user space autoloads one set after
 * probing (the table in user space lists which program belongs to which):
 *
 *   fentry/fexit, kprobe/kretprobe: tun's own functions only, tun_net_xmit,
 *     tun_get_user, tun_xdp_xmit, tun_do_read and __tun_detach. Traffic of
 *     other devices runs none of these programs; an untraced tap pays one
 *     early exit per hook.
 *   BTF tracepoints: net_dev_start_xmit/net_dev_xmit (every device's
 *     transmit), skb_copy_datagram_iovec (every copy of a datagram to user
 *     space: tun's reads, socket receives; never forwarding) and
 *     xdp_devmap_xmit (DEVMAP flushes). Rx is a tcx ingress program on each
 *     traced tap where the kernel has tcx (v6.6+), so frames of other
 *     devices, and of untraced taps, run nothing on the way in; before
 *     that, the global netif_receive_skb_entry/netif_rx_entry.
 *
 * No rung hooks kfree_skb or consume_skb: they run for every skb the host
 * frees. The cause of a tx drop comes from what tun_net_xmit tests, read
 * at its start and end: no queue (detached), the ring slot at the producer
 * index taken (ring full), else a filter if the tap has one, else other.
 *
 * Ring wait needs no shared hash: the ring numbers its slots. When a packet
 * is about to be queued, its slot is the ring's producer index; when the
 * backend takes it out, its slot is consumer_head - 1 (read(): one entry a
 * call), or one of the entries just before it (vhost takes a batch and hands
 * them in one by one: found by pointer). The in-flight record (packet
 * pointer, time) lives in a per-tap array indexed by (queue, slot): written
 * by the transmitting CPU, cleared by the reading CPU, never allocated or
 * freed per packet, and bounded by the ring's own size.
 *
 * XDP frames redirected into a tap (the fast path: DEVMAP -> tun_xdp_xmit)
 * enter the same ring as skbs, tagged with bit 0, and leave it through
 * tun_do_read without any skb. fentry/kprobe on tun_xdp_xmit count them and
 * put their records in the ring the same way; tun_do_read's exit takes the
 * record of the entry it read, frame or skb. The tracepoint rung has only
 * xdp:xdp_devmap_xmit, after the fact: it counts them (and their bytes, from
 * the ring) but cannot see them leave, so they give no ring-wait sample.
 *
 * One object, one skeleton (user/trace_load.c's table picks a rung's
 * programs out of it), one translation unit made of the parts in
 * bpf/trace/, a file per job:
 *
 *   maps.bpf.h      the maps, the traced-tap lookup, the counter rows
 *   ring.bpf.h      ring records, the ring's fill and a drop's cause, the
 *                   transmit's start and end, the take of a read entry
 *                   (vhost's batch searched), fast-path frames' accounting
 *   fn_hooks.bpf.h  what the fentry and kprobe rungs run, written once
 *   fentry.bpf.c    the fentry/fexit rung's programs
 *   kprobe.bpf.c    the kprobe/kretprobe rung's programs
 *   tp.bpf.c        the BTF tracepoint and tcx rung's programs
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "trace/fentry.bpf.c"
#include "trace/kprobe.bpf.c"
#include "trace/tp.bpf.c"
