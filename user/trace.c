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

static int read_tap(const struct pins *p, int ncpu, void *percpu, uint32_t my_ns,
		    const struct tf_tap_info *local, size_t nlocal,
		    const struct tf_traced_key *key, const struct tf_traced *val,
		    const struct tf_trace_meta *m, struct tf_tap_stats *ts)
{
	uint32_t limit, hid = 0, *keys = NULL;
	void *counts = NULL, *hists = NULL;
	bool have_counts = false, have_hists = false;
	int hfd = -1, err = 0;

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

		for (size_t i = 0; i < nlocal; i++)
			if (local[i].ifindex == (int)key->ifindex && !strcmp(local[i].name, val->name))
				ti = &local[i];
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
	ts->q = calloc(limit ? limit : 1, sizeof(*ts->q));
	if (!ts->q)
		return tf_err(-ENOMEM, "out of memory");
	if (!bpf_map_lookup_elem(p->hists, &val->slot, &hid))
		hfd = bpf_map_get_fd_by_id(hid);
	/*
	 * Two batch lookups per tap (its qcount rows, its histogram map)
	 * instead of two syscalls per queue: what a scrape of many taps costs.
	 */
	counts = calloc((size_t)limit * ncpu, sizeof(struct tf_qcount));
	hists = hfd >= 0 ? calloc(limit, sizeof(struct tf_qhist)) : NULL;
	keys = calloc(limit, sizeof(*keys));
	if (limit && (!counts || !keys || (hfd >= 0 && !hists))) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	if (limit) {
		uint32_t start = val->slot * TF_TRACE_QUEUES;

		have_counts = tf_map_read_range(p->qcount, start, limit, keys, counts);
		if (hfd >= 0)
			have_hists = tf_map_read_range(hfd, 0, limit, keys, hists);
	}
	for (uint32_t q = 0; q < limit; q++) {
		struct tf_queue_stats *qs = &ts->q[ts->nqueues];
		uint32_t idx = val->slot * TF_TRACE_QUEUES + q;
		const struct tf_qcount *row = NULL;

		memset(qs, 0, sizeof(*qs));
		qs->queue = q;
		qs->attached = q < ts->queues_attached;
		if (have_counts)
			row = (const struct tf_qcount *)counts + (size_t)q * ncpu;
		else if (!bpf_map_lookup_elem(p->qcount, &idx, percpu))
			row = percpu;
		for (int c = 0; row && c < ncpu; c++) {
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
			qs->h = ((const struct tf_qhist *)hists)[q];
		else if (hfd >= 0)
			bpf_map_lookup_elem(hfd, &q, &qs->h);
		ts->nqueues++;
	}
out:
	free(counts);
	free(hists);
	free(keys);
	if (hfd >= 0)
		close(hfd);
	if (err) {
		free(ts->q);
		ts->q = NULL;
	}
	return err;
}

int tf_trace_read(const char *name, struct tf_tap_stats **taps, size_t *n)
{
	struct tf_traced_key key, next;
	struct tf_tap_stats *out = NULL;
	struct tf_trace_meta m;
	struct tf_traced val;
	struct pins p;
	uint32_t my_ns = my_netns();
	void *prev = NULL, *percpu = NULL;
	struct tf_tap_info *local = NULL;
	size_t cnt = 0, cap = 0, nlocal = 0;
	int ncpu, err;

	*taps = NULL;
	*n = 0;
	err = open_pins(&p);
	if (err == -ENOENT)
		return name ? tf_err(-ENOENT, "tracing is not running (tapflow trace start %s)", name) : 0;
	if (err)
		return err;
	err = read_meta(&p, &m);
	if (err)
		goto out;
	/* One netlink dump for every tap of this netns, not a request per tap. */
	if (tf_tap_list(&local, &nlocal)) {
		local = NULL;
		nlocal = 0;
	}
	ncpu = libbpf_num_possible_cpus();
	percpu = calloc(ncpu > 0 ? ncpu : 1, sizeof(struct tf_qcount));
	if (!percpu) {
		err = tf_err(-ENOMEM, "out of memory");
		goto out;
	}
	while (!bpf_map_get_next_key(p.traced, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(p.traced, &key, &val))
			continue;
		if (name && (key.netns != my_ns || strncmp(val.name, name, sizeof(val.name))))
			continue;
		if (cnt == cap) {
			struct tf_tap_stats *nt;

			cap = cap ? cap * 2 : 8;
			nt = realloc(out, cap * sizeof(*out));
			if (!nt) {
				err = tf_err(-ENOMEM, "out of memory");
				goto out;
			}
			out = nt;
		}
		err = read_tap(&p, ncpu, percpu, my_ns, local, nlocal, &key, &val, &m, &out[cnt]);
		if (err)
			goto out;
		cnt++;
	}
	if (name && !cnt) {
		err = tf_err(-ENOENT, "tap '%s' is not traced (tapflow trace start %s)", name, name);
		goto out;
	}
	*taps = out;
	*n = cnt;
	out = NULL;
	cnt = 0;
out:
	tf_trace_stats_free(out, cnt);
	free(percpu);
	tf_tap_list_free(local);
	close_pins(&p);
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
