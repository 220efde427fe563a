#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# tapflow's test runner (`make check`). Three tiers, one protocol: every test
# prints exactly one line, `PASS name`, `FAIL name: why` or `SKIP name: why`;
# this script relays them and ends with `N passed, N failed, N skipped`.
#   1. unit tests (build/tests/unit/*): parsing and BPF_PROG_TEST_RUN logic;
#   2. integration tests (tests/integration/*.sh, root): real taps, real BPF,
#      real traffic, each test in a network namespace it creates and deletes;
#   3. the second-kernel lane (scripts/vm-check.sh): tiers 1-2 again inside
#      Debian's stock kernel under qemu (TF_VM=0 leaves it out).
# Beside the unit tests, each libFuzzer harness (build/fuzz/, tests/fuzz/)
# runs for TF_FUZZ_SECONDS (default 4; 0 leaves them out) from its seeds.
#
# Options: --unit-only, --no-vm, --lane NAME (prefix for result names, used
# inside the VM), --filter REGEX (integration scripts whose name matches),
# --unit-filter REGEX (unit test binaries whose name matches), --units-beside
# REGEX (the unit tests run in a second stream while the integration scripts
# whose name matches run, the first one that does not match waiting for
# them: the VM lane, where a second vCPU would idle),
# --parallel REGEX (scripts whose name matches run, in order, in a second
# stream beside the others: for suites that share no state with them, where
# a second CPU would otherwise idle), --jobs REGEX and --except-jobs REGEX
# (of the selected scripts, only the runs whose label matches, or does not:
# the label is NAME, or NAME-BACKEND for a suite run once per tracing
# backend, e.g. test_trace-kprobe; the VM lane splits its runs between two
# guests with them), --no-units. After each script run, a line
# `-- LABEL: S s` says how long it took.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
unit_only=0
lane=""
filter=""
unit_filter=""
units_beside=""
parallel=""
jobs=""
except_jobs=""
no_units=0
vm=${TF_VM:-1}
while [ $# -gt 0 ]; do
	case "$1" in
	--unit-only) unit_only=1 ;;
	--no-vm) vm=0 ;;
	--lane) lane="$2"; shift ;;
	--filter) filter="$2"; shift ;;
	--unit-filter) unit_filter="$2"; shift ;;
	--units-beside) units_beside="$2"; shift ;;
	--parallel) parallel="$2"; shift ;;
	--jobs) jobs="$2"; shift ;;
	--except-jobs) except_jobs="$2"; shift ;;
	--no-units) no_units=1 ;;
	*) echo "run.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$lane" ] && vm=0
# Inside the VM every backend the kernel offers is proven, one run each.
[ "$lane" = vm ] && : "${TF_TRACE_BACKENDS:=fentry kprobe tracepoint}"
# ... and must load there: a refused rung fails (tests/lib.sh: skip_rung).
[ "$lane" = vm ] && : "${TF_RUNGS_REQUIRED:=fentry kprobe tracepoint}"
[ -n "${TF_RUNGS_REQUIRED:-}" ] && export TF_RUNGS_REQUIRED
[ -n "${TF_TRACE_BACKENDS:-}" ] && export TF_TRACE_BACKENDS

results=$(mktemp)
trap 'rm -f "$results"' EXIT

# Relay a test program's output; keep protocol lines (prefixed with the lane).
relay() {
	local line
	while IFS= read -r line; do
		case "$line" in
		PASS\ *|FAIL\ *|SKIP\ *)
			if [ -n "$lane" ]; then
				line="${line:0:5}$lane/${line:5}"
			fi
			echo "$line" >> "$results"
			;;
		esac
		printf '%s\n' "$line"
	done
}

run_units() {
	local t t0 t1
	t0=${EPOCHREALTIME/./}
	for t in "$TOP"/build/tests/unit/*; do
		[ -x "$t" ] || continue
		if [ -n "$unit_filter" ] && ! [[ "${t##*/}" =~ $unit_filter ]]; then
			continue
		fi
		t1=${EPOCHREALTIME/./}
		"$t" 2>&1 | relay
		if [ "${TF_TEST_TIMES:-0}" = 1 ]; then
			t1=$(( (${EPOCHREALTIME/./} - t1) / 10000 ))
			printf -- '--   %s: %d.%02d s\n' "${t##*/}" $((t1 / 100)) $((t1 % 100))
		fi
	done
	t=$(( (${EPOCHREALTIME/./} - t0) / 100000 ))
	echo "-- unit tests: $((t / 10)).$((t % 10)) s"
}

units_pid=""
if [ "$no_units" = 1 ]; then
	:
elif [ -n "$units_beside" ] && [ "$unit_only" = 0 ]; then
	echo "== unit tests (beside the integration scripts matching $units_beside)"
	run_units &
	units_pid=$!
else
	echo "== unit tests"
	run_units
fi

if [ -z "$lane" ] && [ "${TF_FUZZ_SECONDS:-4}" != 0 ]; then
	echo "== fuzzing (${TF_FUZZ_SECONDS:-4} s each; make fuzz runs longer)"
	"$TOP/tests/fuzz/run.sh" "${TF_FUZZ_SECONDS:-4}" 2>&1 | relay
fi

# Pins and test namespaces, to show a suite that leaks them (a leak breaks
# the next run). What was there before the run is not counted.
leftovers() {
	find /sys/fs/bpf/tapflow -mindepth 1 2>/dev/null | sort
	# libxdp's dispatchers (tests that share a tap between XDP programs)
	find /sys/fs/bpf/xdp -mindepth 1 -maxdepth 1 -name 'dispatch-*' 2>/dev/null | sort
	ip netns list 2>/dev/null | awk '$1 ~ /^tfn/ {print "netns " $1}' | sort
}

# script_labels NAME: the runs of a script that are asked for, one label a
# line: NAME, or NAME-BACKEND for each backend of a tracing suite (the VM
# lane asks for all three; elsewhere it runs once, with the backend probing
# picks), those --jobs and --except-jobs leave.
script_labels() {
	local b label backends=auto
	case $1 in
	test_trace|test_trace_vhost) backends=${TF_TRACE_BACKENDS:-auto} ;;
	esac
	for b in $backends; do
		label=$1
		[ "$b" = auto ] || label=$1-$b
		[ -z "$jobs" ] || [[ "$label" =~ $jobs ]] || continue
		[ -z "$except_jobs" ] || ! [[ "$label" =~ $except_jobs ]] || continue
		echo "$label"
	done
}

# One integration script, once per label asked for.
run_script() {
	local s=$1 name label b t0 t rc
	name=$(basename "$s" .sh)
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP $name: needs root (network namespaces, taps, BPF)" | relay
		return
	fi
	for label in $(script_labels "$name"); do
		b=auto
		[ "$label" = "$name" ] || b=${label#"$name"-}
		t0=${EPOCHREALTIME/./}
		TF_BACKEND=$b timeout --kill-after=10 600 bash "$s" 2>&1 | relay
		rc=${PIPESTATUS[0]}
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			echo "FAIL $label: timed out" | relay
		fi
		t=$(( (${EPOCHREALTIME/./} - t0) / 100000 ))
		echo "-- $label: $((t / 10)).$((t % 10)) s"
	done
}

# run_stream main|side: the selected scripts of that stream, in order.
run_stream() {
	local s name side
	for s in "$TOP"/tests/integration/*.sh; do
		[ -e "$s" ] || continue
		name=$(basename "$s" .sh)
		if [ -n "$filter" ] && ! [[ "$name" =~ $filter ]]; then
			continue
		fi
		[ -n "$(script_labels "$name")" ] || continue
		side=main
		[ -n "$parallel" ] && [[ "$name" =~ $parallel ]] && side=side
		[ "$side" = "$1" ] || continue
		# The first script that may not run beside the unit tests waits
		# for them (the main stream runs in this shell: units_pid is ours).
		if [ "$1" = main ] && [ -n "$units_pid" ] && ! [[ "$name" =~ $units_beside ]]; then
			wait "$units_pid"
			units_pid=""
		fi
		run_script "$s"
	done
}

if [ "$unit_only" = 0 ]; then
	echo "== integration tests"
	before_leaks=$(leftovers)
	side_pid=""
	if [ -n "$parallel" ]; then
		run_stream side &
		side_pid=$!
	fi
	run_stream main
	[ -n "$side_pid" ] && wait "$side_pid"
	[ -n "$units_pid" ] && wait "$units_pid"

	if [ "$(id -u)" = 0 ]; then
		# grep, not comm: the VM's busybox has no comm
		leaked=$(leftovers | grep -vxF -f <(echo "$before_leaks") | grep . | tr '\n' ' ')
		if [ -n "$leaked" ]; then
			echo "FAIL leftovers: the integration suites left behind: $leaked" | relay
		else
			echo "PASS leftovers" | relay
		fi
	fi

	if [ "$vm" = 1 ]; then
		echo "== second kernel (qemu)"
		if [ ! -x "$TOP/scripts/vm-check.sh" ]; then
			echo "FAIL vm: scripts/vm-check.sh is missing" | relay
		else
			"$TOP/scripts/vm-check.sh" 2>&1 | relay
			rc=${PIPESTATUS[0]}
			[ "$rc" = 0 ] || grep -q '^FAIL vm' "$results" || \
				echo "FAIL vm/lane: the VM lane exited $rc (see build/vm/console.log)" | relay
		fi
	fi
fi

passed=$(grep -c '^PASS ' "$results")
failed=$(grep -c '^FAIL ' "$results")
skipped=$(grep -c '^SKIP ' "$results")
if [ $((passed + failed + skipped)) = 0 ]; then
	echo "run.sh: no test ran" >&2
	failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
