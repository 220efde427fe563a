// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The kprobe/kretprobe rung of capture, for kernels without BTF
 * trampolines. The hooks it shares with the fentry rung come from
 * fn_hooks.bpf.h; only tun_net_xmit's exit is its own, as it finds the skb
 * in the per-CPU note of the entry. Part of bpf/capture.bpf.c;
 * user/capture.c's table lists these programs as TF_BACKEND_KPROBE.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fn_hooks.bpf.h"

CAPTURE_FN_HOOKS(kprobe)

SEC("kretprobe/tun_net_xmit")
int BPF_KRETPROBE(cap_kretprobe_tun_net_xmit, int ret)
{
	struct cap_xmit *x;
	__u32 zero = 0;

	x = bpf_map_lookup_elem(&xmit, &zero);
	if (x && x->skb)
		tx_end(x->skb, ret);
	return 0;
}
