/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Internal to tracing's files (trace.c, trace_load.c, trace_ctl.c,
 * trace_read.c): the pinned maps each of them opens and the helpers they
 * share. Not part of libtapflow's API.
 */
#ifndef TF_TRACE_INT_H
#define TF_TRACE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapflow.h"

#define PIN_MAPS_N 8

/* meta first: its version is checked before the other maps are opened */
extern const char *const trace_pin_maps[PIN_MAPS_N];

struct pins {
	int meta, traced, slot_rows, qcount, hists, qextra, hextra, rings;
};
#define PINS_NONE { -1, -1, -1, -1, -1, -1, -1, -1 }

/* Inode of the caller's network namespace (0 if it cannot be told). */
uint32_t trace_netns(void);
/* Every entry of the traced map (fd) into keys/vals, room for max; how many. */
struct tf_traced_key;
struct tf_traced;
int trace_traced_all(int fd, struct tf_traced_key *keys, struct tf_traced *vals, uint32_t max);
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
/*
 * Tracing's slots and counter rows (trace_rows.c), for a writer holding
 * the lock: a snapshot of what the traced taps hold, kept up to date by
 * the calls below while the writer adds, grows and drops taps.
 */
struct trace_rows;
int trace_rows_open(const struct pins *p, struct trace_rows **out);
void trace_rows_free(struct trace_rows *a);
int trace_rows_ntaps(const struct trace_rows *a);
/* Queue rows the session has (qcount's size less the spill rows). */
uint32_t trace_rows_total(const struct pins *p);
/* A free slot, or -ENOSPC naming the limit. */
int trace_rows_slot(struct trace_rows *a, const char *name, uint32_t *slot);
/* A zeroed run of queues rows (and spill row) for slot, set in slot_rows. */
int trace_rows_give_tap(const struct pins *p, struct trace_rows *a, uint32_t slot,
			const char *name, uint32_t queues);
/* Grow slot's run to want rows, counts carried over (see trace_rows.c). */
int trace_rows_grow(const struct pins *p, struct trace_rows *a, uint32_t slot,
		    const char *name, uint32_t want);
/* Give the slot and its rows back (a NULL: only the maps). */
void trace_rows_drop(const struct pins *p, struct trace_rows *a, uint32_t slot);
/* The kernel's info on map fd (zeroed first), or -errno. */
struct bpf_map_info;
int trace_map_info(int fd, struct bpf_map_info *info);

/* Load the best backend req allows (0: any); *chosen is the one loaded. */
int trace_load_ladder(int req, int *chosen);
/*
 * Whether the programs can load tun's fields directly (tun_cast in
 * bpf/tun_load.bpf.h); also what tests/tf-empty-trace sets for the
 * benchmark's bound, which must load them as tracing does.
 */
bool trace_tun_cast_ok(void);

#endif
