// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The floor of tracing's cost, for the benchmark (scripts/bench-trace.sh
 * through tests/tf-empty-trace): programs that do nothing, of the same
 * types and on the same attach points as tapflow's tracing rungs. What
 * they add to a packet is what the hooks cost; tapflow's distance from
 * them is what its bodies cost.
 *
 *   tracepoint rung: tp_btf net_dev_start_xmit, net_dev_xmit,
 *     skb_copy_datagram_iovec, xdp_devmap_xmit, and tc (tcx ingress of each
 *     traced tap)
 *   the hook set tracing used before (for comparison): tp_btf
 *     netif_receive_skb_entry, netif_rx_entry, net_dev_start_xmit,
 *     net_dev_xmit, kfree_skb, consume_skb, xdp_devmap_xmit
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(e_start_xmit) { return 0; }

SEC("tp_btf/net_dev_xmit")
int BPF_PROG(e_xmit) { return 0; }

SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(e_copy_datagram) { return 0; }

SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(e_devmap_xmit) { return 0; }

SEC("tc")
int e_tc_rx(struct __sk_buff *ctx) { return TCX_NEXT; }

SEC("tp_btf/netif_receive_skb_entry")
int BPF_PROG(o_receive_skb) { return 0; }

SEC("tp_btf/netif_rx_entry")
int BPF_PROG(o_netif_rx) { return 0; }

SEC("tp_btf/kfree_skb")
int BPF_PROG(o_kfree_skb) { return 0; }

SEC("tp_btf/consume_skb")
int BPF_PROG(o_consume_skb) { return 0; }
