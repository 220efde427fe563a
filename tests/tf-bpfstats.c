// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-bpfstats: how many times each BPF program pinned under a directory ran
 * while a command ran, from the kernel's own run-time statistics. It turns
 * them on with BPF_ENABLE_STATS (they count only while its fd is open, so
 * nothing else on the host pays for them after it exits), reads run_cnt and
 * run_time_ns of every program behind the directory's pins (links: their
 * program; programs: themselves) before and after the command, and prints
 * the difference as JSON, the pin's name standing for the program:
 *
 *	tf-bpfstats DIR -- CMD [ARG...]
 *	tf-bpfstats NAME=ID[,NAME=ID...] -- CMD [ARG...]
 *	{"status":0,"progs":{"tp_net_dev_xmit":{"runs":400,"ns":12345},...}}
 *
 * The second form names programs by id, for programs nobody pinned (the
 * benchmark's empty and bound programs, which tf-empty-trace lists).
 *
 * The command's stdout goes to stderr, so stdout is only the JSON. Exit:
 * the command's status, 2 on bad usage, 1 when the statistics cannot be
 * had. The tracing tests use it to count the runs a packet costs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define MAXP 64

struct prog {
	char name[64];
	unsigned int id;
	unsigned long long runs, ns;
};

/* The program behind a pin: a link's, or the pinned program itself. */
static int prog_of_pin(const char *path, bool link, unsigned int *id)
{
	struct bpf_link_info li;
	struct bpf_prog_info pi;
	unsigned int len;
	int fd = bpf_obj_get(path), err;

	if (fd < 0)
		return -1;
	memset(&li, 0, sizeof(li));
	memset(&pi, 0, sizeof(pi));
	len = link ? sizeof(li) : sizeof(pi);
	err = bpf_obj_get_info_by_fd(fd, link ? (void *)&li : (void *)&pi, &len);
	close(fd);
	*id = link ? li.prog_id : pi.id;
	return err || !*id ? -1 : 0;
}

static int list(const char *dir, struct prog *p)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) && n < MAXP) {
		const char *name = de->d_name;

		bool link = !strncmp(name, "link_", 5);

		/* maps are neither; per-tap links share a pinned program: count it once */
		if (!link && strncmp(name, "prog_", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (prog_of_pin(path, link, &p[n].id))
			continue;
		name += 5;
		snprintf(p[n].name, sizeof(p[n].name), "%.63s", name);
		n++;
	}
	closedir(d);
	return n;
}

/* NAME=ID,NAME=ID...: programs by id. */
static int list_ids(const char *arg, struct prog *p)
{
	char buf[4096], *save = NULL, *tok;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (tok = strtok_r(buf, ",", &save); tok && n < MAXP; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok)
			return -1;
		*eq = 0;
		snprintf(p[n].name, sizeof(p[n].name), "%.63s", tok);
		p[n].id = strtoul(eq + 1, NULL, 10);
		if (!p[n].id)
			return -1;
		n++;
	}
	return n;
}

static int sample(struct prog *p, int n)
{
	for (int i = 0; i < n; i++) {
		struct bpf_prog_info info;
		unsigned int len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(p[i].id);

		if (fd < 0)
			return -1;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			return -1;
		}
		close(fd);
		p[i].runs = info.run_cnt;
		p[i].ns = info.run_time_ns;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct prog a[MAXP], b[MAXP];
	int n, stats, status;
	pid_t pid;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: tf-bpfstats DIR|NAME=ID[,NAME=ID...] -- CMD [ARG...]\n");
		return 2;
	}
	stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats < 0) {
		fprintf(stderr, "tf-bpfstats: BPF_ENABLE_STATS: %s\n", strerror(errno));
		return 1;
	}
	n = strchr(argv[1], '=') ? list_ids(argv[1], a) : list(argv[1], a);
	if (n < 0 || sample(a, n)) {
		fprintf(stderr, "tf-bpfstats: cannot read the programs under %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		dup2(2, 1);
		execvp(argv[3], argv + 3);
		fprintf(stderr, "tf-bpfstats: %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	memcpy(b, a, sizeof(a));
	if (sample(b, n)) {
		fprintf(stderr, "tf-bpfstats: a program went away: %s\n", strerror(errno));
		return 1;
	}
	status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("{\"status\":%d,\"progs\":{", status);
	for (int i = 0; i < n; i++)
		printf("%s\"%s\":{\"runs\":%llu,\"ns\":%llu}", i ? "," : "", a[i].name,
		       b[i].runs - a[i].runs, b[i].ns - a[i].ns);
	printf("}}\n");
	close(stats);
	return status;
}
