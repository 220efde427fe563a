#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Run every libFuzzer harness built in build/fuzz/ for SECONDS each, from its
# seed corpus tests/fuzz/corpus/<name>/ (read only: new inputs go to a
# scratch directory), and print one line per harness in the tests' protocol:
# PASS fuzz/NAME (runs), FAIL fuzz/NAME (the crash saved under
# build/fuzz/artifacts/), or SKIP when the harnesses are not built.
#   tests/fuzz/run.sh SECONDS [NAME...]
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}; shift || true
names=("$@")
if [ ${#names[@]} = 0 ]; then
	for s in "$TOP"/tests/fuzz/*.c; do names+=("$(basename "$s" .c)"); done
fi
art=$TOP/build/fuzz/artifacts
mkdir -p "$art"
for n in "${names[@]}"; do
	bin=$TOP/build/fuzz/$n
	if [ ! -x "$bin" ]; then
		echo "SKIP fuzz/$n: not built (make fuzz-build needs clang with libFuzzer)"
		continue
	fi
	work=$(mktemp -d)
	seeds=$TOP/tests/fuzz/corpus/$n
	log=$work/log
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/$n-" "$work" ${seeds:+$( [ -d "$seeds" ] && echo "$seeds")} \
		>"$log" 2>&1
	rc=$?
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	if [ "$rc" = 0 ]; then
		echo "PASS fuzz/$n (${runs:-?} runs in ${secs} s)"
	else
		why=$(grep -m1 -E 'ERROR|fuzz: |runtime error|Test unit written' "$log")
		echo "FAIL fuzz/$n: ${why:-exit $rc} (log: $art/$n.log)"
		cp "$log" "$art/$n.log"
	fi
	rm -rf "$work"
done
