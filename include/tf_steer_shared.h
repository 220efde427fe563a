/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Host → guest queue steering: what bpf/steer.bpf.c and user space share,
 * defined once. Only __u8..__u64, enums and #defines, so this compiles after
 * vmlinux.h and after <linux/types.h> alike.
 *
 * The steering program is a socket filter that tun runs in tun_select_queue()
 * for every packet the host sends into the tap (tun_net_xmit). Its return
 * value, truncated to 16 bits, modulo the number of attached queues, is the
 * queue whose ring gets the packet:
 *
 *   host stack --> __dev_queue_xmit --> tun_select_queue --[steer prog]-->
 *                  tun_net_xmit --> tfiles[ret % numqueues] ptr_ring --> backend
 *
 * One program instance is loaded per tap; what it needs is in two maps,
 * pinned under TF_STEER_PIN_DIR/<netns inode>-<ifindex>/ so that `tapflow
 * show` can read the mode back and `--off` can find them:
 *   conf   ARRAY [0] -> struct tf_steer_conf
 *   rules  HASH  struct tf_steer_rule -> __u32 queue       (fixed mode)
 * The Toeplitz lookup table (derived from the key) lives in the program's
 * .rodata: it is fixed for the program's life.
 */
#ifndef TF_STEER_SHARED_H
#define TF_STEER_SHARED_H

#define TF_STEER_KEY_LEN	40	/* virtio-net's RSS key size */
#define TF_STEER_INDIR_MAX	128	/* virtio-net's largest indirection table */
#define TF_STEER_HASH_IN_MAX	36	/* IPv6 addresses + ports: the longest input */
#define TF_STEER_MAX_RULES	1024

enum tf_steer_mode {
	TF_STEER_OFF = 0,
	TF_STEER_L3 = 1,	/* symmetric hash of the address pair */
	TF_STEER_L4 = 2,	/* symmetric hash of addresses and TCP/UDP ports */
	TF_STEER_RSS = 3,	/* Toeplitz + indirection table, as virtio-net */
	TF_STEER_FIXED = 4,	/* exact flow rules, default queue otherwise */
};

/* Hash types, with virtio-net's bit values (VIRTIO_NET_RSS_HASH_TYPE_*). */
#define TF_RSS_HASH_IPV4	(1U << 0)
#define TF_RSS_HASH_TCPV4	(1U << 1)
#define TF_RSS_HASH_UDPV4	(1U << 2)
#define TF_RSS_HASH_IPV6	(1U << 3)
#define TF_RSS_HASH_TCPV6	(1U << 4)
#define TF_RSS_HASH_UDPV6	(1U << 5)
#define TF_RSS_HASH_ALL		0x3fU

/*
 * The symmetric hash of the l3/l4 modes. Both endpoints are ordered first
 * (the smaller address, then port, goes first), so a flow and its reply give
 * the same value. Over the 32-bit words w (addresses in network order read
 * as big-endian numbers, then (port_lo << 16 | port_hi) for l4), in 32-bit
 * arithmetic:
 *	h = TF_STEER_SEED
 *	for each w:  h ^= w; h *= TF_STEER_MUL; h ^= h >> 15
 *	finally:     h ^= h >> 16; h *= TF_STEER_FMUL; h ^= h >> 13
 * and the program returns h & 0xffff (what tun keeps of it).
 */
/*
 * rss: return the Toeplitz hash itself instead of its indirection table
 * entry (tun then keeps its low 16 bits modulo the queue count). Lets tests
 * read the full 32-bit hash through BPF_PROG_TEST_RUN.
 */
#define TF_STEER_F_HASH_ONLY	(1U << 0)

#define TF_STEER_SEED		0x7f4a7c15U
#define TF_STEER_MUL		0x9e3779b1U
#define TF_STEER_FMUL		0x85ebca6bU

struct tf_steer_conf {
	__u32 mode;		/* enum tf_steer_mode */
	__u32 queues;		/* the tap's queue count when installed (for show) */
	__u32 hash_types;	/* rss: TF_RSS_HASH_* */
	__u32 indir_len;	/* rss: a power of two, 1..TF_STEER_INDIR_MAX */
	__u32 default_queue;	/* non-IP frames, unhashed types, unmatched rules */
	__u32 nrules;		/* fixed: entries in the rules map */
	__u32 flags;		/* TF_STEER_F_* */
	__u8 key[TF_STEER_KEY_LEN];	/* rss: the Toeplitz key */
	__u16 indir[TF_STEER_INDIR_MAX];	/* rss: hash & (indir_len - 1) -> queue */
};

/* A fixed-mode rule: exact match on the flow as the host sends it. */
struct tf_steer_rule {
	__u8 family;		/* 4 or 6 */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP; 0: any IP, ports 0 */
	__be16 sport;
	__be16 dport;
	__u16 pad;
	__be32 saddr[4];	/* IPv4: saddr[0] only, the rest zero */
	__be32 daddr[4];
};

#endif /* TF_STEER_SHARED_H */
