#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Regenerate the committed vmlinux.h from kernel BTF. CO-RE relocates every
# field access at load time, so one header generated on any BTF kernel serves
# all of them; regenerate only to reach types a newer kernel added.
#   scripts/gen-vmlinux.sh [BTF_FILE]   (default /sys/kernel/btf/vmlinux)
set -euo pipefail
btf=${1:-/sys/kernel/btf/vmlinux}
out=$(dirname "$0")/../vmlinux.h
[ -r "$btf" ] || { echo "gen-vmlinux.sh: cannot read BTF at $btf" >&2; exit 1; }
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out from $btf"
