/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Pinned state: the one way tracing, the fast path and steering keep what
 * outlives a process under TF_PIN_ROOT. Included by tapflow.h.
 *
 *   TF_PIN_ROOT/<module>/                      TF_PIN_GLOBAL  (trace)
 *   TF_PIN_ROOT/<module>/<netns inode>/        TF_PIN_NETNS   (fastpath)
 *   TF_PIN_ROOT/<module>/<netns inode>-<ifindex>/  TF_PIN_TAP (steer)
 *
 * Each scope directory (0700, its pins 0600) is the lock of what is in it:
 * flock() shared to read, exclusive to change, so readers never see half a
 * change and never wait for each other. Opening checks that the directory
 * locked is still the one at that path (the last writer out removes it),
 * and the module checks the layout version of what it finds with
 * tf_pin_check_version(), whose error names the upgrade step. State whose
 * namespace (or, per tap, device) is gone is handed back by
 * tf_pin_reclaim().
 */
#ifndef TF_PIN_H
#define TF_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tf_pin_scope {
	TF_PIN_GLOBAL,		/* one directory for every namespace */
	TF_PIN_NETNS,		/* one per network namespace */
	TF_PIN_TAP,		/* one per device of a network namespace */
};

/* What a module keeps, declared once by the module. */
struct tf_pin_layout {
	const char *module;	/* directory under TF_PIN_ROOT */
	const char *what;	/* names the state in messages: "tracing" */
	enum tf_pin_scope scope;
	uint32_t version;	/* the layout this tapflow reads and writes */
	const char *upgrade;	/* how to get rid of state of another layout */
};

/* One scope directory, locked while fd >= 0. */
struct tf_pin {
	const struct tf_pin_layout *layout;
	uint32_t netns;		/* TF_PIN_NETNS, TF_PIN_TAP */
	int ifindex;		/* TF_PIN_TAP */
	int fd;			/* the directory, flock()ed; -1: not held */
	char dir[96];
};

enum tf_pin_flags {
	TF_PIN_READ = 0,	/* shared lock; the directory must exist */
	TF_PIN_WRITE = 1,	/* exclusive lock */
	TF_PIN_CREATE = 2,	/* create the directory (implies TF_PIN_WRITE) */
};

/* The directory of a scope; netns 0 means the caller's. */
int tf_pin_dir(const struct tf_pin_layout *l, uint32_t netns, int ifindex, char *buf,
	       size_t len);
/*
 * Open and lock a scope directory (netns 0: the caller's namespace).
 * -ENOENT (message set) when it does not exist and flags lack TF_PIN_CREATE.
 */
int tf_pin_open(struct tf_pin *p, const struct tf_pin_layout *l, uint32_t netns,
		int ifindex, unsigned int flags);
/* The path of pin `name` in p's directory. */
const char *tf_pin_path(const struct tf_pin *p, const char *name, char *buf, size_t len);
/* Drop the lock (p->fd = -1). Safe to call twice. */
void tf_pin_close(struct tf_pin *p);
/*
 * Remove p's directory if no pin is left in it (and the module's directory
 * with the last scope), then close. true when the directory went.
 */
bool tf_pin_release(struct tf_pin *p);
/*
 * 0 when found is the layout this tapflow reads; else -EPROTO and a message
 * naming the state, both versions and the upgrade step.
 */
int tf_pin_check_version(const struct tf_pin *p, uint32_t found);

/*
 * For modules whose BPF side keeps no metadata: a one-entry array map
 * pinned as "meta" in p's directory holding the layout version. Read
 * returns 0 in *version when the pin is absent (state from before
 * versions).
 */
int tf_pin_write_version(const struct tf_pin *p);
int tf_pin_read_version(const struct tf_pin *p, uint32_t *version);

/*
 * Hand every scope directory of l whose network namespace is gone (for
 * TF_PIN_TAP also: the caller's namespace, the device gone) to fn, locked
 * exclusively; fn must tf_pin_release() or tf_pin_close() it. Directories
 * of live state and the caller's own are left alone. TF_PIN_GLOBAL state
 * reclaims by entry instead, with tf_netns_alive().
 */
typedef void (*tf_pin_reclaim_fn)(struct tf_pin *p, void *arg);
void tf_pin_reclaim(const struct tf_pin_layout *l, tf_pin_reclaim_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* TF_PIN_H */
