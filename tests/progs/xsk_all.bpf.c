// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test XDP program for the AF_XDP socket layer: every frame a tap's backend
 * writes goes to the XSKMAP slot of the queue it arrived on (key =
 * rx_queue_index), or, with `drop` set, is dropped: the XDP_DROP floor of
 * the AF_XDP benchmark. No rules, no counters: the fast path program is the
 * real thing; this one lets tests/tf-xsk.c exercise tf_xsk_* without it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 drop = 0;

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

SEC("xdp")
int xsk_all(struct xdp_md *ctx)
{
	if (drop)
		return XDP_DROP;
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
