// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Handing out tracing's counter rows (layout 3, tf_trace_shared.h). A
 * traced tap holds a slot and a run of rows in qcount and hists, one per
 * queue, given out contiguously here by the writer that holds tracing's
 * lock: a tapflow tap gets its configured queues, any other the queues
 * attached now (at least 1). A queue beyond its run counts exactly in
 * qextra/hextra (BPF adds it). A run grows (trace start on a traced tap,
 * or the follower seeing qextra entries) without a count lost or counted
 * twice, though the programs' per-CPU increments cannot be raced by user
 * space writing a live row:
 *
 *   new run N zeroed             (not published: nothing writes it)
 *   slot_rows = {N, 0}           every queue counts in qextra meanwhile
 *   grace period                 no program still writes the old run O
 *   slot_rows = {N, rows}        N is live from here on
 *   grace period                 qextra entries of queues < rows are frozen
 *   carry C' = C + O + entries   all frozen: safe to add; entries deleted
 *
 * so a grown tap holds its live run and one frozen carry run, which the
 * reader adds. Growing in place (the rows after the run are free) skips
 * the first move. A torn read of slot_rows by a program sees a row count
 * no higher than the one that goes with the base it reads: never another
 * tap's rows. The writer holds tracing's lock through all of it and
 * readers take it shared for a read: no read sees a run half-moved. A
 * grace period is membarrier(MEMBARRIER_CMD_GLOBAL), a synchronize_rcu():
 * every tracing program (tracepoint, fentry, kprobe, tcx) runs inside an
 * RCU read-side section, and reads slot_rows when it counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "tf_trace.h"
#include "log.h"

#include "trace_int.h"

struct trace_rows {
	bool slot_used[TF_TRACE_MAX_TAPS];
	struct tf_rows run[TF_TRACE_MAX_TAPS];	/* of the used slots */
	uint8_t *row_used;			/* queue rows, TF_TRACE_MAX_TAPS on */
	uint32_t nrows;				/* queue rows the session has */
	uint32_t row_hint;			/* no free row below it */
	uint32_t slot_hint;
	int ntaps;
	int ncpu;
	void *buf;				/* one row: ncpu per-CPU values, or a tf_qhist */
};

int trace_map_info(int fd, struct bpf_map_info *info)
{
	uint32_t len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

static uint32_t max_entries(int fd)
{
	struct bpf_map_info info;

	return trace_map_info(fd, &info) ? 0 : info.max_entries;
}

uint32_t trace_rows_total(const struct pins *p)
{
	uint32_t n = max_entries(p->qcount);

	return n > TF_TRACE_MAX_TAPS ? n - TF_TRACE_MAX_TAPS : 0;
}

static void mark_run(struct trace_rows *a, uint32_t base, uint32_t rows, uint8_t v)
{
	if (base < TF_TRACE_MAX_TAPS)
		return;
	for (uint32_t i = 0; i < rows; i++) {
		uint32_t row = base + i - TF_TRACE_MAX_TAPS;

		if (row < a->nrows)
			a->row_used[row] = v;
	}
	if (!v && base - TF_TRACE_MAX_TAPS < a->row_hint)
		a->row_hint = base - TF_TRACE_MAX_TAPS;
}

/* A slot's live run and its carry. */
static void mark(struct trace_rows *a, const struct tf_rows *r, uint8_t v)
{
	mark_run(a, r->base, r->rows, v);
	mark_run(a, r->carry_base, r->carry_rows, v);
}

/*
 * Which slots and rows are taken: the traced map in one batch and slot_rows
 * in one range read (a few syscalls at any number of taps: a writer that
 * adds one tap beside 4096 must not pay a syscall per traced one).
 */
int trace_rows_open(const struct pins *p, struct trace_rows **out)
{
	struct tf_traced_key *keys;
	struct tf_traced *vals;
	struct trace_rows *a;
	uint32_t *idx;
	int n;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	keys = calloc(TF_TRACE_MAX_TAPS, sizeof(*keys));
	vals = calloc(TF_TRACE_MAX_TAPS, sizeof(*vals));
	idx = calloc(TF_TRACE_MAX_TAPS, sizeof(*idx));
	if (!a || !keys || !vals || !idx)
		goto oom;
	a->nrows = trace_rows_total(p);
	a->ncpu = libbpf_num_possible_cpus();
	a->row_used = calloc(a->nrows ? a->nrows : 1, 1);
	a->buf = a->ncpu > 0 ? calloc(1, (size_t)a->ncpu * sizeof(struct tf_qcount) +
				      sizeof(struct tf_qhist)) : NULL;
	if (!a->row_used || !a->buf)
		goto oom;
	n = trace_traced_all(p->traced, keys, vals, TF_TRACE_MAX_TAPS);
	if (!tf_map_read_range(p->slot_rows, 0, TF_TRACE_MAX_TAPS, idx, a->run)) {
		for (uint32_t s = 0; s < TF_TRACE_MAX_TAPS; s++)
			if (bpf_map_lookup_elem(p->slot_rows, &s, &a->run[s]))
				memset(&a->run[s], 0, sizeof(a->run[s]));
	}
	for (int i = 0; i < n; i++) {
		uint32_t slot = vals[i].slot;

		if (slot >= TF_TRACE_MAX_TAPS || a->slot_used[slot])
			continue;
		a->slot_used[slot] = true;
		a->ntaps++;
		mark(a, &a->run[slot], 1);
	}
	/* an unused slot's entry says nothing: only the used ones are kept */
	for (uint32_t s = 0; s < TF_TRACE_MAX_TAPS; s++)
		if (!a->slot_used[s])
			memset(&a->run[s], 0, sizeof(a->run[s]));
	free(keys);
	free(vals);
	free(idx);
	*out = a;
	return 0;
oom:
	free(keys);
	free(vals);
	free(idx);
	trace_rows_free(a);
	return tf_err(-ENOMEM, "out of memory");
}

void trace_rows_free(struct trace_rows *a)
{
	if (!a)
		return;
	free(a->row_used);
	free(a->buf);
	free(a);
}

int trace_rows_ntaps(const struct trace_rows *a)
{
	return a->ntaps;
}

int trace_rows_slot(struct trace_rows *a, const char *name, uint32_t *slot)
{
	for (uint32_t s = a->slot_hint; s < TF_TRACE_MAX_TAPS; s++) {
		if (a->slot_used[s])
			continue;
		a->slot_used[s] = true;
		a->run[s] = (struct tf_rows){ 0 };
		a->slot_hint = s + 1;
		a->ntaps++;
		*slot = s;
		return 0;
	}
	return tf_err(-ENOSPC, "cannot trace %s: %d taps are traced already (TF_TRACE_MAX_TAPS, "
		      "the limit)", name, TF_TRACE_MAX_TAPS);
}

/* First fit of n contiguous free rows: *base is a qcount index. */
static int take_rows(struct trace_rows *a, uint32_t n, uint32_t *base)
{
	uint32_t run = 0;

	for (uint32_t r = a->row_hint; r < a->nrows; r++) {
		run = a->row_used[r] ? 0 : run + 1;
		if (run == n) {
			uint32_t first = r + 1 - n;

			memset(a->row_used + first, 1, n);
			if (first == a->row_hint)
				a->row_hint = r + 1;
			*base = TF_TRACE_MAX_TAPS + first;
			return 0;
		}
	}
	return -ENOSPC;
}

static int rows_full(const struct trace_rows *a, const char *name, uint32_t n)
{
	uint32_t used = 0;

	for (uint32_t r = 0; r < a->nrows; r++)
		used += a->row_used[r];
	return tf_err(-ENOSPC, "cannot trace %s: its %u queue rows do not fit, %u of the session's "
		      "%u rows are in use (TAPFLOW_TRACE_ROWS at the first trace start sets the "
		      "limit, default %u)", name, n, used, a->nrows, TF_TRACE_ROWS);
}

/* Zero rows first..first+n-1 of qcount (every CPU's copy) and of hists. */
static int zero_rows(const struct pins *p, struct trace_rows *a, uint32_t first, uint32_t n)
{
	size_t qsz = (size_t)a->ncpu * sizeof(struct tf_qcount);

	memset(a->buf, 0, qsz + sizeof(struct tf_qhist));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t row = first + i;

		if (bpf_map_update_elem(p->qcount, &row, a->buf, BPF_ANY) ||
		    bpf_map_update_elem(p->hists, &row, (char *)a->buf + qsz, BPF_ANY))
			return tf_err(-errno, "cannot reset tracing's row %u: %s", row, strerror(errno));
	}
	return 0;
}

static int set_rows(const struct pins *p, uint32_t slot, const struct tf_rows *r)
{
	if (bpf_map_update_elem(p->slot_rows, &slot, r, BPF_ANY))
		return tf_err(-errno, "cannot set the rows of trace slot %u: %s", slot, strerror(errno));
	return 0;
}

/* A previous tap's entries of this slot in qextra and hextra. */
static void clear_extra(const struct pins *p, uint32_t slot)
{
	int maps[2] = { p->qextra, p->hextra };

	for (int m = 0; m < 2; m++) {
		struct tf_qkey key, next, del[64];
		void *prev = NULL;
		int n = 0;

		while (!bpf_map_get_next_key(maps[m], prev, &next)) {
			key = next;
			prev = &key;
			if (key.slot != slot)
				continue;
			del[n++] = key;
			if (n == (int)ARRAY_SIZE(del)) {
				for (int i = 0; i < n; i++)
					bpf_map_delete_elem(maps[m], &del[i]);
				n = 0;
				prev = NULL;	/* deleting moved the walk: start again */
			}
		}
		for (int i = 0; i < n; i++)
			bpf_map_delete_elem(maps[m], &del[i]);
	}
}

int trace_rows_give_tap(const struct pins *p, struct trace_rows *a, uint32_t slot,
			const char *name, uint32_t queues)
{
	uint32_t base;
	int err;

	if (!queues)
		queues = 1;
	if (queues > TF_MAX_QUEUES)
		queues = TF_MAX_QUEUES;
	if (take_rows(a, queues, &base))
		return rows_full(a, name, queues);
	a->run[slot] = (struct tf_rows){ base, queues, 0, 0 };
	clear_extra(p, slot);
	err = zero_rows(p, a, slot, 1);		/* the spill row */
	if (!err)
		err = zero_rows(p, a, base, queues);
	if (!err)
		err = set_rows(p, slot, &a->run[slot]);
	if (err)
		trace_rows_drop(p, a, slot);
	return err;
}

void trace_rows_drop(const struct pins *p, struct trace_rows *a, uint32_t slot)
{
	static const struct tf_rows none;

	if (slot >= TF_TRACE_MAX_TAPS)
		return;
	set_rows(p, slot, &none);
	clear_extra(p, slot);
	if (!a)
		return;
	mark(a, &a->run[slot], 0);
	a->run[slot] = none;
	if (a->slot_used[slot]) {
		a->slot_used[slot] = false;
		a->ntaps--;
		if (slot < a->slot_hint)
			a->slot_hint = slot;
	}
}

static int grace_period(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		return tf_err(-errno, "cannot wait for running tracing programs (membarrier: %s): "
			      "the tap's new queues keep counting in qextra", strerror(errno));
	return 0;
}

/*
 * Add rows from..from+n-1 onto to..to+n-1, both quiet (not published, or
 * frozen), every CPU's copy and the histograms.
 */
static int add_rows(const struct pins *p, struct trace_rows *a, uint32_t from, uint32_t to,
		    uint32_t n)
{
	size_t qsz = (size_t)a->ncpu * sizeof(struct tf_qcount);
	__u64 *src = a->buf, *dst;
	size_t words = qsz / sizeof(__u64);
	int err = 0;

	dst = calloc(1, qsz + sizeof(struct tf_qhist));
	if (!dst)
		return tf_err(-ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n && !err; i++) {
		uint32_t s = from + i, d = to + i;

		if (bpf_map_lookup_elem(p->qcount, &s, src) || bpf_map_lookup_elem(p->qcount, &d, dst))
			goto fail;
		for (size_t w = 0; w < words; w++)
			dst[w] += src[w];
		if (bpf_map_update_elem(p->qcount, &d, dst, BPF_ANY))
			goto fail;
		if (bpf_map_lookup_elem(p->hists, &s, src) || bpf_map_lookup_elem(p->hists, &d, dst))
			goto fail;
		for (size_t w = 0; w < sizeof(struct tf_qhist) / sizeof(__u64); w++)
			dst[w] += src[w];
		if (bpf_map_update_elem(p->hists, &d, dst, BPF_ANY))
			goto fail;
		continue;
fail:
		err = tf_err(-errno, "cannot carry tracing's row %u over: %s", s, strerror(errno));
	}
	free(dst);
	return err;
}

/*
 * Add the frozen qextra/hextra entries of slot's queues < rows onto carry row
 * base + q, and delete them; any of a higher queue (one that counted only
 * while the run moved) stays in qextra, where the reader adds it.
 */
static int fold_extra(const struct pins *p, struct trace_rows *a, uint32_t slot, uint32_t rows,
		      uint32_t base)
{
	size_t qsz = (size_t)a->ncpu * sizeof(struct tf_qcount);
	struct tf_qkey key, next, *del = NULL;
	__u64 *src = a->buf, *dst;
	uint32_t ndel = 0, cap = 0;
	void *prev = NULL;
	int err = 0;

	dst = calloc(1, qsz + sizeof(struct tf_qhist));
	if (!dst)
		return tf_err(-ENOMEM, "out of memory");
	for (int m = 0; m < 2 && !err; m++) {
		int fd = m ? p->hextra : p->qextra, vfd = m ? p->hists : p->qcount;
		size_t words = (m ? sizeof(struct tf_qhist) : qsz) / sizeof(__u64);

		prev = NULL;
		ndel = 0;
		while (!err && !bpf_map_get_next_key(fd, prev, &next)) {
			uint32_t d;

			key = next;
			prev = &key;
			if (key.slot != slot || key.queue >= rows)
				continue;
			d = base + key.queue;
			if (bpf_map_lookup_elem(fd, &key, src) || bpf_map_lookup_elem(vfd, &d, dst)) {
				err = tf_err(-errno, "cannot carry a queue of slot %u over: %s", slot,
					     strerror(errno));
				break;
			}
			for (size_t w = 0; w < words; w++)
				dst[w] += src[w];
			if (bpf_map_update_elem(vfd, &d, dst, BPF_ANY)) {
				err = tf_err(-errno, "cannot carry a queue of slot %u over: %s", slot,
					     strerror(errno));
				break;
			}
			if (ndel == cap) {
				void *n = realloc(del, (cap = cap ? 2 * cap : 16) * sizeof(*del));

				if (!n) {
					err = tf_err(-ENOMEM, "out of memory");
					break;
				}
				del = n;
			}
			del[ndel++] = key;
		}
		/* deleted only once all are added: a walk is not disturbed */
		for (uint32_t i = 0; i < ndel; i++)
			bpf_map_delete_elem(fd, &del[i]);
	}
	free(del);
	free(dst);
	return err;
}

/* 1 + the highest queue < rows that slot has in qextra (0: none). */
static uint32_t extra_rows(const struct pins *p, uint32_t slot, uint32_t rows)
{
	struct tf_qkey key, next;
	void *prev = NULL;
	uint32_t n = 0;

	for (int m = 0; m < 2; m++) {
		prev = NULL;
		while (!bpf_map_get_next_key(m ? p->hextra : p->qextra, prev, &next)) {
			key = next;
			prev = &key;
			if (key.slot == slot && key.queue < rows && key.queue + 1 > n)
				n = key.queue + 1;
		}
	}
	return n;
}

int trace_rows_grow(const struct pins *p, struct trace_rows *a, uint32_t slot,
		    const char *name, uint32_t want)
{
	struct tf_rows old, nr;
	uint32_t r, crows;
	int err;

	if (slot >= TF_TRACE_MAX_TAPS || !a->slot_used[slot])
		return 0;
	old = a->run[slot];
	if (want > TF_MAX_QUEUES)
		want = TF_MAX_QUEUES;
	if (want <= old.rows)
		return 0;
	nr = old;
	nr.rows = want;
	/* In place when the rows after the run are free: nothing but qextra moves. */
	for (r = old.rows; r < want; r++) {
		uint32_t i = old.base + r - TF_TRACE_MAX_TAPS;

		if (old.base < TF_TRACE_MAX_TAPS || i >= a->nrows || a->row_used[i])
			break;
	}
	if (r != want) {
		if (take_rows(a, want, &nr.base))
			return rows_full(a, name, want);
	} else {
		mark_run(a, old.base + old.rows, want - old.rows, 1);
	}
	/* the carry: what the old run, the old carry and qextra hold, by queue */
	crows = extra_rows(p, slot, want);
	if (old.carry_rows > crows)
		crows = old.carry_rows;
	if (nr.base != old.base && old.rows > crows)
		crows = old.rows;
	nr.carry_base = 0;
	if (crows && take_rows(a, crows, &nr.carry_base)) {
		mark_run(a, nr.base == old.base ? old.base + old.rows : nr.base,
			 nr.base == old.base ? want - old.rows : want, 0);
		return rows_full(a, name, crows);
	}
	nr.carry_rows = crows;
	err = crows ? zero_rows(p, a, nr.carry_base, crows) : 0;
	if (!err && nr.base != old.base)
		err = zero_rows(p, a, nr.base, want);
	else if (!err)
		err = zero_rows(p, a, old.base + old.rows, want - old.rows);
	if (!err && nr.base != old.base) {
		struct tf_rows moving = { nr.base, 0, old.carry_base, old.carry_rows };

		err = set_rows(p, slot, &moving);
		if (!err)
			err = grace_period();
	}
	if (!err)
		err = set_rows(p, slot, &(struct tf_rows){ nr.base, want, old.carry_base, old.carry_rows });
	if (!err)
		err = grace_period();
	if (err) {
		/*
		 * The new rows have counted nothing yet unless the last grace
		 * period failed; back to the old run, which holds every count
		 * up to the move (what counted meanwhile is in qextra).
		 */
		set_rows(p, slot, &old);
		if (crows)
			mark_run(a, nr.carry_base, crows, 0);
		if (nr.base != old.base)
			mark_run(a, nr.base, want, 0);
		else
			mark_run(a, old.base + old.rows, want - old.rows, 0);
		return err;
	}
	/* Everything but the live run is frozen now: add it up into the carry. */
	if (old.carry_rows)
		err = add_rows(p, a, old.carry_base, nr.carry_base, old.carry_rows);
	if (!err && nr.base != old.base)
		err = add_rows(p, a, old.base, nr.carry_base, old.rows);
	if (!err)
		err = crows ? fold_extra(p, a, slot, crows, nr.carry_base) : 0;
	if (!err)
		err = set_rows(p, slot, &nr);
	if (err)
		/*
		 * Updates of preallocated arrays fail only for a bug: the rows
		 * stay taken, and the error says so; the counts of the run left
		 * behind no longer read.
		 */
		return err;
	mark_run(a, old.carry_base, old.carry_rows, 0);
	if (nr.base != old.base)
		mark_run(a, old.base, old.rows, 0);
	a->run[slot] = nr;
	pr_debug("trace: %s's run %u+%u -> %u+%u, carry %u+%u", name, old.base, old.rows,
		 nr.base, nr.rows, nr.carry_base, nr.carry_rows);
	return 0;
}
