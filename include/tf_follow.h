/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Following taps: trace every tun/tap device whose name matches a pattern
 * the moment it appears (an rtnetlink RTM_NEWLINK event, not polling), and
 * release it when it goes (RTM_DELLINK). What a long-running exporter does
 * on a hypervisor whose VMs come and go. Included by tapflow.h.
 *
 * Scope: the caller's network namespace, or with all_netns every network
 * namespace on the host (the ones under /run/netns and those processes are
 * in: firecracker's jailer gives each microVM its own), each with a netlink
 * socket opened inside it (setns). New namespaces are found by a rescan at
 * each tf_follow_tick(); a namespace that is gone has its socket closed, so
 * the follower does not keep a dead namespace (and its taps) alive.
 *
 * A tap is decided once, when it is first seen: traced if it matches then.
 * `tapflow trace stop` on a followed tap is respected (it is not traced
 * again until it is re-created or the follower restarts). Tracing state is
 * pinned: stopping the follower leaves every tap it traced traced.
 */
#ifndef TF_FOLLOW_H
#define TF_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tf_follow_opts {
	const char *const *globs;	/* fnmatch(3) patterns, e.g. "vnet*" */
	size_t nglobs;
	bool all_netns;
	int backend_req;		/* as tf_trace_start(); 0 auto */
};

struct tf_follow_stats {
	unsigned long traced;		/* taps this follower started tracing */
	unsigned long released;		/* followed taps it released when they went */
	unsigned long failed;		/* starts the kernel or a limit refused */
	unsigned int netns;		/* namespaces followed now */
};

struct tf_follow;

/*
 * Subscribe to link events in the namespace(s), then trace the matching taps
 * that exist already. Needs what tf_trace_start() needs, and CAP_SYS_ADMIN
 * for all_netns (setns).
 */
int tf_follow_new(const struct tf_follow_opts *o, struct tf_follow **out);
void tf_follow_free(struct tf_follow *f);
/* Readable when events wait: poll it, then call tf_follow_handle(). */
int tf_follow_fd(const struct tf_follow *f);
/*
 * Handle what is waiting: link events first, then a slice (~0.2 s at
 * most) of the taps left to start; never waits for an event.
 */
int tf_follow_handle(struct tf_follow *f);
/*
 * Taps are left to start (a start dump's, or a burst's): the fd stays
 * readable meanwhile. What `export --once` loops on before its one scrape.
 */
bool tf_follow_busy(const struct tf_follow *f);
/* Once a second or so: with all_netns, find new namespaces and drop gone ones. */
int tf_follow_tick(struct tf_follow *f);
void tf_follow_stats(const struct tf_follow *f, struct tf_follow_stats *s);
/* Does name match any of the patterns? */
bool tf_follow_match(const char *const *globs, size_t n, const char *name);

#ifdef __cplusplus
}
#endif

#endif
