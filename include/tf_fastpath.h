/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The XDP fast path of accelerated taps (see the README, "Accelerated taps", and
 * bpf/fastpath.bpf.c). Included by tapflow.h.
 *
 *   tap A backend ─▶ [tf_fp_tap on A] ─▶ DEVMAP ─▶ tap B's ring / uplink
 *   uplink        ─▶ [tf_fp_uplink]   ─▶ DEVMAP ─▶ tap's ring
 *   anything not known ─▶ XDP_PASS ─▶ host stack, bridge
 *
 * A "port" is an accelerated tap or an uplink. The state (ports, fdb, the
 * DEVMAP, the XSKMAP, per-queue counters) is pinned, one set per network
 * namespace, under TF_FP_PIN_ROOT/<netns inode>, and outlives the process;
 * it is removed with the namespace's last port. All calls need
 * CAP_NET_ADMIN and CAP_BPF (root), act on the calling thread's network
 * namespace, and return 0 or a negative errno with tf_errmsg() set.
 */
#ifndef TF_FASTPATH_H
#define TF_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "tf_fastpath_shared.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TF_FP_PIN_MODULE	"fastpath"
#define TF_FP_PIN_ROOT		TF_PIN_ROOT "/" TF_FP_PIN_MODULE

/*
 * Attach the fast path program natively to the tapflow tap NAME. *changed
 * (may be NULL) tells whether anything was done: enabling twice is not an
 * error. *legacy (may be NULL) is true
 * when libxdp fell back to its single-program mode.
 */
int tf_fastpath_enable(const char *name, bool *changed, bool *legacy);
/* Detach it, drop the tap's fdb entries, rules and counters; -ENOENT if off. */
int tf_fastpath_disable(const char *name);
/* 1 if the fast path serves ifindex (a tap or an uplink), 0 if not. */
int tf_fastpath_is_port(int ifindex, struct tf_fp_port *port);
/*
 * The pin path of one of the fast path's maps (TF_FP_MAP_*; NULL: its
 * directory) for the calling thread's network namespace, whether or not it
 * exists.
 */
int tf_fastpath_pin_path(const char *map, char *buf, size_t len);

enum tf_xdp_mode {
	TF_XDP_NATIVE = 0,
	TF_XDP_SKB = 1,		/* generic XDP: works everywhere, slower */
};
/*
 * Attach the uplink program to DEV (not a tun/tap). Native mode first; if the
 * driver refuses it and allow_skb is set, generic mode, with *mode telling
 * which one is in use.
 */
int tf_uplink_add(const char *dev, bool allow_skb, enum tf_xdp_mode *mode);
int tf_uplink_del(const char *dev);

/* Static MAC → port entries; a learned entry for the MAC is replaced. */
int tf_fdb_add(const char *port, const uint8_t mac[6]);
int tf_fdb_del(const char *port, const uint8_t mac[6]);

struct tf_fdb_entry {
	uint8_t mac[6];
	int ifindex;
	char port[16];		/* "" if the ifindex has no name here */
	uint32_t flags;		/* enum tf_fp_fdb_flags */
};
/* Every fdb entry, sorted by port then MAC; free with free(). */
int tf_fdb_list(struct tf_fdb_entry **entries, size_t *n);

/* AF_XDP rules of a port (struct tf_fp_rule), at most TF_FP_MAX_RULES. */
int tf_fastpath_rule_add(const char *name, const struct tf_fp_rule *rule);
/* Remove the rule equal to *rule, or every rule when rule is NULL. */
int tf_fastpath_rule_del(const char *name, const struct tf_fp_rule *rule);
/*
 * The AF_XDP rules of the port NAME, in the order they are matched: rules
 * has room for TF_FP_MAX_RULES, *n is how many there are. -ENODEV: no such
 * device here; -ENOENT: it is not a fast path port.
 */
int tf_fastpath_rule_list(const char *name, struct tf_fp_rule rules[TF_FP_MAX_RULES],
			  size_t *n);
/* Format a rule as "all", "ethertype 0x0806", "ipproto 17", "udp dport 53". */
void tf_fastpath_rule_format(const struct tf_fp_rule *rule, char *buf, size_t len);

struct tf_fastpath_qstats {
	unsigned int queue;
	uint64_t packets[TF_FP_ACT__MAX];
	uint64_t bytes[TF_FP_ACT__MAX];
	uint64_t xsk_miss;
	uint64_t learned;
};
/*
 * Per-queue counters of a port, summed over CPUs: the queues with any
 * non-zero counter, ascending; free with free(). *total (may be NULL) gets
 * the sum over all queues (queue = TF_MAX_QUEUES). Frames of a queue past
 * the rows the port was given (a backend that attached more queues than the
 * tap was made with) are counted together, as queue TF_FP_QUEUE_OTHER.
 */
int tf_fastpath_stats(const char *name, struct tf_fastpath_qstats **qs, size_t *n,
		      struct tf_fastpath_qstats *total);
/* Every port of this namespace's fast path, with its per-queue counters. */
struct tf_fp_port_stats {
	char name[16];		/* as it was named when it became a port */
	int ifindex;
	uint32_t kind;		/* enum tf_fp_port_kind */
	size_t nqueues;		/* queues with any count */
	struct tf_fastpath_qstats *q;
};
/* 0 with *n = 0 when the fast path is not on here; free with tf_fastpath_ports_free(). */
int tf_fastpath_ports(struct tf_fp_port_stats **ports, size_t *n);
void tf_fastpath_ports_free(struct tf_fp_port_stats *ports, size_t n);

/* "redirect_tap", "redirect_uplink", "xsk", "pass", "drop". */
const char *tf_fastpath_action_name(enum tf_fp_action act);

#ifdef __cplusplus
}
#endif

#endif /* TF_FASTPATH_H */
