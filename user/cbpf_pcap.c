// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A pcap filter expression into classic BPF: libpcap compiles it (the same
 * grammar and code tcpdump uses, for Ethernet). Kept apart from cbpf.c
 * because <pcap/bpf.h> and <linux/bpf.h> both define struct bpf_insn.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>

#include <linux/types.h>

#include "tf_capture_shared.h"

/* From tapflow.h and tf_capture.h, which reach <linux/bpf.h>. */
int tf_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tf_cbpf_compile(const char *expr, struct tf_cbpf_insn **prog, unsigned int *n);

int tf_cbpf_compile(const char *expr, struct tf_cbpf_insn **prog, unsigned int *n)
{
	struct bpf_program bp;
	pcap_t *p;
	int err = 0;

	p = pcap_open_dead(DLT_EN10MB, TF_CAP_MAX);
	if (!p)
		return tf_err(-ENOMEM, "cannot start libpcap");
	if (pcap_compile(p, &bp, expr, 1, PCAP_NETMASK_UNKNOWN)) {
		err = tf_err(-EINVAL, "bad filter '%s': %s", expr, pcap_geterr(p));
		goto out;
	}
	*n = bp.bf_len;
	*prog = calloc(bp.bf_len, sizeof(**prog));
	if (!*prog) {
		err = tf_err(-ENOMEM, "out of memory");
	} else {
		/* struct bpf_insn of libpcap has this very layout */
		_Static_assert(sizeof(struct tf_cbpf_insn) == sizeof(*bp.bf_insns), "layout");
		memcpy(*prog, bp.bf_insns, bp.bf_len * sizeof(**prog));
	}
	pcap_freecode(&bp);
out:
	pcap_close(p);
	return err;
}

/*
 * Run a compiled filter on a frame in user space: only for the records the
 * fast path sends (user/capture_fp.c), whose program has no filter region.
 */
int tf_cbpf_match(const struct tf_cbpf_insn *prog, const void *pkt, unsigned int wirelen,
		  unsigned int caplen);

int tf_cbpf_match(const struct tf_cbpf_insn *prog, const void *pkt, unsigned int wirelen,
		  unsigned int caplen)
{
	return bpf_filter((const struct bpf_insn *)prog, pkt, wirelen, caplen) != 0;
}
