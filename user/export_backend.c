// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The exporter's knowledge of who holds each traced tap: the process, the
 * VM it runs and its cgroup (user/vmid.c finds them), exported as
 * tapflow_tap_backend_info so that a PromQL group_left names every series
 * by VM. Finding them walks every fd on the host, so it runs only when a
 * tap's attached queue count changes (a backend attached, detached or
 * restarted: the scrape reads that count anyway), or when the holder it
 * knew has exited, never on every scrape. What was found is kept while the
 * tap exists, so a stopped VM's series keep their VM's name.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "export_priv.h"
#include "export_text.h"
#include "log.h"

/*
 * Walks beyond the count changing, rate-limited: a tap outside the
 * exporter's namespace has no queue count here; a queue fd in flight
 * (libvirt opens the tap and hands the fd to qemu) has no holder for a
 * moment; a single-queue tap reports no count at all; and a holder that
 * runs no VM (libvirtd before the handover) is looked at again until one
 * does. Each is one walk for every tap due, never one per tap.
 */
#define RETRY_NS	(1000000000ull)
#define NOVM_RETRY_NS	(5ull * 1000000000ull)

struct tfx_bk {
	struct tf_export_backend e;
	uint32_t ifindex;
	uint32_t attached;		/* queues attached when last looked */
	uint64_t tried_ns;		/* last walk for this tap; 0 never */
	bool seen;			/* in this read */
};

struct tfx_backends {
	struct tfx_bk *v;
	size_t n, cap;
	pthread_mutex_t lock;		/* update (scrape) against tf_export_backends() */
};

int tfx_backends_new(struct tfx_backends **out)
{
	struct tfx_backends *b = calloc(1, sizeof(*b));

	if (!b)
		return tf_err(-ENOMEM, "out of memory");
	pthread_mutex_init(&b->lock, NULL);
	*out = b;
	return 0;
}

void tfx_backends_free(struct tfx_backends *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->v);
	free(b);
}

static int bk_cmp(const void *a, const void *b)
{
	const struct tfx_bk *x = a, *y = b;

	if (x->e.netns != y->e.netns)
		return x->e.netns < y->e.netns ? -1 : 1;
	return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

/*
 * bs->v[0, nsorted) is sorted by (netns, ifindex): each tap is found by
 * bisection, not a scan (a scan per tap made a scrape quadratic in the
 * taps). Taps new in this read are appended after it, and the whole is
 * sorted again once the read is done.
 */
static struct tfx_bk *bk_find(struct tfx_backends *bs, size_t nsorted, uint32_t netns,
			      uint32_t ifindex)
{
	struct tfx_bk k = { .e.netns = netns, .ifindex = ifindex };

	return nsorted ? bsearch(&k, bs->v, nsorted, sizeof(k), bk_cmp) : NULL;
}

static struct tfx_bk *bk_get(struct tfx_backends *bs, size_t nsorted, const struct tf_tap_stats *t)
{
	struct tfx_bk *k = bk_find(bs, nsorted, t->netns, t->ifindex);

	if (k)
		return k;
	if (bs->n == bs->cap) {
		size_t cap = bs->cap ? bs->cap * 2 : 16;
		struct tfx_bk *v = realloc(bs->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		bs->v = v;
		bs->cap = cap;
	}
	memset(&bs->v[bs->n], 0, sizeof(bs->v[0]));
	bs->v[bs->n].e.netns = t->netns;
	bs->v[bs->n].ifindex = t->ifindex;
	bs->v[bs->n].attached = UINT32_MAX;	/* "not looked yet" */
	return &bs->v[bs->n++];
}

static bool holder_exited(const struct tfx_bk *k)
{
	return k->e.b.pid && kill(k->e.b.pid, 0) && errno == ESRCH;
}

/* Does this tap need a walk now? */
static bool bk_due(const struct tfx_bk *k, const struct tf_tap_stats *t, uint64_t now)
{
	uint64_t since = k->tried_ns ? now - k->tried_ns : UINT64_MAX;

	/*
	 * No queue attached: keep the last known. But a single-queue tap's
	 * count is not reported by tun (IFLA_TUN_NUM_QUEUES is for multiqueue
	 * taps), so one never seen held is looked at now and then.
	 */
	if (t->local && !t->queues_attached)
		return !k->e.b.pid && since > NOVM_RETRY_NS;
	if (t->local && t->queues_attached != k->attached)
		return true;
	/* the same count but the holder exited: a VM restarted between scrapes */
	if (holder_exited(k))
		return since > RETRY_NS / 4;
	if (!k->e.b.pid)
		return since > RETRY_NS;
	/* a holder without a VM name (comm stands in): maybe not the VM yet */
	return !strcmp(k->e.b.vm, k->e.b.comm) && since > NOVM_RETRY_NS;
}

void tfx_backends_update(struct tfx_backends *bs, const struct tf_tap_stats *taps, size_t n)
{
	struct tf_tap_backend_query *q = NULL;
	size_t *which = NULL, nq = 0, w = 0;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	unsigned int denied = 0;

	size_t nsorted;
	bool moved;

	pthread_mutex_lock(&bs->lock);
	nsorted = bs->n;
	for (size_t i = 0; i < bs->n; i++)
		bs->v[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		struct tfx_bk *k;

		/* (a tap is once in taps: the tail of new ones needs no search) */
		if (taps[i].gone || !(k = bk_get(bs, nsorted, &taps[i])))
			continue;
		k->seen = true;
		k->e.local = taps[i].local;
		memcpy(k->e.tap, taps[i].name, sizeof(k->e.tap));	/* follows renames */
		if (bk_due(k, &taps[i], now))
			k->tried_ns = 0, nq++;
		else if (taps[i].local && !taps[i].queues_attached)
			k->attached = 0;
	}
	/* A tap no longer read (deleted, its namespace gone, tracing stopped) is forgotten. */
	moved = bs->n != nsorted;
	for (size_t i = 0; i < bs->n; )
		if (!bs->v[i].seen)
			bs->v[i] = bs->v[--bs->n], moved = true;
		else
			i++;
	if (moved && bs->n > 1)
		qsort(bs->v, bs->n, sizeof(*bs->v), bk_cmp);
	if (!nq)
		goto out;
	q = calloc(nq, sizeof(*q));
	which = calloc(nq, sizeof(*which));
	if (!q || !which)
		goto out;
	for (size_t i = 0; i < n && w < nq; i++) {
		struct tfx_bk *k;

		if (taps[i].gone || !(k = bk_find(bs, bs->n, taps[i].netns, taps[i].ifindex)) ||
		    !bk_due(k, &taps[i], now))
			continue;
		q[w].name = k->e.tap;
		q[w].netns = k->e.netns;
		which[w++] = (size_t)(k - bs->v);
		k->attached = taps[i].queues_attached;
		k->tried_ns = now;
	}
	tf_tap_backend_find(q, w, &denied);
	for (size_t i = 0; i < w; i++)
		if (q[i].b.pid)
			bs->v[which[i]].e.b = q[i].b;	/* not found: keep the last known */
	if (denied && !tf_have_cap(TF_CAP_SYS_PTRACE))
		pr_debug("export: %u processes' fdinfo unreadable without CAP_SYS_PTRACE: "
			 "their taps' VMs cannot be named", denied);
out:
	free(q);
	free(which);
	pthread_mutex_unlock(&bs->lock);
}

int tfx_backends_copy(struct tfx_backends *bs, struct tf_export_backend **out, size_t *n)
{
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&bs->lock);
	if (bs->n) {
		*out = calloc(bs->n, sizeof(**out));
		if (!*out) {
			pthread_mutex_unlock(&bs->lock);
			return tf_err(-ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < bs->n; i++)
			if (bs->v[i].e.b.pid)
				(*out)[cnt++] = bs->v[i].e;
	}
	pthread_mutex_unlock(&bs->lock);
	*n = cnt;
	return 0;
}

static void put_label(struct out *o, const char *key, const char *val, size_t max)
{
	char esc[3 * TF_CGROUP_MAX + 4];

	put(o, ",", 1);
	put_str(o, key);
	PUTS(o, "=\"");
	put(o, esc, tfx_esc_label(esc, val, max));
	put(o, "\"", 1);
}

int tf_export_render_backends(struct tf_export_buf *b, const struct tf_export_backend *be,
			      size_t n)
{
	struct out o = { .b = b };
	char tl[TAPLBL_MAX], pid[16];

	if (!n)
		return 0;
	tfx_put_meta(&o, "tapflow_tap_backend_info",  "gauge",
		     "The process holding the tap's queues (the last known while none does): "
		     "the VM it runs (qemu -name, firecracker --id, else comm), its pid, comm "
		     "and cgroup; always 1.");
	for (size_t i = 0; i < n; i++) {
		struct tf_tap_stats t = { .netns = be[i].netns, .local = be[i].local };

		memcpy(t.name, be[i].tap, sizeof(t.name));
		PUTS(&o, "tapflow_tap_backend_info{");
		put(&o, tl, tfx_tap_label(tl, &t));
		put_label(&o, "vm", be[i].b.vm, sizeof(be[i].b.vm));
		snprintf(pid, sizeof(pid), "%d", be[i].b.pid);
		put_label(&o, "pid", pid, sizeof(pid));
		put_label(&o, "comm", be[i].b.comm, sizeof(be[i].b.comm));
		put_label(&o, "cgroup", be[i].b.cgroup, sizeof(be[i].b.cgroup));
		PUTS(&o, "} 1\n");
	}
	if (o.oom)
		return tf_err(-ENOMEM, "export: out of memory rendering backends");
	return 0;
}
