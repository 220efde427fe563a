// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Following taps (include/tf_follow.h): one NETLINK_ROUTE socket per
 * followed network namespace, subscribed to link events, in one epoll set.
 * A new tun/tap device whose name matches is traced (from inside its
 * namespace, entered with setns on this thread only); a deleted one is
 * released by ifindex. At start, and after an event overrun, a dump of the
 * namespace's links takes the place of the events missed.
 *
 *   RTM_NEWLINK (kind "tun", name matches, not seen) -> fresh
 *   fresh: one read of the pinned state decides them all (tf_trace_untraced):
 *          traced with the rows it needs -> decided, no work;
 *          else -> backlog (an event's at the front, a dump's at the back)
 *   backlog -> tf_trace_start_each, one call for many taps, which yields
 *          between taps when a link event waits (or after a slice of time),
 *          so a new tap waits for one tap's start, not for a dump's
 *   RTM_DELLINK (seen)                              -> tf_trace_release
 *   tick: /run/netns + /proc/PID/ns/net -> new namespaces get a socket;
 *         namespaces gone get theirs closed (a socket holds its netns)
 *
 * Every tap seen is in a hash by (netns, ifindex): a link event costs one
 * lookup however many taps are followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "tapflow.h"
#include "log.h"
#include "nl.h"

#define SLICE_NS	(200 * 1000000ull)	/* of starts before the loop looks up */

/* A tap seen: decided (traced, refused or stopped since) or waiting in the backlog. */
enum { FT_FREE, FT_DECIDED, FT_PENDING, FT_GONE };

struct ftap {
	uint32_t ns, ifindex;
	uint8_t state;
	char name[16];			/* a pending tap's name now (renames follow) */
};

struct fns {
	uint32_t ino;
	int sock;
	char path[300];			/* how to enter it again */
	bool local, seen, dumping;
	uint32_t dump_seq;
	struct tf_tap_info *fresh;	/* seen in this read, to be decided */
	bool *fresh_ev;			/* ... from an event (else the dump) */
	size_t nfresh, capfresh;
	uint32_t *backlog;		/* ifindexes to start, the front first */
	size_t nback, capback;
};

struct tf_follow {
	char **globs;
	size_t nglobs;
	bool all_netns;
	int backend_req;
	int self_fd;			/* our own namespace, to come back to */
	uint32_t self_ns;
	int epfd;			/* what the caller polls: sockfd and evfd */
	int sockfd;			/* epoll of the netlink sockets alone */
	int evfd;			/* readable while a backlog waits */
	bool ev_set;
	struct fns *ns;
	size_t nns, capns;
	struct ftap *taps;		/* open addressing, capacity a power of 2 */
	size_t ntaps, nused, captaps;	/* live; live + gone; slots */
	uint64_t slice_end;
	unsigned long call_failed;	/* taps the start in progress could not trace */
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

static size_t tap_hash(uint32_t ns, uint32_t ifindex, size_t cap)
{
	uint64_t h = ((uint64_t)ns << 32 | ifindex) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (cap - 1);
}

static struct ftap *tap_find(struct tf_follow *f, uint32_t ns, uint32_t ifindex)
{
	if (!f->captaps)
		return NULL;
	for (size_t i = tap_hash(ns, ifindex, f->captaps);; i = (i + 1) & (f->captaps - 1)) {
		struct ftap *t = &f->taps[i];

		if (t->state == FT_FREE)
			return NULL;
		if (t->state != FT_GONE && t->ns == ns && t->ifindex == ifindex)
			return t;
	}
}

/* Rehash into cap slots (gone entries dropped); false when memory ran out. */
static bool taps_rehash(struct tf_follow *f, size_t cap)
{
	struct ftap *old = f->taps, *v = calloc(cap, sizeof(*v));
	size_t oldcap = f->captaps;

	if (!v)
		return false;
	f->taps = v;
	f->captaps = cap;
	f->nused = f->ntaps;
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;

		if (old[i].state == FT_FREE || old[i].state == FT_GONE)
			continue;
		for (j = tap_hash(old[i].ns, old[i].ifindex, cap); v[j].state != FT_FREE;
		     j = (j + 1) & (cap - 1))
			;
		v[j] = old[i];
	}
	free(old);
	return true;
}

static struct ftap *tap_add(struct tf_follow *f, uint32_t ns, uint32_t ifindex, const char *name)
{
	size_t i;

	/* at most half full, gone entries counted: a lookup stays a probe or two */
	if (2 * (f->nused + 1) > f->captaps) {
		size_t cap = 64;

		while (cap < 4 * (f->ntaps + 1))
			cap <<= 1;
		if (!taps_rehash(f, cap))
			return NULL;
	}
	for (i = tap_hash(ns, ifindex, f->captaps); f->taps[i].state != FT_FREE;
	     i = (i + 1) & (f->captaps - 1))
		;
	f->taps[i] = (struct ftap){ .ns = ns, .ifindex = ifindex, .state = FT_PENDING };
	snprintf(f->taps[i].name, sizeof(f->taps[i].name), "%s", name);
	f->ntaps++;
	f->nused++;
	return &f->taps[i];
}

static void tap_del(struct tf_follow *f, struct ftap *t)
{
	t->state = FT_GONE;
	f->ntaps--;
}

static void taps_drop_ns(struct tf_follow *f, uint32_t ns)
{
	for (size_t i = 0; i < f->captaps; i++)
		if (f->taps[i].state != FT_FREE && f->taps[i].state != FT_GONE && f->taps[i].ns == ns)
			tap_del(f, &f->taps[i]);
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
	n->dumping = true;
	return 0;
}

/* A socket inside the namespace, subscribed to link events, then a dump. */
static int ns_open(struct tf_follow *f, uint32_t ino, const char *path, bool local)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct fns *n;
	int err;

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
	n->sock = tf_nl_link_events();
	err = n->sock < 0 ? n->sock : 0;
	leave(f, n);
	if (err)
		return tf_err(err, "follow: netlink socket for link events in namespace %u: %s",
			      ino, strerror(-err));
	ev.data.u32 = ino;
	if (epoll_ctl(f->sockfd, EPOLL_CTL_ADD, n->sock, &ev)) {
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
	epoll_ctl(f->sockfd, EPOLL_CTL_DEL, n->sock, NULL);
	close(n->sock);
	free(n->fresh);
	free(n->fresh_ev);
	free(n->backlog);
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

/* A tap seen for the first time, to be decided with the others of this read. */
static int fresh_add(struct fns *n, const struct tf_tap_info *ti, bool event)
{
	if (n->nfresh == n->capfresh) {
		size_t cap = n->capfresh ? 2 * n->capfresh : 16;
		struct tf_tap_info *v = realloc(n->fresh, cap * sizeof(*v));
		bool *e;

		if (!v)
			return -ENOMEM;
		n->fresh = v;
		e = realloc(n->fresh_ev, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		n->fresh_ev = e;
		n->capfresh = cap;
	}
	n->fresh[n->nfresh] = *ti;
	n->fresh_ev[n->nfresh++] = event;
	return 0;
}

static int backlog_add(struct fns *n, uint32_t ifindex, bool front)
{
	uint32_t *v = grow(n->backlog, n->nback, &n->capback, sizeof(*v), 64);

	if (!v)
		return -ENOMEM;
	n->backlog = v;
	if (front) {
		memmove(&v[1], &v[0], n->nback * sizeof(*v));
		v[0] = ifindex;
	} else {
		v[n->nback] = ifindex;
	}
	n->nback++;
	return 0;
}

/*
 * Decide this read's fresh taps at once: one read of the pinned state
 * says which are traced already with the rows they need (nothing to do:
 * an exporter restarted over 4096 traced taps does no per-tap work);
 * the others wait in the backlog, an event's ahead of a dump's.
 */
static void decide(struct tf_follow *f, struct fns *n)
{
	bool *need;

	if (!n->nfresh)
		return;
	need = calloc(n->nfresh, sizeof(*need));
	if (!need || enter(f, n)) {
		free(need);
		n->nfresh = 0;
		return;
	}
	if (tf_trace_untraced(n->fresh, n->nfresh, need))
		for (size_t i = 0; i < n->nfresh; i++)
			need[i] = true;	/* the start itself will say what is wrong */
	leave(f, n);
	for (size_t i = 0; i < n->nfresh; i++) {
		struct ftap *t = tap_find(f, n->ino, (uint32_t)n->fresh[i].ifindex);

		if (!t || t->state != FT_PENDING)
			continue;
		if (!need[i])
			t->state = FT_DECIDED;
		else if (backlog_add(n, t->ifindex, n->fresh_ev[i]))
			pr_warn("tapflow export: out of memory following %s\n", t->name);
	}
	free(need);
	n->nfresh = 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Stop a start between taps: a link event waits, or the slice is over. */
static bool start_yield(void *arg)
{
	struct tf_follow *f = arg;
	struct pollfd p = { .fd = f->sockfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 || now_ns() >= f->slice_end;
}

static void start_failed(const char *name, int err, void *arg)
{
	struct tf_follow *f = arg;

	(void)err;
	f->call_failed++;
	/* still there and refused: say so once; it is not retried */
	if (!tf_ifindex(name, &(int){ 0 })) {
		f->st.failed++;
		pr_warn("tapflow export: cannot trace %s: %s\n", name, tf_errmsg());
	}
}

/*
 * Start what n's backlog holds, the front first, in one call that yields
 * to waiting link events. A tap gone or stopped meanwhile is skipped.
 * True when it yielded (the backlog is not done).
 */
static bool start_backlog(struct tf_follow *f, struct fns *n)
{
	struct tf_trace_each each = { start_yield, start_failed, f };
	const char **names;
	size_t k = 0;
	int done;

	names = calloc(n->nback, sizeof(*names));
	if (!names)
		return true;
	for (size_t i = 0; i < n->nback; i++) {
		struct ftap *t = tap_find(f, n->ino, n->backlog[i]);

		if (t && t->state == FT_PENDING) {
			n->backlog[k] = n->backlog[i];
			names[k++] = t->name;
		}
	}
	n->nback = k;
	if (!k || enter(f, n)) {
		free(names);
		n->nback = 0;
		return false;
	}
	f->call_failed = 0;
	done = tf_trace_start_each(names, (int)k, f->backend_req, &each);
	leave(f, n);
	if (done < 0) {
		/* the whole call was refused (the lock, the programs' load): said once */
		pr_warn("tapflow export: cannot trace %zu tap(s): %s\n", k, tf_errmsg());
		f->st.failed += k;
		done = (int)k;
	} else {
		f->st.traced += (size_t)done - f->call_failed;
	}
	for (int i = 0; i < done; i++) {
		struct ftap *t = tap_find(f, n->ino, n->backlog[i]);

		if (t)
			t->state = FT_DECIDED;
	}
	memmove(n->backlog, n->backlog + done, (k - done) * sizeof(*n->backlog));
	n->nback = k - done;
	free(names);
	return n->nback > 0;
}

static void on_link(struct tf_follow *f, struct fns *n, const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct tf_tap_info ti;
	struct ftap *t;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	t = tap_find(f, n->ino, ifi->ifi_index);
	if (h->nlmsg_type == RTM_DELLINK) {
		if (!t)
			return;
		if (t->state == FT_DECIDED && !enter(f, n)) {
			if (!tf_trace_release(ifi->ifi_index))
				f->st.released++;
			leave(f, n);
		}
		tap_del(f, t);
		return;
	}
	if (!tf_tap_from_nlmsg(h, &ti))
		return;
	if (t) {
		/* a rename: a pending tap is started by the name it has now */
		if (strcmp(t->name, ti.name))
			snprintf(t->name, sizeof(t->name), "%s", ti.name);
		return;
	}
	if (!tf_follow_match((const char *const *)f->globs, f->nglobs, ti.name))
		return;
	/* a dump's part carries the dump's sequence number; an event, 0 */
	if (!tap_add(f, n->ino, ifi->ifi_index, ti.name) ||
	    fresh_add(n, &ti, !(n->dumping && h->nlmsg_seq == n->dump_seq)))
		pr_warn("tapflow export: out of memory following %s\n", ti.name);
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
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
				on_link(f, n, h);
			else if ((h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) &&
				 h->nlmsg_seq == n->dump_seq)
				n->dumping = false;
		}
	}
	decide(f, n);
}

bool tf_follow_busy(const struct tf_follow *f)
{
	for (size_t i = 0; i < f->nns; i++)
		if (f->ns[i].nback || f->ns[i].dumping)
			return true;
	return false;
}

/* evfd readable exactly while work waits, so that the caller's poll comes back. */
static void signal_busy(struct tf_follow *f)
{
	bool busy = tf_follow_busy(f);
	uint64_t v = 1;

	if (busy == f->ev_set)
		return;
	if (busy ? write(f->evfd, &v, sizeof(v)) == sizeof(v) : read(f->evfd, &v, sizeof(v)) == sizeof(v))
		f->ev_set = busy;
}

int tf_follow_handle(struct tf_follow *f)
{
	struct epoll_event ev[16];
	int k;

	while ((k = epoll_wait(f->sockfd, ev, 16, 0)) > 0) {
		for (int i = 0; i < k; i++) {
			struct fns *n = ns_find(f, ev[i].data.u32);

			if (n)
				ns_read(f, n);
		}
		if (k < 16)
			break;
	}
	/* one slice of starts, then back to the caller (signals, the textfile) */
	f->slice_end = now_ns() + SLICE_NS;
	for (size_t i = 0; i < f->nns; i++)
		if (f->ns[i].nback && start_backlog(f, &f->ns[i]))
			break;
	signal_busy(f);
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
	f->epfd = f->sockfd = f->evfd = -1;
	f->self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->sockfd = epoll_create1(EPOLL_CLOEXEC);
	f->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->globs = calloc(o->nglobs, sizeof(char *));
	if (f->self_fd < 0 || f->epfd < 0 || f->sockfd < 0 || f->evfd < 0 || !f->globs ||
	    epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->sockfd, &(struct epoll_event){ .events = EPOLLIN }) ||
	    epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->evfd, &(struct epoll_event){ .events = EPOLLIN })) {
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
	/*
	 * The dumps: taps that exist already, decided now (those traced
	 * already need nothing); what is left to start, the caller's loop
	 * starts (tf_follow_busy), reading link events in between.
	 */
	tf_follow_handle(f);
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
	if (f->sockfd >= 0)
		close(f->sockfd);
	if (f->evfd >= 0)
		close(f->evfd);
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
