// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loading tracing: the backend ladder. The first `trace start` probes the
 * attach backends (fentry, kprobe, BTF tracepoints, in that order, as this
 * kernel allows), loads one, and pins its links and maps under
 * TF_TRACE_PIN_DIR so tracing outlives the command. Nothing half-loaded is
 * left behind when a rung fails; why it failed is kept for the message.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "tf_trace.h"
#include "json.h"
#include "log.h"
#include "trace.skel.h"

#include "trace_int.h"

static int rung_of(const char *prog)
{
	if (!strncmp(prog, "fentry_", 7) || !strncmp(prog, "fexit_", 6))
		return TF_BACKEND_FENTRY;
	if (!strncmp(prog, "kprobe_", 7) || !strncmp(prog, "kretprobe_", 10))
		return TF_BACKEND_KPROBE;
	if (!strcmp(prog, "tp_kfree_skb") || !strcmp(prog, "tp_consume_skb"))
		return 0;	/* every backend */
	return TF_BACKEND_TRACEPOINT;
}

/*
 * Load, attach and pin one backend. On failure nothing is left behind and
 * why[] says what the kernel refused.
 */
static int load_rung(int backend, char *why, size_t whylen)
{
	struct bpf_link *links[32] = {};
	struct tf_trace_meta m = { .backend = backend, .version = TF_TRACE_LAYOUT,
				   .rx_ns = backend != TF_BACKEND_TRACEPOINT };
	struct bpf_program *prog;
	struct trace *skel;
	char path[128];
	int nlinks = 0, err, i;
	uint32_t zero = 0;

	skel = trace__open();
	if (!skel) {
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(errno));
		return -errno;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		int r = rung_of(bpf_program__name(prog));

		bpf_program__set_autoload(prog, r == 0 || r == backend);
	}
	err = trace__load(skel);
	if (err) {
		snprintf(why, whylen, "the kernel refused to load it (%s)", strerror(-err));
		goto out;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (nlinks >= (int)ARRAY_SIZE(links)) {
			err = -E2BIG;
			goto out;
		}
		links[nlinks] = bpf_program__attach(prog);
		if (!links[nlinks]) {
			err = -errno;
			snprintf(why, whylen, "attaching %s failed (%s)",
				 bpf_program__section_name(prog), strerror(errno));
			goto out;
		}
		nlinks++;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.meta), &zero, &m, BPF_ANY)) {
		err = -errno;
		snprintf(why, whylen, "writing metadata failed (%s)", strerror(errno));
		goto out;
	}
	err = tf_pin_mkdir(TF_TRACE_PIN_DIR);
	if (err) {
		snprintf(why, whylen, "%s", tf_errmsg());
		goto out;
	}
	for (i = 0; i < PIN_MAPS_N; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(skel->obj, trace_pin_maps[i]);

		snprintf(path, sizeof(path), "%s/%s", TF_TRACE_PIN_DIR, trace_pin_maps[i]);
		err = map ? bpf_map__pin(map, path) : -ENOENT;
		if (err) {
			snprintf(why, whylen, "pinning %s failed (%s)", path, strerror(-err));
			goto out_unpin;
		}
	}
	i = 0;
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		snprintf(path, sizeof(path), "%s/link_%s", TF_TRACE_PIN_DIR, bpf_program__name(prog));
		err = bpf_link__pin(links[i], path);
		if (err) {
			snprintf(why, whylen, "pinning %s failed (%s)", path, strerror(-err));
			goto out_unpin;
		}
		i++;
	}
	/* The pins hold the links now; closing our fds must not detach. */
	for (i = 0; i < nlinks; i++) {
		bpf_link__disconnect(links[i]);
		bpf_link__destroy(links[i]);
	}
	trace__destroy(skel);
	return 0;

out_unpin:
	trace_unpin_all();
out:
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	trace__destroy(skel);
	return err ? err : -EINVAL;
}

/* Try the rungs allowed by req, best first. */
int trace_load_ladder(int req, int *chosen)
{
	static const int order[] = { TF_BACKEND_FENTRY, TF_BACKEND_KPROBE, TF_BACKEND_TRACEPOINT };
	char why[3][400] = { "", "", "" };
	int err = -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (req && req != order[i])
			continue;
		err = load_rung(order[i], why[i], sizeof(why[i]));
		if (!err) {
			*chosen = order[i];
			return 0;
		}
		pr_info("trace: %s backend unavailable: %s", tf_backend_name(order[i]), why[i]);
	}
	if (req)
		return tf_err(err, "the %s backend cannot run here: %s", tf_backend_name(req),
			      why[req - 1]);
	return tf_err(err, "no tracing backend could run: fentry: %s; kprobe: %s; tracepoint: %s",
		      why[0], why[1], why[2]);
}
