// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fentry/fexit rung of tracing: BTF trampolines on tun's functions,
 * typed arguments read with plain loads. The hooks it shares with the
 * kprobe rung come from fn_hooks.bpf.h; the ones here see what kprobes
 * cannot (the arguments at the exit) or keep their state where a kprobe
 * cannot (task storage). Part of bpf/trace.bpf.c; user/trace_load.c's
 * table lists these programs as TF_BACKEND_FENTRY.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fn_hooks.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rx_state);
} rx_task SEC(".maps");

TRACE_FN_HOOKS(fentry)

SEC("fexit/tun_net_xmit")
int BPF_PROG(fexit_tun_net_xmit, struct sk_buff *skb, struct net_device *dev, int ret)
{
	tx_end((__u64)skb, ret);
	return 0;
}

/* The untraced tap's price is the lookup: no task storage is made for it. */
SEC("fentry/tun_get_user")
int BPF_PROG(fentry_tun_get_user, struct tun_struct *tun, struct tun_file *tfile)
{
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(tun->dev, true, &key);
	struct rx_state *s;

	if (!t)
		return 0;
	s = bpf_task_storage_get(&rx_task, bpf_get_current_task_btf(), NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s)
		rx_begin(s, t, &key, tun, tfile, true);
	return 0;
}

SEC("fexit/tun_get_user")
int BPF_PROG(fexit_tun_get_user, struct tun_struct *tun, struct tun_file *tfile,
	     void *msg_control, struct iov_iter *from, int noblock, bool more, long ret)
{
	struct rx_state *s;

	s = bpf_task_storage_get(&rx_task, bpf_get_current_task_btf(), NULL, 0);
	if (!s || !s->valid || s->tfile != (__u64)tfile)
		return 0;
	s->valid = 0;
	rx_account(s->slot, s->queue, ret, s->hdr, bpf_ktime_get_ns() - s->ts);
	return 0;
}

/*
 * fexit sees the arguments too: no state between entry and exit. ptr is no
 * struct pointer: bpf_get_func_arg() (rungs.bpf.h says why).
 */
SEC("fexit/tun_do_read")
int BPF_PROG(fexit_tun_do_read, struct tun_struct *tun, struct tun_file *tfile)
{
	struct tf_traced *t = lookup_dev(tun->dev, true);
	__u64 ptr = 0, ret = 0;

	if (!t)
		return 0;
	bpf_get_func_arg(ctx, 4, &ptr);
	bpf_get_func_ret(ctx, &ret);
	read_end(t, tfile, tfile->queue_index, ptr, (long)ret);
	return 0;
}
