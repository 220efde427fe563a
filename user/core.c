// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libtapflow core: the thread-local error message every call leaves behind,
 * the log sink (ours and libbpf's, one level apart), capability checks by
 * name, and what every module's pinned state relies on: bpffs, pin
 * directories and network namespace identity (the scopes, locks and
 * versions built on them are in pin.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "log.h"

#ifndef TAPFLOW_VERSION
#define TAPFLOW_VERSION "0.1"
#endif

static __thread char errbuf[512];
static __thread enum tf_errkind errkind;
static enum tf_log_level log_max = TF_LOG_WARN;
static tf_log_fn log_fn;

const char *tf_version(void)
{
	return TAPFLOW_VERSION;
}

const char *tf_errmsg(void)
{
	return errbuf[0] ? errbuf : "unknown error";
}

enum tf_errkind tf_errkind(void)
{
	return errkind;
}

/*
 * The one body behind tf_err(), tf_err_bpf() and tf_err_as(): a variadic
 * function cannot pass its "..." on, so each entry point opens its va_list
 * here and err_set() does the rest.
 */
static void err_set(enum tf_errkind kind, const char *fmt, va_list ap)
{
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	errkind = kind;
}

#define ERR_SET(kind, fmt)                   \
	do {                                 \
		va_list ap;                  \
		va_start(ap, fmt);           \
		err_set((kind), (fmt), ap);  \
		va_end(ap);                  \
	} while (0)

int tf_err(int err, const char *fmt, ...)
{
	ERR_SET(TF_ERRK_OTHER, fmt);
	return err;
}

int tf_err_bpf(int err, const char *fmt, ...)
{
	ERR_SET(TF_ERRK_BPF, fmt);
	return err;
}

int tf_err_as(int err, enum tf_errkind kind, const char *fmt, ...)
{
	ERR_SET(kind, fmt);
	return err;
}

void tf_set_log_level(enum tf_log_level max)
{
	log_max = max;
}

void tf_set_log_fn(tf_log_fn fn)
{
	log_fn = fn;
}

static void tf_vlog(enum tf_log_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	if (level > log_max)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (log_fn)
		log_fn(level, buf);
	else
		fprintf(stderr, "%s\n", buf);
}

void tf_log(enum tf_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tf_vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf warnings are details of an error we report ourselves. */
	(void)level;
	tf_vlog(TF_LOG_LIBBPF, fmt, ap);
	return 0;
}

void tf_libbpf_quiet(void)
{
	libbpf_set_print(libbpf_print);
}

const char *tf_cap_name(enum tf_cap cap)
{
	static __thread char other[16];

	switch (cap) {
	case TF_CAP_DAC_OVERRIDE: return "CAP_DAC_OVERRIDE";
	case TF_CAP_NET_ADMIN: return "CAP_NET_ADMIN";
	case TF_CAP_SYS_PTRACE: return "CAP_SYS_PTRACE";
	case TF_CAP_SYS_ADMIN: return "CAP_SYS_ADMIN";
	case TF_CAP_PERFMON: return "CAP_PERFMON";
	case TF_CAP_BPF: return "CAP_BPF";
	}
	snprintf(other, sizeof(other), "CAP_%d", (int)cap);
	return other;
}

int tf_have_cap(enum tf_cap cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if ((unsigned int)cap >= 64)
		return 0;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

int tf_require_cap(enum tf_cap cap, const char *what)
{
	if (tf_have_cap(cap))
		return 0;
	tf_err(-EPERM, "%s needs %s (run as root or grant the capability)",
	       what, tf_cap_name(cap));
	errkind = TF_ERRK_CAP;
	return -EPERM;
}

int tf_require_bpf_caps(enum tf_cap with, const char *what)
{
	bool admin = tf_have_cap(TF_CAP_SYS_ADMIN);
	enum tf_cap missing;

	if (with == TF_CAP_NET_ADMIN && !tf_have_cap(with))
		return tf_require_cap(with, what);
	if (admin)
		return 0;
	if (!tf_have_cap(TF_CAP_BPF))
		missing = TF_CAP_BPF;
	else if (!tf_have_cap(with))
		missing = with;
	else
		return 0;
	tf_err(-EPERM, "%s needs %s (and %s), or CAP_SYS_ADMIN", what, tf_cap_name(missing),
	       tf_cap_name(missing == TF_CAP_BPF ? with : TF_CAP_BPF));
	errkind = TF_ERRK_CAP;
	return -EPERM;
}

#define BPF_FS_MAGIC_NUM 0xcafe4a11

int tf_netns_self(uint32_t *ino)
{
	struct stat st;

	/*
	 * thread-self, not self: /proc/self is the thread group leader's, and a
	 * thread that entered another namespace (the exporter following taps
	 * there, setns) must not make the others see it as theirs.
	 */
	if (stat("/proc/thread-self/ns/net", &st))
		return tf_err(-errno, "cannot stat /proc/thread-self/ns/net: %s", strerror(errno));
	*ino = (uint32_t)st.st_ino;
	return 0;
}

bool tf_netns_alive(uint32_t ino)
{
	static const char *const dirs[] = { "/proc", "/run/netns", "/var/run/netns" };
	char path[300];
	struct dirent *de;
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		DIR *d = opendir(dirs[i]);

		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (i == 0 && (de->d_name[0] < '0' || de->d_name[0] > '9'))
				continue;
			if (de->d_name[0] == '.')
				continue;	/* "." would be the directory's own inode */
			snprintf(path, sizeof(path), "%s/%s%s", dirs[i], de->d_name,
				 i == 0 ? "/ns/net" : "");
			if (!stat(path, &st) && (uint32_t)st.st_ino == ino) {
				closedir(d);
				return true;
			}
		}
		closedir(d);
	}
	return false;
}

/*
 * From /proc/PID/mountinfo (readable where /proc/1/ns and /proc/1/root are
 * not, as for a non-dumpable PID 1): the id of the mount on "/" (a mount
 * namespace's copies of its mounts all get new ids, so two processes with
 * the same root mount id share a mount namespace) and the device of the
 * bpffs on /sys/fs/bpf (0 when none). -1 when the file cannot be read.
 */
static int mount_facts(const char *pid, long *root_id, dev_t *bpf_dev)
{
	char path[64], line[1024], mnt[256], type[64];
	unsigned int maj, min;
	long id;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/mountinfo", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	*root_id = -1;
	*bpf_dev = 0;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - type source opts */
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%ld %*d %u:%u %*s %255s", &id, &maj, &min, mnt) != 4 ||
		    sscanf(dash, " - %63s", type) != 1)
			continue;
		if (!strcmp(mnt, "/"))
			*root_id = id;	/* the last one is on top */
		if (!strcmp(mnt, "/sys/fs/bpf"))
			*bpf_dev = strcmp(type, "bpf") ? 0 : makedev(maj, min);
	}
	fclose(f);
	return 0;
}

/*
 * Pins are only worth making where the next tapflow finds them: the host's
 * bpffs. `ip netns exec` runs its command in a mount namespace of its own
 * with a fresh /sys, where /sys/fs/bpf is an empty sysfs directory; a bpffs
 * mounted there (as tapflow once did) dies with the command, and with it
 * every pin, while the programs stay attached where no tapflow can see
 * them. So outside PID 1's mount namespace tapflow neither mounts a bpffs
 * nor uses one that is not PID 1's, unless TAPFLOW_PRIVATE_BPFFS=1 says the
 * private one is meant (tests/isolated.sh: a test run's own bpffs).
 */
int tf_bpffs_check(bool mount_it)
{
	static const char *const hint =
		"run it in the namespace with nsenter --net=/run/netns/NS tapflow ..., "
		"which keeps the host's mounts, instead of ip netns exec";
	const char *priv = getenv("TAPFLOW_PRIVATE_BPFFS");
	bool private_ok = priv && !strcmp(priv, "1");
	long self_root, init_root;
	dev_t self_bpf, init_bpf;
	bool known, same_ns;
	struct statfs sfs;
	struct stat st;

	/* Unknown (no /proc) passes: the checks below are all we can do. */
	known = !mount_facts("self", &self_root, &self_bpf) &&
		!mount_facts("1", &init_root, &init_bpf);
	same_ns = !known || self_root == init_root;
	if (!statfs(TF_BPFFS, &sfs) && sfs.f_type == BPF_FS_MAGIC_NUM) {
		if (same_ns || private_ok ||
		    (!stat(TF_BPFFS, &st) && init_bpf && st.st_dev == init_bpf))
			return 0;
		return tf_err(-EXDEV, "/sys/fs/bpf here is a private bpffs, not the host's (another mount "
			      "namespace): tapflow's pins are not in it, and pins made in it would be "
			      "lost; %s", hint);
	}
	if (!same_ns && !private_ok)
		return tf_err(-EXDEV, "/sys/fs/bpf is not a bpffs in this mount namespace (as under "
			      "ip netns exec): tapflow's pins are not visible here, and pins made here "
			      "would be lost; %s", hint);
	if (!mount_it)
		return 0;	/* a reader: nothing is pinned, and it finds so */
	if (mount("bpf", TF_BPFFS, "bpf", 0, "mode=0700"))
		return tf_err(-errno, "bpffs is not mounted at " TF_BPFFS " and mounting it failed: %s "
			      "(run scripts/setup.sh or mount -t bpf bpf " TF_BPFFS ")", strerror(errno));
	return 0;
}

int tf_pin_mkdir(const char *dir)
{
	int err = tf_bpffs_check(true);

	if (err)
		return err;
	if (mkdir(TF_PIN_ROOT, 0700) && errno != EEXIST)
		return tf_err(-errno, "cannot create %s: %s", TF_PIN_ROOT, strerror(errno));
	if (strcmp(dir, TF_PIN_ROOT) && mkdir(dir, 0700) && errno != EEXIST) {
		if (errno == EACCES && tf_require_cap(TF_CAP_DAC_OVERRIDE, "keeping pinned state"))
			return -EPERM;
		return tf_err(-errno, "cannot create %s: %s", dir, strerror(errno));
	}
	return 0;
}

void tf_pin_rmdir(const char *dir)
{
	if (rmdir(dir) && errno != ENOENT && errno != ENOTEMPTY)
		pr_debug("cannot remove %s: %s", dir, strerror(errno));
}

bool tf_map_read_range(int fd, uint32_t start, uint32_t n, uint32_t *keys, void *values)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	uint32_t prev = start - 1, out = 0, count = n;

	if (!n)
		return true;
	/* a batch starts after in_batch: the key before start, or the map's first */
	if (bpf_map_lookup_batch(fd, start ? &prev : NULL, &out, keys, values, &count, &o) &&
	    errno != ENOENT)
		return false;
	return count == n && keys[0] == start && keys[n - 1] == start + n - 1;
}

void tf_percpu_sum(const void *percpu, int ncpu, size_t value_size, void *sum)
{
	size_t stride = (value_size + 7) & ~(size_t)7, words = value_size / sizeof(uint64_t);
	uint64_t *dst = sum;

	for (int c = 0; c < ncpu; c++) {
		const uint64_t *src = (const void *)((const char *)percpu + (size_t)c * stride);

		for (size_t k = 0; k < words; k++)
			dst[k] += src[k];
	}
}
