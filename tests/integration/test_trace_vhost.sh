#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Per-queue tracing with the backend production VMs use: vhost-net (qemu
# `-netdev tap,vhost=on`), played by tf-vhost. vhost never reads or writes
# the tap fd: host -> guest it takes up to 64 packets out of a queue's ring
# at once and hands each to tun_recvmsg as a pointer; guest -> host, with the
# tap's default sndbuf, it sends batches of xdp_buffs through tun_sendmsg
# (tun_xdp_one), and frames too big for a page, or any frame with a finite
# sndbuf, singly through tun_get_user. Every count is held to the packet and
# compared with the kernel's own device counters (/proc/net/dev).
#
# TF_BACKEND=fentry|kprobe|tracepoint forces a rung (the VM lane runs this
# file once per rung). Without /dev/vhost-net (the host kernel here has no
# CONFIG_VHOST_NET) every test SKIPs with that reason.
source "$(dirname "$0")/../lib.sh"

BACKEND=${TF_BACKEND:-auto}
SUITE=trace-vhost
[ "$BACKEND" != auto ] && SUITE="trace-vhost-$BACKEND"
VHOST=$TOP/build/tests/tf-vhost

need_vhost() {
	[ -c /dev/vhost-net ] && return 0
	skip "no /dev/vhost-net: this kernel has no vhost-net (CONFIG_VHOST_NET; the VM lane loads vhost_net)"
}

mk_tap() {	# mk_tap NAME QUEUES [more create options]
	local name=$1 q=$2; shift 2
	tf create "$name" --queues "$q" "$@" >/dev/null || { fail "create $name"; return 1; }
}

# The host side of a tap: an address, and the guest at 198.18.0.2.
host_side() {
	nsrun ip addr add 198.18.0.1/24 dev "$1" &&
	nsrun ip neigh replace 198.18.0.2 lladdr 02:00:00:00:01:00 dev "$1" nud permanent
}

# dev_stats NAME: the kernel's counters of NAME into DEV_RXP DEV_RXB DEV_TXP
# DEV_TXB DEV_TXD, from /proc/net/dev of the test's namespace (builtins:
# in the VM lane each jq costs ~250 ms).
dev_stats() {
	local line f
	while IFS= read -r line; do
		line=${line//:/ }
		read -r -a f <<< "$line"
		[ "${f[0]}" = "$1" ] || continue
		DEV_RXB=${f[1]} DEV_RXP=${f[2]} DEV_TXB=${f[9]} DEV_TXP=${f[10]} DEV_TXD=${f[12]}
		return 0
	done < <(nsrun cat /proc/net/dev)
	fail "no $1 in /proc/net/dev"
}

# tap_stats NAME: one row per queue into the array Q_ROWS, each
# "queue tx tx_xdp tx_bytes tx_drops rx rx_bytes untracked samples occ in_flight occ_max_ge",
# and the sums of those columns into S (S[0] is the number of queues).
tap_stats() {
	local out row w i
	out=$(tf stats "$1" --json | jq -r '.queues[] | [.queue, .tx_packets, .tx_xdp_packets,
		.tx_bytes, .tx_drops, .rx_packets, .rx_bytes, .ring_wait_untracked,
		.ring_wait_ns.count, .ring_occupancy.count, .ring_wait_in_flight,
		([.ring_occupancy.buckets[] | select(.count > 0) | .ge] | max // 0)] | map(tostring) | join(" ")') ||
		{ fail "tapflow stats $1"; return 1; }
	Q_ROWS=()
	S=(0 0 0 0 0 0 0 0 0 0 0 0)
	while read -r row; do
		[ -n "$row" ] || continue
		Q_ROWS+=("$row")
		read -r -a w <<< "$row"
		S[0]=$((S[0] + 1))
		for ((i = 1; i < 12; i++)); do
			[ "${w[i]}" = null ] && { S[i]=null; continue; }
			[ "${S[i]}" = null ] || S[i]=$((S[i] + w[i]))
		done
		[ "${w[11]}" -gt "${S[11]}" ] 2>/dev/null && S[11]=${w[11]}
	done <<< "$out"
	return 0
}

# tap_counts NAME: the sums of S[1..6] only (tx, tx_xdp, tx_bytes, tx_drops,
# rx, rx_bytes), from `tapflow stats`' table with builtins: no jq.
tap_counts() {
	local w i out
	out=$(tf stats "$1") || { fail "tapflow stats $1"; return 1; }
	S=(0 0 0 0 0 0 0)
	while read -r -a w; do
		[[ ${w[0]:-} =~ ^[0-9]+$ ]] || continue
		S[0]=$((S[0] + 1))
		for ((i = 1; i < 7; i++)); do S[i]=$((S[i] + w[i])); done
	done <<< "$out"
}

# vh FIELD JSON: tf-vhost's total FIELD; vhq FIELD JSON: its per-queue values.
vh() {
	local tot=${2##*],}
	[[ $tot =~ \"$1\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}
vhq() {
	local rest=${2%%],*} out=()
	while [[ $rest =~ \"$1\":([0-9]+)(.*) ]]; do
		out+=("${BASH_REMATCH[1]}")
		rest=${BASH_REMATCH[2]}
	done
	echo "${out[@]}"
}

# Nothing waits in any ring once the traffic is over: no record in flight.
expect_nothing_in_flight() {
	expect_eq "${S[10]}" 0 "ring_wait_in_flight (records still waiting for their packet)"
}

# K host -> guest packets, vhost reading as they come: K exact tx counts and
# K ring-wait samples, although vhost takes them out of the ring in batches.
test_host_to_guest_every_packet_sampled() {
	local t=$(uniq_name vh) K=300 out
	need_vhost || return $?
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	host_side "$t" || { fail "host side"; return 1; }
	out=$(nsrun "$VHOST" --dev "$t" --send $K --read $K --idle-ms 3000) || { fail "tf-vhost: $out"; return 1; }
	expect_eq "$(vh rx_frames "$out")" $K "frames the guest got" || return 1
	dev_stats "$t" && tap_stats "$t" || return 1
	expect_eq "$DEV_TXP" $K "device tx_packets" || return 1
	expect_eq "${S[1]}" "$DEV_TXP" "tx_packets vs the device's" || return 1
	expect_eq "${S[3]}" "$DEV_TXB" "tx_bytes vs the device's" || return 1
	expect_eq "${S[8]}" $K "ring-wait samples (one per packet vhost delivered)" || return 1
	expect_eq "${S[7]}" 0 "ring_wait_untracked" || return 1
	expect_nothing_in_flight
}

# Packets queued 10 ms before the guest posts its buffers: vhost holds a
# batch of them meanwhile; the wait ends at delivery, so p50 holds 10 ms.
# Few packets: under the VM lane's emulated CPU each send costs ~1 ms, and
# the first packets wait for the last ones to be sent too.
test_ring_wait_10ms_before_buffers() {
	local t=$(uniq_name vh) K=8 out b
	need_vhost || return $?
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	host_side "$t" || { fail "host side"; return 1; }
	out=$(nsrun "$VHOST" --dev "$t" --send $K --rx-delay-ms 10 --read $K --idle-ms 3000) ||
		{ fail "tf-vhost: $out"; return 1; }
	expect_eq "$(vh rx_frames "$out")" $K "frames the guest got" || return 1
	b=$(tf stats "$t" --json | jq -r '.queues[0] as $q | $q.ring_wait_ns as $h |
		[foreach $h.buckets[] as $b (0; . + $b.count; [., $b])] |
		map(select(.[0] * 2 >= $h.count)) | .[0][1] |
		"\($h.count) \($q.ring_wait_in_flight) \(.ge <= 10000000 and 10000000 < .lt) \(.ge)"')
	read -r -a b <<< "$b"
	expect_eq "${b[0]}" $K "ring-wait samples" || return 1
	expect_eq "${b[1]}" 0 "ring_wait_in_flight" || return 1
	expect_eq "${b[2]}" true "ring-wait p50 bucket (from ${b[3]} ns) holds 10 ms" || return 1
}

# Guest -> host with qemu's default sndbuf (INT_MAX): vhost sends batches of
# xdp_buffs through tun_sendmsg, never tun_get_user.
test_guest_to_host_batched() {
	local t=$(uniq_name vh) M=2000 out
	need_vhost || return $?
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	out=$(nsrun "$VHOST" --dev "$t" --write $M --size 64) || { fail "tf-vhost: $out"; return 1; }
	expect_eq "$(vh tx_frames "$out")" $M "frames vhost took" || return 1
	dev_stats "$t" && tap_counts "$t" || return 1
	expect_eq "$DEV_RXP" $M "device rx_packets" || return 1
	expect_eq "${S[5]}" "$DEV_RXP" "rx_packets vs the device's" || return 1
	expect_eq "${S[6]}" "$DEV_RXB" "rx_bytes vs the device's" || return 1
	expect_eq "${S[6]}" $((M * 64)) "rx_bytes" || return 1
}

# A finite sndbuf (TUNSETSNDBUF): vhost sends every frame singly through
# tun_get_user.
test_guest_to_host_finite_sndbuf() {
	local t=$(uniq_name vh) M=500 out
	need_vhost || return $?
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	out=$(nsrun "$VHOST" --dev "$t" --write $M --size 100 --sndbuf 1048576) ||
		{ fail "tf-vhost: $out"; return 1; }
	expect_eq "$(vh tx_frames "$out")" $M "frames vhost took" || return 1
	dev_stats "$t" && tap_counts "$t" || return 1
	expect_eq "${S[5]}" "$DEV_RXP" "rx_packets vs the device's" || return 1
	expect_eq "${S[5]}" $M "rx_packets" || return 1
	expect_eq "${S[6]}" "$DEV_RXB" "rx_bytes vs the device's" || return 1
}

# Small frames (batched) mixed with jumbo frames too big for a page (singly,
# through tun_get_user), on one queue, as a guest with GSO or a 9000 MTU sends.
test_guest_to_host_mixed_sizes() {
	local t=$(uniq_name vh) M=400 out
	need_vhost || return $?
	mk_tap "$t" 1 || return 1
	nsrun ip link set "$t" mtu 9000 || { fail "mtu 9000"; return 1; }
	trace_on "$t" || return $?
	out=$(nsrun "$VHOST" --dev "$t" --write $M --size 64,64,64,9000) || { fail "tf-vhost: $out"; return 1; }
	expect_eq "$(vh tx_frames "$out")" $M "frames vhost took" || return 1
	dev_stats "$t" && tap_counts "$t" || return 1
	expect_eq "${S[5]}" "$DEV_RXP" "rx_packets vs the device's" || return 1
	expect_eq "${S[5]}" $M "rx_packets" || return 1
	expect_eq "${S[6]}" $((M / 4 * (3 * 64 + 9000))) "rx_bytes" || return 1
	expect_eq "${S[6]}" "$DEV_RXB" "rx_bytes vs the device's" || return 1
}

# Four queues, one vhost device each (as qemu opens them): each queue keeps
# its own counts both ways.
test_queues_keep_their_counts() {
	local t=$(uniq_name vh) M=300 K=400 out q w got
	need_vhost || return $?
	mk_tap "$t" 4 || return 1
	trace_on "$t" || return $?
	out=$(nsrun "$VHOST" --dev "$t" --queues 4 --write $M) || { fail "tf-vhost (write): $out"; return 1; }
	host_side "$t" || { fail "host side"; return 1; }
	out=$(nsrun "$VHOST" --dev "$t" --queues 4 --send $K --send-flows 64 --read $K --idle-ms 3000) ||
		{ fail "tf-vhost (read): $out"; return 1; }
	read -r -a got <<< "$(vhq rx_frames "$out")"
	dev_stats "$t" && tap_stats "$t" || return 1
	expect_eq "${S[0]}" 4 "queues listed" || return 1
	for q in 0 1 2 3; do
		read -r -a w <<< "${Q_ROWS[q]}"
		expect_eq "${w[5]}" $M "queue $q rx_packets" || return 1
		expect_eq "${w[1]}" "${got[q]}" "queue $q tx_packets vs what its vhost delivered" || return 1
		expect_eq "${w[8]}" "${got[q]}" "queue $q ring-wait samples" || return 1
		expect_eq "${w[10]}" 0 "queue $q ring_wait_in_flight" || return 1
	done
	expect_eq "${S[5]}" "$DEV_RXP" "rx_packets vs the device's" || return 1
	expect_eq "${S[1]}" "$DEV_TXP" "tx_packets vs the device's" || return 1
	expect_eq "${S[1]}" $K "tx_packets" || return 1
}

# vhost holds a batch it took out of the ring when it is detached
# (VHOST_NET_SET_BACKEND -1): it puts the batch back, and a read() backend
# takes the rest. Every packet sampled once, nothing left in flight.
test_detach_holding_batch_then_read() {
	local t=$(uniq_name vh) K=200 out
	need_vhost || return $?
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	host_side "$t" || { fail "host side"; return 1; }
	out=$(nsrun "$VHOST" --dev "$t" --send $K --rx-buffers 10 --detach --read $K --idle-ms 3000) ||
		{ fail "tf-vhost: $out"; return 1; }
	expect_eq "$(vh rx_frames "$out")" 10 "frames vhost delivered before the detach" || return 1
	expect_eq "$(vh read_frames "$out")" $((K - 10)) "frames read() took after it" || return 1
	dev_stats "$t" && tap_stats "$t" || return 1
	expect_eq "${S[1]}" "$DEV_TXP" "tx_packets vs the device's" || return 1
	expect_eq "${S[1]}" $K "tx_packets" || return 1
	expect_eq "${S[8]}" $K "ring-wait samples" || return 1
	expect_eq "${S[7]}" 0 "ring_wait_untracked" || return 1
	expect_nothing_in_flight
}

# vhost takes the first packet out of a 16-slot ring into its batch (it has
# no buffer to put it in), the ring refills behind it, and then vhost is
# detached: the packet it held no longer fits back and tun frees it, unread,
# counting it nowhere. tapflow counts it queued and untracked; every packet
# read gets its sample; nothing stays in flight.
test_detach_ring_refilled_behind_batch() {
	local t=$(uniq_name vh) K=40 out read
	need_vhost || return $?
	mk_tap "$t" 1 --txqueuelen 16 || return 1
	trace_on "$t" || return $?
	host_side "$t" || { fail "host side"; return 1; }
	out=$(nsrun "$VHOST" --dev "$t" --send $K --send-first 1 --rx-buffers 0 --detach --idle-ms 1000) ||
		{ fail "tf-vhost: $out"; return 1; }
	read=$(vh read_frames "$out")
	dev_stats "$t" && tap_stats "$t" || return 1
	expect_eq "$read" 16 "frames read() took (a full ring)" || return 1
	expect_eq "$DEV_TXP" 16 "device tx_packets" || return 1
	expect_eq "${S[1]}" 17 "tx_packets (16 read, 1 freed from vhost's batch)" || return 1
	expect_eq "${S[4]}" $((K - 17)) "tx_drops (ring full)" || return 1
	expect_eq "${S[4]}" "$DEV_TXD" "tx_drops vs the device's" || return 1
	expect_eq "${S[8]}" 16 "ring-wait samples (one per packet read)" || return 1
	expect_eq "${S[7]}" 1 "ring_wait_untracked (the packet freed unread)" || return 1
	expect_nothing_in_flight
}

# The fast path with vhost on both taps: A's guest sends through vhost (A's
# XDP program runs in tun_xdp_one for its batches), the program redirects
# into tap B (tun_xdp_xmit: XDP frames in B's ring), and B's vhost delivers
# them as pointers. Every frame counted; sampled where the rung sees the
# delivery (fentry, kprobe), untracked where it cannot (tracepoint).
test_fastpath_into_vhost_reader() {
	local a b K=3000 macb=02:00:00:00:0b:01 outb outa
	need_vhost || return $?
	a=$(uniq_name fa) b=$(uniq_name fb)
	mk_tap "$a" 1 --txqueuelen 4096 --fastpath || return 1
	on_exit "tf delete $a"
	# 8192 slots: an occupancy that wrapped would show at 4096 or above
	mk_tap "$b" 1 --txqueuelen 8192 --fastpath || return 1
	on_exit "tf delete $b"
	trace_on "$b" || return $?
	# B's guest writes one frame (the fast path learns its MAC), then reads.
	nsrun "$VHOST" --dev "$b" --write 1 --src-mac "$macb" --dst-mac ff:ff:ff:ff:ff:ff \
		--read $K --idle-ms 3000 > "$NSDIR/b.json" 2>&1 &
	local reader=$!
	sleep 0.5
	outa=$(nsrun "$VHOST" --dev "$a" --write $K --dst-mac "$macb") || { fail "tf-vhost on $a: $outa"; return 1; }
	wait "$reader"
	outb=$(< "$NSDIR/b.json")
	expect_eq "$(vh tx_frames "$outa")" $K "frames A's vhost took" || return 1
	expect_eq "$(vh rx_frames "$outb")" $K "frames B's guest got" || return 1
	expect_eq "$(tf fastpath stats "$a" --json | jq .total.redirect_tap_packets)" $K \
		"redirected by A's XDP program (in tun_xdp_one)" || return 1
	dev_stats "$b" && tap_stats "$b" || return 1
	expect_eq "${S[1]}" $K "B tx_packets" || return 1
	expect_eq "${S[2]}" $K "B tx_xdp_packets" || return 1
	expect_eq "${S[4]}" 0 "B tx_drops" || return 1
	expect_eq "$DEV_TXP" $K "B's device tx_packets" || return 1
	local be=$BACKEND
	[ "$be" != auto ] || be=$(tf stats "$b" --json | jq -r .backend)
	if [ "$be" = tracepoint ]; then
		# This rung reads the bytes from the ring after tun_xdp_xmit
		# returned: a frame vhost already took has left no trace there
		# (README: fast path, tracepoint rung).
		[ "${S[3]}" -le $((K * 64)) ] || { fail "B tx_bytes ${S[3]} > $((K * 64))"; return 1; }
		expect_eq "${S[7]}" $K "untracked (the tracepoint rung sees no delivery of an XDP frame)" || return 1
	else
		expect_eq "${S[3]}" $((K * 64)) "B tx_bytes" || return 1
		expect_eq "${S[8]}" $K "ring-wait samples" || return 1
		expect_eq "${S[7]}" 0 "untracked" || return 1
	fi
	expect_eq "${S[9]}" $K "occupancy samples" || return 1
	[ "${S[11]}" -lt 4096 ] || { fail "occupancy sample in the bucket from ${S[11]}: wrapped"; return 1; }
	expect_nothing_in_flight
}

# One tracing session for the whole suite (tests/lib.sh: anchor_on).
[ -c /dev/vhost-net ] && anchor_on "$BACKEND"
run_tests
