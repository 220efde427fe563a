# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Shared shell support for tapflow's integration tests. A test script sources
# this file, defines functions named test_*, and ends with `run_tests`, which
# runs them in the order the script defines them. Each test runs in a
# subshell with a fresh network namespace ($NS) that is deleted on exit, also
# on failure; how the test ends decides its line:
#   returns 0 → PASS; `skip REASON` or `need WHAT...` (which end the test on
#   the spot) → SKIP; anything else → FAIL with the last message given to
#   `fail` (or an expect_* helper).
#
# Run tapflow inside the namespace with `tf ...` (nsenter: keeps the host's
# mounts, so bpffs pins are shared), and tools that read sysfs with `nsx ...`
# (ip netns exec: remounts /sys for the namespace).

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAPFLOW=${TAPFLOW:-$TOP/build/tapflow}
TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}
SUITE=${SUITE:-$(basename "$0" .sh)}
NS=""
NSDIR=""
_TF_REASON=""
_TF_CLEANUPS=()

fail() { _TF_REASON="$*"; echo "    $*" >&2; return 1; }
# skip REASON: the test ends here, as SKIP. It exits the test's subshell, so
# it must not be called inside $(...) or a pipeline, where it would end only
# that inner shell.
skip() { _TF_REASON="$*"; exit 77; }

# skip_rung RUNG REASON: a forced tracing or capture rung the kernel refused.
# A SKIP where the kernel may lack it (this host has no fentry, no kprobes);
# a FAIL where the lane requires it (TF_RUNGS_REQUIRED, set in the VM lane:
# its 6.1 kernel has all three), so that a program the verifier refuses
# cannot pass as a skip there. Exits the test's subshell either way.
skip_rung() {
	local r=$1; shift
	if [[ " ${TF_RUNGS_REQUIRED:-} " == *" $r "* ]]; then
		fail "the $r rung is required in this lane, and: $*"
		exit 1
	fi
	skip "$@"
}

# rung_refused RUNG TEXT: TEXT (what tapflow said when asked for the forced
# RUNG) says this kernel cannot run that rung: the test ends (skip_rung).
# Returns otherwise.
rung_refused() {
	[[ $2 == *"cannot run here"* ]] && skip_rung "$1" "$2"
	return 0
}

# need WHAT...: skip the test unless each WHAT is here: a path (one with a
# slash) must be an executable, built by `make all`; a name, a command on
# PATH, installed by scripts/setup.sh. The reason names the first missing.
need() {
	local w
	for w in "$@"; do
		case $w in
		*/*) [ -x "$w" ] || skip "${w##*/} is not built (make all)" ;;
		*) command -v "$w" >/dev/null || skip "$w not installed (scripts/setup.sh installs it)" ;;
		esac
	done
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] && return 0
	fail "$3: $1 != $2"
}
# expect_count FILE DISPLAY-FILTER N WHAT: tshark finds N packets of FILE
# that match. In the VM lane's guest, which has no tshark, the check is
# left for the host ($TF_VM_OUT, tests/vm/init): FILE is carried out with
# it and the host prints the check's own result line
# (tests/vm/host-checks.sh); elsewhere without tshark the test is skipped.
expect_count() {
	local f=$1 filter=$2 n=$3 what=$4 got dest
	if command -v tshark >/dev/null; then
		got=$(tshark -r "$f" -Y "$filter" -T fields -e frame.number 2>/dev/null | grep -c .)
		expect_eq "$got" "$n" "$what"
		return
	fi
	[ -n "${TF_VM_OUT:-}" ] || skip "tshark not installed (scripts/setup.sh installs it)"
	dest=$SUITE-$_TF_TEST-${f##*/}
	[ -e "$TF_VM_OUT/$dest" ] || cp "$f" "$TF_VM_OUT/$dest" || { fail "cannot keep $f for the host"; return 1; }
	printf '%s\t%s\t%s\t%s\n' "$dest" "$filter" "$n" "$SUITE/$_TF_TEST/${what//[$'\t\n']/ }" \
		>> "$TF_VM_OUT/checks"
}
# expect_ok WHAT CMD... : CMD must succeed
expect_ok() {
	local what=$1; shift
	local out
	if ! out=$("$@" 2>&1); then
		fail "$what: '$*' failed: $(echo "$out" | tail -1)"
		return 1
	fi
}
# expect_fail WHAT PATTERN CMD... : CMD must fail, with one stderr line matching PATTERN
expect_fail() {
	local what=$1 pat=$2; shift 2
	local out rc
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ "$rc" = 0 ]; then
		fail "$what: '$*' succeeded"
		return 1
	fi
	if [ "$(printf '%s\n' "$out" | grep -c .)" != 1 ]; then
		fail "$what: expected one line of error, got: $out"
		return 1
	fi
	if ! printf '%s' "$out" | grep -qE -- "$pat"; then
		fail "$what: error '$out' does not match /$pat/"
		return 1
	fi
}

# Register a command to run when the current test ends (LIFO).
on_exit() { _TF_CLEANUPS+=("$*"); }

# expect_unloaded IDS: no BPF object of IDS ("prog N" / "map N" lines; 0 and
# empty ids are ignored) is loaded any more. The kernel frees them after an
# RCU grace period and a work item, so they get up to 5 s together (they go
# at once; it was 2 s each, one after another). Each round lists what is
# loaded once (bpftool prog show, map show), not each id apart: in the VM
# lane every bpftool costs ~150 ms, and a capture has ~15 ids.
expect_unloaded() {
	local kind id line t0=${EPOCHREALTIME/./}
	local -a left
	local -A want=()
	while read -r kind id; do
		[ -n "$id" ] && [ "$id" != 0 ] && want["$kind $id"]=1
	done <<< "$1"
	[ ${#want[@]} = 0 ] && return 0
	while :; do
		left=()
		for kind in prog map; do
			while read -r line; do
				[[ $line =~ ^([0-9]+): ]] && [ -n "${want["$kind ${BASH_REMATCH[1]}"]:-}" ] &&
					left+=("$kind ${BASH_REMATCH[1]}: ${line#*: }")
			done < <(bpftool "$kind" show 2>/dev/null)
		done
		[ ${#left[@]} = 0 ] && return 0
		(( ${EPOCHREALTIME/./} - t0 < 5000000 )) || break
		sleep 0.05
	done
	fail "${left[0]%%:*} is still loaded: ${left[0]#*: }"
	return 1
}

tf()  { nsenter --net="/run/netns/$NS" -- "$TAPFLOW" "$@"; }
nsx() { ip netns exec "$NS" "$@"; }
nsrun() { nsenter --net="/run/netns/$NS" -- "$@"; }

# trace_on [--backend RUNG] NAME...: start tracing NAME... on RUNG (default:
# the suite's $BACKEND, else auto), each stopped when the test ends. A forced
# rung this kernel refuses ends the test (rung_refused); any other failure
# fails it.
trace_on() {
	local rung=${BACKEND:-auto} out n
	if [ "${1:-}" = --backend ]; then rung=$2; shift 2; fi
	if ! out=$(tf trace start --backend "$rung" "$@" 2>&1); then
		[ "$rung" = auto ] || rung_refused "$rung" "$out"
		fail "trace start $*: $out"
		return 1
	fi
	for n in "$@"; do on_exit "tf trace stop $n"; done
}

# One tracing session kept up across a suite's tests: loading and attaching
# a rung's programs costs 2-4 s under the VM lane's emulated CPU, adding a
# tap to a running session almost nothing. anchor_on RUNG traces a tap of the
# suite's own (ANCHOR), in a namespace of its own, that carries no traffic
# (so it adds no program run to what a test counts); each test still starts
# and stops tracing its own taps, as an operator would beside other traced
# taps. It is a no-op if RUNG's session is up already; another rung's is
# ended first; `none` (or a rung this kernel refuses: its tests then say so
# themselves) leaves none. Tests that must be the only session (the pins go
# with the last stop, a refused load leaves nothing) run after anchor_end.
ANCHOR_NS="" ANCHOR_RUNG=""
anchor_on() {
	[ "$ANCHOR_RUNG" = "$1" ] && return 0
	anchor_end
	ANCHOR_RUNG=$1
	[ "$1" != none ] && [ "$(id -u)" = 0 ] && [ -z "$(ls /sys/fs/bpf/tapflow/trace 2>/dev/null)" ] ||
		return 0
	ANCHOR_NS=$(uniq_name tfn) ANCHOR=$(uniq_name ka)
	trap anchor_end EXIT
	ip netns add "$ANCHOR_NS" &&
		nsenter --net="/run/netns/$ANCHOR_NS" -- "$TAPFLOW" create "$ANCHOR" >/dev/null &&
		nsenter --net="/run/netns/$ANCHOR_NS" -- "$TAPFLOW" trace start --backend "$1" \
			"$ANCHOR" >/dev/null 2>&1 || anchor_end
}
anchor_end() {
	[ -n "$ANCHOR_NS" ] || return 0
	nsenter --net="/run/netns/$ANCHOR_NS" -- "$TAPFLOW" trace stop "$ANCHOR" >/dev/null 2>&1
	ip -n "$ANCHOR_NS" link del "$ANCHOR" 2>/dev/null
	ip netns del "$ANCHOR_NS" 2>/dev/null
	ANCHOR_NS=""
}

# A name unique to this run for a tap, bridge or namespace (<= 15 bytes).
uniq_name() { printf '%s%x%x' "${1:-t}" $$ $((RANDOM % 4096)); }

# Every process costs: in the VM lane (software-emulated CPU) a fork+exec is
# 20-100 ms, so the per-test setup and teardown below use bash builtins
# where they can and start as few programs as they may.
_tf_ns_new() {
	NSDIR=$_TF_SUITE_DIR/${1#test_}	# scratch files of this test
	mkdir "$NSDIR" || return 1
	NS=$(uniq_name tfn)
	ip netns add "$NS" || return 1
	ip -n "$NS" link set lo up
	# No IPv6 autoconf chatter: tests count packets exactly. (nsenter, not
	# ip netns exec: /proc/sys/net follows the network namespace only.)
	nsenter --net="/run/netns/$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

_tf_teardown() {
	local i line dev devs=()
	for ((i = ${#_TF_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${_TF_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	_TF_CLEANUPS=()
	# Backends (tf-load) hold the namespace; stop them before deleting it.
	i=$(jobs -p)
	[ -n "$i" ] && kill $i 2>/dev/null
	wait 2>/dev/null
	if [ -n "$NS" ]; then
		# "2: NAME: <...>" or "2: NAME@LINK: <...>"
		while read -r _ line _; do
			dev=${line%:}
			devs+=("link del ${dev%@*}")
		done < <(ip -n "$NS" -o link show type tun 2>/dev/null)
		[ ${#devs[@]} = 0 ] || printf '%s\n' "${devs[@]}" | ip -n "$NS" -force -batch - 2>/dev/null
		ip netns del "$NS" 2>/dev/null
	fi
}

# The test_* functions in the order the suite defines them: `declare -F`
# alone lists them sorted by name. extdebug makes `declare -F NAME` print
# "NAME LINE FILE".
_tf_tests_in_order() {
	local fn
	shopt -s extdebug
	for fn in $(compgen -A function test_); do
		declare -F "$fn"
	done | sort -k3,3 -k2,2n | awk '{print $1}'
	shopt -u extdebug
}

# TF_TEST_ORDER: a suite may list its tests in the order they must run (the
# ones it defines with eval, e.g. one per rung, have no line of their own).
run_tests() {
	local fn rc reason t0 t order
	# One scratch directory per suite run: each test's NSDIR and the file
	# its subshell leaves its reason in are made in it; removed at the end.
	_TF_SUITE_DIR=$(mktemp -d /tmp/tapflow-test.XXXXXX) || return 1
	reason=$_TF_SUITE_DIR/.reason
	if [ -n "${TF_TEST_ORDER+x}" ]; then
		order="${TF_TEST_ORDER[*]}"
	else
		order=$(_tf_tests_in_order)
	fi
	for fn in $order; do
		if [ -n "${TF_TEST_FILTER:-}" ] && ! [[ "$fn" =~ $TF_TEST_FILTER ]]; then
			continue
		fi
		: > "$reason"
		# A suite may act between tests (suite_before_test NAME, in
		# this shell: e.g. end state it shares across its tests).
		declare -F suite_before_test >/dev/null && suite_before_test "$fn"
		t0=${EPOCHREALTIME/./}
		(
			# However the test ends (return, skip's exit), its reason
			# is left for the line below, then its namespace goes.
			trap 'echo "$_TF_REASON" > "$reason"; _tf_teardown' EXIT
			_TF_TEST=${fn#test_}
			_tf_ns_new "$fn" || { _TF_REASON="could not create a network namespace"; exit 1; }
			"$fn"
		)
		rc=$?
		r=""
		read -r r < "$reason"
		case $rc in
		0) echo "PASS $SUITE/${fn#test_}" ;;
		77) echo "SKIP $SUITE/${fn#test_}: $r" ;;
		*) echo "FAIL $SUITE/${fn#test_}: ${r:-exited $rc}" ;;
		esac
		# TF_TEST_TIMES=1 (the VM lane sets it): each test's wall time,
		# namespace setup and teardown included, to see where time goes.
		if [ "${TF_TEST_TIMES:-0}" = 1 ]; then
			t=$(( (${EPOCHREALTIME/./} - t0) / 10000 ))
			printf -- '--   %s: %d.%02d s\n' "${fn#test_}" $((t / 100)) $((t % 100))
		fi
	done
	rm -rf "$_TF_SUITE_DIR"
}
