#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The XDP fast path on real taps: two accelerated taps (A, B) and a veth
# uplink (up0, its peer up1) in a fresh namespace, tf-load as the VM
# backends. What is checked, and by what:
#   - frames A's backend writes for B's MAC reach B's backend (tf-load
#     --read), the fast-path counters equal what was sent, and the host stack
#     saw none of them (an AF_PACKET socket on A, which sees every skb A
#     receives and no XDP-redirected frame, counts 0);
#   - broadcast and unknown unicast still take the slow path: that socket
#     counts exactly that many, and a bridge floods the broadcasts to B;
#   - tap -> uplink (static fdb entry; up1 counts them) and uplink -> tap
#     (frames injected on up1 with a packet socket reach B's backend);
#   - AF_XDP rules: matching frames are counted as xsk_miss and go on along
#     the normal path while no socket sits in the XSKMAP slot;
#   - `fastpath off`, `uplink del` and `tapflow delete` leave no program, map
#     or pin; bad input fails in one line and leaves nothing.
#
#   tf-load (A) ─write─▶ A [tf_fp_tap] ──DEVMAP──▶ B ─read─▶ tf-load (B)
#                                       └────────▶ up0 ═veth═ up1 (xsk_def_prog, counts rx)
#   python (up1) ═veth═▶ up0 [tf_fp_uplink] ──DEVMAP──▶ B

. "$(dirname "$0")/../lib.sh"

MAC_A=02:00:00:00:0a:01
MAC_B=02:00:00:00:0b:01
MAC_R=02:00:00:00:0c:01		# a host behind the uplink
MAC_X=02:00:00:00:0e:01		# nobody
K=2000				# frames per case
RATE=40000			# per queue, well below what B's reader drains
PASS_PROG=/usr/lib/x86_64-linux-gnu/bpf/xsk_def_xdp_prog.o	# XDP_PASS without a socket
PIN_ROOT=/sys/fs/bpf/tapflow/fastpath

# The fast path's pin directory for namespace NAME (default: this test's).
pin_dir() { echo "$PIN_ROOT/$(stat -L -c %i "/run/netns/${1:-$NS}")"; }

need_root_bits() {
	[ -e /dev/net/tun ] || skip "no /dev/net/tun"
	mountpoint -q /sys/fs/bpf || skip "bpffs is not mounted at /sys/fs/bpf"
	need "$TFLOAD" jq
	PIN_DIR=$(pin_dir)
}

setup_tmp() {
	TMP=$(mktemp -d)
	on_exit "rm -rf $TMP"
}

# A tapflow tap with the fast path on; big rings so no test frame is tail-dropped.
fast_tap() {
	expect_ok "create $1" tf create "$1" --queues 2 --txqueuelen 8192 || return 1
	on_exit "tf fastpath off $1"
	expect_ok "fastpath on $1" tf fastpath on "$1" || return 1
}

rx_packets() { nsx ip -s -j link show dev "$1" | jq '.[0].stats64.rx.packets'; }

# Frames the host stack saw on DEV: an AF_PACKET (ETH_P_ALL) socket sees every
# skb received there and nothing XDP redirected. sniff_start DEV; ...; sniff_stop
sniff_start() {
	rm -f "$TMP/sniff.ready"
	# nsenter, not the nsrun function: $! must be python itself
	nsenter --net="/run/netns/$NS" -- python3 - "$1" "$TMP/sniff.ready" > "$TMP/sniff.out" 2>&1 <<'EOF' &
import signal, socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
# room for a whole test's frames: python reads slower than 80k frames/s
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)	# SO_RCVBUFFORCE (root)
s.bind((sys.argv[1], 0))
s.settimeout(0.1)
n = 0
stopping = False
def stop(*_):
    global stopping
    stopping = True
signal.signal(signal.SIGTERM, stop)
open(sys.argv[2], "w").close()
while True:
    try:
        _, addr = s.recvfrom(65535)
    except socket.timeout:
        if stopping:
            break	# drained: nothing came for 0.1 s after the stop
        continue
    if addr[2] != socket.PACKET_OUTGOING:
        n += 1
print(n)
EOF
	SNIFFER=$!
	local i
	for ((i = 0; i < 50; i++)); do
		[ -e "$TMP/sniff.ready" ] && return 0
		sleep 0.05
	done
	fail "packet socket on $1 did not start: $(cat "$TMP/sniff.out")"
}
# sniff_stop: sets SEEN
sniff_stop() {
	sleep 0.2
	kill -TERM "$SNIFFER" 2>/dev/null
	wait "$SNIFFER" 2>/dev/null
	SEEN=$(tail -1 "$TMP/sniff.out")
}

# fp_stat DEV FIELD: a total from `tapflow fastpath stats --json`.
fp_stat() { tf fastpath stats "$1" --json | jq ".total.$2"; }

# B's backend: reads on both queues until idle; result in $TMP/b.json. The
# idle clock starts with the reader, before the sniffer (python) and A's
# writer have started: on a loaded 2-core machine (load 10-20) that took
# 1.1-1.6 s (measured), past the 700 ms this waited once: 0 frames read.
reader_b() {
	nsrun "$TFLOAD" --dev B"$SFX" --queues 2 --read --idle-ms 3000 > "$TMP/b.json" 2>&1 &
	READER=$!
	sleep 0.3
}
# reader_wait: sets GOT (not in $(...): a subshell cannot wait for our child)
reader_wait() { wait "$READER"; GOT=$(jq '.rx_frames' "$TMP/b.json"); }

# write_a ARGS...: A's backend writes K frames per queue at RATE.
write_a() {
	nsrun "$TFLOAD" --dev A"$SFX" --count "$K" --rate "$RATE" "$@" > "$TMP/a.json" 2>&1 ||
		{ fail "tf-load on A: $(tail -1 "$TMP/a.json")"; return 1; }
	jq '.tx_frames' "$TMP/a.json"
}

# B learns its MAC from one frame its backend writes.
learn_b() {
	nsrun "$TFLOAD" --dev B"$SFX" --count 1 --src-mac "$MAC_B" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null 2>&1 ||
		{ fail "tf-load on B"; return 1; }
}

two_taps() {
	SFX=$(printf '%x' $((RANDOM % 4096)))
	fast_tap A"$SFX" || return 1
	fast_tap B"$SFX" || return 1
	A=A$SFX B=B$SFX
	learn_b || return 1
}

# program and map ids the fast path holds right now
fp_ids() {
	local id
	for id in $(nsx ip -j link show | jq -r '.[] | select(.xdp.prog.name? // "" | startswith("tf_fp")) | .xdp.prog.id'); do
		echo "prog $id"
		bpftool -j prog show id "$id" | jq -r '.map_ids[]? | "map \(.)"'
	done
}

# nothing of IDS ("prog N" / "map N" lines) is left, nor the pin directory
expect_gone() {
	expect_unloaded "$1" || return 1
	[ -e "$PIN_DIR" ] && { fail "$PIN_DIR is still there: $(ls "$PIN_DIR" | tr '\n' ' ')"; return 1; }
	return 0
}

# ---- tap -> tap ---------------------------------------------------------------

test_tap_to_tap() {
	need_root_bits
	setup_tmp
	two_taps || return 1
	expect_ok "show" tf show "$A" || return 1
	tf show "$A" | grep -q "fastpath: on" || { fail "tapflow show $A does not say the fast path is on"; return 1; }
	tf fdb list --json | jq -e --arg m "$MAC_B" --arg b "$B" \
		'.[] | select(.mac == $m and .port == $b and .type == "learned")' >/dev/null ||
		{ fail "B's MAC was not learned: $(tf fdb list)"; return 1; }

	reader_b
	sniff_start "$A" || return 1
	local sent
	sent=$(write_a --queues 2 --dst-mac "$MAC_B") || return 1
	reader_wait
	sniff_stop
	expect_eq "$sent" $((2 * K)) "frames A wrote" || return 1
	expect_eq "$GOT" "$sent" "frames B's backend read" || return 1
	expect_eq "$(fp_stat "$A" redirect_tap_packets)" "$sent" "redirect_tap counter" || return 1
	expect_eq "$(fp_stat "$A" redirect_tap_bytes)" $((sent * 64)) "redirect_tap bytes" || return 1
	expect_eq "$(fp_stat "$A" pass_packets)" 0 "pass counter" || return 1
	expect_eq "$SEEN" 0 "frames the host stack saw on A" || return 1
	# per queue: K on each of A's two queues
	expect_eq "$(tf fastpath stats "$A" --json | jq -c '[.queues[] | .redirect_tap_packets]')" "[$K,$K]" \
		"per-queue redirect_tap" || return 1
}

# ---- the slow path stays --------------------------------------------------------

test_slow_path() {
	need_root_bits
	setup_tmp
	two_taps || return 1
	local br=br$SFX
	nsx ip link add "$br" type bridge && nsx ip link set "$br" up &&
		nsx ip link set "$A" master "$br" && nsx ip link set "$B" master "$br" ||
		{ fail "bridge"; return 1; }
	nsx ip link set "$br" type bridge ageing_time 0 2>/dev/null	# flood unknown unicast too

	reader_b
	sniff_start "$A" || return 1
	write_a --dst-mac ff:ff:ff:ff:ff:ff >/dev/null || return 1
	write_a --dst-mac "$MAC_X" >/dev/null || return 1
	reader_wait
	sniff_stop
	expect_eq "$(fp_stat "$A" pass_packets)" $((2 * K)) "pass counter" || return 1
	expect_eq "$(fp_stat "$A" redirect_tap_packets)" 0 "redirect_tap counter" || return 1
	expect_eq "$SEEN" $((2 * K)) "frames the host stack saw on A" || return 1
	[ "$GOT" -ge "$K" ] || { fail "the bridge flooded $GOT frames to B, expected at least $K broadcasts"; return 1; }
}

# ---- uplink ----------------------------------------------------------------------

test_uplink() {
	need_root_bits
	[ -r "$PASS_PROG" ] || skip "$PASS_PROG (xdp-tools) missing: the veth peer needs an XDP program"
	setup_tmp
	two_taps || return 1
	nsx ip link add up0 type veth peer name up1 && nsx ip link set up0 up && nsx ip link set up1 up ||
		{ fail "veth"; return 1; }
	# A veth takes XDP-redirected frames only if its peer runs XDP (or has GRO on).
	nsx ip link set dev up1 xdpdrv obj "$PASS_PROG" sec xdp || { fail "XDP_PASS program on up1"; return 1; }
	tf uplink add up0 > "$TMP/up.out" 2>&1 || { fail "uplink add: $(tail -1 "$TMP/up.out")"; return 1; }
	on_exit "tf uplink del up0"
	grep -q "native" "$TMP/up.out" || { fail "uplink not in native mode: $(cat "$TMP/up.out")"; return 1; }
	expect_ok "fdb add" tf fdb add up0 "$MAC_R" || return 1

	# tap -> uplink
	local before sent
	before=$(rx_packets up1)
	sniff_start "$A" || return 1
	sent=$(write_a --dst-mac "$MAC_R") || return 1
	sniff_stop
	expect_eq "$SEEN" 0 "frames the host stack saw on A" || return 1
	expect_eq "$(fp_stat "$A" redirect_uplink_packets)" "$sent" "redirect_uplink counter" || return 1
	expect_eq "$(( $(rx_packets up1) - before ))" "$sent" "frames up1 received" || return 1

	# uplink -> tap: frames for B's MAC injected on up1
	reader_b
	nsrun python3 - "$MAC_B" "$MAC_R" "$K" <<'EOF' || { fail "packet socket on up1"; return 1; }
import socket, sys, time
dst, src, n = bytes.fromhex(sys.argv[1].replace(":", "")), bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("up1", 0))
frame = dst + src + b"\x08\x00" + bytes(46)
for i in range(n):
    s.send(frame)
    if i % 256 == 255:
        time.sleep(0.002)
EOF
	reader_wait
	expect_eq "$GOT" "$K" "frames B's backend read from the uplink" || return 1
	expect_eq "$(fp_stat up0 redirect_tap_packets)" "$K" "uplink redirect_tap counter" || return 1

	# the uplink's entries go with it
	expect_ok "uplink del" tf uplink del up0 || return 1
	tf fdb list --json | jq -e '.[] | select(.port == "up0")' >/dev/null &&
		{ fail "up0's fdb entries outlived it"; return 1; }
	nsx ip link show up0 | grep -q xdp && { fail "up0 still has XDP"; return 1; }
	return 0
}

# ---- AF_XDP rules without a socket -------------------------------------------------

test_xsk_rule_fallback() {
	need_root_bits
	setup_tmp
	two_taps || return 1
	expect_ok "rule add" tf fastpath rule add "$A" --udp-dport 4789 || return 1
	expect_eq "$(tf fastpath rule list "$A")" "udp dport 4789" "rule list" || return 1
	expect_fail "duplicate rule" "already has" tf fastpath rule add "$A" --udp-dport 4789 || return 1

	reader_b
	local sent
	sent=$(write_a --dst-mac "$MAC_B" --dport 4789) || return 1
	write_a --dst-mac "$MAC_B" --dport 53 >/dev/null || return 1
	reader_wait
	expect_eq "$GOT" $((2 * K)) "frames B read" || return 1
	expect_eq "$(fp_stat "$A" xsk_miss)" "$sent" "xsk_miss (matched, no socket)" || return 1
	expect_eq "$(fp_stat "$A" xsk_packets)" 0 "xsk counter" || return 1
	expect_eq "$(fp_stat "$A" redirect_tap_packets)" $((2 * K)) "fell through to the fdb" || return 1
	expect_ok "rule del" tf fastpath rule del "$A" || return 1
	expect_eq "$(tf fastpath rule list "$A")" "" "rules after del" || return 1
}

# ---- create --fastpath ------------------------------------------------------------------

# `create --fastpath` makes an accelerated tap in one step, is idempotent, turns
# the fast path on for an existing tap, and when the fast path cannot be had
# (no CAP_BPF nor CAP_SYS_ADMIN) deletes the tap it made, leaving nothing.
test_create_fastpath() {
	need_root_bits
	local t=C$(printf '%x' $((RANDOM % 4096))) u=D$(printf '%x' $((RANDOM % 4096)))
	on_exit "tf delete $t"
	on_exit "tf delete $u"
	expect_ok "create --fastpath" tf create "$t" --queues 2 --fastpath || return 1
	tf show "$t" | grep -q "fastpath: on" || { fail "show does not say the fast path is on: $(tf show "$t")"; return 1; }
	nsx ip -j link show "$t" | jq -e '.[0].xdp.prog.name == "tf_fp_tap"' >/dev/null ||
		{ fail "no tf_fp_tap on $t"; return 1; }
	expect_eq "$(tf create "$t" --queues 2 --fastpath)" \
		"$t already exists with these parameters and the fast path on; nothing changed" "re-create" || return 1
	expect_fail "different parameters" "queues=2, not 4" tf create "$t" --queues 4 --fastpath || return 1
	tf show "$t" | grep -q "fastpath: on" || { fail "a refused re-create turned the fast path off"; return 1; }
	# an existing plain tap gets the fast path
	expect_ok "create plain" tf create "$u" || return 1
	expect_ok "create --fastpath on existing" tf create "$u" --fastpath || return 1
	tf show "$u" | grep -q "fastpath: on" || { fail "fast path not turned on for existing $u"; return 1; }
	expect_ok "delete" tf delete "$t" || return 1
	expect_ok "delete" tf delete "$u" || return 1
	[ -e "$PIN_DIR" ] && { fail "$PIN_DIR outlived both taps"; return 1; }

	# without CAP_BPF and CAP_SYS_ADMIN: one line naming the capability, no tap, no pins
	expect_fail "no CAP_BPF" "CAP_BPF" \
		nsrun setpriv --bounding-set -bpf,-sys_admin "$TAPFLOW" create "$t" --fastpath || return 1
	nsx ip link show "$t" >/dev/null 2>&1 && { fail "a failed create --fastpath left $t"; return 1; }
	[ -e "$PIN_DIR" ] && { fail "a failed create --fastpath left $PIN_DIR"; return 1; }
	return 0
}

# ---- one fast path per network namespace ----------------------------------------------

# Two namespaces, each with its own two accelerated taps (same names, same
# MACs): each switches its own traffic, counts only its own frames and has
# its own pin directory; turning one off leaves the other working, and the
# state of a namespace deleted without turning anything off is reclaimed by
# the next `fastpath on` elsewhere.
# in_ns NAME CMD...: run a test helper (tf, nsx, write_a...) in namespace NAME
in_ns() { local NS=$1; shift; "$@"; }

test_two_namespaces() {
	need_root_bits
	setup_tmp
	two_taps || return 1
	local ns2 dir1 dir2 sent got1 i
	ns2=$(uniq_name tfn)
	ip netns add "$ns2" || return 1
	on_exit "ip netns del $ns2"
	on_exit "in_ns $ns2 tf fastpath off $B"
	on_exit "in_ns $ns2 tf fastpath off $A"
	ip -n "$ns2" link set lo up
	in_ns "$ns2" nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	# the same tap names and MACs in the second namespace
	local t
	for t in "$A" "$B"; do
		expect_ok "create $t in ns2" in_ns "$ns2" tf create "$t" --queues 2 --txqueuelen 8192 || return 1
		expect_ok "fastpath on $t in ns2" in_ns "$ns2" tf fastpath on "$t" || return 1
	done
	in_ns "$ns2" learn_b || return 1
	dir1=$(pin_dir) dir2=$(pin_dir "$ns2")
	[ "$dir1" != "$dir2" ] && [ -d "$dir1" ] && [ -d "$dir2" ] ||
		{ fail "expected two pin directories, have: $(ls "$PIN_ROOT" | tr '\n' ' ')"; return 1; }
	[ "$(stat -c %a "$dir2")" = 700 ] || { fail "$dir2 mode $(stat -c %a "$dir2")"; return 1; }

	# traffic in ns2 only: ns2's counters see it, ns1's do not
	in_ns "$ns2" reader_b
	sent=$(in_ns "$ns2" write_a --queues 2 --dst-mac "$MAC_B") || return 1
	reader_wait
	expect_eq "$GOT" "$sent" "frames B read in ns2" || return 1
	expect_eq "$(in_ns "$ns2" fp_stat "$A" redirect_tap_packets)" "$sent" "ns2 redirect_tap counter" || return 1
	expect_eq "$(fp_stat "$A" redirect_tap_packets)" 0 "ns1 counter after ns2's traffic" || return 1
	# and the other way round
	reader_b
	sent=$(write_a --queues 1 --dst-mac "$MAC_B") || return 1
	reader_wait
	expect_eq "$GOT" "$sent" "frames B read in ns1" || return 1
	got1=$(fp_stat "$A" redirect_tap_packets)
	expect_eq "$got1" "$sent" "ns1 redirect_tap counter" || return 1
	expect_eq "$(in_ns "$ns2" fp_stat "$A" redirect_tap_packets)" $((2 * K)) \
		"ns2 counter after ns1's traffic" || return 1

	# ns2 goes away with its taps on: its state must not outlive it
	ip netns del "$ns2" || return 1
	for ((i = 0; i < 50; i++)); do
		expect_ok "fastpath on again" tf fastpath on "$A" || return 1
		[ -e "$dir2" ] || break
		sleep 0.1
	done
	[ -e "$dir2" ] && { fail "$dir2 outlived its namespace: $(ls "$dir2" | tr '\n' ' ')"; return 1; }
	# ns1 never noticed
	expect_eq "$(fp_stat "$A" redirect_tap_packets)" "$got1" "ns1 counter after ns2 went" || return 1
	[ -d "$dir1" ] || { fail "ns1's state went with ns2's"; return 1; }
}

# ---- nothing left behind -------------------------------------------------------------

test_off_leaves_nothing() {
	need_root_bits
	setup_tmp
	two_taps || return 1
	local ids
	ids=$(fp_ids)
	[ "$(echo "$ids" | grep -c '^prog')" = 2 ] || { fail "expected 2 programs, got: $ids"; return 1; }
	[ -d "$PIN_DIR" ] || { fail "no $PIN_DIR while on"; return 1; }
	[ "$(stat -c %a "$PIN_DIR")" = 700 ] || { fail "$PIN_DIR mode $(stat -c %a "$PIN_DIR")"; return 1; }
	[ -z "$(find "$PIN_DIR" -type f ! -perm 600)" ] || { fail "pins not 0600"; return 1; }
	expect_ok "off A" tf fastpath off "$A" || return 1
	nsx ip link show "$A" | grep -q xdp && { fail "A still has XDP"; return 1; }
	[ -d "$PIN_DIR" ] || { fail "state gone while B is still on"; return 1; }
	tf fdb list --json | jq -e --arg a "$A" '.[] | select(.port == $a)' >/dev/null &&
		{ fail "A's learned entries outlived it"; return 1; }
	expect_ok "off B" tf fastpath off "$B" || return 1
	expect_gone "$ids" || return 1
	expect_fail "off twice" "not a fast path" tf fastpath off "$B" || return 1
}

test_delete_leaves_nothing() {
	need_root_bits
	setup_tmp
	two_taps || return 1
	local ids
	ids=$(fp_ids)
	expect_ok "delete A" tf delete "$A" || return 1
	[ -d "$PIN_DIR" ] || { fail "state gone while B is still on"; return 1; }
	expect_ok "delete B" tf delete "$B" || return 1
	expect_gone "$ids" || return 1
}

# ---- bad input -----------------------------------------------------------------------

# Readers (stats, fdb list, the exporter) share the state's lock; changes
# take it alone.
test_readers_share_the_lock() {
	need_root_bits
	setup_tmp
	two_taps || return 1
	flock -s "$PIN_DIR" sleep 3 &
	local holder=$!
	on_exit "kill $holder 2>/dev/null"
	sleep 0.2
	expect_ok "stats beside a reader" timeout 2 nsenter --net="/run/netns/$NS" -- "$TAPFLOW" fastpath stats "$A" || return 1
	expect_ok "fdb list beside a reader" timeout 2 nsenter --net="/run/netns/$NS" -- "$TAPFLOW" fdb list || return 1
	# a change waits for the reader: not done within 1 s, done after it
	timeout 1 nsenter --net="/run/netns/$NS" -- "$TAPFLOW" fdb add "$B" 02:00:00:00:0b:77 >/dev/null 2>&1 &&
		{ fail "fdb add did not wait for the shared lock"; return 1; }
	wait $holder
	expect_ok "fdb add after the reader" tf fdb add "$B" 02:00:00:00:0b:77 || return 1
}

test_bad_input() {
	need_root_bits
	setup_tmp
	local t=T$(printf '%x' $((RANDOM % 4096)))
	expect_fail "no such tap" "no device" tf fastpath on nosuchtap0 || return 1
	expect_fail "unknown rule subcommand" "unknown subcommand 'drop'" tf fastpath rule drop x || return 1
	for sub in "fastpath" "fastpath rule" "uplink" "fdb"; do
		# shellcheck disable=SC2086
		expect_ok "$sub --help" tf $sub --help || return 1
	done
	expect_fail "bad name" "15" tf fastpath on abcdefghijklmnopq || return 1
	nsx ip link add v0 type veth peer name v1 || return 1
	expect_fail "not a tap" "not a tun/tap|not a tap" tf fastpath on v0 || return 1
	expect_ok "create" tf create "$t" || return 1
	expect_fail "tap as uplink" "tun/tap" tf uplink add "$t" || return 1
	expect_fail "uplink lo" "loopback" tf uplink add lo || return 1
	expect_fail "fdb on a non-port" "not a fast path port" tf fdb add "$t" "$MAC_B" || return 1
	expect_fail "off when off" "not a fast path" tf fastpath off "$t" || return 1
	expect_fail "stats when off" "not a fast path port" tf fastpath stats "$t" || return 1
	expect_fail "no subcommand" "unknown subcommand" tf fastpath sideways "$t" || return 1
	expect_ok "on" tf fastpath on "$t" || return 1
	on_exit "tf fastpath off $t"
	expect_ok "on twice" tf fastpath on "$t" || return 1
	expect_fail "bad mac" "malformed" tf fdb add "$t" 02:00:00:00:0b || return 1
	expect_fail "multicast mac" "multicast" tf fdb add "$t" 01:00:5e:00:00:01 || return 1
	expect_fail "two selectors" "one of" tf fastpath rule add "$t" --all --udp-dport 1 || return 1
	expect_fail "no selector" "one of" tf fastpath rule add "$t" || return 1
	expect_fail "bad ethertype" "EtherType" tf fastpath rule add "$t" --ethertype 12 || return 1
	expect_fail "bad port" "out of range" tf fastpath rule add "$t" --udp-dport 70000 || return 1
	expect_ok "fdb add" tf fdb add "$t" "$MAC_B" || return 1
	expect_fail "fdb del wrong mac" "not in the fdb" tf fdb del "$t" "$MAC_X" || return 1
	expect_ok "fdb del" tf fdb del "$t" "$MAC_B" || return 1
	local ids
	ids=$(fp_ids)
	expect_ok "off" tf fastpath off "$t" || return 1
	expect_gone "$ids" || return 1
	expect_fail "fdb add after off" "not a fast path port" tf fdb add "$t" "$MAC_B" || return 1
	[ -e "$PIN_DIR" ] && { fail "a failed command left $PIN_DIR"; return 1; }
	return 0
}

run_tests
