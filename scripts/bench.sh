#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench.sh: the benchmark `make bench` runs (as root, after setup and a
# build). Everything happens in a throw-away network namespace that is
# deleted on exit, failure included. It measures, in ONE run (the machine is
# noisy: only figures of the same run compare):
#   - the floor: tf-load write() rate into a tap whose XDP program drops
#     everything, beside a tap with no program (frames go to the host stack),
#     1 and 2 queues;
#   - the cost of tracing (scripts/bench-trace.sh): pps with tracing off,
#     with empty programs on the same hooks (the floor), with tapflow's
#     tracing and with an equivalent bpftrace script, on rx, tx, tap ->
#     bridge -> tap, the fast path into a traced tap, and untraced traffic;
# then runs scripts/bench-fastpath.sh, bench-fpscale.sh, bench-xsk.sh, bench-export.sh and bench-capture.sh when
# present (300 s each; a failure is a line in the output). Prints markdown
# on stdout and writes the same to docs/bench.md and into the README
# (between its <!-- bench:begin --> and <!-- bench:end --> markers).
#
# Usage: scripts/bench.sh [--duration S] [--no-sub] [--no-doc]
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=${TAPFLOW:-$TOP/build/tapflow}
TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}
DUR=3
SUB=1
DOC=1
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DUR=$2; shift ;;
	--no-sub) SUB=0 ;;
	--no-doc) DOC=0 ;;
	*) echo "bench: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
# shellcheck source=scripts/bench-lib.sh
. "$TOP/scripts/bench-lib.sh"
bench_need bench "$TAPFLOW" "$TFLOAD"

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
NS=tfbench$$-$RANDOM
SFX=$(printf '%x' $((RANDOM % 4096)))
F=bfl$SFX
TMP=$(mktemp -d)
OUT=$TMP/out.md

cleanup() {
	set +e
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -e "/run/netns/$NS" ]; then
		nsenter --net="/run/netns/$NS" -- "$TAPFLOW" trace stop --all >/dev/null 2>&1
		for d in $F; do
			nsenter --net="/run/netns/$NS" -- "$TAPFLOW" delete "$d" >/dev/null 2>&1
		done
		ip netns del "$NS" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }
tf()  { nsenter --net="/run/netns/$NS" -- "$TAPFLOW" "$@"; }
nsx() { ip netns exec "$NS" "$@"; }
load() { nsenter --net="/run/netns/$NS" -- "$TFLOAD" "$@"; }
mpps() { [ -n "${1:-}" ] && printf '%.3f' "$(echo "$1 / 1000000" | bc -l)" || echo "n/a"; }
ratio() { { [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$(echo "$2 > 0" | bc)" = 1 ] &&
	printf '%.2f' "$(echo "$1 / $2" | bc -l)"; } || echo "n/a"; }

ip netns add "$NS"
ip -n "$NS" link set lo up
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true

# A bare XDP_DROP program, built here.
cat > "$TMP/drop.c" <<'PROG'
/* XDP_DROP is 1 in enum xdp_action; no headers needed */
__attribute__((section("xdp"), used)) int bench_drop(void *ctx) { (void)ctx; return 1; }
char _license[] __attribute__((section("license"), used)) = "GPL";
PROG
clang -O2 -g -target bpf -c "$TMP/drop.c" -o "$TMP/drop.o"

tf create "$F" --queues 2 >/dev/null

# write_pps DEV Q: flat-out writes for DUR s, prints tx_pps
write_pps() {
	load --dev "$1" --queues "$2" --duration "$DUR" --size 64 > "$TMP/w.json"
	jq -r .tx_pps "$TMP/w.json"
}

# ---- 1. floor -----------------------------------------------------------
declare -A P
for q in 1 2; do
	say "floor, $q queue(s)"
	ip -n "$NS" link set dev "$F" xdpdrv obj "$TMP/drop.o" sec xdp
	P[drop,$q]=$(write_pps "$F" "$q")
	ip -n "$NS" link set dev "$F" xdpdrv off
	P[stack,$q]=$(write_pps "$F" "$q")
done

# ---- 2. tracing overhead: scripts/bench-trace.sh ---------------------------
# Every path (rx, tx, bridge, fast path, untraced traffic) with tracing off,
# empty programs on the old and the current hook sets, tapflow and
# bpftrace, in rounds. Run here rather than as a sub-benchmark: its table
# is the README's tracing table.
say "tracing overhead (scripts/bench-trace.sh)"
TRACE_RC=0
timeout 900 "$TOP/scripts/bench-trace.sh" --duration "$DUR" > "$TMP/trace.md" 2> "$TMP/trace.err" || TRACE_RC=$?

{
echo "## Floor: write() into a tap, 64-byte frames, ${DUR} s per case"
echo
echo "| tap | queues | Mpps | / XDP_DROP same queues | / 1 queue same tap |"
echo "|---|---|---|---|---|"
for k in drop stack; do
	for q in 1 2; do
		[ $k = drop ] && n="XDP_DROP program (floor)" || n="no program (host stack)"
		echo "| $n | $q | $(mpps "${P[$k,$q]}") | $(ratio "${P[$k,$q]}" "${P[drop,$q]}") | $(ratio "${P[$k,$q]}" "${P[$k,1]}") |"
	done
done
echo
echo "## Tracing overhead, against empty programs on the same hooks"
echo
cat "$TMP/trace.md"
[ "$TRACE_RC" = 0 ] || echo "**bench-trace.sh failed (exit $TRACE_RC): $(tail -2 "$TMP/trace.err" | tr '\n' ' ')**"
} > "$OUT"

# ---- 3. the other benchmarks ---------------------------------------------
if [ "$SUB" = 1 ]; then
	for s in fastpath fpscale xsk export fleet capture; do
		f=$TOP/scripts/bench-$s.sh
		[ -x "$f" ] || continue
		say "running bench-$s.sh"
		{ echo; echo "## bench-$s.sh"; echo; } >> "$OUT"
		rc=0
		# the fleet's 4096 taps take minutes to trace (a tcx link each)
		lim=300; [ "$s" = fleet ] && lim=1200
		timeout $lim "$f" > "$TMP/sub.out" 2> "$TMP/sub.err" || rc=$?
		cat "$TMP/sub.out" >> "$OUT"
		if [ $rc != 0 ]; then
			echo "" >> "$OUT"
			echo "**bench-$s.sh failed (exit $rc$([ $rc = 124 ] && echo ', timed out after '$lim' s')): $(tail -2 "$TMP/sub.err" | tr '\n' ' ')**" >> "$OUT"
		fi
	done
fi

HDR="# Benchmark results

The latest measured figures, written by \`make bench\` (scripts/bench.sh) on
$(date -u '+%Y-%m-%d %H:%M UTC'), kernel \`$(uname -r)\`, $(nproc) CPUs
($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load average
$LOAD0 when it began. All figures come from one run; only ratios within a run compare.
"
{ echo "$HDR"; cat "$OUT"; } > "$TMP/full.md"
cat "$TMP/full.md"
if [ "$DOC" = 1 ]; then
	cp "$TMP/full.md" "$TOP/docs/bench.md"
	# The README shows the same tables between its bench markers.
	awk -v body="$TMP/full.md" '
		/<!-- bench:begin -->/ { print; while ((getline l < body) > 0) if (l !~ /^# Benchmark results/) print l; skip = 1; next }
		/<!-- bench:end -->/ { skip = 0 }
		!skip' "$TOP/README.md" > "$TMP/README.md" && cp "$TMP/README.md" "$TOP/README.md"
fi
exit 0
