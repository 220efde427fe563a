#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench-fpscale.sh: what a fast path port costs, up to 1024 ports (`make
# bench` runs it). In a namespace made for the run, NPORTS tapflow taps;
# then, in ONE run (this machine is noisy: only figures of the same run
# compare):
#   (1) the wall time of each `tapflow fastpath on` (the whole command: a
#       process, the lock, the map updates, the attach), reported as the
#       median over the last 8 ports before 1, 2, 64 and NPORTS ports, with
#       `fastpath on` of a port already on (the same process, lock and
#       checks, no add) beside it, so the difference is what adding costs;
#   (2) the kernel memory of the fast path (bytes_memlock of its maps and
#       programs, bpftool) at 2, 64 and NPORTS ports;
#   (3) tap -> tap pps through the fast path (tf-load writes 64-byte frames
#       on A, B's backend reads) with 2 ports, with NPORTS ports (the rest
#       idle), and with 2 again after NPORTS-2 are turned off, side by side
#       with their ratio;
#   (4) the port past the limit: its one-line error;
#   (5) with --compare TAPFLOW (a build of another layout, e.g. main's
#       before layout 3), (1) for it up to 64 ports, in a namespace of its own.
# Markdown on stdout.
#
#   tf-load (A) ─write─▶ A [tf_fp_tap, the one copy] ──DEVMAP──▶ B ─read─▶ tf-load (B)
#                        ports 3..NPORTS: the same program, idle
#
# Usage: scripts/bench-fpscale.sh [--ports N] [--duration S] [--rounds R] [--compare TAPFLOW]
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=${TAPFLOW:-$TOP/build/tapflow}
TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}
NPORTS=1024
DUR=3
ROUNDS=2
OLD=
while [ $# -gt 0 ]; do
	case "$1" in
	--ports) NPORTS=$2; shift ;;
	--duration) DUR=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--compare) OLD=$2; shift ;;
	*) echo "bench-fpscale: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "bench-fpscale: needs root (netns, taps, BPF)" >&2; exit 2; }
for f in "$TAPFLOW" "$TFLOAD" ${OLD:+"$OLD"}; do
	[ -x "$f" ] || { echo "bench-fpscale: $f is not built" >&2; exit 2; }
done
[ "$NPORTS" -ge 64 ] 2>/dev/null || { echo "bench-fpscale: --ports: at least 64" >&2; exit 2; }

NS=tfbs$$
NS2=tfbso$$
TMP=$(mktemp -d)
MAC_B=02:00:00:00:0b:01
NCPU=$(nproc)

cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	# every port off, so the last one out removes the pins, then the taps
	local n i bin
	for n in $NS $NS2; do
		[ -e "/run/netns/$n" ] || continue
		bin=$TAPFLOW
		[ "$n" = "$NS2" ] && bin=$OLD
		for ((i = 1; i <= NPORTS + 1 && i < 2000; i++)); do
			[ -d "$(pin_dir "$n")" ] || break
			nsenter --net="/run/netns/$n" -- "$bin" fastpath off "p$i" >/dev/null 2>&1
		done
		ip netns del "$n"
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tf()  { nsenter --net="/run/netns/$NS" -- "$TAPFLOW" "$@"; }
say() { echo "bench-fpscale: $*" >&2; }
ns_of_now() { echo $(($(date +%s%N) / 1000)); }	# µs
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "n/a") }'; }
load() { local cpus=$1; shift; nsenter --net="/run/netns/$NS" -- taskset -c "$cpus" "$TFLOAD" "$@"; }
pin_dir() { echo "/sys/fs/bpf/tapflow/fastpath/$(stat -L -c %i "/run/netns/$1")"; }

# timed_on BIN NS NAME: wall µs of `fastpath on NAME`, or exits
timed_on() {
	local t0 t1
	t0=$(ns_of_now)
	nsenter --net="/run/netns/$2" -- "$1" fastpath on "$3" >/dev/null 2> "$TMP/on.err" ||
		{ say "fastpath on $3 failed: $(tail -1 "$TMP/on.err")"; exit 1; }
	t1=$(ns_of_now)
	echo $((t1 - t0))
}

# kib NS: kernel memory of the fast path, KiB: its pinned maps, and every
# distinct XDP program on the namespace's devices (layout 2 pinned none,
# and had one per port)
kib() {
	local f sum=0 b id
	for f in "$(pin_dir "$1")"/*; do
		case ${f##*/} in tf_fp_*) continue ;; esac
		b=$(bpftool map show pinned "$f" -j 2>/dev/null | jq '.bytes_memlock // 0')
		sum=$((sum + ${b:-0}))
	done
	for id in $(ip -n "$1" -j link show | jq -r '[.[] | .xdp.prog.id? // empty] | unique | .[]'); do
		b=$(bpftool prog show id "$id" -j 2>/dev/null | jq '.bytes_memlock // 0')
		sum=$((sum + ${b:-0}))
	done
	echo $((sum / 1024))
}

# pps: one DUR-second tap -> tap run A -> B; prints delivered Mpps
pps() {
	local rx sec rcpu=0 wcpu=0
	[ "$NCPU" -ge 2 ] && rcpu=1
	# a reader that gives up after 3 s idle: under load the writer may take
	# longer than bench-fastpath.sh's 700 ms to start (the rate is over the
	# writer's seconds, so the idle tail does not count)
	load "$rcpu" --dev p2 --read --idle-ms 3000 > "$TMP/b.json" 2>&1 &
	local reader=$!
	sleep 0.3
	load "$wcpu" --dev p1 --duration "$DUR" --dst-mac "$MAC_B" > "$TMP/a.json" 2>&1 ||
		{ say "writer failed: $(tail -1 "$TMP/a.json")"; kill $reader; return 1; }
	wait $reader
	sec=$(jq .seconds "$TMP/a.json")
	rx=$(jq .rx_frames "$TMP/b.json")
	echo "$rx / $sec / 1000000" | bc -l | xargs printf '%.3f\n'
}
pps_rounds() { local r; for ((r = 0; r < ROUNDS; r++)); do pps || return 1; done | median; }

# on_range BIN NS FIRST LAST FILE: turns ports FIRST..LAST on, µs of each in FILE
on_range() {
	local i
	for ((i = $3; i <= $4; i++)); do
		echo "$i $(timed_on "$1" "$2" "p$i")" >> "$5"
	done
}
# at FILE N: median ms of the (up to) 8 adds up to port N, the first port
# (which loads the program) only for N = 1
at() {
	awk -v n="$2" '$1 <= n && $1 > n - 8 && (n == 1 || $1 > 1) { print $2 / 1000 }' "$1" | median |
		xargs printf '%.1f'
}

mk_taps() {
	local ns=$1 n=$2 i
	for ((i = 1; i <= n; i++)); do
		nsenter --net="/run/netns/$ns" -- "$3" create "p$i" --txqueuelen 4096 >/dev/null ||
			{ say "create p$i failed"; exit 1; }
	done
}

ip netns add "$NS" && ip -n "$NS" link set lo up || exit 1
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
say "creating $((NPORTS + 1)) taps"
mk_taps "$NS" $((NPORTS + 1)) "$TAPFLOW"

say "ports 1-2, then pps with 2 ports"
on_range "$TAPFLOW" "$NS" 1 2 "$TMP/on"
MEM2=$(kib "$NS")
load 0 --dev p2 --count 1 --src-mac "$MAC_B" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null 2>&1
P2A=$(pps_rounds) || exit 1

say "ports 3-$NPORTS"
on_range "$TAPFLOW" "$NS" 3 64 "$TMP/on"
MEM64=$(kib "$NS")
t0=$(ns_of_now)
on_range "$TAPFLOW" "$NS" 65 "$NPORTS" "$TMP/on"
TALL=$((($(ns_of_now) - t0) / 1000))
MEMN=$(kib "$NS")
# an `on` that adds nothing: the same command, process and lock
AGAIN=$(for k in 1 2 3 4 5 6 7 8; do timed_on "$TAPFLOW" "$NS" "p$NPORTS"; done | median)
PROGS=$(ip -n "$NS" -j link show | jq -r '[.[] | .xdp.prog.id? // empty] | unique | length')
LIMIT=$(tf fastpath on "p$((NPORTS + 1))" 2>&1 >/dev/null | tail -1)

say "pps with $NPORTS ports"
PNA=$(pps_rounds) || exit 1

say "ports 3-$NPORTS off"
t0=$(ns_of_now)
for ((i = 3; i <= NPORTS; i++)); do tf fastpath off "p$i" >/dev/null || { say "off p$i"; exit 1; }; done
TOFF=$((($(ns_of_now) - t0) / 1000))
P2B=$(pps_rounds) || exit 1

if [ -n "$OLD" ]; then
	say "layout of $OLD: ports 1-64"
	ip netns add "$NS2" && ip -n "$NS2" link set lo up || exit 1
	mk_taps "$NS2" 64 "$OLD"
	on_range "$OLD" "$NS2" 1 64 "$TMP/old"
	OLDMEM=$(kib "$NS2")
	OLDAGAIN=$(for k in 1 2 3 4 5 6 7 8; do timed_on "$OLD" "$NS2" p64; done | median)
	for ((i = 1; i <= 64; i++)); do
		nsenter --net="/run/netns/$NS2" -- "$OLD" fastpath off "p$i" >/dev/null
	done
fi

echo "### Adding a fast path port ($NPORTS taps, $NCPU CPUs, $(uname -r))"
echo
echo "Wall time of one \`tapflow fastpath on\` (a whole command), median of the 8 adds up to the Nth port (the 1st: alone);"
echo "\"on again\" is the same command on a port already on (process, lock, checks: no add)."
echo
echo "| layout | 1st port | 2nd | 64th | ${NPORTS}th | on again | kernel memory (2 / 64 / $NPORTS ports) |"
echo "|---|---|---|---|---|---|---|"
printf '| 3 (this build) | %s ms | %s ms | %s ms | %s ms | %.1f ms | %s / %s / %s KiB |\n' \
	"$(at "$TMP/on" 1)" "$(at "$TMP/on" 2)" "$(at "$TMP/on" 64)" "$(at "$TMP/on" "$NPORTS")" \
	"$(echo "$AGAIN / 1000" | bc -l)" "$MEM2" "$MEM64" "$MEMN"
if [ -n "$OLD" ]; then
	printf '| %s | %s ms | %s ms | %s ms | (64 at most) | %.1f ms | - / %s / - KiB |\n' \
		"$(basename "$(dirname "$(dirname "$OLD")")")" \
		"$(at "$TMP/old" 1)" "$(at "$TMP/old" 2)" "$(at "$TMP/old" 64)" \
		"$(echo "$OLDAGAIN / 1000" | bc -l)" "$OLDMEM"
fi
echo
echo "Ports 65-$NPORTS on in $TALL ms; ports 3-$NPORTS off in $TOFF ms. XDP programs attached over the $NPORTS taps: $PROGS distinct."
echo
echo "Port $((NPORTS + 1)): \`$LIMIT\`"
echo
echo "### Tap -> tap through the fast path, 2 vs $NPORTS ports (1 writer queue, 64-byte frames, median of $ROUNDS × ${DUR} s)"
echo
echo "| 2 ports | $NPORTS ports | 2 ports again | $NPORTS / 2 |"
echo "|---|---|---|---|"
printf '| %s Mpps | %s Mpps | %s Mpps | %.2f |\n' "$P2A" "$PNA" "$P2B" \
	"$(echo "$PNA / (($P2A + $P2B) / 2)" | bc -l)"
