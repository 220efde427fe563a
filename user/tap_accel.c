// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * An accelerated tap in one call: create it (user/tap.c) and turn the XDP
 * fast path on (user/fastpath.c), or leave nothing behind. This is the
 * policy behind `tapflow create --fastpath`, kept in the library so that a
 * VM manager calling libtapflow gets the same all-or-nothing rule.
 */
#include <stdio.h>

#include "tapflow.h"

int tf_tap_create_accelerated(const struct tf_tap_opts *opts, bool *created,
			      bool *fp_changed, bool *legacy)
{
	enum tf_errkind kind;
	char msg[512];
	bool made = false;
	int err;

	*created = false;
	*fp_changed = false;
	*legacy = false;
	err = tf_tap_create(opts, &made);
	if (err)
		return err;
	err = tf_fastpath_enable(opts->name, fp_changed, legacy);
	if (!err) {
		*created = made;
		return 0;
	}
	/* The undo below may record errors of its own: keep the fast path's. */
	kind = tf_errkind();
	snprintf(msg, sizeof(msg), "%s", tf_errmsg());
	if (made && tf_tap_delete(opts->name, false))
		return tf_err(err, "%s: fast path: %s; and the tap could not be deleted again: %s",
			      opts->name, msg, tf_errmsg());
	return tf_err_as(err, kind, "%s: fast path: %s%s", opts->name, msg,
			 made ? " (tap not created)" : "");
}
