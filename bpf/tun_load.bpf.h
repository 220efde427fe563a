/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Loads of tun's own state for tapflow's tracing programs (bpf/trace.bpf.c)
 * and their benchmark bound (tests/progs/trace_bound.bpf.c), which must
 * load it the same way to be a floor.
 */
#ifndef TF_TUN_LOAD_BPF_H
#define TF_TUN_LOAD_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/*
 * Loads of tun's own state. tun keeps its queues and rings behind
 * netdev_priv() and tfiles[], where no BTF-typed pointer leads, so each
 * field costs a bpf_probe_read_kernel, a helper call of ~45 ns here. Where
 * tun's types are in vmlinux's BTF (tun built in) and the kernel has
 * bpf_rdonly_cast (v6.2), user space sets tun_cast before load and the same
 * fields become plain loads the JIT guards with an exception-table entry
 * (PROBE_MEM: a faulting load reads 0, as a failed probe read does), ~15 ns
 * each. The cast itself is no call: the verifier turns it into a move.
 * Without tun_cast the verifier drops the cast branches as dead code,
 * kfunc and all.
 */
const volatile bool tun_cast;

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define TF_CAST(p, type) ((type *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(type)))

/*
 * The pointer stored at addr (an array slot at a variable index, where no
 * typed load can go), as a plain number: ring entries carry tag bits and
 * the verifier refuses bit operations on a typed pointer. Any kernel struct
 * whose first member is an unsigned long reads one: rb_node.
 */
static __always_inline void *load_ptr(const void *addr)
{
	void *v = NULL;

	if (tun_cast)
		return (void *)TF_CAST(addr, struct rb_node)->__rb_parent_color;
	bpf_probe_read_kernel(&v, sizeof(v), addr);
	return v;
}

/* tun_file fields: one load each with tun_cast, one helper call each without. */
#define TFILE(tfile, field) (tun_cast ? TF_CAST(tfile, struct tun_file)->field : BPF_CORE_READ(tfile, field))

#endif
