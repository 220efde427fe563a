#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# What tracing one tap costs the rest of the host, counted rather than
# timed: while a tap is traced, N packets go through devices tapflow does
# not trace (a veth pair, a bridge between two veth pairs, a second tap
# written to by its backend and read from by it), and the kernel's BPF
# run-time statistics (tf-bpfstats: BPF_ENABLE_STATS while the traffic
# runs) say how many times each of tapflow's programs ran. Each case states
# the runs per packet, per program, on each rung:
#
#   fentry/kprobe: 0 for the veth and the bridge (tapflow hooks only tun's
#     functions); one early exit per hook for the untraced tap, whether its
#     backend uses read()/write() or vhost-net (tf-vhost: one tun_do_read
#     per packet it takes, one tun_sendmsg per batch of up to 64 it writes).
#   tracepoint: the global hooks the rung cannot avoid (net_dev_start_xmit
#     and net_dev_xmit on every transmit, skb_copy_datagram_iovec on a
#     tap's read); rx runs nothing for other devices where tcx links exist,
#     netif_rx_entry/netif_receive_skb_entry where not.
#
# In the VM lane the kernel is this suite's alone: the tun hooks' counts
# must be exact, a global tracepoint's within 4 runs (a rare frame of the
# guest's own). On a shared host, other traffic runs the global tracepoints too:
# there a global program's runs must lie in [k N, k N + N/2), i.e. round to
# k per packet; tc_rx (per tap) stays exact. Each rung is a test of its own
# (the three rungs load here in turn; one this kernel lacks is a SKIP).
source "$(dirname "$0")/../lib.sh"

BPFSTATS=$TOP/build/tests/tf-bpfstats
QSCRIPT=$TOP/build/tests/tf-qscript
UDPSEND=$TOP/build/tests/tf-udpsend
VHOST=$TOP/build/tests/tf-vhost
PIN=/sys/fs/bpf/tapflow/trace

if [ -n "${TAPFLOW_VM:-}" ]; then N=2000; else N=20000; fi
# guest -> host through vhost-net, in bursts of 64 (one tun_sendmsg each)
VB=64
M=$((N / VB * VB))
# host -> tap packets: all K wait in the ring (RING slots) before the read
K=$N
RING=$((N < 4000 ? 4096 : 32768))

# traced_tap RUNG: a tap traced with RUNG (T), or SKIP when it cannot run here
traced_tap() {
	T=$(uniq_name rt)
	tf create "$T" --queues 1 >/dev/null || { fail "create $T"; return 1; }
	trace_on --backend "$1" "$T"
}

mac_of() {	# (nsenter keeps the host's /sys: ask ip)
	local w
	read -r -a w <<< "$(nsrun ip -o link show dev "$1")"
	for ((i = 0; i < ${#w[@]}; i++)); do
		[ "${w[$i]}" = link/ether ] && { echo "${w[$((i + 1))]}"; return 0; }
	done
	return 1
}

# count PKTS EXPECT CMD...: run CMD under tf-bpfstats and check every
# program of the rung. EXPECT: "prog=k" or "prog=k+c" (c runs once, not per
# packet) for each program expected to run, k a whole number or a fraction
# p/q (once per q packets: PKTS must be a multiple of q); every other one
# must not run.
count() {
	local pkts=$1 expect=$2 json name runs k c want lo hi line per
	shift 2
	json=$(nsrun "$BPFSTATS" "$PIN" -- "$@" 2>"$NSDIR/cmd.err") ||
		{ fail "traffic: $(tail -2 "$NSDIR/cmd.err" | tr '\n' ' ')"; return 1; }
	echo "$json" > "$NSDIR/runs.json"
	while read -r name runs; do
		[ -n "$name" ] || continue
		k=0 c=0
		for want in $expect; do
			[ "${want%%=*}" = "$name" ] || continue
			k=${want#*=}
			[[ $k == *+* ]] && { c=${k#*+}; k=${k%+*}; }
		done
		per=1
		[[ $k == */* ]] && { per=${k#*/}; k=${k%/*}; }
		[ $((pkts % per)) = 0 ] || { fail "$pkts packets are not a multiple of $per"; return 1; }
		lo=$((k * pkts / per + c))
		[ "$per" = 1 ] || k=$k/$per
		if [ "$name" = tc_rx ]; then
			hi=$lo
		elif [ -n "${TAPFLOW_VM:-}" ]; then
			# A tracepoint fires for every packet of the kernel, ours or
			# not: a frame of the guest's own (one crossed the bridge's
			# two veths in a CI run: +2 on netif_rx_entry) may fall in
			# the window. Two such frames at most; a per-packet error
			# is N/64 = 31 runs or more. tapflow's tun hooks stay exact.
			case $name in tp_*) hi=$((lo + 4)) ;; *) hi=$lo ;; esac
		else
			hi=$((lo + pkts / 2 - 1))
		fi
		line="$name: $runs runs for $pkts packets, expected $k per packet$([ "$c" = 0 ] || echo " + $c")"
		if [ "$runs" -lt "$lo" ] || [ "$runs" -gt "$hi" ]; then
			fail "$line"
			return 1
		fi
		echo "# $line" >&2
	done <<< "$(prog_runs "$json")"
	return 0
}

# prog_runs JSON: "NAME RUNS" a line, from tf-bpfstats' one line of
# {"status":S,"progs":{"NAME":{"runs":R,"ns":N},...}} (builtins: a jq
# costs ~500 ms in the VM lane, and every test here reads one)
prog_runs() {
	local rest=$1
	while [[ $rest =~ \"([A-Za-z0-9_]+)\":\{\"runs\":([0-9]+) ]]; do
		echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
		rest=${rest#*"${BASH_REMATCH[0]}"}
	done
}

is_tcx() { [ -e "$PIN/prog_tc_rx" ]; }

# ---- the paths ------------------------------------------------------------

# links_ready DEV...: each is up as linkwatch sees it (operstate UP: its
# qdisc is active) and, if a bridge port, forwarding. A carrier reaches
# both through linkwatch, up to a second after `ip link set up`, and until
# then frames are dropped uncounted (a CI run counted 60 frames short).
links_ready() {
	local i d out ok
	for ((i = 0; i < 500; i++)); do
		ok=1
		for d in "$@"; do
			out=$(nsrun ip -d link show dev "$d")
			[[ $out == *"state UP"* ]] || { ok=0; break; }
			[[ $out != *bridge_slave* || $out == *"bridge_slave state forwarding"* ]] || { ok=0; break; }
		done
		[ "$ok" = 1 ] && return 0
		sleep 0.01
	done
	fail "links not up and forwarding after 5 s: $*"
	return 1
}

# veth: host -> vA ==veth==> vB (no address there: the stack drops it)
runs_veth() {
	local a=$(uniq_name va) b=$(uniq_name vb)
	traced_tap "$1" || return $?
	nsrun ip link add "$a" type veth peer name "$b" || { fail "veth"; return 1; }
	nsrun ip link set "$a" up && nsrun ip link set "$b" up &&
		nsrun ip addr add 198.18.1.1/24 dev "$a" &&
		nsrun ip neigh replace 198.18.1.2 lladdr "$(mac_of "$b")" dev "$a" nud permanent ||
		{ fail "veth setup"; return 1; }
	links_ready "$a" "$b" || return 1
	case $1 in
	tracepoint)
		if is_tcx; then e="tp_net_dev_start_xmit=1 tp_net_dev_xmit=1"
		else e="tp_net_dev_start_xmit=1 tp_net_dev_xmit=1 tp_netif_rx_entry=1"; fi ;;
	*) e="" ;;
	esac
	count "$N" "$e" "$UDPSEND" 198.18.1.1 9 198.18.1.2 9 "$N"
}

# bridge: host -> aA ==veth==> pA [bridge] pB ==veth==> aB (no address: dropped there)
runs_bridge() {
	local br=$(uniq_name br) aa=$(uniq_name aa) pa=$(uniq_name pa) ab=$(uniq_name ab) pb=$(uniq_name pb)
	traced_tap "$1" || return $?
	nsrun ip link add "$br" type bridge &&
		nsrun ip link add "$aa" type veth peer name "$pa" &&
		nsrun ip link add "$ab" type veth peer name "$pb" || { fail "links"; return 1; }
	nsrun ip link set "$pa" master "$br" && nsrun ip link set "$pb" master "$br" || { fail "ports"; return 1; }
	for d in "$br" "$aa" "$pa" "$ab" "$pb"; do nsrun ip link set "$d" up || return 1; done
	nsrun ip addr add 198.18.2.1/24 dev "$aa" &&
		nsrun ip neigh replace 198.18.2.2 lladdr "$(mac_of "$ab")" dev "$aa" nud permanent ||
		{ fail "bridge setup"; return 1; }
	links_ready "$aa" "$pa" "$ab" "$pb" || return 1
	# aB never sends, so the bridge floods its frames: to pB alone, its only other port
	case $1 in
	tracepoint)
		if is_tcx; then e="tp_net_dev_start_xmit=2 tp_net_dev_xmit=2"
		else e="tp_net_dev_start_xmit=2 tp_net_dev_xmit=2 tp_netif_rx_entry=2"; fi ;;
	*) e="" ;;
	esac
	count "$N" "$e" "$UDPSEND" 198.18.2.1 9 198.18.2.2 9 "$N"
}

# a second tap, untraced: its backend writes N frames (tun_get_user)
runs_taprx() {
	local u=$(uniq_name ut)
	traced_tap "$1" || return $?
	tf create "$u" --queues 1 >/dev/null || { fail "create $u"; return 1; }
	case $1 in
	fentry) e="fentry_tun_get_user=1 fexit_tun_get_user=1 fentry___tun_detach=0+1" ;;
	kprobe) e="kprobe_tun_get_user=1 kretprobe_tun_get_user=1 kprobe___tun_detach=0+1" ;;
	tracepoint) is_tcx && e="" || e="tp_netif_receive_skb_entry=1" ;;
	esac
	count "$N" "$e" "$TFLOAD" --dev "$u" --queues 1 --count "$N" --size 64
}

# tx_tap U: the untraced tap U for host -> tap packets: a ring of RING
# slots (all K wait there before the read) and the host side of it
tx_tap() {
	local out
	out=$(tf create "$1" --queues 1 --txqueuelen "$RING" 2>&1) || { fail "create $1: $out"; return 1; }
	nsrun ip addr add 198.18.0.1/24 dev "$1" &&
		nsrun ip neigh replace 198.18.0.2 lladdr 02:00:00:00:01:00 dev "$1" nud permanent ||
		{ fail "host side"; return 1; }
}

# tx_runs RUNG: what host -> tap packets run (into e), whoever reads them
# (read() or vhost): one tun_do_read each, the backend never finding the
# ring empty
tx_runs() {
	case $1 in
	fentry) e="fentry_tun_net_xmit=1 fexit_tun_net_xmit=1 fexit_tun_do_read=1 fentry___tun_detach=0+1" ;;
	kprobe) e="kprobe_tun_net_xmit=1 kretprobe_tun_net_xmit=1 kprobe_tun_do_read=1 kretprobe_tun_do_read=1 kprobe___tun_detach=0+1" ;;
	tracepoint) e="tp_net_dev_start_xmit=1 tp_net_dev_xmit=1 tp_skb_copy_datagram_iovec=1" ;;
	esac
}

# the same tap the other way: the host sends K packets, its backend reads them
runs_taptx() {
	local u=$(uniq_name ut)
	traced_tap "$1" || return $?
	tx_tap "$u" || return 1
	# The backend holds its queue while the K packets queue up, then reads
	# exactly K: one tun_do_read each, no read that finds the ring empty
	# (in the VM lane sending K takes over a second: a read that began
	# before the last packet came would be one more tun_do_read).
	# It says when its queue is attached (the tap has a carrier: before, the
	# host drops what it sends there) and starts reading when the sender is
	# done; waits are polls, not fixed holds.
	cat > "$NSDIR/tx.sh" <<-SH
		"$QSCRIPT" "$u" 1 t "$NSDIR/attached" g "$NSDIR/sent" r 0 $K 2000 > "$NSDIR/qs.json" &
		until [ -e "$NSDIR/attached" ]; do sleep 0.01; kill -0 \$! 2>/dev/null || exit 1; done
		"$UDPSEND" 198.18.0.1 9 198.18.0.2 20000 $K >/dev/null || exit 1
		: > "$NSDIR/sent"
		wait
	SH
	tx_runs "$1"
	count "$K" "$e" bash "$NSDIR/tx.sh" || return 1
	expect_eq "$(jq '.fds[0].read' "$NSDIR/qs.json")" "$K" "frames the untraced tap's backend read"
}

need_vhost() {
	[ -c /dev/vhost-net ] ||
		skip "no /dev/vhost-net: this kernel has no vhost-net (CONFIG_VHOST_NET; the VM lane loads vhost_net)"
}

# runs_vhost rx|tx RUNG: the untraced tap with a vhost-net backend
# (tf-vhost), one way:
#   rx, guest -> host: M frames in bursts of VB, each burst one batch of
#     xdp_buffs through tun_sendmsg (tun_xdp_one, never tun_get_user),
#     then into the stack;
#   tx, host -> guest: the host sends K packets, vhost takes them out of the
#     ring (in batches of up to 64) and hands each to tun_recvmsg, one
#     tun_do_read a packet (it peeks first: no read finds the ring empty).
# tf-vhost's own count of the frames (its JSON line) must be all of them.
runs_vhost() {
	local u=$(uniq_name ut) n e field args
	need_vhost
	traced_tap "$2" || return $?
	case $1 in
	rx)
		tf create "$u" --queues 1 >/dev/null || { fail "create $u"; return 1; }
		n=$M field=tx_frames args=(--write "$M" --tx-burst "$VB")
		case $2 in
		fentry) e="fentry_tun_sendmsg=1/$VB fentry___tun_detach=0+1" ;;
		kprobe) e="kprobe_tun_sendmsg=1/$VB kprobe___tun_detach=0+1" ;;
		tracepoint) is_tcx && e="" || e="tp_netif_receive_skb_entry=1" ;;
		esac ;;
	tx)
		tx_tap "$u" || return 1
		n=$K field=rx_frames args=(--send "$K" --read "$K" --idle-ms 3000)
		tx_runs "$2" ;;
	esac
	count "$n" "$e" "$VHOST" --dev "$u" "${args[@]}" || return 1
	# the totals follow the per-queue array (builtins, not a jq)
	[[ $(grep '^{"dev"' "$NSDIR/cmd.err") =~ \].*\"$field\":([0-9]+) ]] ||
		{ fail "no total $field from tf-vhost"; return 1; }
	expect_eq "${BASH_REMATCH[1]}" "$n" "frames the untraced tap's vhost-net backend moved ($field)"
}
runs_vhostrx() { runs_vhost rx "$1"; }
runs_vhosttx() { runs_vhost tx "$1"; }

# The cost as tapflow shows it: `trace status --bpf-stats` counts each
# program's runs over a window while the traced tap carries frames, and
# `export --bpf-stats` exports them as Prometheus counters.
test_cost_in_status_and_export() {
	local t=$(uniq_name rc) rx json runs ns
	tf create "$t" --queues 1 >/dev/null || { fail "create"; return 1; }
	tf trace start "$t" >/dev/null || { fail "trace start"; return 1; }
	on_exit "tf trace stop --all"
	case $(tf trace status --json | jq -r .backend) in
	fentry) rx=fexit_tun_get_user ;;
	kprobe) rx=kretprobe_tun_get_user ;;
	*) [ -e "$PIN/prog_tc_rx" ] && rx=tc_rx || rx=tp_netif_receive_skb_entry ;;
	esac
	nsrun "$TFLOAD" --dev "$t" --duration 3 --rate 20000 >/dev/null &
	sleep 0.5
	json=$(tf trace status --json --bpf-stats --window 1) || { fail "trace status --bpf-stats"; return 1; }
	read -r runs ns < <(jq -r --arg p "$rx" '.bpf_stats.programs[] | select(.program == $p) |
		"\(.runs) \(.ns_per_run)"' <<< "$json")
	[ -n "$runs" ] && [ "$runs" -ge 5000 ] || { fail "$rx ran ${runs:-no} times in 1 s of 20 kpps"; return 1; }
	[ "$(echo "$ns > 0" | bc)" = 1 ] || { fail "$rx: ns per run $ns"; return 1; }
	tf trace status --bpf-stats --window 0.2 | grep -q "^  $rx " || { fail "text status lists no $rx"; return 1; }
	expect_fail "--window without --bpf-stats" "give --bpf-stats" tf trace status --window 1 || return 1
	tf export --once --bpf-stats > "$NSDIR/m.prom" || { fail "export --bpf-stats"; return 1; }
	grep -q "^tapflow_bpf_prog_runs_total{prog=\"$rx\"} [1-9]" "$NSDIR/m.prom" ||
		{ fail "no tapflow_bpf_prog_runs_total for $rx"; return 1; }
	grep -q "^tapflow_bpf_prog_run_seconds_total{prog=\"$rx\"} " "$NSDIR/m.prom" ||
		{ fail "no tapflow_bpf_prog_run_seconds_total for $rx"; return 1; }
	if command -v promtool >/dev/null; then
		promtool check metrics < "$NSDIR/m.prom" >/dev/null 2>&1 || { fail "promtool: $(promtool check metrics < "$NSDIR/m.prom" 2>&1 | head -2)"; return 1; }
	fi
	tf export --once | grep -q tapflow_bpf_prog && { fail "BPF cost family without --bpf-stats"; return 1; }
	wait
	return 0
}

# A stopped tap counts nowhere while tracing stays loaded for others,
# although the tracepoint rung's programs cache each traced tap's lookup
# per CPU: a tap that takes the stopped one's slot counts its own packets
# only, and the stopped tap traced again counts from zero. Host -> tap
# packets (the global transmit hooks), sent from every CPU so that each
# CPU's cache holds the tap before it stops.
tx_to() {	# tx_to TAP NET COUNT: COUNT packets per CPU to TAP, its backend reading
	local cpu out n=$(nproc) i
	# The backend says when its queue is attached (before, the host drops
	# what it sends: the tap has no carrier) and reads all n * COUNT once
	# they are sent (the ring holds them): no fixed pause or idle timer a
	# slow VM lane could outrun.
	TX_SEQ=$((${TX_SEQ:-0} + 1))
	nsrun "$QSCRIPT" "$1" 1 t "$NSDIR/att$TX_SEQ" g "$NSDIR/sent$TX_SEQ" r 0 $(($3 * n)) 2000 \
		> "$NSDIR/qs$TX_SEQ.json" &
	local reader=$!
	for ((i = 0; i < 500; i++)); do [ -e "$NSDIR/att$TX_SEQ" ] && break; sleep 0.01; done
	[ -e "$NSDIR/att$TX_SEQ" ] || { fail "tf-qscript did not attach to $1 in 5 s"; kill $reader; return 1; }
	for ((cpu = 0; cpu < n; cpu++)); do
		out=$(nsrun taskset -c $cpu "$UDPSEND" "198.18.$2.1" 9 "198.18.$2.2" 9 "$3" 2>&1) ||
			{ fail "udpsend: $out"; kill $reader; return 1; }
	done
	: > "$NSDIR/sent$TX_SEQ"
	wait $reader
}
txof() { tf stats "$1" --json | jq '[.queues[] | .tx_packets] | add // 0'; }

test_stopped_tap_counts_nowhere() {
	local a=$(uniq_name sa) b=$(uniq_name sb) c=$(uniq_name sc) n=$(nproc) i=0 d
	for d in "$a" "$b" "$c"; do
		i=$((i + 1))
		tf create "$d" --queues 1 >/dev/null || { fail "create $d"; return 1; }
		nsrun ip addr add "198.18.4$i.1/24" dev "$d" &&
			nsrun ip neigh replace "198.18.4$i.2" lladdr "02:00:00:00:04:0$i" dev "$d" nud permanent ||
			{ fail "host side of $d"; return 1; }
	done
	tf trace start "$c" "$a" >/dev/null || { fail "trace start"; return 1; }
	on_exit "tf trace stop --all"
	tx_to "$a" 41 100 || return 1
	expect_eq "$(txof "$a")" $((100 * n)) "tx of $a while traced" || return 1
	expect_ok "stop $a" tf trace stop "$a" || return 1
	expect_ok "trace $b (in $a's slot)" tf trace start "$b" || return 1
	tx_to "$a" 41 100 && tx_to "$b" 42 50 || return 1
	expect_eq "$(txof "$b")" $((50 * n)) "tx of $b, which took $a's slot" || return 1
	expect_ok "trace $a again" tf trace start "$a" || return 1
	tx_to "$a" 41 30 || return 1
	expect_eq "$(txof "$a")" $((30 * n)) "tx of $a traced again" || return 1
}

# Where tun is built in and the kernel has bpf_rdonly_cast (v6.2), the
# tracepoint rung loads tun's fields directly: no probe-read helper call
# is left in the transmit programs.
test_tracepoint_loads_tun_directly() {
	local t id
	command -v bpftool >/dev/null || skip "no bpftool"
	# A tun module has BTF of its own, and its structs are not in vmlinux's
	# (which the VM lane's emulated CPU takes ~10 s to dump).
	[ -e /sys/kernel/btf/tun ] && skip "tun is a module here: its fields are probe-read"
	bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -q "^\[[0-9]*\] STRUCT 'tun_file'" ||
		skip "tun is a module here: its fields are probe-read"
	bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -q "FUNC 'bpf_rdonly_cast'" ||
		skip "no bpf_rdonly_cast in this kernel"
	traced_tap tracepoint || return $?
	for p in tp_net_dev_start_xmit tp_skb_copy_datagram_iovec tp_xdp_devmap_xmit; do
		id=$(bpftool -j prog show pinned "$PIN/link_$p" 2>/dev/null | jq .id)
		[ -n "$id" ] && [ "$id" != null ] ||
			id=$(bpftool -j link show pinned "$PIN/link_$p" | jq .prog_id)
		bpftool prog dump xlated id "$id" | grep -q probe_read_kernel &&
			{ fail "$p still calls bpf_probe_read_kernel"; return 1; }
	done
	return 0
}

TF_TEST_ORDER=(test_cost_in_status_and_export test_stopped_tap_counts_nowhere test_tracepoint_loads_tun_directly)
for rung in fentry kprobe tracepoint; do
	for path in veth bridge taprx taptx vhostrx vhosttx; do
		eval "test_${path}_$rung() { runs_$path $rung; }"
		TF_TEST_ORDER+=("test_${path}_$rung")
	done
done

# One tracing session per rung (tests/lib.sh: anchor_on): the tests run
# rung by rung (TF_TEST_ORDER).
suite_before_test() {
	case $1 in
	*_fentry) anchor_on fentry ;;
	*_kprobe) anchor_on kprobe ;;
	*_tracepoint) anchor_on tracepoint ;;
	*) anchor_on none ;;
	esac
}
run_tests
