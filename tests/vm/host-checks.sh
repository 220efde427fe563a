#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The checks the VM lane's guest could not run: it has no tshark, so a
# test's expect_count (tests/lib.sh) there copies the capture file out with
# the check, and scripts/vm-check.sh runs this on the host once the guest's
# files are unpacked in DIR. DIR/checks holds one check a line, tab
# separated: FILE, DISPLAY-FILTER, EXPECTED COUNT, SUITE/TEST/WHAT. Each
# prints its own result line, `PASS vm/SUITE/TEST/tshark-K` or FAIL with
# what tshark found, as the guest's tests print theirs.
set -uo pipefail

dir=${1:?usage: host-checks.sh DIR}
[ -s "$dir/checks" ] || exit 0
if ! command -v tshark >/dev/null; then
	echo "SKIP vm/host-checks: tshark not installed on the host (scripts/setup.sh installs it)"
	exit 0
fi
rc=0
declare -A k=()
while IFS=$'\t' read -r file filter want name; do
	test=${name%/*}
	what=${name##*/}
	k[$test]=$(( ${k[$test]:-0} + 1 ))
	got=$(tshark -r "$dir/$file" -Y "$filter" -T fields -e frame.number 2>/dev/null | grep -c .)
	if [ "$got" = "$want" ]; then
		echo "PASS vm/$test/tshark-${k[$test]}"
	else
		echo "FAIL vm/$test/tshark-${k[$test]}: $what: $got != $want (tshark -r $dir/$file -Y '$filter')"
		rc=1
	fi
done <"$dir/checks"
exit "$rc"
