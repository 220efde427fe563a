/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libtapflow: the public API behind the tapflow CLI, for programs (a VM
 * manager, a user-space dataplane) that want accelerated, traced taps
 * without shelling out.
 *
 * Conventions: every call that can fail returns 0 (or a count) on success
 * and a negative errno on failure, and leaves a one-line description of
 * what went wrong in a thread-local buffer that tf_errmsg() returns. Nothing
 * is printed by the library except through the log callback.
 */
#ifndef TAPFLOW_H
#define TAPFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tf_limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TF_IFNAMSIZ	16	/* IFNAMSIZ, with the NUL */
#define TF_BPFFS	"/sys/fs/bpf"
#define TF_PIN_ROOT	TF_BPFFS "/tapflow"

/* ---- errors and logging ------------------------------------------------ */

const char *tf_errmsg(void);
/* Record a message for tf_errmsg() and return err (a negative errno). */
int tf_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * What kind of failure the last tf_err*() recorded, so that every caller
 * (the CLI's exit codes among them) sorts failures by one rule:
 *   TF_ERRK_BPF   the kernel refused a BPF load or attach (CLI exit 3);
 *   TF_ERRK_CAP   a capability is missing, named in the message (exit 1);
 *   TF_ERRK_OTHER anything else (the errno decides: bad input is exit 2).
 */
enum tf_errkind {
	TF_ERRK_OTHER = 0,
	TF_ERRK_BPF,
	TF_ERRK_CAP,
};
enum tf_errkind tf_errkind(void);
/* tf_err() that also marks the failure as the kernel refusing BPF. */
int tf_err_bpf(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tf_err() with a kind given: to put back an error after a cleanup that may
 * have recorded its own (the kind is kept, so the exit code is too). */
int tf_err_as(int err, enum tf_errkind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

enum tf_log_level {
	TF_LOG_WARN,
	TF_LOG_INFO,
	TF_LOG_DEBUG,
	TF_LOG_LIBBPF,	/* libbpf's own chatter, one level below ours */
};
typedef void (*tf_log_fn)(enum tf_log_level level, const char *msg);
void tf_set_log_level(enum tf_log_level max);
void tf_set_log_fn(tf_log_fn fn);	/* default: stderr */
void tf_log(enum tf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Route libbpf's printouts through tf_log at TF_LOG_LIBBPF. */
void tf_libbpf_quiet(void);

const char *tf_version(void);

/* ---- input validation (shared by the CLI and API callers) --------------- */

/* A Linux interface name: 1..15 bytes, no '/', ':', '%' or whitespace. */
int tf_parse_ifname(const char *s, char out[TF_IFNAMSIZ]);
/* Strict unsigned decimal in [min, max]; `what` names the field in errors. */
int tf_parse_uint(const char *s, const char *what, unsigned long min,
		  unsigned long max, unsigned long *out);
/* aa:bb:cc:dd:ee:ff; rejects multicast and all-zero (not usable on a tap). */
int tf_parse_mac(const char *s, uint8_t mac[6]);
/* Format a MAC as aa:bb:cc:dd:ee:ff into buf; returns buf. */
#define TF_MAC_STRLEN	18
char *tf_mac_format(const uint8_t mac[6], char buf[TF_MAC_STRLEN]);
/* The ifindex of the device `name` in the caller's network namespace:
 * -EINVAL for a bad name, -ENODEV (naming it) for none by that name. */
int tf_ifindex(const char *name, int *ifindex);
/* A user or group by name or numeric id; must exist on this system. */
int tf_parse_user(const char *s, uid_t *uid);
int tf_parse_group(const char *s, gid_t *gid);
/* Seconds as a positive decimal (e.g. 0.5) within [min, max]. */
int tf_parse_seconds(const char *s, const char *what, double min, double max,
		     double *out);

/*
 * The capabilities tapflow checks, by their kernel numbers
 * (<linux/capability.h>; CAP_PERFMON and CAP_BPF are newer than some
 * distributions' headers, so they are spelled out here).
 */
enum tf_cap {
	TF_CAP_DAC_OVERRIDE = 1,	/* pins: TF_PIN_ROOT is root's (0700), its pins 0600 */
	TF_CAP_NET_ADMIN = 12,	/* taps, netlink, XDP and tun ioctls */
	TF_CAP_SYS_PTRACE = 19,	/* another user's /proc/PID/fdinfo: which VM holds a tap */
	TF_CAP_SYS_ADMIN = 21,	/* covers CAP_BPF and CAP_PERFMON on any kernel */
	TF_CAP_PERFMON = 38,	/* tracing programs (since 5.8) */
	TF_CAP_BPF = 39,	/* loading programs and maps (since 5.8) */
};
/* "CAP_NET_ADMIN", ...; "CAP_<n>" for others. */
const char *tf_cap_name(enum tf_cap cap);
/* Is the capability effective? 1 yes, 0 no. */
int tf_have_cap(enum tf_cap cap);
/* Fail (TF_ERRK_CAP) with a message naming the capability when it is missing. */
int tf_require_cap(enum tf_cap cap, const char *what);
/*
 * What loading BPF for `what` takes: CAP_BPF together with `with`
 * (CAP_PERFMON for tracing, CAP_NET_ADMIN for XDP and tun), or
 * CAP_SYS_ADMIN in place of CAP_BPF. CAP_SYS_ADMIN stands in for
 * CAP_PERFMON too, never for CAP_NET_ADMIN. The message names the first
 * one missing.
 */
int tf_require_bpf_caps(enum tf_cap with, const char *what);

/* ---- state shared by the modules (under TF_PIN_ROOT; see tf_pin.h) ----- */

/* Inode number of the caller's network namespace: what BPF programs see as
 * dev_net(dev)->ns.inum, and how pinned state tells namespaces apart. */
int tf_netns_self(uint32_t *ino);
/* Is that namespace still alive (a process in it, or bind-mounted by
 * `ip netns`)? State kept for a dead one can be reclaimed. */
bool tf_netns_alive(uint32_t ino);
/*
 * Is /sys/fs/bpf the host's bpffs, where the next tapflow will find what
 * this one pins (or has pinned)? With mount_it, mounts it when absent in
 * PID 1's mount namespace; refuses (-EXDEV, saying to use nsenter --net) in
 * another mount namespace without a bpffs or with one that is not PID 1's,
 * as under `ip netns exec`, unless TAPFLOW_PRIVATE_BPFFS=1 (for test runs
 * with a bpffs of their own).
 */
int tf_bpffs_check(bool mount_it);
/* Create a directory for pins (the root and dir), mode 0700, after
 * tf_bpffs_check(). */
int tf_pin_mkdir(const char *dir);
/* Remove a module's pin directory once its last pin is gone (no-op while
 * anything is left in it). */
void tf_pin_rmdir(const char *dir);
/*
 * Entries [start, start + n) of an array map (per-CPU too) in one syscall,
 * values as the kernel lays them out (per-CPU maps: each key's values for
 * every possible CPU, each rounded up to 8 bytes). keys has room for n.
 * false when the kernel could not: read them one by one instead.
 */
bool tf_map_read_range(int fd, uint32_t start, uint32_t n, uint32_t *keys, void *values);
/*
 * Add one per-CPU value as the kernel lays it out (ncpu copies of a struct
 * of __u64 counters, value_size bytes, each copy rounded up to 8 bytes)
 * into *sum, the same struct: what every per-CPU counter read does.
 */
void tf_percpu_sum(const void *percpu, int ncpu, size_t value_size, void *sum);

#ifdef __cplusplus
}
#endif

#include "tf_pin.h"
#include "tf_tap.h"
#include "tf_trace.h"
#include "tf_export.h"
#include "tf_vmid.h"
#include "tf_follow.h"
#include "tf_steer.h"
#include "tf_fastpath.h"
#include "tf_xsk.h"
#include "tf_capture.h"

#endif /* TAPFLOW_H */
