// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-empty-trace: attach the empty programs of tests/progs/trace_empty.bpf.c
 * on the attach points of one of tracing's hook sets, and hold them until
 * SIGINT or SIGTERM. The benchmark runs it beside tapflow to
 * measure the floor of what a hook set costs.
 *
 *	tf-empty-trace tracepoint [--tcx IFNAME]...   the tracepoint rung
 *	tf-empty-trace old                             the hooks tracing used before
 *
 * Prints "attached N" once every program is attached; exit 1 if one fails
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

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#endif

static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

int main(int argc, char **argv)
{
	static const char *const tp_set[] = { "e_start_xmit", "e_xmit", "e_copy_datagram",
					      "e_devmap_xmit", NULL };
	static const char *const old_set[] = { "o_receive_skb", "o_netif_rx", "e_start_xmit", "e_xmit",
					       "o_kfree_skb", "o_consume_skb", "e_devmap_xmit", NULL };
	const char *const *set;
	struct bpf_link *links[16];
	struct trace_empty *skel;
	struct bpf_program *prog;
	int n = 0, fds[64], nfd = 0;

	if (argc < 2 || (strcmp(argv[1], "tracepoint") && strcmp(argv[1], "old"))) {
		fprintf(stderr, "usage: tf-empty-trace tracepoint [--tcx IFNAME]... | old\n");
		return 2;
	}
	set = !strcmp(argv[1], "old") ? old_set : tp_set;
	skel = trace_empty__open();
	if (!skel)
		return 1;
	bpf_object__for_each_program(prog, skel->obj) {
		bool want = !strcmp(bpf_program__name(prog), "e_tc_rx") && set == tp_set;

		for (int i = 0; set[i]; i++)
			want |= !strcmp(set[i], bpf_program__name(prog));
		bpf_program__set_autoload(prog, want);
	}
	if (trace_empty__load(skel)) {
		fprintf(stderr, "tf-empty-trace: load: %s\n", strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog) || !strcmp(bpf_program__name(prog), "e_tc_rx"))
			continue;
		links[n] = bpf_program__attach(prog);
		if (!links[n]) {
			fprintf(stderr, "tf-empty-trace: attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			return 1;
		}
		n++;
	}
	for (int i = 2; i < argc; i++) {
		unsigned int ifindex;

		if (strcmp(argv[i], "--tcx") || i + 1 >= argc || set != tp_set || nfd >= 64) {
			fprintf(stderr, "tf-empty-trace: bad argument '%s'\n", argv[i]);
			return 2;
		}
		ifindex = if_nametoindex(argv[++i]);
		if (!ifindex) {
			fprintf(stderr, "tf-empty-trace: no device %s\n", argv[i]);
			return 2;
		}
		fds[nfd] = bpf_link_create(bpf_program__fd(skel->progs.e_tc_rx), ifindex, BPF_TCX_INGRESS, NULL);
		if (fds[nfd] < 0) {
			fprintf(stderr, "tf-empty-trace: tcx on %s: %s\n", argv[i], strerror(errno));
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
	printf("attached %d\n", n + nfd);
	fflush(stdout);
	while (!stop)
		pause();
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	for (int i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	trace_empty__destroy(skel);
	return 0;
}
