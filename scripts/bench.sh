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
#   - the cost of tracing: pps with tracing off, with tapflow's tracing on,
#     and with an equivalent bpftrace script running, on the rx path (backend
#     writes into a tap without XDP) and on tap -> Linux bridge -> tap;
# then runs scripts/bench-fastpath.sh, bench-xsk.sh and bench-export.sh when
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
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 2; }
for f in "$TAPFLOW" "$TFLOAD"; do
	[ -x "$f" ] || { echo "bench: $f is not built (make all)" >&2; exit 2; }
done

NS=tfbench$$-$RANDOM
SFX=$(printf '%x' $((RANDOM % 4096)))
F=bfl$SFX R=brx$SFX A=bta$SFX B=btb$SFX BR=bbr$SFX
MAC_B=02:00:00:00:02:00
TMP=$(mktemp -d)
OUT=$TMP/out.md

cleanup() {
	set +e
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -e "/run/netns/$NS" ]; then
		nsenter --net="/run/netns/$NS" -- "$TAPFLOW" trace stop --all >/dev/null 2>&1
		for d in $F $R $A $B; do
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

for d in $F $R $A $B; do tf create "$d" --queues 2 >/dev/null; done

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

# ---- 2. tracing overhead ------------------------------------------------
# the bridge: A and B in it, MAC_B statically on B's port
nsx ip link add "$BR" type bridge
nsx ip link set "$A" master "$BR"
nsx ip link set "$B" master "$BR"
nsx ip link set "$BR" up
NFNOTE="bridge-nf-call-* do not exist here (br_netfilter not loaded)"
if nsx sysctl -n net.bridge.bridge-nf-call-iptables >/dev/null 2>&1; then
	for s in iptables ip6tables arptables; do
		nsx sysctl -qw "net.bridge.bridge-nf-call-$s=0" 2>/dev/null || true
	done
	NFNOTE="bridge-nf-call-* set to 0 in the namespace"
fi
nsx bridge fdb add "$MAC_B" dev "$B" master static

# bridge_pps: B's backend reads, A's writes to MAC_B; prints "offered delivered"
bridge_pps() {
	load --dev "$B" --read --idle-ms 1500 > "$TMP/b.json" &
	local reader=$! sec rx
	sleep 0.3
	load --dev "$A" --duration "$DUR" --size 64 --dst-mac "$MAC_B" > "$TMP/a.json"
	wait "$reader"
	sec=$(jq -r .seconds "$TMP/a.json")
	rx=$(jq -r .rx_frames "$TMP/b.json")
	echo "$(jq -r .tx_pps "$TMP/a.json") $(echo "$rx / $sec" | bc -l)"
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

BTPID=
bt_start() {
	bpftrace "$TMP/peer.bt" > "$TMP/bt.out" 2>&1 &
	BTPID=$!
	local i
	for i in $(seq 1 100); do
		grep -q '^Attaching' "$TMP/bt.out" 2>/dev/null && { sleep 0.5; return 0; }
		kill -0 "$BTPID" 2>/dev/null || break
		sleep 0.2
	done
	say "bpftrace did not attach: $(tail -3 "$TMP/bt.out" | tr '\n' ' ')"
	return 1
}
bt_stop() { kill -INT "$BTPID" 2>/dev/null || true; wait "$BTPID" 2>/dev/null || true; BTPID=; }

BACKEND=n/a
declare -A T
for mode in off tapflow bpftrace; do
	say "tracing: $mode"
	case $mode in
	tapflow)
		tf trace start --backend tracepoint "$R" "$A" "$B" >/dev/null
		BACKEND=$(tf trace status --json | jq -r '.backend // empty' | head -1)
		[ -n "$BACKEND" ] || BACKEND=$(tf trace status --json | jq -r '.. | .backend? // empty' | head -1)
		;;
	bpftrace) bt_start || { T[rx,$mode]=; T[br,$mode]=; continue; } ;;
	esac
	T[rx,$mode]=$(write_pps "$R" 1)
	read -r T[bro,$mode] T[br,$mode] < <(bridge_pps)
	case $mode in
	tapflow) tf trace stop "$R" "$A" "$B" >/dev/null ;;
	bpftrace) bt_stop ;;
	esac
done

# cost = 1 - traced/untraced
cost() { { [ -n "${1:-}" ] && [ -n "${2:-}" ] && echo "1 - $1 / $2" | bc -l; } || true; }

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
echo "## Tracing overhead, 1 queue, 64-byte frames, ${DUR} s per case"
echo
echo "tapflow backend: $BACKEND. bpftrace peer: tracepoints net_dev_start_xmit,"
echo "net_dev_xmit, consume_skb (map keyed by skb) and netif_receive_skb (count by device)."
echo "Bridge: $NFNOTE; static fdb entry $MAC_B on B; delivered = frames B's backend read per second of writing."
echo
echo "| path | tracing off Mpps | tapflow Mpps | bpftrace Mpps | tapflow / off | bpftrace / off | tapflow cost / bpftrace cost |"
echo "|---|---|---|---|---|---|---|"
for p in rx br; do
	[ $p = rx ] && n="backend write -> tap, no XDP (tun_get_user)" || n="tap A -> bridge -> tap B (delivered)"
	ct=$(cost "${T[$p,tapflow]:-}" "${T[$p,off]:-}"); cb=$(cost "${T[$p,bpftrace]:-}" "${T[$p,off]:-}")
	echo "| $n | $(mpps "${T[$p,off]:-}") | $(mpps "${T[$p,tapflow]:-}") | $(mpps "${T[$p,bpftrace]:-}") | $(ratio "${T[$p,tapflow]:-}" "${T[$p,off]:-}") | $(ratio "${T[$p,bpftrace]:-}" "${T[$p,off]:-}") | $(ratio "$ct" "$cb") |"
done
echo
echo "Bridge offered (A's writes) Mpps: off $(mpps "${T[bro,off]:-}"), tapflow $(mpps "${T[bro,tapflow]:-}"), bpftrace $(mpps "${T[bro,bpftrace]:-}")."
echo "Cost = 1 - traced/off; a cost ratio below 1 means tapflow slows the path less than bpftrace (n/a or negative values: within noise)."
} > "$OUT"

# ---- 3. the other benchmarks ---------------------------------------------
if [ "$SUB" = 1 ]; then
	for s in fastpath xsk export fleet; do
		f=$TOP/scripts/bench-$s.sh
		[ -x "$f" ] || continue
		say "running bench-$s.sh"
		{ echo; echo "## bench-$s.sh"; echo; } >> "$OUT"
		rc=0
		timeout 300 "$f" > "$TMP/sub.out" 2> "$TMP/sub.err" || rc=$?
		cat "$TMP/sub.out" >> "$OUT"
		if [ $rc != 0 ]; then
			echo "" >> "$OUT"
			echo "**bench-$s.sh failed (exit $rc$([ $rc = 124 ] && echo ', timed out after 300 s')): $(tail -2 "$TMP/sub.err" | tr '\n' ' ')**" >> "$OUT"
		fi
	done
fi

HDR="# Benchmark results

The latest measured figures, written by \`make bench\` (scripts/bench.sh) on
$(date -u '+%Y-%m-%d %H:%M UTC'), kernel \`$(uname -r)\`, $(nproc) CPUs. All
figures come from one run; only ratios within a run compare.
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
