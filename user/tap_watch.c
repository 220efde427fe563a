// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A view of one network namespace's tun/tap devices kept fresh by link
 * events (tap_watch.h), for the reader a scrape uses: at 4096 taps a dump
 * of every link is ~6 MB the kernel formats (its IPv6 settings and
 * counters for each device) and most of a scrape's time, while between
 * two scrapes usually nothing changed.
 *
 *   new: socket bound to RTMGRP_LINK, then one dump (tf_tap_list)
 *   sync: read the events waiting (never blocks)
 *         RTM_NEWLINK tun -> the entry (added, renamed) marked stale
 *         RTM_DELLINK     -> the entry removed
 *         stale entries   -> read again, one RTM_GETLINK each
 *         ENOBUFS (lost events) or many stale -> one dump instead
 *
 * Exact as a dump is: every change the view holds (a device added,
 * renamed or deleted, its alias, a queue attached or detached: tun sends
 * a link notification for each) puts an event in the socket before the
 * syscall that made it returns, so a sync after that call sees it; and
 * what an event says is not trusted but read again, since a notification
 * may precede the change it is for (a single-queue tap's carrier, which
 * stands for its one queue, is set after tun notifies the attach).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "tapflow.h"
#include "log.h"
#include "nl.h"
#include "tap_watch.h"

#define REDUMP_MIN	64		/* stale taps beyond this (and n / 4): one dump */

struct tap_watch {
	int sock;			/* subscribed to link events */
	uint32_t netns;
	struct tap_brief *v;		/* sorted by ifindex */
	size_t n, cap;
	size_t nstale;
	bool lost;			/* events overran: dump again */
	char buf[64 * 1024];		/* not static: readers may run in threads of their own */
};

static void brief_of(const struct tf_tap_info *ti, struct tap_brief *b)
{
	memset(b, 0, sizeof(*b));
	b->ifindex = ti->ifindex;
	memcpy(b->name, ti->name, sizeof(b->name));
	b->queues_attached = ti->queues_attached;
	b->conf_queues = ti->by_tapflow ? ti->conf.queues : 0;
}

static int brief_cmp(const void *a, const void *b)
{
	const struct tap_brief *x = a, *y = b;

	return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

const struct tap_brief *tap_watch_find(const struct tap_brief *taps, size_t n, int ifindex)
{
	struct tap_brief k = { .ifindex = ifindex };

	return n ? bsearch(&k, taps, n, sizeof(*taps), brief_cmp) : NULL;
}

/* Where ifindex is or would go in w->v. */
static size_t slot_of(const struct tap_watch *w, int ifindex, bool *found)
{
	size_t lo = 0, hi = w->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->v[mid].ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < w->n && w->v[lo].ifindex == ifindex;
	return lo;
}

static int upsert(struct tap_watch *w, const struct tap_brief *b)
{
	bool found;
	size_t i = slot_of(w, b->ifindex, &found);

	if (found) {
		bool was = w->v[i].stale;

		w->v[i] = *b;
		w->nstale += b->stale && !was;
		w->nstale -= !b->stale && was;
		return 0;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		struct tap_brief *v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return tf_err(-ENOMEM, "out of memory");
		w->v = v;
		w->cap = cap;
	}
	/* new taps get higher ifindexes: usually an append */
	memmove(&w->v[i + 1], &w->v[i], (w->n - i) * sizeof(*w->v));
	w->v[i] = *b;
	w->n++;
	w->nstale += b->stale;
	return 0;
}

static void drop(struct tap_watch *w, int ifindex)
{
	bool found;
	size_t i = slot_of(w, ifindex, &found);

	if (!found)
		return;
	w->nstale -= w->v[i].stale;
	memmove(&w->v[i], &w->v[i + 1], (w->n - i - 1) * sizeof(*w->v));
	w->n--;
}

/* Everything again: the events waiting are read first (the dump is newer). */
static int redump(struct tap_watch *w)
{
	struct tf_tap_info *taps;
	size_t n;
	int err;

	while (recv(w->sock, w->buf, sizeof(w->buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
	err = tf_tap_list(&taps, &n);
	if (err)
		return err;
	w->n = w->nstale = 0;
	w->lost = false;
	for (size_t i = 0; i < n && !err; i++) {
		struct tap_brief b;

		brief_of(&taps[i], &b);
		err = upsert(w, &b);
	}
	tf_tap_list_free(taps);
	pr_debug("tap view: %zu taps read by a dump", w->n);
	return err;
}

static int getlink_cb(const struct nlmsghdr *h, void *arg)
{
	struct tf_tap_info ti;

	if (tf_tap_from_nlmsg(h, &ti))
		brief_of(&ti, arg);
	return 0;
}

/* Read the stale entries again, one request each; a device gone is dropped. */
static int reread(struct tap_watch *w)
{
	struct tf_nl nl;
	int err = tf_nl_open(&nl);

	if (err)
		return err;
	for (size_t i = 0; i < w->n && w->nstale;) {
		struct tap_brief b = { .ifindex = 0 };
		struct tf_nl_req r;
		struct ifinfomsg *ifi;

		if (!w->v[i].stale) {
			i++;
			continue;
		}
		ifi = tf_nl_req_init(&r, RTM_GETLINK, 0, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		ifi->ifi_index = w->v[i].ifindex;
		err = tf_nl_talk(&nl, &r, getlink_cb, &b);
		if (err && err != -ENODEV)
			break;
		err = 0;
		if (b.ifindex == w->v[i].ifindex) {
			w->v[i] = b;	/* not stale */
			w->nstale--;
			i++;
		} else {
			drop(w, w->v[i].ifindex);	/* gone, or no tun any more */
		}
	}
	tf_nl_close(&nl);
	return err;
}

static void on_msg(struct tap_watch *w, const struct nlmsghdr *h)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct tf_tap_info ti;
	struct tap_brief b;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	if (h->nlmsg_type == RTM_DELLINK) {
		drop(w, ifi->ifi_index);
		return;
	}
	if (h->nlmsg_type != RTM_NEWLINK || !tf_tap_from_nlmsg(h, &ti))
		return;
	brief_of(&ti, &b);
	b.stale = true;
	if (upsert(w, &b))
		w->lost = true;	/* out of memory: a dump will say it all */
}

int tap_watch_sync(struct tap_watch *w, const struct tap_brief **taps, size_t *n)
{
	int err = 0;

	for (;;) {
		ssize_t len = recv(w->sock, w->buf, sizeof(w->buf), MSG_DONTWAIT);

		if (len < 0 && errno == ENOBUFS) {
			w->lost = true;
			continue;
		}
		if (len <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)w->buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len))
			on_msg(w, h);
	}
	if (w->lost || (w->nstale > REDUMP_MIN && w->nstale > w->n / 4))
		err = redump(w);
	else if (w->nstale)
		err = reread(w);
	if (err)
		w->lost = true;	/* the next sync starts from a dump */
	*taps = w->v;
	*n = w->n;
	return err;
}

int tap_watch_new(struct tap_watch **out)
{
	struct tap_watch *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w)
		return tf_err(-ENOMEM, "out of memory");
	w->sock = tf_nl_link_events();
	if (w->sock < 0) {
		err = tf_err(w->sock, "netlink socket for link events: %s", strerror(-w->sock));
		free(w);
		return err;
	}
	err = tf_netns_self(&w->netns);
	/* subscribed first: a change during the dump is an event the next sync reads */
	if (!err)
		err = redump(w);
	if (err) {
		tap_watch_free(w);
		return err;
	}
	*out = w;
	return 0;
}

void tap_watch_free(struct tap_watch *w)
{
	if (!w)
		return;
	if (w->sock >= 0)
		close(w->sock);
	free(w->v);
	free(w);
}

uint32_t tap_watch_netns(const struct tap_watch *w)
{
	return w->netns;
}
