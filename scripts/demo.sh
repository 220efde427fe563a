#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `make demo`: tapflow end to end on a throw-away tap. In a network namespace
# made for the demo (deleted on exit, also on failure) it creates a 4-queue
# tap, shows it, traces it, pushes traffic through every queue in both
# directions with the load tool, shows the per-queue counts, exports them as
# Prometheus text, and deletes the tap. Then two accelerated taps: frames one
# VM backend writes for the other's MAC go tap -> tap through the XDP fast
# path, and the tracing counts them as they enter the target's ring.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=$TOP/build/tapflow
LOAD=$TOP/build/tests/tf-load
QSCRIPT=$TOP/build/tests/tf-qscript
UDPSEND=$TOP/build/tests/tf-udpsend
NS=tfdemo$$
TAP=demo0
VM1=demovm1
VM2=demovm2
MAC2=02:00:00:00:0d:02

[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, taps, BPF)" >&2; exit 1; }
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null || true
	for t in "$TAP" "$VM1" "$VM2"; do
		# tapflow delete also stops tracing and the fast path on the tap
		nsenter --net="/run/netns/$NS" -- "$TAPFLOW" delete "$t" >/dev/null 2>&1 || true
	done
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

step "host sends 100/200/300/400 packets that tun steers to queues 0..3; backend reads
   (each queue's backend first writes one frame of its flow, so tun learns it: rx 50001)"
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
step "tapflow export --once   (Prometheus text; excerpt: the backends have detached, the counts stay)"
tf export --once | grep -E '^tapflow_(rx|tx)_packets_total|^tapflow_queue_attached|^tapflow_info' | head -14
step "tapflow delete $TAP"
tf delete "$TAP"

step "tapflow create $VM1 / $VM2 --queues 2 --txqueuelen 4096 --fastpath   (accelerated taps)"
tf create "$VM1" --queues 2 --txqueuelen 4096 --fastpath
tf create "$VM2" --queues 2 --txqueuelen 4096 --fastpath
tf trace start "$VM2"
step "$VM2's backend writes one frame: the fast path learns its MAC $MAC2"
ns "$LOAD" --dev "$VM2" --count 1 --src-mac "$MAC2" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null
tf fdb list
step "$VM1's backend writes 20000 frames per queue for $MAC2; $VM2's backend reads"
ns "$LOAD" --dev "$VM2" --queues 2 --read --idle-ms 700 > /tmp/tfdemo.$$ &
sleep 0.3
ns "$LOAD" --dev "$VM1" --queues 2 --count 20000 --rate 50000 --dst-mac "$MAC2" |
	jq -c '{written_per_queue: [.queues[].tx_frames]}'
wait
jq -c '{read_by_vm2: .rx_frames}' /tmp/tfdemo.$$
rm -f /tmp/tfdemo.$$
step "tapflow fastpath stats $VM1   (no skb, no bridge: redirect_tap)"
tf fastpath stats "$VM1"
step "tapflow stats $VM2   (the redirected frames entered its ring as XDP frames: tx_xdp)"
tf stats "$VM2"
step "tapflow export --once   (fast path families; excerpt)"
tf export --once | grep -E '^tapflow_fastpath_packets_total.*action="(redirect_tap|pass)"' | head -6
step "tapflow delete $VM1 $VM2   (programs, maps and pins go with them)"
tf delete "$VM1"
tf delete "$VM2"
tf list
echo
echo "demo: done; namespace $NS is removed on exit"
