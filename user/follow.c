// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Following taps (include/tf_follow.h): one NETLINK_ROUTE socket per
 * followed network namespace, subscribed to link events, in one epoll set.
 * A new tun/tap device whose name matches is traced (tf_trace_start() from
 * inside its namespace, entered with setns on this thread only); a deleted
 * one is released by ifindex. At start, and after an event overrun, a dump
 * of the namespace's links takes the place of the events missed.
 *
 *   RTM_NEWLINK (kind "tun", name matches, not seen) -> tf_trace_start
 *   RTM_DELLINK (seen)                              -> tf_trace_release
 *   tick: /run/netns + /proc/PID/ns/net -> new namespaces get a socket;
 *         namespaces gone get theirs closed (a socket holds its netns)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "tapflow.h"
#include "log.h"
#include "nl.h"

#define RCVBUF		(4 << 20)	/* a burst of thousands of new taps */
#define BATCH_MAX	256		/* names per tf_trace_start() */

struct fns {
	uint32_t ino;
	int sock;
	char path[300];			/* how to enter it again */
	bool local, seen;
	uint32_t dump_seq;
	char (*pending)[16];		/* names to trace after this round */
	size_t npending, cappending;
};

struct ftap {
	uint32_t ns, ifindex;
};

struct tf_follow {
	char **globs;
	size_t nglobs;
	bool all_netns;
	int backend_req;
	int self_fd;			/* our own namespace, to come back to */
	uint32_t self_ns;
	int epfd;
	struct fns *ns;
	size_t nns, capns;
	struct ftap *taps;		/* decided: traced (or refused) once */
	size_t ntaps, captaps;
	struct tf_follow_stats st;
	char grow_err[256];		/* the last growing error, said once */
};

bool tf_follow_match(const char *const *globs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!fnmatch(globs[i], name, 0))
			return true;
	return false;
}

static struct ftap *tap_find(struct tf_follow *f, uint32_t ns, uint32_t ifindex)
{
	for (size_t i = 0; i < f->ntaps; i++)
		if (f->taps[i].ns == ns && f->taps[i].ifindex == ifindex)
			return &f->taps[i];
	return NULL;
}

/*
 * Room for one more in array V of N elements of SZ bytes and capacity *CAP,
 * doubled when full (FIRST when empty): the array to use, or NULL (V and *CAP
 * untouched) when memory ran out.
 */
static void *grow(void *v, size_t n, size_t *cap, size_t sz, size_t first)
{
	size_t c = *cap ? 2 * *cap : first;

	if (n < *cap)
		return v;
	v = realloc(v, c * sz);
	if (v)
		*cap = c;
	return v;
}

static int tap_add(struct tf_follow *f, uint32_t ns, uint32_t ifindex)
{
	struct ftap *t = grow(f->taps, f->ntaps, &f->captaps, sizeof(*t), 64);

	if (!t)
		return tf_err(-ENOMEM, "out of memory");
	f->taps = t;
	f->taps[f->ntaps++] = (struct ftap){ ns, ifindex };
	return 0;
}

static void taps_drop_ns(struct tf_follow *f, uint32_t ns)
{
	for (size_t i = 0; i < f->ntaps;)
		if (f->taps[i].ns == ns)
			f->taps[i] = f->taps[--f->ntaps];
		else
			i++;
}

/* Enter the namespace (this thread only); leave() comes back. */
static int enter(struct tf_follow *f, struct fns *n)
{
	struct stat st;
	int fd;

	(void)f;
	if (n->local)
		return 0;
	fd = open(n->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (uint32_t)st.st_ino != n->ino) {
		close(fd);
		return -ESTALE;		/* the path names another namespace now */
	}
	if (setns(fd, CLONE_NEWNET)) {
		int err = -errno;

		close(fd);
		return tf_err(err, "cannot enter network namespace %u: %s", n->ino, strerror(-err));
	}
	close(fd);
	return 0;
}

static void leave(struct tf_follow *f, struct fns *n)
{
	if (!n->local && setns(f->self_fd, CLONE_NEWNET))
		pr_warn("follow: cannot return to the exporter's network namespace: %s", strerror(errno));
}

static int request_dump(struct fns *n)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = ++n->dump_seq },
		.i = { .ifi_family = AF_UNSPEC },
	};

	if (send(n->sock, &req, sizeof(req), 0) < 0)
		return tf_err(-errno, "follow: link dump request: %s", strerror(errno));
	return 0;
}

/* A socket inside the namespace, subscribed to link events, then a dump. */
static int ns_open(struct tf_follow *f, uint32_t ino, const char *path, bool local)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	struct epoll_event ev = { .events = EPOLLIN };
	int buf = RCVBUF, err;
	struct fns *n;

	n = grow(f->ns, f->nns, &f->capns, sizeof(*n), 8);
	if (!n)
		return tf_err(-ENOMEM, "out of memory");
	f->ns = n;
	n = &f->ns[f->nns];
	memset(n, 0, sizeof(*n));
	n->ino = ino;
	n->local = local;
	n->sock = -1;
	snprintf(n->path, sizeof(n->path), "%s", path);
	err = enter(f, n);
	if (err)
		return err;
	n->sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	err = n->sock < 0 ? -errno : 0;
	leave(f, n);
	if (err)
		return tf_err(err, "follow: netlink socket in namespace %u: %s", ino, strerror(-err));
	/* RCVBUFFORCE beyond rmem_max as root; the plain one otherwise */
	if (setsockopt(n->sock, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(n->sock, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (bind(n->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		err = tf_err(-errno, "follow: netlink bind in namespace %u: %s", ino, strerror(errno));
		close(n->sock);
		return err;
	}
	ev.data.u32 = ino;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, n->sock, &ev)) {
		err = tf_err(-errno, "follow: epoll: %s", strerror(errno));
		close(n->sock);
		return err;
	}
	f->nns++;
	pr_debug("follow: network namespace %u (%s)", ino, local ? "own" : path);
	return request_dump(n);
}

static void ns_close(struct tf_follow *f, size_t i)
{
	struct fns *n = &f->ns[i];

	pr_debug("follow: network namespace %u is gone", n->ino);
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, n->sock, NULL);
	close(n->sock);
	free(n->pending);
	taps_drop_ns(f, n->ino);
	f->ns[i] = f->ns[--f->nns];
}

static struct fns *ns_find(struct tf_follow *f, uint32_t ino)
{
	for (size_t i = 0; i < f->nns; i++)
		if (f->ns[i].ino == ino)
			return &f->ns[i];
	return NULL;
}

static int pend(struct fns *n, const char *name)
{
	if (n->npending == n->cappending) {
		size_t cap = n->cappending ? 2 * n->cappending : 16;
		char (*v)[16] = realloc(n->pending, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		n->pending = v;
		n->cappending = cap;
	}
	snprintf(n->pending[n->npending++], 16, "%s", name);
	return 0;
}

/* Trace what this namespace's round found, in batches; one by one if a batch fails. */
static void flush(struct tf_follow *f, struct fns *n)
{
	const char *names[BATCH_MAX];

	if (!n->npending)
		return;
	if (enter(f, n)) {
		n->npending = 0;
		return;
	}
	for (size_t i = 0; i < n->npending; i += BATCH_MAX) {
		size_t k = n->npending - i < BATCH_MAX ? n->npending - i : BATCH_MAX;

		for (size_t j = 0; j < k; j++)
			names[j] = n->pending[i + j];
		if (!tf_trace_start(names, (int)k, f->backend_req, NULL)) {
			f->st.traced += k;
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			if (!tf_trace_start(&names[j], 1, f->backend_req, NULL)) {
				f->st.traced++;
			} else if (!tf_ifindex(names[j], &(int){ 0 })) {
				/* still there and refused: say so once; it is not retried */
				f->st.failed++;
				pr_warn("tapflow export: cannot trace %s: %s\n", names[j], tf_errmsg());
			}
		}
	}
	leave(f, n);
	n->npending = 0;
}

static void on_link(struct tf_follow *f, struct fns *n, const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct rtattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1];
	char name[16] = "", kind[16] = "";
	struct ftap *t;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	tf_nl_parse(tb, IFLA_MAX, IFLA_RTA(ifi), h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	t = tap_find(f, n->ino, ifi->ifi_index);
	if (h->nlmsg_type == RTM_DELLINK) {
		if (!t)
			return;
		*t = f->taps[--f->ntaps];
		if (!enter(f, n)) {
			if (!tf_trace_release(ifi->ifi_index))
				f->st.released++;
			leave(f, n);
		}
		return;
	}
	if (t || !tb[IFLA_IFNAME] || !tb[IFLA_LINKINFO])
		return;
	tf_nl_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO]);
	if (!li[IFLA_INFO_KIND])
		return;
	tf_nl_str(li[IFLA_INFO_KIND], kind, sizeof(kind));
	tf_nl_str(tb[IFLA_IFNAME], name, sizeof(name));
	if (strcmp(kind, "tun") || !tf_follow_match((const char *const *)f->globs, f->nglobs, name))
		return;
	if (tap_add(f, n->ino, ifi->ifi_index) || pend(n, name))
		pr_warn("tapflow export: out of memory following %s\n", name);
}

static void ns_read(struct tf_follow *f, struct fns *n)
{
	static char buf[64 * 1024];
	ssize_t len;

	for (;;) {
		len = recv(n->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0 && errno == ENOBUFS) {
			/* events were lost: a dump tells what exists now */
			pr_info("follow: link events overran in namespace %u; re-reading its links", n->ino);
			request_dump(n);
			continue;
		}
		if (len <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len))
			if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
				on_link(f, n, h);
	}
	flush(f, n);
}

int tf_follow_handle(struct tf_follow *f)
{
	struct epoll_event ev[16];
	int k;

	while ((k = epoll_wait(f->epfd, ev, 16, 0)) > 0) {
		for (int i = 0; i < k; i++) {
			struct fns *n = ns_find(f, ev[i].data.u32);

			if (n)
				ns_read(f, n);
		}
		if (k < 16)
			break;
	}
	return 0;
}

/* Every namespace on the host, by inode, with a path to enter it. */
static void scan(struct tf_follow *f, bool *changed)
{
	static const char *const dirs[] = { "/run/netns", "/proc" };
	char path[300];
	struct dirent *de;
	struct stat st;

	for (size_t i = 0; i < f->nns; i++)
		f->ns[i].seen = f->ns[i].local;
	for (size_t d = 0; d < 2; d++) {
		DIR *dir = opendir(dirs[d]);

		if (!dir)
			continue;
		while ((de = readdir(dir))) {
			struct fns *n;

			if (de->d_name[0] == '.' || (d && (de->d_name[0] < '0' || de->d_name[0] > '9')))
				continue;
			snprintf(path, sizeof(path), "%s/%s%s", dirs[d], de->d_name, d ? "/ns/net" : "");
			if (stat(path, &st))
				continue;
			n = ns_find(f, (uint32_t)st.st_ino);
			if (n) {
				n->seen = true;
				continue;
			}
			if (!ns_open(f, (uint32_t)st.st_ino, path, false)) {
				f->ns[f->nns - 1].seen = true;
				*changed = true;
			}
		}
		closedir(dir);
	}
	for (size_t i = 0; i < f->nns;) {
		if (f->ns[i].seen) {
			i++;
			continue;
		}
		ns_close(f, i);
		/* its taps went with it: their slots go back, they leave the export */
		if (tf_trace_reclaim())
			pr_warn("tapflow export: %s\n", tf_errmsg());
		else
			f->st.released++;
		*changed = true;
	}
}

int tf_follow_tick(struct tf_follow *f)
{
	bool changed = false;

	if (f->all_netns)
		scan(f, &changed);
	if (changed)
		tf_follow_handle(f);	/* the new namespaces' dumps */
	/*
	 * A backend that attached more queues than the tap had when it was
	 * traced: those queues count in tracing's extra table until they get
	 * rows of their own (tf_trace_grow_all, cheap when none is due).
	 */
	if (tf_trace_grow_all()) {
		if (strncmp(f->grow_err, tf_errmsg(), sizeof(f->grow_err) - 1))
			pr_info("follow: %s", tf_errmsg());	/* once, not every second */
		snprintf(f->grow_err, sizeof(f->grow_err), "%s", tf_errmsg());
	} else {
		f->grow_err[0] = '\0';
	}
	return 0;
}

int tf_follow_new(const struct tf_follow_opts *o, struct tf_follow **out)
{
	struct tf_follow *f;
	int err;

	*out = NULL;
	if (!o->nglobs)
		return tf_err(-EINVAL, "follow: no pattern given");
	err = tf_require_bpf_caps(TF_CAP_PERFMON, "tracing the taps it follows");
	if (!err && o->all_netns)
		err = tf_require_cap(TF_CAP_SYS_ADMIN, "entering other network namespaces (--all-netns)");
	if (err)
		return err;
	f = calloc(1, sizeof(*f));
	if (!f)
		return tf_err(-ENOMEM, "out of memory");
	f->epfd = -1;
	f->self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->globs = calloc(o->nglobs, sizeof(char *));
	if (f->self_fd < 0 || f->epfd < 0 || !f->globs) {
		err = tf_err(-errno ? -errno : -ENOMEM, "follow: %s", strerror(errno ? errno : ENOMEM));
		goto fail;
	}
	for (size_t i = 0; i < o->nglobs; i++)
		if (!(f->globs[f->nglobs++] = strdup(o->globs[i]))) {
			err = tf_err(-ENOMEM, "out of memory");
			goto fail;
		}
	f->all_netns = o->all_netns;
	f->backend_req = o->backend_req;
	err = tf_netns_self(&f->self_ns);
	if (!err)
		err = ns_open(f, f->self_ns, "/proc/thread-self/ns/net", true);
	if (err)
		goto fail;
	tf_follow_tick(f);
	tf_follow_handle(f);	/* the dumps: taps that exist already */
	*out = f;
	return 0;
fail:
	tf_follow_free(f);
	return err;
}

void tf_follow_free(struct tf_follow *f)
{
	if (!f)
		return;
	while (f->nns)
		ns_close(f, f->nns - 1);
	free(f->ns);
	free(f->taps);
	for (size_t i = 0; i < f->nglobs; i++)
		free(f->globs[i]);
	free(f->globs);
	if (f->epfd >= 0)
		close(f->epfd);
	if (f->self_fd >= 0)
		close(f->self_fd);
	free(f);
}

int tf_follow_fd(const struct tf_follow *f)
{
	return f->epfd;
}

void tf_follow_stats(const struct tf_follow *f, struct tf_follow_stats *s)
{
	*s = f->st;
	s->netns = f->nns;
}
