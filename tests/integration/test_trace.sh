#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Per-queue tracing, held to the packet: real taps in a fresh netns, real
# BPF programs, real frames from a backend (tf-load, tf-qscript) and from
# the host (tf-udpsend). TF_BACKEND=fentry|kprobe|tracepoint forces a
# backend (the VM lane runs this file once per backend); a forced backend
# this kernel cannot run makes the tests SKIP with the kernel's reason.
source "$(dirname "$0")/../lib.sh"

BACKEND=${TF_BACKEND:-auto}
[ "$BACKEND" != auto ] && SUITE="trace-$BACKEND"
QSCRIPT=$TOP/build/tests/tf-qscript
UDPSEND=$TOP/build/tests/tf-udpsend

# qstat NAME QUEUE FIELD: a per-queue counter, from the row of QUEUE in
# `tapflow stats NAME`'s table (empty if the queue is not listed). Parsed
# with builtins: in the VM lane every jq costs ~300 ms, and this is the
# suite's most frequent check. (The JSON is checked field by field in the
# tests that use it.)
qstat() { qrow "$(tf stats "$1")" "$2" "$3"; }

# qrow TABLE QUEUE FIELD: the same from a table `tapflow stats` printed
# before: a test that checks several counters after its traffic reads them
# all from one snapshot.
qrow() {
	local col w
	case $3 in
	tx_packets) col=1 ;; tx_xdp_packets) col=2 ;; tx_bytes) col=3 ;; tx_drops) col=4 ;;
	rx_packets) col=5 ;; rx_bytes) col=6 ;; rx_drops) col=7 ;;
	*) echo "qstat: no column $3" >&2; return 1 ;;
	esac
	while read -r -a w; do
		[[ ${w[0]:-} == "$2" ]] && { echo "${w[$col]}"; return 0; }
	done <<< "$1"
}

# attached NAME N: wait (5 s at most) until N queues of NAME are attached
# and the kernel has the tap up (a tap with no queue has no carrier, and
# the host drops what it sends there before tun sees it): a backend that
# was just started may take a while to attach in the VM lane.
attached() {
	local i out
	for ((i = 0; i < 100; i++)); do
		out=$(tf show "$1" --json)
		[[ $out =~ \"attached\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge "$2" ] &&
			[[ $out == *'"operstate":"up"'* ]] && return 0
		sleep 0.05
	done
	fail "$1: $2 queue(s) not attached after 5 s"
	return 1
}

# tx_dropped NAME: the kernel's tx_dropped of NAME (/proc/net/dev of the
# test's namespace: the counter `ip -s link` shows), with builtins: in the
# VM lane an ip -j and a jq cost ~600 ms
tx_dropped() {
	local line f
	while IFS= read -r line; do
		line=${line//:/ }
		read -r -a f <<< "$line"
		[ "${f[0]}" = "$1" ] && { echo "${f[12]}"; return 0; }
	done < <(nsrun cat /proc/net/dev)
	fail "no $1 in /proc/net/dev"
}

mk_tap() {	# mk_tap NAME QUEUES [more create options]
	local name=$1 q=$2; shift 2
	tf create "$name" --queues "$q" "$@" >/dev/null || { fail "create $name"; return 1; }
}

# Host side of a tap: an address, and the guest at 198.18.0.2 with the MAC
# tf-qscript's fd 0 uses.
host_side() {
	nsrun ip addr add 198.18.0.1/24 dev "$1" &&
	nsrun ip neigh replace 198.18.0.2 lladdr 02:00:00:00:01:00 dev "$1" nud permanent
}

test_rx_exact_per_queue() {
	local t=$(uniq_name tr) q out tab
	mk_tap "$t" 4 || return 1
	trace_on "$t" || return $?
	out=$(nsrun "$TFLOAD" --dev "$t" --queues 4 --count 5000 --size 100) || { fail "tf-load: $out"; return 1; }
	tab=$(tf stats "$t") || { fail "tapflow stats"; return 1; }
	for q in 0 1 2 3; do
		expect_eq "$(qrow "$tab" $q rx_packets)" 5000 "queue $q rx_packets" || return 1
		expect_eq "$(qrow "$tab" $q rx_bytes)" 500000 "queue $q rx_bytes" || return 1
		expect_eq "$(qrow "$tab" $q tx_packets)" 0 "queue $q tx_packets" || return 1
	done
	expect_eq "$(tf stats "$t" --json | jq -r .backend)" \
		"$( [ "$BACKEND" = auto ] && tf trace status --json | jq -r .backend || echo "$BACKEND")" "backend" || return 1
}

test_tx_exact_on_known_queues() {
	local t=$(uniq_name tr) q tab
	mk_tap "$t" 2 || return 1
	trace_on "$t" || return $?
	host_side "$t" || { fail "host side"; return 1; }
	# Each fd writes one frame of its flow: tun learns flow -> queue, so
	# the host's replies of that flow land on the queue that wrote it.
	# It says when its two writes are done (files, not fixed pauses), and
	# reads once the sends are over: up to what each queue should have
	# (anything more stays in the ring and shows in tx_packets below).
	nsrun "$QSCRIPT" "$t" 2 w 0 1 w 1 1 t "$NSDIR/wrote" g "$NSDIR/sent" \
		r 0 123 800 r 1 77 800 > "$NSDIR/qs.json" &
	local i
	for ((i = 0; i < 500; i++)); do [ -e "$NSDIR/wrote" ] && break; sleep 0.01; done
	[ -e "$NSDIR/wrote" ] || { fail "tf-qscript did not write in 5 s"; return 1; }
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20000 123 >/dev/null || { fail "send q0"; return 1; }
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20001 77 >/dev/null || { fail "send q1"; return 1; }
	: > "$NSDIR/sent"
	wait
	local r0 r1
	read -r r0 r1 < <(jq -r '"\(.fds[0].read) \(.fds[1].read)"' "$NSDIR/qs.json")
	expect_eq "$r0" 123 "backend read on queue 0" || return 1
	expect_eq "$r1" 77 "backend read on queue 1" || return 1
	tab=$(tf stats "$t") || { fail "tapflow stats"; return 1; }
	expect_eq "$(qrow "$tab" 0 tx_packets)" 123 "queue 0 tx_packets" || return 1
	expect_eq "$(qrow "$tab" 1 tx_packets)" 77 "queue 1 tx_packets" || return 1
	# 18-byte payload + UDP + IPv4 + Ethernet = 60 bytes a frame
	expect_eq "$(qrow "$tab" 0 tx_bytes)" $((123 * 60)) "queue 0 tx_bytes" || return 1
	expect_eq "$(qrow "$tab" 0 rx_packets)" 1 "queue 0 rx_packets" || return 1
	expect_eq "$(tf stats "$t" --json | jq '[.queues[].ring_wait_ns.count] | add')" 200 \
		"ring-wait samples (one per packet read)" || return 1
}

test_ring_full_drops_match_device() {
	local t=$(uniq_name tr) before after sum full queued occ8
	mk_tap "$t" 1 --txqueuelen 16 || return 1
	trace_on "$t" || return $?
	host_side "$t" || return 1
	# A backend that attaches but never reads: the ring (16 slots) fills. It
	# holds its queue until the test is over (a file, not a fixed hold: a
	# queue that detached mid-send would turn ring_full drops into others).
	nsrun "$QSCRIPT" "$t" 1 g "$NSDIR/done" >/dev/null &
	on_exit ": > $NSDIR/done"
	attached "$t" 1 || return 1
	# the device's tx_dropped from /proc/net/dev (what ip -s shows), read
	# with builtins; then one snapshot of the stats, one jq for the fields
	before=$(tx_dropped "$t") || return 1
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20000 100 >/dev/null || { fail "send"; return 1; }
	after=$(tx_dropped "$t") || return 1
	read -r sum full queued occ8 < <(tf stats "$t" --json |
		jq -r '[([.queues[].tx_drops] | add), ([.queues[].tx_drop_causes.ring_full] | add),
			(.queues[] | select(.queue == 0) | .tx_packets),
			(.queues[0].ring_occupancy.buckets | map(select(.ge == 8)) | .[0].count)] | map(tostring) | join(" ")')
	expect_eq "$sum" $((after - before)) "per-queue tx_drops vs device tx_dropped delta" || return 1
	expect_eq "$full" "$sum" "drops with cause ring_full" || return 1
	[ "$sum" -ge 80 ] || { fail "expected >= 80 ring-full drops, got $sum"; return 1; }
	expect_eq "$queued" $((100 - sum)) "queued = sent - dropped" || return 1
	expect_eq "$occ8" 8 "occupancy samples in [8,16)" || return 1
}

test_ring_wait_10ms() {
	local t=$(uniq_name tr) b
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	host_side "$t" || return 1
	# The backend waits 10 ms after each wake-up before it reads.
	nsrun "$TFLOAD" --dev "$t" --queues 1 --read --count 20 --read-delay-us 10000 --idle-ms 4000 \
		> "$NSDIR/load.json" &
	attached "$t" 1 || return 1
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20000 20 30000 >/dev/null || { fail "send"; return 1; }
	wait
	expect_eq "$(jq .rx_frames "$NSDIR/load.json")" 20 "frames read" || return 1
	# The bucket where the cumulative count reaches half must hold 10 ms.
	local holds
	read -r holds b < <(tf stats "$t" --json | jq -c -r '.queues[0].ring_wait_ns as $h |
		[foreach $h.buckets[] as $b (0; . + $b.count; [., $b])] |
		map(select(.[0] * 2 >= $h.count)) | .[0][1] |
		"\(.ge <= 10000000 and 10000000 < .lt) \(tojson)"')
	[ "$holds" = true ] ||
		{ fail "ring wait p50 bucket $b does not hold 10 ms"; return 1; }
}

# ring_wait_in_flight counts the records still waiting for their packet:
# every packet queued while the backend does not read, then none once it has.
test_in_flight_until_read() {
	local t=$(uniq_name tr) got
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	host_side "$t" || return 1
	# The backend holds its queue until the test has looked (a file says
	# go), then reads; it says when it is attached.
	nsrun "$QSCRIPT" "$t" 1 t "$NSDIR/attached" g "$NSDIR/go" r 0 30 500 > "$NSDIR/qs.json" &
	local i
	for ((i = 0; i < 500; i++)); do [ -e "$NSDIR/attached" ] && break; sleep 0.01; done
	[ -e "$NSDIR/attached" ] || { fail "tf-qscript did not attach in 5 s"; return 1; }
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20000 30 >/dev/null || { fail "send"; return 1; }
	got=$(tf stats "$t" --json | jq -r '.queues[0] | "\(.tx_packets) \(.ring_wait_in_flight)"')
	: > "$NSDIR/go"
	expect_eq "$got" "30 30" "tx_packets and records in flight while the backend holds" || return 1
	wait
	expect_eq "$(jq '.fds[0].read' "$NSDIR/qs.json")" 30 "backend read" || return 1
	got=$(tf stats "$t" --json | jq -r '.queues[0] | "\(.ring_wait_ns.count) \(.ring_wait_in_flight)"')
	expect_eq "$got" "30 0" "ring-wait samples and records in flight after the read" || return 1
}

# Frames the XDP fast path redirects into a tap enter its ring through
# tun_xdp_xmit as XDP frames, not skbs: they must be counted all the same,
# and where the backend sees tun_do_read (fentry, kprobe) each gives one
# ring-wait sample; the tracepoint rung counts them as untracked instead.
test_fastpath_frames() {
	local a b K=3000 macb=02:00:00:00:0b:01 be got
	a=$(uniq_name fa) b=$(uniq_name fb)
	mk_tap "$a" 1 --txqueuelen 4096 --fastpath || return 1
	on_exit "tf delete $a"
	mk_tap "$b" 2 --txqueuelen 4096 --fastpath || return 1
	on_exit "tf delete $b"
	trace_on "$b" || return $?
	# B's guest MAC: the fast path learns it from a frame B's backend writes
	nsrun "$TFLOAD" --dev "$b" --count 1 --src-mac "$macb" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null ||
		{ fail "tf-load on $b"; return 1; }
	# B's backend holds both queues while A sends (its rings, 4096 slots
	# each, hold all K), then drains them: no idle timer races A's start,
	# however slow the VM lane's emulated CPU is on a loaded host.
	nsrun "$QSCRIPT" "$b" 2 g "$NSDIR/sent" r 0 "$K" 700 r 1 "$K" 700 > "$NSDIR/b.json" 2>&1 &
	local reader=$!
	on_exit ": > $NSDIR/sent"
	attached "$b" 2 || return 1
	nsrun "$TFLOAD" --dev "$a" --count "$K" --rate 40000 --dst-mac "$macb" > "$NSDIR/a.json" 2>&1 ||
		{ fail "tf-load on $a: $(tail -1 "$NSDIR/a.json")"; return 1; }
	: > "$NSDIR/sent"
	wait "$reader"
	got=$(jq '[.fds[].read] | add' "$NSDIR/b.json")
	expect_eq "$got" "$K" "frames B's backend read" || return 1
	expect_eq "$(tf fastpath stats "$a" --json | jq .total.redirect_tap_packets)" "$K" "redirected by the fast path" ||
		return 1
	# one jq for every total (each costs ~300 ms in the VM lane)
	local tx xdp bytes drops untracked waits occ
	read -r be tx xdp bytes drops untracked waits occ < <(tf stats "$b" --json | jq -r '
		def sum(f): [.queues[] | f] | add;
		[.backend, sum(.tx_packets), sum(.tx_xdp_packets), sum(.tx_bytes), sum(.tx_drops),
		 sum(.ring_wait_untracked), sum(.ring_wait_ns.count), sum(.ring_occupancy.count)] | map(tostring) | join(" ")')
	expect_eq "$tx" "$K" "B tx_packets" || return 1
	expect_eq "$xdp" "$K" "B tx_xdp_packets" || return 1
	expect_eq "$bytes" $((K * 64)) "B tx_bytes" || return 1
	expect_eq "$drops" 0 "B tx_drops" || return 1
	if [ "$be" = tracepoint ]; then
		expect_eq "$untracked" "$K" "untracked (tracepoint)" || return 1
	else
		expect_eq "$waits" "$K" "ring-wait samples ($be)" || return 1
		expect_eq "$untracked" 0 "untracked ($be)" || return 1
	fi
	expect_eq "$occ" "$K" "occupancy samples" || return 1
}

# A slot freed by `trace stop` (tracing stays loaded for another tap) and
# taken by the next tap starts from zero: nothing of the old tap's counts.
test_reused_slot_starts_at_zero() {
	local t1 t2 t3 q out tab
	t1=$(uniq_name ra) t2=$(uniq_name rb) t3=$(uniq_name rc)
	mk_tap "$t1" 2 && mk_tap "$t2" 1 && mk_tap "$t3" 2 || return 1
	trace_on "$t1" "$t2" || return $?
	out=$(nsrun "$TFLOAD" --dev "$t1" --queues 2 --count 300) || { fail "tf-load: $out"; return 1; }
	expect_eq "$(qstat "$t1" 1 rx_packets)" 300 "first tap's queue 1" || return 1
	expect_ok "stop the first tap" tf trace stop "$t1" || return 1
	trace_on "$t3" || return $?
	expect_eq "$(tf stats "$t3" --json | jq '[.queues[] | .rx_packets + .tx_packets] | add // 0')" 0 \
		"new tap's counts before traffic" || return 1
	out=$(nsrun "$TFLOAD" --dev "$t3" --queues 2 --count 7) || { fail "tf-load: $out"; return 1; }
	tab=$(tf stats "$t3") || { fail "tapflow stats"; return 1; }
	for q in 0 1; do
		expect_eq "$(qrow "$tab" $q rx_packets)" 7 "new tap's queue $q" || return 1
	done
}

test_queue_renumbering() {
	local t=$(uniq_name tr) out tab
	mk_tap "$t" 4 || return 1
	trace_on "$t" || return $?
	# Detaching fd 1 moves the last queue (fd 3) into slot 1; attaching fd 1
	# again makes it queue 3. Counters follow the queue numbers the kernel
	# really used.
	out=$(nsrun "$QSCRIPT" "$t" 4 w 0 10 w 1 10 w 2 10 w 3 10 d 1 w 3 5 a 1 w 1 7) ||
		{ fail "tf-qscript: $out"; return 1; }
	tab=$(tf stats "$t") || { fail "tapflow stats"; return 1; }
	expect_eq "$(qrow "$tab" 0 rx_packets)" 10 "queue 0" || return 1
	expect_eq "$(qrow "$tab" 1 rx_packets)" 15 "queue 1 (fd 1, then fd 3 moved in)" || return 1
	expect_eq "$(qrow "$tab" 2 rx_packets)" 10 "queue 2" || return 1
	expect_eq "$(qrow "$tab" 3 rx_packets)" 17 "queue 3 (fd 3, then fd 1 re-attached)" || return 1
}

test_deleted_tap_reported_gone() {
	local a=$(uniq_name ta) b=$(uniq_name tb)
	mk_tap "$a" 1 && mk_tap "$b" 1 || return 1
	trace_on "$a" "$b" || return $?
	nsrun ip link del "$a" || { fail "ip link del"; return 1; }
	nsrun "$TFLOAD" --dev "$b" --queues 1 --count 300 >/dev/null || { fail "tf-load"; return 1; }
	expect_eq "$(qstat "$b" 0 rx_packets)" 300 "surviving tap still counted" || return 1
	expect_eq "$(tf trace status --json | jq -r --arg n "$a" '.taps[] | select(.tap == $n) | .gone')" \
		true "deleted tap reported gone" || return 1
	expect_eq "$(tf stats "$a" --json | jq .gone)" true "stats of the deleted tap" || return 1
	tf stats "$a" | grep -q "gone" || { fail "text stats do not say gone"; return 1; }
	expect_ok "trace stop of the deleted tap" tf trace stop "$a" || return 1
}

test_untraced_tap_changes_nothing() {
	local a=$(uniq_name ta) b=$(uniq_name tb)
	mk_tap "$a" 2 && mk_tap "$b" 2 || return 1
	trace_on "$a" || return $?
	nsrun "$TFLOAD" --dev "$b" --queues 2 --count 1000 >/dev/null || { fail "tf-load"; return 1; }
	expect_eq "$(tf stats "$a" --json | jq '[.queues[] | .rx_packets + .tx_packets + .tx_drops] | add // 0')" \
		0 "traced tap's counters" || return 1
	expect_fail "stats of the untraced tap" "not traced" tf stats "$b" || return 1
}

test_delete_stops_tracing() {
	local t=$(uniq_name tr)
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	tf show "$t" | grep -q "tracing: " || { fail "show does not say traced"; return 1; }
	expect_ok "delete" tf delete "$t" || return 1
	[ -z "$(tf trace status --json | jq -r --arg n "$t" '.taps[] | select(.tap == $n) | .tap')" ] ||
		{ fail "deleted tap still traced"; return 1; }
}

test_bad_input() {
	local t=$(uniq_name tr) before
	before=$(ls /sys/fs/bpf/tapflow/trace 2>/dev/null | wc -l)
	expect_fail "unknown tap" "no tap named" tf trace start nosuchtap0 || return 1
	expect_fail "bad backend" "not one of" tf trace start --backend magic "$t" || return 1
	expect_fail "bad name" "interface name" tf stats "a/b" || return 1
	expect_fail "stop untraced" "not traced|not running" tf trace stop nosuchtap0 || return 1
	expect_eq "$(ls /sys/fs/bpf/tapflow/trace 2>/dev/null | wc -l)" "$before" "pins after bad input" || return 1
}

# Without CAP_SYS_ADMIN the kernel will not open a histogram map by id: the
# histograms are then unknown, never read as empty. stats fails naming it.
test_histograms_need_cap_sys_admin() {
	local t=$(uniq_name tr) out rc
	command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	out=$(nsrun setpriv --bounding-set=-sys_admin --inh-caps=-all -- "$TAPFLOW" stats "$t" --json 2>&1); rc=$?
	expect_eq "$rc" 1 "exit code without CAP_SYS_ADMIN ($out)" || return 1
	[[ "$out" == *CAP_SYS_ADMIN* ]] || { fail "message does not name CAP_SYS_ADMIN: $out"; return 1; }
	out=$(tf stats "$t" --json 2>&1) || { fail "stats with every capability: $out"; return 1; }
}

test_pins_private_and_removed() {
	local t=$(uniq_name tr) mode
	[ -z "$(tf trace status --json | jq -r '.taps[]?.tap')" ] || skip "another tracing session is running"
	mk_tap "$t" 1 || return 1
	trace_on "$t" || return $?
	for f in /sys/fs/bpf/tapflow/trace/*; do
		mode=$(stat -c %a "$f")
		expect_eq "$mode" 600 "mode of $f" || return 1
	done
	expect_eq "$(stat -c %a /sys/fs/bpf/tapflow/trace)" 700 "pin dir mode" || return 1
	tf trace stop "$t" || { fail "stop"; return 1; }
	[ ! -e /sys/fs/bpf/tapflow/trace ] || { fail "pins left after the last stop"; return 1; }
	bpftool link show 2>/dev/null | grep -q "tp_net_dev_start_xmit\|fentry_tun_net_xmit\|kprobe_tun_net_xmit" &&
		{ fail "a tracing link is still attached"; return 1; }
	return 0
}

# A backend the kernel refuses (fentry on the development hosts, kprobe
# without CONFIG_KPROBES) is exit 3, like every BPF load the kernel refuses,
# and leaves nothing pinned. Where both load (the VM lane) there is nothing
# to refuse.
test_refused_backend_exits_3() {
	local t=$(uniq_name tr) b out rc refused=0
	[ -z "$(tf trace status --json | jq -r '.taps[]?.tap')" ] || skip "another tracing session is running"
	mk_tap "$t" 1 || return 1
	for b in fentry kprobe; do
		out=$(tf trace start --backend $b "$t" 2>&1); rc=$?
		if [ "$rc" = 0 ]; then
			tf trace stop "$t" >/dev/null || { fail "stop after $b"; return 1; }
			continue
		fi
		refused=1
		expect_eq "$rc" 3 "exit code of a refused $b backend ($out)" || return 1
		[[ "$out" == *"the $b backend cannot run here"* ]] || { fail "message: $out"; return 1; }
		[ ! -e /sys/fs/bpf/tapflow/trace ] || { fail "pins left after a refused $b"; return 1; }
	done
	[ "$refused" = 1 ] || skip "this kernel runs the fentry and kprobe backends"
	return 0
}

# Tests of user-space behaviour only, the same on every rung (bad input
# fails before any load; the refused-backend test tries fentry and kprobe
# whatever rung is asked for): where run.sh runs this suite once per rung
# (TF_TRACE_BACKENDS, the VM lane), they run with the first rung only.
if [ -n "${TF_TRACE_BACKENDS:-}" ] && [ "$BACKEND" != "${TF_TRACE_BACKENDS%% *}" ]; then
	unset -f test_bad_input test_refused_backend_exits_3
fi

# One tracing session for most of the suite (tests/lib.sh: anchor_on). The
# tests that need to be the only session (the pins go with the last stop; a
# refused load leaves nothing) run after the anchor is gone, and load and
# unload the programs themselves.
suite_before_test() {
	case $1 in
	test_pins_private_and_removed|test_refused_backend_exits_3) anchor_on none ;;
	*) anchor_on "$BACKEND" ;;
	esac
}
run_tests
