// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Per-queue tracing (see tf_trace.h): what every part of it shares. The
 * programs of bpf/trace.bpf.c are loaded once (trace_load.c), taps are added
 * and removed by `trace start`/`stop` (trace_ctl.c), and any process reads
 * the counters back from the pins (trace_read.c). This file holds the
 * pins under TF_TRACE_PIN_DIR they all open, the lock writers take, the
 * layout check, backend names, and what tracing does when a tap is deleted
 * or shown (its struct tf_module).
 *
 * Each traced tap gets a slot (its ring-record map, sized to its queues and
 * ring, and its spill row) and a run of counter and histogram rows, one
 * per queue (layout 3, see tf_trace_shared.h).
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

#include "module.h"
#include "trace_int.h"

const char *const trace_pin_maps[PIN_MAPS_N] = { "meta", "traced", "slot_rows", "qcount", "hists",
						 "qextra", "hextra", "rings" };

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

uint32_t trace_netns(void)
{
	uint32_t ino = 0;

	tf_netns_self(&ino);
	return ino;
}

/*
 * Every entry of the traced map into keys/vals (room for max): one batch
 * lookup, not two syscalls per tap (at 4096 taps a key-by-key walk is 8192
 * syscalls); key by key where the kernel has no batch ops for hashes.
 */
int trace_traced_all(int fd, struct tf_traced_key *keys, struct tf_traced *vals, uint32_t max)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	struct tf_traced_key key;
	uint32_t count = max, out;
	void *prev = NULL;
	uint32_t n = 0;

	if (!bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &o) || errno == ENOENT)
		return (int)count;
	while (n < max && !bpf_map_get_next_key(fd, prev, &keys[n])) {
		key = keys[n];
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &vals[n]))
			n++;
	}
	return (int)n;
}

int trace_need_caps(const char *what)
{
	return tf_require_bpf_caps(TF_CAP_PERFMON, what);
}

/*
 * Every pin of the session is in one global directory; its lock serialises
 * loading and slot allocation between tapflow processes, and readers take
 * it shared. The version is the meta map's (bpf/trace.bpf.c writes none).
 */
const struct tf_pin_layout trace_layout = {
	.module = TF_TRACE_PIN_MODULE,
	.what = "tracing",
	.scope = TF_PIN_GLOBAL,
	.version = TF_TRACE_LAYOUT,
	.upgrade = "tapflow trace stop --all, then start again",
};

/* In trace_pin_maps' order. */
#define PIN_FDS(p) { &(p)->meta, &(p)->traced, &(p)->slot_rows, &(p)->qcount, &(p)->hists, \
		     &(p)->qextra, &(p)->hextra, &(p)->rings }

void trace_close_pins(struct pins *p)
{
	int *fds[] = PIN_FDS(p);

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* 0: open; -ENOENT: tracing is not loaded. */
/* Does the session's directory hold any pin at all? */
static bool any_pin(void)
{
	DIR *d = opendir(TF_TRACE_PIN_DIR);
	struct dirent *de;
	bool any = false;

	if (!d)
		return false;
	while (!any && (de = readdir(d)))
		any = de->d_name[0] != '.';
	closedir(d);
	return any;
}

int trace_open_pins_at(struct pins *p, bool staged)
{
	int *fds[] = PIN_FDS(p);
	char path[256];

	_Static_assert(ARRAY_SIZE(fds) == PIN_MAPS_N, "a pin without a name");
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = -1;
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		/*
		 * meta is opened first and its version checked before any other
		 * map: another layout's session has other maps (layout 2 has no
		 * slot_rows), and must be refused by its version, never taken
		 * for a half-made start and removed.
		 */
		if (i == 1) {
			struct tf_trace_meta m;
			int err = trace_read_meta(p, &m);

			if (err) {
				trace_close_pins(p);
				return err;
			}
		}
		snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR,
			 staged && fds[i] == &p->meta ? TRACE_META_STAGED : trace_pin_maps[i]);
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0) {
			int err = errno;

			trace_close_pins(p);
			if (err == ENOENT && !staged && any_pin())
				return tf_err(-ESTALE, "tracing was left half-started (a trace start was "
					      "killed): pins in %s without a session; tapflow trace "
					      "start or trace stop --all removes them", TF_TRACE_PIN_DIR);
			if (err == ENOENT)
				return -ENOENT;
			return tf_err(-err, "cannot open %s: %s", path, strerror(err));
		}
	}
	return 0;
}

int trace_open_pins_shared(struct pins *p)
{
	struct tf_pin lock;
	int err = tf_pin_open(&lock, &trace_layout, 0, 0, TF_PIN_READ);

	if (!err)
		err = trace_open_pins(p);
	tf_pin_close(&lock);
	return err;
}

int trace_read_meta(const struct pins *p, struct tf_trace_meta *m)
{
	struct tf_pin at = { .layout = &trace_layout, .fd = -1 };
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(p->meta, &zero, m))
		return tf_err(-errno, "cannot read tracing metadata: %s", strerror(errno));
	tf_pin_dir(&trace_layout, 0, 0, at.dir, sizeof(at.dir));
	return tf_pin_check_version(&at, m->version);
}

/*
 * Remove every pin of the tracing session (links first: that detaches).
 * The directory stays for the lock holder's tf_pin_release().
 */
void trace_unpin_all(void)
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
}

int tf_trace_backend(void)
{
	struct tf_trace_meta m;
	struct pins p;
	int err = trace_open_pins_shared(&p);

	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	err = trace_read_meta(&p, &m);
	trace_close_pins(&p);
	return err ? err : (int)m.backend;
}

int tf_trace_is_traced(int ifindex, int *backend)
{
	struct tf_traced_key key = { trace_netns(), (uint32_t)ifindex };
	struct tf_trace_meta m;
	struct tf_traced v;
	struct pins p;
	int err = trace_open_pins_shared(&p), ret = 0;

	if (err)
		return err == -ENOENT ? 0 : err;
	if (!bpf_map_lookup_elem(p.traced, &key, &v) && !trace_read_meta(&p, &m)) {
		ret = 1;
		if (backend)
			*backend = m.backend;
	}
	trace_close_pins(&p);
	return ret;
}

/* A deleted tap stops being traced with it. */
static void trace_delete_hook(int ifindex, const char *name)
{
	const char *names[1] = { name };

	(void)ifindex;
	if (tf_trace_is_traced(ifindex, NULL) == 1 && tf_trace_stop(names, 1))
		pr_warn("could not stop tracing %s: %s", name, tf_errmsg());
}

static int trace_show_hook(int ifindex, const char *name, struct tf_tap_attached *a)
{
	(void)name;
	if (tf_trace_is_traced(ifindex, &a->trace_backend) != 1)
		return 0;
	a->traced = true;
	return 1;
}

const struct tf_module tf_trace_module = {
	.name = "trace",
	.tap_delete = trace_delete_hook,
	.tap_show = trace_show_hook,
};
