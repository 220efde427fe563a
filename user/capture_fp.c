// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The frames a capture's own hooks cannot see: what the backend wrote and
 * the fast path (bpf/fastpath.bpf.c) redirected away, to another tap, an
 * uplink or an AF_XDP socket, before any skb existed. The tap's copy of
 * the fast-path program copies them itself while its cap_on map holds a
 * snaplen, through its cap_pe perf array; both maps are that copy's own
 * (not pinned) and found here through the program attached to the tap,
 * alone or in libxdp's dispatcher. The perf events are this process's
 * file descriptors: the kernel takes them out of cap_pe when it exits,
 * even by kill -9, and cap_on is set back to 0 when the capture ends.
 *
 *   backend ─write()─> tun_get_user ─> [tf_fp_tap] ─XDP_REDIRECT─> elsewhere
 *                                         └─ cap_on? ─> cap_pe ─> here
 *
 * That program has no filter region: the pcap filter runs here, in user
 * space, on these records only (libpcap's bpf_filter).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "tapflow.h"
#include "capture_int.h"
#include "log.h"

#define FP_PROG "tf_fp_tap"

/* The maps named cap_on and cap_pe of program fd, or -ENOENT. */
static int prog_maps(int fd, int *on, int *pe)
{
	struct bpf_prog_info info = {};
	__u32 ids[16], len = sizeof(info);

	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	for (__u32 i = 0; i < info.nr_map_ids && i < ARRAY_SIZE(ids); i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &mi, &mlen)) {
			if (!strcmp(mi.name, "cap_on") && *on < 0) {
				*on = mfd;
				continue;
			}
			if (!strcmp(mi.name, "cap_pe") && *pe < 0) {
				*pe = mfd;
				continue;
			}
		}
		close(mfd);
	}
	return *on >= 0 && *pe >= 0 ? 0 : -ENOENT;
}

/* The fast-path program on ifindex, if there is one: its two capture maps. */
static int find_maps(int ifindex, int *on, int *pe)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	int err = -ENOENT;

	if (!mp || libxdp_get_error(mp))
		return -ENOENT;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && !strcmp(xdp_program__name(p), FP_PROG))
			err = prog_maps(xdp_program__fd(p), on, pe);
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && err; p = xdp_multiprog__next_prog(p, mp))
			if (!strcmp(xdp_program__name(p), FP_PROG))
				err = prog_maps(xdp_program__fd(p), on, pe);
	}
	xdp_multiprog__close(mp);
	if (err) {
		if (*on >= 0)
			close(*on);
		if (*pe >= 0)
			close(*pe);
		*on = *pe = -1;
	}
	return err;
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	struct cap_run *r = ctx;
	const struct tf_cap_rec *rec = data;

	(void)cpu;
	if (size < sizeof(*rec) || r->done || rec->caplen > size - sizeof(*rec))
		return;
	if (r->cprog && !tf_cbpf_match(r->cprog, rec + 1, rec->wirelen, rec->caplen))
		return;
	cap_write(r, rec, (const unsigned char *)(rec + 1));
	r->packets++;
	if (r->o->count && r->packets >= r->o->count)
		r->done = true;
}

static void on_lost(void *ctx, int cpu, __u64 n)
{
	struct cap_run *r = ctx;

	(void)cpu;
	r->fp_missed += n;
}

int cap_fp_open(struct cap_run *r, int ifindex)
{
	__u32 zero = 0, snap = r->o->snaplen ? r->o->snaplen : TF_CAP_MAX;

	r->fp_on = r->fp_pe = -1;
	if (find_maps(ifindex, &r->fp_on, &r->fp_pe))
		return 0;	/* no fast path on this tap: nothing to ask */
	r->fp_pb = perf_buffer__new(r->fp_pe, 64, on_sample, on_lost, r, NULL);
	if (!r->fp_pb) {
		int err = -errno;

		cap_fp_close(r);
		return tf_err(err, "cannot read the fast path's capture buffer: %s", strerror(-err));
	}
	if (bpf_map_update_elem(r->fp_on, &zero, &snap, BPF_ANY)) {
		int err = -errno;

		cap_fp_close(r);
		return tf_err(err, "cannot ask the fast path for its frames: %s", strerror(-err));
	}
	pr_info("capture: the fast path copies the frames it redirects away");
	return 0;
}

void cap_fp_poll(struct cap_run *r)
{
	if (r->fp_pb && !r->done)
		perf_buffer__consume(r->fp_pb);
}

void cap_fp_close(struct cap_run *r)
{
	__u32 zero = 0, off = 0;

	/* off first: the fast path stops copying before its buffer goes */
	if (r->fp_on >= 0)
		bpf_map_update_elem(r->fp_on, &zero, &off, BPF_ANY);
	perf_buffer__free(r->fp_pb);
	r->fp_pb = NULL;
	if (r->fp_on >= 0)
		close(r->fp_on);
	if (r->fp_pe >= 0)
		close(r->fp_pe);
	r->fp_on = r->fp_pe = -1;
}
