#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `tapflow show` reports what each of the library's modules (the fast path,
# steering, tracing) has attached to a real tap, as text and as JSON, and
# `tapflow delete` has each of them let go of it first: the modules are a
# fixed list in libtapflow, so this holds for any program that links it.
source "$(dirname "$0")/../lib.sh"

RSS_KEY=6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa

attached_text() { tf show "$1" | sed -n '/^  attached:$/,$p'; }
attached_json() { tf show "$1" --json | jq -c .attached; }

test_attached_text_and_json() {
	local t=$(uniq_name sh) backend indir want ino ifindex
	tf create "$t" --queues 2 >/dev/null || { fail "create $t"; return 1; }
	on_exit "tf delete --force $t"
	expect_eq "$(attached_text "$t")" "$(printf '  attached:\n    nothing')" "nothing attached (text)" || return 1
	expect_eq "$(attached_json "$t")" "{}" "nothing attached (json)" || return 1

	expect_ok "fastpath on" tf fastpath on "$t" || return 1
	expect_ok "steer rss" tf steer "$t" --mode rss || return 1
	expect_ok "trace start" tf trace start "$t" || return 1
	on_exit "tf trace stop $t"
	backend=$(tf show "$t" --json | jq -r .attached.tracing.backend)
	[[ "$backend" =~ ^(fentry|kprobe|tracepoint)$ ]] || { fail "tracing backend '$backend'"; return 1; }
	want=$(printf '  attached:\n    fastpath: on (XDP native, slot 0, 0 AF_XDP rules)\n    steering: rss (key 6d5a56da..., 128-entry indirection table)\n    tracing: %s backend' "$backend")
	expect_eq "$(attached_text "$t")" "$want" "three modules (text)" || return 1
	indir=$(for ((i = 0; i < 128; i++)); do printf '%d,' $((i % 2)); done)
	want='{"fastpath":{"on":true,"slot":0,"xsk_rules":0},"steering":{"mode":"rss","queues":2,"key":"'$RSS_KEY'","hash_types":63,"indir":['${indir%,}'],"default_queue":0},"tracing":{"backend":"'$backend'"}}'
	expect_eq "$(attached_json "$t")" "$want" "three modules (json)" || return 1

	expect_ok "steer fixed" tf steer "$t" --mode fixed --default-queue 1 || return 1
	expect_ok "rule add" tf fastpath rule add "$t" --all || return 1
	attached_text "$t" | grep -qx "    steering: fixed (0 rules, default queue 1)" ||
		{ fail "fixed mode: $(attached_text "$t")"; return 1; }
	attached_text "$t" | grep -qx "    fastpath: on (XDP native, slot 0, 1 AF_XDP rule)" ||
		{ fail "one rule: $(attached_text "$t")"; return 1; }
	expect_eq "$(attached_json "$t" | jq -c .steering)" '{"mode":"fixed","queues":2,"rules":0,"default_queue":1}' \
		"fixed mode (json)" || return 1

	# Deleting the tap: every module lets go of it first.
	ifindex=$(nsx cat /sys/class/net/$t/ifindex)
	ino=$(nsrun stat -L -c %i /proc/self/ns/net)
	expect_ok "delete" tf delete "$t" || return 1
	[ -e "/sys/fs/bpf/tapflow/steer/$ino-$ifindex" ] && { fail "steering pins left"; return 1; }
	[ -e "/sys/fs/bpf/tapflow/fastpath/$ino" ] && { fail "fast path state left"; return 1; }
	[ -z "$(tf trace status --json | jq -r --arg n "$t" '.taps[]? | select(.tap == $n) | .tap')" ] ||
		{ fail "deleted tap still traced"; return 1; }
	return 0
}

run_tests
