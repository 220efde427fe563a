#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The fast path past the 64 ports of layout 2: 100 accelerated taps in one
# namespace, all served by ONE loaded copy of tf_fp_tap, and the per-queue
# rows' limit. What is checked, and by what:
#   - every one of the 100 taps runs the same program, the one pinned as
#     tf_fp_tap beside the maps: one XDP program id in `ip link` (legacy
#     mode), or 100 links of that one extension into the taps' libxdp
#     dispatchers (a kernel with freplace: the VM lane);
#   - traffic between two of them, one near each end of the slot range,
#     goes both ways through the fast path: the frames each backend writes
#     (tf-load) are all read by the other's backend and counted as
#     redirect_tap on the sender; then the writer switches to a third tap;
#   - each port's counters sit in its own rows: a queue of tap 50 counts
#     nothing of it;
#   - the rows' limit (TF_FP_MAX_ROWS, one row per rx queue plus one per
#     port) fails the port that does not fit with one line naming it, and
#     leaves that port off and nothing of it behind;
#   - turning every port off removes the program and the pins;
#   - pins of layout 2 left by a namespace that died are swept by the next
#     `fastpath on`, though this tapflow cannot read them.
#
#   tf-load (P7) ─write─▶ P7 [tf_fp_tap] ──DEVMAP──▶ P93 ─read─▶ tf-load
#   tf-load (P93) ─write─▶ P93 [the same program] ──▶ P7 / P50 ─read─▶ tf-load

. "$(dirname "$0")/../lib.sh"

PIN_ROOT=/sys/fs/bpf/tapflow/fastpath
NPORTS=100
K=1000				# frames per direction
RATE=40000

need_bits() {
	[ -e /dev/net/tun ] || skip "no /dev/net/tun"
	mountpoint -q /sys/fs/bpf || skip "bpffs is not mounted at /sys/fs/bpf"
	need "$TFLOAD" jq bpftool
	PIN_DIR=$PIN_ROOT/$(stat -L -c %i "/run/netns/$NS")
}

mac_of() { printf '02:00:00:00:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }

# learn I: port I's backend writes one broadcast from its MAC
learn() {
	nsrun "$TFLOAD" --dev "$P$1" --count 1 --src-mac "$(mac_of "$1")" --dst-mac ff:ff:ff:ff:ff:ff \
		>/dev/null 2>&1 || { fail "tf-load on $P$1"; return 1; }
}

# send FROM TO: K frames from FROM's backend to TO's MAC, read by TO's backend
send() {
	local from=$1 to=$2 got sent
	nsrun "$TFLOAD" --dev "$P$to" --read --idle-ms 2000 > "$NSDIR/r.json" 2>&1 &
	local reader=$!
	sleep 0.3
	nsrun "$TFLOAD" --dev "$P$from" --count "$K" --rate "$RATE" --src-mac "$(mac_of "$from")" \
		--dst-mac "$(mac_of "$to")" > "$NSDIR/w.json" 2>&1 ||
		{ fail "tf-load on $P$from: $(tail -1 "$NSDIR/w.json")"; kill $reader; return 1; }
	wait $reader
	sent=$(jq .tx_frames "$NSDIR/w.json") || { fail "tf-load on $P$from printed: $(head -c 300 "$NSDIR/w.json")"; return 1; }
	got=$(jq .rx_frames "$NSDIR/r.json") || { fail "tf-load on $P$to printed: $(head -c 300 "$NSDIR/r.json")"; return 1; }
	expect_eq "$sent" "$K" "frames $P$from wrote" || return 1
	expect_eq "$got" "$K" "frames $P$to's backend read from $P$from" || return 1
}

redirected() { tf fastpath stats "$P$1" --json | jq '.total.redirect_tap_packets'; }

test_hundred_ports_one_program() {
	need_bits
	P=$(uniq_name s)
	local i ids pinned
	for ((i = 1; i <= NPORTS; i++)); do
		tf create "$P$i" --txqueuelen 4096 >/dev/null || { fail "create $P$i"; return 1; }
	done
	on_exit "for k in \$(seq $NPORTS); do tf fastpath off $P\$k >/dev/null 2>&1; done"
	for ((i = 1; i <= NPORTS; i++)); do
		tf fastpath on "$P$i" >/dev/null || { fail "fastpath on $P$i (port $i)"; return 1; }
	done
	expect_eq "$(bpftool map dump pinned "$PIN_DIR/ports" -j | jq length)" "$NPORTS" "ports recorded" || return 1
	pinned=$(bpftool prog show pinned "$PIN_DIR/tf_fp_tap" -j | jq .id)
	if [ "$(bpftool prog show id "$pinned" -j | jq -r .type)" = ext ]; then
		# libxdp's dispatcher on each tap (one per device), the same
		# extension linked into all of them
		expect_eq "$(bpftool link show -j | jq "[.[] | select(.prog_id == $pinned)] | length")" "$NPORTS" \
			"dispatcher links of the pinned tf_fp_tap ($pinned)" || return 1
	else
		ids=$(nsx ip -j link show | jq -r '[.[] | select(.ifname | startswith("'"$P"'")) | .xdp.prog.id? // "none"] | unique | join(" ")')
		expect_eq "$ids" "$pinned" "XDP program ids on the $NPORTS taps (the pinned tf_fp_tap's)" || return 1
	fi

	learn 7 && learn 93 && learn 50 || return 1
	send 7 93 || return 1
	expect_eq "$(redirected 7)" "$K" "redirect_tap on $P""7" || return 1
	send 93 7 || return 1
	expect_eq "$(redirected 93)" "$K" "redirect_tap on $P""93" || return 1
	# the writer switches from 7 to 50
	send 93 50 || return 1
	expect_eq "$(redirected 93)" $((2 * K)) "redirect_tap on $P""93 after switching to $P""50" || return 1
	expect_eq "$(redirected 50)" 0 "redirect_tap on $P""50 (it only received)" || return 1
	expect_eq "$(redirected 7)" "$K" "redirect_tap on $P""7 (unchanged)" || return 1

	for ((i = 1; i <= NPORTS; i++)); do
		tf fastpath off "$P$i" >/dev/null || { fail "fastpath off $P$i"; return 1; }
	done
	[ -e "$PIN_DIR" ] && { fail "$PIN_DIR is still there: $(ls "$PIN_DIR" | tr '\n' ' ')"; return 1; }
	bpftool prog show id "$pinned" >/dev/null 2>&1 && { fail "program $pinned is still loaded"; return 1; }
	return 0
}

# 256-queue taps take 257 rows each: 31 fit in 8192, the 32nd does not.
test_rows_limit() {
	need_bits
	P=$(uniq_name q)
	local i n=$((8192 / 257 + 1))
	for ((i = 1; i <= n; i++)); do
		tf create "$P$i" --queues 256 >/dev/null || { fail "create $P$i"; return 1; }
	done
	on_exit "for k in \$(seq $n); do tf fastpath off $P\$k >/dev/null 2>&1; done"
	for ((i = 1; i < n; i++)); do
		tf fastpath on "$P$i" >/dev/null || { fail "fastpath on $P$i ($i x 257 rows)"; return 1; }
	done
	expect_fail "port $n" "per-queue rows are all in use \(TF_FP_MAX_ROWS.*this port needs 257" \
		tf fastpath on "$P$n" || return 1
	tf show "$P$n" | grep -q "fastpath: on" && { fail "$P$n shows the fast path on"; return 1; }
	nsx ip -j link show "$P$n" | jq -e '.[0].xdp' >/dev/null && { fail "$P$n has an XDP program"; return 1; }
	# a row freed is a row reused: one off makes room for it
	expect_ok "fastpath off $P""1" tf fastpath off "$P"1 || return 1
	expect_ok "fastpath on $P$n in the freed rows" tf fastpath on "$P$n" || return 1
}

# The pins of layout 2 that a namespace left when it died (its taps, and
# so its programs, went with it) are swept by the next `fastpath on`
# anywhere, though no tapflow of layout 3 can read them; a live
# namespace's are refused (test_pins).
test_dead_old_layout_swept() {
	need_bits
	local ns2 t=$(uniq_name o) dir ino
	P=$(uniq_name d)
	ns2=$(uniq_name tfo)
	ip netns add "$ns2" || { fail "netns $ns2"; return 1; }
	on_exit "ip netns del $ns2 2>/dev/null"
	ino=$(stat -L -c %i "/run/netns/$ns2")
	dir=$PIN_ROOT/$ino
	nsenter --net="/run/netns/$ns2" -- "$TAPFLOW" create "$t" >/dev/null || { fail "create $t"; return 1; }
	nsenter --net="/run/netns/$ns2" -- "$TAPFLOW" fastpath on "$t" >/dev/null || { fail "fastpath on $t"; return 1; }
	# what a tapflow of layout 2 would have left: meta says version 2
	bpftool map update pinned "$dir/meta" key 0 0 0 0 value 2 0 0 0 \
		$((ino & 255)) $(((ino >> 8) & 255)) $(((ino >> 16) & 255)) $(((ino >> 24) & 255)) ||
		{ fail "rewrite $dir/meta"; return 1; }
	# libxdp's own pins of a dispatcher (kernels with freplace) outlive a
	# device that dies attached, whoever attached it: not tapflow's to sweep
	local x
	x=$(ip -n "$ns2" -j link show "$t" | jq -r '.[0] | select(.xdp.prog.name? == "xdp_dispatcher") |
		"/sys/fs/bpf/xdp/dispatch-\(.ifindex)-\(.xdp.prog.id)"')
	[ -n "$x" ] && on_exit "rm -rf $x"
	ip netns del "$ns2"
	# the namespace is gone only once the kernel has let go of it
	local i
	for ((i = 0; i < 50; i++)); do
		tf create "$P"x >/dev/null 2>&1
		tf fastpath on "$P"x >/dev/null 2>&1 && tf fastpath off "$P"x >/dev/null 2>&1
		[ -e "$dir" ] || break
		sleep 0.1
	done
	[ -e "$dir" ] && { fail "$dir (layout 2, namespace gone) is still there: $(ls "$dir" | tr '\n' ' ')"; return 1; }
	return 0
}

run_tests
