#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Run a command (a suite, `make check`) in a private mount namespace with a
# bpffs and a /run/netns of its own, so that two checkouts on one machine can
# run their suites at once without seeing each other's pins or namespaces.
# Network devices and tracepoints are still the host's: tests name theirs
# uniquely per run, as they always do.
#   tests/isolated.sh tests/run.sh --no-vm --filter trace
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: tests/isolated.sh CMD [ARGS...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "tests/isolated.sh: needs root (a mount namespace)" >&2; exit 1; }
# tapflow refuses a bpffs that is not PID 1's (its pins would be lost to the
# next tapflow); this one is meant: every tapflow of the run sees it.
export TAPFLOW_PRIVATE_BPFFS=1
exec unshare -m --propagation private bash -c '
	mount -t bpf bpf /sys/fs/bpf &&
	mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns &&
	exec "$@"' isolated "$@"
