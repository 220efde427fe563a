/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The XDP fast path's maps and records, shared by bpf/fastpath.bpf.c, the
 * library (user/fastpath.c) and anyone who fills a slot of the XSKMAP (the
 * AF_XDP socket API). Only __u8..__u64, enums and #defines, so this compiles
 * after vmlinux.h and after <linux/types.h> alike.
 *
 *   backend write() ─> tun_get_user ─> [tf_fp_tap]  ── fdb hit ──> tx_ports ─> tun_xdp_xmit (other tap)
 *                                          │   └─ AF_XDP rule ──> xsks[row+queue] ─> socket
 *                                          └─ XDP_PASS ─> host stack / bridge (slow path)
 *   uplink NIC/veth rx ──────────────> [tf_fp_uplink] ── fdb hit on a tap ──> tx_ports ─> tap
 *
 * Every network namespace with accelerated taps has its own set of these
 * maps, pinned in its own directory under TF_FP_PIN_ROOT (0700 directories,
 * 0600 pins), serving the taps and uplinks of that namespace only (the one
 * in meta.netns): ifindexes mean nothing across namespaces. A port
 * (accelerated tap or uplink) owns a slot in [0, TF_FP_MAX_PORTS) (its
 * DEVMAP key) and a run of rows in [0, TF_FP_MAX_ROWS): one per rx queue it
 * has (nrows) and one more, the spill row, for frames of any later queue.
 * Per-queue state is indexed by row + queue, so memory follows the queues
 * that exist, not TF_MAX_QUEUES per port (layout 3; layout 2 keyed it by
 * slot * 256 + queue).
 *
 * One copy of each program serves every port of the namespace (pinned
 * beside the maps as tf_fp_tap and tf_fp_uplink): it finds its port by the
 * frame's ingress ifindex in "ports", so adding a port is map updates and
 * an attach, not a program load.
 *
 *   ports     HASH      __u32 ifindex -> struct tf_fp_port (slot, rows,
 *             kind, rules): user space's index and what the programs read
 *   fdb       HASH      struct tf_fp_fdb_key (MAC) -> struct tf_fp_fdb
 *   tx_ports  DEVMAP    slot -> ifindex (redirect targets; the kernel
 *             removes an entry when its device goes away)
 *   xsks      XSKMAP    row + rx queue -> AF_XDP socket fd
 *   stats     PERCPU_ARRAY row + rx queue -> struct tf_fp_qstats
 *   gen       ARRAY (mmapable) [0] -> __u64, bumped (atomically) by whoever
 *             changes the fdb or the ports: the programs keep a per-CPU copy
 *             of their last fdb answers and trust it only while gen stands
 *   meta      ARRAY     [0] -> struct tf_fp_meta
 *
 * To hand a tap queue's traffic to an AF_XDP socket: look the tap's ifindex
 * up in the namespace's "ports" pin for its slot, then bpf_map_update_elem()
 * the socket fd into its "xsks" pin at port.row + queue (queue < port.nrows). Frames matching one of
 * the port's rules (struct tf_fp_rule) that arrive on that queue go to the
 * socket; with no socket in the slot they take the normal path (fdb or
 * XDP_PASS), counted as xsk_miss.
 */
#ifndef TF_FASTPATH_SHARED_H
#define TF_FASTPATH_SHARED_H

#include "tf_limits.h"

/*
 * One directory per network namespace, named by the namespace's inode
 * number (stat -L -c %i /proc/self/ns/net): TF_FP_PIN_ROOT "/<inode>/ports"
 * (TF_FP_PIN_ROOT is in tf_fastpath.h, beside TF_PIN_ROOT).
 */
#define TF_FP_MAP_PORTS		"ports"
#define TF_FP_MAP_FDB		"fdb"
#define TF_FP_MAP_TX_PORTS	"tx_ports"
#define TF_FP_MAP_XSKS		"xsks"
#define TF_FP_MAP_STATS		"stats"
#define TF_FP_PROG_TAP		"tf_fp_tap"	/* the programs, pinned by these names */
#define TF_FP_PROG_UPLINK	"tf_fp_uplink"
#define TF_FP_MAP_GEN		"gen"
#define TF_FP_MAP_META		"meta"

#define TF_FP_MAX_PORTS		1024	/* accelerated taps + uplinks, per namespace */
#define TF_FP_MAX_ROWS		8192	/* per-queue rows (queues + 1 per port) */
#define TF_FP_QUEUE_OTHER	0xffffffffu	/* stats: the spill row (queue >= nrows) */
#define TF_FP_MAX_RULES		8	/* AF_XDP rules per port */
#define TF_FP_FDB_SIZE		4096
/* 2: slots, gen, DEVMAP by slot, fdb slot; 3: one program, rows, no slots map */
#define TF_FP_VERSION		3

enum tf_fp_port_kind {
	TF_FP_PORT_TAP = 1,	/* an accelerated tap: tf_fp_tap on it */
	TF_FP_PORT_UPLINK = 2,	/* an uplink: tf_fp_uplink on it */
};

/* What an AF_XDP rule matches; all of a rule's fields must match. */
enum tf_fp_rule_kind {
	TF_FP_RULE_NONE = 0,	/* unused row */
	TF_FP_RULE_ALL,		/* every frame of the port */
	TF_FP_RULE_ETHERTYPE,	/* value = EtherType (after one VLAN tag) */
	TF_FP_RULE_IPPROTO,	/* ipproto = IPv4 protocol / IPv6 next header */
	TF_FP_RULE_L4_DPORT,	/* ipproto = UDP or TCP and value = dst port */
};

struct tf_fp_rule {
	__u8 kind;		/* enum tf_fp_rule_kind */
	__u8 ipproto;		/* IPPROTO_UDP, IPPROTO_TCP, ... */
	__u16 value;		/* host byte order: EtherType or port */
};

struct tf_fp_port {
	__u32 slot;		/* [0, TF_FP_MAX_PORTS): its key in tx_ports */
	__u32 kind;		/* enum tf_fp_port_kind */
	__u32 nrules;		/* used rows of rules[], packed from 0 */
	__u32 flags;		/* reserved, 0 */
	__u32 row;		/* queue q's row in xsks and stats: row + q */
	__u32 nrows;		/* queues with a row; row + nrows is the spill row */
	struct tf_fp_rule rules[TF_FP_MAX_RULES];
	char name[16];		/* for listings; the kernel never reads it */
};

struct tf_fp_fdb_key {
	__u8 mac[6];
	__u16 pad;		/* always 0 */
};

enum tf_fp_fdb_flags {
	TF_FP_FDB_LEARNED = 1 << 0,	/* from a tap's source MAC */
	TF_FP_FDB_STATIC = 1 << 1,	/* `tapflow fdb add`; never relearned */
	TF_FP_FDB_UPLINK = 1 << 2,	/* ifindex is an uplink, not a tap */
};

struct tf_fp_fdb {
	__u32 ifindex;		/* the port the MAC sits behind */
	__u32 flags;		/* enum tf_fp_fdb_flags */
	__u32 slot;		/* that port's slot: its key in tx_ports */
	__u32 pad;		/* always 0 */
};

/*
 * What the programs did with a frame, one verdict per frame: the packets of
 * all actions add up to the frames the program saw on that port and queue.
 */
enum tf_fp_action {
	TF_FP_REDIRECT_TAP = 0,	/* DEVMAP into another accelerated tap */
	TF_FP_REDIRECT_UPLINK,	/* DEVMAP out of an uplink */
	TF_FP_XSK,		/* XSKMAP: an AF_XDP socket of this queue */
	TF_FP_PASS,		/* XDP_PASS: host stack, bridge */
	TF_FP_DROP,		/* malformed (shorter than Ethernet) */
	TF_FP_ACT__MAX,
};

struct tf_fp_qstats {
	__u64 packets[TF_FP_ACT__MAX];
	__u64 bytes[TF_FP_ACT__MAX];
	__u64 xsk_miss;		/* matched a rule, no socket in the slot: went on */
	__u64 learned;		/* fdb entries created or moved by learning */
};

struct tf_fp_meta {
	__u32 version;		/* TF_FP_VERSION */
	__u32 netns;		/* inode of the network namespace served */
};

#endif
