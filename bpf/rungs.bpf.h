/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One body per tun hook, instantiated on the two function-hook rungs of the
 * load ladder: fentry/fexit where the kernel has BTF trampolines, and
 * kprobe/kretprobe where it does not. Tracing (trace.bpf.c) and capture
 * (capture.bpf.c) hook the same tun functions on both rungs, and a hook
 * does the same work on either; only how its helpers may read kernel
 * memory differs. So the body is written once and sees a constant
 * `direct`: true on fentry, where BTF-typed pointers are read with plain
 * loads, false on kprobe, where every read is a probe read. The helpers
 * are __always_inline, so the constant folds away and each rung's
 * program is what it would be written out by hand.
 *
 * The programs keep the names user space and the tests find them by:
 * PREFIX##fentry_FN, PREFIX##kprobe_FN, PREFIX##fexit_FN and
 * PREFIX##kretprobe_FN (PREFIX is empty for tracing, cap_ for capture).
 * A body is one expression or statement without a top-level comma; the
 * hooked function's arguments come last, as BPF_PROG takes them.
 * Include after vmlinux.h and <bpf/bpf_tracing.h>.
 */
#ifndef TF_RUNGS_BPF_H
#define TF_RUNGS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* A field as a body may read it on its rung: a plain load or a probe read. */
#define RD(direct, ptr, field) ((direct) ? (ptr)->field : BPF_CORE_READ(ptr, field))

/* A program's body on its rung: direct says which, the body sees it. */
#define TF_HOOK_BODY(is_direct, body)					\
{									\
	const bool direct __attribute__((unused)) = (is_direct);	\
	body;								\
	return 0;							\
}

/*
 * The hooks below take their rung first, fentry or kprobe, and make that
 * rung's program: TF_ENTRY_HOOK(fentry, ...) the fentry one,
 * TF_ENTRY_HOOK(kprobe, ...) the kprobe one. A BPF object lists its hooks
 * once, in a macro that takes the rung (TRACE_FN_HOOKS in
 * trace/fn_hooks.bpf.h, CAPTURE_FN_HOOKS in capture/fn_hooks.bpf.h), and
 * each rung's file instantiates the list for its rung: the body is written
 * once, each rung's programs sit in that rung's file.
 */

/* An entry hook whose arguments all come through BPF_PROG / BPF_KPROBE. */
#define TF_ENTRY_HOOK(rung, prefix, fn, body, args...)			\
	TF_ENTRY_HOOK_##rung(prefix, fn, body, args)

#define TF_ENTRY_HOOK_fentry(prefix, fn, body, args...)		\
SEC("fentry/" #fn)							\
int BPF_PROG(prefix##fentry_##fn, args)					\
TF_HOOK_BODY(true, body)

#define TF_ENTRY_HOOK_kprobe(prefix, fn, body, args...)		\
SEC("kprobe/" #fn)							\
int BPF_KPROBE(prefix##kprobe_##fn, args)				\
TF_HOOK_BODY(false, body)

/*
 * An entry hook whose argument number idx (after args) is no pointer to a
 * struct (a frame array, a void *): before v6.3 the verifier refuses a
 * direct read of such an fentry argument, so the fentry program fetches it
 * with bpf_get_func_arg(), the kprobe one from its registers.
 */
#define TF_ENTRY_HOOK_ARG(rung, prefix, fn, idx, type, name, body, args...) \
	TF_ENTRY_HOOK_ARG_##rung(prefix, fn, idx, type, name, body, args)

#define TF_ENTRY_HOOK_ARG_fentry(prefix, fn, idx, type, name, body, args...) \
SEC("fentry/" #fn)							\
int BPF_PROG(prefix##fentry_##fn, args)					\
{									\
	__u64 name##_arg = 0;						\
	type name;							\
									\
	bpf_get_func_arg(ctx, idx, &name##_arg);			\
	name = (type)name##_arg;					\
	TF_HOOK_BODY(true, body)					\
}

#define TF_ENTRY_HOOK_ARG_kprobe(prefix, fn, idx, type, name, body, args...) \
SEC("kprobe/" #fn)							\
int BPF_KPROBE(prefix##kprobe_##fn, args, type name)			\
TF_HOOK_BODY(false, body)

/* An exit hook that needs only the return value, as `ret` of type type. */
#define TF_EXIT_HOOK(rung, prefix, fn, type, body)			\
	TF_EXIT_HOOK_##rung(prefix, fn, type, body)

#define TF_EXIT_HOOK_fentry(prefix, fn, type, body)			\
SEC("fexit/" #fn)							\
int BPF_PROG(prefix##fexit_##fn)					\
{									\
	__u64 ret_val = 0;						\
	type ret;							\
									\
	bpf_get_func_ret(ctx, &ret_val);				\
	ret = (type)ret_val;						\
	TF_HOOK_BODY(true, body)					\
}

#define TF_EXIT_HOOK_kprobe(prefix, fn, type, body)			\
SEC("kretprobe/" #fn)							\
int BPF_KRETPROBE(prefix##kretprobe_##fn, type ret)			\
TF_HOOK_BODY(false, body)

#endif
