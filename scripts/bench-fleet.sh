#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Fleet benchmark (`make bench`): what following and many traced taps cost.
# In a namespace made for the run: (1) the time from `tapflow create`
# returning to the tap's first series in an exporter following by pattern
# (--trace); (2) the time to start tracing NTAPS taps in one `trace start`;
# (3) the write rate into one busy traced tap with 1 and with NTAPS traced
# (idle) taps; (4) one scrape's read+render time (tapflow_scrape_duration_
# seconds, median of N) and the exporter's RSS at NTAPS x 1 and NTAPS x 16
# queues, for each --histograms mode. NTAPS is 64: tracing's limit until the
# layout for thousands (README, Fleet mode) is built. Markdown on stdout.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=${TAPFLOW:-$TOP/build/tapflow}
TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}
NTAPS=${NTAPS:-64}
N=${N:-15}
PORT=10725

[ "$(id -u)" = 0 ] || { echo "bench-fleet.sh: needs root (netns, taps, BPF)" >&2; exit 1; }
NS=tfbf$$
TMP=$(mktemp -d)
EXP=
cleanup() {
	[ -n "$EXP" ] && kill "$EXP" 2>/dev/null
	wait 2>/dev/null
	tf trace stop --all >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
tf() { nsenter --net="/run/netns/$NS" -- "$TAPFLOW" "$@"; }
nsrun() { nsenter --net="/run/netns/$NS" -- "$@"; }
say() { echo "bench-fleet: $*" >&2; }
ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "n/a") }'; }
start_exporter() {
	# nsenter execs tapflow, so $! is the exporter itself (a function would be a subshell)
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" export "$@" > "$TMP/exp.log" 2>&1 &
	EXP=$!
	for ((i = 0; i < 200; i++)); do nsrun curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.02; done
	echo "exporter did not start: $(cat "$TMP/exp.log")" >&2; exit 1
}
stop_exporter() { kill "$EXP"; wait "$EXP" 2>/dev/null; EXP=; }

ip netns add "$NS" && ip -n "$NS" link set lo up || exit 1

# ---- (1) creation to first series -----------------------------------------
say "creation -> first exported series, $N taps"
start_exporter --trace 'bf*'
for ((k = 0; k < N; k++)); do
	tf create "bf$k" >/dev/null || exit 1
	t0=$(ms)
	until nsrun curl -s "http://127.0.0.1:$PORT/metrics" | grep -q "^tapflow_info{tap=\"bf$k\""; do sleep 0.005; done
	echo $(($(ms) - t0)) >> "$TMP/follow"
done
stop_exporter
for ((k = 0; k < N; k++)); do tf delete "bf$k" >/dev/null; done
tf trace stop --all >/dev/null 2>&1

# ---- (2) start tracing NTAPS taps, (3) one busy tap beside idle ones -------
names=()
for ((k = 0; k < NTAPS; k++)); do names+=("bt$k"); tf create "bt$k" --queues 16 >/dev/null || exit 1; done
rate() {	# tx_pps of 2 s of writes into bt0, 1 queue
	nsrun "$TFLOAD" --dev bt0 --queues 1 --duration 2 --size 64 2>/dev/null |
		sed -n 's/.*"tx_pps": *\([0-9.]*\).*/\1/p' | head -1
}
tf trace start bt0 >/dev/null
r1=$(rate)
t0=$(ms); tf trace start "${names[@]:1}" >/dev/null; tstart=$(($(ms) - t0))
rn=$(rate)

# ---- (4) scrape cost per histogram mode --------------------------------------
scrape_cost() {	# MODE -> "median_ms rss_mib series"
	start_exporter --histograms "$1"
	for ((k = 0; k < N; k++)); do
		nsrun curl -s "http://127.0.0.1:$PORT/metrics" > "$TMP/m"
		sed -n 's/^tapflow_scrape_duration_seconds \(.*\)/\1/p' "$TMP/m" | awk '{ printf "%.3f\n", $1 * 1000 }'
	done > "$TMP/d"
	echo "$(median < "$TMP/d") $(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$EXP/status") $(grep -vc '^#' "$TMP/m")"
	stop_exporter
}
declare -A R
for q in 16 1; do
	if [ "$q" = 1 ]; then	# same taps, re-made with one queue
		tf trace stop --all >/dev/null
		for ((k = 0; k < NTAPS; k++)); do tf delete "bt$k" >/dev/null; tf create "bt$k" >/dev/null; done
		tf trace start "${names[@]}" >/dev/null
	fi
	for m in queue tap off; do say "scrape $NTAPS x $q, --histograms $m"; R[$q,$m]=$(scrape_cost $m); done
done

echo "### Fleet: following and many traced taps ($(nproc) CPUs, $(uname -r), one run)"
echo
echo "| what | figure |"
echo "|---|---:|"
echo "| tap created -> its first series in an exporter following by pattern, median of $N (ms) | $(median < "$TMP/follow") |"
echo "| ... the slowest of $N (ms) | $(sort -n "$TMP/follow" | tail -1) |"
echo "| start tracing $((NTAPS - 1)) taps x 16 queues in one trace start (ms) | $tstart |"
echo "| write rate into one traced tap, 1 tap traced (Mpps) | $(awk -v r="$r1" 'BEGIN { printf "%.3f", r / 1e6 }') |"
echo "| ... with $NTAPS taps traced, the others idle (Mpps) | $(awk -v r="$rn" 'BEGIN { printf "%.3f", r / 1e6 }') |"
echo "| ratio $NTAPS / 1 | $(awk -v a="$rn" -v b="$r1" 'BEGIN { printf "%.2f", b ? a / b : 0 }') |"
echo
echo "| taps x queues | --histograms | read+render (ms, median of $N) | RSS (MiB) | series |"
echo "|---|---|---:|---:|---:|"
for q in 16 1; do for m in queue tap off; do
	read -r d r s <<< "${R[$q,$m]}"
	echo "| $NTAPS x $q | $m | $d | $r | $s |"
done; done
