/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The library's modules that attach things to taps, as the tap code sees
 * them: what each does when a tap is deleted and what it reports for
 * `tapflow show`. Each module defines its struct tf_module; module.c lists
 * them, so no module depends on a constructor or on what a program linked.
 * Not part of libtapflow's API.
 */
#ifndef TF_MODULE_H
#define TF_MODULE_H

#include "tapflow.h"

struct tf_module {
	const char *name;
	/* Before tf_tap_delete() removes the device: let go of it (no veto). */
	void (*tap_delete)(int ifindex, const char *name);
	/* Fill the module's part of *a; 1 if it has something on the tap, else 0. */
	int (*tap_show)(int ifindex, const char *name, struct tf_tap_attached *a);
};

extern const struct tf_module tf_fastpath_module;
extern const struct tf_module tf_steer_module;
extern const struct tf_module tf_trace_module;

/* Every module lets go of the tap, in the list's order. */
void tf_modules_tap_delete(int ifindex, const char *name);

#endif
