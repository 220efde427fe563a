#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The fast path sharing a tap with another XDP program through libxdp's
# multi-program dispatcher. tf-xdp-tally attaches tests/progs/xdp_tally
# (counts every frame, XDP_PASS) natively on tap A with run priority 10, so
# it runs before the fast path (libxdp's default, 50); `tapflow fastpath on`
# then joins the same dispatcher. What is checked, and by what:
#   - libxdp's view of A (tf-xdp-tally status) is a native dispatcher holding
#     xdp_tally then tf_fp_tap, and the dispatcher is what sits in A's XDP slot;
#   - N frames A's backend writes for B's MAC all reach B's backend (the fast
#     path ran: it redirected them) and the tally counted all N (it ran
#     first: the redirect ends the chain), as do the fast path's counters;
#   - `fastpath off A` takes only tf_fp_tap out: the tally stays, still counts;
#   - once everything is detached no program, map or libxdp pin is left.
# The dispatcher needs freplace. A kernel without it (the 6.18 development
# hosts) makes libxdp fall back to one legacy program per device: then the
# test SKIPs, and the VM lane (Debian's 6.1) is where it runs.
#
#   tf-load (A) ─write─▶ A [dispatcher: xdp_tally (10) ─PASS─▶ tf_fp_tap (50)]
#                             ──DEVMAP──▶ B ─read─▶ tf-load (B)

. "$(dirname "$0")/../lib.sh"

TALLY=$TOP/build/tests/tf-xdp-tally
XDP_PINS=/sys/fs/bpf/xdp	# libxdp keeps each dispatcher in dispatch-<ifindex>-<prog id>
MAC_B=02:00:00:00:0b:02
N=1000				# frames through both programs
M=300				# frames after the fast path left A

need_bits() {
	[ -e /dev/net/tun ] || skip "no /dev/net/tun"
	mountpoint -q /sys/fs/bpf || skip "bpffs is not mounted at /sys/fs/bpf"
	need "$TFLOAD" "$TALLY" jq bpftool
}

# xdp_state DEV [attach|detach ...]: runs tf-xdp-tally (status by default)
# and sets MODE, DISP (true/false), MAIN (id in the XDP slot), PROGS
# ("name:prio,..." in run order), COUNT ("packets bytes", or "none").
xdp_state() {
	local dev=$1 cmd=${2:-status}
	shift $(($# < 2 ? $# : 2))
	if ! nsrun "$TALLY" "$cmd" "$dev" "$@" > "$NSDIR/$dev.json" 2> "$NSDIR/$dev.err"; then
		fail "tf-xdp-tally $cmd $dev: $(tail -1 "$NSDIR/$dev.err")"
		return 1
	fi
	# '|'-separated: read would merge the empty fields of tab-separated ones.
	IFS='|' read -r MODE DISP MAIN PROGS COUNT < <(jq -r '[.mode, .dispatcher, .main_id,
		([.programs[] | "\(.name):\(.prio)"] | join(",")),
		(if .tally then "\(.tally.packets) \(.tally.bytes)" else "none" end)] | map(tostring) | join("|")' \
		"$NSDIR/$dev.json")
	[ -n "$MODE" ] || { fail "tf-xdp-tally $cmd $dev printed: $(cat "$NSDIR/$dev.json")"; return 1; }
}

# "prog ID" and "map ID" lines for everything tf-xdp-tally saw on DEV last.
xdp_ids() {
	jq -r '"prog \(.main_id)", (.programs[] | "prog \(.id)", "map \(.map_ids[])")' "$NSDIR/$1.json"
}

# The program in DEV's XDP slot, as the kernel reports it: "ID NAME", or "".
slot_prog() {
	nsx ip link show dev "$1" | sed -n 's/.*prog\/xdp id \([0-9]*\) name \([^ ]*\).*/\1 \2/p'
}

# B's backend reads until idle; its queue is attached before this returns.
reader_b() {
	local i
	nsrun "$TFLOAD" --dev "$B" --queues 1 --read --idle-ms 1500 > "$NSDIR/b.json" 2>&1 &
	READER=$!
	# A frame redirected into a tap with no queue attached is dropped.
	for ((i = 0; i < 100; i++)); do
		tf show "$B" | grep -q ' 1 attached' && return 0
		sleep 0.05
	done
	fail "B's reader did not attach its queue: $(cat "$NSDIR/b.json")"
}

# write_a K: A's backend writes K 64-byte frames for B's MAC.
write_a() {
	nsrun "$TFLOAD" --dev "$A" --count "$1" --dst-mac "$MAC_B" > "$NSDIR/a.json" 2>&1 ||
		{ fail "tf-load on A: $(tail -1 "$NSDIR/a.json")"; return 1; }
	expect_eq "$(jq .tx_frames "$NSDIR/a.json")" "$1" "frames A's backend wrote"
}

test_dispatcher_with_fast_path() {
	need_bits
	local sfx ifa ifb ids disp_ids="" got i
	sfx=$(printf '%x' $((RANDOM % 4096)))
	A=xa$sfx B=xb$sfx
	expect_ok "create A" tf create "$A" --txqueuelen 4096 || return 1
	expect_ok "create B" tf create "$B" --txqueuelen 4096 || return 1
	# LIFO: the tally leaves first, then the fast path, then (lib.sh) the taps.
	on_exit "tf fastpath off $B"
	on_exit "tf fastpath off $A"
	on_exit "nsrun $TALLY detach $A"
	ifa=$(nsx cat "/sys/class/net/$A/ifindex") ifb=$(nsx cat "/sys/class/net/$B/ifindex")

	# ---- the tally first: libxdp's dispatcher, or legacy mode -------------
	xdp_state "$A" attach --prio 10 || return 1
	if [ "$DISP" != true ]; then
		nsrun "$TALLY" detach "$A" >/dev/null 2>&1
		skip "libxdp attached xdp_tally to $A in legacy (single-program) mode: this kernel has no multi-program dispatcher (freplace refused), so no second program can share the tap with the fast path here"
	fi
	expect_eq "$MODE" native "tally attach mode" || return 1
	expect_eq "$PROGS" "xdp_tally:10" "programs on A after the tally attached" || return 1

	# ---- the fast path joins the dispatcher on A; B gets its own ----------
	local out
	out=$(tf fastpath on "$A" 2>&1) || { fail "fastpath on A: $out"; return 1; }
	[[ "$out" == *"multi-program dispatcher"* ]] || { fail "fastpath on A did not report the dispatcher: $out"; return 1; }
	expect_ok "fastpath on B" tf fastpath on "$B" || return 1

	xdp_state "$A" || return 1
	expect_eq "$MODE $DISP" "native true" "A: libxdp mode, dispatcher" || return 1
	expect_eq "$PROGS" "xdp_tally:10,tf_fp_tap:50" "A's programs in run order" || return 1
	expect_eq "$(slot_prog "$A")" "$MAIN xdp_dispatcher" "A's XDP slot" || return 1
	[ -d "$XDP_PINS/dispatch-$ifa-$MAIN" ] ||
		{ fail "no libxdp pin dir $XDP_PINS/dispatch-$ifa-$MAIN: $(ls "$XDP_PINS" 2>&1 | tr '\n' ' ')"; return 1; }
	expect_eq "$COUNT" "0 0" "tally before any frame" || return 1
	ids=$(xdp_ids "$A")
	disp_ids="$MAIN"
	xdp_state "$B" || return 1
	expect_eq "$PROGS" "tf_fp_tap:50" "B's programs" || return 1
	ids+=$'\n'$(xdp_ids "$B")
	disp_ids+=" $MAIN"

	# ---- N frames: the tally counts them, the fast path redirects them ----
	nsrun "$TFLOAD" --dev "$B" --count 1 --src-mac "$MAC_B" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null 2>&1 ||
		{ fail "tf-load on B (B's MAC for the fdb)"; return 1; }
	reader_b || return 1
	write_a "$N" || return 1
	wait "$READER"
	got=$(jq .rx_frames "$NSDIR/b.json")
	expect_eq "$got" "$N" "frames B's backend read (redirected by the fast path)" || return 1
	xdp_state "$A" || return 1
	expect_eq "$COUNT" "$N $((N * 64))" "tally on A (packets bytes)" || return 1
	read -r got i < <(tf fastpath stats "$A" --json | jq -r '"\(.total.redirect_tap_packets) \(.total.pass_packets)"')
	expect_eq "$got $i" "$N 0" "fast path stats on A (redirect_tap pass)" || return 1

	# ---- fast path off A: only tf_fp_tap leaves the dispatcher ------------
	expect_ok "fastpath off A" tf fastpath off "$A" || return 1
	xdp_state "$A" || return 1
	expect_eq "$MODE $DISP $PROGS" "native true xdp_tally:10" "A after fastpath off" || return 1
	expect_eq "$(slot_prog "$A")" "$MAIN xdp_dispatcher" "A's XDP slot after fastpath off" || return 1
	disp_ids+=" $MAIN"
	write_a "$M" || return 1
	xdp_state "$A" || return 1
	expect_eq "$COUNT" "$((N + M)) $(((N + M) * 64))" "tally on A still counting" || return 1

	# ---- everything off: nothing left -------------------------------------
	xdp_state "$A" detach || return 1
	expect_eq "$MODE ${PROGS:-none}" "none none" "A after the tally detached" || return 1
	expect_ok "fastpath off B" tf fastpath off "$B" || return 1
	xdp_state "$B" || return 1
	expect_eq "$MODE" none "B after fastpath off" || return 1
	for i in "$A" "$B"; do
		[ -z "$(slot_prog "$i")" ] || { fail "$i still runs XDP: $(slot_prog "$i")"; return 1; }
	done
	expect_unloaded "$ids" || return 1
	for i in $disp_ids; do
		if compgen -G "$XDP_PINS/dispatch-*-$i" >/dev/null; then
			fail "libxdp pins left: $(compgen -G "$XDP_PINS/dispatch-*-$i" | tr '\n' ' ')"
			return 1
		fi
	done
}

run_tests
