#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The fault tier: tapflow under the faults a careless user, a hostile one or
# a faulty environment brings (issue #12). Three kinds of case, each in a
# fresh network namespace:
#   - kill -9 of a state-changing command at many points in its run, then
#     checks that nothing leaked (taps, pins, XDP programs, and BPF objects
#     by bpftool's lists, compared before and after) and that the next
#     command recovers;
#   - changes behind tapflow's back (device deleted or renamed, XDP
#     detached, namespace deleted, pins removed) and a wrong environment
#     (`ip netns exec`'s private /sys);
#   - races of pairs of commands on one tap.
# `make check` runs a short pass (TF_FAULT_ROUNDS, default 3 kill points per
# command); `make faults` a longer one (TF_FAULT_ROUNDS=12).

. "$(dirname "$0")/../lib.sh"

ROUNDS=${TF_FAULT_ROUNDS:-3}
command -v strace >/dev/null || { echo "SKIP $SUITE: no strace (scripts/setup.sh installs it)"; exit 0; }

# The syscalls a kill point may land on: every one by which tapflow changes
# state (BPF objects, tap ioctls, netlink, pins, files, locks).
KILL_SYSCALLS=bpf,ioctl,sendto,sendmsg,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,write,flock,fsync,linkat

# kill_points N CMD...: run tapflow CMD once in $NS under strace and print N
# kill points spread evenly over its state-changing syscalls, each as
# SYSCALL:K (its Kth call of SYSCALL), first and last included.
kill_points() {
	local n=$1; shift
	local tr=$NSDIR/points.$$.$RANDOM
	nsrun strace -f -qq -o "$tr" -e trace="$KILL_SYSCALLS" "$TAPFLOW" "$@" >/dev/null 2>&1
	awk -v n="$n" '
		match($0, /^[0-9]+ +[a-z0-9_]+\(/) {
			split(substr($0, RSTART, RLENGTH - 1), f, " +")
			sc = f[2]; seen[sc]++; all[++t] = sc ":" seen[sc]
		}
		END {
			if (!t) exit
			if (n > t) n = t
			for (i = 0; i < n; i++) {
				k = (n == 1) ? 1 : 1 + int(i * (t - 1) / (n - 1))
				if (!(k in done)) { print all[k]; done[k] = 1 }
			}
		}' "$tr"
	rm -f "$tr"
}

# kill_points_at REGEX N CMD...: up to N kill points (SYSCALL:K) just before
# each syscall of the command whose strace line matches REGEX (an exact
# place, such as each BPF_OBJ_PIN or the netlink RTM_SETLINK that
# attaches XDP), for regressions that a sparse sweep may miss.
kill_points_at() {
	local re=$1 n=$2; shift 2
	local tr=$NSDIR/points.$$.$RANDOM
	nsrun strace -f -qq -o "$tr" -e trace="$KILL_SYSCALLS" "$TAPFLOW" "$@" >/dev/null 2>&1
	awk -v re="$re" -v n="$n" '
		match($0, /^[0-9]+ +[a-z0-9_]+\(/) {
			split(substr($0, RSTART, RLENGTH - 1), f, " +")
			sc = f[2]; seen[sc]++
			if ($0 ~ re) all[++t] = sc ":" seen[sc]
		}
		END {	# at most n of them, first and last included
			if (n > t) n = t
			for (i = 0; i < n; i++) {
				k = (n == 1) ? 1 : 1 + int(i * (t - 1) / (n - 1))
				if (!(k in done)) { print all[k]; done[k] = 1 }
			}
		}' "$tr"
	rm -f "$tr"
}

# kill_at SYSCALL:K CMD...: run tapflow CMD in $NS and kill -9 it just
# before its Kth call of SYSCALL (strace's injection, so the point is exact).
kill_at() {
	local sc=${1%:*} k=${1#*:}; shift
	nsrun strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$k" \
		"$TAPFLOW" "$@" >/dev/null 2>&1
	return 0
}

# Pins left under tapflow's root, one a line; or a module's ($1): its
# directory too, which goes with its last pin.
pins() {
	if [ -n "${1:-}" ]; then
		find "/sys/fs/bpf/tapflow/$1" 2>/dev/null | sort
	else
		find /sys/fs/bpf/tapflow -mindepth 1 2>/dev/null | sort
	fi
}

# no_pins WHAT [SUBDIR]: nothing of tapflow's (under SUBDIR) is pinned any more.
no_pins() {
	local p
	p=$(pins "${2:-}")
	[ -z "$p" ] || fail "$1: pins left: $(echo $p)"
}

# no_xdp WHAT: no XDP program on any device of $NS.
no_xdp() {
	local x
	x=$(ip -n "$NS" -d -o link show | grep -E "prog/xdp|xdp(generic|drv|offload)? " | awk '{print $2}')
	[ -z "$x" ] || fail "$1: an XDP program is left on $(echo $x)"
}

# Taps of $NS, one a line.
taps() { ip -n "$NS" -o link show type tun 2>/dev/null | awk -F': ' '{print $2}' | sort; }

# ---- a wrong environment ---------------------------------------------------------

# Issue #12 item 2: `ip netns exec` runs its command with a fresh /sys whose
# /sys/fs/bpf is no bpffs. tapflow must not pin into a throw-away bpffs
# there (the next tapflow would never see the state, while the programs
# stay attached): it refuses, naming nsenter, and attaches nothing.
test_ip_netns_exec_refused() {
	local tap out rc
	tap=$(uniq_name tx)
	expect_ok "create" tf create "$tap" --queues 2 || return 1
	for cmd in "trace start $tap" "fastpath on $tap" "steer $tap --mode l3"; do
		# shellcheck disable=SC2086
		out=$(env -u TAPFLOW_PRIVATE_BPFFS ip netns exec "$NS" "$TAPFLOW" $cmd 2>&1 >/dev/null)
		rc=$?
		expect_eq "$rc" 1 "exit of '$cmd' under ip netns exec" || return 1
		echo "$out" | grep -q "nsenter --net=/run/netns/NS" ||
			{ fail "'$cmd' under ip netns exec: $out"; return 1; }
		expect_eq "$(echo "$out" | grep -c .)" 1 "lines of error" || return 1
	done
	nsx ip -d link show "$tap" | grep -q "prog/xdp" && { fail "an XDP program was left on $tap"; return 1; }
	tf show "$tap" --json | jq -e '.attached | length == 0' >/dev/null ||
		{ fail "something is attached: $(tf show "$tap" --json | jq -c .attached)"; return 1; }
	# The same commands through nsenter work, and readers under ip netns
	# exec say where to look instead of "not running".
	expect_ok "trace start via nsenter" tf trace start "$tap" || return 1
	expect_fail "trace status under ip netns exec" "nsenter --net=/run/netns/NS" \
		env -u TAPFLOW_PRIVATE_BPFFS ip netns exec "$NS" "$TAPFLOW" trace status || return 1
	expect_ok "trace stop" tf trace stop "$tap" || return 1
}

# ---- changes behind tapflow's back ---------------------------------------------------

# Issue #12 item 3: XDP detached with ip link: the record says on, the
# device has no program. The next `on` must attach it again, not say
# "already on", and `off` must still clean up.
test_xdp_detached_behind_back() {
	local tap out
	tap=$(uniq_name tb)
	tf create "$tap" >/dev/null || return 1
	expect_ok "fastpath on" tf fastpath on "$tap" || return 1
	nsx ip link set dev "$tap" xdp off || return 1
	xdp_on "$tap" && { fail "ip link set xdp off left a program"; return 1; }
	out=$(tf fastpath on "$tap" 2>&1) || { fail "fastpath on after xdp off: $out"; return 1; }
	echo "$out" | grep -q "already on" && { fail "says '$out' with no program attached"; return 1; }
	echo "$out" | grep -q "attached it again" || { fail "no word of the re-attach: $out"; return 1; }
	xdp_on "$tap" || { fail "no XDP program on $tap after on: $out"; return 1; }
	out=$(tf fastpath on "$tap" 2>&1)
	expect_eq "$out" "$tap: fast path already on; nothing changed" "on again" || return 1
	expect_ok "off" tf fastpath off "$tap" || return 1
	no_xdp "off" && no_pins "off" fastpath || return 1
}

test_uplink_xdp_detached_behind_back() {
	local tap out
	tap=$(uniq_name tb)
	tf create "$tap" >/dev/null || return 1
	ip -n "$NS" link add tfup0 type veth peer name tfup1 || return 1
	ip -n "$NS" link set tfup0 up && ip -n "$NS" link set tfup1 up
	expect_ok "fastpath on" tf fastpath on "$tap" || return 1
	expect_ok "uplink add" tf uplink add tfup0 || return 1
	nsx ip link set dev tfup0 xdp off || return 1
	out=$(tf uplink add tfup0 2>&1) || { fail "uplink add after xdp off: $out"; return 1; }
	xdp_on tfup0 || { fail "no XDP program on the uplink after add: $out"; return 1; }
	expect_ok "uplink del" tf uplink del tfup0 || return 1
	expect_ok "off" tf fastpath off "$tap" || return 1
	no_xdp "off" && no_pins "off" fastpath || return 1
}

TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}

# Issue #12 item 6: the programs count by ifindex, so a renamed tap is the
# same tap: stats, status and the export follow it to its new name.
test_renamed_tap_followed() {
	local t u m
	t=$(uniq_name tr); u=$(uniq_name tu)
	tf create "$t" >/dev/null || return 1
	expect_ok "trace start" tf trace start "$t" || return 1
	on_exit "$TAPFLOW trace stop --all"
	nsrun "$TFLOAD" --dev "$t" --count 50 >/dev/null || { fail "tf-load"; return 1; }
	nsx ip link set "$t" down && nsx ip link set "$t" name "$u" && nsx ip link set "$u" up ||
		{ fail "rename"; return 1; }
	expect_eq "$(tf stats "$u" --json | jq -c '[.tap, .gone, ([.queues[].rx_packets] | add)]')" \
		"[\"$u\",false,50]" "stats under the new name" || return 1
	expect_fail "stats under the old name" "tap '$t' is not traced" tf stats "$t" || return 1
	expect_eq "$(tf trace status --json | jq -c '[.taps[] | [.tap, .gone]]')" "[[\"$u\",false]]" \
		"trace status" || return 1
	m=$(tf export --once) || { fail "export --once"; return 1; }
	echo "$m" | grep -q "^tapflow_info{tap=\"$u\"," ||
		{ fail "export lacks $u: $(echo "$m" | grep tapflow_info)"; return 1; }
	echo "$m" | grep -q "tap=\"$t\"" && { fail "export still names $t"; return 1; }
	expect_eq "$(echo "$m" | grep '^tapflow_traced_taps ')" "tapflow_traced_taps 1" "traced taps" || return 1
	expect_ok "trace stop under the new name" tf trace stop "$u" || return 1
	no_pins "stop" trace || return 1
}

# Issue #12 item 6: a tap whose network namespace is deleted is gone: it
# leaves the export and tapflow_traced_taps at once, not at the next start.
test_netns_deleted_tap_gone() {
	local ns2 t m
	ns2=$(uniq_name tfn)
	t=$(uniq_name tn)
	ip netns add "$ns2" || return 1
	on_exit "ip netns del $ns2"
	on_exit "$TAPFLOW trace stop --all"
	nsenter --net="/run/netns/$ns2" "$TAPFLOW" create "$t" >/dev/null || return 1
	nsenter --net="/run/netns/$ns2" "$TAPFLOW" trace start "$t" >/dev/null || return 1
	expect_eq "$(tf trace status --json | jq -c '[.taps[] | [.tap, .gone, .other_netns]]')" \
		"[[\"$t\",false,true]]" "status before" || return 1
	expect_eq "$(tf export --once | grep '^tapflow_traced_taps ')" "tapflow_traced_taps 1" "before" || return 1
	ip netns del "$ns2" || return 1
	expect_eq "$(tf trace status --json | jq -c '[.taps[] | [.tap, .gone]]')" "[[\"$t\",true]]" \
		"status after the namespace went" || return 1
	m=$(tf export --once) || { fail "export --once"; return 1; }
	expect_eq "$(echo "$m" | grep '^tapflow_traced_taps ')" "tapflow_traced_taps 0" "after" || return 1
	echo "$m" | grep -q "tap=\"$t\"" && { fail "export still has $t"; return 1; }
	# The next start from a live namespace frees its slot; stop cleans up.
	tf create "${t}x" >/dev/null && tf trace start "${t}x" >/dev/null || return 1
	expect_eq "$(tf trace status --json | jq -c '[.taps[].tap]')" "[\"${t}x\"]" "after a start" || return 1
	expect_ok "stop" tf trace stop --all || return 1
	no_pins "stop" trace || return 1
}

# A traced, accelerated, steered tap deleted with ip link (not tapflow
# delete): status calls it gone, and each module forgets it by the next
# command, leaving no pin once tracing stops.
test_device_deleted_behind_back() {
	local tap other
	tap=$(uniq_name td); other=$(uniq_name to)
	tf create "$tap" --queues 2 >/dev/null && tf create "$other" --queues 2 >/dev/null || return 1
	tf trace start "$tap" >/dev/null && tf fastpath on "$tap" >/dev/null &&
		tf steer "$tap" --mode l3 >/dev/null || { fail "setup"; return 1; }
	on_exit "$TAPFLOW trace stop --all"
	nsx ip link del "$tap" || return 1
	expect_eq "$(tf trace status --json | jq -c '[.taps[] | [.tap, .gone]]')" "[[\"$tap\",true]]" \
		"status" || return 1
	expect_ok "trace stop of the gone tap" tf trace stop "$tap" || return 1
	# the next command of each module forgets the gone device
	expect_ok "fastpath on another tap" tf fastpath on "$other" || return 1
	expect_ok "steer another tap" tf steer "$other" --mode l4 || return 1
	expect_ok "fastpath off" tf fastpath off "$other" || return 1
	expect_ok "steer off" tf steer "$other" --off || return 1
	no_pins "after the deleted tap" || return 1
}

# Pins removed by hand while tracing runs: the links go with their pins,
# so tracing is off; status says so and the next start works.
test_trace_pins_removed_behind_back() {
	local tap
	tap=$(uniq_name tp)
	tf create "$tap" >/dev/null || return 1
	tf trace start "$tap" >/dev/null || return 1
	on_exit "$TAPFLOW trace stop --all"
	rm -rf /sys/fs/bpf/tapflow/trace || return 1
	expect_eq "$(tf trace status --json | jq -c '[.running, (.taps | length)]')" "[false,0]" \
		"status" || return 1
	expect_ok "trace start again" tf trace start "$tap" || return 1
	expect_eq "$(tf trace status --json | jq -c '[.taps[].tap]')" "[\"$tap\"]" "traced again" || return 1
	expect_ok "stop" tf trace stop --all || return 1
	no_pins "stop" trace || return 1
}

# Fast path pins removed by hand: the program stays on the device (XDP
# holds it); the next on must not leave two states or a stray program.
test_fastpath_pins_removed_behind_back() {
	local tap out
	tap=$(uniq_name tp)
	tf create "$tap" >/dev/null || return 1
	tf fastpath on "$tap" >/dev/null || return 1
	rm -rf /sys/fs/bpf/tapflow/fastpath || return 1
	out=$(tf fastpath on "$tap" 2>&1) || { fail "fastpath on after the pins went: $out"; return 1; }
	xdp_on "$tap" || { fail "no XDP program after on: $out"; return 1; }
	out=$(tf fastpath off "$tap" 2>&1) || { fail "off: $out"; return 1; }
	no_xdp "off" && no_pins "off" fastpath || return 1
	# and off alone takes out a program whose pins are gone
	tf fastpath on "$tap" >/dev/null || return 1
	rm -rf /sys/fs/bpf/tapflow/fastpath || return 1
	out=$(tf fastpath off "$tap" 2>&1) || { fail "off without pins: $out"; return 1; }
	no_xdp "off without pins" || return 1
}

# ---- without privilege ------------------------------------------------------------

# nobody, without capabilities, runs the tapflow copy in $NSDIR/bin.
as_nobody() {
	nsrun setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
		"$NSDIR/bin/tapflow" "$@"
}
nobody_bin() {
	getent passwd nobody >/dev/null || return 77
	mkdir -p "$NSDIR/bin" && chmod 0755 "$NSDIR" "$NSDIR/bin" &&
		install -m 0755 "$TAPFLOW" "$NSDIR/bin/tapflow"
}

# Issue #12 item 8: the tap's owner may detach a steering program, but
# cannot remove its pins: steer --off as that user must change nothing and
# fail naming the capability, not exit 0 with show still saying l3.
test_unprivileged_steer_off_changes_nothing() {
	local tap rc
	nobody_bin || { skip "no user nobody"; return; }
	tap=$(uniq_name ts)
	tf create "$tap" --queues 4 --owner nobody >/dev/null || return 1
	expect_ok "steer as root" tf steer "$tap" --mode l3 || return 1
	expect_fail "steer --off as nobody" "removing steering needs CAP_NET_ADMIN" \
		as_nobody steer "$tap" --off || return 1
	as_nobody steer "$tap" --off >/dev/null 2>&1; rc=$?
	expect_eq "$rc" 1 "exit" || return 1
	expect_eq "$(steer_mode "$tap")" l3 "mode after nobody's --off" || return 1
	expect_fail "steer as nobody" "steering needs CAP_NET_ADMIN" \
		as_nobody steer "$tap" --mode l4 || return 1
	expect_eq "$(steer_mode "$tap")" l3 "mode after nobody's steer" || return 1
	expect_ok "steer --off as root" tf steer "$tap" --off || return 1
	no_pins "off" steer || return 1
}

# Permission failures name what is missing, not a file under /sys/fs/bpf.
test_unprivileged_readers_name_the_capability() {
	local tap out
	nobody_bin || { skip "no user nobody"; return; }
	tap=$(uniq_name ts)
	tf create "$tap" >/dev/null || return 1
	expect_ok "trace start" tf trace start "$tap" || return 1
	on_exit "$TAPFLOW trace stop --all"
	for cmd in "trace status" "stats $tap"; do
		# shellcheck disable=SC2086
		out=$(as_nobody $cmd 2>&1 >/dev/null)
		echo "$out" | grep -q "needs CAP_" || { fail "$cmd as nobody: $out"; return 1; }
		echo "$out" | grep -q "/sys/fs/bpf" && { fail "$cmd as nobody names a file: $out"; return 1; }
	done
	expect_ok "trace stop" tf trace stop --all || return 1
}

# Issue #12 item 10: steering says plainly that one queue has nothing to steer.
test_single_queue_tap_not_steered() {
	local tap
	tap=$(uniq_name ts)
	tf create "$tap" >/dev/null || return 1
	expect_fail "steer a single-queue tap" "$tap is a single-queue tap: there is nothing to steer" \
		tf steer "$tap" --mode l3 || return 1
}

# ---- kill -9 at many points ----------------------------------------------------------

test_kill_create() {
	local tap pt out
	tap=$(uniq_name tk)
	for pt in $(kill_points "$ROUNDS" create "$tap" --queues 4 --mtu 9000; tf delete "$tap" >/dev/null 2>&1); do
		kill_at "$pt" create "$tap" --queues 4 --mtu 9000
		# Killed before TUNSETPERSIST the tap is gone; after it, it is whole.
		case "$(taps)" in
		"") ;;
		"$tap") tf show "$tap" --json | jq -e '.tapflow and .queues.configured == 4' >/dev/null ||
			{ fail "killed at $pt: $tap left half-made: $(tf show "$tap" --json | jq -c .)"; return 1; } ;;
		*) fail "killed at $pt: taps $(taps)"; return 1 ;;
		esac
		out=$(tf create "$tap" --queues 4 --mtu 9000 2>&1) ||
			{ fail "killed at $pt: the next create failed: $out"; return 1; }
		expect_ok "killed at $pt: delete" tf delete "$tap" || return 1
	done
	expect_eq "$(taps)" "" "taps at the end" || return 1
}

# A traced tap with the fast path on: what delete's hooks must take apart.
busy_tap() {
	[ "$(taps)" = "$1" ] || tf create "$1" --queues 2 >/dev/null || return 1
	tf fastpath on "$1" >/dev/null 2>&1 || return 1
	tf trace start "$1" >/dev/null 2>&1 || return 1
}

test_kill_delete() {
	local tap pt out rc
	tap=$(uniq_name tk)
	busy_tap "$tap" || { fail "setup"; return 1; }
	for pt in $(kill_points "$ROUNDS" delete "$tap"); do
		busy_tap "$tap" || { fail "setup before $pt"; return 1; }
		kill_at "$pt" delete "$tap"
		out=$(tf delete "$tap" 2>&1); rc=$?
		[ "$rc" = 0 ] || [ -z "$(taps)" ] ||
			{ fail "killed at $pt: the next delete failed: $out"; return 1; }
		expect_eq "$(taps)" "" "killed at $pt: taps" || return 1
		out=$(tf trace status --json | jq -c '[.taps[] | select(.gone | not)]')
		expect_eq "$out" "[]" "killed at $pt: traced taps after delete" || return 1
		expect_ok "killed at $pt: trace stop" tf trace stop --all || return 1
		no_pins "killed at $pt" || return 1
	done
}

# Issue #12 item 4: a kill during trace start of several taps must not
# leave pins that status does not own up to.
test_kill_trace_start() {
	local a b c pt out n
	a=$(uniq_name ta); b=$(uniq_name tb); c=$(uniq_name tc)
	for t in "$a" "$b" "$c"; do tf create "$t" --queues 2 >/dev/null || return 1; done
	# a sweep, and every pin (the window issue #12 found: pins, 0 taps)
	for pt in $(kill_points "$ROUNDS" trace start "$a" "$b" "$c"; tf trace stop --all >/dev/null 2>&1
		    kill_points_at BPF_OBJ_PIN "$ROUNDS" trace start "$a" "$b" "$c"; tf trace stop --all >/dev/null 2>&1); do
		kill_at "$pt" trace start "$a" "$b" "$c"
		# Status owns up to whatever is pinned: a session with every tap
		# asked for, or a half-started one the next command clears.
		out=$(tf trace status --json 2>&1)
		if [ -n "$(find /sys/fs/bpf/tapflow/trace -mindepth 1 2>/dev/null)" ]; then
			n=$(echo "$out" | jq -r 'if .running then (.taps | length) else "off" end' 2>/dev/null)
			case "$n" in
			3) ;;
			"") echo "$out" | grep -q "half-started" ||
				{ fail "killed at $pt: trace status: $out"; return 1; } ;;
			*) fail "killed at $pt: trace status says $n taps, but pinned: $(echo $(pins trace))"
			   return 1 ;;
			esac
		fi
		out=$(tf trace start "$a" "$b" "$c" 2>&1) ||
			{ fail "killed at $pt: the next trace start failed: $out"; return 1; }
		expect_eq "$(tf trace status --json | jq -c '[.taps[].tap] | sort')" \
			"$(printf '["%s","%s","%s"]' $(printf '%s\n' "$a" "$b" "$c" | sort))" \
			"killed at $pt: traced after the next start" || return 1
		expect_ok "killed at $pt: trace stop" tf trace stop --all || return 1
		no_pins "killed at $pt" trace || return 1
	done
}

test_kill_trace_stop() {
	local a b pt out
	a=$(uniq_name ta); b=$(uniq_name tb)
	for t in "$a" "$b"; do tf create "$t" >/dev/null || return 1; done
	tf trace start "$a" "$b" >/dev/null || return 1
	for pt in $(kill_points "$ROUNDS" trace stop --all); do
		tf trace start "$a" "$b" >/dev/null 2>&1 || { fail "setup before $pt"; return 1; }
		kill_at "$pt" trace stop --all
		out=$(tf trace stop --all 2>&1) ||
			{ fail "killed at $pt: the next trace stop failed: $out"; return 1; }
		no_pins "killed at $pt" trace || return 1
		expect_ok "killed at $pt: start again" tf trace start "$a" || return 1
		expect_ok "killed at $pt: stop again" tf trace stop --all || return 1
	done
}

# xdp_on TAP: is an XDP program attached to TAP?
xdp_on() { ip -n "$NS" -d link show "$1" | grep -qE "prog/xdp|xdp"; }

# Issue #12 item 3: after a kill during fastpath on, the next on must leave
# the program attached, and never say "already on" without one.
test_kill_fastpath_on() {
	local tap pt out
	tap=$(uniq_name tk)
	tf create "$tap" >/dev/null || return 1
	# a sweep, and the netlink calls that attach XDP, after the port record
	for pt in $(kill_points "$ROUNDS" fastpath on "$tap"; tf fastpath off "$tap" >/dev/null 2>&1
		    kill_points_at RTM_SETLINK "$ROUNDS" fastpath on "$tap"; tf fastpath off "$tap" >/dev/null 2>&1); do
		kill_at "$pt" fastpath on "$tap"
		out=$(tf fastpath on "$tap" 2>&1) ||
			{ fail "killed at $pt: the next fastpath on failed: $out"; return 1; }
		xdp_on "$tap" || { fail "killed at $pt: '$out' but no XDP program on $tap"; return 1; }
		out=$(tf fastpath off "$tap" 2>&1) ||
			{ fail "killed at $pt: fastpath off failed: $out"; return 1; }
		no_xdp "killed at $pt" || return 1
		no_pins "killed at $pt" fastpath || return 1
	done
}

test_kill_fastpath_off() {
	local tap pt out
	tap=$(uniq_name tk)
	tf create "$tap" >/dev/null || return 1
	tf fastpath on "$tap" >/dev/null || return 1
	for pt in $(kill_points "$ROUNDS" fastpath off "$tap"); do
		tf fastpath on "$tap" >/dev/null 2>&1 || { fail "setup before $pt"; return 1; }
		kill_at "$pt" fastpath off "$tap"
		out=$(tf fastpath off "$tap" 2>&1) || echo "$out" | grep -q "is not a fast path port" ||
			{ fail "killed at $pt: the next fastpath off failed: $out"; return 1; }
		no_xdp "killed at $pt" || return 1
		no_pins "killed at $pt" fastpath || return 1
		out=$(tf fastpath on "$tap" 2>&1) && xdp_on "$tap" ||
			{ fail "killed at $pt: on again: $out"; return 1; }
		tf fastpath off "$tap" >/dev/null || return 1
	done
}

test_kill_uplink() {
	local tap pt out
	tap=$(uniq_name tk)
	tf create "$tap" >/dev/null || return 1
	ip -n "$NS" link add tfup0 type veth peer name tfup1 || return 1
	ip -n "$NS" link set tfup0 up && ip -n "$NS" link set tfup1 up
	tf fastpath on "$tap" >/dev/null || return 1
	for op in add del; do
		for pt in $(kill_points "$ROUNDS" uplink "$op" tfup0; tf uplink del tfup0 >/dev/null 2>&1); do
			[ "$op" = del ] && { tf uplink add tfup0 >/dev/null 2>&1 || { fail "setup"; return 1; }; }
			kill_at "$pt" uplink "$op" tfup0
			if [ "$op" = add ]; then
				out=$(tf uplink add tfup0 2>&1) ||
					{ fail "killed at $pt: the next uplink add failed: $out"; return 1; }
				xdp_on tfup0 || { fail "killed at $pt: no XDP on the uplink"; return 1; }
			fi
			out=$(tf uplink del tfup0 2>&1) || echo "$out" | grep -q "is not a fast path uplink" ||
				{ fail "killed at $pt: uplink del failed: $out"; return 1; }
			xdp_on tfup0 && { fail "killed at $pt ($op): XDP left on the uplink"; return 1; }
		done
	done
	expect_ok "fastpath off" tf fastpath off "$tap" || return 1
	no_xdp "uplink" || return 1
	no_pins "uplink" fastpath || return 1
}

steer_mode() { tf show "$1" --json | jq -r '.attached.steering.mode // "none"'; }

test_kill_steer() {
	local tap pt out
	tap=$(uniq_name tk)
	tf create "$tap" --queues 4 >/dev/null || return 1
	for pt in $(kill_points "$ROUNDS" steer "$tap" --mode l4; tf steer "$tap" --off >/dev/null 2>&1); do
		kill_at "$pt" steer "$tap" --mode l4
		out=$(tf steer "$tap" --mode l4 2>&1) ||
			{ fail "killed at $pt: the next steer failed: $out"; return 1; }
		expect_eq "$(steer_mode "$tap")" l4 "killed at $pt: mode" || return 1
		out=$(tf steer "$tap" --off 2>&1) || { fail "killed at $pt: --off: $out"; return 1; }
		expect_eq "$(steer_mode "$tap")" none "killed at $pt: mode after --off" || return 1
		no_pins "killed at $pt" steer || return 1
	done
	for pt in $(tf steer "$tap" --mode l3 >/dev/null; kill_points "$ROUNDS" steer "$tap" --off); do
		tf steer "$tap" --mode l3 >/dev/null 2>&1 || { fail "setup before $pt"; return 1; }
		kill_at "$pt" steer "$tap" --off
		out=$(tf steer "$tap" --off 2>&1) || { fail "killed at $pt: the next --off: $out"; return 1; }
		expect_eq "$(steer_mode "$tap")" none "killed at $pt (--off): mode" || return 1
		no_pins "killed at $pt (--off)" steer || return 1
	done
}

# The textfile is replaced atomically: whatever the point of the kill, the
# file is the last whole one (or absent), and no temporary file is left.
test_kill_export_textfile() {
	local tap pt d f left
	tap=$(uniq_name tk)
	tf create "$tap" >/dev/null || return 1
	tf trace start "$tap" >/dev/null || return 1
	on_exit "$TAPFLOW trace stop --all"
	d=$NSDIR/textfile; mkdir -p "$d"; f=$d/tapflow.prom
	for pt in $(kill_points "$((ROUNDS * 2))" export --textfile "$f" --once; rm -f "$f"); do
		[ $((RANDOM % 2)) = 0 ] && tf export --textfile "$f" --once >/dev/null 2>&1
		kill_at "$pt" export --textfile "$f" --once
		if [ -e "$f" ]; then
			grep -q "^tapflow_traced_taps " "$f" && tail -c1 "$f" | od -An -c | grep -q '\\n' ||
				{ fail "killed at $pt: $f is not whole: $(tail -c 80 "$f")"; return 1; }
			if command -v promtool >/dev/null; then
				promtool check metrics < "$f" >/dev/null 2>&1 ||
					{ fail "killed at $pt: promtool rejects $f"; return 1; }
			fi
		fi
		# A killed writer's temporary is removed by the next write.
		tf export --textfile "$f" --once >/dev/null 2>&1 ||
			{ fail "killed at $pt: the next write failed"; return 1; }
		left=$(find "$d" -mindepth 1 ! -name tapflow.prom)
		[ -z "$left" ] || { fail "killed at $pt: left in the directory: $left"; return 1; }
	done
	tf trace stop --all >/dev/null
}

# ---- races of pairs of commands on one tap ------------------------------------------

RACE_CMDS=("create @ --queues 4" "delete @ --force" "trace start @" "trace stop @"
	   "fastpath on @" "fastpath off @" "steer @ --mode l3" "steer @ --off")

# After a race: whatever each command did, the state is one tapflow owns
# up to (show's fast path flag is a real program; status is not a
# half-started one), and the cleanup commands leave nothing behind.
race_settle() {
	local tap=$1 what=$2 j
	if [ "$(taps)" = "$tap" ]; then
		j=$(tf show "$tap" --json) || { fail "$what: show failed"; return 1; }
		if [ "$(echo "$j" | jq -r '.attached.fastpath // empty | type')" = object ] ||
		   [ "$(echo "$j" | jq -r '.attached.fastpath.on // empty')" = true ]; then
			xdp_on "$tap" || { fail "$what: show says fast path, no XDP program"; return 1; }
		fi
	fi
	tf trace status >/dev/null 2>"$NSDIR/st.err" ||
		{ fail "$what: trace status: $(cat "$NSDIR/st.err")"; return 1; }
	tf trace stop --all >/dev/null 2>&1
	if [ "$(taps)" = "$tap" ]; then
		tf fastpath off "$tap" >/dev/null 2>&1
		tf steer "$tap" --off >/dev/null 2>&1
	else
		tf create "$tap" --queues 4 >/dev/null || { fail "$what: create again"; return 1; }
	fi
	no_xdp "$what" && no_pins "$what" || return 1
}

test_races_of_pairs() {
	local tap i j r a b rca rcb
	tap=$(uniq_name tq)
	tf create "$tap" --queues 4 >/dev/null || return 1
	for ((r = 0; r < (ROUNDS + 2) / 3; r++)); do
		for ((i = 0; i < ${#RACE_CMDS[@]}; i++)); do
			for ((j = i; j < ${#RACE_CMDS[@]}; j++)); do
				a=${RACE_CMDS[$i]//@/$tap}; b=${RACE_CMDS[$j]//@/$tap}
				# shellcheck disable=SC2086
				{ tf $a >/dev/null 2>"$NSDIR/a.err"; echo $? > "$NSDIR/a.rc"; } &
				# shellcheck disable=SC2086
				{ tf $b >/dev/null 2>"$NSDIR/b.err"; echo $? > "$NSDIR/b.rc"; } &
				wait
				rca=$(cat "$NSDIR/a.rc"); rcb=$(cat "$NSDIR/b.rc")
				# 0 done, 1 failed, 2 bad input (e.g. the tap went), 3 BPF refused
				[ "$rca" -le 3 ] && [ "$rcb" -le 3 ] ||
					{ fail "'$a' | '$b': exits $rca, $rcb: $(cat "$NSDIR/a.err" "$NSDIR/b.err")"; return 1; }
				race_settle "$tap" "'$a' | '$b'" || return 1
			done
		done
	done
}

# ---- the kernel's lists ---------------------------------------------------------------

# BPF programs, maps and links that no process holds (so: pinned, or
# attached to something), one "KIND ID NAME" a line.
bpf_unheld() {
	local k
	for k in prog map link; do
		bpftool "$k" show -j 2>/dev/null |
			jq -r --arg k "$k" '.[] | select((.pids // []) | length == 0) | "\($k) \(.id) \(.name // "")"'
	done | sort
}

# bpffs instances other than ours (other test runs, each with its own).
other_bpffs() {
	local own
	own=$(stat -c '%Hd:%Ld' /sys/fs/bpf 2>/dev/null)
	cat /proc/[0-9]*/mountinfo 2>/dev/null | awk '/ - bpf / {print $3}' | sort -u | grep -vxF "$own"
}

BPF_BEFORE=$(bpf_unheld)

# Last: every case above cleaned up, so no BPF object that the suite made
# may be left in the kernel (by bpftool's lists, compared with the start).
test_no_bpf_objects_leaked() {
	local left i
	command -v bpftool >/dev/null || { skip "no bpftool"; return; }
	if [ -z "${TF_FAULTS_BPFTOOL_ANYWAY:-}" ] && [ -n "$(other_bpffs)" ]; then
		skip "another test run has a bpffs of its own on this machine: the kernel-wide lists cannot tell its objects from ours"
		return
	fi
	# the kernel frees objects after an RCU grace period and a work item
	for ((i = 0; i < 40; i++)); do
		left=$(comm -13 <(echo "$BPF_BEFORE") <(bpf_unheld) | grep .)
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	fail "BPF objects left by the suite: $(echo $left)"
}

run_tests
