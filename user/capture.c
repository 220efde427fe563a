// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The lifecycle of one capture: check the tap, compile and translate the
 * filter, open bpf/capture.bpf.c for that tap only (its ifindex and netns
 * as read-only constants, the filter patched in), load, attach with links
 * that only this process's file descriptors hold (no pins: when it exits,
 * even by kill -9, the kernel detaches and frees everything), then read
 * the ring buffer until a count, a duration or a signal says stop, and
 * write each record as pcapng or as a line of text (capture_text.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "tapflow.h"
#include "tf_capture.h"
#include "tf_capture_shared.h"
#include "tf_tap.h"
#include "tf_trace_shared.h"
#include "capture_int.h"
#include "log.h"
#include "capture.skel.h"

static const char *const cause_names[TF_DROP__MAX] = { "ring_full", "filter", "detached", "other" };

const char *tf_capture_cause_name(unsigned int cause)
{
	return cause < TF_DROP__MAX ? cause_names[cause] : "unknown";
}

int tf_capture_drop_mask(const char *list, unsigned int *mask, const char **bad)
{
	static __thread char word[64];
	const char *p = list;

	*mask = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		unsigned int c;

		if (n >= sizeof(word))
			n = sizeof(word) - 1;
		memcpy(word, p, n);
		word[n] = 0;
		for (c = 0; c < TF_DROP__MAX && strcmp(word, cause_names[c]); c++)
			;
		if (c == TF_DROP__MAX) {
			*bad = word;
			return -EINVAL;
		}
		*mask |= 1u << c;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return *mask ? 0 : -EINVAL;
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct cap_run *r = ctx;
	const struct tf_cap_rec *rec = data;

	if (size < sizeof(*rec) || r->done)
		return 0;
	if (rec->caplen > size - sizeof(*rec))
		return 0;
	cap_write(r, rec, (const unsigned char *)(rec + 1));
	r->packets++;
	if (r->o->count && r->packets >= r->o->count)
		r->done = true;
	return r->err ? r->err : 0;
}

static int netns_inum(uint32_t *inum)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return tf_err(-errno, "cannot read this process's network namespace: %s",
			      strerror(errno));
	*inum = (uint32_t)st.st_ino;
	return 0;
}

static int open_prog(const struct tf_capture_opts *o, const struct tf_tap_info *tap,
		     struct capture **out)
{
	static struct bpf_insn region[TF_CBPF_REGION];
	struct tf_cbpf_insn *cprog = NULL;
	struct capture *skel;
	unsigned int n = 0;
	uint32_t netns = 0;
	int err;

	err = netns_inum(&netns);
	if (err)
		return err;
	if (o->filter && *o->filter) {
		err = tf_cbpf_compile(o->filter, &cprog, &n);
		if (err)
			return err;
		err = tf_cbpf_translate(cprog, n, region);
		free(cprog);
		if (err)
			return tf_err(err, "filter '%s' is %s", o->filter,
				      err == -E2BIG ? "too long for the capture program (over "
				      "1024 eBPF instructions): simplify it"
				      : "beyond what the translator knows (classic BPF "
				      "extensions)");
	}
	skel = capture__open();
	if (!skel)
		return tf_err(-errno, "cannot open the capture BPF object: %s", strerror(errno));
	skel->rodata->cfg_ifindex = tap->ifindex;
	skel->rodata->cfg_netns = netns;
	skel->rodata->cfg_dirs = (o->dirs & TF_CAPTURE_TX ? 1u << TF_CAP_TX : 0) |
				 (o->dirs & TF_CAPTURE_RX ? 1u << TF_CAP_RX : 0);
	skel->rodata->cfg_drops_only = o->drops_only;
	skel->rodata->cfg_drop_mask = o->drop_mask ? o->drop_mask : 0xff;
	skel->rodata->cfg_snaplen = o->snaplen;
	skel->rodata->cfg_filtered = n > 0;
	skel->rodata->cfg_allq = o->all_queues;
	memcpy((void *)skel->rodata->cfg_qmask, o->qmask, sizeof(o->qmask));
	if (n) {
		err = tf_cbpf_patch(skel->obj, region);
		if (err) {
			capture__destroy(skel);
			return err;
		}
	}
	err = capture__load(skel);
	if (err) {
		capture__destroy(skel);
		return tf_err_bpf(err, "the kernel refused the capture program (%s); -vv shows "
				  "the verifier's log", strerror(-err));
	}
	err = capture__attach(skel);
	if (err) {
		capture__destroy(skel);
		return tf_err_bpf(err, "cannot attach the capture program's tracepoints: %s",
				  strerror(-err));
	}
	*out = skel;
	return 0;
}

int tf_capture_run(const struct tf_capture_opts *o, struct tf_capture_result *res)
{
	struct cap_run r = { .o = o };
	struct tf_tap_info tap;
	struct ring_buffer *rb = NULL;
	struct capture *skel = NULL;
	uint64_t end = 0;
	int err;

	memset(res, 0, sizeof(*res));
	err = tf_require_bpf_caps(TF_CAP_PERFMON, "capture");
	if (err)
		return err;
	err = tf_tap_get(o->tap, &tap);
	if (err)
		return err;
	err = open_prog(o, &tap, &skel);
	if (err)
		return err;
	r.skel = skel;
	r.ifname = tap.name;
	r.boot_to_real = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, &r, NULL);
	if (!rb) {
		err = tf_err(-errno, "cannot read the capture ring buffer: %s", strerror(errno));
		goto out;
	}
	err = cap_out_open(&r);
	if (err)
		goto out;
	/* as tcpdump's "listening on": from here on, packets are captured */
	fprintf(stderr, "tapflow capture: listening on %s (queues %s, %s%s), tracepoint rung\n",
		tap.name, o->all_queues ? "all" : "chosen",
		o->dirs == TF_CAPTURE_BOTH ? "tx and rx" : o->dirs == TF_CAPTURE_TX ? "tx" : "rx",
		o->drops_only ? ", drops only" : "");
	if (o->duration > 0)
		end = now_ns(CLOCK_MONOTONIC) + (uint64_t)(o->duration * 1e9);
	while (!r.done && !(o->stop && *o->stop)) {
		int timeout = 100;

		if (end) {
			uint64_t now = now_ns(CLOCK_MONOTONIC);

			if (now >= end)
				break;
			if ((end - now) / 1000000 < (uint64_t)timeout)
				timeout = (int)((end - now) / 1000000) + 1;
		}
		err = ring_buffer__poll(rb, timeout);
		if (err == -EINTR)
			err = 0;
		if (err < 0) {
			err = r.err ? r.err : tf_err(err, "reading the capture failed: %s",
						     strerror(-err));
			break;
		}
		err = 0;
		cap_out_flush(&r);
	}
	/* what is already in the ring buffer, unless a count was reached */
	if (!r.done && !err)
		ring_buffer__consume(rb);
	res->missed = skel->bss->missed;
	res->packets = r.packets;
	res->rung = "tracepoint";
	cap_out_close(&r, res->missed);
	if (!err && r.err)
		err = r.err;
out:
	ring_buffer__free(rb);
	capture__destroy(skel);
	return err;
}
