// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * AF_XDP sockets per tap queue (see tf_xsk.h): UMEM and socket setup through
 * libxdp's xsk API with program loading inhibited, XSKMAP insertion at the
 * fast path's slot, and the batch RX/TX helpers a dataplane loop calls.
 *
 * Copy-mode facts that shape the helpers: RX is filled in the writer's
 * context (tun_get_user → XDP → xsk_rcv), so the fill ring only needs a
 * wakeup when it ran dry; TX happens only inside sendto() (xsk_generic_xmit),
 * at most 32 descriptors per call (it returns EAGAIN when more are left), and
 * tun_net_xmit consumes each skb synchronously, so the completion ring is
 * filled by the time sendto() returns.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "tapflow.h"
#include "tf_fastpath_shared.h"
#include "log.h"

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

#define TX_KICK_BATCH 32	/* TX_BATCH_SIZE in net/xdp/xsk.c */

static bool pow2(unsigned int v)
{
	return v && !(v & (v - 1));
}

/* The fast path's XSKMAP, the key of queue 0 of ifindex's port and how many queues have a key. */
static int fastpath_map(const char *name, int ifindex, int *map_fd, uint32_t *base,
			uint32_t *nrows)
{
	struct tf_fp_port port;
	__u32 key = ifindex;
	char ports[96], xsks[96];
	int fd, err;

	err = tf_fastpath_pin_path(TF_FP_MAP_PORTS, ports, sizeof(ports));
	if (!err)
		err = tf_fastpath_pin_path(TF_FP_MAP_XSKS, xsks, sizeof(xsks));
	if (err)
		return err;
	fd = bpf_obj_get(ports);
	if (fd < 0)
		return tf_err(errno == ENOENT ? -ENOENT : -errno,
			      "%s: the fast path is not on in this network namespace (%s: %s); try tapflow fastpath on %s",
			      name, ports, strerror(errno), name);
	err = bpf_map_lookup_elem(fd, &key, &port);
	close(fd);
	if (err)
		return tf_err(-ENOENT, "%s: not a fast path port; try tapflow fastpath on %s", name, name);
	fd = bpf_obj_get(xsks);
	if (fd < 0)
		return tf_err(-errno, "%s: %s", xsks, strerror(errno));
	*map_fd = fd;
	*base = port.row;
	*nrows = port.nrows;
	return 0;
}

static void busy_poll(struct tf_xsk_queue *q, const struct tf_xsk_opts *o)
{
	int one = 1, us = o->busy_poll_us, budget = o->busy_poll_budget;

	if (!us)
		return;
	/* tun has no NAPI context unless IFF_NAPI: these may do nothing there. */
	if (setsockopt(q->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) ||
	    setsockopt(q->fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)) ||
	    (budget && setsockopt(q->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget))))
		pr_warn("queue %u: busy poll not available: %s", q->queue, strerror(errno));
}

static int queue_open(struct tf_xsk *x, struct tf_xsk_queue *q, const struct tf_xsk_opts *o,
		      unsigned int frames, unsigned int fsize, unsigned int ring)
{
	struct xsk_umem_config ucfg = {
		.fill_size = ring, .comp_size = ring, .frame_size = fsize,
		.frame_headroom = 0, .flags = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = ring, .tx_size = ring,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY | (o->no_need_wakeup ? 0 : XDP_USE_NEED_WAKEUP),
	};
	unsigned int nrx = frames / 2, i;
	uint32_t idx, key = x->key_base + q->queue;
	int err;

	q->frame_size = fsize;
	q->need_wakeup = !o->no_need_wakeup;
	q->area_len = (size_t)frames * fsize;
	q->area = mmap(NULL, q->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		return tf_err(-errno, "UMEM of %zu bytes: %s", q->area_len, strerror(errno));
	}
	err = xsk_umem__create(&q->umem, q->area, q->area_len, &q->fill, &q->comp, &ucfg);
	if (err)
		return tf_err(err, "%s queue %u: UMEM registration: %s", x->name, q->queue, strerror(-err));
	err = xsk_socket__create(&q->xsk, x->name, q->queue, q->umem, &q->rx, &q->tx, &scfg);
	if (err)
		return tf_err(err, "%s queue %u: AF_XDP socket: %s%s", x->name, q->queue, strerror(-err),
			      err == -EINVAL ? " (is a backend attached to this queue?)" : "");
	q->fd = xsk_socket__fd(q->xsk);
	busy_poll(q, o);

	/* First half of the frames: RX, all on the fill ring. */
	if (xsk_ring_prod__reserve(&q->fill, nrx, &idx) != nrx)
		return tf_err(-ENOSPC, "%s queue %u: fill ring smaller than %u", x->name, q->queue, nrx);
	for (i = 0; i < nrx; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)i * fsize;
	xsk_ring_prod__submit(&q->fill, nrx);
	/* Second half: TX free list. */
	q->tx_free = calloc(frames - nrx, sizeof(*q->tx_free));
	if (!q->tx_free)
		return tf_err(-ENOMEM, "out of memory");
	for (i = nrx; i < frames; i++)
		q->tx_free[q->tx_nfree++] = (uint64_t)i * fsize;

	if (bpf_map_update_elem(x->xskmap_fd, &key, &q->fd, 0))
		return tf_err(-errno, "%s queue %u: XSKMAP key %u: %s", x->name, q->queue, key,
			      strerror(errno));
	return 0;
}

static void queue_close(struct tf_xsk *x, struct tf_xsk_queue *q)
{
	uint32_t key = x->key_base + q->queue;

	if (q->xsk) {
		if (x->xskmap_fd >= 0)
			bpf_map_delete_elem(x->xskmap_fd, &key);
		xsk_socket__delete(q->xsk);
	}
	if (q->umem)
		xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, q->area_len);
	free(q->tx_free);
	memset(q, 0, sizeof(*q));
}

int tf_xsk_open(const char *name, const struct tf_xsk_opts *o, struct tf_xsk **out)
{
	unsigned int nq = o->queues ? o->queues : 1;
	unsigned int fsize = o->frame_size ? o->frame_size : 2048;
	unsigned int frames = o->frames ? o->frames : 4096;
	unsigned int ring = o->ring_size ? o->ring_size : 2048;
	struct tf_xsk *x;
	int err;

	if (nq > TF_MAX_QUEUES)
		return tf_err(-EINVAL, "%u queues: at most %d", nq, TF_MAX_QUEUES);
	if (!pow2(fsize) || fsize < 2048 || fsize > 4096)
		return tf_err(-EINVAL, "frame size %u: a power of two, 2048 or 4096", fsize);
	if (!pow2(frames) || frames < 64 || !pow2(ring) || ring < frames / 2)
		return tf_err(-EINVAL, "%u frames, rings of %u: powers of two, rings >= frames/2",
			      frames, ring);
	x = calloc(1, sizeof(*x));
	if (!x)
		return tf_err(-ENOMEM, "out of memory");
	x->xskmap_fd = -1;
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->ifindex = if_nametoindex(name);
	if (!x->ifindex) {
		err = tf_err(-ENODEV, "%s: no such device", name);
		goto fail;
	}
	if (o->xskmap_fd > 0) {
		x->xskmap_fd = o->xskmap_fd;
		x->key_base = o->xskmap_base;
	} else {
		uint32_t nrows;

		err = fastpath_map(name, x->ifindex, &x->xskmap_fd, &x->key_base, &nrows);
		if (err)
			goto fail;
		x->own_map_fd = true;
		if (nq > nrows) {
			err = tf_err(-EINVAL, "%s: %u queues, but its fast path port has keys for %u "
				     "(the queues it had when the fast path went on; fastpath off and on again)",
				     name, nq, nrows);
			goto fail;
		}
	}
	x->q = calloc(nq, sizeof(*x->q));
	if (!x->q) {
		err = tf_err(-ENOMEM, "out of memory");
		goto fail;
	}
	x->nqueues = nq;
	for (unsigned int i = 0; i < nq; i++) {
		x->q[i].queue = i;
		x->q[i].fd = -1;
		err = queue_open(x, &x->q[i], o, frames, fsize, ring);
		if (err)
			goto fail;
	}
	pr_info("%s: %u AF_XDP sockets (copy mode, need_wakeup %s), XSKMAP keys %u..%u",
		name, nq, o->no_need_wakeup ? "off" : "on", x->key_base, x->key_base + nq - 1);
	*out = x;
	return 0;
fail:
	tf_xsk_close(x);
	return err;
}

void tf_xsk_close(struct tf_xsk *x)
{
	if (!x)
		return;
	for (unsigned int i = 0; x->q && i < x->nqueues; i++)
		queue_close(x, &x->q[i]);
	if (x->own_map_fd && x->xskmap_fd >= 0)
		close(x->xskmap_fd);
	free(x->q);
	free(x);
}

/* ---- the data path ------------------------------------------------------------ */

unsigned int tf_xsk_rx(struct tf_xsk_queue *q, struct tf_xsk_frame *frames, unsigned int max)
{
	unsigned int n, i;
	uint32_t idx;

	n = xsk_ring_cons__peek(&q->rx, max, &idx);
	if (!n) {
		/*
		 * Copy mode fills RX in the writer's context and never asks for a
		 * wakeup; without need_wakeup the classic protocol is a syscall on
		 * every empty poll.
		 */
		if (!q->need_wakeup || xsk_ring_prod__needs_wakeup(&q->fill)) {
			recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
			q->stats.rx_kicks++;
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);

		frames[i].data = xsk_umem__get_data(q->area, d->addr);
		frames[i].len = d->len;
		q->stats.rx_bytes += d->len;
	}
	q->stats.rx_packets += n;
	q->rx_idx = idx;
	q->rx_held = n;
	return n;
}

void tf_xsk_rx_done(struct tf_xsk_queue *q)
{
	unsigned int n = q->rx_held, i;
	uint32_t fidx;

	if (!n)
		return;
	/* The fill ring holds every RX frame, so this reservation cannot fall short. */
	while (xsk_ring_prod__reserve(&q->fill, n, &fidx) != n)
		;
	for (i = 0; i < n; i++) {
		uint64_t addr = xsk_ring_cons__rx_desc(&q->rx, q->rx_idx + i)->addr;

		*xsk_ring_prod__fill_addr(&q->fill, fidx + i) = addr & ~(uint64_t)(q->frame_size - 1);
	}
	xsk_ring_prod__submit(&q->fill, n);
	xsk_ring_cons__release(&q->rx, n);
	q->rx_held = 0;
}

unsigned int tf_xsk_complete(struct tf_xsk_queue *q)
{
	uint32_t idx;
	unsigned int n = xsk_ring_cons__peek(&q->comp, UINT32_MAX, &idx), i;

	for (i = 0; i < n; i++)
		q->tx_free[q->tx_nfree++] = *xsk_ring_cons__comp_addr(&q->comp, idx + i);
	if (n)
		xsk_ring_cons__release(&q->comp, n);
	return n;
}

static void tx_kick(struct tf_xsk_queue *q, unsigned int n)
{
	/* Each sendto() transmits at most 32 descriptors and says EAGAIN if more wait. */
	for (unsigned int tries = n / TX_KICK_BATCH + 2; tries; tries--) {
		q->stats.tx_kicks++;
		if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0 || errno != EAGAIN)
			break;
	}
}

unsigned int tf_xsk_tx(struct tf_xsk_queue *q, const struct tf_xsk_frame *frames, unsigned int n)
{
	unsigned int k, i;
	uint32_t idx;

	tf_xsk_complete(q);
	k = n < q->tx_nfree ? n : q->tx_nfree;
	k = xsk_ring_prod__reserve(&q->tx, k, &idx);
	for (i = 0; i < k; i++) {
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, idx + i);
		uint64_t addr = q->tx_free[--q->tx_nfree];
		uint32_t len = frames[i].len < q->frame_size ? frames[i].len : q->frame_size;

		memcpy(xsk_umem__get_data(q->area, addr), frames[i].data, len);
		d->addr = addr;
		d->len = len;
		q->stats.tx_bytes += len;
	}
	q->stats.tx_packets += k;
	q->stats.tx_no_room += n - k;
	if (!k)
		return 0;
	xsk_ring_prod__submit(&q->tx, k);
	/* Copy mode transmits only from sendto(): needs_wakeup is set whenever TX has work. */
	if (!q->need_wakeup || xsk_ring_prod__needs_wakeup(&q->tx))
		tx_kick(q, k);
	tf_xsk_complete(q);
	return k;
}

int tf_xsk_kernel_stats(const struct tf_xsk_queue *q, struct xdp_statistics *st)
{
	socklen_t len = sizeof(*st);

	if (getsockopt(q->fd, SOL_XDP, XDP_STATISTICS, st, &len))
		return tf_err(-errno, "XDP_STATISTICS: %s", strerror(errno));
	return 0;
}
