// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fentry/fexit rung of capture: BTF trampolines on tun's functions. The
 * hooks it shares with the kprobe rung come from fn_hooks.bpf.h; only
 * tun_net_xmit's exit is its own, as it sees the skb among its arguments.
 * Part of bpf/capture.bpf.c; user/capture.c's table lists these programs as
 * TF_BACKEND_FENTRY.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fn_hooks.bpf.h"

CAPTURE_FN_HOOKS(fentry)

SEC("fexit/tun_net_xmit")
int BPF_PROG(cap_fexit_tun_net_xmit, struct sk_buff *skb, struct net_device *dev, int ret)
{
	tx_end((__u64)skb, ret);
	return 0;
}
