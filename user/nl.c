// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rtnetlink helper (see nl.h). One socket per caller, one request in flight:
 * tapflow's link operations are rare and short, so simplicity wins over
 * batching. Extended ACKs are switched on so that a refusal carries the
 * kernel's own reason ("MTU is too large", ...) into the one-line error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nl.h"
#include "tapflow.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/*
 * Dump replies are batched by the kernel into skbs of up to 32 KiB (it grows
 * its allocation up to that when the reader keeps up); a larger buffer
 * guarantees that recv() never truncates one.
 */
#define RECV_BUFSZ (64 * 1024)

int tf_nl_open(struct tf_nl *nl)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t slen = sizeof(sa);
	int one = 1;

	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return tf_err(-errno, "netlink socket: %s", strerror(errno));
	/* Best effort: old kernels just have no extended ACK text. */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(nl->fd, (struct sockaddr *)&sa, &slen)) {
		int err = -errno;

		close(nl->fd);
		nl->fd = -1;
		return tf_err(err, "netlink bind: %s", strerror(-err));
	}
	nl->pid = sa.nl_pid;
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void tf_nl_close(struct tf_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

void *tf_nl_req_init(struct tf_nl_req *r, uint16_t type, uint16_t flags, size_t hdrlen)
{
	memset(r->buf, 0, NLMSG_SPACE(hdrlen));
	r->n.nlmsg_len = NLMSG_LENGTH(hdrlen);
	r->n.nlmsg_type = type;
	r->n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return NLMSG_DATA(&r->n);
}

int tf_nl_link_events(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int buf = 4 << 20, fd, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* RCVBUFFORCE beyond rmem_max as root; the plain one otherwise */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int tf_nl_put(struct tf_nl_req *r, uint16_t type, const void *data, size_t len)
{
	size_t at = NLMSG_ALIGN(r->n.nlmsg_len);
	/*
	 * From r itself, not r->buf: under -fsanitize=address gcc tracks the
	 * pointer as one into the union's header member and warns that the
	 * attribute overflows it (-Wstringop-overflow).
	 */
	struct rtattr *a = (struct rtattr *)((char *)r + at);

	if (at + RTA_SPACE(len) > sizeof(r->buf))
		return tf_err(-EMSGSIZE, "netlink request too large");
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->n.nlmsg_len = at + RTA_ALIGN(a->rta_len);
	return 0;
}

int tf_nl_put_str(struct tf_nl_req *r, uint16_t type, const char *s)
{
	return tf_nl_put(r, type, s, strlen(s) + 1);
}

int tf_nl_put_u32(struct tf_nl_req *r, uint16_t type, uint32_t v)
{
	return tf_nl_put(r, type, &v, sizeof(v));
}

struct rtattr *tf_nl_nest_start(struct tf_nl_req *r, uint16_t type)
{
	struct rtattr *nest = (struct rtattr *)(r->buf + NLMSG_ALIGN(r->n.nlmsg_len));

	if (tf_nl_put(r, type | NLA_F_NESTED, NULL, 0))
		return NULL;
	return nest;
}

void tf_nl_nest_end(struct tf_nl_req *r, struct rtattr *nest)
{
	nest->rta_len = (char *)&r->n + r->n.nlmsg_len - (char *)nest;
}

void tf_nl_parse(struct rtattr *tb[], int max, const struct rtattr *rta, size_t len)
{
	unsigned int l = len;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	for (; RTA_OK(rta, l); rta = RTA_NEXT(rta, l)) {
		int type = rta->rta_type & NLA_TYPE_MASK;

		if (type <= max && !tb[type])
			tb[type] = (struct rtattr *)rta;
	}
}

uint8_t tf_nl_u8(const struct rtattr *a, uint8_t def)
{
	if (!a)
		return def;
	return RTA_PAYLOAD(a) >= 1 ? *(const uint8_t *)RTA_DATA(a) : 0;
}

uint32_t tf_nl_u32(const struct rtattr *a, uint32_t def)
{
	uint32_t v = 0;

	if (!a)
		return def;
	if (RTA_PAYLOAD(a) >= sizeof(v))
		memcpy(&v, RTA_DATA(a), sizeof(v));
	return v;
}

void tf_nl_str(const struct rtattr *a, char *buf, size_t len)
{
	size_t n = RTA_PAYLOAD(a);

	if (!len)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(buf, RTA_DATA(a), n);
	buf[n] = '\0';
	buf[strnlen(buf, n)] = '\0';
}

/* The kernel's reason for an error, from the extended ACK, if it sent one. */
static const char *ext_ack_msg(const struct nlmsghdr *n)
{
	const struct nlmsgerr *e = NLMSG_DATA(n);
	size_t off = sizeof(*e);
	struct rtattr *tb[NLMSGERR_ATTR_MAX + 1];

	if (!(n->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	/* NETLINK_CAP_ACK: only the header of our request is echoed. */
	if (!(n->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (NLMSG_LENGTH(off) > n->nlmsg_len)
		return NULL;
	tf_nl_parse(tb, NLMSGERR_ATTR_MAX, (const struct rtattr *)((const char *)e + off),
		    n->nlmsg_len - NLMSG_LENGTH(off));
	if (!tb[NLMSGERR_ATTR_MSG] || RTA_PAYLOAD(tb[NLMSGERR_ATTR_MSG]) < 2)
		return NULL;
	return RTA_DATA(tb[NLMSGERR_ATTR_MSG]);
}

int tf_nl_talk(struct tf_nl *nl, struct tf_nl_req *r, tf_nl_cb cb, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t seq = ++nl->seq;
	int ret = 0;
	char *buf;

	r->n.nlmsg_seq = seq;
	r->n.nlmsg_pid = nl->pid;
	if (sendto(nl->fd, r->buf, r->n.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return tf_err(-errno, "netlink send: %s", strerror(errno));

	buf = malloc(RECV_BUFSZ);
	if (!buf)
		return tf_err(-ENOMEM, "out of memory");
	for (;;) {
		ssize_t len = recv(nl->fd, buf, RECV_BUFSZ, 0);
		struct nlmsghdr *n;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			ret = tf_err(-errno, "netlink receive: %s", strerror(errno));
			goto out;
		}
		for (n = (struct nlmsghdr *)buf; NLMSG_OK(n, (size_t)len);
		     n = NLMSG_NEXT(n, len)) {
			if (n->nlmsg_seq != seq || n->nlmsg_pid != nl->pid)
				continue;	/* a stale reply to an earlier request */
			if (n->nlmsg_type == NLMSG_DONE) {
				int derr = 0;

				/* A dump that failed midway says so in NLMSG_DONE. */
				if (n->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					memcpy(&derr, NLMSG_DATA(n), sizeof(int));
				if (derr < 0 && !ret)
					ret = tf_err(derr, "netlink dump: %s", strerror(-derr));
				goto out;
			}
			if (n->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(n);
				const char *why;

				if (!e->error)
					goto out;	/* the ACK: done */
				why = ext_ack_msg(n);
				/* A dump that a callback stopped keeps its own error. */
				if (!ret)
					ret = tf_err(e->error, "%s", why ? why : strerror(-e->error));
				goto out;
			}
			if (cb && !ret)
				ret = cb(n, arg);
			/* On a callback error, keep reading to the end to drain the socket. */
		}
	}
out:
	free(buf);
	return ret;
}
