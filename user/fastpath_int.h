/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Internal to the fast path's files (fastpath.c, fastpath_port.c,
 * fastpath_fdb.c, fastpath_rule.c, fastpath_stats.c): the locked pinned
 * state of a network namespace and what they do with it. Not part of
 * libtapflow's API.
 */
#ifndef TF_FASTPATH_INT_H
#define TF_FASTPATH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapflow.h"

struct fastpath;

/* The pinned state of one network namespace, locked. */
struct fp {
	struct tf_pin pin;	/* TF_FP_PIN_ROOT/<netns inode>, locked */
	int ports, fdb, tx_ports, xsks, stats, meta, gen;
};

/* Open to change the state (exclusive lock), creating its maps with create. */
int fp_open(struct fp *s, bool create);
/* Open to read it only (shared lock): never write through s. */
int fp_open_ro(struct fp *s);
/* Close the maps and drop the lock. */
void fp_close(struct fp *s);
/* Remove everything when no port is left. Call last; closes s. */
void fp_release(struct fp *s);
/* Path of one of s's pins. */
const char *fp_pin(const struct fp *s, const char *map, char *buf, size_t len);
/* tx_ports is pinned by hand: reuse it before load, pin it after. */
int fp_reuse_tx_ports(const struct fp *s, struct fastpath *skel, bool before_load);

/* 1 and *port when ifindex is a port of s, 0 if not. */
int fp_port(struct fp *s, int ifindex, struct tf_fp_port *port);
int fp_nports(struct fp *s);
/* Record a port (a new slot, rows for nqueues rx queues) and make it a redirect target. */
int fp_add_port(struct fp *s, int ifindex, const char *name, enum tf_fp_port_kind kind,
		unsigned int nqueues);
/* Write a port's record (old: the record replaced, NULL: a new port). */
int fp_put_port(struct fp *s, int ifindex, const struct tf_fp_port *port,
		const struct tf_fp_port *old);
/* Forget a port: its fdb entries, sockets, counters, DEVMAP entry, record. */
void fp_forget(struct fp *s, int ifindex, const struct tf_fp_port *port);
/* Forget ports whose device is gone. */
void fp_gc(struct fp *s);
/* Tell the programs' caches that the fdb or the ports changed. */
void fp_bump_gen(struct fp *s);
/* Reclaim the state of namespaces that are gone; before taking our lock. */
void fp_reclaim_dead(void);
/* Make s serve the caller's namespace (-EBUSY if another's ports are there). */
int fp_claim_netns(struct fp *s);
/* 1 if the state serves the calling thread's network namespace. */
int fp_same_netns(struct fp *s);
/* Bytes of one per-CPU stats value (every CPU), -1 if CPUs cannot be counted. */
int fp_stats_value_size(void);

/* Open the state (shared with ro) for the port NAME: -ENOENT if it is none. */
int fp_open_port(struct fp *s, const char *name, int *ifindex, struct tf_fp_port *port,
		 bool ro);

#endif
