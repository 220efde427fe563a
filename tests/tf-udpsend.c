// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tf-udpsend: send UDP datagrams from a fixed source address and port, for
 * tests that need host -> tap packets of a known flow (tun's automatic
 * steering puts a flow on the queue that last wrote its reverse).
 *
 *	tf-udpsend SRC_IP SRC_PORT DST_IP DST_PORT COUNT [INTERVAL_US]
 *
 * Prints how many were sent; exit 1 on any send error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	long count, interval = 0, sent = 0;
	int one = 1, fd;
	char payload[18] = "tf-udpsend";

	if (argc < 6) {
		fprintf(stderr, "usage: tf-udpsend SRC_IP SRC_PORT DST_IP DST_PORT COUNT [INTERVAL_US]\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, argv[3], &dst.sin_addr) != 1) {
		fprintf(stderr, "tf-udpsend: bad IPv4 address\n");
		return 2;
	}
	src.sin_port = htons(atoi(argv[2]));
	dst.sin_port = htons(atoi(argv[4]));
	count = atol(argv[5]);
	if (argc > 6)
		interval = atol(argv[6]);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("tf-udpsend: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src))) {
		perror("tf-udpsend: bind");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		if (sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			fprintf(stderr, "tf-udpsend: sendto: %s\n", strerror(errno));
			return 1;
		}
		sent++;
		if (interval) {
			struct timespec ts = { interval / 1000000, (interval % 1000000) * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	printf("%ld\n", sent);
	return 0;
}
