// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The CLI's view of who holds each tap (see cli_backend.h): list, show and
 * stats look once; top refreshes every frame, and the cache keeps that to a
 * walk of /proc only when a tap's attached queue count moved.
 */
#include <stdlib.h>
#include <string.h>

#include "cli_backend.h"

struct cli_bk {
	char name[16];
	unsigned int attached;
	struct tf_tap_backend b;
};

static struct cli_bk *cache;
static size_t ncache;

static struct cli_bk *find(const char *name)
{
	for (size_t i = 0; i < ncache; i++)
		if (!strcmp(cache[i].name, name))
			return &cache[i];
	return NULL;
}

void cli_backends_refresh(const char *const *names, const unsigned int *attached, size_t n)
{
	struct tf_tap_backend_query *q = calloc(n ? n : 1, sizeof(*q));
	struct cli_bk **slot = calloc(n ? n : 1, sizeof(*slot));
	uint32_t ns = 0;
	size_t w = 0;

	if (!q || !slot)
		goto out;
	tf_netns_self(&ns);
	for (size_t i = 0; i < n; i++) {
		struct cli_bk *k = find(names[i]);

		if (!k) {
			struct cli_bk *c = realloc(cache, (ncache + 1) * sizeof(*c));

			if (!c)
				break;
			cache = c;
			k = &cache[ncache++];
			memset(k, 0, sizeof(*k));
			snprintf(k->name, sizeof(k->name), "%s", names[i]);
			k->attached = ~0u;
		}
		if (!attached[i] || attached[i] == k->attached)
			continue;
		k->attached = attached[i];
		q[w].name = names[i];	/* k->name moves if the cache grows */
		q[w].netns = ns;
		slot[w++] = k;
	}
	/* cache may have moved while it grew: resolve the slots by name now */
	for (size_t i = 0; i < w; i++)
		slot[i] = find(q[i].name);
	tf_tap_backend_find(q, w, NULL);
	for (size_t i = 0; i < w; i++)
		if (q[i].b.pid && slot[i])
			slot[i]->b = q[i].b;
out:
	free(q);
	free(slot);
}

const struct tf_tap_backend *cli_backend_of(const char *name)
{
	struct cli_bk *k = find(name);

	return k && k->b.pid ? &k->b : NULL;
}

void cli_backend_json(struct tf_json *j, const struct tf_tap_backend *b)
{
	if (!b) {
		tf_json_null(j, "tap_backend");
		return;
	}
	tf_json_obj_begin(j, "tap_backend");
	tf_json_str(j, "vm", b->vm);
	tf_json_i64(j, "pid", b->pid);
	tf_json_str(j, "comm", b->comm);
	tf_json_str(j, "cgroup", b->cgroup);
	tf_json_u64(j, "processes", b->procs);
	tf_json_u64(j, "fds", b->fds);
	tf_json_obj_end(j);
}

const char *cli_backend_vm(const struct tf_tap_backend *b)
{
	return b ? b->vm : "-";
}
