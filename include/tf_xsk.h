/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * AF_XDP sockets on a tap's queues, for user-space dataplanes. Included by
 * tapflow.h.
 *
 *   backend write() ─> tun_get_user ─> XDP (fast path rule) ─> XSKMAP[row+q]
 *        ─> (copy) ─> socket q's RX ring ─> caller
 *   caller ─> socket q's TX ring ─> sendto() kick ─> xsk_generic_xmit
 *        ─> tun_net_xmit ─> queue q's ring ─> backend read()
 *
 * tf_xsk_open() creates one UMEM and one socket per queue in XDP_COPY mode
 * (tun has no zero-copy), bound to queue q, and puts each socket into an
 * XSKMAP: by default the fast path's pinned one (its "xsks" map) at the tap's
 * port slot, so frames matching the tap's AF_XDP rules (`tapflow fastpath
 * rule add`) reach the socket of the queue they were written on. No XDP
 * program is loaded here (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD). A caller
 * with its own program passes its XSKMAP fd and key base instead.
 *
 * A queue must be attached (a backend holds it) when its socket binds: the
 * kernel refuses queue ids at or above the attached count.
 *
 * Each queue's UMEM is split in two: the first half of the frames feeds the
 * fill ring (RX), the second half is a free list for TX. Frames passed to
 * tf_xsk_tx() are copied into it, so RX frames of one tap can be sent on
 * another tap's socket directly.
 */
#ifndef TF_XSK_H
#define TF_XSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xdp/xsk.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tf_xsk_opts {
	unsigned int queues;		/* queues 0..queues-1; 0 means 1 */
	unsigned int frame_size;	/* power of two, 2048..4096; 0: 2048 */
	unsigned int frames;		/* per queue UMEM, power of two; 0: 4096 */
	unsigned int ring_size;		/* rx, tx, fill, completion; 0: 2048 */
	bool no_need_wakeup;		/* do not bind with XDP_USE_NEED_WAKEUP */
	unsigned int busy_poll_us;	/* SO_BUSY_POLL (+ SO_PREFER_BUSY_POLL); 0: off */
	unsigned int busy_poll_budget;	/* SO_BUSY_POLL_BUDGET; 0: kernel default */
	int xskmap_fd;			/* <= 0: the fast path's pinned XSKMAP */
	unsigned int xskmap_base;	/* with xskmap_fd: queue q goes to key base + q */
};

struct tf_xsk_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes;	/* placed in the TX ring */
	uint64_t tx_no_room;		/* not sent: TX ring or TX frames exhausted */
	uint64_t rx_kicks, tx_kicks;	/* wakeup syscalls (recvfrom / sendto) */
};

/* One received frame: data points into the UMEM until tf_xsk_rx_done(). */
struct tf_xsk_frame {
	void *data;
	uint32_t len;
};

struct tf_xsk_queue {
	unsigned int queue;
	int fd;				/* the AF_XDP socket, for poll() */
	struct xsk_socket *xsk;
	struct xsk_umem *umem;
	void *area;
	size_t area_len;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint32_t frame_size;
	bool need_wakeup;
	/* private: the RX batch taken and not yet returned, the TX free list */
	uint32_t rx_idx, rx_held;
	uint64_t *tx_free;
	uint32_t tx_nfree;
	struct tf_xsk_stats stats;
};

struct tf_xsk {
	char name[16];
	int ifindex;
	unsigned int nqueues;
	struct tf_xsk_queue *q;		/* q[0..nqueues) */
	int xskmap_fd;
	uint32_t key_base;		/* XSKMAP key of queue 0 */
	bool own_map_fd;
};

/*
 * Open and bind a socket on each of queues 0..opts->queues-1 of the tap NAME
 * (current network namespace) and insert them into the XSKMAP. Without
 * opts->xskmap_fd, NAME must be a fast path port (`tapflow fastpath on`).
 */
int tf_xsk_open(const char *name, const struct tf_xsk_opts *opts, struct tf_xsk **out);
/* Remove the sockets from the XSKMAP, close them, free the UMEMs. */
void tf_xsk_close(struct tf_xsk *x);

/*
 * Take up to max received frames of queue q (no syscall unless the fill ring
 * asks for a wakeup). They stay valid until tf_xsk_rx_done(), which gives
 * them back to the fill ring; call it before the next tf_xsk_rx().
 */
unsigned int tf_xsk_rx(struct tf_xsk_queue *q, struct tf_xsk_frame *frames, unsigned int max);
void tf_xsk_rx_done(struct tf_xsk_queue *q);
/*
 * Copy n frames into queue q's TX ring and kick the kernel (tun transmits
 * synchronously inside the kick). Returns how many were queued; the rest
 * counted in stats.tx_no_room. Completions are reaped here too.
 */
unsigned int tf_xsk_tx(struct tf_xsk_queue *q, const struct tf_xsk_frame *frames,
		       unsigned int n);
/* Reap the completion ring into the TX free list; returns frames reaped. */
unsigned int tf_xsk_complete(struct tf_xsk_queue *q);
/* The kernel's counters of the socket (struct xdp_statistics). */
int tf_xsk_kernel_stats(const struct tf_xsk_queue *q, struct xdp_statistics *st);

#ifdef __cplusplus
}
#endif

#endif /* TF_XSK_H */
