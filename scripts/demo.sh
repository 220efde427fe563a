#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `make demo`: tapflow end to end on a throw-away tap. In a network namespace
# made for the demo (deleted on exit, also on failure) it creates a 4-queue
# tap, shows it, traces it, pushes traffic through every queue in both
# directions with the load tool, shows the per-queue counts, exports them as
# Prometheus text, and deletes the tap.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=$TOP/build/tapflow
LOAD=$TOP/build/tests/tf-load
QSCRIPT=$TOP/build/tests/tf-qscript
UDPSEND=$TOP/build/tests/tf-udpsend
NS=tfdemo$$
TAP=demo0

[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, taps, BPF)" >&2; exit 1; }
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null || true
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" trace stop "$TAP" >/dev/null 2>&1 || true
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
tf() { nsenter --net="/run/netns/$NS" -- "$TAPFLOW" "$@"; }
ns() { nsenter --net="/run/netns/$NS" -- "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "tapflow create $TAP --queues 4   (in network namespace $NS)"
tf create "$TAP" --queues 4
step "tapflow show $TAP"
tf show "$TAP"
step "tapflow trace start $TAP"
tf trace start "$TAP"

step "backend writes 50000 frames into each of the 4 queues (tf-load)"
ns "$LOAD" --dev "$TAP" --queues 4 --count 50000 --size 128 |
	jq -c '{frames_per_queue: [.queues[].tx_frames], tx_pps}'

step "host sends 100/200/300/400 packets that tun steers to queues 0..3; backend reads"
ns ip addr add 198.18.0.1/24 dev "$TAP"
ns ip neigh replace 198.18.0.2 lladdr 02:00:00:00:01:00 dev "$TAP" nud permanent
# Each fd writes one frame of its own flow first: tun learns flow -> queue.
ns "$QSCRIPT" "$TAP" 4 w 0 1 w 1 1 w 2 1 w 3 1 s 300 \
	r 0 100 500 r 1 200 500 r 2 300 500 r 3 400 500 > /tmp/tfdemo.$$ &
sleep 0.2
for q in 0 1 2 3; do
	ns "$UDPSEND" 198.18.0.1 9 198.18.0.2 $((20000 + q)) $(((q + 1) * 100)) >/dev/null
done
wait
jq -c '{read_per_queue: [.fds[].read]}' /tmp/tfdemo.$$
rm -f /tmp/tfdemo.$$

step "tapflow stats $TAP   (tx: host -> ring -> backend; rx: backend -> host)"
tf stats "$TAP"
step "tapflow hist $TAP --queue 3"
tf hist "$TAP" --queue 3
step "tapflow export --once   (Prometheus text; excerpt)"
tf export --once | grep -E '^tapflow_(rx|tx)_packets_total|^tapflow_info' | head -12
step "tapflow delete $TAP"
tf delete "$TAP"
tf list
echo
echo "demo: done; namespace $NS is removed on exit"
