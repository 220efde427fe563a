#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Host → guest steering on a real 4-queue tap held by tf-load --read (the
# backend). The host sends UDP flows from addresses on the tap to a guest
# address with a static neighbour entry; each flow i sends 2^i datagrams, so
# a queue's count says exactly which flows landed on it. The expected queue
# of each flow is computed here, in shell, from the mode's definition
# (tf_steer_shared.h), not by calling tapflow's own code.
source "$(dirname "$0")/../lib.sh"

UDPSEND=${UDPSEND:-$TOP/build/tests/tf-udpsend}
NQ=4
GUEST=10.9.0.2
RSS_KEY=6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa
# The flows: "SRC SPORT DST DPORT"
FLOWS=(
	"10.9.0.1 1000 10.9.0.2 5000"
	"10.9.0.1 1001 10.9.0.2 5000"
	"10.9.0.11 1002 10.9.0.2 5001"
	"10.9.0.12 40000 10.9.0.3 53"
	"10.9.0.13 5555 10.9.0.3 6666"
	"10.9.0.14 7 10.9.0.2 9"
)

M32=0xffffffff
ip2int() { local IFS=.; set -- $1; echo $(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 )); }

# The l3/l4 hash, as tf_steer_shared.h defines it. Sets HASH.
_mix() { local h=$(( (H ^ $1) & M32 )); h=$(( (h * 0x9e3779b1) & M32 )); H=$(( h ^ (h >> 15) )); }
sym_hash() {	# SRC SPORT DST DPORT L4(0|1)
	local a b pa=$2 pb=$4 t
	a=$(ip2int "$1"); b=$(ip2int "$3")
	if (( a > b || (a == b && pa > pb) )); then t=$a; a=$b; b=$t; t=$pa; pa=$pb; pb=$t; fi
	H=0x7f4a7c15
	_mix "$a"; _mix "$b"
	[ "$5" = 1 ] && _mix $(( (pa << 16) | pb ))
	H=$(( H ^ (H >> 16) )); H=$(( (H * 0x85ebca6b) & M32 )); H=$(( H ^ (H >> 13) ))
	HASH=$(( H & 0xffff ))
}

# Toeplitz over bytes, key in hex. Sets HASH.
toeplitz() {	# KEYHEX BYTE...
	local keyhex=$1; shift
	local -a key in=("$@")
	local i b k s v h=0
	for ((i = 0; i < 40; i++)); do key[i]=$((16#${keyhex:2*i:2})); done
	for ((i = 0; i < ${#in[@]}; i++)); do
		for ((b = 0; b < 8; b++)); do
			(( (in[i] >> (7 - b)) & 1 )) || continue
			k=$i; s=$b	# key bits from bit 8*i+b: window of 5 bytes
			v=$(( (key[k] << 32) | (key[k+1] << 24) | (key[k+2] << 16) | (key[k+3] << 8) | key[k+4] ))
			h=$(( h ^ ((v >> (8 - s)) & M32) ))
		done
	done
	HASH=$h
}
rss_hash() {	# KEYHEX SRC SPORT DST DPORT: IPv4 + UDP input
	local -a bytes
	local IFS=.
	bytes=($2 $4)
	unset IFS
	bytes+=($(( $3 >> 8 )) $(( $3 & 255 )) $(( $5 >> 8 )) $(( $5 & 255 )))
	toeplitz "$1" "${bytes[@]}"
}

# Expected queue of every flow for a mode, into EXPECT[i].
expect_queues() {	# MODE [INDIR_CSV]
	local i f
	local -a indir
	[ -n "${2:-}" ] && IFS=, read -ra indir <<< "$2"
	EXPECT=()
	for i in "${!FLOWS[@]}"; do
		f=(${FLOWS[$i]})
		case $1 in
		l3) sym_hash "${f[@]}" 0; EXPECT[i]=$(( HASH % NQ )) ;;
		l4) sym_hash "${f[@]}" 1; EXPECT[i]=$(( HASH % NQ )) ;;
		rss)	# default table: 128 entries, entry j = j % NQ
			rss_hash $RSS_KEY "${f[@]}"
			if [ ${#indir[@]} -gt 0 ]; then
				EXPECT[i]=${indir[$(( HASH & (${#indir[@]} - 1) ))]}
			else
				EXPECT[i]=$(( (HASH & 127) % NQ ))
			fi ;;
		esac
	done
}

setup_tap() {	# [tapflow create options]
	T=$(uniq_name st)
	tf create --queues $NQ "$@" "$T" >/dev/null || { fail "tapflow create failed"; return 1; }
	on_exit "nsenter --net=/run/netns/$NS $TAPFLOW delete --force $T"
	nsrun ip addr add 10.9.0.1/24 dev "$T"
	local a
	for a in 10.9.0.11 10.9.0.12 10.9.0.13 10.9.0.14; do
		nsrun ip addr add $a/24 dev "$T"
	done
	nsrun ip neigh replace 10.9.0.2 lladdr 02:00:00:00:00:02 dev "$T" nud permanent
	nsrun ip neigh replace 10.9.0.3 lladdr 02:00:00:00:00:03 dev "$T" nud permanent
}

# Start the backend reading all queues until 1.5 s of quiet.
start_reader() {
	OUT=$(mktemp)
	on_exit "rm -f $OUT"
	nsrun "$TFLOAD" --dev "$T" --queues $NQ --read --idle-ms 1500 ${VNET:+--vnet-hdr} > "$OUT" 2>&1 &
	READER=$!
	local i
	for ((i = 0; i < 100; i++)); do
		nsx ip -d link show "$T" | grep -q "numqueues $NQ " && return 0
		sleep 0.05
	done
	fail "tf-load did not attach $NQ queues"
}

send_flows() {
	local i f
	for i in "${!FLOWS[@]}"; do
		f=(${FLOWS[$i]})
		nsrun "$UDPSEND" "${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" $((1 << i)) >/dev/null ||
			{ fail "tf-udpsend ${FLOWS[$i]} failed"; return 1; }
	done
}

# Per-queue frame counts from tf-load's JSON, space separated.
queue_counts() {
	grep -o '"queue":[0-9]*,[^}]*"rx_frames":[0-9]*' "$OUT" | sed 's/.*"rx_frames":\([0-9]*\)/\1/' | tr '\n' ' '
}

check_expect() {	# WHAT
	local got want=() i q
	wait "$READER"
	got=$(queue_counts)
	for ((q = 0; q < NQ; q++)); do want[q]=0; done
	for i in "${!EXPECT[@]}"; do
		q=${EXPECT[$i]}
		want[q]=$(( want[q] + (1 << i) ))
	done
	expect_eq "$got" "${want[*]} " "$1: frames per queue (flow i sends 2^i)"
}

# Run bare (not through run.sh, isolated.sh or setup.sh), the suite still needs bpffs.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

run_mode() {	# MODE [STEER ARGS...] -- sets up nothing; tap and reader must exist
	local mode=$1; shift
	start_reader || return 1
	expect_ok "steer --mode $mode" tf steer "$T" --mode "$mode" "$@" || return 1
	send_flows || return 1
	check_expect "$mode"
}

test_l3() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap || return 1
	expect_queues l3
	run_mode l3 || return 1
	tf show "$T" | grep -q "steering: l3" || { fail "show does not say l3: $(tf show "$T" | grep steer)"; return 1; }
}

test_l4() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap || return 1
	expect_queues l4
	run_mode l4
}

test_rss_default() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap || return 1
	expect_queues rss
	run_mode rss || return 1
	tf show "$T" | grep -q "steering: rss (key 6d5a56da..., 128-entry" ||
		{ fail "show: $(tf show "$T" | grep steer)"; return 1; }
}

test_rss_key_indir() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap || return 1
	local key=fa01acbe3bb7426a0cf23080a32dcb77b4307baecb2bcad0b08fa3433d256741c20e5b25da565a6d
	RSS_KEY=$key
	expect_queues rss 3,1,2,0
	run_mode rss --key $key --indir 3,1,2,0
}

test_fixed() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap || return 1
	EXPECT=(3 1 2 0 3 0)	# flow 5 matches no rule: default queue 0
	run_mode fixed --rule udp:10.9.0.1:1000:10.9.0.2:5000=3 --rule udp:10.9.0.1:1001:10.9.0.2:5000=1 \
		--rule udp:10.9.0.11:1002:10.9.0.2:5001=2,udp:10.9.0.12:40000:10.9.0.3:53=0 \
		--rule ip:10.9.0.13:0:10.9.0.3:0=3 || return 1
	tf show "$T" | grep -q "steering: fixed (5 rules, default queue 0)" ||
		{ fail "show: $(tf show "$T" | grep steer)"; return 1; }
}

# Installing does not disturb a running backend: no queue is renumbered or
# lost, nothing is dropped, and the program outlives the CLI.
test_backend_undisturbed() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap || return 1
	local before after i
	EXPECT=(); for i in "${!FLOWS[@]}"; do EXPECT[i]=2; done
	start_reader || return 1
	before=$(nsx cat /sys/class/net/$T/statistics/tx_dropped)
	for i in 1 2 3; do
		expect_ok "steer l4" tf steer "$T" --mode l4 || return 1
	done
	expect_ok "steer fixed" tf steer "$T" --mode fixed --default-queue 2 || return 1
	nsx ip -d link show "$T" | grep -q "numqueues" &&
		{ nsx ip -d link show "$T" | grep -q "numqueues $NQ numdisabled 0" ||
			{ fail "queues changed: $(nsx ip -d link show "$T" | grep -o 'numqueues.*')"; return 1; }; }
	send_flows || return 1
	check_expect "fixed, default queue 2" || return 1
	after=$(nsx cat /sys/class/net/$T/statistics/tx_dropped)
	expect_eq "$after" "$before" "tx_dropped across steer"
}

# TUNSETIFF rewrites IFF_VNET_HDR device-wide: steer must reopen with the
# tap's own flags, or a vnet_hdr backend would start reading bare frames.
test_vnet_hdr_kept() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap --vnet-hdr || return 1
	VNET=1
	expect_queues l4
	run_mode l4 || return 1
	nsx ip -d link show "$T" | grep -q "vnet_hdr on" ||
		{ fail "vnet_hdr lost: $(nsx ip -d link show "$T" | grep -o 'tun type.*')"; return 1; }
	local bytes
	bytes=$(grep -o '"rx_bytes":[0-9]*,"seconds"' "$OUT" | grep -o '[0-9]*' | head -1)
	# 63 datagrams of 18 bytes: 14 + 20 + 8 + 18 = 60 bytes each, header excluded.
	expect_eq "$bytes" $((63 * 60)) "frame bytes after the vnet header"
}

test_off_and_delete() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap || return 1
	local ifindex ino dir
	ifindex=$(nsx cat /sys/class/net/$T/ifindex)
	ino=$(nsrun stat -L -c %i /proc/self/ns/net)
	dir=/sys/fs/bpf/tapflow/steer/$ino-$ifindex
	start_reader || return 1
	expect_ok "steer" tf steer "$T" --mode fixed --default-queue 3 || return 1
	[ -e "$dir/conf" ] || { fail "no pin at $dir"; return 1; }
	[ "$(stat -c %a "$dir/conf")" = 600 ] || { fail "pin mode $(stat -c %a "$dir/conf")"; return 1; }
	expect_ok "off" tf steer "$T" --off || return 1
	[ -e "$dir" ] && { fail "$dir left after --off"; return 1; }
	tf show "$T" | grep -q steering && { fail "show still reports steering"; return 1; }
	# Back to tun's own choice: nothing is forced onto queue 3 any more.
	send_flows || return 1
	local got
	wait "$READER"
	got=$(queue_counts)
	[ "$(echo $got | awk '{print $4}')" = 63 ] && { fail "all frames still on queue 3: $got"; return 1; }
	# Deleting the tap removes the record.
	expect_ok "steer again" tf steer "$T" --mode l3 || return 1
	expect_ok "delete" tf delete --force "$T" || return 1
	[ -e "$dir" ] && { fail "$dir left after delete"; return 1; }
	return 0
}

test_bad_input() {
	need "$UDPSEND" "$TFLOAD"
	setup_tap || return 1
	local before
	expect_ok "steer l4" tf steer "$T" --mode l4 || return 1
	before=$(tf show "$T" | grep steering)
	expect_fail "bad mode" "not one of l3, l4, rss, fixed" tf steer "$T" --mode l5 || return 1
	expect_fail "short key" "78 hex digits, need 80" tf steer "$T" --mode rss --key ${RSS_KEY:0:78} || return 1
	expect_fail "indir queue" "out of range" tf steer "$T" --mode rss --indir 0,1,2,4 || return 1
	expect_fail "indir length" "power of two" tf steer "$T" --mode rss --indir 0,1,2 || return 1
	expect_fail "rule queue" "out of range" tf steer "$T" --mode fixed --rule udp:1.2.3.4:1:5.6.7.8:2=4 || return 1
	expect_fail "rule syntax" "PROTO:SRC:SPORT:DST:DPORT" tf steer "$T" --mode fixed --rule udp:1.2.3.4:1=0 || return 1
	expect_fail "rule in l4" "for --mode fixed" tf steer "$T" --mode l4 --rule udp:1.2.3.4:1:5.6.7.8:2=0 || return 1
	expect_fail "default queue" "out of range" tf steer "$T" --mode l3 --default-queue 4 || return 1
	expect_fail "off plus mode" "takes no other option" tf steer "$T" --off --mode l3 || return 1
	expect_fail "no mode" "give --mode" tf steer "$T" || return 1
	expect_fail "no tap" "." tf steer nosuchtap0 --mode l3 || return 1
	expect_eq "$(tf show "$T" | grep steering)" "$before" "steering after bad input"
}

run_tests
