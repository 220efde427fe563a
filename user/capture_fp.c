// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The frames a capture's own hooks cannot see: what the backend wrote and
 * the fast path (bpf/fastpath.bpf.c) redirected away, to another tap, an
 * uplink or an AF_XDP socket, before any skb existed. The namespace's one
 * fast-path program copies them itself while cap_on[the tap's port slot]
 * holds a snaplen, through its cap_pe perf array; both maps are the
 * program's own (not pinned) and found here through the program attached
 * to the tap, alone or in libxdp's dispatcher. cap_pe has one buffer per
 * CPU, so one capture of a namespace at a time takes these frames: a second
 * one, while the first lives, says it cannot (pid in cap_on). The perf
 * events are this process's file descriptors: the kernel takes them out of
 * cap_pe when it exits, even by kill -9, and cap_on[slot] is set back to 0
 * when the capture ends.
 *
 *   backend ─write()─> tun_get_user ─> [tf_fp_tap] ─XDP_REDIRECT─> elsewhere
 *                                         └─ cap_on? ─> cap_pe ─> here
 *
 * That program has no filter region: the pcap filter runs here, in user
 * space, on these records only (libpcap's bpf_filter).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "tapflow.h"
#include "capture_int.h"
#include "log.h"

#define FP_PROG "tf_fp_tap"

/* The maps named cap_on, cap_pe and ports of program fd, or -ENOENT. */
static int prog_maps(int fd, int *on, int *pe, int *ports)
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
			if (!strcmp(mi.name, "ports") && *ports < 0) {
				*ports = mfd;
				continue;
			}
		}
		close(mfd);
	}
	return *on >= 0 && *pe >= 0 && *ports >= 0 ? 0 : -ENOENT;
}

/* The fast-path program on ifindex, if there is one: its capture maps and its ports. */
static int find_maps(int ifindex, int *on, int *pe, int *ports)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	int err = -ENOENT;

	if (!mp || libxdp_get_error(mp))
		return -ENOENT;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && !strcmp(xdp_program__name(p), FP_PROG))
			err = prog_maps(xdp_program__fd(p), on, pe, ports);
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && err; p = xdp_multiprog__next_prog(p, mp))
			if (!strcmp(xdp_program__name(p), FP_PROG))
				err = prog_maps(xdp_program__fd(p), on, pe, ports);
	}
	xdp_multiprog__close(mp);
	if (err) {
		if (*on >= 0)
			close(*on);
		if (*pe >= 0)
			close(*pe);
		if (*ports >= 0)
			close(*ports);
		*on = *pe = *ports = -1;
	}
	return err;
}

/* Another live capture's port slot that holds cap_pe now, or -1. */
static int other_capture(int on_fd, __u32 mine, __u32 *pid)
{
	for (__u32 s = 0; s < TF_FP_MAX_PORTS; s++) {
		struct tf_fp_cap c;

		if (s == mine || bpf_map_lookup_elem(on_fd, &s, &c) || !c.snaplen)
			continue;
		/* a capture killed with -9 leaves its entry: nobody's now */
		if (c.pid && (kill((pid_t)c.pid, 0) == 0 || errno == EPERM)) {
			*pid = c.pid;
			return (int)s;
		}
	}
	return -1;
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
	struct tf_fp_cap on = { .snaplen = r->o->snaplen ? r->o->snaplen : TF_CAP_MAX,
				.pid = (__u32)getpid() };
	struct tf_fp_port port;
	__u32 key = (__u32)ifindex, pid;
	int ports = -1, other;

	r->fp_on = r->fp_pe = -1;
	if (find_maps(ifindex, &r->fp_on, &r->fp_pe, &ports))
		return 0;	/* no fast path on this tap: nothing to ask */
	if (bpf_map_lookup_elem(ports, &key, &port)) {
		close(ports);
		cap_fp_close(r);
		return 0;	/* the program is there, the tap no longer its port */
	}
	close(ports);
	other = other_capture(r->fp_on, port.slot, &pid);
	if (other >= 0) {
		/* its perf buffers are in cap_pe: taking them would blind it */
		pr_warn("capture: frames the fast path redirects away are not captured: the capture "
			"in process %u takes them in this namespace (one at a time)", pid);
		cap_fp_close(r);
		return 0;
	}
	r->fp_slot = port.slot;
	r->fp_pb = perf_buffer__new(r->fp_pe, 64, on_sample, on_lost, r, NULL);
	if (!r->fp_pb) {
		int err = -errno;

		cap_fp_close(r);
		return tf_err(err, "cannot read the fast path's capture buffer: %s", strerror(-err));
	}
	if (bpf_map_update_elem(r->fp_on, &r->fp_slot, &on, BPF_ANY)) {
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
	struct tf_fp_cap off = { 0 };

	/* off first: the fast path stops copying before its buffer goes */
	if (r->fp_on >= 0 && r->fp_pb)
		bpf_map_update_elem(r->fp_on, &r->fp_slot, &off, BPF_ANY);
	perf_buffer__free(r->fp_pb);
	r->fp_pb = NULL;
	if (r->fp_on >= 0)
		close(r->fp_on);
	if (r->fp_pe >= 0)
		close(r->fp_pe);
	r->fp_on = r->fp_pe = -1;
}
