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
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "trace_empty.skel.h"
#include "trace_bound.skel.h"

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#endif

static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

/* As tapflow decides it (user/trace_load.c): tun's fields loaded directly. */
static bool tun_cast_ok(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf)
		return false;
	ok = btf__find_by_name_kind(btf, "tun_file", BTF_KIND_STRUCT) > 0 &&
	     btf__find_by_name_kind(btf, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
	btf__free(btf);
	return ok;
}

int main(int argc, char **argv)
{
	static const char *const tp_set[] = { "e_start_xmit", "e_xmit", "e_copy_datagram",
					      "e_devmap_xmit", "e_tc_rx", NULL };
	static const char *const old_set[] = { "o_receive_skb", "o_netif_rx", "e_start_xmit", "e_xmit",
					       "o_kfree_skb", "o_consume_skb", "e_devmap_xmit", NULL };
	unsigned int ifindex[64];
	const char *const *set = NULL;
	struct bpf_program *prog, *tc = NULL;
	struct trace_empty *empty = NULL;
	struct trace_bound *bound = NULL;
	struct bpf_link *links[16];
	struct bpf_object *obj;
	int n = 0, fds[64], nfd = 0, ntap = 0;
	__u64 mask = 0;

	if (argc >= 2 && !strcmp(argv[1], "tracepoint"))
		set = tp_set;
	else if (argc == 2 && !strcmp(argv[1], "old"))
		set = old_set;
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
		bpf_object__for_each_program(prog, obj) {
			bool want = false;

			for (int i = 0; set[i]; i++)
				want |= !strcmp(set[i], bpf_program__name(prog));
			bpf_program__set_autoload(prog, want);
		}
		tc = set == tp_set ? empty->progs.e_tc_rx : NULL;
	} else {
		bound = trace_bound__open();
		if (!bound)
			return 1;
		bound->rodata->tap_mask = mask;
		bound->rodata->tun_cast = tun_cast_ok();
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
