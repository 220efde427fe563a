// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What tracing costs the host, from the kernel's BPF run-time statistics:
 * for each program of the running tracing session, how many times it ran
 * and the nanoseconds it ran for (bpf_prog_info.run_cnt, run_time_ns).
 *
 * The kernel counts only while statistics are on, and while they are on
 * every BPF program on the host pays for them (two clock reads and a
 * per-CPU add per run). There are two switches: the sysctl
 * kernel.bpf_stats_enabled, global and left on until someone turns it off
 * (a crashed tool leaves the whole host paying), and BPF_ENABLE_STATS,
 * which returns an fd and keeps statistics on only while some process holds
 * one (the kernel counts holders; exit or kill -9 closes it). tapflow uses
 * the fd, held only while an operator asked: for the window of `trace
 * status --bpf-stats`, for the life of `export --bpf-stats`.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "tapflow.h"
#include "tf_trace.h"
#include "log.h"

int tf_bpf_stats_enable(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0)
		return tf_err_bpf(-errno, "cannot turn on BPF run-time statistics (BPF_ENABLE_STATS): %s",
				  strerror(errno));
	return fd;
}

bool tf_bpf_stats_sysctl(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	int v = 0;

	if (!f)
		return false;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v != 0;
}

/* The program behind a pin: a link's (link_NAME) or the pin's own (prog_NAME). */
static int pin_prog(const char *path, bool link, uint32_t *id)
{
	struct bpf_link_info li;
	struct bpf_prog_info pi;
	uint32_t len;
	int fd = bpf_obj_get(path), err;

	if (fd < 0)
		return -errno;
	memset(&li, 0, sizeof(li));
	memset(&pi, 0, sizeof(pi));
	len = link ? sizeof(li) : sizeof(pi);
	err = bpf_obj_get_info_by_fd(fd, link ? (void *)&li : (void *)&pi, &len);
	close(fd);
	*id = link ? li.prog_id : pi.id;
	return err ? -errno : (*id ? 0 : -ENOENT);
}

static int prog_stats(struct tf_prog_cost *c)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(c->id), err = 0;

	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	close(fd);
	c->runs = info.run_cnt;
	c->run_ns = info.run_time_ns;
	return err;
}

int tf_trace_prog_costs(struct tf_prog_cost **out, size_t *n)
{
	struct tf_prog_cost *v = NULL;
	size_t cnt = 0, cap = 0;
	char path[512];
	struct dirent *de;
	DIR *d;
	int err = 0;

	*out = NULL;
	*n = 0;
	d = opendir(TF_TRACE_PIN_DIR);
	if (!d)
		return errno == ENOENT ? 0 : tf_err(-errno, "cannot open %s: %s", TF_TRACE_PIN_DIR, strerror(errno));
	while ((de = readdir(d))) {
		bool link = !strncmp(de->d_name, "link_", 5);
		struct tf_prog_cost c = { 0 };

		/* maps are neither; per-tap links (rx_slotN) share one pinned program */
		if (!link && strncmp(de->d_name, "prog_", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, de->d_name);
		if (pin_prog(path, link, &c.id) || prog_stats(&c))
			continue;	/* gone meanwhile: a stop raced us */
		snprintf(c.name, sizeof(c.name), "%s", de->d_name + 5);
		if (cnt == cap) {
			struct tf_prog_cost *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				err = tf_err(-ENOMEM, "out of memory");
				break;
			}
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[cnt++] = c;
	}
	closedir(d);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

void tf_trace_prog_costs_free(struct tf_prog_cost *c)
{
	free(c);
}
