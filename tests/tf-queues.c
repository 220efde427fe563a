// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-queues: attach to a tap's queues the way a VM backend does, for the
 * integration tests. It opens N queues (TUNSETIFF with IFF_MULTI_QUEUE on N
 * fds), optionally detaches the first K with TUNSETQUEUE(IFF_DETACH_QUEUE)
 * and attaches them again with IFF_ATTACH_QUEUE, checking TUNGETIFF on every
 * fd after each step. After each phase it prints one JSON line and holds
 * the queues for --hold-ms, or until SIGUSR1, so that a test can look at the
 * tap (tapflow show --json) while it is in that state.
 *
 *	tf-queues NAME N [--detach K] [--hold-ms MS] [--vnet-hdr]
 *
 * Exit 0 when every step worked, 1 on the first that did not (its JSON line
 * carries "error"), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "tf_backend.h"

static volatile sig_atomic_t wakeups;
/* the queue fds, held until exit (a global: LSan sees it still reachable) */
static int *fds;
static int consumed;

static void on_usr1(int sig)
{
	(void)sig;
	wakeups++;
}

/* Hold for ms, or until a SIGUSR1 that no earlier phase used up. */
static void hold(long ms)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };

	for (long waited = 0; waited < ms; waited += 10) {
		if (wakeups > consumed)
			break;
		nanosleep(&step, NULL);
	}
	if (wakeups > consumed)
		consumed++;
}

static int tun_flags(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	return (unsigned short)ifr.ifr_flags;
}

static void report(const char *phase, int n, int opened, int detached, int attached_fds,
		   const char *err)
{
	printf("{\"phase\":\"%s\",\"queues\":%d,\"opened\":%d,\"detached\":%d,"
	       "\"attached\":%d", phase, n, opened, detached, attached_fds);
	if (err)
		printf(",\"error\":\"%s\"", err);
	printf("}\n");
	fflush(stdout);
}

/* Count fds whose TUNGETIFF says attached (no IFF_DETACH_QUEUE), multiqueue tap. */
static int count_attached(const int *fds, int n, char *err, size_t len)
{
	int attached = 0;

	for (int i = 0; i < n; i++) {
		int f = tun_flags(fds[i]);

		if (f < 0) {
			snprintf(err, len, "TUNGETIFF on queue %d: %s", i, strerror(-f));
			return -1;
		}
		/* one queue may be a single-queue tap (tapflow's default) */
		if (!(f & IFF_TAP) || (!(f & IFF_MULTI_QUEUE) && n > 1)) {
			snprintf(err, len, "queue %d: flags 0x%x lack IFF_TAP|IFF_MULTI_QUEUE", i, f);
			return -1;
		}
		if (!(f & IFF_DETACH_QUEUE))
			attached++;
	}
	return attached;
}

int main(int argc, char **argv)
{
	long hold_ms = 0;
	int n, k = 0, opened = 0, att;
	bool vnet_hdr = false;
	struct sigaction sa;
	const char *name;
	char err[256];

	if (argc < 3) {
		fprintf(stderr, "usage: tf-queues NAME N [--detach K] [--hold-ms MS] [--vnet-hdr]\n");
		return 2;
	}
	name = argv[1];
	n = atoi(argv[2]);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--detach") && i + 1 < argc)
			k = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--hold-ms") && i + 1 < argc)
			hold_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--vnet-hdr"))
			vnet_hdr = true;
		else {
			fprintf(stderr, "tf-queues: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (n < 1 || n > 256 || k < 0 || k > n || strlen(name) >= IFNAMSIZ) {
		fprintf(stderr, "tf-queues: bad NAME, N or K\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	fds = calloc(n, sizeof(*fds));
	if (!fds)
		return 1;

	/* Phase 1: every queue attaches, as qemu's queues=N does. */
	for (; opened < n; opened++) {
		int fd = tf_backend_attach(name, IFF_MULTI_QUEUE | (vnet_hdr ? IFF_VNET_HDR : 0), false);

		if (fd < 0) {
			snprintf(err, sizeof(err), "attaching queue %d: %s", opened, strerror(-fd));
			goto fail_open;
		}
		fds[opened] = fd;
	}
	att = count_attached(fds, n, err, sizeof(err));
	if (att < 0 || att != n) {
		if (att >= 0)
			snprintf(err, sizeof(err), "%d of %d queues attached after open", att, n);
		report("open", n, opened, 0, att, err);
		return 1;
	}
	report("open", n, opened, 0, att, NULL);
	hold(hold_ms);
	if (!k)
		return 0;

	/* Phase 2: the first K queues leave (a guest shrinking its queue set). */
	for (int i = 0; i < k; i++) {
		struct ifreq ifr = { .ifr_flags = IFF_DETACH_QUEUE };

		if (ioctl(fds[i], TUNSETQUEUE, &ifr) < 0) {
			snprintf(err, sizeof(err), "TUNSETQUEUE detach queue %d: %s", i, strerror(errno));
			report("detached", n, opened, i, -1, err);
			return 1;
		}
	}
	att = count_attached(fds, n, err, sizeof(err));
	if (att < 0 || att != n - k) {
		if (att >= 0)
			snprintf(err, sizeof(err), "%d queues attached after detaching %d of %d", att, k, n);
		report("detached", n, opened, k, att, err);
		return 1;
	}
	report("detached", n, opened, k, att, NULL);
	hold(hold_ms);

	/* Phase 3: and come back. */
	for (int i = 0; i < k; i++) {
		struct ifreq ifr = { .ifr_flags = IFF_ATTACH_QUEUE };

		if (ioctl(fds[i], TUNSETQUEUE, &ifr) < 0) {
			snprintf(err, sizeof(err), "TUNSETQUEUE attach queue %d: %s", i, strerror(errno));
			report("attached", n, opened, k - i, -1, err);
			return 1;
		}
	}
	att = count_attached(fds, n, err, sizeof(err));
	if (att < 0 || att != n) {
		if (att >= 0)
			snprintf(err, sizeof(err), "%d of %d queues attached after re-attach", att, n);
		report("attached", n, opened, 0, att, err);
		return 1;
	}
	report("attached", n, opened, 0, att, NULL);
	hold(hold_ms);
	return 0;

fail_open:
	report("open", n, opened, 0, opened, err);
	return 1;
}
