// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Choosing a rung's programs from a loader's table (rung_table.h): the one
 * place that walks a skeleton's programs against its table, for tracing
 * and capture alike.
 */
#include <errno.h>
#include <stdio.h>

#include <bpf/libbpf.h>

#include "rung_table.h"

int tf_rung_select(struct bpf_object *obj, const struct rung_prog *rows, size_t n, int rung,
		   bool (*wanted)(int sel, const void *arg), const void *arg,
		   const char *table, char *why, size_t whylen)
{
	struct bpf_program *prog;
	size_t i;

	bpf_object__for_each_program(prog, obj) {
		for (i = 0; i < n && rows[i].prog != prog; i++)
			;
		if (i == n) {
			snprintf(why, whylen, "program %s has no rung in %s's table",
				 bpf_program__name(prog), table);
			return -ENOENT;
		}
		bpf_program__set_autoload(prog, rows[i].rung == rung && wanted(rows[i].sel, arg));
	}
	return 0;
}
