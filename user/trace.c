// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Per-queue tracing: owns the lifecycle of bpf/trace.bpf.c. The first
 * `trace start` probes the attach backends (fentry, kprobe, BTF tracepoints,
 * in that order, as this kernel allows), loads one, and pins its links and
 * maps under TF_TRACE_PIN_DIR so tracing outlives the command; later starts
 * only add taps to the `traced` map. Any process reads the counters back
 * from the pins. The last `trace stop` unpins everything.
 *
 * Each traced tap gets a slot: a range of per-CPU counters, a histogram map
 * and a ring-record map sized to its queues and ring (txqueuelen).
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
#include "json.h"
#include "log.h"
#include "trace.skel.h"

#define PIN_MAPS_N 5

static const char *const pin_maps[PIN_MAPS_N] = { "traced", "qcount", "hists", "rings", "meta" };

struct pins {
	int traced, qcount, hists, rings, meta;
};

static const char *const backend_names[] = {
	[0] = "auto",
	[TF_BACKEND_FENTRY] = "fentry",
	[TF_BACKEND_KPROBE] = "kprobe",
	[TF_BACKEND_TRACEPOINT] = "tracepoint",
};

const char *tf_backend_name(int backend)
{
	if (backend < 0 || backend > TF_BACKEND_TRACEPOINT)
		return "unknown";
	return backend_names[backend];
}

int tf_backend_parse(const char *s)
{
	for (int i = 0; i <= TF_BACKEND_TRACEPOINT; i++)
		if (!strcmp(s, backend_names[i]))
			return i;
	return tf_err(-EINVAL, "backend '%s' is not one of auto, fentry, kprobe, tracepoint", s);
}

uint64_t tf_hist_quantile(const __u64 *b, int n, double q)
{
	uint64_t total = 0, seen = 0, want;

	for (int i = 0; i < n; i++)
		total += b[i];
	if (!total)
		return 0;
	want = (uint64_t)(q * (double)total + 0.999999);
	if (!want)
		want = 1;
	for (int i = 0; i < n; i++) {
		seen += b[i];
		if (seen >= want)
			return tf_hist_upper(i);
	}
	return tf_hist_upper(n - 1);
}

static uint32_t my_netns(void)
{
	uint32_t ino = 0;

	tf_netns_self(&ino);
	return ino;
}

static int need_caps(const char *what)
{
	if (tf_have_cap(CAP_SYS_ADMIN))
		return 0;
	if (!tf_have_cap(39 /* CAP_BPF */))
		return tf_err(-EPERM, "%s needs CAP_BPF (and CAP_PERFMON), or CAP_SYS_ADMIN", what);
	if (!tf_have_cap(38 /* CAP_PERFMON */))
		return tf_err(-EPERM, "%s needs CAP_PERFMON (and CAP_BPF), or CAP_SYS_ADMIN", what);
	return 0;
}

/* Make sure bpffs is there (mount it if we may) and take tapflow's lock. */
static int lock_root(void)
{
	int fd, err;

	err = tf_pin_mkdir(TF_PIN_ROOT);
	if (err)
		return err;
	fd = open(TF_PIN_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return tf_err(-errno, "cannot open %s: %s", TF_PIN_ROOT, strerror(errno));
	/* Serialises slot allocation between concurrent tapflow processes. */
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return tf_err(-errno, "cannot lock %s: %s", TF_PIN_ROOT, strerror(errno));
	}
	return fd;
}

static void unlock_root(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void close_pins(struct pins *p)
{
	int *fds[] = { &p->traced, &p->qcount, &p->hists, &p->rings, &p->meta };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* 0: open; -ENOENT: tracing is not loaded. */
static int open_pins(struct pins *p)
{
	int *fds[] = { &p->traced, &p->qcount, &p->hists, &p->rings, &p->meta };
	char path[256];

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = -1;
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, pin_maps[i]);
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0) {
			int err = errno;

			close_pins(p);
			if (err == ENOENT)
				return -ENOENT;
			return tf_err(-err, "cannot open %s: %s", path, strerror(err));
		}
	}
	return 0;
}

static int read_meta(const struct pins *p, struct tf_trace_meta *m)
{
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(p->meta, &zero, m))
		return tf_err(-errno, "cannot read tracing metadata: %s", strerror(errno));
	if (m->version != TF_TRACE_LAYOUT)
		return tf_err(-EPROTO, "tracing was started by a tapflow with another map layout (%u, this one reads %u): "
			      "tapflow trace stop --all, then start again", m->version, TF_TRACE_LAYOUT);
	return 0;
}

/* Remove every pin of the tracing session (links first: that detaches). */
static void unpin_all(void)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(TF_TRACE_PIN_DIR);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, de->d_name);
		if (unlink(path))
			pr_warn("cannot remove %s: %s", path, strerror(errno));
	}
	closedir(d);
	tf_pin_rmdir(TF_TRACE_PIN_DIR);
}

static int rung_of(const char *prog)
{
	if (!strncmp(prog, "fentry_", 7) || !strncmp(prog, "fexit_", 6))
		return TF_BACKEND_FENTRY;
	if (!strncmp(prog, "kprobe_", 7) || !strncmp(prog, "kretprobe_", 10))
		return TF_BACKEND_KPROBE;
	if (!strcmp(prog, "tp_kfree_skb") || !strcmp(prog, "tp_consume_skb"))
		return 0;	/* every backend */
	return TF_BACKEND_TRACEPOINT;
}

/*
 * Load, attach and pin one backend. On failure nothing is left behind and
 * why[] says what the kernel refused.
 */
static int load_rung(int backend, char *why, size_t whylen)
{
	struct bpf_link *links[32] = {};
	struct tf_trace_meta m = { .backend = backend, .version = TF_TRACE_LAYOUT,
				   .rx_ns = backend != TF_BACKEND_TRACEPOINT };
	struct bpf_program *prog;
	struct trace *skel;
	char path[128];
	int nlinks = 0, err, i;
	uint32_t zero = 0;

	skel = trace__open();
	if (!skel) {
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(errno));
		return -errno;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		int r = rung_of(bpf_program__name(prog));

		bpf_program__set_autoload(prog, r == 0 || r == backend);
	}
	err = trace__load(skel);
	if (err) {
		snprintf(why, whylen, "the kernel refused to load it (%s)", strerror(-err));
		goto out;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (nlinks >= (int)ARRAY_SIZE(links)) {
			err = -E2BIG;
			goto out;
		}
		links[nlinks] = bpf_program__attach(prog);
		if (!links[nlinks]) {
			err = -errno;
			snprintf(why, whylen, "attaching %s failed (%s)",
				 bpf_program__section_name(prog), strerror(errno));
			goto out;
		}
		nlinks++;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.meta), &zero, &m, BPF_ANY)) {
		err = -errno;
		snprintf(why, whylen, "writing metadata failed (%s)", strerror(errno));
		goto out;
	}
	err = tf_pin_mkdir(TF_TRACE_PIN_DIR);
	if (err) {
		snprintf(why, whylen, "%s", tf_errmsg());
		goto out;
	}
	for (i = 0; i < PIN_MAPS_N; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(skel->obj, pin_maps[i]);

		snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, pin_maps[i]);
		err = map ? bpf_map__pin(map, path) : -ENOENT;
		if (err) {
			snprintf(why, whylen, "pinning %s failed (%s)", path, strerror(-err));
			goto out_unpin;
		}
	}
	i = 0;
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		snprintf(path, sizeof(path), "%s/link_%s", TF_TRACE_PIN_DIR, bpf_program__name(prog));
		err = bpf_link__pin(links[i], path);
		if (err) {
			snprintf(why, whylen, "pinning %s failed (%s)", path, strerror(-err));
			goto out_unpin;
		}
		i++;
	}
	/* The pins hold the links now; closing our fds must not detach. */
	for (i = 0; i < nlinks; i++) {
		bpf_link__disconnect(links[i]);
		bpf_link__destroy(links[i]);
	}
	trace__destroy(skel);
	return 0;

out_unpin:
	unpin_all();
out:
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	trace__destroy(skel);
	return err ? err : -EINVAL;
}

/* Try the rungs allowed by req, best first. */
static int load_ladder(int req, int *chosen)
{
	static const int order[] = { TF_BACKEND_FENTRY, TF_BACKEND_KPROBE, TF_BACKEND_TRACEPOINT };
	char why[3][400] = { "", "", "" };
	int err = -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (req && req != order[i])
			continue;
		err = load_rung(order[i], why[i], sizeof(why[i]));
		if (!err) {
			*chosen = order[i];
			return 0;
		}
		pr_info("trace: %s backend unavailable: %s", tf_backend_name(order[i]), why[i]);
	}
	if (req)
		return tf_err(err, "the %s backend cannot run here: %s", tf_backend_name(req),
			      why[req - 1]);
	return tf_err(err, "no tracing backend could run: fentry: %s; kprobe: %s; tracepoint: %s",
		      why[0], why[1], why[2]);
}

static unsigned int pow2_at_least(unsigned int v, unsigned int lo, unsigned int hi)
{
	unsigned int p = lo;

	while (p < v && p < hi)
		p <<= 1;
	return p;
}

static int used_slots(const struct pins *p, bool used[TF_TRACE_MAX_TAPS], int *count)
{
	struct tf_traced_key key, next;
	struct tf_traced val;
	void *prev = NULL;

	memset(used, 0, TF_TRACE_MAX_TAPS * sizeof(bool));
	*count = 0;
	while (!bpf_map_get_next_key(p->traced, prev, &next)) {
		if (!bpf_map_lookup_elem(p->traced, &next, &val) && val.slot < TF_TRACE_MAX_TAPS) {
			used[val.slot] = true;
			(*count)++;
		}
		key = next;
		prev = &key;
	}
	return 0;
}

static int zero_counters(const struct pins *p, uint32_t slot)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	int ncpu = libbpf_num_possible_cpus();
	uint32_t keys[TF_TRACE_QUEUES], count = TF_TRACE_QUEUES;
	void *zeros;
	int err = 0;

	if (ncpu <= 0)
		return tf_err(-EINVAL, "cannot count CPUs");
	zeros = calloc((size_t)TF_TRACE_QUEUES * ncpu, sizeof(struct tf_qcount));
	if (!zeros)
		return tf_err(-ENOMEM, "out of memory");
	for (uint32_t q = 0; q < TF_TRACE_QUEUES; q++)
		keys[q] = slot * TF_TRACE_QUEUES + q;
	/* one syscall for the slot's 256 rows; one per row if batches are refused */
	if (bpf_map_update_batch(p->qcount, keys, zeros, &count, &o) || count != TF_TRACE_QUEUES) {
		for (uint32_t q = 0; q < TF_TRACE_QUEUES && !err; q++)
			if (bpf_map_update_elem(p->qcount, &keys[q], zeros, BPF_ANY))
				err = tf_err(-errno, "cannot reset counters: %s", strerror(errno));
	}
	free(zeros);
	return err;
}

static void drop_slot_maps(const struct pins *p, uint32_t slot)
{
	bpf_map_delete_elem(p->hists, &slot);
	bpf_map_delete_elem(p->rings, &slot);
}

/*
 * Taps of a network namespace that was deleted are gone, and nobody can
 * name them any more to stop tracing: give their slots back. A namespace
 * is alive while a process is in it or it is bind-mounted (ip netns).
 */
static void reclaim_dead_netns(const struct pins *p, uint32_t my_ns)
{
	struct tf_traced_key key, next, dead[TF_TRACE_MAX_TAPS];
	struct tf_traced val, dv[TF_TRACE_MAX_TAPS];
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(p->traced, prev, &next)) {
		key = next;
		prev = &key;
		if (key.netns == my_ns || bpf_map_lookup_elem(p->traced, &key, &val))
			continue;
		if (n < TF_TRACE_MAX_TAPS && !tf_netns_alive(key.netns)) {
			dead[n] = key;
			dv[n++] = val;
		}
	}
	for (int i = 0; i < n; i++) {
		pr_debug("trace: %s (netns %u) is gone with its namespace; slot %u freed",
			 dv[i].name, dead[i].netns, dv[i].slot);
		bpf_map_delete_elem(p->traced, &dead[i]);
		drop_slot_maps(p, dv[i].slot);
	}
}

static int add_tap(const struct pins *p, const struct tf_tap_info *ti, uint32_t netns)
{
	struct tf_traced_key key = { .netns = netns, .ifindex = ti->ifindex };
	struct tf_traced val = {}, old;
	bool used[TF_TRACE_MAX_TAPS];
	LIBBPF_OPTS(bpf_map_create_opts, ropts, .map_flags = BPF_F_INNER_MAP);
	unsigned int queues, ring;
	int hfd = -1, rfd = -1, n, err;
	struct timespec ts;
	uint32_t slot;

	if (!bpf_map_lookup_elem(p->traced, &key, &old))
		return 0;	/* already traced: leave its counters alone */
	used_slots(p, used, &n);
	for (slot = 0; slot < TF_TRACE_MAX_TAPS && used[slot]; slot++)
		;
	if (slot >= TF_TRACE_MAX_TAPS)
		return tf_err(-ENOSPC, "cannot trace %s: %d taps are traced already (the limit)",
			      ti->name, TF_TRACE_MAX_TAPS);

	/* Ring records: one per ring slot of each queue the tap is set up for. */
	queues = ti->by_tapflow ? ti->conf.queues : 0;
	if (ti->queues_attached > queues)
		queues = ti->queues_attached;
	if (!queues)
		queues = 1;
	ring = pow2_at_least(ti->txqueuelen, 16, TF_RING_MAX);

	hfd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tf_hist", sizeof(uint32_t),
			     sizeof(struct tf_qhist), TF_TRACE_QUEUES, NULL);
	if (hfd < 0) {
		err = tf_err(-errno, "cannot create the histogram map for %s: %s", ti->name, strerror(errno));
		goto out;
	}
	rfd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tf_ring", sizeof(uint32_t),
			     sizeof(struct tf_ring_rec), queues * ring, &ropts);
	if (rfd < 0) {
		err = tf_err(-errno, "cannot create the ring-record map for %s: %s", ti->name, strerror(errno));
		goto out;
	}
	err = zero_counters(p, slot);
	if (err)
		goto out;
	if (bpf_map_update_elem(p->hists, &slot, &hfd, BPF_ANY)) {
		err = tf_err(-errno, "cannot install the histogram map for %s: %s", ti->name, strerror(errno));
		goto out;
	}
	if (bpf_map_update_elem(p->rings, &slot, &rfd, BPF_ANY)) {
		err = tf_err(-errno, "cannot install the ring-record map for %s: %s", ti->name, strerror(errno));
		drop_slot_maps(p, slot);
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
		drop_slot_maps(p, slot);
		goto out;
	}
	pr_debug("trace: %s -> slot %u, %u queue(s) x %u ring records", ti->name, slot, queues, ring);
	err = 0;
out:
	if (hfd >= 0)
		close(hfd);
	if (rfd >= 0)
		close(rfd);
	return err;
}

static int traced_count(const struct pins *p)
{
	bool used[TF_TRACE_MAX_TAPS];
	int n;

	used_slots(p, used, &n);
	return n;
}

int tf_trace_start(const char *const *names, int n, int backend_req, int *backend)
{
	struct tf_tap_info *infos = NULL;
	struct tf_trace_meta m;
	struct pins p = { -1, -1, -1, -1, -1 };
	uint32_t netns = my_netns();
	bool loaded_now = false;
	int lock = -1, err, i;

	if (n <= 0)
		return tf_err(-EINVAL, "no tap named");
	err = need_caps("tracing");
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
		if (err)
			goto out;
	}
	lock = lock_root();
	if (lock < 0) {
		err = lock;
		goto out;
	}
	err = open_pins(&p);
	if (err == -ENOENT) {
		int chosen = 0;

		err = load_ladder(backend_req, &chosen);
		if (err)
			goto out;
		loaded_now = true;
		err = open_pins(&p);
	}
	if (err)
		goto out;
	err = read_meta(&p, &m);
	if (err)
		goto out;
	if (backend_req && (int)m.backend != backend_req) {
		err = tf_err(-EBUSY, "tracing already runs with the %s backend; stop it on every tap "
			     "(tapflow trace stop --all) to switch to %s",
			     tf_backend_name(m.backend), tf_backend_name(backend_req));
		goto out;
	}
	reclaim_dead_netns(&p, netns);
	for (i = 0; i < n; i++) {
		err = add_tap(&p, &infos[i], netns);
		if (err)
			break;
	}
	if (err) {
		/* Undo the taps this call added, so a failed start changes nothing. */
		for (int k = 0; k < i; k++) {
			struct tf_traced_key key = { netns, infos[k].ifindex };
			struct tf_traced v;

			if (!bpf_map_lookup_elem(p.traced, &key, &v)) {
				bpf_map_delete_elem(p.traced, &key);
				drop_slot_maps(&p, v.slot);
			}
		}
		if (loaded_now || !traced_count(&p)) {
			close_pins(&p);
			unpin_all();
		}
		goto out;
	}
	if (backend)
		*backend = m.backend;
out:
	close_pins(&p);
	unlock_root(lock);
	free(infos);
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
	struct pins p = { -1, -1, -1, -1, -1 };
	struct tf_traced_key *keys = NULL;
	struct tf_traced *vals = NULL;
	uint32_t netns = my_netns();
	int lock, err, i;

	if (n <= 0)
		return tf_err(-EINVAL, "no tap named");
	err = need_caps("stopping tracing");
	if (err)
		return err;
	lock = lock_root();
	if (lock < 0)
		return lock;
	err = open_pins(&p);
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
		drop_slot_maps(&p, vals[i].slot);
	}
	if (!traced_count(&p)) {
		close_pins(&p);
		unpin_all();
	}
out:
	free(keys);
	free(vals);
	close_pins(&p);
	unlock_root(lock);
	return err;
}

int tf_trace_stop_all(void)
{
	int lock, err;

	err = need_caps("stopping tracing");
	if (err)
		return err;
	lock = lock_root();
	if (lock < 0)
		return lock;
	unpin_all();
	unlock_root(lock);
	return 0;
}

int tf_trace_backend(void)
{
	struct pins p;
	struct tf_trace_meta m;
	int err = open_pins(&p);

	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	err = read_meta(&p, &m);
	close_pins(&p);
	return err ? err : (int)m.backend;
}

int tf_trace_is_traced(int ifindex, int *backend)
{
	struct tf_traced_key key = { my_netns(), (uint32_t)ifindex };
	struct tf_trace_meta m;
	struct tf_traced v;
	struct pins p;
	int err = open_pins(&p), ret = 0;

	if (err)
		return err == -ENOENT ? 0 : err;
	if (!bpf_map_lookup_elem(p.traced, &key, &v) && !read_meta(&p, &m)) {
		ret = 1;
		if (backend)
			*backend = m.backend;
	}
	close_pins(&p);
	return ret;
}

static bool qcount_zero(const struct tf_qcount *c)
{
	static const struct tf_qcount z;

	return !memcmp(c, &z, sizeof(z));
}

/* ---- reading ----------------------------------------------------------------
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
	uint32_t keys[TF_TRACE_QUEUES];
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
	close_pins(&r->p);
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
	err = open_pins(&r->p);
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
static int slot_hist_fd(struct tf_trace_reader *r, uint32_t slot)
{
	struct hist_fd *h;
	uint32_t id = 0;

	if (slot >= TF_TRACE_MAX_TAPS)
		return -1;
	h = &r->hist[slot];
	if (bpf_map_lookup_elem(r->p.hists, &slot, &id))
		id = 0;
	if (h->fd >= 0 && h->id == id)
		return h->fd;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = id ? bpf_map_get_fd_by_id(id) : -1;
	h->id = h->fd >= 0 ? id : 0;
	return h->fd;
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

/* Read the tap of r->tkey/tval[t] into r->taps[i]. */
static int read_tap(struct tf_trace_reader *r, size_t i, int t, uint32_t my_ns,
		    const struct tf_tap_info *local, size_t nlocal,
		    const struct tf_trace_meta *m)
{
	const struct tf_traced_key *key = &r->tkey[t];
	const struct tf_traced *val = &r->tval[t];
	struct tf_tap_stats *ts = &r->taps[i];
	bool have_counts = false, have_hists = false;
	uint32_t limit;
	int hfd, err;

	memset(ts, 0, sizeof(*ts));
	snprintf(ts->name, sizeof(ts->name), "%.15s", val->name);
	ts->netns = key->netns;
	ts->ifindex = key->ifindex;
	ts->backend = m->backend;
	ts->rx_ns = m->rx_ns;
	ts->since_ns = val->since_ns;
	ts->local = key->netns == my_ns;
	if (ts->local) {
		const struct tf_tap_info *ti = NULL;

		for (size_t k = 0; k < nlocal; k++)
			if (local[k].ifindex == (int)key->ifindex && !strcmp(local[k].name, val->name))
				ti = &local[k];
		if (ti)
			ts->queues_attached = ti->queues_attached;
		else
			ts->gone = true;
	}
	limit = val->queues_seen;
	if (ts->queues_attached > limit)
		limit = ts->queues_attached;
	if (limit > TF_TRACE_QUEUES)
		limit = TF_TRACE_QUEUES;
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
	hfd = slot_hist_fd(r, val->slot);
	/*
	 * Two batch lookups per tap (its qcount rows, its histogram map)
	 * instead of two syscalls per queue: what a scrape of many taps costs.
	 */
	if (limit) {
		have_counts = tf_map_read_range(r->p.qcount, val->slot * TF_TRACE_QUEUES, limit,
						r->keys, r->counts);
		if (hfd >= 0)
			have_hists = tf_map_read_range(hfd, 0, limit, r->keys, r->hists);
	}
	for (uint32_t q = 0; q < limit; q++) {
		struct tf_queue_stats *qs = &ts->q[ts->nqueues];
		uint32_t idx = val->slot * TF_TRACE_QUEUES + q;
		const struct tf_qcount *row = NULL;

		memset(qs, 0, sizeof(*qs));
		qs->queue = q;
		qs->attached = q < ts->queues_attached;
		if (have_counts)
			row = (const struct tf_qcount *)r->counts + (size_t)q * r->ncpu;
		else if (!bpf_map_lookup_elem(r->p.qcount, &idx, r->counts))
			row = r->counts;
		for (int c = 0; row && c < r->ncpu; c++) {
			const __u64 *src = (const __u64 *)(row + c);
			__u64 *dst = (__u64 *)&qs->c;

			for (size_t k = 0; k < sizeof(*row) / sizeof(__u64); k++)
				dst[k] += src[k];
		}
		for (int d = 0; d < TF_DROP__MAX; d++)
			qs->tx_drops += qs->c.tx_drops[d];
		if (!qs->attached && qcount_zero(&qs->c))
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
	uint32_t my_ns = my_netns();
	size_t cnt = 0, nlocal = 0;
	int ntraced, err;

	*taps = NULL;
	*n = 0;
	err = reader_pins(r);
	if (err == -ENOENT)
		return name ? tf_err(-ENOENT, "tracing is not running (tapflow trace start %s)", name) : 0;
	if (err)
		return err;
	err = read_meta(&r->p, &m);
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

		if (name && (key->netns != my_ns || strncmp(val->name, name, sizeof(val->name))))
			continue;
		if (val->slot < TF_TRACE_MAX_TAPS)
			seen[val->slot] = true;
		err = read_tap(r, cnt, t, my_ns, local, nlocal, &m);
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

/* A deleted tap stops being traced with it. */
static void trace_delete_hook(int ifindex, const char *name)
{
	const char *names[1] = { name };

	(void)ifindex;
	if (tf_trace_is_traced(ifindex, NULL) == 1 && tf_trace_stop(names, 1))
		pr_warn("could not stop tracing %s: %s", name, tf_errmsg());
}

static int trace_show_hook(int ifindex, const char *name, struct tf_json *j, FILE *text)
{
	int backend = 0;

	(void)name;
	if (tf_trace_is_traced(ifindex, &backend) != 1)
		return 0;
	if (j) {
		tf_json_obj_begin(j, "tracing");
		tf_json_str(j, "backend", tf_backend_name(backend));
		tf_json_obj_end(j);
	} else {
		fprintf(text, "    tracing: %s backend\n", tf_backend_name(backend));
	}
	return 1;
}

__attribute__((constructor)) static void trace_register_hooks(void)
{
	tf_tap_register_delete_hook(trace_delete_hook);
	tf_tap_register_show_hook(trace_show_hook);
}
