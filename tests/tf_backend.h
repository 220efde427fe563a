/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What every test tool that plays a VM backend does the same way: attach a
 * queue of a tap (open /dev/net/tun, TUNSETIFF by name; with
 * IFF_MULTI_QUEUE each new fd becomes the next queue), and checksum the
 * IPv4 headers of the frames it writes. Each tool reports errors its own way.
 */
#ifndef TF_BACKEND_H
#define TF_BACKEND_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "tf_limits.h"

/*
 * Attach a queue of tap dev with IFF_TAP|IFF_NO_PI|flags: the fd, or -errno.
 * A single-queue tap (tapflow's default) refuses IFF_MULTI_QUEUE with
 * EINVAL; then the one queue is opened without it, as qemu without queues=
 * would.
 */
static inline int tf_backend_attach(const char *dev, int flags, bool nonblock)
{
	struct ifreq ifr;
	int fd, err;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | flags;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 && (errno != EINVAL || !(flags & IFF_MULTI_QUEUE) ||
		(ifr.ifr_flags &= ~IFF_MULTI_QUEUE, ioctl(fd, TUNSETIFF, &ifr) < 0))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The IPv4 header checksum of len bytes (the checksum field zeroed). */
static inline uint16_t tf_ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

#endif
