/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small rtnetlink helper: just enough of NETLINK_ROUTE to ask for links,
 * change them and delete them, without pulling in libmnl or libnl. A message
 * is built in a fixed buffer (links and their attributes are small), sent,
 * and every reply is handed to a callback; kernel errors come back as a
 * negative errno with the extended-ack text, when there is one, in tf_err().
 */
#ifndef TF_NL_H
#define TF_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#define TF_NL_BUFSZ 4096

struct tf_nl {
	int fd;
	uint32_t seq;
	uint32_t pid;
};

/* A request under construction. */
struct tf_nl_req {
	union {
		struct nlmsghdr n;
		char buf[TF_NL_BUFSZ];
	};
};

int tf_nl_open(struct tf_nl *nl);
/*
 * A non-blocking socket of the calling thread's network namespace,
 * subscribed to link events (RTMGRP_LINK), its receive buffer room for a
 * burst of thousands of taps: the fd, or -errno (the caller names what).
 */
int tf_nl_link_events(void);
void tf_nl_close(struct tf_nl *nl);

/* Start a request; returns the family header (e.g. struct ifinfomsg) to fill. */
void *tf_nl_req_init(struct tf_nl_req *r, uint16_t type, uint16_t flags,
		     size_t hdrlen);
int tf_nl_put(struct tf_nl_req *r, uint16_t type, const void *data, size_t len);
int tf_nl_put_str(struct tf_nl_req *r, uint16_t type, const char *s);
int tf_nl_put_u32(struct tf_nl_req *r, uint16_t type, uint32_t v);
/* Nested attributes: start returns the nest to hand to end. */
struct rtattr *tf_nl_nest_start(struct tf_nl_req *r, uint16_t type);
void tf_nl_nest_end(struct tf_nl_req *r, struct rtattr *nest);

/*
 * Send r and read replies until the ACK (or NLMSG_DONE for a dump), calling
 * cb for every data message. cb returns 0 to go on or a negative errno to
 * stop; that value is then returned. Requests always ask for an ACK, so a
 * change that the kernel refused is never mistaken for success.
 */
typedef int (*tf_nl_cb)(const struct nlmsghdr *n, void *arg);
int tf_nl_talk(struct tf_nl *nl, struct tf_nl_req *r, tf_nl_cb cb, void *arg);

/* Index attributes by type: tb[0..max] (NULL when absent). */
void tf_nl_parse(struct rtattr *tb[], int max, const struct rtattr *rta, size_t len);
static inline void tf_nl_parse_nested(struct rtattr *tb[], int max, const struct rtattr *nest)
{
	tf_nl_parse(tb, max, (const struct rtattr *)RTA_DATA(nest), RTA_PAYLOAD(nest));
}

/*
 * An attribute's value, or def when it is absent (a NULL from tf_nl_parse):
 * the kernel leaves out what is unset, so every read names its default.
 */
uint8_t tf_nl_u8(const struct rtattr *a, uint8_t def);
uint32_t tf_nl_u32(const struct rtattr *a, uint32_t def);
/* Copy a string attribute into buf (always terminated). */
void tf_nl_str(const struct rtattr *a, char *buf, size_t len);

/*
 * A link message (RTM_NEWLINK, a dump's or an event's) read as tf_tap_get()
 * reads a tap (tap.c): 1 when it is a tun/tap, 0 for anything else.
 */
struct tf_tap_info;
int tf_tap_from_nlmsg(const struct nlmsghdr *n, struct tf_tap_info *info);

#endif
