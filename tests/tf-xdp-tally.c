// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-xdp-tally: a second XDP program next to the fast path, for the
 * multi-program test (tests/integration/test_xdp_multi.sh). It attaches
 * tests/progs/xdp_tally (count every frame, XDP_PASS) natively through libxdp
 * with a run priority, reports what libxdp sees on a device, and detaches
 * the tally again, leaving every other program there alone.
 *
 *	tf-xdp-tally attach DEV [--prio N]   (default 10: before the fast path's 50)
 *	tf-xdp-tally status DEV
 *	tf-xdp-tally detach DEV
 *
 * Nothing is pinned: the dispatcher (or, in legacy mode, the device) holds
 * the program and the program holds its map, so `status` finds the count
 * from any process by program and map id. Each command prints the device's
 * state afterwards as one JSON line:
 *
 *   {"dev":S,"ifindex":N,"mode":"native"|"skb"|"hw"|"none","dispatcher":B,
 *    "main_id":N,"programs":[{"name":S,"id":N,"prio":N,"map_ids":[N...]}...],
 *    "tally":{"packets":N,"bytes":N}|null}
 *
 * "dispatcher" is false when libxdp attached in legacy (single-program) mode,
 * as it does on kernels that refuse freplace; "main_id" is the program in the
 * device's XDP slot (the dispatcher, or the one legacy program); "programs"
 * are in run order. Exit 0 on success, 1 when libxdp or the kernel refused,
 * 2 on bad usage. -v passes libxdp's own messages on.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <linux/types.h>

#include "tapflow.h"
#include "progs/xdp_tally.h"
#include "xdp_tally.skel.h"

#define PROG_NAME	"xdp_tally"
#define MAX_MAPS	16

static bool verbose;

static int xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBXDP_WARN || verbose) {
		fputs("tf-xdp-tally: libxdp: ", stderr);
		vfprintf(stderr, fmt, ap);
	}
	return 0;
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: tf-xdp-tally [-v] attach DEV [--prio N] | status DEV | detach DEV\n");
	exit(2);
}

static const char *mode_name(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE: return "native";
	case XDP_MODE_SKB: return "skb";
	case XDP_MODE_HW: return "hw";
	default: return "none";
	}
}

/* The map ids a program uses: how many (at most max), or -errno. */
static int prog_maps(int prog_fd, __u32 *ids, __u32 max)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = max;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	return info.nr_map_ids < max ? (int)info.nr_map_ids : (int)max;
}

/* Sum the per-CPU counters of the tally map among ids; -ENOENT if none. */
static int read_tally(const __u32 *ids, int n, struct xdp_tally_count *sum)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu < 1)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		struct bpf_map_info info;
		__u32 len = sizeof(info), zero = 0;
		struct xdp_tally_count *v;
		int fd, err;

		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || strcmp(info.name, "tally") ||
		    info.value_size != sizeof(*v)) {
			close(fd);
			continue;
		}
		v = calloc(ncpu, sizeof(*v));
		err = v ? 0 : -ENOMEM;
		if (!err && bpf_map_lookup_elem(fd, &zero, v))
			err = -errno;
		for (int c = 0; !err && c < ncpu; c++) {
			sum->packets += v[c].packets;
			sum->bytes += v[c].bytes;
		}
		free(v);
		close(fd);
		return err;
	}
	return -ENOENT;
}

static void print_prog(const struct xdp_program *p, bool *first, struct xdp_tally_count *t, bool *have)
{
	__u32 ids[MAX_MAPS];
	int n = prog_maps(xdp_program__fd(p), ids, MAX_MAPS);

	printf("%s{\"name\":\"%s\",\"id\":%u,\"prio\":%u,\"map_ids\":[", *first ? "" : ",",
	       xdp_program__name(p), xdp_program__id(p), xdp_program__run_prio(p));
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", ids[i]);
	printf("]}");
	*first = false;
	if (!*have && !strcmp(xdp_program__name(p), PROG_NAME) && n > 0 && !read_tally(ids, n, t))
		*have = true;
}

/* One JSON line: what libxdp sees on ifindex now. */
static int print_status(const char *dev, int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *main_prog = NULL, *p;
	bool legacy = false, first = true, have = false;
	enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
	struct xdp_tally_count t = { 0 };

	if (libxdp_get_error(mp))
		mp = NULL;	/* nothing attached */
	if (mp) {
		mode = xdp_multiprog__attach_mode(mp);
		legacy = xdp_multiprog__is_legacy(mp);
		main_prog = xdp_multiprog__main_prog(mp);
	}
	printf("{\"dev\":\"%s\",\"ifindex\":%d,\"mode\":\"%s\",\"dispatcher\":%s,\"main_id\":%u,\"programs\":[",
	       dev, ifindex, mode_name(mode), mp && !legacy ? "true" : "false",
	       main_prog ? xdp_program__id(main_prog) : 0);
	if (mp && legacy && main_prog)
		print_prog(main_prog, &first, &t, &have);
	else if (mp)
		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
			print_prog(p, &first, &t, &have);
	printf("],\"tally\":");
	if (have)
		printf("{\"packets\":%llu,\"bytes\":%llu}}\n", (unsigned long long)t.packets,
		       (unsigned long long)t.bytes);
	else
		printf("null}\n");
	fflush(stdout);
	xdp_multiprog__close(mp);
	return 0;
}

static int attach(const char *dev, int ifindex, unsigned int prio)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .prog_name = PROG_NAME);
	struct xdp_tally *skel;
	struct xdp_program *xp;
	int err;

	/* libxdp loads the object itself: as an freplace extension of its
	 * dispatcher where the kernel allows, as a plain XDP program if not. */
	skel = xdp_tally__open();
	if (!skel) {
		fprintf(stderr, "tf-xdp-tally: cannot open %s: %s\n", PROG_NAME, strerror(errno));
		return 1;
	}
	xo.obj = skel->obj;
	xp = xdp_program__create(&xo);
	err = libxdp_get_error(xp);
	if (!err)
		err = xdp_program__set_run_prio(xp, prio);
	if (!err)
		err = xdp_program__attach(xp, ifindex, XDP_MODE_NATIVE, 0);
	if (err)
		fprintf(stderr, "tf-xdp-tally: cannot attach %s to %s natively: %s\n", PROG_NAME, dev,
			strerror(err < 0 ? -err : EINVAL));
	if (!libxdp_get_error(xp))
		xdp_program__close(xp);
	xdp_tally__destroy(skel);
	return err ? 1 : print_status(dev, ifindex);
}

static int detach(const char *dev, int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p = NULL;
	int err = -ENOENT;

	if (libxdp_get_error(mp))
		mp = NULL;
	if (mp && xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && !strcmp(xdp_program__name(p), PROG_NAME))
			err = xdp_multiprog__detach(mp);
	} else if (mp) {
		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
			if (!strcmp(xdp_program__name(p), PROG_NAME)) {
				err = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);
				break;
			}
	}
	xdp_multiprog__close(mp);
	if (err == -ENOENT) {
		fprintf(stderr, "tf-xdp-tally: %s is not attached to %s\n", PROG_NAME, dev);
		return 1;
	}
	if (err) {
		fprintf(stderr, "tf-xdp-tally: cannot detach %s from %s: %s\n", PROG_NAME, dev,
			strerror(-err));
		return 1;
	}
	return print_status(dev, ifindex);
}

int main(int argc, char **argv)
{
	unsigned long prio = 10;
	const char *cmd, *dev;
	int i = 1, ifindex;
	char *end;

	if (i < argc && !strcmp(argv[i], "-v")) {
		verbose = true;
		i++;
	}
	if (argc - i < 2)
		usage();
	cmd = argv[i++];
	dev = argv[i++];
	for (; i < argc; i++) {
		if (strcmp(cmd, "attach") || strcmp(argv[i], "--prio") || i + 1 == argc)
			usage();
		errno = 0;
		prio = strtoul(argv[++i], &end, 10);
		if (errno || *end || !*argv[i] || prio > UINT32_MAX)
			usage();
	}
	ifindex = if_nametoindex(dev);
	if (!ifindex) {
		fprintf(stderr, "tf-xdp-tally: no device '%s' in this network namespace\n", dev);
		return 2;
	}
	if (!verbose)
		tf_libbpf_quiet();
	libxdp_set_print(xdp_print);
	if (!strcmp(cmd, "attach"))
		return attach(dev, ifindex, prio);
	if (!strcmp(cmd, "status"))
		return print_status(dev, ifindex);
	if (!strcmp(cmd, "detach"))
		return detach(dev, ifindex);
	usage();
}
