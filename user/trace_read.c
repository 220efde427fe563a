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

#include "trace_int.h"

static bool qcount_zero(const struct tf_qcount *c)
{
	static const struct tf_qcount z;

	return !memcmp(c, &z, sizeof(z));
}

/*
 * A scrape reads every traced tap, so its cost is what reading one tap costs
 * times 64. A reader keeps from one read to the next what does not change
 * between them: the pins, each slot's histogram map fd, scratch rows and the
 * arrays it hands out. What it keeps is checked, not trusted: the session by
 * the map id behind the meta pin (stop and start again is new maps; an fd
 * on the old ones would read counters nobody updates), and each histogram
 * map by the id hists[slot] holds now (a slot given to another tap has a
 * new map). An id cannot come back while we hold an fd on its map, so equal
 * ids are the same map.
 */
struct hist_fd {
	uint32_t id;			/* the map hists[slot] held when fd was opened */
	int fd;				/* -1: none */
};

struct tf_trace_reader {
	struct pins p;			/* -1 while tracing is not loaded */
	uint32_t meta_id;		/* map id of p.meta */
	struct hist_fd hist[TF_TRACE_MAX_TAPS];	/* by slot */
	int ncpu;
	void *counts;			/* one tap's qcount rows, ncpu values each */
	struct tf_qhist *hists;		/* one tap's histogram rows */
	uint32_t rows;			/* rows counts and hists have room for */
	uint32_t keys[TF_MAX_QUEUES];
	struct tf_traced_key tkey[TF_TRACE_MAX_TAPS];
	struct tf_traced tval[TF_TRACE_MAX_TAPS];
	struct tf_tap_stats taps[TF_TRACE_MAX_TAPS];	/* what a read hands out */
	struct tf_queue_stats *q[TF_TRACE_MAX_TAPS];	/* their queue arrays, reused */
	uint32_t qcap[TF_TRACE_MAX_TAPS];
};

int tf_trace_reader_new(struct tf_trace_reader **out)
{
	struct tf_trace_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return tf_err(-ENOMEM, "out of memory");
	r->ncpu = libbpf_num_possible_cpus();
	if (r->ncpu <= 0) {
		free(r);
		return tf_err(-EINVAL, "cannot count CPUs");
	}
	r->p = (struct pins){ -1, -1, -1, -1, -1 };
	for (int s = 0; s < TF_TRACE_MAX_TAPS; s++)
		r->hist[s].fd = -1;
	*out = r;
	return 0;
}

/* Close the histogram maps of the slots not in keep (NULL: all). */
static void reader_drop_hists(struct tf_trace_reader *r, const bool *keep)
{
	for (int s = 0; s < TF_TRACE_MAX_TAPS; s++) {
		if ((keep && keep[s]) || r->hist[s].fd < 0)
			continue;
		close(r->hist[s].fd);
		r->hist[s] = (struct hist_fd){ 0, -1 };
	}
}

static void reader_close(struct tf_trace_reader *r)
{
	reader_drop_hists(r, NULL);
	trace_close_pins(&r->p);
	r->meta_id = 0;
}

void tf_trace_reader_free(struct tf_trace_reader *r)
{
	if (!r)
		return;
	reader_close(r);
	for (int i = 0; i < TF_TRACE_MAX_TAPS; i++)
		free(r->q[i]);
	free(r->counts);
	free(r->hists);
	free(r);
}

/* 0 when the kernel does not say. */
static uint32_t map_id(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/*
 * Have r's pins open on the session running now: those of the last read
 * while the meta pin still holds the same map (three syscalls instead of
 * ten), all five opened afresh otherwise. 0, -ENOENT (not loaded: nothing
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

/*
 * Every traced tap into r->tkey/tval; returns how many. One batch lookup
 * takes the whole map (it holds at most TF_TRACE_MAX_TAPS) in the order
 * get_next_key walks it, instead of two syscalls per tap; key by key where
 * the kernel has no batch ops for hashes.
 */
static int read_traced(struct tf_trace_reader *r)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	uint32_t count = TF_TRACE_MAX_TAPS, out;
	struct tf_traced_key key;
	void *prev = NULL;
	int n = 0;

	if (!bpf_map_lookup_batch(r->p.traced, NULL, &out, r->tkey, r->tval, &count, &o) ||
	    errno == ENOENT)
		return count;
	while (n < TF_TRACE_MAX_TAPS && !bpf_map_get_next_key(r->p.traced, prev, &r->tkey[n])) {
		key = r->tkey[n];
		prev = &key;
		if (!bpf_map_lookup_elem(r->p.traced, &key, &r->tval[n]))
			n++;
	}
	return n;
}

/* The histogram map of a slot, or -1 when it has none. */
/* 0 with *fd the slot's histogram map (-1: none), or a negative errno. */
static int slot_hist_fd(struct tf_trace_reader *r, uint32_t slot, int *fd)
{
	struct hist_fd *h;
	uint32_t id = 0;

	*fd = -1;
	if (slot >= TF_TRACE_MAX_TAPS)
		return 0;
	h = &r->hist[slot];
	if (bpf_map_lookup_elem(r->p.hists, &slot, &id))
		id = 0;
	if (h->fd >= 0 && h->id == id) {
		*fd = h->fd;
		return 0;
	}
	if (h->fd >= 0)
		close(h->fd);
	h->fd = id ? bpf_map_get_fd_by_id(id) : -1;
	h->id = h->fd >= 0 ? id : 0;
	/*
	 * A histogram map that exists but cannot be opened must not read as
	 * empty histograms: the kernel opens a map by id for CAP_SYS_ADMIN only.
	 */
	if (id && h->fd < 0) {
		int e = errno;

		if ((e == EPERM || e == EACCES) && !tf_have_cap(TF_CAP_SYS_ADMIN))
			return tf_require_cap(TF_CAP_SYS_ADMIN, "reading the ring-wait histograms");
		return tf_err(-e, "cannot open the histogram map of trace slot %u: %s", slot, strerror(e));
	}
	*fd = h->fd;
	return 0;
}

/* Room for rows qcount and histogram rows in the scratch buffers. */
static int reader_rows(struct tf_trace_reader *r, uint32_t rows)
{
	void *c, *h;

	if (rows <= r->rows)
		return 0;
	c = realloc(r->counts, (size_t)rows * r->ncpu * sizeof(struct tf_qcount));
	if (c)
		r->counts = c;
	h = realloc(r->hists, (size_t)rows * sizeof(struct tf_qhist));
	if (h)
		r->hists = h;
	if (!c || !h)
		return tf_err(-ENOMEM, "out of memory");
	r->rows = rows;
	return 0;
}

/* The tap of this netns at ifindex, if it is still there (by any name). */
static const struct tf_tap_info *local_tap(const struct tf_tap_info *local, size_t nlocal,
					   uint32_t ifindex)
{
	for (size_t k = 0; k < nlocal; k++)
		if (local[k].ifindex == (int)ifindex)
			return &local[k];
	return NULL;
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
		    const struct tf_tap_info *local, size_t nlocal,
		    const struct tf_trace_meta *m, uint32_t ns_cache[][2], int *nns)
{
	const struct tf_traced_key *key = &r->tkey[t];
	const struct tf_traced *val = &r->tval[t];
	struct tf_tap_stats *ts = &r->taps[i];
	bool have_counts = false, have_hists = false;
	uint32_t limit, conf = 0;
	int hfd, err;

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
		const struct tf_tap_info *ti = local_tap(local, nlocal, key->ifindex);

		if (ti) {
			ts->queues_attached = ti->queues_attached;
			memcpy(ts->name, ti->name, sizeof(ts->name));
			/* a tapflow tap's queues are listed even before a backend holds them */
			conf = ti->by_tapflow ? ti->conf.queues : 0;
		} else {
			ts->gone = true;
		}
	} else {
		ts->gone = !netns_alive_cached(key->netns, ns_cache, nns);
	}
	limit = val->queues_seen;
	if (conf > limit)
		limit = conf;
	if (ts->queues_attached > limit)
		limit = ts->queues_attached;
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
	err = reader_rows(r, limit ? limit : 1);
	if (err)
		return err;
	err = slot_hist_fd(r, val->slot, &hfd);
	if (err)
		return err;
	/*
	 * Two batch lookups per tap (its qcount rows, its histogram map)
	 * instead of two syscalls per queue: what a scrape of many taps costs.
	 */
	if (limit) {
		have_counts = tf_map_read_range(r->p.qcount, val->slot * TF_MAX_QUEUES, limit,
						r->keys, r->counts);
		if (hfd >= 0)
			have_hists = tf_map_read_range(hfd, 0, limit, r->keys, r->hists);
	}
	for (uint32_t q = 0; q < limit; q++) {
		struct tf_queue_stats *qs = &ts->q[ts->nqueues];
		uint32_t idx = val->slot * TF_MAX_QUEUES + q;
		const struct tf_qcount *row = NULL;

		memset(qs, 0, sizeof(*qs));
		qs->queue = q;
		qs->attached = q < ts->queues_attached;
		if (have_counts)
			row = (const struct tf_qcount *)r->counts + (size_t)q * r->ncpu;
		else if (!bpf_map_lookup_elem(r->p.qcount, &idx, r->counts))
			row = r->counts;
		if (row)
			tf_percpu_sum(row, r->ncpu, sizeof(*row), &qs->c);
		for (int d = 0; d < TF_DROP__MAX; d++)
			qs->tx_drops += qs->c.tx_drops[d];
		if (!qs->attached && q >= conf && qcount_zero(&qs->c))
			continue;
		if (have_hists)
			qs->h = r->hists[q];
		else if (hfd >= 0)
			bpf_map_lookup_elem(hfd, &q, &qs->h);
		ts->nqueues++;
	}
	return 0;
}

int tf_trace_reader_read(struct tf_trace_reader *r, const char *name,
			 struct tf_tap_stats **taps, size_t *n)
{
	bool seen[TF_TRACE_MAX_TAPS] = { false };
	struct tf_tap_info *local = NULL;
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
	/* One netlink dump for every tap of this netns, not a request per tap. */
	if (tf_tap_list(&local, &nlocal)) {
		local = NULL;
		nlocal = 0;
	}
	ntraced = read_traced(r);
	for (int t = 0; t < ntraced; t++) {
		const struct tf_traced_key *key = &r->tkey[t];
		const struct tf_traced *val = &r->tval[t];

		/*
		 * NAME is the device of that name now, wherever its ifindex; or
		 * a tap traced under that name that is gone (deleted since).
		 */
		if (name) {
			const struct tf_tap_info *ti;

			if (key->netns != my_ns)
				continue;
			ti = local_tap(local, nlocal, key->ifindex);
			if (ti ? strcmp(ti->name, name)
			       : strncmp(val->name, name, sizeof(val->name)))
				continue;
		}
		if (val->slot < TF_TRACE_MAX_TAPS)
			seen[val->slot] = true;
		err = read_tap(r, cnt, t, my_ns, local, nlocal, &m, ns_cache, &nns);
		if (err)
			goto out;
		cnt++;
	}
	/* A slot no tap holds any more lets its histogram map go. */
	if (!name)
		reader_drop_hists(r, seen);
	if (name && !cnt) {
		err = tf_err(-ENOENT, "tap '%s' is not traced (tapflow trace start %s)", name, name);
		goto out;
	}
	*taps = cnt ? r->taps : NULL;
	*n = cnt;
out:
	tf_tap_list_free(local);
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
