#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Tracing beyond the 64 taps layout 2 held, and the rows of layout 3 (see
# tf_trace_shared.h): 100 single-queue taps traced in one start, counted
# exactly on a few, with an exporter that holds a bounded number of fds;
# and a tap whose backend attaches more queues than it had rows for,
# counted exactly per queue in the extra table, then with no queue once the
# table is full (explicit, never lost), and carried over exactly when its
# rows grow (by the follower, then by trace start). The 4096-tap figures
# are scripts/bench-fleet.sh's, not this suite's: creating 4096 taps takes
# minutes.
source "$(dirname "$0")/../lib.sh"

PORT=10725		# free inside a fresh namespace

setup_tmp() {
	TMP=$(mktemp -d)
	on_exit "rm -rf $TMP"
}

# jq on `tapflow stats NAME --json`
sj() { tf stats "$1" --json | jq -r "$2"; }

no_session() {
	[ -z "$(tf trace status --json | jq -r '.taps[]?.tap')" ] || skip "another tracing session is running"
}

test_hundred_taps_exact() {
	need jq
	no_session
	setup_tmp
	local base i names=() n pid fds
	base=$(uniq_name ts)
	for ((i = 0; i < 100; i++)); do
		names+=("$base-$i")
		nsrun ip tuntap add dev "$base-$i" mode tap || { fail "ip tuntap $base-$i"; return 1; }
		on_exit "nsrun ip link del $base-$i"
		nsrun ip link set "$base-$i" up
	done
	expect_ok "trace start of 100 taps" tf trace start "${names[@]}" || return 1
	on_exit "tf trace stop --all"
	n=$(tf trace status --json | jq '[.taps[]?] | length')
	expect_eq "$n" 100 "taps traced" || return 1
	# a few of them, each with its own count; the others count nothing
	for i in 0 57 99; do
		nsrun "$TFLOAD" --dev "$base-$i" --queues 1 --count $((100 + i)) --size 80 >/dev/null 2>&1 ||
			{ fail "tf-load on $base-$i"; return 1; }
	done
	for i in 0 57 99; do
		expect_eq "$(sj "$base-$i" '.queues[0].rx_packets')" $((100 + i)) "$base-$i rx_packets" || return 1
		expect_eq "$(sj "$base-$i" '.queues[0].rx_bytes')" $(((100 + i) * 80)) "$base-$i rx_bytes" || return 1
		expect_eq "$(sj "$base-$i" '.rows')" 1 "$base-$i rows (a single-queue tap costs one)" || return 1
	done
	expect_eq "$(sj "$base-13" '[.queues[].rx_packets] | add // 0')" 0 "an idle tap" || return 1
	# one exporter reads them all with a bounded number of fds (layout 2 held one per tap)
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" export --listen 127.0.0.1:$PORT > "$TMP/export.log" 2>&1 &
	pid=$!
	on_exit "kill $pid"
	for ((i = 0; i < 100; i++)); do
		nsrun curl -s -o "$TMP/m" "http://127.0.0.1:$PORT/metrics" && break
		sleep 0.05
	done
	expect_eq "$(grep -c '^tapflow_info{' "$TMP/m")" 100 "taps in the export" || return 1
	grep -q "^tapflow_rx_packets_total{tap=\"$base-57\",queue=\"0\"} 157$" "$TMP/m" ||
		{ fail "exported count of $base-57: $(grep "tap=\"$base-57\"" "$TMP/m" | grep rx_packets)"; return 1; }
	fds=$(ls "/proc/$pid/fd" | wc -l)
	echo "    exporter fds with 100 taps traced: $fds" >&2
	[ "$fds" -lt 40 ] || { fail "exporter holds $fds fds for 100 taps"; return 1; }
}

# A foreign tap (ip tuntap) traced with no queue attached has one row; its
# backend then attaches 4 queues. With an extra table of 2 entries
# (TAPFLOW_TRACE_EXTRA, at the session's first start): queue 0 counts in
# its row, the first two of queues 1-3 to count in the table (tf-load's
# threads race for it), the third with no queue; every frame is counted.
test_queues_beyond_rows() {
	need jq
	no_session
	setup_tmp
	local t=$(uniq_name tq) pid i rows extra late
	nsrun ip tuntap add dev "$t" mode tap multi_queue || { fail "ip tuntap"; return 1; }
	on_exit "nsrun ip link del $t"
	nsrun ip link set "$t" up
	TAPFLOW_TRACE_EXTRA=2 tf trace start "$t" > "$TMP/out" 2>&1 || { fail "trace start: $(cat "$TMP/out")"; return 1; }
	on_exit "tf trace stop --all"
	expect_eq "$(sj "$t" .rows)" 1 "rows of a tap with nothing attached" || return 1
	nsrun "$TFLOAD" --dev "$t" --queues 4 --count 10 --size 100 >/dev/null 2>&1 || { fail "tf-load"; return 1; }
	tf stats "$t" --json > "$TMP/s"
	expect_eq "$(jq '.queues[] | select(.queue == 0) | .rx_packets' "$TMP/s")" 10 "queue 0 in its row" || return 1
	extra=$(jq -r '[.queues[] | select(.queue > 0) | .queue] | map(tostring) | join(" ")' "$TMP/s")
	expect_eq "$(jq '.queues_extra' "$TMP/s")" 2 "queues in the extra table ($extra)" || return 1
	for i in $extra; do
		expect_eq "$(jq ".queues[] | select(.queue == $i) | .rx_packets" "$TMP/s")" 10 "queue $i rx_packets" || return 1
	done
	for i in 1 2 3; do [[ " $extra " == *" $i "* ]] || late=$i; done
	expect_eq "$(jq '.noqueue.rx_packets' "$TMP/s")" 10 "queue $late's frames counted with no queue" || return 1
	expect_eq "$(jq '.noqueue.rx_bytes' "$TMP/s")" 1000 "... and their bytes" || return 1
	tf export --once > "$TMP/m"
	grep -q "^tapflow_noqueue_packets_total{tap=\"$t\",dir=\"rx\"} 10$" "$TMP/m" ||
		{ fail "no-queue count not exported: $(grep noqueue "$TMP/m")"; return 1; }
	grep -q "^tapflow_rx_packets_total{tap=\"$t\",queue=\"$late\"}" "$TMP/m" &&
		{ fail "queue $late exported though it has no count of its own"; return 1; }
	tf stats "$t" | grep -q "no queue" || { fail "stats does not show the no-queue count"; return 1; }

	# A follower grows the tap's rows to the queues in the table (its tick,
	# once a second); the table's counts are carried over, exactly.
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" export --trace "$t" --listen 127.0.0.1:$PORT > "$TMP/export.log" 2>&1 &
	pid=$!
	on_exit "kill $pid"
	local want=$(( ${extra##* } + 1 ))
	for ((i = 0; i < 60; i++)); do
		rows=$(sj "$t" .rows)
		[ "$rows" = "$want" ] && break
		sleep 0.1
	done
	kill $pid; wait $pid 2>/dev/null
	expect_eq "$rows" "$want" "rows after the follower grew them" || return 1
	tf stats "$t" --json > "$TMP/s"
	expect_eq "$(jq '.queues_extra' "$TMP/s")" 0 "the table emptied into the tap's rows" || return 1
	for i in 0 $extra; do
		expect_eq "$(jq ".queues[] | select(.queue == $i) | .rx_packets" "$TMP/s")" 10 "queue $i carried over" || return 1
	done

	# trace start on a traced tap grows it to the queues attached now, and
	# counting goes on from the carried counts.
	nsrun "$TFLOAD" --dev "$t" --queues 4 --count 10 --size 100 --hold-ms 1500 >/dev/null 2>&1 &
	local job=$!
	for ((i = 0; i < 50; i++)); do
		[[ $(tf show "$t" --json) =~ \"attached\":4 ]] && break
		sleep 0.05
	done
	expect_ok "trace start again" tf trace start "$t" || return 1
	wait $job || { fail "tf-load"; return 1; }
	tf stats "$t" --json > "$TMP/s"
	expect_eq "$(jq '.rows' "$TMP/s")" 4 "rows once 4 queues were attached" || return 1
	expect_eq "$(( $(jq '[.queues[].rx_packets] | add' "$TMP/s") + $(jq '.noqueue.rx_packets' "$TMP/s") ))" \
		80 "every frame of both runs counted" || return 1
	for i in 0 $extra; do
		expect_eq "$(jq ".queues[] | select(.queue == $i) | .rx_packets" "$TMP/s")" 20 "queue $i over both runs" || return 1
	done
	# the late queue's second run counted in its row or the table (it was
	# attached when trace start grew the rows, or just before): 10 by queue
	expect_eq "$(jq ".queues[] | select(.queue == $late) | .rx_packets" "$TMP/s")" 10 "queue $late's second run" || return 1
}

# A session of another layout is refused naming the upgrade step, by the
# version in its meta map, before any other map of it is opened.
test_other_layout_refused() {
	need jq bpftool
	no_session
	local t=$(uniq_name tl) meta=/sys/fs/bpf/tapflow/trace/meta
	le32() { printf '%d %d %d %d' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
	nsrun ip tuntap add dev "$t" mode tap || { fail "ip tuntap"; return 1; }
	on_exit "nsrun ip link del $t"
	expect_ok "trace start" tf trace start "$t" || return 1
	on_exit "tf trace stop --all"
	local v
	v=$(bpftool map lookup pinned "$meta" key 0 0 0 0 -j | jq -r '.formatted.value.version // empty')
	[ -n "$v" ] || v=3
	expect_eq "$v" 3 "layout in meta" || return 1
	bpftool map update pinned "$meta" key 0 0 0 0 value $(le32 3) $(le32 2) $(le32 0) $(le32 0) ||
		{ fail "rewrite $meta"; return 1; }
	expect_fail "stats" "version 2; this one reads 3\): tapflow trace stop --all" tf stats "$t" || return 1
	expect_fail "trace start" "another layout" tf trace start "$t" || return 1
	expect_ok "stop --all removes it" tf trace stop --all || return 1
	[ ! -e "$meta" ] || { fail "meta left"; return 1; }
}

run_tests
