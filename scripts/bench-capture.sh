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
# Prints a markdown table with ratios to the uncaptured rate.
# Options: --duration S (rx run length, default 3), --count N (tx datagrams,
# default 200000).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
DUR=3
N=200000
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DUR=$2; shift ;;
	--count) N=$2; shift ;;
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
cleanup() {
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

# capture_on ARGS: a capture in the background, listening before we go on
capture_on() {
	nsenter --net="/run/netns/$NS" -- "$B/tapflow" capture "$TAP" "$@" -w /dev/null \
		2> "/tmp/bcap$$.err" &
	CAP=$!
	for _ in $(seq 100); do grep -q listening "/tmp/bcap$$.err" && return 0; sleep 0.02; done
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

declare -A R
for path in rx tx; do
	R[$path,off]=$(${path}_pps)
	capture_on
	R[$path,all]=$(${path}_pps)
	capture_off
	capture_on --drops
	R[$path,drops]=$(${path}_pps)
	capture_off
done

ratio() { [ -n "$1" ] && [ -n "$2" ] && echo "scale=3; $1 / $2" | bc -l || echo n/a; }
k() { printf '%.0f' "$(echo "$1 / 1000" | bc -l)"; }
echo "### tapflow capture on a traced tap, 1 queue ($(nproc) CPUs, one run)"
echo
echo "| path | no capture (kpps) | capture all (kpps, ratio) | capture --drops (kpps, ratio) |"
echo "|---|---|---|---|"
for path in rx tx; do
	echo "| $path | $(k "${R[$path,off]}") | $(k "${R[$path,all]}") ($(ratio "${R[$path,all]}" "${R[$path,off]}")) |" \
		"$(k "${R[$path,drops]}") ($(ratio "${R[$path,drops]}" "${R[$path,off]}")) |"
done
echo
echo "rx: 64-byte frames a backend writes (the host stack drops them); tx: 60-byte UDP frames the host sends, a backend reads."
