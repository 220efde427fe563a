#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Fleet benchmark (`make bench`): what following and thousands of traced
# taps cost, in a namespace made for the run:
#   (1) one busy traced tap beside 1 and NTAPS (4096) traced taps, the others
#       idle, side by side in the order 1, NTAPS, 1: the write rate into it, and the tracing programs' run time per frame as the
#       kernel counts it (BPF run-time statistics over a window, `trace
#       status --bpf-stats`), the figure the machine's load moves least;
#   (2) the time to start (and stop) tracing NTAPS - 1 taps in one command
#       (on the tracepoint rung each tap's tcx link is most of it: the kernel
#       waits for an RCU grace period under rtnl for every attach);
#   (3) the memory of tracing's maps at NTAPS single-queue taps (bpftool's
#       memlock; per-CPU maps scale with the CPUs);
#   (4) one scrape's read+render time (tapflow_scrape_duration_seconds,
#       median of N) and the exporter's RSS and fds at NTAPS x 1 and NQ16
#       (256) x 16 queues, for each --histograms mode;
#   (5) the time from `tapflow create` returning to the tap's first series
#       in an exporter following by pattern (--trace) the NTAPS - N traced
#       taps too (its start dump: thousands of matching taps traced already),
#       and the time that exporter took to answer.
# The NTAPS single-queue taps are made by `ip tuntap` (one `ip -batch`:
# tapflow's own create is a process and an alias per tap); the 16-queue
# ones by `tapflow create --queues 16`, whose configured queues the export
# lists. Markdown on stdout.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=${TAPFLOW:-$TOP/build/tapflow}
TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}
NTAPS=${NTAPS:-4096}
NQ16=${NQ16:-256}
N=${N:-15}
PORT=10725

[ "$(id -u)" = 0 ] || { echo "bench-fleet.sh: needs root (netns, taps, BPF)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench-fleet.sh: needs jq" >&2; exit 1; }
NS=tfbf$$
TMP=$(mktemp -d)
EXP=
cleanup() {
	[ -n "$EXP" ] && kill "$EXP" 2>/dev/null
	wait 2>/dev/null
	tf trace stop --all >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null	# takes its taps with it
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
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" ${XV:-} export "$@" > "$TMP/exp.log" 2>&1 &
	EXP=$!
	for ((i = 0; i < 500; i++)); do nsrun curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.02; done
	echo "exporter did not start: $(cat "$TMP/exp.log")" >&2; exit 1
}
stop_exporter() { kill "$EXP"; wait "$EXP" 2>/dev/null; EXP=; }
batch() {	# VERB FIRST LAST: ip -batch of `tuntap VERB dev btK mode tap`
	for ((k = $2; k <= $3; k++)); do echo "tuntap $1 dev bt$k mode tap"; done > "$TMP/batch"
	# -force: a deletion goes on past taps (5) deleted already
	ip -n "$NS" $([ "$1" = del ] && echo -force) -batch "$TMP/batch"
}

ip netns add "$NS" && ip -n "$NS" link set lo up || exit 1

# ---- (1), (2): one busy tap beside 1 and NTAPS traced taps ------------------
say "making $NTAPS taps"
t0=$(ms); batch add 0 $((NTAPS - 1)) || exit 1; tmake=$(($(ms) - t0))
ip -n "$NS" link set bt0 up
names=()
for ((k = 1; k < NTAPS; k++)); do names+=("bt$k"); done
# busy: 3 s of 64-byte writes into bt0's one queue; the tracing programs'
# run time over 2 s of it. Prints "mpps ns_per_frame_tc_rx ns_per_frame_all".
busy() {
	nsrun "$TFLOAD" --dev bt0 --queues 1 --duration 3 --size 64 > "$TMP/load.json" 2>/dev/null &
	local lp=$!
	sleep 0.5
	tf trace status --bpf-stats --window 2 --json > "$TMP/st.json" 2>/dev/null
	wait $lp
	local pps
	pps=$(sed -n 's/.*"tx_pps": *\([0-9.]*\).*/\1/p' "$TMP/load.json" | head -1)
	jq -r --arg pps "${pps:-0}" '.bpf_stats.programs as $p
		| ([$p[] | select(.program == "tc_rx" or .program == "tp_netif_receive_skb_entry"
			or .program == "fentry_tun_get_user" or .program == "kprobe_tun_get_user") | .runs] | max // 0) as $frames
		| ([$p[] | select(.program == "tc_rx") | .ns_per_run] | first // 0) as $rx
		| ([$p[] | .run_ns] | add // 0) as $all
		| "\(($pps | tonumber) / 1e6) \($rx) \(if $frames > 0 then $all / $frames else 0 end)"' "$TMP/st.json"
}
tf trace start bt0 >/dev/null || exit 1
say "bt0 traced alone"
B1a=$(busy)
say "tracing $((NTAPS - 1)) more taps"
t0=$(ms); tf trace start "${names[@]}" >/dev/null || exit 1; tstart=$(($(ms) - t0))
BN=$(busy)
# (3) at NTAPS single-queue taps
# by pin: other tracing sessions on the host have maps of the same names
for m in traced slot_rows qcount hists qextra hextra rings; do
	bpftool map show pinned "/sys/fs/bpf/tapflow/trace/$m" -j 2>/dev/null |
		jq -r --arg m "$m" '"\($m) \(.bytes_memlock // 0) \(.max_entries) \(.type)"'
done > "$TMP/maps"
# one tap's ring-record map (slot 0: bt0's), times the taps
rid=$(bpftool map lookup pinned /sys/fs/bpf/tapflow/trace/rings key 0 0 0 0 -j 2>/dev/null |
	jq -r '.value | map(ltrimstr("0x") | explode | map(if . >= 97 then . - 87 else . - 48 end) | .[0] * 16 + .[1])
		| .[0] + 256 * .[1] + 65536 * .[2] + 16777216 * .[3]')
bpftool map show id "$rid" -j 2>/dev/null |
	jq -r --arg n "$NTAPS" '"tf_ring \(.bytes_memlock * ($n | tonumber)) \(.max_entries) \(.type)"' >> "$TMP/maps"

# ---- (4) scrape cost per histogram mode -----------------------------------
scrape_cost() {	# MODE -> "median_ms rss_mib series fds"
	start_exporter --histograms "$1"
	for ((k = 0; k < N; k++)); do
		nsrun curl -s "http://127.0.0.1:$PORT/metrics" > "$TMP/m"
		sed -n 's/^tapflow_scrape_duration_seconds \(.*\)/\1/p' "$TMP/m" | awk '{ printf "%.3f\n", $1 * 1000 }'
	done > "$TMP/d"
	echo "$(median < "$TMP/d") $(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$EXP/status") $(grep -vc '^#' "$TMP/m") $(ls "/proc/$EXP/fd" | wc -l)"
	stop_exporter
}
declare -A R
for m in queue tap off; do say "scrape $NTAPS x 1, --histograms $m"; R[1,$m]=$(scrape_cost $m); done

# ---- (5) creation to first series, NTAPS taps traced ------------------------
# room for the N new ones: NTAPS - N traced before (the last N bt taps
# stopped and deleted), NTAPS at the end; the exporter follows the traced
# bt taps too, so its start dump holds NTAPS - N matching traced taps
say "creation -> first exported series, $N taps, $((NTAPS - N))..$NTAPS traced and followed"
tf trace stop "${names[@]: -$N}" >/dev/null || exit 1
batch del $((NTAPS - N)) $((NTAPS - 1)) || exit 1
t0=$(ms); XV=-v start_exporter --trace 'bt*' --trace 'bf*'; tanswer=$(($(ms) - t0))
for ((k = 0; k < N; k++)); do
	tf create "bf$k" >/dev/null || exit 1
	t0=$(ms)
	# not curl | grep -q: under pipefail curl's SIGPIPE, when grep stops
	# reading at its match, fails the test however early the series came
	until nsrun curl -s -o "$TMP/f" "http://127.0.0.1:$PORT/metrics" &&
	      grep -q "^tapflow_info{tap=\"bf$k\"" "$TMP/f"; do
		if [ $(($(ms) - t0)) -ge 60000 ]; then
			say "bf$k not exported after 60 s (exporter log kept in /tmp/bench-fleet-exp.log)"
			cp "$TMP/exp.log" /tmp/bench-fleet-exp.log
			echo 60000+ >> "$TMP/follow"
			break
		fi
		sleep 0.005
	done
	[ $(($(ms) - t0)) -lt 60000 ] && echo $(($(ms) - t0)) >> "$TMP/follow"
done
stop_exporter
for ((k = 0; k < N; k++)); do tf delete "bf$k" >/dev/null; done

# ---- (1) again: bt0 alone, after the others stop -------------------------------
say "stopping $((NTAPS - 1)) taps"
t0=$(ms); tf trace stop "${names[@]:0:$((NTAPS - 1 - N))}" >/dev/null || exit 1; tstop=$(($(ms) - t0))
say "bt0 traced alone again"
B1b=$(busy)

# ---- (4) again at NQ16 x 16 ------------------------------------------------
tf trace stop --all >/dev/null
batch del 0 $((NTAPS - 1)) || exit 1
say "making $NQ16 taps x 16 queues"
q16=()
for ((k = 0; k < NQ16; k++)); do q16+=("bq$k"); tf create "bq$k" --queues 16 >/dev/null || exit 1; done
tf trace start "${q16[@]}" >/dev/null || exit 1
for m in queue tap off; do say "scrape $NQ16 x 16, --histograms $m"; R[16,$m]=$(scrape_cost $m); done
tf trace stop --all >/dev/null
for ((k = 0; k < NQ16; k++)); do tf delete "bq$k" >/dev/null; done

# ---- the report ---------------------------------------------------------------
f3() { awk -v v="$1" 'BEGIN { printf "%.3f", v }'; }
f1() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }
col() { echo "$1" | cut -d' ' -f"$2"; }
mean2() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a + b) / 2 }'; }
echo "### Fleet: following and thousands of traced taps ($(nproc) CPUs, $(uname -r), one run, load $(cut -d' ' -f1 /proc/loadavg))"
echo
echo "One busy tap (64-byte writes into 1 queue, tracepoint rung unless the host has another) beside 1 and $NTAPS traced taps, the others idle, in the order 1, $NTAPS, 1 (tracing's run time: \`trace status --bpf-stats\` over 2 s of it):"
echo
echo "| traced taps | write rate (Mpps) | tc_rx ns/frame | all tracing programs, ns/frame |"
echo "|---:|---:|---:|---:|"
for v in "1 $B1a" "$NTAPS $BN" "1 $B1b"; do
	echo "| $(col "$v" 1) | $(f3 "$(col "$v" 2)") | $(f1 "$(col "$v" 3)") | $(f1 "$(col "$v" 4)") |"
done
r1=$(mean2 "$(col "$B1a" 1)" "$(col "$B1b" 1)"); rn=$(col "$BN" 1)
c1=$(mean2 "$(col "$B1a" 3)" "$(col "$B1b" 3)"); cn=$(col "$BN" 3)
echo
echo "| what | figure |"
echo "|---|---:|"
echo "| write rate, $NTAPS traced / 1 traced (the mean of the two) | $(awk -v a="$rn" -v b="$r1" 'BEGIN { printf "%.2f", b ? a / b : 0 }') |"
echo "| tracing ns per frame, $NTAPS traced / 1 traced (the mean of the two) | $(awk -v a="$cn" -v b="$c1" 'BEGIN { printf "%.2f", b ? a / b : 0 }') |"
echo "| tracing ns per frame, the two runs with 1 traced / each other (the noise) | $(awk -v a="$(col "$B1b" 3)" -v b="$(col "$B1a" 3)" 'BEGIN { printf "%.2f", b ? a / b : 0 }') |"
echo "| make $NTAPS taps (one ip -batch, ms) | $tmake |"
echo "| start tracing $((NTAPS - 1)) taps in one trace start (ms) | $tstart |"
echo "| stop tracing $((NTAPS - 1 - N)) taps in one trace stop (ms) | $tstop |"
echo "| tap created -> its first series in an exporter following by pattern (the traced taps too), $((NTAPS - N))..$NTAPS traced, median of $N (ms) | $(median < "$TMP/follow") |"
echo "| ... the slowest of $N (ms) | $(sort -n "$TMP/follow" | tail -1) |"
echo "| that exporter, started over $((NTAPS - N)) matching traced taps: start to answering (ms) | $tanswer |"
echo
echo "Tracing's maps at $NTAPS single-queue taps (bpftool memlock, $(nproc) CPUs):"
echo
echo "| map | type | entries | memlock (KiB) |"
echo "|---|---|---:|---:|"
for m in traced slot_rows qcount hists qextra hextra rings; do
	awk -v m="$m" '$1 == m { printf "| %s | %s | %s | %.0f |\n", $1, $4, $3, $2 / 1024; exit }' "$TMP/maps"
done
awk -v n="$NTAPS" '$1 == "tf_ring" { printf "| ring records: %s maps of %s (one per tap) | %s | %s each | %.0f |\n", n, $1, $4, $3, $2 / 1024 }' "$TMP/maps"
echo
echo "| taps x queues | --histograms | read+render (ms, median of $N) | exporter peak RSS (MiB) | fds | series |"
echo "|---|---|---:|---:|---:|---:|"
for q in 1 16; do for m in queue tap off; do
	read -r d r s fd <<< "${R[$q,$m]}"
	echo "| $([ "$q" = 1 ] && echo "$NTAPS x 1" || echo "$NQ16 x 16") | $m | $d | $r | $fd | $s |"
done; done
