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
 *
 * One object, one skeleton (user/capture.c's table picks a rung's programs
 * out of it), one translation unit made of the parts in bpf/capture/, a
 * file per job:
 *
 *   copy.bpf.h      the settings, ring buffer and scratches; the copy, the
 *                   filter's run and the record
 *   tx.bpf.h        tun_net_xmit's start and end, a queued skb's delivery
 *   fn_hooks.bpf.h  what the fentry and kprobe rungs run, written once
 *   fentry.bpf.c    the fentry/fexit rung's programs
 *   kprobe.bpf.c    the kprobe/kretprobe rung's programs
 *   tp.bpf.c        the BTF tracepoint rung's programs
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "capture/fentry.bpf.c"
#include "capture/kprobe.bpf.c"
#include "capture/tp.bpf.c"
