/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libtapflow's packet capture: `tapflow capture` and anything else that
 * wants the packets of one tap's queues, with their direction, queue, drop
 * cause and ring wait (user/capture*.c), written as pcapng (user/pcapng.c),
 * filtered in the kernel by a pcap filter that libpcap compiles to classic
 * BPF and user/cbpf.c translates to eBPF.
 */
#ifndef TF_CAPTURE_H
#define TF_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tapflow.h"

/* struct tf_cbpf_insn and the record layout */
#include <linux/types.h>
#include "tf_capture_shared.h"

struct bpf_insn;
struct bpf_object;

/*
 * Translate n classic instructions into exactly TF_CBPF_REGION eBPF ones
 * (the layout tf_capture_shared.h describes). -EINVAL for an instruction
 * with no translation, -E2BIG when it does not fit.
 */
int tf_cbpf_translate(const struct tf_cbpf_insn *prog, unsigned int n, struct bpf_insn *region);
/* Compile a pcap-filter expression for Ethernet; n gets the count. */
int tf_cbpf_compile(const char *expr, struct tf_cbpf_insn **prog, unsigned int *n);
/* Run prog on a frame in user space (libpcap's bpf_filter): 1 if it matches. */
int tf_cbpf_match(const struct tf_cbpf_insn *prog, const void *pkt, unsigned int wirelen,
		  unsigned int caplen);
/* Write region over every placeholder of every program of obj (not loaded). */
int tf_cbpf_patch(struct bpf_object *obj, const struct bpf_insn *region);

/* ---- pcapng ---- */

struct tf_pcapng;
enum tf_pcapng_dir { TF_PCAPNG_DIR_NONE = 0, TF_PCAPNG_DIR_IN = 1, TF_PCAPNG_DIR_OUT = 2 };

struct tf_pcapng_pkt {
	uint64_t ts_ns;		/* since the epoch */
	uint32_t wirelen;
	uint32_t caplen;
	const void *data;
	enum tf_pcapng_dir dir;
	int queue;		/* < 0: no epb_queue */
	uint64_t dropcount;	/* epb_dropcount: lost since the previous packet */
	bool has_dropcount;
	const char *comment;	/* opt_comment, or NULL */
};

/* Start a file on f: section header and one interface block per name. */
struct tf_pcapng *tf_pcapng_open(FILE *f, const char *const *ifnames, int n, uint32_t snaplen);
int tf_pcapng_packet(struct tf_pcapng *p, int ifidx, const struct tf_pcapng_pkt *pkt);
/* Interface statistics block: received and dropped (isb_ifrecv, isb_ifdrop). */
int tf_pcapng_stats(struct tf_pcapng *p, int ifidx, uint64_t ts_ns, uint64_t recv,
		    uint64_t drop);
int tf_pcapng_flush(struct tf_pcapng *p);
/* Flush and free; the FILE is the caller's. */
int tf_pcapng_close(struct tf_pcapng *p);

/* ---- capture ---- */

enum tf_capture_dirs { TF_CAPTURE_TX = 1, TF_CAPTURE_RX = 2, TF_CAPTURE_BOTH = 3 };

struct tf_capture_opts {
	const char *tap;
	const char *filter;		/* pcap-filter expression, or NULL */
	unsigned int dirs;		/* enum tf_capture_dirs */
	bool drops_only;
	unsigned int drop_mask;		/* bit per enum tf_drop_cause; 0: all */
	unsigned int snaplen;		/* <= TF_CAP_MAX */
	bool all_queues;
	uint32_t qmask[8];		/* queues 0..255 */
	uint64_t count;			/* stop after this many; 0: no limit */
	double duration;		/* seconds; 0: no limit */
	int backend;			/* TF_BACKEND_* (tf_trace.h); 0: the first that runs */
	FILE *pcapng;			/* write pcapng here, else text to stdout */
	volatile int *stop;		/* set by a signal handler */
};

struct tf_capture_result {
	uint64_t packets;		/* written */
	uint64_t missed;		/* lost to a full ring buffer */
	const char *rung;		/* which hooks ran */
};

/* Capture until count, duration or *stop. */
int tf_capture_run(const struct tf_capture_opts *o, struct tf_capture_result *res);
/* Parse "ring_full,filter" into a mask; -EINVAL naming nothing on a bad name. */
int tf_capture_drop_mask(const char *list, unsigned int *mask, const char **bad);
const char *tf_capture_cause_name(unsigned int cause);

#endif
