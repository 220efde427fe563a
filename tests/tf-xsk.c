// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-xsk: an AF_XDP receiver over libtapflow's tf_xsk_* API, for the AF_XDP
 * tests and benchmark. It opens one socket per queue of a tap (in the fast
 * path's XSKMAP, or with --test-prog in the XSKMAP of tests/progs/xsk_all,
 * which it attaches itself), counts what each socket receives (UDP frames
 * by destination port) and prints one JSON object:
 *
 *   {"dev":S,"queues":[{"queue":N,"rx":N,"udp":{"PORT":N,...},"other":N}],
 *    "rx":N,"seconds":F,"rx_pps":F}
 *
 * With --attach it is also the tap's backend: it attaches the queues itself
 * (sockets can bind only to attached queues) and, after binding, writes the
 * --write frames into them, so a test knows exactly what went in where:
 *   --write Q:udp:DPORT:K   K Ethernet/IPv4/UDP frames into queue Q
 *   --write Q:arp:K         K ARP requests into queue Q
 * --drop (with --test-prog) opens no socket: the program drops every frame,
 * for --duration seconds (the XDP_DROP floor).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tf_backend.h"
#include "tapflow.h"
#include "xsk_all.skel.h"

#define MAXW	64
#define NPORTS	8

struct wspec {
	unsigned int queue, count;
	int dport;		/* -1: ARP */
};

struct qcount {
	unsigned long long rx, other;
	int port[NPORTS];
	unsigned long long pcount[NPORTS];
};

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int attach_queue(const char *dev)
{
	int fd = tf_backend_attach(dev, IFF_MULTI_QUEUE, true);

	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	return fd;
}

static size_t frame(uint8_t *b, int dport, unsigned int q)
{
	static const uint8_t dst[6] = { 2, 0, 0, 0, 0, 0x99 };
	uint8_t src[6] = { 2, 0, 0, 0, 1, (uint8_t)q };
	uint32_t sum = 0;

	memset(b, 0, 64);
	memcpy(b, dport < 0 ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff" : dst, 6);
	memcpy(b + 6, src, 6);
	if (dport < 0) {	/* ARP who-has 198.18.0.1 */
		b[12] = 0x08; b[13] = 0x06;
		memcpy(b + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
		memcpy(b + 22, src, 6);
		memcpy(b + 28, "\xc6\x12\x00\x02", 4);
		memcpy(b + 38, "\xc6\x12\x00\x01", 4);
		return 60;
	}
	b[12] = 0x08; b[13] = 0x00;
	b[14] = 0x45; b[17] = 46; b[22] = 64; b[23] = 17;
	memcpy(b + 26, "\xc6\x12\x00\x02\xc6\x12\x00\x01", 8);
	for (int i = 14; i < 34; i += 2)
		sum += b[i] << 8 | b[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~((sum & 0xffff) + (sum >> 16)) & 0xffff;
	b[24] = sum >> 8; b[25] = sum;
	b[34] = (20000 + q) >> 8; b[35] = (20000 + q) & 0xff;
	b[36] = dport >> 8; b[37] = dport & 0xff;
	b[39] = 26;
	return 60;
}

static void count(struct qcount *c, const uint8_t *d, uint32_t len)
{
	int port, i;

	c->rx++;
	if (len < 38 || d[12] != 0x08 || d[13] != 0x00 || d[23] != 17) {
		c->other++;
		return;
	}
	port = d[36] << 8 | d[37];
	for (i = 0; i < NPORTS; i++) {
		if (c->pcount[i] && c->port[i] != port)
			continue;
		c->port[i] = port;
		c->pcount[i]++;
		return;
	}
	c->other++;
}

static void usage(void)
{
	fprintf(stderr, "usage: tf-xsk --dev TAP [--queues N] [--attach] [--test-prog [--drop]]\n"
			"       [--no-need-wakeup] [--write Q:udp:DPORT:K | Q:arp:K]...\n"
			"       [--idle-ms M] [--duration S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", 1, 0, 'd' }, { "queues", 1, 0, 'q' }, { "attach", 0, 0, 'a' },
		{ "test-prog", 0, 0, 'p' }, { "drop", 0, 0, 'D' }, { "no-need-wakeup", 0, 0, 'n' },
		{ "write", 1, 0, 'w' }, { "idle-ms", 1, 0, 'i' }, { "duration", 1, 0, 't' }, { 0 },
	};
	const char *dev = NULL;
	unsigned int nq = 1, nw = 0, idle_ms = 0;
	bool attach = false, test_prog = false, drop = false;
	struct tf_xsk_opts o = { 0 };
	struct wspec w[MAXW];
	struct qcount cnt[TF_MAX_QUEUES] = { 0 };
	struct xsk_all *skel = NULL;
	struct tf_xsk *x = NULL;
	int qfd[TF_MAX_QUEUES], ifindex = 0, c, ret = 1;
	double duration = 0, t0, last;
	unsigned long long total = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'q': nq = atoi(optarg); break;
		case 'a': attach = true; break;
		case 'p': test_prog = true; break;
		case 'D': drop = true; break;
		case 'n': o.no_need_wakeup = true; break;
		case 'i': idle_ms = atoi(optarg); break;
		case 't': duration = atof(optarg); break;
		case 'w': {
			unsigned int q, k, port;

			if (nw == MAXW)
				usage();
			if (sscanf(optarg, "%u:udp:%u:%u", &q, &port, &k) == 3)
				w[nw++] = (struct wspec){ q, k, (int)port };
			else if (sscanf(optarg, "%u:arp:%u", &q, &k) == 2)
				w[nw++] = (struct wspec){ q, k, -1 };
			else
				usage();
			break;
		}
		default: usage();
		}
	}
	if (!dev || !nq || nq > TF_MAX_QUEUES || (drop && !test_prog) || (nw && !attach))
		usage();
	for (unsigned int i = 0; i < nw; i++)
		if (w[i].queue >= nq)
			usage();
	tf_libbpf_quiet();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (unsigned int i = 0; i < nq; i++) {
		qfd[i] = attach ? attach_queue(dev) : -1;
		if (attach && qfd[i] < 0) {
			fprintf(stderr, "tf-xsk: attach queue %u of %s: %s\n", i, dev, strerror(errno));
			goto out;
		}
	}
	if (test_prog) {
		ifindex = if_nametoindex(dev);
		skel = xsk_all__open();
		if (!skel)
			goto out;
		skel->rodata->drop = drop;
		if (xsk_all__load(skel) ||
		    bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xsk_all), XDP_FLAGS_DRV_MODE, NULL)) {
			fprintf(stderr, "tf-xsk: test program: %s\n", strerror(errno));
			ifindex = 0;
			goto out;
		}
		o.xskmap_fd = bpf_map__fd(skel->maps.xsks);
		o.xskmap_base = 0;
	}
	o.queues = nq;
	if (!drop && tf_xsk_open(dev, &o, &x)) {
		fprintf(stderr, "tf-xsk: %s\n", tf_errmsg());
		goto out;
	}
	for (unsigned int i = 0; i < nw; i++) {
		uint8_t b[64];
		size_t len = frame(b, w[i].dport, w[i].queue);

		for (unsigned int k = 0; k < w[i].count; k++) {
			while (write(qfd[w[i].queue], b, len) < 0) {
				if (errno != EAGAIN) {
					fprintf(stderr, "tf-xsk: write queue %u: %s\n", w[i].queue, strerror(errno));
					goto out;
				}
				usleep(100);
			}
			/* Drain as we go: the RX ring is smaller than a big --write. */
			for (unsigned int q = 0; x && q < nq; q++) {
				struct tf_xsk_frame f[64];
				unsigned int n = tf_xsk_rx(&x->q[q], f, 64);

				for (unsigned int j = 0; j < n; j++)
					count(&cnt[q], f[j].data, f[j].len);
				tf_xsk_rx_done(&x->q[q]);
			}
		}
	}
	t0 = last = now_s();
	while (!stop) {
		double t = now_s();
		unsigned int got = 0;

		if (duration > 0 && t - t0 >= duration)
			break;
		if (idle_ms && (t - last) * 1000 >= idle_ms)
			break;
		if (!x) {
			usleep(10000);
			continue;
		}
		for (unsigned int q = 0; q < nq; q++) {
			struct tf_xsk_frame f[64];
			unsigned int n = tf_xsk_rx(&x->q[q], f, 64);

			for (unsigned int j = 0; j < n; j++)
				count(&cnt[q], f[j].data, f[j].len);
			tf_xsk_rx_done(&x->q[q]);
			got += n;
		}
		if (got)
			last = t;
	}
	t0 = now_s() - t0;
	printf("{\"dev\":\"%s\",\"queues\":[", dev);
	for (unsigned int q = 0; q < nq; q++) {
		printf("%s{\"queue\":%u,\"rx\":%llu,\"udp\":{", q ? "," : "", q, cnt[q].rx);
		for (int i = 0, first = 1; i < NPORTS; i++) {
			if (!cnt[q].pcount[i])
				continue;
			printf("%s\"%d\":%llu", first ? "" : ",", cnt[q].port[i], cnt[q].pcount[i]);
			first = 0;
		}
		printf("},\"other\":%llu}", cnt[q].other);
		total += cnt[q].rx;
	}
	{
		unsigned long long ring_full = 0, fill_empty = 0, dropped = 0;

		for (unsigned int q = 0; x && q < nq; q++) {
			struct xdp_statistics st = { 0 };

			tf_xsk_kernel_stats(&x->q[q], &st);
			ring_full += st.rx_ring_full;
			fill_empty += st.rx_fill_ring_empty_descs;
			dropped += st.rx_dropped;
		}
		printf("],\"rx\":%llu,\"seconds\":%.6f,\"rx_pps\":%.1f,\"rx_ring_full\":%llu,"
		       "\"rx_fill_empty\":%llu,\"rx_dropped\":%llu}\n", total, t0,
		       t0 > 0 ? total / t0 : 0, ring_full, fill_empty, dropped);
	}
	ret = 0;
out:
	tf_xsk_close(x);
	if (ifindex)
		bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	xsk_all__destroy(skel);
	for (unsigned int i = 0; attach && i < nq; i++)
		if (qfd[i] >= 0)
			close(qfd[i]);
	return ret;
}
