// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The pinned-state module (user/pin.c) on the real bpffs: scope
 * directories, the shared/exclusive flock (seen from a second open file
 * description, as another process would), the layout version and its
 * message, removal with the last pin, and reclaim of state whose namespace
 * or device is gone. Capability checks by name at the end. Needs root; the
 * module directories are named after this process, so runs never meet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "tapflow.h"
#include "tf_test.h"

static char mod_global[32], mod_netns[32], mod_tap[32];
static struct tf_pin_layout global = { .what = "unit state", .scope = TF_PIN_GLOBAL,
				       .version = 2, .upgrade = "remove it by hand" };
static struct tf_pin_layout netns = { .what = "unit state", .scope = TF_PIN_NETNS, .version = 1,
				      .upgrade = "remove it by hand" };
static struct tf_pin_layout tap = { .what = "unit state", .scope = TF_PIN_TAP, .version = 1,
				    .upgrade = "remove it by hand" };

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* Can another open file description take the lock with op right now? */
static bool lockable(const char *dir, int op)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	bool ok;

	if (fd < 0)
		return false;
	ok = !flock(fd, op | LOCK_NB);
	close(fd);
	return ok;
}

static void setup(void)
{
	snprintf(mod_global, sizeof(mod_global), "unit-pin-g%d", getpid());
	snprintf(mod_netns, sizeof(mod_netns), "unit-pin-n%d", getpid());
	snprintf(mod_tap, sizeof(mod_tap), "unit-pin-t%d", getpid());
	global.module = mod_global;
	netns.module = mod_netns;
	tap.module = mod_tap;
}

static void test_scope_dirs(void)
{
	char buf[128], want[128];
	uint32_t self;

	setup();
	ASSERT_OK(tf_netns_self(&self), "netns");
	ASSERT_OK(tf_pin_dir(&global, 0, 0, buf, sizeof(buf)), "global");
	snprintf(want, sizeof(want), TF_PIN_ROOT "/%s", mod_global);
	ASSERT_STREQ(buf, want, "global dir");
	ASSERT_OK(tf_pin_dir(&netns, 0, 0, buf, sizeof(buf)), "netns");
	snprintf(want, sizeof(want), TF_PIN_ROOT "/%s/%u", mod_netns, self);
	ASSERT_STREQ(buf, want, "netns dir: the caller's namespace");
	ASSERT_OK(tf_pin_dir(&tap, 42, 7, buf, sizeof(buf)), "tap");
	snprintf(want, sizeof(want), TF_PIN_ROOT "/%s/42-7", mod_tap);
	ASSERT_STREQ(buf, want, "tap dir");
}

static void test_lock_shared_exclusive(void)
{
	struct tf_pin w, r1, r2;
	char mod[128];
	struct stat st;

	if (geteuid())
		TEST_SKIP("needs root (bpffs)");
	setup();
	ASSERT_EQ(tf_pin_open(&r1, &netns, 0, 0, TF_PIN_READ), -ENOENT, "read before create");
	ASSERT_HAS(tf_errmsg(), "unit state is not set up here (no " TF_PIN_ROOT, "message");
	if (!ASSERT_OK(tf_pin_open(&w, &netns, 0, 0, TF_PIN_CREATE), "create"))
		return;
	ASSERT_TRUE(!stat(w.dir, &st) && (st.st_mode & 0777) == 0700, "directory 0700");
	ASSERT_TRUE(!lockable(w.dir, LOCK_SH), "a writer keeps readers out");
	tf_pin_close(&w);
	ASSERT_OK(tf_pin_open(&r1, &netns, 0, 0, TF_PIN_READ), "reader 1");
	ASSERT_OK(tf_pin_open(&r2, &netns, 0, 0, TF_PIN_READ), "reader 2 beside it");
	ASSERT_TRUE(!lockable(r1.dir, LOCK_EX), "readers keep a writer out");
	tf_pin_close(&r1);
	tf_pin_close(&r2);
	ASSERT_TRUE(lockable(w.dir, LOCK_EX), "all closed: free");
	ASSERT_OK(tf_pin_open(&w, &netns, 0, 0, TF_PIN_WRITE), "writer again");
	ASSERT_TRUE(tf_pin_release(&w), "empty: released");
	ASSERT_TRUE(!exists(w.dir), "directory gone");
	snprintf(mod, sizeof(mod), TF_PIN_ROOT "/%s", mod_netns);
	ASSERT_TRUE(!exists(mod), "module directory gone with its last scope");
}

static void test_version(void)
{
	char mod[128];
	struct tf_pin p;
	uint32_t v = 99;

	if (geteuid())
		TEST_SKIP("needs root (bpffs)");
	setup();
	if (!ASSERT_OK(tf_pin_open(&p, &global, 0, 0, TF_PIN_CREATE), "create"))
		return;
	ASSERT_OK(tf_pin_read_version(&p, &v), "read, none written");
	ASSERT_EQ(v, 0, "no version map: 0");
	ASSERT_OK(tf_pin_write_version(&p), "write");
	ASSERT_OK(tf_pin_read_version(&p, &v), "read");
	ASSERT_EQ(v, 2, "the layout's version");
	ASSERT_OK(tf_pin_check_version(&p, 2), "same version");
	ASSERT_EQ(tf_pin_check_version(&p, 1), -EPROTO, "another version");
	ASSERT_HAS(tf_errmsg(), "unit state in " TF_PIN_ROOT, "names the state");
	ASSERT_HAS(tf_errmsg(), "(version 1; this one reads 2): remove it by hand",
		   "names both versions and the upgrade step");
	ASSERT_TRUE(!tf_pin_release(&p) && exists(p.dir), "a pin left: the directory stays");
	ASSERT_OK(tf_pin_open(&p, &global, 0, 0, TF_PIN_WRITE), "open again");
	unlink(tf_pin_path(&p, "meta", mod, sizeof(mod)));
	ASSERT_TRUE(tf_pin_release(&p) && !exists(p.dir), "last pin gone: released");
}

static void reclaim_fn(struct tf_pin *p, void *arg)
{
	char path[128];

	ASSERT_TRUE(!lockable(p->dir, LOCK_SH), "handed over locked");
	unlink(tf_pin_path(p, "meta", path, sizeof(path)));
	tf_pin_release(p);
	(*(int *)arg)++;
}

static void test_reclaim(void)
{
	struct tf_pin dead, mine, gone, lo;
	int n = 0;

	if (geteuid())
		TEST_SKIP("needs root (bpffs)");
	setup();
	/* inode 1 is no network namespace: nobody keeps it alive */
	ASSERT_OK(tf_pin_open(&dead, &netns, 1, 0, TF_PIN_CREATE), "dead namespace's state");
	ASSERT_OK(tf_pin_write_version(&dead), "a pin in it");
	tf_pin_close(&dead);
	ASSERT_OK(tf_pin_open(&mine, &netns, 0, 0, TF_PIN_CREATE), "our namespace's state");
	ASSERT_OK(tf_pin_write_version(&mine), "a pin in it");
	tf_pin_close(&mine);
	tf_pin_reclaim(&netns, reclaim_fn, &n);
	ASSERT_EQ(n, 1, "one directory reclaimed");
	ASSERT_TRUE(!exists(dead.dir), "the dead namespace's");
	ASSERT_TRUE(exists(mine.dir), "ours stays");

	/* per tap: our namespace, a device that is gone and one that is there */
	ASSERT_OK(tf_pin_open(&gone, &tap, 0, 0x7ffffff0, TF_PIN_CREATE), "gone device's state");
	ASSERT_OK(tf_pin_write_version(&gone), "a pin in it");
	tf_pin_close(&gone);
	ASSERT_OK(tf_pin_open(&lo, &tap, 0, 1, TF_PIN_CREATE), "lo's state");
	ASSERT_OK(tf_pin_write_version(&lo), "a pin in it");
	tf_pin_close(&lo);
	n = 0;
	tf_pin_reclaim(&tap, reclaim_fn, &n);
	ASSERT_EQ(n, 1, "one tap directory reclaimed");
	ASSERT_TRUE(!exists(gone.dir), "the gone device's");
	ASSERT_TRUE(exists(lo.dir), "lo's stays");

	if (!tf_pin_open(&mine, &netns, 0, 0, TF_PIN_WRITE))
		reclaim_fn(&mine, &n);
	if (!tf_pin_open(&lo, &tap, 0, 1, TF_PIN_WRITE))
		reclaim_fn(&lo, &n);
	ASSERT_TRUE(!exists(mine.dir) && !exists(lo.dir), "cleaned up");
}

/* Drop (or give back) capabilities from the effective set; permitted stays. */
static bool set_effective(unsigned long long drop)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d))
		return false;
	d[0].effective = d[0].permitted & ~(uint32_t)drop;
	d[1].effective = d[1].permitted & ~(uint32_t)(drop >> 32);
	return !syscall(SYS_capset, &hdr, d);
}

static void test_caps_by_name(void)
{
	const unsigned long long bpf = 1ull << TF_CAP_BPF, admin = 1ull << TF_CAP_SYS_ADMIN;

	ASSERT_STREQ(tf_cap_name(TF_CAP_BPF), "CAP_BPF", "CAP_BPF");
	ASSERT_STREQ(tf_cap_name(TF_CAP_PERFMON), "CAP_PERFMON", "CAP_PERFMON");
	ASSERT_STREQ(tf_cap_name(TF_CAP_NET_ADMIN), "CAP_NET_ADMIN", "CAP_NET_ADMIN");
	ASSERT_STREQ(tf_cap_name(TF_CAP_SYS_ADMIN), "CAP_SYS_ADMIN", "CAP_SYS_ADMIN");
	ASSERT_EQ(TF_CAP_BPF, CAP_BPF, "the kernel's number");
	ASSERT_EQ(TF_CAP_PERFMON, CAP_PERFMON, "the kernel's number");
	if (geteuid() || !tf_have_cap(TF_CAP_BPF) || !tf_have_cap(TF_CAP_SYS_ADMIN))
		TEST_SKIP("needs root with CAP_BPF and CAP_SYS_ADMIN to drop them");
	ASSERT_OK(tf_require_bpf_caps(TF_CAP_PERFMON, "tracing"), "all held");
	if (!ASSERT_TRUE(set_effective(bpf | admin), "drop CAP_BPF and CAP_SYS_ADMIN"))
		return;
	ASSERT_EQ(tf_require_bpf_caps(TF_CAP_PERFMON, "tracing"), -EPERM, "tracing refused");
	ASSERT_STREQ(tf_errmsg(), "tracing needs CAP_BPF (and CAP_PERFMON), or CAP_SYS_ADMIN",
		     "names the missing one");
	ASSERT_EQ(tf_errkind(), TF_ERRK_CAP, "a capability error");
	ASSERT_EQ(tf_require_cap(TF_CAP_BPF, "loading"), -EPERM, "one by name");
	ASSERT_HAS(tf_errmsg(), "loading needs CAP_BPF", "named");
	set_effective(0);
	ASSERT_OK(tf_require_bpf_caps(TF_CAP_NET_ADMIN, "the fast path"), "given back");
}

TF_MAIN("unit/pin",
	TF_TEST(test_scope_dirs),
	TF_TEST(test_lock_shared_exclusive),
	TF_TEST(test_version),
	TF_TEST(test_reclaim),
	TF_TEST(test_caps_by_name),
)
