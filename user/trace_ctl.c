// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Starting and stopping tracing on taps: give each tap a slot (its
 * ring-record map) and a run of counter rows (trace_rows.c), add it to the
 * `traced` map the programs look up, and give both back on stop, or when
 * the tap's network namespace is gone. The first start loads the programs (trace_load.c);
 * the last stop unpins everything.
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
#include "trace_rx.h"

static unsigned int pow2_at_least(unsigned int v, unsigned int lo, unsigned int hi)
{
	unsigned int p = lo;

	while (p < v && p < hi)
		p <<= 1;
	return p;
}

static void drop_slot_maps(const struct pins *p, struct trace_rows *a, uint32_t slot)
{
	trace_rx_detach(slot);
	bpf_map_delete_elem(p->rings, &slot);
	trace_rows_drop(p, a, slot);
}

/*
 * Taps of a network namespace that was deleted are gone, and nobody can
 * name them any more to stop tracing: give their slots back. A namespace
 * is alive while a process is in it or it is bind-mounted (ip netns).
 */
static void reclaim_dead_netns(const struct pins *p, struct trace_rows *a, uint32_t my_ns)
{
	struct tf_traced_key *keys;
	struct tf_traced *vals;
	uint32_t ns_ok = 0;
	int n;

	keys = calloc(TF_TRACE_MAX_TAPS, sizeof(*keys));
	vals = calloc(TF_TRACE_MAX_TAPS, sizeof(*vals));
	if (!keys || !vals)
		goto out;
	/* one batch read of the map: no syscall per traced tap */
	n = trace_traced_all(p->traced, keys, vals, TF_TRACE_MAX_TAPS);
	for (int i = 0; i < n; i++) {
		/* the taps of one namespace are usually many: ask once for it */
		if (keys[i].netns == my_ns || keys[i].netns == ns_ok)
			continue;
		if (tf_netns_alive(keys[i].netns)) {
			ns_ok = keys[i].netns;
			continue;
		}
		pr_debug("trace: %s (netns %u) is gone with its namespace; slot %u freed",
			 vals[i].name, keys[i].netns, vals[i].slot);
		bpf_map_delete_elem(p->traced, &keys[i]);
		drop_slot_maps(p, a, vals[i].slot);
	}
out:
	free(keys);
	free(vals);
}

/* The rows a tap starts with: a tapflow tap's queues, else those attached (at least 1). */
static unsigned int tap_queues(const struct tf_tap_info *ti)
{
	unsigned int queues = ti->by_tapflow ? ti->conf.queues : 0;

	if (ti->queues_attached > queues)
		queues = ti->queues_attached;
	return queues ? queues : 1;
}

static int add_tap(const struct pins *p, struct trace_rows *a, const struct tf_tap_info *ti,
		   uint32_t netns)
{
	struct tf_traced_key key = { .netns = netns, .ifindex = ti->ifindex };
	struct tf_traced val = {}, old;
	LIBBPF_OPTS(bpf_map_create_opts, ropts, .map_flags = BPF_F_INNER_MAP);
	unsigned int queues = tap_queues(ti), ring;
	int rfd = -1, err;
	struct timespec ts;
	uint32_t slot;

	if (!bpf_map_lookup_elem(p->traced, &key, &old))
		/* already traced: its counters stay; its rows grow to the queues it has now */
		return trace_rows_grow(p, a, old.slot, ti->name, queues);
	err = trace_rows_slot(a, ti->name, &slot);
	if (err)
		return err;

	/* Ring records: one per ring slot of each queue the tap is set up for. */
	ring = pow2_at_least(ti->txqueuelen, 16, TF_RING_MAX);
	rfd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tf_ring", sizeof(uint32_t),
			     sizeof(struct tf_ring_rec), queues * ring, &ropts);
	if (rfd < 0) {
		err = tf_err(-errno, "cannot create the ring-record map for %s: %s", ti->name, strerror(errno));
		trace_rows_drop(p, a, slot);
		goto out;
	}
	err = trace_rows_give_tap(p, a, slot, ti->name, queues);
	if (err)
		goto out;
	if (bpf_map_update_elem(p->rings, &slot, &rfd, BPF_ANY)) {
		err = tf_err(-errno, "cannot install the ring-record map for %s: %s", ti->name, strerror(errno));
		drop_slot_maps(p, a, slot);
		goto out;
	}
	err = trace_rx_attach(slot, ti->ifindex, ti->name);
	if (err) {
		drop_slot_maps(p, a, slot);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	val.slot = slot;
	val.ring_size = ring;
	val.ring_queues = queues;
	val.since_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	snprintf(val.name, sizeof(val.name), "%s", ti->name);
	/* Last: the programs start counting for this tap from here on. */
	if (bpf_map_update_elem(p->traced, &key, &val, BPF_NOEXIST)) {
		err = tf_err(-errno, "cannot add %s to the traced taps: %s", ti->name, strerror(errno));
		drop_slot_maps(p, a, slot);
		goto out;
	}
	pr_debug("trace: %s -> slot %u, %u queue row(s), %u ring records each", ti->name, slot,
		 queues, ring);
	err = 0;
out:
	if (rfd >= 0)
		close(rfd);
	return err;
}

static bool any_traced(const struct pins *p)
{
	struct tf_traced_key key;

	/* only whether any is left matters to the callers: one key is enough */
	return !bpf_map_get_next_key(p->traced, NULL, &key);
}

/* What starting and stopping check first: a tap named, and the capabilities. */
static int need_taps(int n, const char *what)
{
	if (n <= 0)
		return tf_err(-EINVAL, "no tap named");
	return trace_need_caps(what);
}

/*
 * What every start begins with: tracing's lock, then the session's pins,
 * loading the programs when none run (*loaded_now), and its meta checked
 * against a forced backend. On error nothing is held.
 */
static int session_open(int backend_req, struct tf_pin *lock, struct pins *p,
			struct tf_trace_meta *m, bool *loaded_now)
{
	int err;

	*loaded_now = false;
	err = tf_pin_open(lock, &trace_layout, 0, 0, TF_PIN_CREATE);
	if (err)
		return err;
	err = trace_open_pins(p);
	if (err == -ESTALE) {
		/* what a killed start left: we hold the lock, so nobody is making it */
		pr_info("trace: removing the pins of a start that did not finish");
		trace_unpin_all();
		err = -ENOENT;
	}
	if (err == -ENOENT) {
		int chosen = 0;

		err = trace_load_ladder(backend_req, &chosen);
		if (!err) {
			*loaded_now = true;
			err = trace_open_pins_at(p, true);
		}
	}
	if (!err)
		err = trace_read_meta(p, m);
	if (!err && backend_req && (int)m->backend != backend_req)
		err = tf_err(-EBUSY, "tracing already runs with the %s backend; stop it on every tap "
			     "(tapflow trace stop --all) to switch to %s",
			     tf_backend_name(m->backend), tf_backend_name(backend_req));
	if (err) {
		if (*loaded_now) {
			trace_close_pins(p);
			trace_unpin_all();
		}
		trace_close_pins(p);
		tf_pin_release(lock);	/* the directory goes when nothing was loaded */
	}
	return err;
}

/*
 * Commit a session this call loaded: until meta has its name, a kill
 * leaves pins that readers call half-started and the next start or stop
 * removes, never a session that traces some of the taps asked for.
 */
static int session_commit(struct pins *p)
{
	char staged[128], final[128];

	snprintf(staged, sizeof(staged), "%s/%s", TF_TRACE_PIN_DIR, TRACE_META_STAGED);
	snprintf(final, sizeof(final), "%s/meta", TF_TRACE_PIN_DIR);
	if (rename(staged, final)) {
		int err = tf_err(-errno, "cannot commit %s: %s", final, strerror(errno));

		trace_close_pins(p);
		trace_unpin_all();
		return err;
	}
	return 0;
}

int tf_trace_start(const char *const *names, int n, int backend_req, int *backend)
{
	struct tf_tap_info *infos = NULL;
	struct trace_rows *a = NULL;
	struct tf_trace_meta m;
	struct pins p = PINS_NONE;
	uint32_t netns = trace_netns();
	struct tf_pin lock = { .fd = -1 };
	bool loaded_now = false, *added = NULL;
	int err, i;

	err = need_taps(n, "tracing");
	if (err)
		return err;
	infos = calloc(n, sizeof(*infos));
	if (!infos)
		return tf_err(-ENOMEM, "out of memory");
	/* Every name must resolve before anything is loaded. */
	for (i = 0; i < n; i++) {
		err = tf_tap_get(names[i], &infos[i]);
		if (err == -ENODEV)
			err = tf_err(err, "no tap named '%s'", names[i]);
		if (err) {
			free(infos);
			return err;
		}
	}
	err = session_open(backend_req, &lock, &p, &m, &loaded_now);
	if (err) {
		free(infos);
		return err;
	}
	err = trace_rows_open(&p, &a);
	if (err)
		goto out;
	reclaim_dead_netns(&p, a, netns);
	added = calloc(n, sizeof(*added));
	if (!added) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct tf_traced_key key = { netns, infos[i].ifindex };
		struct tf_traced v;

		added[i] = bpf_map_lookup_elem(p.traced, &key, &v) != 0;
		err = add_tap(&p, a, &infos[i], netns);
		if (err)
			break;
	}
	if (err) {
		/* Undo the taps this call added, so a failed start changes nothing. */
		for (int k = 0; k < i; k++) {
			struct tf_traced_key key = { netns, infos[k].ifindex };
			struct tf_traced v;

			if (added[k] && !bpf_map_lookup_elem(p.traced, &key, &v)) {
				bpf_map_delete_elem(p.traced, &key);
				drop_slot_maps(&p, a, v.slot);
			}
		}
		if (loaded_now || !any_traced(&p)) {
			trace_close_pins(&p);
			trace_unpin_all();
		}
		goto out;
	}
	if (loaded_now)
		err = session_commit(&p);
	if (!err && backend)
		*backend = m.backend;
out:
	trace_rows_free(a);
	trace_close_pins(&p);
	tf_pin_release(&lock);	/* the directory goes when nothing was loaded */
	free(added);
	free(infos);
	return err;
}

int tf_trace_start_each(const char *const *names, int n, int backend_req,
			const struct tf_trace_each *e)
{
	struct trace_rows *a = NULL;
	struct tf_trace_meta m;
	struct pins p = PINS_NONE;
	uint32_t netns = trace_netns();
	struct tf_pin lock = { .fd = -1 };
	bool loaded_now, uncommitted;
	int err, i;

	err = need_taps(n, "tracing");
	if (!err)
		err = session_open(backend_req, &lock, &p, &m, &loaded_now);
	if (err)
		return err;
	uncommitted = loaded_now;
	err = trace_rows_open(&p, &a);
	if (err)
		goto out;
	reclaim_dead_netns(&p, a, netns);
	for (i = 0; i < n; i++) {
		struct tf_tap_info ti;

		/* between taps, not before the first: each call makes progress */
		if (i && e && e->yield && e->yield(e->arg))
			break;
		/* resolved one at a time: a name gone since costs only itself */
		err = tf_tap_get(names[i], &ti);
		if (!err)
			err = add_tap(&p, a, &ti, netns);
		if (err) {
			if (e && e->failed)
				e->failed(names[i], err, e->arg);
			continue;
		}
		/* committed at the first tap: a kill later loses none of those before */
		if (uncommitted) {
			err = session_commit(&p);
			if (err)
				goto out;
			uncommitted = false;
		}
	}
	err = i;
	if (uncommitted) {
		/* loaded for taps none of which could be traced: nothing stays */
		trace_close_pins(&p);
		trace_unpin_all();
	}
out:
	trace_rows_free(a);
	trace_close_pins(&p);
	tf_pin_release(&lock);
	return err;
}

/*
 * Which of these taps (the caller's namespace) a start would change: not
 * traced, or traced with fewer rows than its queues now. One batch read of
 * the traced map and one of slot_rows, under the shared lock, then a set
 * difference: a follower's start dump of thousands of traced taps costs no
 * syscall per tap.
 */
struct traced_rows {
	uint32_t ifindex, rows;
};

static int traced_rows_cmp(const void *x, const void *y)
{
	const struct traced_rows *a = x, *b = y;

	return (a->ifindex > b->ifindex) - (a->ifindex < b->ifindex);
}

int tf_trace_untraced(const struct tf_tap_info *taps, size_t n, bool *need)
{
	struct tf_traced_key *keys = NULL;
	struct tf_traced *vals = NULL;
	struct traced_rows *mine = NULL;
	struct tf_rows *run = NULL;
	uint32_t netns = trace_netns(), *idx = NULL;
	struct pins p = PINS_NONE;
	size_t nmine = 0;
	int err, k;

	for (size_t i = 0; i < n; i++)
		need[i] = true;
	err = trace_open_pins_shared(&p);
	if (err)
		return err == -ENOENT ? 0 : err;	/* nothing traced: every one */
	keys = calloc(TF_TRACE_MAX_TAPS, sizeof(*keys));
	vals = calloc(TF_TRACE_MAX_TAPS, sizeof(*vals));
	mine = calloc(TF_TRACE_MAX_TAPS, sizeof(*mine));
	run = calloc(TF_TRACE_MAX_TAPS, sizeof(*run));
	idx = calloc(TF_TRACE_MAX_TAPS, sizeof(*idx));
	if (!keys || !vals || !mine || !run || !idx) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	k = trace_traced_all(p.traced, keys, vals, TF_TRACE_MAX_TAPS);
	if (!tf_map_read_range(p.slot_rows, 0, TF_TRACE_MAX_TAPS, idx, run))
		memset(run, 0, TF_TRACE_MAX_TAPS * sizeof(*run));	/* rows unknown: 0 */
	for (int i = 0; i < k; i++)
		if (keys[i].netns == netns)
			mine[nmine++] = (struct traced_rows){
				keys[i].ifindex, run[vals[i].slot % TF_TRACE_MAX_TAPS].rows };
	qsort(mine, nmine, sizeof(*mine), traced_rows_cmp);
	for (size_t i = 0; i < n; i++) {
		struct traced_rows key = { .ifindex = (uint32_t)taps[i].ifindex }, *t;

		t = nmine ? bsearch(&key, mine, nmine, sizeof(*mine), traced_rows_cmp) : NULL;
		need[i] = !t || t->rows < tap_queues(&taps[i]);
	}
out:
	trace_close_pins(&p);
	free(keys);
	free(vals);
	free(mine);
	free(run);
	free(idx);
	return err;
}

/* Find a traced tap of this netns by name, also one deleted since. */
static int find_traced(const struct pins *p, const char *name, uint32_t netns,
		       struct tf_traced_key *out, struct tf_traced *val)
{
	struct tf_traced_key key, next;
	void *prev = NULL;
	unsigned int ifindex = if_nametoindex(name);

	if (ifindex) {
		key = (struct tf_traced_key){ netns, ifindex };
		if (!bpf_map_lookup_elem(p->traced, &key, val)) {
			*out = key;
			return 0;
		}
	}
	while (!bpf_map_get_next_key(p->traced, prev, &next)) {
		if (next.netns == netns && !bpf_map_lookup_elem(p->traced, &next, val) &&
		    !strncmp(val->name, name, sizeof(val->name))) {
			*out = next;
			return 0;
		}
		key = next;
		prev = &key;
	}
	return -ENOENT;
}

int tf_trace_stop(const char *const *names, int n)
{
	struct pins p = PINS_NONE;
	struct tf_traced_key *keys = NULL;
	struct tf_traced *vals = NULL;
	uint32_t netns = trace_netns();
	struct tf_pin lock;
	int err, i;

	err = need_taps(n, "stopping tracing");
	if (err)
		return err;
	err = tf_pin_open(&lock, &trace_layout, 0, 0, TF_PIN_WRITE);
	if (!err)
		err = trace_open_pins(&p);
	if (err == -ESTALE) {
		trace_unpin_all();	/* a killed start's; nothing was traced */
		err = -ENOENT;
	}
	if (err == -ENOENT)
		err = tf_err(-ENOENT, "tracing is not running");
	if (err)
		goto out;
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (find_traced(&p, names[i], netns, &keys[i], &vals[i])) {
			err = tf_err(-ENOENT, "tap '%s' is not traced", names[i]);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		bpf_map_delete_elem(p.traced, &keys[i]);
		drop_slot_maps(&p, NULL, vals[i].slot);
	}
	if (!any_traced(&p)) {
		trace_close_pins(&p);
		trace_unpin_all();
	}
out:
	free(keys);
	free(vals);
	trace_close_pins(&p);
	tf_pin_release(&lock);
	return err;
}

/*
 * What releasing, reclaiming and stopping all start with: the capabilities,
 * then the write lock; 1 when tracing is not running (nothing to do).
 */
static int lock_for_stop(struct tf_pin *lock)
{
	int err = trace_need_caps("stopping tracing");

	if (err)
		return err;
	err = tf_pin_open(lock, &trace_layout, 0, 0, TF_PIN_WRITE);
	return err == -ENOENT ? 1 : err;
}

/* ...and the pins too: 1 also when they are gone. Nothing is held on error. */
static int open_for_stop(struct tf_pin *lock, struct pins *p)
{
	int err = lock_for_stop(lock);

	if (err)
		return err;
	err = trace_open_pins(p);
	if (err) {
		trace_close_pins(p);
		tf_pin_release(lock);
	}
	return err == -ENOENT ? 1 : err;
}

/* With no tap traced any more, nothing of tracing stays pinned. */
static void unpin_if_idle(struct pins *p)
{
	if (!any_traced(p)) {
		trace_close_pins(p);
		trace_unpin_all();
	}
}

/*
 * Run fn on a traced tap's entry under the writers' lock, as `trace stop`
 * takes it; 0 if tracing is not running or the tap is not traced.
 */
static int on_traced(uint32_t ifindex,
		     int (*fn)(struct pins *p, const struct tf_traced_key *key,
			       const struct tf_traced *val, void *arg),
		     void *arg)
{
	struct pins p = PINS_NONE;
	struct tf_traced_key key = { trace_netns(), ifindex };
	struct tf_traced val;
	struct tf_pin lock;
	int err;

	err = open_for_stop(&lock, &p);
	if (err)
		return err < 0 ? err : 0;	/* 1: tracing is not running */
	if (!bpf_map_lookup_elem(p.traced, &key, &val))
		err = fn(&p, &key, &val, arg);
	trace_close_pins(&p);
	tf_pin_release(&lock);
	return err;
}

static int release_one(struct pins *p, const struct tf_traced_key *key,
		       const struct tf_traced *val, void *arg)
{
	(void)arg;
	bpf_map_delete_elem(p->traced, key);
	drop_slot_maps(p, NULL, val->slot);
	unpin_if_idle(p);
	return 0;
}

int tf_trace_release(uint32_t ifindex)
{
	return on_traced(ifindex, release_one, NULL);
}

int tf_trace_reclaim(void)
{
	struct pins p = PINS_NONE;
	struct tf_pin lock;
	int err;

	err = open_for_stop(&lock, &p);
	if (err)
		return err < 0 ? err : 0;	/* 1: tracing is not running */
	reclaim_dead_netns(&p, NULL, trace_netns());
	unpin_if_idle(&p);
	trace_close_pins(&p);
	tf_pin_release(&lock);
	return err;
}

int tf_trace_stop_all(void)
{
	struct tf_pin lock;
	int err;

	err = lock_for_stop(&lock);
	if (err)
		return err < 0 ? err : 0;	/* 1: tracing is not running */
	trace_unpin_all();
	tf_pin_release(&lock);
	return 0;
}

static int grow_one(struct pins *p, const struct tf_traced_key *key,
		    const struct tf_traced *val, void *arg)
{
	struct trace_rows *a = NULL;
	int err;

	(void)key;
	err = trace_rows_open(p, &a);
	if (!err)
		err = trace_rows_grow(p, a, val->slot, val->name, *(const uint32_t *)arg);
	trace_rows_free(a);
	return err;
}

int tf_trace_grow(uint32_t ifindex, uint32_t queues)
{
	return on_traced(ifindex, grow_one, &queues);
}

/*
 * Which slots have a queue counting beyond their rows (a qextra entry of a
 * queue >= rows): need[slot] = the rows that would hold it. Any found?
 */
static bool rows_needed(const struct pins *p, uint32_t *need)
{
	struct tf_qkey key, next;
	void *prev = NULL;
	bool any = false;

	while (!bpf_map_get_next_key(p->qextra, prev, &next)) {
		struct tf_rows run;

		key = next;
		prev = &key;
		if (key.slot >= TF_TRACE_MAX_TAPS || key.queue >= TF_MAX_QUEUES ||
		    bpf_map_lookup_elem(p->slot_rows, &key.slot, &run) || key.queue < run.rows)
			continue;
		if (key.queue + 1 > need[key.slot])
			need[key.slot] = key.queue + 1;
		any = true;
	}
	return any;
}

int tf_trace_grow_all(void)
{
	struct tf_traced_key key, next;
	struct trace_rows *a = NULL;
	struct pins p = PINS_NONE;
	struct tf_traced val;
	struct tf_pin lock;
	uint32_t *need;
	void *prev = NULL;
	int err, first = 0;

	need = calloc(TF_TRACE_MAX_TAPS, sizeof(*need));
	if (!need)
		return tf_err(-ENOMEM, "out of memory");
	/* the usual answer, nothing to grow, under the shared lock only */
	err = trace_open_pins_shared(&p);
	if (err || !rows_needed(&p, need)) {
		trace_close_pins(&p);
		free(need);
		return err == -ENOENT ? 0 : err;
	}
	trace_close_pins(&p);
	memset(need, 0, TF_TRACE_MAX_TAPS * sizeof(*need));
	err = open_for_stop(&lock, &p);
	if (err) {
		free(need);
		return err < 0 ? err : 0;
	}
	if (rows_needed(&p, need))
		err = trace_rows_open(&p, &a);
	while (a && !bpf_map_get_next_key(p.traced, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(p.traced, &key, &val) || val.slot >= TF_TRACE_MAX_TAPS ||
		    !need[val.slot])
			continue;
		err = trace_rows_grow(&p, a, val.slot, val.name, need[val.slot]);
		if (err && !first)
			first = err;	/* the others may still fit */
	}
	trace_rows_free(a);
	trace_close_pins(&p);
	tf_pin_release(&lock);
	free(need);
	return first ? first : err;
}
