// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which VM is behind a tap (include/tf_vmid.h): one walk of /proc finds the
 * processes whose tun fds name the taps asked about, then reads each
 * holder's command line (the VM's name), comm and cgroup. It is a walk of
 * every fd on the host, so callers run it when something changed (a
 * backend attached), never per scrape.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tapflow.h"
#include "log.h"

/* Read a small /proc file (at dirfd) into buf, NUL-terminated; length or -1. */
static ssize_t read_small(int dirfd, const char *path, char *buf, size_t size)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n, len = 0;

	if (fd < 0)
		return -1;
	while (len < (ssize_t)size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return len;
}

/*
 * qemu's option values escape a comma as ",,": copy from s up to the first
 * lone comma (or the end) into out.
 */
static void qemu_value(const char *s, const char *end, char *out, size_t size)
{
	size_t n = 0;

	while (s < end && *s) {
		if (*s == ',') {
			if (s + 1 < end && s[1] == ',')
				s++;
			else
				break;
		}
		if (n + 1 < size)
			out[n++] = *s;
		s++;
	}
	out[n] = '\0';
}

/* The value of key= in a qemu option string ("guest=NAME,debug-threads=on"). */
static bool qemu_key(const char *s, const char *end, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	while (s < end && *s) {
		if ((size_t)(end - s) > kl && !strncmp(s, key, kl) && s[kl] == '=') {
			qemu_value(s + kl + 1, end, out, size);
			return true;
		}
		/* to the next lone comma */
		while (s < end && *s) {
			if (*s == ',' && !(s + 1 < end && s[1] == ','))
				break;
			s += *s == ',' ? 2 : 1;
		}
		if (s < end && *s == ',')
			s++;
	}
	return false;
}

static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');

	return b ? b + 1 : s;
}

bool tf_vm_name_from_cmdline(const char *argv, size_t len, char vm[TF_VM_NAME_MAX])
{
	const char *end = argv + len, *a = argv, *next;
	const char *prog = base_name(argv);
	bool qemu = !strncmp(prog, "qemu", 4), fc = strstr(prog, "firecracker") != NULL;

	vm[0] = '\0';
	if (!len || (!qemu && !fc))
		return false;
	for (; a < end; a = next) {
		next = a + strnlen(a, end - a) + 1;
		if (qemu && (!strcmp(a, "-name") || !strcmp(a, "--name")) && next < end) {
			const char *v = next, *vend = v + strnlen(v, end - v);

			/* -name guest=NAME,... (libvirt) or -name NAME[,process=...] */
			if (!qemu_key(v, vend, "guest", vm, TF_VM_NAME_MAX))
				qemu_value(v, vend, vm, TF_VM_NAME_MAX);
			return vm[0] != '\0';
		}
		if (fc && !strcmp(a, "--id") && next < end) {
			snprintf(vm, TF_VM_NAME_MAX, "%s", next);
			return vm[0] != '\0';
		}
		if (fc && !strncmp(a, "--id=", 5)) {
			snprintf(vm, TF_VM_NAME_MAX, "%s", a + 5);
			return vm[0] != '\0';
		}
	}
	return false;
}

/*
 * The cgroup v2 path (the "0::" line); on a hybrid host where that is the
 * root, the name=systemd hierarchy's, which is where libvirt and systemd
 * put machines there.
 */
static void read_cgroup(int pdir, char *out, size_t size)
{
	char buf[4096], *line, *save = NULL, v2[TF_CGROUP_MAX] = "", sd[TF_CGROUP_MAX] = "";

	out[0] = '\0';
	if (read_small(pdir, "cgroup", buf, sizeof(buf)) <= 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "0::", 3))
			snprintf(v2, sizeof(v2), "%s", line + 3);
		else if (strstr(line, ":name=systemd:"))
			snprintf(sd, sizeof(sd), "%s", strstr(line, ":name=systemd:") + 14);
	}
	snprintf(out, size, "%s", strcmp(v2, "/") || !sd[0] ? v2 : sd);
}

static void describe(int pdir, int pid, struct tf_tap_backend *b)
{
	char cmd[8192];
	ssize_t n;

	b->pid = pid;
	if (read_small(pdir, "comm", b->comm, sizeof(b->comm)) > 0)
		b->comm[strcspn(b->comm, "\n")] = '\0';
	n = read_small(pdir, "cmdline", cmd, sizeof(cmd));
	if (n <= 0 || !tf_vm_name_from_cmdline(cmd, n, b->vm))
		snprintf(b->vm, sizeof(b->vm), "%s", b->comm);
	read_cgroup(pdir, b->cgroup, sizeof(b->cgroup));
}

/* The tap names this process's tun fds hold, matched against q: counts per query. */
static int scan_fds(int pdir, struct tf_tap_backend_query *q, size_t n, unsigned int *hits)
{
	int dfd = openat(pdir, "fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char buf[1024], *iff;
	struct dirent *de;
	DIR *d;
	int any = 0;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (read_small(dfd, de->d_name, buf, sizeof(buf)) <= 0)
			continue;
		iff = strstr(buf, "\niff:\t");
		if (!iff)
			continue;
		iff += 6;
		iff[strcspn(iff, "\n")] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(q[i].name, iff)) {
				hits[i]++;
				any = 1;
			}
		}
	}
	closedir(d);
	return any;
}

int tf_tap_backend_find(struct tf_tap_backend_query *q, size_t n, unsigned int *denied)
{
	unsigned int *hits, ndenied = 0;
	int self = getpid(), found = 0;
	struct dirent *de;
	DIR *proc;

	if (denied)
		*denied = 0;
	for (size_t i = 0; i < n; i++)
		memset(&q[i].b, 0, sizeof(q[i].b));
	if (!n)
		return 0;
	hits = calloc(n, sizeof(*hits));
	if (!hits)
		return tf_err(-ENOMEM, "out of memory");
	proc = opendir("/proc");
	if (!proc) {
		free(hits);
		return tf_err(-errno, "cannot read /proc: %s", strerror(errno));
	}
	while ((de = readdir(proc))) {
		int pid = atoi(de->d_name), pdir, r;
		struct stat st;

		if (pid <= 0 || pid == self)
			continue;
		pdir = openat(dirfd(proc), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pdir < 0)
			continue;
		memset(hits, 0, n * sizeof(*hits));
		r = scan_fds(pdir, q, n, hits);
		if (r == -EACCES || r == -EPERM)
			ndenied++;
		if (r > 0 && fstatat(pdir, "ns/net", &st, 0))
			r = 0;	/* cannot tell its namespace: not a match we can trust */
		for (size_t i = 0; r > 0 && i < n; i++) {
			struct tf_tap_backend *b = &q[i].b;

			if (!hits[i] || (q[i].netns && (uint32_t)st.st_ino != q[i].netns))
				continue;
			if (!b->pid)
				found++;
			/* /proc lists pids in ascending order: the first holder is the lowest */
			if (!b->pid)
				describe(pdir, pid, b);
			b->procs++;
			b->fds += hits[i];
		}
		close(pdir);
	}
	closedir(proc);
	free(hits);
	if (denied)
		*denied = ndenied;
	return found;
}
