#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# AF_XDP on tap queues: the socket layer (tf_xsk_*) with a minimal test XDP
# program, the fast path's AF_XDP rules delivering exactly the matching
# frames to the socket of the queue they were written on, and `tapflow
# xsk-fwd` forwarding between two taps queue by queue in both directions.
# tf-xsk is the backend and the AF_XDP receiver at once, so every frame
# that goes in is known; tf-qscript plays the backends around xsk-fwd.
source "$(dirname "$0")/../lib.sh"

TFXSK=${TFXSK:-$TOP/build/tests/tf-xsk}
QSCRIPT=${QSCRIPT:-$TOP/build/tests/tf-qscript}

# Run bare (not through run.sh, isolated.sh or setup.sh), the suite still needs bpffs.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

new_tap() {	# VAR QUEUES
	local name
	name=$(uniq_name xk)
	tf create --queues "$2" "$name" >/dev/null || { fail "tapflow create $name failed"; return 1; }
	on_exit "nsenter --net=/run/netns/$NS $TAPFLOW fastpath off $name"
	on_exit "nsenter --net=/run/netns/$NS $TAPFLOW delete --force $name"
	printf -v "$1" %s "$name"
}

# jq-free field access for tf-xsk's JSON: qfield JSON QUEUE FIELD
qfield() {
	local q
	q=$(grep -o "{\"queue\":$2,[^]]*" <<< "$1" | sed 's/},{"queue".*//')
	case $3 in
	rx|other) grep -o "\"$3\":[0-9]*" <<< "$q" | head -1 | cut -d: -f2 ;;
	udp*) grep -o "\"${3#udp}\":[0-9]*" <<< "$q" | head -1 | cut -d: -f2 ;;
	esac
}

# The socket layer alone: every frame goes to its queue's socket.
test_socket_layer() {
	need "$TFXSK" "$QSCRIPT"
	local A out
	new_tap A 2 || return 1
	out=$(nsrun "$TFXSK" --dev "$A" --queues 2 --attach --test-prog \
		--write 0:udp:53:100 --write 0:udp:9:20 --write 1:udp:53:7 --write 1:arp:5 \
		--write 1:udp:9:3 --idle-ms 300) || { fail "tf-xsk failed: $out"; return 1; }
	expect_eq "$(qfield "$out" 0 rx)" 120 "queue 0 frames" || return 1
	expect_eq "$(qfield "$out" 0 udp53)" 100 "queue 0 port 53" || return 1
	expect_eq "$(qfield "$out" 1 rx)" 15 "queue 1 frames" || return 1
	expect_eq "$(qfield "$out" 1 other)" 5 "queue 1 ARP" || return 1
	# need_wakeup off: same frames.
	out=$(nsrun "$TFXSK" --dev "$A" --queues 2 --attach --test-prog --no-need-wakeup \
		--write 1:udp:9:300 --idle-ms 300) || { fail "tf-xsk failed: $out"; return 1; }
	expect_eq "$(qfield "$out" 1 rx)" 300 "queue 1 frames, need_wakeup off"
}

# Fast path rules: only matching frames reach the sockets, each on its queue.
test_rules_deliver() {
	need "$TFXSK" "$QSCRIPT"
	local A out
	new_tap A 2 || return 1
	expect_ok "fastpath on" tf fastpath on "$A" || return 1
	expect_ok "rule udp 53" tf fastpath rule add "$A" --udp-dport 53 || return 1
	out=$(nsrun "$TFXSK" --dev "$A" --queues 2 --attach \
		--write 0:udp:53:100 --write 0:udp:9:20 --write 1:udp:53:7 --write 1:arp:5 \
		--write 1:udp:9:3 --idle-ms 300) || { fail "tf-xsk failed: $out"; return 1; }
	expect_eq "$(qfield "$out" 0 rx)" 100 "queue 0: only port 53" || return 1
	expect_eq "$(qfield "$out" 0 udp53)" 100 "queue 0 port 53" || return 1
	expect_eq "$(qfield "$out" 1 rx)" 7 "queue 1: only port 53" || return 1
	expect_eq "$(qfield "$out" 1 udp53)" 7 "queue 1 port 53" || return 1
	# A second rule (ARP) adds exactly the ARP frames.
	expect_ok "rule arp" tf fastpath rule add "$A" --ethertype 0x0806 || return 1
	out=$(nsrun "$TFXSK" --dev "$A" --queues 2 --attach \
		--write 0:udp:53:10 --write 0:udp:9:20 --write 1:arp:5 --write 1:udp:9:3 \
		--idle-ms 300) || { fail "tf-xsk failed: $out"; return 1; }
	expect_eq "$(qfield "$out" 0 rx)" 10 "queue 0 with ARP rule" || return 1
	expect_eq "$(qfield "$out" 1 rx)" 5 "queue 1: the ARP frames" || return 1
	expect_eq "$(qfield "$out" 1 other)" 5 "queue 1 ARP" || return 1
	# The sockets are gone from the XSKMAP afterwards: frames take the normal path.
	out=$(nsrun "$TFXSK" --dev "$A" --queues 2 --attach --write 0:udp:53:4 --idle-ms 100 2>&1)
	tf fastpath stats "$A" | grep -q . || { fail "no fastpath stats"; return 1; }
	return 0
}

# xsk-fwd: K frames written into A's queue q come out of B's queue q, and
# the other way round.
test_fwd() {
	need "$TFXSK" "$QSCRIPT"
	local A B qa qb fwd K=300 K2=40
	new_tap A 2 || return 1
	new_tap B 2 || return 1
	for t in "$A" "$B"; do
		expect_ok "fastpath on $t" tf fastpath on "$t" || return 1
		expect_ok "rule all $t" tf fastpath rule add "$t" --all || return 1
	done
	qa=$(mktemp); qb=$(mktemp); fwd=$(mktemp)
	on_exit "rm -f $qa $qb $fwd"
	# Backends: attach 2 queues, wait for xsk-fwd to bind, write, then read.
	nsrun "$QSCRIPT" "$A" 2 s 1500 w 0 $K w 1 $((K / 2)) r 0 $K2 2000 r 1 $K2 2000 > "$qa" &
	local pa=$!
	nsrun "$QSCRIPT" "$B" 2 s 1500 w 0 $K2 w 1 $K2 r 0 $K 2000 r 1 $((K / 2)) 2000 > "$qb" &
	local pb=$!
	sleep 0.5
	tf xsk-fwd "$A" "$B" --queues 2 --duration 3.5 --json > "$fwd" 2>&1 ||
		{ fail "xsk-fwd failed: $(tail -1 "$fwd")"; return 1; }
	wait $pa $pb
	expect_eq "$(grep -o '"a_to_b":[0-9]*' "$fwd" | tail -1 | cut -d: -f2)" $((K + K / 2)) "xsk-fwd A->B" || return 1
	expect_eq "$(grep -o '"b_to_a":[0-9]*' "$fwd" | tail -1 | cut -d: -f2)" $((2 * K2)) "xsk-fwd B->A" || return 1
	expect_eq "$(grep -o '{"fd":0,[^}]*' "$qb" | grep -o '"read":[0-9]*' | cut -d: -f2)" $K "B queue 0 read" || return 1
	expect_eq "$(grep -o '{"fd":1,[^}]*' "$qb" | grep -o '"read":[0-9]*' | cut -d: -f2)" $((K / 2)) "B queue 1 read" || return 1
	expect_eq "$(grep -o '{"fd":0,[^}]*' "$qa" | grep -o '"read":[0-9]*' | cut -d: -f2)" $K2 "A queue 0 read" || return 1
	expect_eq "$(grep -o '{"fd":1,[^}]*' "$qa" | grep -o '"read":[0-9]*' | cut -d: -f2)" $K2 "A queue 1 read"
}

test_bad_input() {
	need "$TFXSK" "$QSCRIPT"
	local A B
	new_tap A 1 || return 1
	new_tap B 1 || return 1
	expect_fail "same tap" "same tap" tf xsk-fwd "$A" "$A" || return 1
	expect_fail "no tap" "no such device" tf xsk-fwd nosuchtap0 "$B" || return 1
	expect_fail "not a port" "fastpath on" tf xsk-fwd "$A" "$B" --duration 1 || return 1
	expect_fail "queues 0" "out of range" tf xsk-fwd "$A" "$B" --queues 0 || return 1
}

run_tests
