/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Internal to tracing's files (trace.c, trace_load.c, trace_ctl.c,
 * trace_read.c): the pinned maps each of them opens and the helpers they
 * share. Not part of libtapflow's API.
 */
#ifndef TF_TRACE_INT_H
#define TF_TRACE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tapflow.h"

#define PIN_MAPS_N 5

extern const char *const trace_pin_maps[PIN_MAPS_N];

struct pins {
	int traced, qcount, hists, rings, meta;
};

/* Inode of the caller's network namespace (0 if it cannot be told). */
uint32_t trace_netns(void);
/* Loading or changing tracing: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN. */
int trace_need_caps(const char *what);
/* The global directory of the session's pins, and its lock. */
extern const struct tf_pin_layout trace_layout;
void trace_close_pins(struct pins *p);
/*
 * A session is committed by its meta pin, made last: a start pins every
 * other map and the links first, its meta as TRACE_META_STAGED, adds its
 * taps, and only then renames that to "meta". Pins without "meta" are what
 * a killed start left (see trace_open_pins).
 */
#define TRACE_META_STAGED "meta_new"	/* bpffs refuses names with a dot */
/*
 * 0: open; -ENOENT: tracing is not loaded; -ESTALE (message set): pins
 * without a committed meta, left by a killed start, which the next start
 * or stop removes. staged: open meta_new instead (the start that loaded
 * it). Under trace_layout's lock.
 */
int trace_open_pins_at(struct pins *p, bool staged);
static inline int trace_open_pins(struct pins *p)
{
	return trace_open_pins_at(p, false);
}
/* The same for a reader: takes the lock shared while it opens them. */
int trace_open_pins_shared(struct pins *p);
/* The meta map, checked against the layout this tapflow reads. */
int trace_read_meta(const struct pins *p, struct tf_trace_meta *m);
/* Remove every pin of the tracing session (links first: that detaches). */
void trace_unpin_all(void);
/* Load the best backend req allows (0: any); *chosen is the one loaded. */
int trace_load_ladder(int req, int *chosen);

#endif
