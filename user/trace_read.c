// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reading tracing's counters back from the pins, from any process: one
 * read (tf_trace_read) or a reader kept from one read to the next (the
 * exporter's scrapes), which sums the per-CPU rows of each traced tap into
 * per-queue stats.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "tf_trace.h"
#include "log.h"

#include "tap_watch.h"
#include "trace_int.h"

static bool qcount_zero(const struct tf_qcount *c)
{
	static const struct tf_qcount z;

	return !memcmp(c, &z, sizeof(z));
}

/*
 * A scrape reads every traced tap, up to TF_TRACE_MAX_TAPS of them: it reads
 * each map whole, in batches of ROW_CHUNK rows, rather than a few syscalls
 * per tap, and sums the per-CPU copies into one row each. A reader keeps
 * from one read to the next what does not change between them: the pins
 * and its buffers. What it keeps is checked, not trusted: the session by
 * the map id behind the meta pin (stop and start again is new maps; an fd
 * on the old ones would read counters nobody updates). One fd per pinned
 * map, however many taps: nothing per tap is held open.
 */
#define ROW_CHUNK 512

struct extra {
	struct tf_qkey k;
	struct tf_qcount c;		/* summed over CPUs */
	struct tf_qhist h;
};

struct tf_trace_reader {
	struct pins p;			/* -1 while tracing is not loaded */
	uint32_t meta_id;		/* map id of p.meta */
	int ncpu;
	void *chunk;			/* ROW_CHUNK per-CPU rows */
	uint32_t *keys;			/* ROW_CHUNK keys, or TF_TRACE_MAX_TAPS */
	struct tf_qcount *rc;		/* every row, summed over CPUs */
	struct tf_qhist *rh;		/* every row's histogram */
	uint32_t nrow_cap;		/* rows rc and rh have room for */
	struct extra *x;		/* qextra and hextra, sorted by key */
	uint32_t nx, x_cap;
	struct tf_rows *run;		/* slot_rows, by slot */
	struct tf_traced_key *tkey;
	struct tf_traced *tval;
	struct tf_tap_stats *taps;	/* what a read hands out */
	struct tf_queue_stats **q;	/* their queue arrays, reused */
	uint32_t *qcap;
	struct tap_watch *links;	/* this namespace's taps, kept by link events */
};

int tf_trace_reader_new(struct tf_trace_reader **out)
{
	struct tf_trace_reader *r = calloc(1, sizeof(*r));
	size_t n = TF_TRACE_MAX_TAPS;

	*out = NULL;
	if (!r)
		return tf_err(-ENOMEM, "out of memory");
	r->p = (struct pins)PINS_NONE;
	r->ncpu = libbpf_num_possible_cpus();
	if (r->ncpu <= 0) {
		free(r);
		return tf_err(-EINVAL, "cannot count CPUs");
	}
	r->chunk = calloc((size_t)ROW_CHUNK * r->ncpu, sizeof(struct tf_qcount));
	r->keys = calloc(n > ROW_CHUNK ? n : ROW_CHUNK, sizeof(uint32_t));
	r->run = calloc(n, sizeof(*r->run));
	r->tkey = calloc(n, sizeof(*r->tkey));
	r->tval = calloc(n, sizeof(*r->tval));
	r->taps = calloc(n, sizeof(*r->taps));
	r->q = calloc(n, sizeof(*r->q));
	r->qcap = calloc(n, sizeof(*r->qcap));
	if (!r->chunk || !r->keys || !r->run || !r->tkey || !r->tval || !r->taps || !r->q || !r->qcap) {
		tf_trace_reader_free(r);
		return tf_err(-ENOMEM, "out of memory");
	}
	*out = r;
	return 0;
}

static void reader_close(struct tf_trace_reader *r)
{
	trace_close_pins(&r->p);
	r->meta_id = 0;
}

void tf_trace_reader_free(struct tf_trace_reader *r)
{
	if (!r)
		return;
	reader_close(r);
	tap_watch_free(r->links);
	for (int i = 0; r->q && i < TF_TRACE_MAX_TAPS; i++)
		free(r->q[i]);
	free(r->q);
	free(r->qcap);
	free(r->chunk);
	free(r->keys);
	free(r->rc);
	free(r->rh);
	free(r->x);
	free(r->run);
	free(r->tkey);
	free(r->tval);
	free(r->taps);
	free(r);
}

/* 0 when the kernel does not say. */
static uint32_t map_id(int fd)
{
	struct bpf_map_info info;

	return trace_map_info(fd, &info) ? 0 : info.id;
}

/*
 * Have r's pins open on the session running now: those of the last read
 * while the meta pin still holds the same map (three syscalls instead of
 * sixteen), all opened afresh otherwise. 0, -ENOENT (not loaded: nothing
 * kept) or an error.
 */
static int reader_pins(struct tf_trace_reader *r)
{
	char path[256];
	uint32_t id;
	int fd, err;

	if (r->p.meta >= 0) {
		snprintf(path, sizeof(path), "%s/meta", TF_TRACE_PIN_DIR);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = errno;
			reader_close(r);
			if (err == ENOENT)
				return -ENOENT;
			return tf_err(-err, "cannot open %s: %s", path, strerror(err));
		}
		id = map_id(fd);
		close(fd);
		if (id && id == r->meta_id)
			return 0;
		reader_close(r);
	}
	err = trace_open_pins_shared(&r->p);
	if (err)
		return err;
	r->meta_id = map_id(r->p.meta);
	return 0;
}

/* Every traced tap into r->tkey/tval; returns how many. */
static int read_traced(struct tf_trace_reader *r)
{
	return trace_traced_all(r->p.traced, r->tkey, r->tval, TF_TRACE_MAX_TAPS);
}

/* Rows first..first+n-1 of an array map into vals (vsize bytes each); 0 or -errno. */
static int read_rows(struct tf_trace_reader *r, int fd, uint32_t first, uint32_t n, void *vals,
		     size_t vsize)
{
	if (tf_map_read_range(fd, first, n, r->keys, vals))
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = first + i;

		if (bpf_map_lookup_elem(fd, &k, (char *)vals + i * vsize))
			return -errno;
	}
	return 0;
}

/*
 * A histogram map that exists but cannot be read must not read as empty
 * histograms: name what is missing.
 */
static int rows_err(int e, const char *what)
{
	if ((e == EPERM || e == EACCES) && !tf_have_cap(TF_CAP_SYS_ADMIN))
		return tf_require_cap(TF_CAP_SYS_ADMIN, "reading the ring-wait histograms");
	return tf_err(-e, "cannot read tracing's %s: %s", what, strerror(e));
}

/* Room in r->rc, r->rh for rows 0..nrows-1. */
static int reader_rows(struct tf_trace_reader *r, uint32_t nrows)
{
	struct tf_qcount *c;
	struct tf_qhist *h;

	if (nrows <= r->nrow_cap)
		return 0;
	c = realloc(r->rc, (size_t)nrows * sizeof(*c));
	if (c)
		r->rc = c;
	h = realloc(r->rh, (size_t)nrows * sizeof(*h));
	if (h)
		r->rh = h;
	if (!c || !h)
		return tf_err(-ENOMEM, "out of memory");
	r->nrow_cap = nrows;
	return 0;
}

/* qcount (and hists, if asked) rows lo..hi-1 into r->rc, r->rh (by row). */
static int read_row_range(struct tf_trace_reader *r, uint32_t lo, uint32_t hi, bool hists)
{
	size_t vsz = (size_t)r->ncpu * sizeof(struct tf_qcount);
	int err;

	for (uint32_t at = lo; at < hi; at += ROW_CHUNK) {
		uint32_t n = hi - at < ROW_CHUNK ? hi - at : ROW_CHUNK;

		err = read_rows(r, r->p.qcount, at, n, r->chunk, vsz);
		if (err)
			return rows_err(-err, "counter rows");
		memset(&r->rc[at], 0, n * sizeof(*r->rc));	/* the sum adds */
		for (uint32_t i = 0; i < n; i++)
			tf_percpu_sum((char *)r->chunk + i * vsz, r->ncpu, sizeof(struct tf_qcount),
				      &r->rc[at + i]);
		err = hists ? read_rows(r, r->p.hists, at, n, &r->rh[at], sizeof(struct tf_qhist)) : 0;
		if (err)
			return rows_err(-err, "histogram rows");
	}
	return 0;
}

static int qkey_cmp(const void *a, const void *b)
{
	const struct tf_qkey *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->queue < y->queue ? -1 : x->queue > y->queue;
}

/* The entry for k in r->x, made if asked to. */
static struct extra *extra_at(struct tf_trace_reader *r, const struct tf_qkey *k, bool make)
{
	struct extra *e;

	if (r->nx) {
		e = bsearch(k, r->x, r->nx, sizeof(*r->x), qkey_cmp);
		if (e || !make)
			return e;
	}
	if (!make)
		return NULL;
	if (r->nx == r->x_cap) {
		uint32_t cap = r->x_cap ? 2 * r->x_cap : 64;

		e = realloc(r->x, cap * sizeof(*e));
		if (!e)
			return NULL;
		r->x = e;
		r->x_cap = cap;
	}
	e = &r->x[r->nx++];
	memset(e, 0, sizeof(*e));
	e->k = *k;
	return e;
}

/*
 * qextra and hextra whole: usually empty (one syscall each). Walked key by
 * key: they hold at most TAPFLOW_TRACE_EXTRA entries, of queues that came
 * after their tap's rows were given.
 */
static int read_extra(struct tf_trace_reader *r)
{
	struct tf_qkey key, next;
	void *prev = NULL;

	r->nx = 0;
	while (!bpf_map_get_next_key(r->p.qextra, prev, &next)) {
		struct extra *e;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(r->p.qextra, &key, r->chunk))
			continue;
		if (!(e = extra_at(r, &key, true)))
			return tf_err(-ENOMEM, "out of memory");
		tf_percpu_sum(r->chunk, r->ncpu, sizeof(struct tf_qcount), &e->c);
	}
	if (r->nx)
		qsort(r->x, r->nx, sizeof(*r->x), qkey_cmp);
	prev = NULL;
	while (!bpf_map_get_next_key(r->p.hextra, prev, &next)) {
		struct extra *e;
		struct tf_qhist h;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(r->p.hextra, &key, &h))
			continue;
		if (!(e = extra_at(r, &key, false))) {
			/* a histogram without counts yet (its packet is being counted) */
			if (!(e = extra_at(r, &key, true)))
				return tf_err(-ENOMEM, "out of memory");
			qsort(r->x, r->nx, sizeof(*r->x), qkey_cmp);
			e = extra_at(r, &key, false);
		}
		e->h = h;
	}
	return 0;
}

/*
 * Everything a read needs from the maps, under tracing's lock taken
 * shared: a writer moving a tap's rows (trace_rows.c) holds it for the
 * whole move, so no read sees a run half-moved.
 */
static int read_maps(struct tf_trace_reader *r, int *ntraced)
{
	struct tf_pin lock;
	uint32_t lo = UINT32_MAX, hi = 0, nslots = 0;
	int err = tf_pin_open(&lock, &trace_layout, 0, 0, TF_PIN_READ);

	if (err)
		return err;
	*ntraced = read_traced(r);
	/* slots are handed out lowest first: read slot_rows up to the highest in use */
	for (int t = 0; t < *ntraced; t++)
		if (r->tval[t].slot < TF_TRACE_MAX_TAPS && r->tval[t].slot + 1 > nslots)
			nslots = r->tval[t].slot + 1;
	err = read_rows(r, r->p.slot_rows, 0, nslots, r->run, sizeof(*r->run));
	if (err) {
		err = tf_err(err, "cannot read tracing's slot_rows: %s", strerror(-err));
		goto out;
	}
	/* the rows the taps' runs and carries span: dense, as they are handed out */
	for (int t = 0; t < *ntraced; t++) {
		const struct tf_rows *run = &r->run[r->tval[t].slot % TF_TRACE_MAX_TAPS];

		if (run->rows) {
			lo = run->base < lo ? run->base : lo;
			hi = run->base + run->rows > hi ? run->base + run->rows : hi;
		}
		if (run->carry_rows) {
			lo = run->carry_base < lo ? run->carry_base : lo;
			hi = run->carry_base + run->carry_rows > hi ? run->carry_base + run->carry_rows : hi;
		}
	}
	err = reader_rows(r, hi > TF_TRACE_MAX_TAPS ? hi : TF_TRACE_MAX_TAPS);
	if (!err && hi > lo)
		err = read_row_range(r, lo, hi, true);
	if (err)
		goto out;
	/*
	 * The spill rows of the slots in use (slots are handed out lowest
	 * first): their counts only. A spill row's histogram is never read
	 * back, and at 4096 taps it was half of the bytes a read copied.
	 */
	if (nslots)
		err = read_row_range(r, 0, nslots, false);
	if (!err)
		err = read_extra(r);
out:
	tf_pin_close(&lock);
	return err;
}

static void add_qcount(struct tf_qcount *to, const struct tf_qcount *c)
{
	const __u64 *s = (const __u64 *)c;
	__u64 *d = (__u64 *)to;

	for (size_t i = 0; i < sizeof(*c) / sizeof(__u64); i++)
		d[i] += s[i];
}

static void add_qhist(struct tf_qhist *to, const struct tf_qhist *h)
{
	const __u64 *s = (const __u64 *)h;
	__u64 *d = (__u64 *)to;

	for (size_t i = 0; i < sizeof(*h) / sizeof(__u64); i++)
		d[i] += s[i];
}

/*
 * This namespace's taps as they are now: the reader's view kept by link
 * events (tap_watch.c), made on the first read and again when the reader
 * is used from another namespace. A scrape of 4096 taps then reads the
 * few links that changed, not a dump of all of them (most of its time).
 */
static int local_taps(struct tf_trace_reader *r, uint32_t my_ns, const struct tap_brief **taps,
		      size_t *n)
{
	int err;

	*taps = NULL;
	*n = 0;
	if (r->links && tap_watch_netns(r->links) != my_ns) {
		tap_watch_free(r->links);
		r->links = NULL;
	}
	if (!r->links && (err = tap_watch_new(&r->links)))
		return err;
	return tap_watch_sync(r->links, taps, n);
}

/*
 * Is the network namespace of a tap traced from elsewhere still there? A
 * deleted namespace takes its taps with it: they are gone, and leave the
 * export, though only a start from a live namespace frees their slots.
 * One answer per namespace per read (tf_netns_alive() walks /proc).
 */
static bool netns_alive_cached(uint32_t ns, uint32_t cache[][2], int *ncache)
{
	for (int k = 0; k < *ncache; k++)
		if (cache[k][0] == ns)
			return cache[k][1];
	if (*ncache < 16) {
		cache[*ncache][0] = ns;
		cache[*ncache][1] = tf_netns_alive(ns);
		return cache[(*ncache)++][1];
	}
	return tf_netns_alive(ns);
}

/* Read the tap of r->tkey/tval[t] into r->taps[i]. */
static int read_tap(struct tf_trace_reader *r, size_t i, int t, uint32_t my_ns,
		    const struct tap_brief *local, size_t nlocal,
		    const struct tf_trace_meta *m, uint32_t ns_cache[][2], int *nns)
{
	const struct tf_traced_key *key = &r->tkey[t];
	const struct tf_traced *val = &r->tval[t];
	struct tf_tap_stats *ts = &r->taps[i];
	uint32_t limit, conf = 0;
	struct tf_rows run;

	memset(ts, 0, sizeof(*ts));
	/* not snprintf: ts and val both live in r, which -Wrestrict cannot tell apart */
	memcpy(ts->name, val->name, sizeof(ts->name) - 1);
	ts->name[sizeof(ts->name) - 1] = '\0';
	ts->netns = key->netns;
	ts->ifindex = key->ifindex;
	ts->backend = m->backend;
	ts->rx_ns = m->rx_ns;
	ts->since_ns = val->since_ns;
	ts->slot = val->slot;
	ts->ring_size = val->ring_size;
	ts->ring_queues = val->ring_queues;
	ts->local = key->netns == my_ns;
	if (ts->local) {
		/*
		 * The programs count by ifindex, so the device is the one at
		 * that index, under whatever name it has now (ip link set NAME
		 * name NEW): the reader follows it.
		 */
		const struct tap_brief *ti = tap_watch_find(local, nlocal, (int)key->ifindex);

		if (ti) {
			ts->queues_attached = ti->queues_attached;
			memcpy(ts->name, ti->name, sizeof(ts->name));
			/* a tapflow tap's queues are listed even before a backend holds them */
			conf = ti->conf_queues;
		} else {
			ts->gone = true;
		}
	} else {
		ts->gone = !netns_alive_cached(key->netns, ns_cache, nns);
	}
	run = r->run[val->slot % TF_TRACE_MAX_TAPS];
	ts->rows = run.rows;
	ts->noqueue = r->rc[val->slot % TF_TRACE_MAX_TAPS];
	limit = val->queues_seen;
	if (conf > limit)
		limit = conf;
	if (ts->queues_attached > limit)
		limit = ts->queues_attached;
	if (run.rows > limit)
		limit = run.rows;
	if (limit > TF_MAX_QUEUES)
		limit = TF_MAX_QUEUES;
	if (r->qcap[i] < (limit ? limit : 1)) {
		struct tf_queue_stats *q = realloc(r->q[i], (limit ? limit : 1) * sizeof(*q));

		if (!q)
			return tf_err(-ENOMEM, "out of memory");
		r->q[i] = q;
		r->qcap[i] = limit ? limit : 1;
	}
	ts->q = r->q[i];
	for (uint32_t q = 0; q < limit; q++) {
		struct tf_queue_stats *qs = &ts->q[ts->nqueues];
		struct tf_qkey k = { val->slot, q };
		const struct extra *e = r->nx ? extra_at(r, &k, false) : NULL;

		memset(qs, 0, sizeof(*qs));
		qs->queue = q;
		qs->attached = q < ts->queues_attached;
		/* a queue's row, and what it counted before it had one (qextra) ... */
		if (q < run.rows) {
			qs->c = r->rc[run.base + q];
			qs->h = r->rh[run.base + q];
		}
		/* ... what it counted before its run last moved */
		if (q < run.carry_rows) {
			add_qcount(&qs->c, &r->rc[run.carry_base + q]);
			add_qhist(&qs->h, &r->rh[run.carry_base + q]);
		}
		if (e) {
			add_qcount(&qs->c, &e->c);
			add_qhist(&qs->h, &e->h);
			ts->queues_extra++;
		}
		for (int d = 0; d < TF_DROP__MAX; d++)
			qs->tx_drops += qs->c.tx_drops[d];
		if (!qs->attached && q >= conf && qcount_zero(&qs->c))
			continue;
		ts->nqueues++;
	}
	return 0;
}

int tf_trace_reader_read(struct tf_trace_reader *r, const char *name,
			 struct tf_tap_stats **taps, size_t *n)
{
	const struct tap_brief *local = NULL;
	struct tf_trace_meta m;
	uint32_t my_ns = trace_netns();
	size_t cnt = 0, nlocal = 0;
	uint32_t ns_cache[16][2];
	int ntraced, err, nns = 0;

	*taps = NULL;
	*n = 0;
	err = reader_pins(r);
	if (err == -ENOENT)
		return name ? tf_err(-ENOENT, "tracing is not running (tapflow trace start %s)", name) : 0;
	if (err)
		return err;
	err = trace_read_meta(&r->p, &m);
	if (err)
		return err;
	/* the taps as they are now: no device found reads as gone */
	if (local_taps(r, my_ns, &local, &nlocal))
		pr_debug("trace: %s", tf_errmsg());
	err = read_maps(r, &ntraced);
	if (err)
		goto out;
	for (int t = 0; t < ntraced; t++) {
		const struct tf_traced_key *key = &r->tkey[t];
		const struct tf_traced *val = &r->tval[t];

		/*
		 * NAME is the device of that name now, wherever its ifindex; or
		 * a tap traced under that name that is gone (deleted since).
		 */
		if (name) {
			const struct tap_brief *ti;

			if (key->netns != my_ns)
				continue;
			ti = tap_watch_find(local, nlocal, (int)key->ifindex);
			if (ti ? strcmp(ti->name, name)
			       : strncmp(val->name, name, sizeof(val->name)))
				continue;
		}
		err = read_tap(r, cnt, t, my_ns, local, nlocal, &m, ns_cache, &nns);
		if (err)
			goto out;
		cnt++;
	}
	if (name && !cnt) {
		err = tf_err(-ENOENT, "tap '%s' is not traced (tapflow trace start %s)", name, name);
		goto out;
	}
	*taps = cnt ? r->taps : NULL;
	*n = cnt;
out:
	return err;
}

int tf_trace_read(const char *name, struct tf_tap_stats **taps, size_t *n)
{
	struct tf_trace_reader *r;
	struct tf_tap_stats *t;
	size_t cnt;
	int err;

	*taps = NULL;
	*n = 0;
	err = tf_trace_reader_new(&r);
	if (err)
		return err;
	err = tf_trace_reader_read(r, name, &t, &cnt);
	if (!err && cnt) {
		*taps = malloc(cnt * sizeof(*t));
		if (*taps) {
			memcpy(*taps, t, cnt * sizeof(*t));
			/* The queue arrays go with the copy, for tf_trace_stats_free(). */
			for (size_t i = 0; i < cnt; i++) {
				r->q[i] = NULL;
				r->qcap[i] = 0;
			}
			*n = cnt;
		} else {
			err = tf_err(-ENOMEM, "out of memory");
		}
	}
	tf_trace_reader_free(r);
	return err;
}

void tf_trace_stats_free(struct tf_tap_stats *taps, size_t n)
{
	if (!taps)
		return;
	for (size_t i = 0; i < n; i++)
		free(taps[i].q);
	free(taps);
}
