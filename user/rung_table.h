/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The program tables of the laddered loaders (user/trace_load.c for
 * tracing, user/capture.c for capture): each row names a skeleton program,
 * the rung it belongs to and a selector the loader gives its own meaning
 * (tracing: which rx variant; capture: what the program captures). Before
 * load, tf_rung_select() switches on the programs of one rung that the
 * loader wants and off all others, as bcc's tools set autoload from a
 * table after probing; a program in no row is an error naming it, never a
 * silent choice of rung.
 */
#ifndef TF_RUNG_TABLE_H
#define TF_RUNG_TABLE_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_object;
struct bpf_program;

struct rung_prog {
	struct bpf_program *prog;
	int rung;
	int sel;	/* the loader's: tracing's rx variant, capture's role */
};

/*
 * Set autoload on each program of obj: on where its row's rung is `rung`
 * and wanted(row's sel, arg) says yes, off otherwise. -ENOENT (why names
 * the program and `table`, the file that should hold its row) for a
 * program in no row.
 */
int tf_rung_select(struct bpf_object *obj, const struct rung_prog *rows, size_t n, int rung,
		   bool (*wanted)(int sel, const void *arg), const void *arg,
		   const char *table, char *why, size_t whylen);

#endif
