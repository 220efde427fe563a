/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the test tools that take many options (tf-load, tf-vhost) do alike
 * as command-line programs: their two error exits, each a line on stderr
 * that starts with the tool's name (bad_option: exit 2, sys_fail: a system
 * call failed, exit 1), the option values they parse the same way (a number
 * in a range, a MAC address, an IPv4 address), a monotonic clock in ns and
 * the big-endian store of frame headers. A tool defines TF_TOOL, its name,
 * before including this.
 */
#ifndef TF_TOOL_H
#define TF_TOOL_H

#ifndef TF_TOOL
#error "define TF_TOOL, the tool's name for its messages, before including tf_tool.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC		1000000000ULL

static void __attribute__((noreturn, format(printf, 1, 2))) bad_option(const char *fmt, ...)
{
	va_list ap;

	fputs(TF_TOOL ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void __attribute__((noreturn, format(printf, 2, 3))) sys_fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs(TF_TOOL ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err));
	exit(1);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* Option opt's value s, a decimal number in [min, max]. */
static inline uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		bad_option("%s: '%s' is not a number", opt, s);
	v = strtoull(s, &end, 10);
	if (errno || *end)
		bad_option("%s: '%s' is not a number", opt, s);
	if (v < min || v > max)
		bad_option("%s: %llu is out of range %" PRIu64 "..%" PRIu64, opt, v, min, max);
	return v;
}

static inline void parse_mac(const char *opt, const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		bad_option("%s: '%s' is not a MAC address like 02:00:00:00:00:01", opt, s);
	for (int i = 0; i < 6; i++)
		mac[i] = b[i];
}

static inline void parse_ip(const char *opt, const char *s, struct in_addr *ip)
{
	if (inet_pton(AF_INET, s, ip) != 1)
		bad_option("%s: '%s' is not an IPv4 address", opt, s);
}

/* A header field in network byte order, at any alignment. */
static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

#endif
