// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The list of libtapflow's modules that attach things to taps (see
 * module.h): written out, so that tf_tap_delete() and tf_tap_attached()
 * walk the same modules in every program that links the library, in this
 * order (the order `tapflow show` has always listed them in).
 */
#include <string.h>

#include "tapflow.h"
#include "log.h"
#include "module.h"

static const struct tf_module *const modules[] = {
	&tf_fastpath_module,
	&tf_steer_module,
	&tf_trace_module,
};

void tf_modules_tap_delete(int ifindex, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++)
		modules[i]->tap_delete(ifindex, name);
}

int tf_tap_attached(int ifindex, const char *name, struct tf_tap_attached *a)
{
	int n = 0;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++)
		n += modules[i]->tap_show(ifindex, name, a) > 0;
	return n;
}
