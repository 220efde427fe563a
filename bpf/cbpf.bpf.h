/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The place a pcap filter goes. libpcap compiles a filter expression to
 * classic BPF, which no tracing program can run; user/cbpf.c translates it
 * to eBPF and, before the object is loaded, writes it over the
 * TF_CBPF_REGION placeholder instructions this macro leaves in the program
 * (found by TF_CBPF_MARK). Register use on entry and exit is described in
 * tf_capture_shared.h. Inputs and the result live in r6..r9 (the clobbers
 * keep the compiler out of r0..r5), so the translated code owns r0..r5.
 *
 * Left unpatched the region is a run of moves that accepts everything;
 * patched, its first instructions jump over the unused rest.
 */
#ifndef TF_CBPF_BPF_H
#define TF_CBPF_BPF_H

#include "tf_capture_shared.h"

#define TF_STR_(x) #x
#define TF_STR(x) TF_STR_(x)

static __always_inline __u32 tf_cbpf_run(struct tf_cap_scratch *s, __u32 caplen)
{
	__u64 ret;

	asm volatile("r1 = %[data]\n"
		     "r2 = %[len]\n"
		     "r3 = %[mem]\n"
		     "w0 = " TF_STR(TF_CBPF_MARK) "\n"
		     ".rept " TF_STR(TF_CBPF_REGION) " - 1\n"
		     "w0 = " TF_STR(TF_CBPF_FILL) "\n"
		     ".endr\n"
		     "%[ret] = r0\n"
		     : [ret] "=r"(ret)
		     : [data] "r"(s->data), [len] "r"((__u64)caplen), [mem] "r"(s)
		     : "r0", "r1", "r2", "r3", "r4", "r5", "memory");
	return (__u32)ret;
}

#endif
