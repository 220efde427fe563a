#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# What a capture costs the tap it runs on, in one run (the machine is
# noisy: only ratios within a run mean anything). The tap is traced
# (`tapflow trace start`) throughout; each path is measured with no
# capture, with `tapflow capture -w /dev/null` (every packet copied to user
# space) and with `tapflow capture --drops` (nothing drops: the programs run
# but copy nothing):
#   rx  tf-load writes 64-byte frames into the tap, the host stack drops them
#   tx  tf-udpsend sends UDP datagrams from the host, a tf-load backend reads
# Prints a markdown table with ratios to the uncaptured rate, then where a
# --drops capture's time goes on the tx path: one more tx run with the
# kernel's BPF run-time statistics on (kernel.bpf_stats_enabled, restored
# after; they cost a clock read per program run, so that run is not one of
# the ratios), each capture program's runs and ns per run.
# Options: --duration S (rx run length, default 3), --count N (tx datagrams,
# default 200000), --reps R (each measurement R times, interleaved, the
# median kept; default 3), --compare TAPFLOW (also `--drops` with another
# build of tapflow, e.g. main's, in the same run: a column of its own, and
# its programs' statistics beside these).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
DUR=3
N=200000
REPS=3
OTHER=
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DUR=$2; shift ;;
	--count) N=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--compare) OTHER=$2; shift ;;
	*) echo "bench-capture: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
for t in "$B/tapflow" "$B/tests/tf-load" "$B/tests/tf-udpsend"; do
	[ -x "$t" ] || { echo "bench-capture: $t is missing (make all)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench-capture: needs root" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

NS=bcap$$
TAP=bct$$
CAP=
STARTS=/tmp/bcapstart$$
: > "$STARTS"
cleanup() {
	rm -f "$STARTS"
	[ -n "$CAP" ] && kill -INT "$CAP" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	run "$B/tapflow" trace stop "$TAP" >/dev/null 2>&1
	ip -n "$NS" link del "$TAP" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
run() { nsenter --net="/run/netns/$NS" -- "$@"; }
trap cleanup EXIT
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
run "$B/tapflow" create "$TAP" --queues 1 --txqueuelen 4096 >/dev/null || exit 1
run ip addr add 198.18.0.1/24 dev "$TAP"
run ip neigh replace 198.18.0.2 lladdr 02:00:00:00:01:00 dev "$TAP" nud permanent
run "$B/tapflow" trace start "$TAP" >/dev/null || exit 1
num() { grep -o "\"$1\":[0-9.]*" | tail -1 | cut -d: -f2; }

# capture_on [--with TAPFLOW] ARGS: a capture in the background, listening
# before we go on
capture_on() {
	local bin=$B/tapflow
	[ "${1:-}" = --with ] && { bin=$2; shift 2; }
	nsenter --net="/run/netns/$NS" -- "$bin" capture "$TAP" "$@" -w /dev/null \
		2> "/tmp/bcap$$.err" &
	CAP=$!
	local t0=${EPOCHREALTIME/./}
	for _ in $(seq 500); do
		if grep -q listening "/tmp/bcap$$.err"; then
			# (a file: measure runs in a command substitution)
			echo $(((${EPOCHREALTIME/./} - t0) / 1000)) >> "$STARTS"
			return 0
		fi
		sleep 0.01
	done
	echo "bench-capture: capture did not start: $(cat "/tmp/bcap$$.err")" >&2
	exit 1
}
capture_off() {
	[ -n "$CAP" ] && { kill -INT "$CAP"; wait "$CAP" 2>/dev/null; }
	CAP=
	rm -f "/tmp/bcap$$.err"
}

rx_pps() { run "$B/tests/tf-load" --dev "$TAP" --write --duration "$DUR" | num tx_pps; }

tx_pps() {
	local t0 t1
	nsenter --net="/run/netns/$NS" -- "$B/tests/tf-load" --dev "$TAP" --read --idle-ms 1000 >/dev/null &
	local rd=$!
	sleep 0.3
	t0=$(date +%s.%N)
	run "$B/tests/tf-udpsend" 198.18.0.1 9 198.18.0.2 20000 "$N" >/dev/null
	t1=$(date +%s.%N)
	wait "$rd"
	echo "$N / ($t1 - $t0)" | bc -l
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# one measurement of path under a capture mode: off, all, drops, other
measure() {
	local path=$1 mode=$2 v
	case $mode in
	all) capture_on ;;
	drops) capture_on --drops ;;
	other) capture_on --with "$OTHER" --drops ;;
	esac
	v=$(${path}_pps)
	[ "$mode" = off ] || capture_off
	echo "$v"
}

modes="off all drops"
[ -n "$OTHER" ] && modes="$modes other"
declare -A R S
for path in rx tx; do
	for ((i = 0; i < REPS; i++)); do
		for m in $modes; do
			S[$path,$m]+="$(measure "$path" "$m") "
		done
	done
	for m in $modes; do
		R[$path,$m]=$(tr ' ' '\n' <<<"${S[$path,$m]}" | grep . | median)
	done
done

# profile: one tx run under a --drops capture with BPF statistics on
stats_was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
prof=""
# profile LABEL [--with TAPFLOW]: REPS tx runs, each capture program's runs
# and ns per run, the least of the runs (interrupts and preemption inside a
# program's run count in its time: the least is the closest to its own)
profile() {
	local label=$1; shift
	for ((i = 0; i < REPS; i++)); do
		capture_on "$@" --drops
		tx_pps >/dev/null
		bpftool -j prog show | jq -r '.[] | select(.name | startswith("cap_")) |
			"\(.name) \(.run_cnt // 0) \(.run_time_ns // 0)"'
		capture_off
	done | awk -v l="$label" -v n="$N" '
		{ ns = $2 ? $3 / $2 : 0; if (!($1 in best) || ns < best[$1]) { best[$1] = ns; runs[$1] = $2 } ; order[$1] = ++k }
		END { for (p in best) printf "| %s | %s | %d | %.0f | %.0f |\n", l, p, runs[p], best[p], best[p] * runs[p] / n }' | sort
}
if sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null; then
	prof=$(profile "this build")
	[ -n "$OTHER" ] && prof+=$'\n'$(profile "$OTHER" --with "$OTHER")
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
fi

ratio() { [ -n "$1" ] && [ -n "$2" ] && echo "scale=3; $1 / $2" | bc -l || echo n/a; }
k() { printf '%.0f' "$(echo "$1 / 1000" | bc -l)"; }
echo "### tapflow capture on a traced tap, 1 queue ($(nproc) CPUs, one run, median of $REPS, load $(cut -d' ' -f1 /proc/loadavg))"
echo
echo "| path | no capture (kpps) | capture all (kpps, ratio) | capture --drops (kpps, ratio) |${OTHER:+ --drops, $OTHER (kpps, ratio) |}"
echo "|---|---|---|---|${OTHER:+---|}"
for path in rx tx; do
	echo "| $path | $(k "${R[$path,off]}") | $(k "${R[$path,all]}") ($(ratio "${R[$path,all]}" "${R[$path,off]}")) |" \
		"$(k "${R[$path,drops]}") ($(ratio "${R[$path,drops]}" "${R[$path,off]}")) |" \
		"${OTHER:+$(k "${R[$path,other]}") ($(ratio "${R[$path,other]}" "${R[$path,off]}")) |}"
done
echo
echo "rx: 64-byte frames a backend writes (the host stack drops them); tx: 60-byte UDP frames the host sends, a backend reads."
echo
echo "From starting \`tapflow capture\` to its \"listening on\" line (programs loaded and attached), over $(wc -l < "$STARTS") starts:" \
	"median $(median < "$STARTS") ms, at most $(sort -n "$STARTS" | tail -1) ms (goal: 1 s)."
if [ -n "$prof" ]; then
	echo
	echo "capture --drops on the tx path, BPF run-time statistics ($N datagrams, least of $REPS runs):"
	echo
	echo "| build | program | runs | ns per run | ns per datagram |"
	echo "|---|---|---|---|---|"
	echo "$prof"
fi
