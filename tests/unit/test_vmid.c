// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of naming a tap's VM: the VM name each kind of command line
 * gives (qemu as libvirt writes it, qemu by hand, firecracker, others), and
 * one real walk of /proc that finds this test's own child holding a tun fd
 * (root only: it makes a tap in a namespace of its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>

#include "tapflow.h"
#include "tf_test.h"

#define ARGV(...) ({ static const char a[] = __VA_ARGS__; a; }), sizeof(__VA_ARGS__)

static void name_of(const char *argv, size_t len, const char *want, const char *what)
{
	char vm[TF_VM_NAME_MAX];
	bool got = tf_vm_name_from_cmdline(argv, len, vm);

	if (want) {
		ASSERT_TRUE(got, what);
		ASSERT_STREQ(vm, want, what);
	} else {
		ASSERT_TRUE(!got, what);
	}
}

static void test_cmdline_names(void)
{
	name_of(ARGV("/usr/bin/qemu-system-x86_64\0-name\0guest=vm-alpha,debug-threads=on\0-S"),
		"vm-alpha", "libvirt's -name guest=");
	name_of(ARGV("qemu-system-x86_64\0-accel\0tcg\0-name\0vm-beta"), "vm-beta", "-name NAME");
	name_of(ARGV("qemu-system-x86_64\0-name\0vm-g,process=qemu-g"), "vm-g", "-name NAME,process=");
	name_of(ARGV("qemu-system-x86_64\0-name\0debug-threads=on,guest=late"), "late", "guest= not first");
	name_of(ARGV("qemu-system-x86_64\0-name\0a,,b,debug-threads=on"), "a,b", "escaped comma");
	name_of(ARGV("qemu-kvm\0-name\0guest=x,,y"), "x,y", "escaped comma in guest=");
	name_of(ARGV("/usr/bin/firecracker\0--api-sock\0/run/fc.sock\0--id\0mvm-0042"), "mvm-0042", "firecracker --id ID");
	name_of(ARGV("firecracker\0--id=mvm-7"), "mvm-7", "firecracker --id=ID");
	name_of(ARGV("qemu-system-x86_64\0-S"), NULL, "qemu without -name");
	name_of(ARGV("qemu-system-x86_64\0-name"), NULL, "-name without a value");
	name_of(ARGV("/usr/bin/python3\0-name\0nope"), NULL, "not qemu: -name means nothing");
	name_of(ARGV("cloud-hv\0--id\0x"), NULL, "--id outside firecracker");
	name_of("", 0, NULL, "empty (a kernel thread)");
}

static void test_walk_finds_holder(void)
{
	struct tf_tap_backend_query q[2] = { { .name = "tfvmid0" }, { .name = "tfvmid-none" } };
	struct ifreq ifr = { 0 };
	int pfd[2], fd, st, found;
	uint32_t ns = 0;
	char c;
	pid_t pid;

	if (geteuid())
		TEST_SKIP("needs root (a tap in a namespace of its own)");
	if (pipe(pfd))
		return (void)ASSERT_OK(-errno, "pipe");
	pid = fork();
	if (!pid) {
		/* a namespace of our own so the name cannot collide */
		if (unshare(CLONE_NEWNET))
			_exit(2);
		fd = open("/dev/net/tun", O_RDWR);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "tfvmid0");
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
		if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr))
			_exit(3);
		if (write(pfd[1], "k", 1) != 1)
			_exit(4);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	if (!ASSERT_EQ(read(pfd[0], &c, 1), 1, "child made its tap")) {
		waitpid(pid, &st, 0);
		return;
	}
	{
		char p[64];
		struct stat sb;

		snprintf(p, sizeof(p), "/proc/%d/ns/net", pid);
		if (!stat(p, &sb))
			ns = sb.st_ino;
	}
	q[0].netns = ns;
	found = tf_tap_backend_find(q, 2, NULL);
	ASSERT_EQ(found, 1, "one of two taps has a holder");
	ASSERT_EQ(q[0].b.pid, pid, "the holder is the child");
	ASSERT_EQ(q[0].b.fds, 1, "one queue fd");
	ASSERT_EQ(q[1].b.pid, 0, "nobody holds the other");
	ASSERT_STREQ(q[0].b.vm, q[0].b.comm, "no VM name: comm stands in");
	/* a cgroup path wherever /proc/PID/cgroup names one (a minimal guest
	 * without cgroups names none) */
	{
		char cg[256] = "";
		FILE *f = fopen("/proc/self/cgroup", "r");

		if (f) {
			if (!fgets(cg, sizeof(cg), f))
				cg[0] = '\0';
			fclose(f);
		}
		if (strchr(cg, '/'))
			ASSERT_TRUE(q[0].b.cgroup[0] == '/', "a cgroup path");
	}
	/* the same name in another namespace is not this tap */
	q[0].netns = ns + 1;
	ASSERT_EQ(tf_tap_backend_find(q, 1, NULL), 0, "other namespace: no holder");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(pfd[0]);
}

int main(void)
{
	static const struct tf_test tests[] = {
		TF_TEST(test_cmdline_names),
		TF_TEST(test_walk_finds_holder),
	};

	return tf_run_tests("vmid", tests, sizeof(tests) / sizeof(tests[0]));
}
