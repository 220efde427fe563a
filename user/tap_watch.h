/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tun/tap devices of one network namespace as a reader of tracing's
 * counters needs them (tap_watch.c): by ifindex, each one's name now, its
 * attached queues and a tapflow tap's configured ones. Kept up to date
 * from rtnetlink link events instead of a dump of every link per read.
 * Internal to libtapflow.
 */
#ifndef TF_TAP_WATCH_H
#define TF_TAP_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tap_brief {
	int ifindex;
	char name[16];
	unsigned int queues_attached;	/* as struct tf_tap_info counts them */
	unsigned int conf_queues;	/* a tapflow tap's configured queues, else 0 */
	bool stale;			/* an event named it since it was read */
};

struct tap_watch;

/* Subscribe to link events in the caller's namespace, then read its taps once. */
int tap_watch_new(struct tap_watch **out);
void tap_watch_free(struct tap_watch *w);
/* The namespace it watches (inode). */
uint32_t tap_watch_netns(const struct tap_watch *w);
/*
 * Bring the view up to date with what the kernel says now: the events
 * waiting are read, and every tap they named is read again (an event can
 * be sent before the change it announces is complete: a single-queue
 * tap's carrier), or everything when events were lost. *taps is sorted by
 * ifindex and valid until the next call.
 */
int tap_watch_sync(struct tap_watch *w, const struct tap_brief **taps, size_t *n);
/* The tap at ifindex in a synced view, or NULL. */
const struct tap_brief *tap_watch_find(const struct tap_brief *taps, size_t n, int ifindex);

#endif
