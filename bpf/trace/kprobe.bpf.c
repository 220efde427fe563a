// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The kprobe/kretprobe rung of tracing, for kernels without BTF
 * trampolines: every field copied with a probe read, and what the exit
 * needs from the entry kept per thread in a hash. The hooks it shares with
 * the fentry rung come from fn_hooks.bpf.h. Part of bpf/trace.bpf.c;
 * user/trace_load.c's table lists these programs as TF_BACKEND_KPROBE.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "fn_hooks.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct rx_state);
} rx_tid SEC(".maps");

/* tun_do_read of a traced tap in progress in this thread (kprobe rung). */
struct read_state {
	__u64 tfile;
	__u64 ptr;		/* the entry vhost handed in; 0 for read() */
	__u32 slot;
	__u32 queue;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct read_state);
} read_tid SEC(".maps");

TRACE_FN_HOOKS(kprobe)

SEC("kretprobe/tun_net_xmit")
int BPF_KRETPROBE(kretprobe_tun_net_xmit, int ret)
{
	struct xmit_state *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&xmit_pending, &zero);
	if (st)
		tx_end(st->skb, ret);
	return 0;
}

SEC("kprobe/tun_get_user")
int BPF_KPROBE(kprobe_tun_get_user, struct tun_struct *tun, struct tun_file *tfile)
{
	struct tf_traced_key key;
	struct tf_traced *t = lookup_dev_key(BPF_CORE_READ(tun, dev), false, &key);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rx_state s = {};

	if (!t)
		return 0;
	rx_begin(&s, t, &key, tun, tfile, false);
	bpf_map_update_elem(&rx_tid, &tid, &s, BPF_ANY);
	return 0;
}

SEC("kretprobe/tun_get_user")
int BPF_KRETPROBE(kretprobe_tun_get_user, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rx_state *s = bpf_map_lookup_elem(&rx_tid, &tid);

	if (!s)
		return 0;
	rx_account(s->slot, s->queue, ret, s->hdr, bpf_ktime_get_ns() - s->ts);
	bpf_map_delete_elem(&rx_tid, &tid);
	return 0;
}

SEC("kprobe/tun_do_read")
int BPF_KPROBE(kprobe_tun_do_read, struct tun_struct *tun, struct tun_file *tfile,
	       struct iov_iter *to, int noblock, void *ptr)
{
	struct tf_traced *t = lookup_dev(BPF_CORE_READ(tun, dev), false);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct read_state s = {};

	if (!t)
		return 0;
	s.tfile = (__u64)tfile;
	s.ptr = (__u64)ptr;
	s.slot = t->slot;
	s.queue = BPF_CORE_READ(tfile, queue_index);
	bpf_map_update_elem(&read_tid, &tid, &s, BPF_ANY);
	return 0;
}

SEC("kretprobe/tun_do_read")
int BPF_KRETPROBE(kretprobe_tun_do_read, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct read_state *s = bpf_map_lookup_elem(&read_tid, &tid);
	const struct tun_file *tfile;
	const struct tun_struct *tun;
	struct tf_traced *t;

	if (!s)
		return 0;
	/* the tap's entry again (ring_take wants its geometry), if it is the same slot */
	tfile = (const void *)s->tfile;
	tun = BPF_CORE_READ(tfile, tun);
	t = tun ? lookup_dev(BPF_CORE_READ(tun, dev), false) : NULL;
	if (t && t->slot == s->slot)
		read_end(t, tfile, s->queue, s->ptr, ret);
	bpf_map_delete_elem(&read_tid, &tid);
	return 0;
}
