/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Log2 histogram buckets for tapflow's BPF programs. */
#ifndef TF_BITS_BPF_H
#define TF_BITS_BPF_H

/* floor(log2(v)), 0 for v <= 1: bucket k holds [2^k, 2^(k+1)). */
static __always_inline __u32 tf_log2(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8)  { v >>= 8;  r += 8; }
	if (v >> 4)  { v >>= 4;  r += 4; }
	if (v >> 2)  { v >>= 2;  r += 2; }
	if (v >> 1)  r += 1;
	return r;
}

static __always_inline __u32 tf_bucket(__u64 v, __u32 nslots)
{
	__u32 k = tf_log2(v);

	return k < nslots ? k : nslots - 1;
}

#endif
