// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test XDP program that shares a tap with the fast path: it counts every
 * frame it sees (packets and bytes, per CPU) and passes it on. Attached
 * through libxdp's multi-program dispatcher with a run priority below the
 * fast path's (libxdp's default, 50), it runs first; XDP_PASS is a chain-call
 * action, so the dispatcher then runs the fast path, whose redirect ends the
 * chain. A count equal to what the backend wrote therefore proves both
 * programs ran, in that order. tests/tf-xdp-tally.c attaches and reads it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "xdp_tally.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_tally_count);
} tally SEC(".maps");

SEC("xdp")
int xdp_tally(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct xdp_tally_count *t = bpf_map_lookup_elem(&tally, &zero);

	if (t) {
		t->packets++;
		t->bytes += ctx->data_end - ctx->data;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
