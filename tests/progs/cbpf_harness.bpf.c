// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A test bed for translated pcap filters (tests/unit/test_cbpf.c): an XDP
 * program that copies the frame into the same scratch the capture programs
 * use and runs the same filter region (bpf/cbpf.bpf.h) on it, so
 * BPF_PROG_TEST_RUN can hold each translated filter against libpcap's own
 * interpreter, frame by frame, under the real verifier.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "tf_capture_shared.h"
#include "cbpf.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tf_cap_scratch);
} scratch SEC(".maps");

SEC("xdp")
int cbpf_harness(struct xdp_md *ctx)
{
	struct tf_cap_scratch *s;
	__u32 zero = 0;
	__u64 len = ctx->data_end - ctx->data;

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return XDP_ABORTED;
	/* [1, TF_CAP_MAX] on the register the helper gets (6.1 needs the 1) */
	asm volatile("if %[n] <= " TF_STR(TF_CAP_MAX) " goto +1\n"
		     "%[n] = " TF_STR(TF_CAP_MAX) "\n"
		     "if %[n] > 0 goto +1\n"
		     "%[n] = 1\n"
		     : [n] "+r"(len));
	if (bpf_xdp_load_bytes(ctx, 0, s->data, len))
		return XDP_ABORTED;
	s->wirelen = len;
	return tf_cbpf_run(s, len) ? XDP_PASS : XDP_DROP;
}
