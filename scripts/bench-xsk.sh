#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# AF_XDP receive on a tap against the XDP_DROP floor, in one run (the
# machine is noisy: only ratios within a run mean anything). tf-load is the
# backend writing 64-byte frames, one thread per queue; the receiver is
# tf-xsk on libtapflow's tf_xsk_* API, its sockets in the fast path's XSKMAP
# behind an "all" AF_XDP rule. For 1 and 2 queues:
#   floor      tf-load write() pps with an XDP program that drops everything
#   AF_XDP     frames/s the sockets received, need_wakeup on and off
# Prints a markdown table. Options: --duration S (default 3), --queues "1 2",
# --rounds N (1..5, default 3: every point once per round, medians shown),
# --prog fastpath|test: whose XSKMAP the sockets sit in (default fastpath;
# the fast path serves one network namespace at a time, so when another is
# using it the run falls back to tests/progs/xsk_all, a redirect-all program,
# and says so).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
DUR=3
QLIST="1 2"
PROG=fastpath
ROUNDS=3	# every point once per round, in turn; the table shows medians
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DUR=$2; shift ;;
	--queues) QLIST=$2; shift ;;
	--prog) PROG=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	*) echo "bench-xsk: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
case $ROUNDS in [1-5]) ;; *) echo "bench-xsk: --rounds: '$ROUNDS' is not 1 to 5" >&2; exit 2 ;; esac
for t in "$B/tapflow" "$B/tests/tf-load" "$B/tests/tf-xsk"; do
	[ -x "$t" ] || { echo "bench-xsk: $t is missing (make all)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench-xsk: needs root" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

NS=bxsk$$
TAP=bxt$$
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	ip netns exec "$NS" "$B/tapflow" fastpath off "$TAP" >/dev/null 2>&1
	ip -n "$NS" link del "$TAP" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
run() { nsenter --net="/run/netns/$NS" -- "$@"; }
num() { grep -o "\"$1\":[0-9.]*" | tail -1 | cut -d: -f2; }

# floor Q: tf-load's write rate with XDP_DROP on the tap.
floor() {
	local q=$1 out
	# Not through run(): a backgrounded function is a subshell, and kill must reach tf-xsk.
	nsenter --net="/run/netns/$NS" -- "$B/tests/tf-xsk" --dev "$TAP" --queues "$q" \
		--test-prog --drop --duration $((DUR + 3)) >/dev/null &
	local holder=$!
	sleep 0.5
	out=$(run "$B/tests/tf-load" --dev "$TAP" --queues "$q" --write --duration "$DUR")
	kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
	num tx_pps <<< "$out"
}

# afxdp Q [--no-need-wakeup]: frames/s received by the sockets while
# tf-load writes flat out (the writer starts first: sockets bind to attached
# queues only, so the first half second is not measured).
afxdp() {
	local q=$1; shift
	local out
	nsenter --net="/run/netns/$NS" -- "$B/tests/tf-load" --dev "$TAP" --queues "$q" \
		--write --duration $((DUR + 2)) >/dev/null &
	local writer=$!
	sleep 0.5
	out=$(run "$B/tests/tf-xsk" --dev "$TAP" --queues "$q" --duration "$DUR" "$@" \
		$([ "$PROG" = test ] && echo --test-prog))
	wait "$writer"
	num rx_pps <<< "$out"
}

# shellcheck source=scripts/bench-lib.sh
. "$TOP/scripts/bench-lib.sh"

declare -A R
for q in $QLIST; do
	run "$B/tapflow" delete --force "$TAP" >/dev/null 2>&1
	run "$B/tapflow" create --queues "$q" "$TAP" >/dev/null || exit 1
	for r in $(seq "$ROUNDS"); do
		R[floor$q,$r]=$(floor "$q")
		# the bound: tests/progs/xsk_all redirects every frame, no lookup, no counter
		R[bare$q,$r]=$(afxdp "$q" --test-prog)
		if [ "$PROG" = fastpath ] && ! run "$B/tapflow" fastpath on "$TAP" >/dev/null; then
			echo "bench-xsk: fast path busy elsewhere; using the test program" >&2
			PROG=test
		fi
		[ "$PROG" = fastpath ] && { run "$B/tapflow" fastpath rule add "$TAP" --all >/dev/null || exit 1; }
		R[on$q,$r]=$(afxdp "$q")
		R[off$q,$r]=$(afxdp "$q" --no-need-wakeup)
		run "$B/tapflow" fastpath off "$TAP" >/dev/null
	done
	for k in floor bare on off; do
		R[$k$q]=$(median "${R[$k$q,1]}" "${R[$k$q,2]:-}" "${R[$k$q,3]:-}" "${R[$k$q,4]:-}" "${R[$k$q,5]:-}")
	done
done

mpps() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "AF_XDP receive on a tap, 64-byte frames, $(nproc) CPUs, ${DUR}s per point, medians of $ROUNDS rounds, $(uname -r)," \
     "XSKMAP of $([ "$PROG" = test ] && echo "the redirect-all test program" || echo "the fast path (rule: all)")"
echo
echo "| queues | XDP_DROP floor (Mpps) | bare XSKMAP program (Mpps) | ratio | AF_XDP, need_wakeup on (Mpps) | ratio | / bare | AF_XDP, need_wakeup off (Mpps) | ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for q in $QLIST; do
	echo "| $q | $(mpps "${R[floor$q]}") | $(mpps "${R[bare$q]}") | $(ratio "${R[bare$q]}" "${R[floor$q]}") | $(mpps "${R[on$q]}") | $(ratio "${R[on$q]}" "${R[floor$q]}") | $(ratio "${R[on$q]}" "${R[bare$q]}") | $(mpps "${R[off$q]}") | $(ratio "${R[off$q]}" "${R[floor$q]}") |"
done
echo
echo "The bare program (tests/progs/xsk_all: every frame to its queue's socket, no lookup, no"
echo "counter, need_wakeup on) bounds what any program can deliver to AF_XDP on a tap here."
if [[ " $QLIST " == *" 1 "* && " $QLIST " == *" 2 "* ]]; then
	echo
	echo "Scaling, 2 queues / 1: floor $(ratio "${R[floor2]}" "${R[floor1]}")x," \
	     "AF_XDP (need_wakeup on) $(ratio "${R[on2]}" "${R[on1]}")x."
fi
