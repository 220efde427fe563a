// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow xsk-fwd A B: the reference AF_XDP dataplane. For every queue q it
 * takes frames off A's socket q and sends them on B's socket q, and the other
 * way round, in batches, one thread per queue; per-queue counters are
 * printed every --stats-interval and at the end.
 *
 *   A's backend ─write─> A: XDP rule ─> xsk A.q ─> [thread q] ─> xsk B.q TX
 *        ─> tun_net_xmit(B) ─> B queue q ring ─read─> B's backend
 *
 * Both taps must be fast path ports with an AF_XDP rule for the frames to
 * forward (`tapflow fastpath on A; tapflow fastpath rule add A --all`), and
 * their backends must hold queues 0..N-1 when it starts.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_cmds.h"
#include "json.h"
#include "log.h"

#define FWD_BATCH	64
#define IDLE_SPINS	256	/* empty rounds before sleeping in poll() */
#define POLL_MS		20

struct fwd_cfg {
	char a[TF_IFNAMSIZ];
	char b[TF_IFNAMSIZ];
	unsigned int queues;
	double duration;
	double stats_interval;
	bool no_need_wakeup;
	unsigned int busy_poll;
	unsigned int batch;
	bool json;
};

static const struct cli_opt fwd_opts[] = {
	CLI_OPT(struct fwd_cfg, CLI_UINT, queues, "queues", .short_name = 'q', .min = 1,
		.max = TF_MAX_QUEUES, .help = "queues 0..N-1 of both taps (default 1)"),
	CLI_OPT(struct fwd_cfg, CLI_SECONDS, duration, "duration", .short_name = 't', .dmin = 0.01,
		.help = "stop after S seconds (default: SIGINT)"),
	CLI_OPT(struct fwd_cfg, CLI_SECONDS, stats_interval, "stats-interval", .short_name = 'i',
		.dmin = 0.1, .help = "print per-queue counters every S seconds"),
	CLI_OPT(struct fwd_cfg, CLI_FLAG, no_need_wakeup, "no-need-wakeup",
		.help = "bind without XDP_USE_NEED_WAKEUP (a syscall on every empty poll)"),
	CLI_OPT(struct fwd_cfg, CLI_UINT, busy_poll, "busy-poll", .max = 1000000, .metavar = "US",
		.help = "SO_BUSY_POLL microseconds (default off)"),
	CLI_OPT(struct fwd_cfg, CLI_UINT, batch, "batch", .min = 1, .max = 256,
		.help = "frames per batch (default 64)"),
	CLI_OPT(struct fwd_cfg, CLI_FLAG, json, "json", .short_name = 'j',
		.help = "print the final counters as JSON"),
	CLI_END
};

static const struct cli_opt fwd_args[] = {
	CLI_ARG(struct fwd_cfg, CLI_IFNAME, a, "A"),
	CLI_ARG(struct fwd_cfg, CLI_IFNAME, b, "B"),
	CLI_END
};

struct fwd_queue {
	pthread_t thread;
	struct tf_xsk_queue *a, *b;
	unsigned int batch;
	_Atomic uint64_t a_to_b, b_to_a, dropped;
};

static unsigned int fwd_one(struct fwd_queue *fq, struct tf_xsk_queue *src,
			    struct tf_xsk_queue *dst, _Atomic uint64_t *ctr)
{
	struct tf_xsk_frame frames[256];
	unsigned int n, sent;

	n = tf_xsk_rx(src, frames, fq->batch);
	if (!n)
		return 0;
	sent = tf_xsk_tx(dst, frames, n);
	tf_xsk_rx_done(src);
	atomic_fetch_add_explicit(ctr, sent, memory_order_relaxed);
	if (sent < n)
		atomic_fetch_add_explicit(&fq->dropped, n - sent, memory_order_relaxed);
	return n;
}

static void *fwd_thread(void *arg)
{
	struct fwd_queue *fq = arg;
	unsigned int idle = 0;

	while (!cli_stop) {
		unsigned int n = fwd_one(fq, fq->a, fq->b, &fq->a_to_b) +
				 fwd_one(fq, fq->b, fq->a, &fq->b_to_a);

		if (n) {
			idle = 0;
			continue;
		}
		if (++idle < IDLE_SPINS)
			continue;
		struct pollfd pfd[2] = { { fq->a->fd, POLLIN, 0 }, { fq->b->fd, POLLIN, 0 } };

		poll(pfd, 2, POLL_MS);
		idle = 0;
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_text(const char *a, const char *b, struct fwd_queue *fq, unsigned int n,
		       double secs)
{
	uint64_t ab = 0, ba = 0, dr = 0;

	printf("%-6s %14s %14s %10s\n", "queue", a, b, "dropped");
	for (unsigned int i = 0; i < n; i++) {
		uint64_t x = fq[i].a_to_b, y = fq[i].b_to_a, z = fq[i].dropped;
		char qa[32], qb[32];

		snprintf(qa, sizeof(qa), "%llu >", (unsigned long long)x);
		snprintf(qb, sizeof(qb), "< %llu", (unsigned long long)y);
		printf("%-6u %14s %14s %10llu\n", i, qa, qb, (unsigned long long)z);
		ab += x;
		ba += y;
		dr += z;
	}
	printf("total  %llu frames %s -> %s, %llu %s -> %s, %llu dropped in %.2f s (%.3f Mpps)\n",
	       (unsigned long long)ab, a, b, (unsigned long long)ba, b, a, (unsigned long long)dr,
	       secs, secs > 0 ? (ab + ba) / secs / 1e6 : 0.0);
	fflush(stdout);
}

static void print_json(const char *a, const char *b, struct fwd_queue *fq, unsigned int n,
		       double secs, const struct tf_xsk *xa, const struct tf_xsk *xb)
{
	struct tf_json j;
	uint64_t ab = 0, ba = 0, dr = 0;

	tf_json_init(&j, stdout);
	tf_json_obj_begin(&j, NULL);
	tf_json_str(&j, "a", a);
	tf_json_str(&j, "b", b);
	tf_json_double(&j, "seconds", secs);
	tf_json_arr_begin(&j, "queues");
	for (unsigned int i = 0; i < n; i++) {
		struct xdp_statistics sa = { 0 }, sb = { 0 };

		tf_xsk_kernel_stats(&xa->q[i], &sa);
		tf_xsk_kernel_stats(&xb->q[i], &sb);
		tf_json_obj_begin(&j, NULL);
		tf_json_u64(&j, "queue", i);
		tf_json_u64(&j, "a_to_b", fq[i].a_to_b);
		tf_json_u64(&j, "b_to_a", fq[i].b_to_a);
		tf_json_u64(&j, "dropped", fq[i].dropped);
		tf_json_u64(&j, "a_rx_dropped", sa.rx_dropped + sa.rx_ring_full);
		tf_json_u64(&j, "b_rx_dropped", sb.rx_dropped + sb.rx_ring_full);
		tf_json_u64(&j, "a_tx_kicks", xa->q[i].stats.tx_kicks);
		tf_json_u64(&j, "b_tx_kicks", xb->q[i].stats.tx_kicks);
		tf_json_obj_end(&j);
		ab += fq[i].a_to_b;
		ba += fq[i].b_to_a;
		dr += fq[i].dropped;
	}
	tf_json_arr_end(&j);
	tf_json_u64(&j, "a_to_b", ab);
	tf_json_u64(&j, "b_to_a", ba);
	tf_json_u64(&j, "dropped", dr);
	tf_json_double(&j, "pps", secs > 0 ? (ab + ba) / secs : 0);
	tf_json_obj_end(&j);
	tf_json_end(&j);
}

static int run_xsk_fwd(void *p)
{
	struct fwd_cfg cfg = *(struct fwd_cfg *)p;
	struct tf_xsk_opts o = { 0 };
	struct tf_xsk *xa = NULL, *xb = NULL;
	struct fwd_queue *fq = NULL;
	unsigned int started = 0;
	double t0, next;
	int ret = 0, err;

	if (!strcmp(cfg.a, cfg.b))
		return cli_usage_error("A and B are the same tap");
	o.queues = cfg.queues;
	o.no_need_wakeup = cfg.no_need_wakeup;
	o.busy_poll_us = cfg.busy_poll;
	err = tf_xsk_open(cfg.a, &o, &xa);
	if (!err)
		err = tf_xsk_open(cfg.b, &o, &xb);
	if (err) {
		ret = cli_fail(err);
		goto out;
	}
	fq = calloc(cfg.queues, sizeof(*fq));
	if (!fq) {
		ret = cli_usage_error("out of memory");
		goto out;
	}
	cli_stop_on_signals(false, true);
	for (; started < cfg.queues; started++) {
		fq[started].a = &xa->q[started];
		fq[started].b = &xb->q[started];
		fq[started].batch = cfg.batch;
		if (pthread_create(&fq[started].thread, NULL, fwd_thread, &fq[started])) {
			cli_stop = 1;
			fprintf(stderr, "tapflow xsk-fwd: pthread_create: %s\n", strerror(errno));
			ret = TF_EXIT_FAIL;
			break;
		}
	}
	if (!cfg.json)
		fprintf(stderr, "forwarding %s <-> %s on %u queue(s), need_wakeup %s; Ctrl-C stops\n",
			cfg.a, cfg.b, cfg.queues, cfg.no_need_wakeup ? "off" : "on");
	t0 = now_s();
	next = t0 + cfg.stats_interval;
	while (!cli_stop) {
		double t = now_s();

		if (cfg.duration > 0 && t - t0 >= cfg.duration)
			break;
		if (cfg.stats_interval > 0 && t >= next) {
			print_text(cfg.a, cfg.b, fq, cfg.queues, t - t0);
			next += cfg.stats_interval;
		}
		usleep(10000);
	}
	cli_stop = 1;
	for (unsigned int i = 0; i < started; i++)
		pthread_join(fq[i].thread, NULL);
	if (ret == 0) {
		if (cfg.json)
			print_json(cfg.a, cfg.b, fq, cfg.queues, now_s() - t0, xa, xb);
		else
			print_text(cfg.a, cfg.b, fq, cfg.queues, now_s() - t0);
	}
out:
	free(fq);
	tf_xsk_close(xa);
	tf_xsk_close(xb);
	return ret;
}

const struct cli_cmd cli_xsk_fwd = {
	.name = "xsk-fwd",
	.summary = "forward between two taps through AF_XDP sockets",
	.doc = "Forward frames between taps A and B through AF_XDP sockets, queue q to\n"
	       "queue q in both directions. Both must be fast path ports with an AF_XDP\n"
	       "rule (tapflow fastpath on A; tapflow fastpath rule add A --all).",
	.opts = fwd_opts,
	.args = fwd_args,
	CLI_CFG(struct fwd_cfg, .queues = 1, .batch = FWD_BATCH),
	.run = run_xsk_fwd,
};
