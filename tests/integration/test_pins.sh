#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Pinned state of another layout: the fast path and steering find the
# layout version of what is pinned (the fast path's meta map, steering's
# version map) and refuse state that is not theirs with one line naming the
# upgrade step, instead of reusing maps that differ. The versions are
# rewritten here with bpftool, as an older or newer tapflow would have left
# them; each test puts them back before it cleans up.
source "$(dirname "$0")/../lib.sh"

# A u32 as the four little-endian bytes bpftool takes.
le32() { printf '%d %d %d %d' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }

test_fastpath_other_layout() {
	need jq bpftool
	local t=$(uniq_name pf) ino meta ver
	ino=$(nsrun stat -L -c %i /proc/self/ns/net)
	meta=/sys/fs/bpf/tapflow/fastpath/$ino/meta
	tf create "$t" >/dev/null || { fail "create $t"; return 1; }
	on_exit "tf delete --force $t"
	expect_ok "fastpath on" tf fastpath on "$t" || return 1
	on_exit "tf fastpath off $t"
	# the layout this tapflow writes (3 since one program serves every port)
	ver=$(bpftool map lookup pinned "$meta" key 0 0 0 0 -j | jq -r '.value[0]')
	ver=$((ver))	# one byte is enough for the versions there are; bpftool prints it as 0x03
	[ "$ver" -ge 2 ] 2>/dev/null || { fail "layout version in $meta: '$ver'"; return 1; }
	on_exit "bpftool map update pinned $meta key 0 0 0 0 value $(le32 "$ver") $(le32 "$ino")"
	bpftool map update pinned "$meta" key 0 0 0 0 value $(le32 1) $(le32 "$ino") ||
		{ fail "rewrite $meta"; return 1; }
	expect_fail "stats" "version 1; this one reads $ver\): turn it off on every port" \
		tf fastpath stats "$t" || return 1
	expect_fail "fdb add" "another layout" tf fdb add "$t" 02:00:00:00:00:01 || return 1
	bpftool map update pinned "$meta" key 0 0 0 0 value $(le32 "$ver") $(le32 "$ino") ||
		{ fail "restore $meta"; return 1; }
	expect_ok "stats again" tf fastpath stats "$t" || return 1
}

test_steer_other_layout() {
	need jq bpftool
	local t=$(uniq_name ps) ino ifindex dir
	tf create "$t" --queues 2 >/dev/null || { fail "create $t"; return 1; }
	on_exit "tf delete --force $t"
	ifindex=$(nsx cat /sys/class/net/$t/ifindex)
	ino=$(nsrun stat -L -c %i /proc/self/ns/net)
	dir=/sys/fs/bpf/tapflow/steer/$ino-$ifindex
	expect_ok "steer l3" tf steer "$t" --mode l3 || return 1
	[ -e "$dir/meta" ] || { fail "no version map at $dir/meta"; return 1; }
	expect_eq "$(stat -c %a "$dir/meta")" 600 "version map mode" || return 1
	bpftool map update pinned "$dir/meta" key 0 0 0 0 value $(le32 9) || { fail "rewrite"; return 1; }
	expect_fail "steer l4" "steering in $dir .*version 9; this one reads 1\): tapflow steer NAME --off" \
		tf steer "$t" --mode l4 || return 1
	tf show "$t" | grep -q "steering: l3" && { fail "show reads the other layout"; return 1; }
	# --off removes whatever tapflow left, of any layout.
	expect_ok "off" tf steer "$t" --off || return 1
	[ -e "$dir" ] && { fail "$dir left after --off"; return 1; }
	expect_ok "steer l4 afresh" tf steer "$t" --mode l4 || return 1
	tf show "$t" | grep -q "steering: l4" || { fail "show: $(tf show "$t" | grep steer)"; return 1; }
}

run_tests
