/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which VM holds each tap, for the CLI's list, show, stats and top (the
 * lookup is libtapflow's tf_tap_backend_find()): a cache that walks /proc
 * only for taps whose attached queue count changed since it last looked.
 */
#ifndef TF_CLI_BACKEND_H
#define TF_CLI_BACKEND_H

#include <stddef.h>

#include "tapflow.h"
#include "json.h"

/* Look up the taps (this namespace) whose attached count changed: one walk. */
void cli_backends_refresh(const char *const *names, const unsigned int *attached, size_t n);
/* What the last refresh found for name; NULL when no holder was ever seen. */
const struct tf_tap_backend *cli_backend_of(const char *name);
/* "tap_backend": {vm, pid, comm, cgroup, processes, fds} or null. */
void cli_backend_json(struct tf_json *j, const struct tf_tap_backend *b);
/* The VM's name, or "-". */
const char *cli_backend_vm(const struct tf_tap_backend *b);

#endif
