/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-queue tracing of taps: start and stop it (it outlives the process,
 * pinned under TF_PIN_ROOT/trace), and read the counters and histograms back
 * from any process. Included by tapflow.h.
 *
 * Directions are the kernel's: tx is tun_net_xmit (host -> the queue's ring
 * -> backend reads it), rx is tun_get_user (backend writes -> host), as
 * `ip -s link` counts them on a tap.
 */
#ifndef TF_TRACE_H
#define TF_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "tf_trace_shared.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TF_TRACE_PIN_MODULE "trace"
#define TF_TRACE_PIN_DIR TF_PIN_ROOT "/" TF_TRACE_PIN_MODULE

enum tf_backend_req {
	TF_BACKEND_AUTO = 0,	/* fentry, then kprobe, then tracepoint */
};

const char *tf_backend_name(int backend);	/* "fentry", ... */
int tf_backend_parse(const char *s);		/* 0 auto, enum tf_backend, <0 bad */

/*
 * Trace the named taps (in the caller's network namespace). Loads and pins
 * the programs on first use, choosing the backend by probing unless one is
 * forced; adds the taps to an existing session otherwise (a forced backend
 * that differs from the running one is an error). *backend gets the one in
 * use. Taps already traced are left as they are.
 */
int tf_trace_start(const char *const *names, int n, int backend_req, int *backend);
/*
 * What a follower starts with (tf_trace_start_each): each tap on its own,
 * the failures reported one by one. yield, asked between taps, stops the
 * call there when it says true (a link event waits: the taps left are for
 * the next call); failed gets a tap that could not be traced and why
 * (tf_errmsg() says it).
 */
struct tf_trace_each {
	bool (*yield)(void *arg);
	void (*failed)(const char *name, int err, void *arg);
	void *arg;
};
/*
 * Trace the named taps as tf_trace_start() does, but each on its own: one
 * that cannot be traced (gone, refused, over a limit) is reported and the
 * others go on; those before a yield are traced and committed. Returns how
 * many names were handled from the front (traced or reported), or an error
 * for the whole call (the lock, the programs' load).
 */
int tf_trace_start_each(const char *const *names, int n, int backend_req,
			const struct tf_trace_each *e);
/*
 * need[i]: would a start change taps[i] (caller's namespace)? It is not
 * traced, or has fewer counter rows than the queues it has now. One read
 * of the pinned state for all of them.
 */
struct tf_tap_info;
int tf_trace_untraced(const struct tf_tap_info *taps, size_t n, bool *need);
/* Stop tracing the named taps; unloads everything when none is left. */
int tf_trace_stop(const char *const *names, int n);
/*
 * Stop tracing the tap that had ifindex in the caller's namespace, by index
 * (its name may already belong to another device): what the exporter does
 * when a followed tap is deleted. 0 also when it was not traced; unloads
 * everything when no tap is left.
 */
int tf_trace_release(uint32_t ifindex);
/*
 * Give back the slots of taps whose network namespace is gone (what every
 * start does too); unloads everything when no tap is left.
 */
int tf_trace_reclaim(void);
/*
 * Give the traced tap at ifindex (caller's namespace) counter rows for
 * queues queues, its counts carried over: what the exporter does when it
 * sees a tap with more queues than rows. Until then such queues count in
 * tracing's extra table (exact, per queue). 0 also when it is not traced.
 */
int tf_trace_grow(uint32_t ifindex, uint32_t queues);
/*
 * Grow every traced tap (any namespace) that has a queue counting beyond
 * its rows; cheap when none has (what a follower does once a second).
 */
int tf_trace_grow_all(void);
/* Unload and unpin everything (all taps). */
int tf_trace_stop_all(void);
/* Is tracing loaded? Returns the backend (>0), 0 if not loaded, <0 on error. */
int tf_trace_backend(void);
/* Is this tap (current netns) traced? 1 yes (and *backend), 0 no. */
int tf_trace_is_traced(int ifindex, int *backend);

struct tf_queue_stats {
	uint32_t queue;
	bool attached;			/* the queue index exists on the tap now */
	struct tf_qcount c;		/* summed over CPUs */
	uint64_t tx_drops;		/* sum of c.tx_drops[] */
	struct tf_qhist h;
	uint64_t in_flight;		/* ring records still waiting for their packet */
};

struct tf_tap_stats {
	char name[16];
	uint32_t netns;
	uint32_t ifindex;
	bool gone;			/* deleted (or renamed) while traced */
	bool local;			/* in the caller's network namespace */
	int backend;
	bool rx_ns;			/* backend measures rx_ns and rx_drops */
	uint64_t since_ns;		/* CLOCK_MONOTONIC when tracing began */
	uint32_t queues_attached;	/* tun numqueues now (0 if gone) */
	uint32_t slot;			/* tracing's slot of the tap, its ring records */
	uint32_t ring_size;		/* records per queue */
	uint32_t ring_queues;		/* queues with records */
	uint32_t rows;			/* queues with a counter row of their own */
	uint32_t queues_extra;		/* queues counted in the extra table instead */
	/*
	 * Counted with no queue: the extra table was full when a packet came
	 * on a queue beyond the tap's rows (TAPFLOW_TRACE_EXTRA). Exact as a
	 * total, just not by queue.
	 */
	struct tf_qcount noqueue;
	bool in_flight_known;		/* q[].in_flight read (tf_trace_read_in_flight) */
	uint32_t nqueues;		/* entries in q */
	struct tf_queue_stats *q;	/* attached queues, a tapflow tap's configured
					   ones, and any that ever counted */
};

/*
 * Read every traced tap (name == NULL) or one. Allocates *taps; free with
 * tf_trace_stats_free. Queues listed: those attached now, the queues a
 * tapflow tap was created with (its alias), and any whose counters are
 * non-zero (they count from the start of tracing, so: that ever counted).
 */
int tf_trace_read(const char *name, struct tf_tap_stats **taps, size_t *n);
void tf_trace_stats_free(struct tf_tap_stats *taps, size_t n);
/*
 * Count each queue's ring records still in flight (a packet queued whose
 * leaving the ring was not seen yet) into q[].in_flight. One read of all the
 * tap's records: for `tapflow stats`, not for every scrape.
 */
int tf_trace_read_in_flight(struct tf_tap_stats *t);

/*
 * The same reads for a process that reads again and again (the exporter):
 * a reader keeps the pins, each tap's histogram map and its buffers open
 * from one read to the next, checking by map id at each read that they are
 * still the maps in use. The taps a read returns belong to the reader and
 * stay valid until its next read or tf_trace_reader_free(): do not free
 * them. One read at a time per reader.
 */
struct tf_trace_reader;
int tf_trace_reader_new(struct tf_trace_reader **r);
int tf_trace_reader_read(struct tf_trace_reader *r, const char *name,
			 struct tf_tap_stats **taps, size_t *n);
void tf_trace_reader_free(struct tf_trace_reader *r);

/*
 * What tracing costs: each program of the running session (its skeleton
 * name), with the kernel's run-time statistics, cumulative since it was
 * loaded but counted only while statistics were on (user/trace_cost.c).
 * n 0 when tracing is not loaded.
 */
struct tf_prog_cost {
	char name[64];
	uint32_t id;
	uint64_t runs;		/* bpf_prog_info.run_cnt */
	uint64_t run_ns;	/* bpf_prog_info.run_time_ns */
};
int tf_trace_prog_costs(struct tf_prog_cost **out, size_t *n);
void tf_trace_prog_costs_free(struct tf_prog_cost *c);
/*
 * Turn the statistics on for as long as the returned fd stays open
 * (BPF_ENABLE_STATS); close it to turn them off. Or an error.
 */
int tf_bpf_stats_enable(void);
/* Is the global switch, kernel.bpf_stats_enabled, on? */
bool tf_bpf_stats_sysctl(void);

/* Histogram helpers: bucket k holds values v with 2^k <= v < 2^(k+1)
 * (bucket 0 holds 0 and 1). Upper bound (exclusive) of bucket k is 2^(k+1). */
static inline uint64_t tf_hist_upper(int k) { return k >= 63 ? UINT64_MAX : (uint64_t)1 << (k + 1); }
/* Value at quantile q (0..1) as the upper bound of the bucket reaching it;
 * 0 when the histogram is empty. */
uint64_t tf_hist_quantile(const __u64 *buckets, int n, double q);

#ifdef __cplusplus
}
#endif

#endif
