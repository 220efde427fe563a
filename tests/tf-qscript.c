// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-qscript: a scripted VM backend for the tracing tests. It attaches N
 * queues of a tap (fd i is queue i when nothing else is attached), then runs
 * steps in order on those fds, so a test can move queues around mid-run and
 * know exactly which fd wrote what:
 *
 *	w FD K        write K Ethernet/IPv4/UDP frames on fd FD (UDP source
 *	              port 20000 + FD, so each fd is its own flow)
 *	r FD K MS     read up to K frames on fd FD, giving up after MS ms idle
 *	d FD          detach fd FD's queue (TUNSETQUEUE IFF_DETACH_QUEUE): the
 *	              kernel moves the last queue into its slot
 *	a FD          attach it again (IFF_ATTACH_QUEUE): it becomes the last
 *	s MS          sleep
 *	h MS          hold: sleep, then go on (same as s; reads clearer)
 *	t PATH        tell: create the file PATH (the queues are attached by
 *	              then: a test can start sending once it exists)
 *	g PATH        go on once the file PATH exists (a test made it: e.g.
 *	              all its packets are queued), instead of a fixed hold
 *
 *	tf-qscript DEV N STEP...   e.g. tf-qscript tap0 4 w 0 100 d 1 w 3 50
 *
 * Prints one JSON object: frames written and read per fd. Exit 1 on the
 * first failing step (named on stderr), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "tf_backend.h"

static int fds[TF_MAX_QUEUES];
static long wrote[TF_MAX_QUEUES], got[TF_MAX_QUEUES];

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* 64-byte frame 02:00:00:00:01:FD -> 02:00:00:00:00:01, 198.18.0.2 -> .1 */
static int frame(unsigned char *f, int q)
{
	unsigned short c, sport = 20000 + q;

	memset(f, 0, 64);
	memcpy(f, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x01", 5);
	f[11] = q & 0xff;
	f[12] = 0x08;
	f[14] = 0x45;
	f[17] = 50;		/* 20 IP + 8 UDP + 22 payload */
	f[22] = 64;
	f[23] = 17;
	memcpy(f + 26, "\xc6\x12\x00\x02\xc6\x12\x00\x01", 8);
	c = tf_ip_checksum(f + 14, 20);
	f[24] = c >> 8;
	f[25] = c & 0xff;
	f[34] = sport >> 8;
	f[35] = sport & 0xff;
	f[37] = 9;
	f[39] = 30;
	return 64;
}

static int fd_arg(const char *s, int n)
{
	int i = atoi(s);

	return i >= 0 && i < n ? i : -1;
}

int main(int argc, char **argv)
{
	unsigned char buf[65536];
	int n, i;

	if (argc < 3 || (n = atoi(argv[2])) < 1 || n > TF_MAX_QUEUES) {
		fprintf(stderr, "usage: tf-qscript DEV N STEP...\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		fds[i] = tf_backend_attach(argv[1], IFF_MULTI_QUEUE, true);
		if (fds[i] < 0) {
			fprintf(stderr, "tf-qscript: attaching queue %d of %s: %s\n", i, argv[1],
				strerror(-fds[i]));
			return 1;
		}
	}
	for (i = 3; i < argc;) {
		char op = argv[i][0];
		int q = i + 1 < argc ? fd_arg(argv[i + 1], n) : -1;

		if (op == 's' || op == 'h') {
			if (i + 1 >= argc)
				goto usage;
			msleep(atol(argv[i + 1]));
			i += 2;
		} else if (op == 't' && i + 1 < argc) {
			int f = open(argv[i + 1], O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

			if (f < 0) {
				fprintf(stderr, "tf-qscript: create %s: %s\n", argv[i + 1], strerror(errno));
				return 1;
			}
			close(f);
			i += 2;
		} else if (op == 'g' && i + 1 < argc) {
			long waited = 0;

			/* a minute at most: a test that never says go has failed */
			while (access(argv[i + 1], F_OK) != 0) {
				if (waited++ >= 60000) {
					fprintf(stderr, "tf-qscript: no %s after 60 s\n", argv[i + 1]);
					return 1;
				}
				msleep(1);
			}
			i += 2;
		} else if (op == 'w' && q >= 0 && i + 2 < argc) {
			long k = atol(argv[i + 2]);
			int len = frame(buf, q);

			for (long j = 0; j < k; j++) {
				if (write(fds[q], buf, len) != len) {
					fprintf(stderr, "tf-qscript: write on fd %d: %s\n", q, strerror(errno));
					return 1;
				}
				wrote[q]++;
			}
			i += 3;
		} else if (op == 'r' && q >= 0 && i + 3 < argc) {
			long k = atol(argv[i + 2]), idle = atol(argv[i + 3]);
			struct pollfd p = { fds[q], POLLIN, 0 };

			while (got[q] < k && poll(&p, 1, idle) > 0)
				while (got[q] < k && read(fds[q], buf, sizeof(buf)) > 0)
					got[q]++;
			i += 4;
		} else if ((op == 'd' || op == 'a') && q >= 0) {
			struct ifreq ifr;

			memset(&ifr, 0, sizeof(ifr));
			ifr.ifr_flags = op == 'd' ? IFF_DETACH_QUEUE : IFF_ATTACH_QUEUE;
			if (ioctl(fds[q], TUNSETQUEUE, &ifr) < 0) {
				fprintf(stderr, "tf-qscript: %s fd %d: %s\n",
					op == 'd' ? "detach" : "attach", q, strerror(errno));
				return 1;
			}
			i += 2;
		} else {
			goto usage;
		}
	}
	printf("{\"fds\":[");
	for (i = 0; i < n; i++)
		printf("%s{\"fd\":%d,\"wrote\":%ld,\"read\":%ld}", i ? "," : "", i, wrote[i], got[i]);
	printf("]}\n");
	return 0;
usage:
	fprintf(stderr, "tf-qscript: bad step '%s'\n", argv[i]);
	return 2;
}
