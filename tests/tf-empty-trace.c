// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-empty-trace: attach the empty programs of tests/progs/trace_empty.bpf.c
 * on the attach points of one of tracing's hook sets, and hold them until
 * SIGINT or SIGTERM. The benchmark runs it beside tapflow to
 * measure the floor of what a hook set costs.
 *
 *	tf-empty-trace tracepoint [--tcx IFNAME]...   the tracepoint rung
 *	tf-empty-trace old                             the hooks tracing used before
 *	tf-empty-trace bound [--tcx IFNAME]...         the rung's hooks with the bound
 *	                                                programs (tests/progs/trace_bound)
 *	                                                for the taps named
 *
 * Prints "ids NAME=ID,..." (the programs, for tf-bpfstats) and then
 * "attached N" once every program is attached; exit 1 if one fails
 * (nothing is left attached: links go with the process), 2 on bad usage.
 * It also stops when its parent dies, however that happens.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "trace_empty.skel.h"
#include "trace_bound.skel.h"
#include "rung_table.h"
#include "trace_int.h"

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#endif

static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

/*
 * The hook sets, a bit each, and which of them each program of
 * trace_empty belongs to: switched on by the walk tracing's loader uses
 * (user/rung_table.c), so a program with no row stops the run.
 */
enum { SET_TP = 1, SET_OLD = 2 };

static bool in_set(int sets, const void *want)
{
	return sets & *(const int *)want;
}

static int select_set(struct trace_empty *skel, int set)
{
	const struct rung_prog rows[] = {
		{ skel->progs.e_start_xmit, 0, SET_TP | SET_OLD },
		{ skel->progs.e_xmit, 0, SET_TP | SET_OLD },
		{ skel->progs.e_copy_datagram, 0, SET_TP },
		{ skel->progs.e_devmap_xmit, 0, SET_TP | SET_OLD },
		{ skel->progs.e_tc_rx, 0, SET_TP },
		{ skel->progs.o_receive_skb, 0, SET_OLD },
		{ skel->progs.o_netif_rx, 0, SET_OLD },
		{ skel->progs.o_kfree_skb, 0, SET_OLD },
		{ skel->progs.o_consume_skb, 0, SET_OLD },
	};
	char why[256];

	if (tf_rung_select(skel->obj, rows, sizeof(rows) / sizeof(rows[0]), 0, in_set, &set,
			   "tests/tf-empty-trace.c", why, sizeof(why))) {
		fprintf(stderr, "tf-empty-trace: %s\n", why);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int ifindex[64];
	int set = 0;		/* 0: the bound programs */
	struct bpf_program *prog, *tc = NULL;
	struct trace_empty *empty = NULL;
	struct trace_bound *bound = NULL;
	struct bpf_link *links[16];
	struct bpf_object *obj;
	int n = 0, fds[64], nfd = 0, ntap = 0;
	__u64 mask = 0;

	if (argc >= 2 && !strcmp(argv[1], "tracepoint"))
		set = SET_TP;
	else if (argc == 2 && !strcmp(argv[1], "old"))
		set = SET_OLD;
	else if (argc < 2 || strcmp(argv[1], "bound")) {
		fprintf(stderr, "usage: tf-empty-trace tracepoint|bound [--tcx IFNAME]... | old\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--tcx") || i + 1 >= argc || ntap >= 64) {
			fprintf(stderr, "tf-empty-trace: bad argument '%s'\n", argv[i]);
			return 2;
		}
		ifindex[ntap] = if_nametoindex(argv[++i]);
		if (!ifindex[ntap]) {
			fprintf(stderr, "tf-empty-trace: no device %s\n", argv[i]);
			return 2;
		}
		if (!set && ifindex[ntap] >= 64) {
			fprintf(stderr, "tf-empty-trace: %s: ifindex %u, the bound programs take < 64\n",
				argv[i], ifindex[ntap]);
			return 2;
		}
		mask |= 1ULL << (ifindex[ntap] & 63);
		ntap++;
	}
	if (set) {
		empty = trace_empty__open();
		if (!empty)
			return 1;
		obj = empty->obj;
		if (select_set(empty, set))
			return 1;
		tc = set == SET_TP ? empty->progs.e_tc_rx : NULL;
	} else {
		bound = trace_bound__open();
		if (!bound)
			return 1;
		bound->rodata->tap_mask = mask;
		bound->rodata->tun_cast = trace_tun_cast_ok();
		obj = bound->obj;
		tc = bound->progs.b_tc_rx;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "tf-empty-trace: load: %s\n", strerror(errno));
		return 1;
	}
	printf("ids ");
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		unsigned int len = sizeof(info);

		if (!bpf_program__autoload(prog))
			continue;
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			return 1;
		printf("%s%s=%u", n ? "," : "", bpf_program__name(prog), info.id);
		links[n++] = NULL;
		if (prog == tc)
			continue;
		links[n - 1] = bpf_program__attach(prog);
		if (!links[n - 1]) {
			fprintf(stderr, "tf-empty-trace: attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			return 1;
		}
	}
	printf("\n");
	for (int i = 0; i < ntap && tc; i++) {
		fds[nfd] = bpf_link_create(bpf_program__fd(tc), ifindex[i], BPF_TCX_INGRESS, NULL);
		if (fds[nfd] < 0) {
			fprintf(stderr, "tf-empty-trace: tcx on ifindex %u: %s\n", ifindex[i], strerror(errno));
			return 1;
		}
		nfd++;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	/* a benchmark killed with -9 must not leave these on every packet of the host */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	printf("attached %d\n", n - (tc ? 1 : 0) + nfd);
	fflush(stdout);
	while (!stop)
		pause();
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	for (int i = 0; i < n; i++)
		if (links[i])
			bpf_link__destroy(links[i]);
	trace_empty__destroy(empty);
	trace_bound__destroy(bound);
	return 0;
}
