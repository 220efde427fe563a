/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Between capture.c (lifecycle) and capture_out.c (pcapng and text). */
#ifndef TF_CAPTURE_INT_H
#define TF_CAPTURE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "tf_capture.h"
#include "tf_capture_shared.h"

struct capture;
struct perf_buffer;

struct cap_run {
	const struct tf_capture_opts *o;
	struct capture *skel;
	const char *ifname;
	uint64_t boot_to_real;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	struct tf_pcapng *png;
	uint64_t packets;
	uint64_t last_missed;
	bool done;
	int err;
	const struct tf_cbpf_insn *cprog;	/* the filter, for records filtered here */
	/* the fast path's copies of frames it redirects away (capture_fp.c) */
	int fp_on, fp_pe;
	__u32 fp_slot;			/* the tap's fast-path port slot (cap_on's key) */
	struct perf_buffer *fp_pb;
	uint64_t fp_missed;
};

/* Ask the tap's fast path, if it has one, for the frames it redirects away. */
int cap_fp_open(struct cap_run *r, int ifindex);
void cap_fp_poll(struct cap_run *r);
void cap_fp_close(struct cap_run *r);

int cap_out_open(struct cap_run *r);
void cap_write(struct cap_run *r, const struct tf_cap_rec *rec, const unsigned char *data);
void cap_out_flush(struct cap_run *r);
void cap_out_close(struct cap_run *r, uint64_t missed);
/* "udp 10.0.0.1.5000 > 10.0.0.2.4789 len 56": what tcpdump -q would say. */
void cap_describe(const unsigned char *d, uint32_t caplen, char *buf, size_t len);

#endif
