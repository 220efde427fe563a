#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench-fastpath.sh: tap -> tap throughput through the Linux bridge (as
# shipped, and with bridge-nf-call-* off), through the tapflow XDP fast path
# and through `tapflow xsk-fwd` (AF_XDP), against the floor (write() into a
# tap whose XDP program drops everything), with 1 and 2 writer queues, all
# in ONE run (this machine is noisy: only numbers from the same run
# compare). Prints a markdown table with ratios.
#
#   tf-load (A, writes) ─▶ A ─┬─ bridge ────────────▶ B ─▶ tf-load (B, reads)
#                             ├─ [tf_fp_tap] DEVMAP ─▶ B ─▶ tf-load (B, reads)
#                             ├─ [tf_fp_tap] XSKMAP ─▶ xsk-fwd ─▶ B (AF_XDP TX) ─▶ tf-load (B, reads)
#                             └─ XDP_DROP (the floor: nothing downstream)
#
# "offered" is what A's backend wrote per second, "delivered" what B's
# backend read per second of writing: a frame the path accepted but B's
# ring had no room for counts in the first only. For xsk-fwd, "offered" is
# what A's program handed to its AF_XDP sockets per second while xsk-fwd
# ran. 64-byte frames. B's rings hold RING frames (tapflow create
# --txqueuelen), deep enough that a reader sharing a CPU with a writer (two
# queues on two CPUs) rides out a scheduler slice; every path gets the same.
#
# Usage: scripts/bench-fastpath.sh [--duration S] [--rounds N] [--perf]
#   --rounds N  run every case N times in turn (1..5, default 3) and report
#           the median of each: the paths see the same slow and fast moments
#   --perf  also record `perf record -a -g` during the 1-queue fast path run
#           and print the top symbols (if perf works here).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=${TAPFLOW:-$TOP/build/tapflow}
TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}
DUR=3
PERF=0
RING=4096
ROUNDS=3	# every path runs in each round, in turn; the table shows medians
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DUR=$2; shift ;;
	--perf) PERF=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	*) echo "bench-fastpath: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
# shellcheck source=scripts/bench-lib.sh
. "$TOP/scripts/bench-lib.sh"
bench_rounds bench-fastpath "$ROUNDS"
bench_need bench-fastpath "$TAPFLOW" "$TFLOAD"

NS=tfbf$$
SFX=$(printf '%x' $((RANDOM % 4096)))
A=fa$SFX B=fb$SFX F=ff$SFX BR=fbr$SFX
MAC_B=02:00:00:00:0b:01
MAC_FWD=02:00:00:00:0b:99	# in no fdb: before xsk-fwd binds, frames go to the host stack
TMP=$(mktemp -d)
NCPU=$(nproc)

cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	for d in $A $B $F; do
		nsenter --net="/run/netns/$NS" -- "$TAPFLOW" fastpath off "$d" >/dev/null 2>&1
		ip -n "$NS" link del "$d" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tf()  { nsenter --net="/run/netns/$NS" -- "$TAPFLOW" "$@"; }
nsx() { ip netns exec "$NS" "$@"; }
# load CPUS ARGS...: tf-load in the namespace on the given CPUs (taskset list)
load() { local cpus=$1; shift; nsenter --net="/run/netns/$NS" -- taskset -c "$cpus" "$TFLOAD" "$@"; }

ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null

# The floor's program: a bare XDP_DROP, built here so nothing else runs in it.
cat > "$TMP/drop.c" <<'EOF'
/* no headers: XDP_DROP is 1 in enum xdp_action */
__attribute__((section("xdp"), used)) int xdp_drop_all(void *ctx) { (void)ctx; return 1; }
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
clang -O2 -target bpf -c "$TMP/drop.c" -o "$TMP/drop.o" || { echo "bench-fastpath: cannot build the XDP_DROP program" >&2; exit 1; }

for d in $A $B $F; do
	tf create "$d" --queues 2 --txqueuelen "$RING" >/dev/null || exit 1
done

# The kernel's own cost of an XDP tap -> tap hop: a program that redirects
# every frame through a one-entry DEVMAP holding B, with no lookup of its
# own and no counter. The fast path's distance from it is what its
# learning, fdb and counters cost.
cat > "$TMP/redir.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} to_b SEC(".maps");
SEC("xdp") int xdp_redirect_b(struct xdp_md *ctx) { (void)ctx; return bpf_redirect_map(&to_b, 0, 0); }
char _license[] SEC("license") = "GPL";
EOF
clang -O2 -g -target bpf -I/usr/include/$(uname -m)-linux-gnu -c "$TMP/redir.c" -o "$TMP/redir.o" || { echo "bench-fastpath: cannot build the redirect program" >&2; exit 1; }
# bare_on: attach it to A and put B in its DEVMAP
bare_on() {
	local prog map le
	nsx ip link set dev "$A" xdpdrv obj "$TMP/redir.o" sec xdp || return 1
	prog=$(ip -n "$NS" -j -d link show "$A" | jq '.[0].xdp.prog.id')
	map=$(bpftool prog show id "$prog" -j | jq '.map_ids[0]')
	le=$(nsx cat "/sys/class/net/$B/ifindex" | awk '{ printf "%d %d %d %d", $1 % 256, int($1 / 256) % 256, int($1 / 65536) % 256, int($1 / 16777216) }')
	# in the namespace: a DEVMAP resolves the ifindex in the caller's
	# shellcheck disable=SC2086
	nsx bpftool map update id "$map" key 0 0 0 0 value $le
}

# cpus for Q writer queues and for B's reader: apart when there is room
writer_cpus() { [ "$1" = 1 ] && echo 0 || echo "0-$((NCPU - 1))"; }
reader_cpus() { [ "$1" = 1 ] && [ "$NCPU" -ge 2 ] && echo 1 || echo "0-$((NCPU - 1))"; }

# run_pair Q: B reads, A writes for DUR seconds to B's MAC; prints "offered delivered" in Mpps
run_pair() {
	local q=$1 sec rx
	load "$(reader_cpus "$q")" --dev "$B" --queues "$q" --read --idle-ms 700 > "$TMP/b.json" 2>&1 &
	local reader=$!
	sleep 0.3
	load "$(writer_cpus "$q")" --dev "$A" --queues "$q" --duration "$DUR" --dst-mac "$MAC_B" > "$TMP/a.json" 2>&1 ||
		{ echo "bench-fastpath: writer failed: $(tail -1 "$TMP/a.json")" >&2; kill $reader; return 1; }
	wait $reader
	sec=$(jq .seconds "$TMP/a.json")
	rx=$(jq .rx_frames "$TMP/b.json")
	printf '%s %s\n' "$(jq '.tx_pps / 1e6' "$TMP/a.json")" "$(echo "$rx / $sec / 1000000" | bc -l)"
}

# run_fwd Q: B reads, A writes to a MAC in no fdb, xsk-fwd moves A's AF_XDP
# frames to B for DUR seconds; prints "offered delivered" in Mpps.
run_fwd() {
	local q=$1 rx xsk
	load "$(reader_cpus "$q")" --dev "$B" --queues "$q" --read --idle-ms 3000 > "$TMP/b.json" 2>&1 &
	local reader=$!
	load "$(writer_cpus "$q")" --dev "$A" --queues "$q" --duration $((DUR + 2)) --dst-mac "$MAC_FWD" > "$TMP/a.json" 2>&1 &
	local writer=$!
	sleep 0.5
	tf xsk-fwd "$A" "$B" --queues "$q" --duration "$DUR" --json > "$TMP/fwd.json" 2>&1 ||
		{ echo "bench-fastpath: xsk-fwd failed: $(tail -1 "$TMP/fwd.json")" >&2; kill $reader $writer; return 1; }
	wait $writer $reader
	rx=$(jq .rx_frames "$TMP/b.json")
	xsk=$(tf fastpath stats "$A" --json | jq '.total.xsk_packets')
	printf '%s %s\n' "$(echo "$xsk / $DUR / 1000000" | bc -l)" "$(echo "$rx / $DUR / 1000000" | bc -l)"
}

# B's MAC is learned (by the bridge or the fast path) from one frame its backend writes.
learn_b() { load 0 --dev "$B" --count 1 --src-mac "$MAC_B" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null 2>&1; }

nf_sysctls="net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.bridge.bridge-nf-call-arptables"
nf_state() { nsx sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null || echo "absent"; }

declare -A OFF DEL
NOTES=()

for q in 1 2; do
for r in $(seq "$ROUNDS"); do	# (not indented: the round is the whole body)
	# floor
	nsx ip link set dev "$F" xdpdrv obj "$TMP/drop.o" sec xdp || exit 1
	load "$(writer_cpus "$q")" --dev "$F" --queues "$q" --duration "$DUR" > "$TMP/f.json" 2>&1 || exit 1
	OFF[floor,$q,$r]=$(jq '.tx_pps / 1e6' "$TMP/f.json")
	DEL[floor,$q,$r]=${OFF[floor,$q,$r]}
	nsx ip link set dev "$F" xdpdrv off

	# bridge, as shipped
	nsx ip link add "$BR" type bridge 2>/dev/null
	nsx ip link set "$BR" up; nsx ip link set "$A" master "$BR"; nsx ip link set "$B" master "$BR"
	[ $q = 1 ] && [ $r = 1 ] && NOTES+=("bridge-nf-call-iptables in the namespace: $(nf_state) (default)")
	learn_b
	read -r OFF[bridge,$q,$r] DEL[bridge,$q,$r] < <(run_pair $q) || exit 1

	# bridge, netfilter hooks off
	if [ "$(nf_state)" = absent ]; then
		[ $q = 1 ] && [ $r = 1 ] && NOTES+=("net.bridge.bridge-nf-call-* do not exist (br_netfilter not loaded): the bridge has no netfilter hooks to turn off")
		OFF[bridge_nf_off,$q,$r]=; DEL[bridge_nf_off,$q,$r]=
	else
		for s in $nf_sysctls; do nsx sysctl -qw "$s=0" 2>/dev/null; done
		learn_b
		read -r OFF[bridge_nf_off,$q,$r] DEL[bridge_nf_off,$q,$r] < <(run_pair $q) || exit 1
		for s in $nf_sysctls; do nsx sysctl -qw "$s=1" 2>/dev/null; done
	fi
	nsx ip link del "$BR"

	# bare redirect: the kernel's part of any XDP tap -> tap hop
	bare_on || { echo "bench-fastpath: cannot set up the bare redirect" >&2; exit 1; }
	read -r OFF[bare,$q,$r] DEL[bare,$q,$r] < <(run_pair $q) || exit 1
	nsx ip link set dev "$A" xdpdrv off

	# the fast path
	tf fastpath on "$A" >/dev/null && tf fastpath on "$B" >/dev/null || exit 1
	learn_b
	if [ "$PERF" = 1 ] && [ $q = 1 ] && [ $r = 1 ]; then
		(sleep 1; perf record -a -g -o "$TMP/perf.data" -- sleep 1 >/dev/null 2>&1) &
	fi
	read -r OFF[fastpath,$q,$r] DEL[fastpath,$q,$r] < <(run_pair $q) || exit 1
	wait 2>/dev/null
	tf fastpath stats "$A" --json > "$TMP/stats.$q.json"

	# xsk-fwd: every frame of A to its AF_XDP sockets, forwarded to B's
	tf fastpath rule add "$A" --all >/dev/null || exit 1
	read -r OFF[xskfwd,$q,$r] DEL[xskfwd,$q,$r] < <(run_fwd $q) || exit 1
	tf fastpath off "$A" >/dev/null; tf fastpath off "$B" >/dev/null
done
	for p in floor bridge bridge_nf_off bare fastpath xskfwd; do
		OFF[$p,$q]=$(median "${OFF[$p,$q,1]}" "${OFF[$p,$q,2]:-}" "${OFF[$p,$q,3]:-}" "${OFF[$p,$q,4]:-}" "${OFF[$p,$q,5]:-}")
		DEL[$p,$q]=$(median "${DEL[$p,$q,1]}" "${DEL[$p,$q,2]:-}" "${DEL[$p,$q,3]:-}" "${DEL[$p,$q,4]:-}" "${DEL[$p,$q,5]:-}")
	done
done

ratio() { [ -n "$1" ] && [ -n "$2" ] && echo "$1 / $2" | bc -l | xargs printf '%.2f' || echo "n/a"; }
mpps() { [ -n "$1" ] && printf '%.3f' "$1" || echo "n/a"; }

echo
echo "tap -> tap, 64-byte frames, ${DUR} s per case, $(uname -r), $NCPU CPUs, one run: medians of $ROUNDS rounds, every case once per round"
echo
echo "| path | writer queues | offered Mpps | delivered Mpps | delivered / bridge default | delivered / floor |"
echo "|---|---|---|---|---|---|"
for q in 1 2; do
	for p in floor bridge bridge_nf_off bare fastpath xskfwd; do
		case $p in
		floor) name="XDP_DROP on the tap (floor)" ;;
		bridge) name="Linux bridge, default" ;;
		bridge_nf_off) name="Linux bridge, bridge-nf-call-* off" ;;
		bare) name="bare XDP redirect to B, no lookups (bound)" ;;
		fastpath) name="tapflow fast path (XDP DEVMAP)" ;;
		xskfwd) name="tapflow xsk-fwd (AF_XDP, copy mode)" ;;
		esac
		echo "| $name | $q | $(mpps "${OFF[$p,$q]}") | $(mpps "${DEL[$p,$q]}") | $(ratio "${DEL[$p,$q]}" "${DEL[bridge,$q]}") | $(ratio "${DEL[$p,$q]}" "${DEL[floor,$q]}") |"
	done
done
echo
echo "Scaling, 2 queues / 1 queue (delivered): fast path $(ratio "${DEL[fastpath,2]}" "${DEL[fastpath,1]}"), xsk-fwd $(ratio "${DEL[xskfwd,2]}" "${DEL[xskfwd,1]}"), floor $(ratio "${DEL[floor,2]}" "${DEL[floor,1]}"), bridge $(ratio "${DEL[bridge,2]}" "${DEL[bridge,1]}")"
echo "Fast path / bare redirect (delivered): 1 queue $(ratio "${DEL[fastpath,1]}" "${DEL[bare,1]}"), 2 queues $(ratio "${DEL[fastpath,2]}" "${DEL[bare,2]}")"
echo "Goal: fast path >= 3x bridge default and >= 0.8x floor; 2 queues >= 1.8x one."
for n in "${NOTES[@]}"; do echo "Note: $n"; done
echo "Note: B's rings hold $RING frames (--txqueuelen) in every case."
echo "Fast path counters of A (1 queue run): $(jq -c '.total | {redirect_tap_packets, pass_packets}' "$TMP/stats.1.json")"
if [ "$PERF" = 1 ]; then
	if [ -s "$TMP/perf.data" ]; then
		echo; echo "perf, 1-queue fast path run, top symbols:"
		perf report -i "$TMP/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -25
	else
		echo "perf record did not work here"
	fi
fi
