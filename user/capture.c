// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The lifecycle of one capture: check the tap, compile and translate the
 * filter, open bpf/capture.bpf.c for that tap only (its ifindex and netns
 * as read-only constants, the filter patched in), switch on one rung's
 * programs (fentry, kprobe, BTF tracepoints: the first this kernel loads
 * and attaches, as tracing picks; only those that can capture something
 * of what was asked), load, attach with links that only this process's
 * file descriptors hold (no pins: when it exits, even by kill -9, the
 * kernel detaches and frees everything), then read the ring buffer until
 * a count, a duration or a signal says stop, and write each record as
 * pcapng or as a line of text (capture_out.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "tapflow.h"
#include "tf_capture.h"
#include "tf_capture_shared.h"
#include "tf_tap.h"
#include "tf_trace.h"
#include "tf_trace_shared.h"
#include "capture_int.h"
#include "rung_table.h"
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

/*
 * What each program of bpf/capture.bpf.c is for: its rung, and what it
 * captures. Rows name skel->progs members, so renaming or removing one
 * fails to compile here; a program without a row stops the load with an
 * error naming it. A capture loads only the rows that can give it
 * something: `--drops` no delivery or rx hook, `--direction rx` no tx one.
 */
enum role {
	R_TX,		/* tx drops (and notes what is queued) */
	R_TXQ,		/* tx packets queued or delivered: not for --drops */
	R_RX,		/* what the backend wrote */
};

#define CAP_PROGS 24

static size_t rung_table(const struct capture *skel, struct rung_prog t[CAP_PROGS])
{
#define ROW(name, rung, role) { skel->progs.name, rung, role }
	const struct rung_prog rows[] = {
		ROW(cap_fentry_tun_net_xmit, TF_BACKEND_FENTRY, R_TX),
		ROW(cap_fexit_tun_net_xmit, TF_BACKEND_FENTRY, R_TX),
		ROW(cap_fentry_tun_xdp_xmit, TF_BACKEND_FENTRY, R_TX),
		ROW(cap_fexit_tun_xdp_xmit, TF_BACKEND_FENTRY, R_TX),
		ROW(cap_fentry_tun_do_read, TF_BACKEND_FENTRY, R_TXQ),
		ROW(cap_fexit_tun_do_read, TF_BACKEND_FENTRY, R_TXQ),
		ROW(cap_fentry_tun_get_user, TF_BACKEND_FENTRY, R_RX),
		ROW(cap_fentry_tun_sendmsg, TF_BACKEND_FENTRY, R_RX),
		ROW(cap_kprobe_tun_net_xmit, TF_BACKEND_KPROBE, R_TX),
		ROW(cap_kretprobe_tun_net_xmit, TF_BACKEND_KPROBE, R_TX),
		ROW(cap_kprobe_tun_xdp_xmit, TF_BACKEND_KPROBE, R_TX),
		ROW(cap_kretprobe_tun_xdp_xmit, TF_BACKEND_KPROBE, R_TX),
		ROW(cap_kprobe_tun_do_read, TF_BACKEND_KPROBE, R_TXQ),
		ROW(cap_kretprobe_tun_do_read, TF_BACKEND_KPROBE, R_TXQ),
		ROW(cap_kprobe_tun_get_user, TF_BACKEND_KPROBE, R_RX),
		ROW(cap_kprobe_tun_sendmsg, TF_BACKEND_KPROBE, R_RX),
		ROW(cap_start_xmit, TF_BACKEND_TRACEPOINT, R_TX),
		ROW(cap_xmit, TF_BACKEND_TRACEPOINT, R_TX),
		/* fast-path frames: only queued ones are seen on this rung */
		ROW(cap_devmap_xmit, TF_BACKEND_TRACEPOINT, R_TXQ),
		ROW(cap_deliver, TF_BACKEND_TRACEPOINT, R_TXQ),
		ROW(cap_rx_skb, TF_BACKEND_TRACEPOINT, R_RX),
		ROW(cap_rx_ni, TF_BACKEND_TRACEPOINT, R_RX),
	};
#undef ROW
	_Static_assert(sizeof(rows) / sizeof(rows[0]) <= CAP_PROGS, "CAP_PROGS is too small");

	memcpy(t, rows, sizeof(rows));
	return ARRAY_SIZE(rows);
}

static bool role_wanted(const struct tf_capture_opts *o, enum role r)
{
	switch (r) {
	case R_TX:
		return o->dirs & TF_CAPTURE_TX;
	case R_TXQ:
		return (o->dirs & TF_CAPTURE_TX) && !o->drops_only;
	case R_RX:
		return (o->dirs & TF_CAPTURE_RX) && !o->drops_only;
	}
	return false;
}

static bool cap_wanted(int role, const void *o)
{
	return role_wanted(o, role);
}

/* Switch on the wanted programs of one rung; -ENOENT for one in no row. */
static int select_rung(struct capture *skel, const struct tf_capture_opts *o, int rung,
		       char *why, size_t whylen)
{
	struct rung_prog rows[CAP_PROGS];
	size_t n = rung_table(skel, rows);

	return tf_rung_select(skel->obj, rows, n, rung, cap_wanted, o, "user/capture.c", why, whylen);
}

/*
 * Kprobes need the kprobe PMU or tracefs's kprobe_events (libbpf uses
 * either); a kernel without CONFIG_KPROBES has neither, and loading the
 * rung's programs only to see the attach fail costs a third of a second.
 */
static bool have_kprobes(void)
{
	return !access("/sys/bus/event_source/devices/kprobe/type", F_OK) ||
	       !access("/sys/kernel/tracing/kprobe_events", F_OK) ||
	       !access("/sys/kernel/debug/tracing/kprobe_events", F_OK);
}

/* Open, load and attach one rung; why[] says what failed, *refused whether the kernel did. */
static int open_rung(const struct tf_capture_opts *o, const struct tf_tap_info *tap,
		     uint32_t netns, const struct bpf_insn *region, bool filtered, int rung,
		     struct capture **out, char *why, size_t whylen, bool *refused)
{
	struct capture *skel;
	int err;

	/* a refused fentry load costs an open and a CO-RE pass: ask first */
	if (rung == TF_BACKEND_FENTRY && libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL) != 1) {
		snprintf(why, whylen, "this kernel refuses fentry programs (BPF_PROG_TYPE_TRACING)");
		*refused = true;
		return -EPERM;
	}
	if (rung == TF_BACKEND_KPROBE && !have_kprobes()) {
		snprintf(why, whylen, "this kernel has no kprobes (no kprobe PMU, no kprobe_events)");
		*refused = true;
		return -EOPNOTSUPP;
	}
	skel = capture__open();
	if (!skel) {
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->cfg_ifindex = tap->ifindex;
	skel->rodata->cfg_netns = netns;
	skel->rodata->cfg_dirs = (o->dirs & TF_CAPTURE_TX ? 1u << TF_CAP_TX : 0) |
				 (o->dirs & TF_CAPTURE_RX ? 1u << TF_CAP_RX : 0);
	skel->rodata->cfg_drops_only = o->drops_only;
	skel->rodata->cfg_drop_mask = o->drop_mask ? o->drop_mask : 0xff;
	skel->rodata->cfg_snaplen = o->snaplen;
	skel->rodata->cfg_filtered = filtered;
	skel->rodata->cfg_allq = o->all_queues;
	memcpy((void *)skel->rodata->cfg_qmask, o->qmask, sizeof(o->qmask));
	err = select_rung(skel, o, rung, why, whylen);
	if (!err && filtered && (err = tf_cbpf_patch(skel->obj, region)))
		snprintf(why, whylen, "%s", tf_errmsg());
	if (err)
		goto fail;
	err = capture__load(skel);
	if (err) {
		snprintf(why, whylen, "the kernel refused to load it (%s); -vv shows the "
			 "verifier's log", strerror(-err));
		*refused = true;
		goto fail;
	}
	err = capture__attach(skel);
	if (err) {
		snprintf(why, whylen, "attaching failed (%s)", strerror(-err));
		*refused = true;
		goto fail;
	}
	*out = skel;
	return 0;
fail:
	capture__destroy(skel);
	return err ? err : -EINVAL;
}

static int open_prog(const struct tf_capture_opts *o, const struct tf_tap_info *tap,
		     struct capture **out, int *chosen, struct tf_cbpf_insn **filter)
{
	static const int order[] = { TF_BACKEND_FENTRY, TF_BACKEND_KPROBE, TF_BACKEND_TRACEPOINT };
	static struct bpf_insn region[TF_CBPF_REGION];
	char why[3][300] = { "", "", "" };
	struct tf_cbpf_insn *cprog = NULL;
	bool refused = true;	/* by the kernel, on every rung tried */
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
		if (err)
			free(cprog);
		else
			*filter = cprog;	/* for the records the fast path sends */
		if (err)
			return tf_err(err, "filter '%s' is %s", o->filter,
				      err == -E2BIG ? "too long for the capture program (over "
				      "1024 eBPF instructions): simplify it"
				      : "beyond what the translator knows (classic BPF "
				      "extensions)");
	}
	err = -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		bool kernel = false;

		if (o->backend && o->backend != order[i])
			continue;
		err = open_rung(o, tap, netns, region, n > 0, order[i], out, why[i], sizeof(why[i]),
				&kernel);
		if (!err) {
			*chosen = order[i];
			return 0;
		}
		refused &= kernel;
		pr_info("capture: %s rung unavailable: %s", tf_backend_name(order[i]), why[i]);
	}
	if (o->backend)
		return (refused ? tf_err_bpf : tf_err)(err, "the capture's %s backend cannot run "
						       "here: %s", tf_backend_name(o->backend),
						       why[o->backend - 1]);
	return (refused ? tf_err_bpf : tf_err)(err, "no capture backend could run: fentry: %s; "
					       "kprobe: %s; tracepoint: %s", why[0], why[1], why[2]);
}

int tf_capture_run(const struct tf_capture_opts *o, struct tf_capture_result *res)
{
	struct cap_run r = { .o = o, .fp_on = -1, .fp_pe = -1 };
	struct tf_cbpf_insn *cprog = NULL;
	struct tf_tap_info tap;
	struct ring_buffer *rb = NULL;
	struct capture *skel = NULL;
	uint64_t end = 0;
	int err, rung = 0;

	memset(res, 0, sizeof(*res));
	err = tf_require_bpf_caps(TF_CAP_PERFMON, "capture");
	if (err)
		return err;
	err = tf_tap_get(o->tap, &tap);
	if (err)
		return err;
	err = open_prog(o, &tap, &skel, &rung, &cprog);
	if (err) {
		free(cprog);
		return err;
	}
	r.cprog = cprog;
	r.skel = skel;
	r.ifname = tap.name;
	r.boot_to_real = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, &r, NULL);
	if (!rb) {
		err = tf_err(-errno, "cannot read the capture ring buffer: %s", strerror(errno));
		goto out;
	}
	/*
	 * Frames the fast path redirects away never reach the tracepoint
	 * rung's rx hooks; fentry and kprobe see them in tun_get_user and
	 * tun_sendmsg, before the fast path runs, so they do not ask it.
	 */
	if (rung == TF_BACKEND_TRACEPOINT && (o->dirs & TF_CAPTURE_RX) && !o->drops_only) {
		err = cap_fp_open(&r, tap.ifindex);
		if (err)
			goto out;
	}
	err = cap_out_open(&r);
	if (err)
		goto out;
	/* as tcpdump's "listening on": from here on, packets are captured */
	fprintf(stderr, "tapflow capture: listening on %s (queues %s, %s%s), %s rung\n",
		tap.name, o->all_queues ? "all" : "chosen",
		o->dirs == TF_CAPTURE_BOTH ? "tx and rx" : o->dirs == TF_CAPTURE_TX ? "tx" : "rx",
		o->drops_only ? ", drops only" : "", tf_backend_name(rung));
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
		cap_fp_poll(&r);
		cap_out_flush(&r);
	}
	/* what is already in the buffers, unless a count was reached */
	if (!r.done && !err)
		ring_buffer__consume(rb);
	cap_fp_poll(&r);
	res->missed = skel->bss->missed + r.fp_missed;
	res->packets = r.packets;
	res->rung = tf_backend_name(rung);
	cap_out_close(&r, res->missed);
	if (!err && r.err)
		err = r.err;
out:
	cap_fp_close(&r);
	ring_buffer__free(rb);
	capture__destroy(skel);
	free(cprog);
	return err;
}
