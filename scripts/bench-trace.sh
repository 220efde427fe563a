#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench-trace.sh: what tracing costs a packet, against its floor. On every
# path below, in ONE run (the machine is noisy: only figures of the same
# run compare), pps with:
#   off       no tracing
#   old-empty empty programs on the hooks tracing used before (7 global
#             tracepoints: netif_receive_skb_entry, netif_rx_entry,
#             net_dev_start_xmit, net_dev_xmit, kfree_skb, consume_skb,
#             xdp_devmap_xmit): what every packet of the host paid then
#   empty     empty programs of the same types on the same attach points as
#             the tracing rung tapflow runs here (tests/tf-empty-trace): the
#             floor of the hooks themselves
#   tapflow   tapflow trace start on the traced taps
#   bpftrace  a bpftrace script on net_dev_start_xmit/net_dev_xmit/
#             consume_skb/netif_receive_skb (classic tracepoints)
# and reports ns per packet each adds over off, and tapflow / empty.
#
#   rx       a backend writes into traced tap R (tun_get_user, no XDP)
#   tx       the host forwards to traced tap T, T's backend reads
#            (a backend writes into untraced tap S, routed to T)
#   bridge   traced tap A -> Linux bridge -> traced tap B, B's backend reads
#   fastpath A' -> tapflow fast path (XDP DEVMAP) -> traced tap B', read
#   untraced a backend writes into tap U, which nobody traces, while the
#            others are traced
#
# Every case runs once per round in turn, ROUNDS rounds; the tables show
# medians. 64-byte frames, 1 queue; writer on CPU 0, reader on CPU 1.
#
# Then ns per run, per hook, from the kernel's BPF run-time statistics
# (tests/tf-bpfstats, on only while each case runs), far less noisy than
# pps on a loaded machine: on each path, in the same rounds,
#   empty     the empty programs above
#   bound     tests/progs/trace_bound: on the same hooks, only the memory
#             accesses the features need (the tap's queue, its ring's
#             producer and consumer indices, one 16-byte record per packet,
#             one ring-wait bucket, per-CPU counters), none of tapflow's
#             bookkeeping: the floor of a per-queue count with ring wait
#   tapflow   tapflow's own programs
#   before    (with TAPFLOW_BEFORE=another tapflow binary) that one's, e.g.
#             a build of the main branch, for a before/after in one run
# and tapflow / empty, tapflow / bound per hook.
#
# Usage: scripts/bench-trace.sh [--duration S] [--rounds N] [--ns-only]
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=${TAPFLOW:-$TOP/build/tapflow}
TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}
EMPTY=${EMPTY:-$TOP/build/tests/tf-empty-trace}
BPFSTATS=${BPFSTATS:-$TOP/build/tests/tf-bpfstats}
DUR=2
ROUNDS=3
NS_ONLY=0
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DUR=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--ns-only) NS_ONLY=1 ;;
	*) echo "bench-trace: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
# shellcheck source=scripts/bench-lib.sh
. "$TOP/scripts/bench-lib.sh"
bench_rounds bench-trace "$ROUNDS"
bench_need bench-trace "$TAPFLOW" "$TFLOAD" "$EMPTY" "$BPFSTATS"

NS=tfbt$$-$RANDOM
SFX=$(printf '%x' $((RANDOM % 4096)))
R=tr$SFX U=tu$SFX S=ts$SFX T=tt$SFX A=ta$SFX B=tb$SFX FA=tfa$SFX FB=tfb$SFX BR=tbr$SFX
TRACED="$R $T $A $B $FB"
MAC_B=02:00:00:00:0b:01 MAC_FB=02:00:00:00:0b:02 MAC_T=02:00:00:00:0c:02
RING=4096
TMP=$(mktemp -d)
EPID='' BTPID='' SPID=''

cleanup() {
	set +e
	[ -n "$EPID" ] && kill "$EPID" 2>/dev/null
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	[ -n "$BTPID" ] && kill -INT "$BTPID" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	if [ -e "/run/netns/$NS" ]; then
		nsenter --net="/run/netns/$NS" -- "$TAPFLOW" trace stop --all >/dev/null 2>&1
		for d in $FA $FB; do nsenter --net="/run/netns/$NS" -- "$TAPFLOW" fastpath off "$d" >/dev/null 2>&1; done
		for d in $R $U $S $T $A $B $FA $FB; do ip -n "$NS" link del "$d" 2>/dev/null; done
		ip netns del "$NS"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench-trace: $*" >&2; }
tf()  { nsenter --net="/run/netns/$NS" -- "$TAPFLOW" "$@"; }
nsx() { nsenter --net="/run/netns/$NS" -- "$@"; }
load() { local cpu=$1; shift; nsenter --net="/run/netns/$NS" -- taskset -c "$cpu" "$TFLOAD" "$@"; }
READER_CPU=$(( $(nproc) > 1 ? 1 : 0 ))

ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.ip_forward=1
for d in $R $U $S $T $A $B; do tf create "$d" --queues 1 --txqueuelen "$RING" >/dev/null || exit 1; done
for d in $FA $FB; do tf create "$d" --queues 1 --txqueuelen "$RING" --fastpath >/dev/null || exit 1; done

# tx: S's backend writes to 198.18.20.2 through the host, which routes it to T
nsx ip addr add 198.18.10.1/24 dev "$S" && nsx ip addr add 198.18.20.1/24 dev "$T" &&
	nsx ip neigh replace 198.18.20.2 lladdr "$MAC_T" dev "$T" nud permanent || exit 1
MAC_S=$(nsx ip -j link show dev "$S" | jq -r '.[0].address')
# the bridge: A and B in it, MAC_B statically on B's port
nsx ip link add "$BR" type bridge && nsx ip link set "$A" master "$BR" &&
	nsx ip link set "$B" master "$BR" && nsx ip link set "$BR" up || exit 1
nsx bridge fdb add "$MAC_B" dev "$B" master static
# the fast path learns FB's guest MAC from a frame FB's backend writes
load 0 --dev "$FB" --count 1 --src-mac "$MAC_FB" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null

# write_pps DEV: flat-out writes, Mpps
write_pps() {
	load 0 --dev "$1" --duration "$DUR" --size 64 > "$TMP/w.json" || return 1
	jq '.tx_pps / 1e6' "$TMP/w.json"
}
# pair_pps WRITER READER [tf-load write options]: delivered Mpps (frames read per second of writing)
pair_pps() {
	local w=$1 r=$2 sec rx
	shift 2
	load "$READER_CPU" --dev "$r" --read --idle-ms 700 > "$TMP/r.json" &
	local reader=$!
	sleep 0.2
	load 0 --dev "$w" --duration "$DUR" --size 64 "$@" > "$TMP/w.json" || { kill $reader; return 1; }
	wait $reader
	sec=$(jq .seconds "$TMP/w.json")
	rx=$(jq .rx_frames "$TMP/r.json")
	echo "$rx / $sec / 1000000" | bc -l
}
measure() {	# measure PATH: Mpps
	case $1 in
	rx) write_pps "$R" ;;
	untraced) write_pps "$U" ;;
	tx) pair_pps "$S" "$T" --dst-mac "$MAC_S" --src-ip 198.18.10.2 --dst-ip 198.18.20.2 ;;
	bridge) pair_pps "$A" "$B" --dst-mac "$MAC_B" ;;
	fastpath) pair_pps "$FA" "$FB" --dst-mac "$MAC_FB" ;;
	esac
}

cat > "$TMP/peer.bt" <<'BT'
tracepoint:net:net_dev_start_xmit { @start[args->skbaddr] = nsecs; }
tracepoint:net:net_dev_xmit /@start[args->skbaddr]/ {
	@xmit_ns = hist(nsecs - @start[args->skbaddr]);
}
tracepoint:skb:consume_skb /@start[args->skbaddr]/ { delete(@start[args->skbaddr]); }
tracepoint:net:netif_receive_skb { @rx[str(args->name)] = count(); }
END { clear(@start); }
BT

empty_on() {	# empty_on SET [tcx taps]
	local set=$1 i
	shift
	local args=()
	for d in "$@"; do args+=(--tcx "$d"); done
	# nsenter execs the program: $! is tf-empty-trace itself, which kill stops
	nsenter --net="/run/netns/$NS" -- "$EMPTY" "$set" "${args[@]}" > "$TMP/empty.out" 2>&1 &
	EPID=$!
	for i in $(seq 50); do
		grep -q '^attached' "$TMP/empty.out" && return 0
		kill -0 "$EPID" 2>/dev/null || break
		sleep 0.1
	done
	say "empty programs did not attach: $(cat "$TMP/empty.out")"
	return 1
}
empty_off() { kill "$EPID" 2>/dev/null; wait "$EPID" 2>/dev/null; EPID=; }
bt_on() {
	bpftrace "$TMP/peer.bt" > "$TMP/bt.out" 2>&1 &
	BTPID=$!
	local i
	for i in $(seq 100); do
		grep -q '^Attaching' "$TMP/bt.out" 2>/dev/null && { sleep 0.5; return 0; }
		kill -0 "$BTPID" 2>/dev/null || break
		sleep 0.2
	done
	say "bpftrace did not attach: $(tail -3 "$TMP/bt.out" | tr '\n' ' ')"
	return 1
}
bt_off() { kill -INT "$BTPID" 2>/dev/null; wait "$BTPID" 2>/dev/null; BTPID=; }

MODES="off old-empty empty tapflow bpftrace"
PATHS="rx tx bridge fastpath untraced"
BACKEND=n/a
declare -A M
[ "$NS_ONLY" = 1 ] && MODES=
for r in $(seq "$ROUNDS"); do
	for mode in $MODES; do
		say "round $r: $mode"
		ok=1
		case $mode in
		old-empty) empty_on old || ok=0 ;;
		empty) empty_on tracepoint $TRACED || ok=0 ;;
		tapflow)
			# shellcheck disable=SC2086
			tf trace start $TRACED >/dev/null || ok=0
			BACKEND=$(tf trace status --json | jq -r .backend) ;;
		bpftrace) command -v bpftrace >/dev/null && bt_on || ok=0 ;;
		esac
		for p in $PATHS; do
			[ $ok = 1 ] && M[$p,$mode,$r]=$(measure "$p") || M[$p,$mode,$r]=
		done
		case $mode in
		old-empty|empty) empty_off ;;
		tapflow) tf trace stop --all >/dev/null ;;
		bpftrace) [ -n "$BTPID" ] && bt_off ;;
		esac
	done
done

# ---- ns per run, from the kernel's BPF run-time statistics ----------------
PIN=/sys/fs/bpf/tapflow/trace
HOOKS="start_xmit xmit copy devmap tc"
NSPATHS=${NS_PATHS:-rx tx bridge fastpath}
declare -A NSR RUNS
hook_of() {	# program name -> hook
	case $1 in
	*start_xmit) echo start_xmit ;;
	*_xmit) [[ $1 == *devmap* ]] && echo devmap || echo xmit ;;
	*copy_datagram*) echo copy ;;
	*tc_rx) echo tc ;;
	esac
}
# stats_on SPEC: statistics of SPEC's programs from now; stats_off MODE PATH ROUND: stop, record
stats_on() {
	# nsenter execs tf-bpfstats: $! is it, and its child the sleep
	nsenter --net="/run/netns/$NS" -- "$BPFSTATS" "$1" -- sleep 3600 > "$TMP/stats.json" 2>/dev/null &
	SPID=$!
	sleep 0.1
}
stats_off() {
	local c name runs ns h
	c=$(cat "/proc/$SPID/task/$SPID/children" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -n "$c" ] && kill $c
	wait "$SPID" 2>/dev/null
	SPID=
	while read -r name runs ns; do
		h=$(hook_of "$name")
		[ -n "$h" ] || continue
		RUNS[$2,$h,$1,$3]=$runs
		[ "$runs" -gt 0 ] && NSR[$2,$h,$1,$3]=$(echo "$ns / $runs" | bc -l)
	done < <(jq -r '.progs | to_entries[] | "\(.key) \(.value.runs) \(.value.ns)"' "$TMP/stats.json" 2>/dev/null)
}
for r in $(seq "$ROUNDS"); do
	for mode in ${NS_MODES:-empty bound ${TAPFLOW_BEFORE:+before} tapflow}; do
		say "round $r: ns per run, $mode"
		case $mode in
		empty) empty_on tracepoint $TRACED || continue; spec=$(sed -n 's/^ids //p' "$TMP/empty.out") ;;
		bound) empty_on bound $TRACED || continue; spec=$(sed -n 's/^ids //p' "$TMP/empty.out") ;;
		tapflow)
			# shellcheck disable=SC2086
			tf trace start $TRACED >/dev/null || continue
			BACKEND=$(tf trace status --json | jq -r .backend)
			spec=$PIN ;;
		before)
			# shellcheck disable=SC2086
			nsx "$TAPFLOW_BEFORE" trace start $TRACED >/dev/null || continue
			spec=$PIN ;;
		esac
		for p in $NSPATHS; do
			stats_on "$spec"
			measure "$p" >/dev/null
			stats_off "$mode" "$p" "$r"
		done
		case $mode in
		empty|bound) empty_off ;;
		tapflow) tf trace stop --all >/dev/null ;;
		before) nsx "$TAPFLOW_BEFORE" trace stop --all >/dev/null ;;
		esac
	done
done

med() { local r v=(); for r in $(seq "$ROUNDS"); do v+=("${M[$1,$2,$r]:-}"); done; median "${v[@]}"; }
mpps() { [ -n "${1:-}" ] && printf '%.3f' "$1" || echo "n/a"; }
# added NS/packet of Mpps $1 over Mpps $2
added() { { [ -n "${1:-}" ] && [ -n "${2:-}" ] && printf '%+.0f' "$(echo "1000 / $1 - 1000 / $2" | bc -l)"; } || echo "n/a"; }
ratio() { { [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$(echo "$1 > 0 && $2 > 0" | bc)" = 1 ] && printf '%.2f' "$(echo "$1 / $2" | bc -l)"; } || echo "n/a"; }
pct() { { [ -n "${1:-}" ] && [ -n "${2:-}" ] && printf '%+.1f%%' "$(echo "($1 / $2 - 1) * 100" | bc -l)"; } || echo "n/a"; }

if [ "$NS_ONLY" = 0 ]; then
echo "tapflow backend: $BACKEND. Medians of $ROUNDS rounds, ${DUR} s per case, 64-byte frames, 1 queue."
echo "Traced taps: the rx, tx, bridge (both) and fast path (destination) taps; \`empty\` attaches its tcx"
echo "program to the same taps. ns/packet added = 1/pps(mode) - 1/pps(off)."
echo
echo "| path | off Mpps | old-empty Mpps | empty Mpps | tapflow Mpps | bpftrace Mpps | old-empty ns/pkt | empty ns/pkt | tapflow ns/pkt | bpftrace ns/pkt | tapflow / empty | tapflow pps vs off |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for p in $PATHS; do
	case $p in
	rx) n="rx: backend writes into a traced tap" ;;
	tx) n="tx: host forwards to a traced tap, backend reads" ;;
	bridge) n="traced tap -> bridge -> traced tap (delivered)" ;;
	fastpath) n="fast path (DEVMAP) into a traced tap (delivered)" ;;
	untraced) n="untraced: backend writes into a tap nobody traces" ;;
	esac
	o=$(med $p off); oe=$(med $p old-empty); e=$(med $p empty); t=$(med $p tapflow); b=$(med $p bpftrace)
	ae=$(added "$e" "$o"); at=$(added "$t" "$o")
	echo "| $n | $(mpps "$o") | $(mpps "$oe") | $(mpps "$e") | $(mpps "$t") | $(mpps "$b") | $(added "$oe" "$o") | $ae | $at | $(added "$b" "$o") | $(ratio "${at#+}" "${ae#+}") | $(pct "$t" "$o") |"
done
echo
echo "A ratio of n/a or a negative ns figure: the difference is within this machine's noise."
fi

nsmed() { local r v=(); for r in $(seq "$ROUNDS"); do v+=("${NSR[$1,$2,$3,$r]:-}"); done; median "${v[@]}"; }
runmed() { local r v=(); for r in $(seq "$ROUNDS"); do v+=("${RUNS[$1,$2,$3,$r]:-}"); done; median "${v[@]}"; }
# the runs that weigh a hook: tapflow's, or the first mode's measured (NS_MODES without tapflow)
refruns() { local m x; for m in tapflow ${NS_MODES:-}; do x=$(runmed "$1" "$2" "$m"); [ -n "$x" ] && { echo "${x%.*}"; return; }; done; }
f1() { [ -n "${1:-}" ] && printf '%.1f' "$1" || echo "n/a"; }
[ "$NS_ONLY" = 0 ] && echo
echo "tapflow backend: $BACKEND. ns per run of each hook's program (BPF run-time statistics, medians of $ROUNDS rounds; the"
echo "figures include the statistics' own two clock reads per run, the same for every mode)."
echo "Hooks a path runs at least once per 10 packets of tapflow's runs; per packet: the sum"
echo "over the path's hooks of ns/run x tapflow's runs, over the path's most-run hook's runs."
echo
BH='' BS=''
[ -n "${TAPFLOW_BEFORE:-}" ] && BH=" before ns/run | before / empty |" BS="---|---|"
echo "| path | hook | tapflow runs | empty ns/run | bound ns/run |$BH tapflow ns/run | tapflow / empty | tapflow / bound | bound / empty |"
echo "|---|---|---|---|---|$BS---|---|---|---|"
for p in $NSPATHS; do
	maxr=0
	for h in $HOOKS; do
		x=$(refruns "$p" "$h")
		[ -n "$x" ] && [ "$x" -gt "$maxr" ] && maxr=$x
	done
	declare -A tot=([empty]='' [bound]='' [tapflow]='' [before]='')
	for h in $HOOKS; do
		runs=$(refruns "$p" "$h")
		[ -n "$runs" ] && [ "$maxr" -gt 0 ] && [ $((runs * 10)) -ge "$maxr" ] || continue
		e=$(nsmed "$p" "$h" empty); b=$(nsmed "$p" "$h" bound); t=$(nsmed "$p" "$h" tapflow)
		for m in empty bound tapflow before; do
			nv=$(nsmed "$p" "$h" $m)
			[ -n "$nv" ] && tot[$m]=$(echo "${tot[$m]:-0} + $nv * $runs" | bc -l)
		done
		bc_=
		[ -n "$BH" ] && { o=$(nsmed "$p" "$h" before); bc_=" $(f1 "$o") | $(ratio "$o" "$e") |"; }
		echo "| $p | $h | $runs | $(f1 "$e") | $(f1 "$b") |$bc_ $(f1 "$t") | $(ratio "$t" "$e") | $(ratio "$t" "$b") | $(ratio "$b" "$e") |"
	done
	if [ "$maxr" -gt 0 ]; then
		pp() { [ -n "$1" ] && echo "$1 / $maxr" | bc -l; }
		te=$(pp "${tot[empty]}"); tb=$(pp "${tot[bound]}"); tt=$(pp "${tot[tapflow]}")
		bc_=
		[ -n "$BH" ] && { o=$(pp "${tot[before]}"); bc_=" $(f1 "$o") | $(ratio "$o" "$te") |"; }
		echo "| $p | **per packet** | $maxr | $(f1 "$te") | $(f1 "$tb") |$bc_ $(f1 "$tt") | $(ratio "$tt" "$te") | $(ratio "$tt" "$tb") | $(ratio "$tb" "$te") |"
	fi
done
