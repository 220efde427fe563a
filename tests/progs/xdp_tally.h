/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The value of xdp_tally's counter map, shared by tests/progs/xdp_tally.bpf.c
 * and tests/tf-xdp-tally.c. Fixed-size types only, so it compiles after
 * vmlinux.h and after <linux/types.h> alike.
 */
#ifndef XDP_TALLY_H
#define XDP_TALLY_H

struct xdp_tally_count {
	__u64 packets;
	__u64 bytes;
};

#endif
