// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Read-only listings of the fast path for API callers, built on the port
 * record (tf_fastpath_is_port): a port's AF_XDP rules by device name, with
 * the same errors `tapflow fastpath rule list` prints.
 */
#include <errno.h>
#include <string.h>

#include "tapflow.h"

int tf_fastpath_rule_list(const char *name, struct tf_fp_rule rules[TF_FP_MAX_RULES],
			  size_t *n)
{
	struct tf_fp_port port;
	int ifindex, err;

	*n = 0;
	err = tf_ifindex(name, &ifindex);
	if (err)
		return err;
	if (!tf_fastpath_is_port(ifindex, &port))
		return tf_err(-ENOENT, "'%s' is not a fast path port", name);
	*n = port.nrules < TF_FP_MAX_RULES ? port.nrules : TF_FP_MAX_RULES;
	memcpy(rules, port.rules, *n * sizeof(*rules));
	return 0;
}
