#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# tapflow capture, read back with real readers (tshark, tcpdump -r): real
# taps in a fresh netns, frames from a backend (tf-load, tf-qscript) and
# from the host (tf-udpsend), the kernel's counters and `tapflow stats` as
# the reference. Each capture must be listening within 10 s (the 1 s goal
# is make bench's: bench-capture.sh).
source "$(dirname "$0")/../lib.sh"

QSCRIPT=$TOP/build/tests/tf-qscript
UDPSEND=$TOP/build/tests/tf-udpsend
VHOST=$TOP/build/tests/tf-vhost

mk_tap() {	# mk_tap NAME QUEUES [more create options]
	local name=$1 q=$2; shift 2
	tf create "$name" --queues "$q" "$@" >/dev/null || { fail "create $name"; return 1; }
}

host_side() {
	nsrun ip addr add 198.18.0.1/24 dev "$1" &&
	nsrun ip neigh replace 198.18.0.2 lladdr 02:00:00:00:01:00 dev "$1" nud permanent
}

# cap_start ARGS...: run `tapflow capture ARGS` in the background (CAP_PID),
# stderr in $NSDIR/cap.err, and wait until it listens: at most 10 s (20 s in
# the VM lane, whose CPU is emulated: fentry's trampolines alone take
# seconds to attach there). The 1 s goal is measured in make bench
# (bench-capture.sh): on a loaded 2-core machine a start can take longer.
cap_start() {
	local limit=10000000 t0=${EPOCHREALTIME/./}
	[ -n "${TAPFLOW_VM:-}" ] && limit=20000000
	: > "$NSDIR/cap.err"
	# nsenter execs tapflow: $! is the capture itself, which signals reach
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" capture "$@" 2> "$NSDIR/cap.err" > "$NSDIR/cap.out" &
	CAP_PID=$!
	on_exit "kill -9 $CAP_PID"
	while (( ${EPOCHREALTIME/./} - t0 < limit )); do
		grep -q "listening on" "$NSDIR/cap.err" && return 0
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.01
	done
	fail "capture not listening within $((limit / 1000000)) s: $(cat "$NSDIR/cap.err")"
	return 1
}

# cap_stop: SIGINT, then its exit status must be 0.
cap_stop() {
	kill -INT "$CAP_PID" 2>/dev/null
	( sleep 5; kill -9 "$CAP_PID" ) 2>/dev/null &
	wait "$CAP_PID" || { fail "capture exited $?: $(tail -1 "$NSDIR/cap.err")"; return 1; }
}

# count FILE DISPLAY-FILTER: packets tshark finds
count() {
	tshark -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null | grep -c .
}

test_queues_and_directions() {
	need tshark
	local t=$(uniq_name ca) f
	mk_tap "$t" 2 || return 1
	host_side "$t" || return 1
	f=$NSDIR/q.pcapng
	cap_start "$t" -w "$f" || return 1
	# fd i writes one frame of flow 20000+i; the host's replies of that
	# flow go back on the queue that wrote it (tun's flow table)
	nsrun "$QSCRIPT" "$t" 2 w 0 1 w 1 1 s 400 r 0 1000 800 r 1 1000 800 > "$NSDIR/qs.json" &
	local qs=$!
	sleep 0.2
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20000 123 >/dev/null || { fail "send q0"; return 1; }
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20001 77 >/dev/null || { fail "send q1"; return 1; }
	wait "$qs"
	cap_stop || return 1
	expect_eq "$(count "$f" 'udp.dstport == 20000 && frame.interface_queue == 0 && frame.packet_flags_direction == 2')" \
		123 "outbound on queue 0" || return 1
	expect_eq "$(count "$f" 'udp.dstport == 20001 && frame.interface_queue == 1 && frame.packet_flags_direction == 2')" \
		77 "outbound on queue 1" || return 1
	expect_eq "$(count "$f" 'udp.dstport >= 20000')" 200 "outbound in all" || return 1
	expect_eq "$(count "$f" 'udp.srcport == 20000 && frame.interface_queue == 0 && frame.packet_flags_direction == 1')" \
		1 "inbound on queue 0" || return 1
	expect_eq "$(count "$f" 'udp.srcport == 20001 && frame.interface_queue == 1 && frame.packet_flags_direction == 1')" \
		1 "inbound on queue 1" || return 1
	expect_eq "$(count "$f" 'udp.dstport >= 20000 && frame.comment contains "ring wait"')" 200 \
		"delivered packets carry their ring wait" || return 1
	expect_eq "$(tshark -r "$f" -T fields -e frame.interface_name 2>/dev/null | sort -u)" "$t" "interface name" ||
		return 1
}

test_drops_match_stats_and_kernel() {
	need tshark
	local t=$(uniq_name cd) f before after full
	mk_tap "$t" 1 --txqueuelen 16 || return 1
	tf trace start "$t" >/dev/null || { fail "trace start"; return 1; }
	on_exit "tf trace stop $t"
	host_side "$t" || return 1
	f=$NSDIR/d.pcapng
	# A backend that attaches but never reads: the ring (16 slots) fills.
	nsrun "$QSCRIPT" "$t" 1 h 3000 >/dev/null &
	sleep 0.3
	cap_start "$t" --drops ring_full -w "$f" || return 1
	before=$(nsrun ip -s -j link show "$t" | jq '.[0].stats64.tx.dropped')
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20000 100 >/dev/null || { fail "send"; return 1; }
	after=$(nsrun ip -s -j link show "$t" | jq '.[0].stats64.tx.dropped')
	sleep 0.1
	cap_stop || return 1
	full=$(tf stats "$t" --json | jq '[.queues[].tx_drop_causes.ring_full] | add')
	expect_eq "$full" $((after - before)) "tapflow stats ring_full vs tx_dropped delta" || return 1
	[ "$full" -ge 80 ] || { fail "expected >= 80 ring-full drops, got $full"; return 1; }
	expect_eq "$(count "$f" 'frame.comment contains "dropped: ring_full"')" "$full" "captured ring_full drops" ||
		return 1
	expect_eq "$(count "$f" 'frame')" "$full" "nothing but drops" || return 1
	expect_eq "$(count "$f" 'udp.dstport == 20000 && frame.interface_queue == 0 && frame.packet_flags_direction == 2')" \
		"$full" "drops: queue 0, outbound, the sent flow" || return 1
}

test_filter_in_kernel_exact() {
	need tshark
	local t=$(uniq_name cf) f
	mk_tap "$t" 1 --txqueuelen 4096 || return 1
	host_side "$t" || return 1
	f=$NSDIR/f.pcapng
	nsrun "$TFLOAD" --dev "$t" --read --idle-ms 1500 > "$NSDIR/load.json" &
	local rd=$!
	sleep 0.2
	cap_start "$t" -w "$f" udp dst port 20001 or udp dst port 20003 || return 1
	local p
	for p in 20000 20001 20002 20003 20001; do
		nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 "$p" 40 >/dev/null || { fail "send $p"; return 1; }
	done
	wait "$rd"
	cap_stop || return 1
	expect_eq "$(jq .rx_frames "$NSDIR/load.json")" 200 "frames the backend read" || return 1
	expect_eq "$(count "$f" 'udp.dstport == 20001')" 80 "port 20001" || return 1
	expect_eq "$(count "$f" 'udp.dstport == 20003')" 40 "port 20003" || return 1
	expect_eq "$(count "$f" 'frame')" 120 "nothing else" || return 1
	# the copy count says it was the kernel that filtered
	grep -q "120 packets captured, 0 missed" "$NSDIR/cap.err" || { fail "stderr: $(cat "$NSDIR/cap.err")"; return 1; }
}

test_text_lines() {
	local t=$(uniq_name ct) n
	mk_tap "$t" 2 || return 1
	cap_start "$t" -c 6 --direction rx udp || return 1
	nsrun "$TFLOAD" --dev "$t" --queues 2 --count 3 --size 100 >/dev/null || { fail "tf-load"; return 1; }
	wait "$CAP_PID" || { fail "capture -c 6 exited $?"; return 1; }
	n=$(grep -cE "^[0-9:.]+ $t q[01] rx UDP 198\.18\.0\.2\.1000[01] > 198\.18\.0\.1\.9, len 100$" "$NSDIR/cap.out")
	expect_eq "$n" 6 "tcpdump-like lines: $(head -1 "$NSDIR/cap.out")" || return 1
}

test_queue_option_repeatable() {
	need tshark
	local t=$(uniq_name cq)
	mk_tap "$t" 3 || return 1
	cap_start "$t" --queue 0 -q 2 -w "$NSDIR/q.pcapng" || return 1
	nsrun "$TFLOAD" --dev "$t" --queues 3 --count 5 >/dev/null || { fail "tf-load"; return 1; }
	sleep 0.1
	cap_stop || return 1
	expect_eq "$(tshark -r "$NSDIR/q.pcapng" -T fields -e frame.interface_queue 2>/dev/null | sort | uniq -c |
		awk '{print $1 "x" $2}' | tr '\n' ' ')" "5x0 5x2 " "packets per queue" || return 1
}

test_ring_wait_10ms() {
	need tshark
	local t=$(uniq_name cw) waits
	mk_tap "$t" 1 || return 1
	host_side "$t" || return 1
	nsrun "$TFLOAD" --dev "$t" --queues 1 --read --count 20 --read-delay-us 10000 --idle-ms 4000 \
		> "$NSDIR/load.json" &
	local rd=$!
	sleep 0.2
	cap_start "$t" -w "$NSDIR/w.pcapng" --direction tx || return 1
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20000 20 30000 >/dev/null || { fail "send"; return 1; }
	wait "$rd"
	cap_stop || return 1
	waits=$(tshark -r "$NSDIR/w.pcapng" -Y udp -T fields -e frame.comment 2>/dev/null |
		sed -n 's/.*ring wait \([0-9.]*\) ms.*/\1/p')
	expect_eq "$(echo "$waits" | grep -c .)" 20 "ring-wait comments" || return 1
	# The reader sleeps 10 ms after each wake-up before it reads: no packet
	# waits less, and one that finds it idle waits 10 ms and a bit. (A
	# reader stalled on a loaded machine makes those behind it wait longer.)
	echo "$waits" | awk '$1 < 9.9 { bad = 1 } END { exit bad }' ||
		{ fail "a ring wait under 10 ms: $(echo $waits)"; return 1; }
	echo "$waits" | awk '$1 < 12 { n++ } END { exit !(n >= 1) }' ||
		{ fail "no ring wait in [10, 12) ms: $(echo $waits)"; return 1; }
}

# fp_tap NAME...: one-queue fast-path taps, deleted afterwards
fp_tap() {
	local t
	for t in "$@"; do
		mk_tap "$t" 1 --txqueuelen 4096 --fastpath || return 1
		on_exit "tf delete $t"
	done
}

# fp_reader TAP MAC N: TAP's backend teaches the fast path MAC, then reads
# N frames in the background (FP_READER, JSON in $NSDIR/b.json): it stops
# at N, not on an idle timer a loaded machine can outrun.
fp_reader() {
	nsrun "$TFLOAD" --dev "$1" --count 1 --src-mac "$2" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null ||
		{ fail "tf-load on $1"; return 1; }
	nsrun "$TFLOAD" --dev "$1" --read --count "$3" --idle-ms 10000 > "$NSDIR/b.json" 2>&1 &
	FP_READER=$!
	wait_attached "$1"
}

test_fastpath_frames_marked() {
	need tshark
	local a b K=2000 macb=02:00:00:00:0b:01 got missed
	a=$(uniq_name fa) b=$(uniq_name fb)
	fp_tap "$a" "$b" || return 1
	cap_start "$b" -w "$NSDIR/fp.pcapng" --direction tx || return 1
	fp_reader "$b" "$macb" "$K" || return 1
	nsrun "$TFLOAD" --dev "$a" --count "$K" --rate 40000 --dst-mac "$macb" > "$NSDIR/a.json" 2>&1 ||
		{ fail "tf-load on $a"; return 1; }
	wait "$FP_READER"
	cap_stop || return 1
	expect_eq "$(jq .rx_frames "$NSDIR/b.json")" "$K" "frames B's backend read" || return 1
	got=$(count "$NSDIR/fp.pcapng" 'frame.comment contains "fast path"')
	missed=$(sed -n 's/.* captured, \([0-9]*\) missed.*/\1/p' "$NSDIR/cap.err")
	# on this rung a frame is read back from its ring slot after the
	# redirect: one the reader already took is counted as missed, never lost
	expect_eq "$((got + missed))" "$K" "fast-path frames captured + missed" || return 1
	[ "$got" -gt 0 ] || { fail "no fast-path frame captured"; return 1; }
}

# Frames A's backend writes that the fast path switches to tap B never
# reach A's host stack: the fast-path program copies them to the capture
# of A itself, marked, and only while a capture asks. The one program
# serves every port: what C's backend switches to B meanwhile is not A's.
test_fastpath_redirected_away_marked() {
	need tshark
	local a b c K=500 M=200 macb=02:00:00:00:0b:02 f got
	a=$(uniq_name ra) b=$(uniq_name rb) c=$(uniq_name rc)
	fp_tap "$a" "$b" "$c" || return 1
	f=$NSDIR/away.pcapng
	cap_start "$a" -w "$f" --backend "${TF_CAPTURE_BACKEND:-auto}" || return 1
	fp_reader "$b" "$macb" $((K + M)) || return 1
	nsrun "$TFLOAD" --dev "$a" --count "$K" --size 100 --dst-mac "$macb" > "$NSDIR/a.json" 2>&1 ||
		{ fail "tf-load on $a"; return 1; }
	nsrun "$TFLOAD" --dev "$c" --count "$M" --size 100 --dst-mac "$macb" > "$NSDIR/c.json" 2>&1 ||
		{ fail "tf-load on $c"; return 1; }
	wait "$FP_READER"
	cap_stop || return 1
	expect_eq "$(jq .rx_frames "$NSDIR/b.json")" "$((K + M))" "frames B's backend read (from A and C)" || return 1
	if grep -q "fentry rung\|kprobe rung" "$NSDIR/cap.err"; then
		# these rungs see the frames in tun_get_user, before the fast path
		got=$(count "$f" "frame.packet_flags_direction == 1 && eth.dst == $macb && frame.len == 100")
		expect_eq "$got" "$K" "frames A's backend wrote, seen in tun_get_user" || return 1
		return 0
	fi
	got=$(count "$f" "frame.comment contains \"fast path, redirected away to another tap\" && frame.packet_flags_direction == 1 && frame.interface_queue == 0 && eth.dst == $macb && frame.len == 100")
	expect_eq "$got" "$K" "redirected-away frames in A's capture, marked" || return 1
	expect_eq "$(count "$f" frame)" "$K" "nothing else" || return 1
	# and once the capture is gone the fast path is asked for nothing
	local id on
	# the program on A: alone, or (libxdp's dispatcher) every tf_fp_tap there is
	id=$(nsrun bpftool -j net show dev "$a" | jq -r '.[0].xdp[0].id // empty')
	[ "$(bpftool -j prog show id "$id" | jq -r .name)" = tf_fp_tap ] ||
		id=$(bpftool -j prog show | jq -r '.[] | select(.name == "tf_fp_tap") | .id')
	on=$(for i in $id; do bpftool -j prog show id "$i" | jq -r '.map_ids[]'; done | while read -r m; do
		[ "$(bpftool -j map show id "$m" | jq -r .name)" = cap_on ] &&
			bpftool -j map dump id "$m" | jq -r '.[].formatted.value.snaplen'
	done | sort -u)
	expect_eq "$on" 0 "cap_on of every port after the capture" || return 1
}

test_sigint_and_stream_are_valid_pcapng() {
	need tshark tcpdump capinfos
	local t=$(uniq_name cs) n
	mk_tap "$t" 2 || return 1
	cap_start "$t" -w "$NSDIR/s.pcapng" || return 1
	nsrun "$TFLOAD" --dev "$t" --queues 2 --count 50 >/dev/null || { fail "tf-load"; return 1; }
	sleep 0.1
	cap_stop || return 1
	expect_ok "tcpdump -r" tcpdump -r "$NSDIR/s.pcapng" || return 1
	expect_eq "$(tcpdump -r "$NSDIR/s.pcapng" 2>/dev/null | grep -c .)" 100 "tcpdump reads every packet" || return 1
	expect_ok "tshark -r" tshark -r "$NSDIR/s.pcapng" || return 1
	# the interface statistics block (isb_ifrecv, isb_ifdrop) closes the file
	capinfos "$NSDIR/s.pcapng" 2>/dev/null | grep -q "Number of stat entries = 1" ||
		{ fail "no interface statistics block: $(capinfos "$NSDIR/s.pcapng" 2>&1 | tail -3)"; return 1; }
	[ "$(stat -c %a "$NSDIR/s.pcapng")" = 600 ] || { fail "file mode $(stat -c %a "$NSDIR/s.pcapng")"; return 1; }
	# -w - into tshark, as an operator would pipe it; -c ends it with 0
	: > "$NSDIR/cap.err"
	( timeout 10 nsenter --net="/run/netns/$NS" -- "$TAPFLOW" capture "$t" -c 10 -w - 2> "$NSDIR/cap.err" | tshark -r - -T fields -e frame.interface_queue \
		> "$NSDIR/stream.txt" 2>/dev/null ) &
	local pipe=$!
	for ((n = 0; n < 1000; n++)); do grep -q "listening" "$NSDIR/cap.err" && break; sleep 0.01; done
	nsrun "$TFLOAD" --dev "$t" --queues 2 --count 5 >/dev/null || { fail "tf-load"; return 1; }
	wait "$pipe"
	expect_eq "$(sort "$NSDIR/stream.txt" | uniq -c | awk '{print $1 "x" $2}' | tr '\n' ' ')" "5x0 5x1 " \
		"streamed packets per queue" || return 1
}

test_nothing_left_after_exit_or_kill9() {
	local t=$(uniq_name ck) ids
	mk_tap "$t" 1 || return 1
	cap_start "$t" -w "$NSDIR/k.pcapng" || return 1
	ids=$(bpftool -j prog show | jq -r '.[] | select(.name | startswith("cap_")) | "prog \(.id)"
		, (.map_ids // [] | .[] | "map \(.)")' | sort -u)
	[ -n "$ids" ] || { fail "no capture programs while it runs"; return 1; }
	cap_stop || return 1
	expect_unloaded "$ids" || return 1
	cap_start "$t" -w "$NSDIR/k.pcapng" || return 1
	ids=$(bpftool -j prog show | jq -r '.[] | select(.name | startswith("cap_")) | "prog \(.id)"
		, (.map_ids // [] | .[] | "map \(.)")' | sort -u)
	kill -9 "$CAP_PID"
	wait "$CAP_PID" 2>/dev/null
	expect_unloaded "$ids" || return 1
}

# A packet whose data is not linear (here: UDP sent with sendfile(), its
# payload in page fragments, its headers in the linear part) is captured
# cut at the linear part, with its wire length, and says so.
test_non_linear_cut_and_marked() {
	need tshark python3
	local t=$(uniq_name cn) f N=20
	mk_tap "$t" 1 --txqueuelen 4096 || return 1
	host_side "$t" || return 1
	f=$NSDIR/nl.pcapng
	cap_start "$t" -w "$f" --direction tx udp || return 1
	nsrun "$TFLOAD" --dev "$t" --read --count "$N" --idle-ms 10000 > "$NSDIR/load.json" &
	local rd=$!
	wait_attached "$t" || return 1
	nsrun python3 - "$N" <<'PY' || { fail "sendfile"; return 1; }
import os, socket, sys, tempfile
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 9))
s.connect(("198.18.0.2", 20003))
with tempfile.TemporaryFile() as f:
    f.write(b"x" * 1000)
    f.flush()
    for _ in range(int(sys.argv[1])):
        assert os.sendfile(s.fileno(), f.fileno(), 0, 1000) == 1000
PY
	wait "$rd"
	cap_stop || return 1
	expect_eq "$(jq .rx_frames "$NSDIR/load.json")" "$N" "frames the backend read" || return 1
	expect_count "$f" "udp.dstport == 20003 && frame.len == 1042 && frame.cap_len < 1042 && frame.comment contains \"not linear: cut at the linear part\"" \
		"$N" "non-linear packets, cut and marked" || return 1
	expect_count "$f" "udp.dstport == 20003" "$N" "nothing else" || return 1
}

# wait_attached TAP: a backend has attached a queue (tun's carrier is on);
# a backend that starts slowly (the VM lane) must not miss what is sent.
wait_attached() {
	local i
	for ((i = 0; i < 200; i++)); do
		nsrun ip link show "$1" | grep -q LOWER_UP && return 0
		sleep 0.05
	done
	fail "no backend attached to $1 within 10 s"
	return 1
}

# One capture session per rung over every path through the tap that rung
# can see, one after another on one tap: tx drops (a backend that holds
# its queue and never reads), tx delivered with their ring wait, fast-path
# frames redirected into the ring (tun_xdp_xmit), frames the backend wrote
# (tun_get_user), and where the kernel has vhost-net, its batches both
# ways (tun_sendmsg, tun_do_read handed the entry). A rung this kernel
# refuses is a SKIP; in the VM lane all three run, and the files go to
# the host's tshark (expect_count).
rung_session() {
	local b=$1 t s macT=02:00:00:00:0a:01 f before after drops missed fp=50 vhost=0
	need "$QSCRIPT" "$UDPSEND" "$TFLOAD"
	t=$(uniq_name r${b:0:1}) s=$(uniq_name s${b:0:1})
	mk_tap "$t" 1 --txqueuelen 16 --fastpath || return 1
	on_exit "tf delete $t"
	mk_tap "$s" 1 --txqueuelen 4096 --fastpath || return 1
	on_exit "tf delete $s"
	host_side "$t" || return 1
	f=$NSDIR/$b.pcapng
	if ! cap_start "$t" --backend "$b" -w "$f"; then
		rung_refused "$b" "$(tail -1 "$NSDIR/cap.err")"
		return 1
	fi
	grep -q "$b rung" "$NSDIR/cap.err" || { fail "not the $b rung: $(cat "$NSDIR/cap.err")"; return 1; }
	# tx drops: the ring (16 slots) fills behind a backend that holds it
	# (held long, and ended once the drops are counted: the VM lane is slow)
	# (nsenter execs it: $! is the backend itself, which the kill reaches)
	nsenter --net="/run/netns/$NS" -- "$QSCRIPT" "$t" 1 h 20000 >/dev/null &
	local hold=$!
	wait_attached "$t" || return 1
	before=$(nsrun ip -s -j link show "$t" | jq '.[0].stats64.tx.dropped')
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20001 60 >/dev/null || { fail "send 20001"; return 1; }
	after=$(nsrun ip -s -j link show "$t" | jq '.[0].stats64.tx.dropped')
	drops=$((after - before))
	kill "$hold"
	wait "$hold" 2>/dev/null
	[ "$drops" -ge 30 ] || { fail "expected >= 30 ring-full drops, got $drops"; return 1; }
	# room from here on: nothing else is to drop (tun resizes the rings)
	nsrun ip link set "$t" txqueuelen 4096 || { fail "txqueuelen"; return 1; }
	# tx delivered, and fast-path frames from S into T's ring; T's backend
	# writes one frame first so the fast path learns its MAC
	nsrun "$TFLOAD" --dev "$t" --count 1 --size 64 --src-mac "$macT" --dst-mac ff:ff:ff:ff:ff:ff \
		> "$NSDIR/learn.out" 2>&1 || { fail "tf-load learn: $(cat "$NSDIR/learn.out")"; return 1; }
	# (a reader that went idle before S's frames came would make them
	# drops, "detached": the VM lane starts programs slowly)
	nsrun "$TFLOAD" --dev "$t" --read --idle-ms "$([ -n "${TAPFLOW_VM:-}" ] && echo 4000 || echo 1000)" \
		> "$NSDIR/rd.json" &
	local rd=$!
	wait_attached "$t" || return 1
	nsrun "$UDPSEND" 198.18.0.1 9 198.18.0.2 20002 30 >/dev/null || { fail "send 20002"; return 1; }
	nsrun "$TFLOAD" --dev "$s" --count $fp --rate 20000 --size 90 --dst-mac "$macT" >/dev/null ||
		{ fail "tf-load on $s"; return 1; }
	wait "$rd"
	# what T's backend writes
	nsrun "$TFLOAD" --dev "$t" --count 40 --size 100 >/dev/null || { fail "tf-load write"; return 1; }
	# vhost-net, both ways: 25 sent from the host and read in batches, 20 written
	if [ -c /dev/vhost-net ] && [ -x "$VHOST" ]; then
		nsrun "$VHOST" --dev "$t" --send 25 --read 25 --idle-ms 1500 --write 20 --size 120 \
			> "$NSDIR/vhost.out" 2>&1 || { fail "tf-vhost: $(cat "$NSDIR/vhost.out")"; return 1; }
		vhost=1
	fi
	sleep 0.2
	cap_stop || return 1
	missed=$(sed -n 's/.* captured, \([0-9]*\) missed.*/\1/p' "$NSDIR/cap.err")
	local tx='frame.interface_queue == 0 && frame.packet_flags_direction == 2 && !icmp'
	expect_count "$f" "udp.dstport == 20001 && $tx && frame.comment contains \"dropped: ring_full\"" \
		"$drops" "ring_full drops, as tx_dropped counts them" || return 1
	expect_count "$f" "udp.dstport == 20002 && $tx && frame.comment contains \"ring wait\"" 30 \
		"delivered with their ring wait" || return 1
	if [ "$b" = tracepoint ]; then
		# read back from the ring slots after the redirect: one the
		# reader already took is counted as missed, never lost
		expect_count "$f" "frame.len == 90 && $tx && frame.comment contains \"fast path: XDP frame redirected into the ring\"" \
			$((fp - missed)) "fast-path frames captured + missed" || return 1
	else
		expect_eq "$missed" 0 "nothing missed" || return 1
		expect_count "$f" "frame.len == 90 && $tx && frame.comment contains \"fast path: XDP frame redirected into the ring\" && frame.comment contains \"ring wait\"" \
			$fp "fast-path frames delivered with their ring wait" || return 1
	fi
	expect_count "$f" "frame.len == 100 && udp.dstport == 9 && frame.packet_flags_direction == 1 && frame.interface_queue == 0" \
		40 "frames the backend wrote" || return 1
	if [ "$vhost" = 1 ]; then
		expect_count "$f" "frame.len == 120 && frame.packet_flags_direction == 1" 20 \
			"vhost's written frames" || return 1
		expect_count "$f" "udp.dstport == 20000 && $tx && frame.comment contains \"ring wait\"" 25 \
			"vhost's reads, delivered with their ring wait" || return 1
	fi
}

test_rung_fentry() { rung_session fentry; }
test_rung_kprobe() { rung_session kprobe; }
test_rung_tracepoint() { rung_session tracepoint; }

test_bad_input() {
	local t=$(uniq_name cb)
	mk_tap "$t" 1 || return 1
	expect_fail "bad filter" "bad filter 'udp port'" tf capture "$t" udp port || return 1
	tf capture "$t" udp port 2>/dev/null; expect_eq $? 2 "bad filter: exit 2" || return 1
	tf capture "$t" --drops=full 2>/dev/null; expect_eq $? 2 "bad drop cause: exit 2" || return 1
	tf capture "$t" --queue 300 2>/dev/null; expect_eq $? 2 "queue out of range: exit 2" || return 1
	tf capture nosuchtap0 2>/dev/null; expect_eq $? 2 "no such tap: exit 2" || return 1
	tf capture "$t" --drops --direction rx 2>/dev/null; expect_eq $? 2 "rx drops: exit 2" || return 1
	expect_fail "without privileges" "CAP_" nsenter --net="/run/netns/$NS" -- setpriv --reuid=65534 \
		--regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all "$TAPFLOW" capture "$t" || return 1
	nsenter --net="/run/netns/$NS" -- setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		--bounding-set=-all "$TAPFLOW" capture "$t" 2>/dev/null
	expect_eq $? 1 "missing capability: exit 1" || return 1
}

run_tests
