# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Shared shell support for tapflow's integration tests. A test script sources
# this file, defines functions named test_*, and ends with `run_tests`. Each
# test runs in a subshell with a fresh network namespace ($NS) that is deleted
# on exit, also on failure; the test's return code decides its line:
#   0 → PASS, 77 → SKIP (reason given to `skip`), anything else → FAIL with
#   the last message given to `fail` (or an expect_* helper).
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
skip() { _TF_REASON="$*"; return 77; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] && return 0
	fail "$3: $1 != $2"
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

tf()  { nsenter --net="/run/netns/$NS" -- "$TAPFLOW" "$@"; }
nsx() { ip netns exec "$NS" "$@"; }
nsrun() { nsenter --net="/run/netns/$NS" -- "$@"; }

# A name unique to this run for a tap, bridge or namespace (<= 15 bytes).
uniq_name() { printf '%s%x%x' "${1:-t}" $$ $((RANDOM % 4096)); }

_tf_ns_new() {
	NSDIR=$(mktemp -d /tmp/tapflow-test.XXXXXX)	# scratch files of this test
	NS=$(uniq_name tfn)
	ip netns add "$NS" || return 1
	ip -n "$NS" link set lo up
	# No IPv6 autoconf chatter: tests count packets exactly.
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

_tf_teardown() {
	local i
	for ((i = ${#_TF_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${_TF_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	_TF_CLEANUPS=()
	# Backends (tf-load) hold the namespace; stop them before deleting it.
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	if [ -n "$NS" ]; then
		local dev
		for dev in $(ip -n "$NS" -o link show type tun 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
			ip -n "$NS" link del "$dev" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
	[ -n "${NSDIR:-}" ] && rm -rf "$NSDIR"
}

run_tests() {
	local fn rc reason
	for fn in $(declare -F | awk '{print $3}' | grep '^test_'); do
		if [ -n "${TF_TEST_FILTER:-}" ] && ! [[ "$fn" =~ $TF_TEST_FILTER ]]; then
			continue
		fi
		reason=$(mktemp)
		(
			trap '_tf_teardown' EXIT
			_tf_ns_new || { echo "could not create a network namespace" > "$reason"; exit 1; }
			"$fn"
			rc=$?
			echo "$_TF_REASON" > "$reason"
			exit $rc
		)
		rc=$?
		case $rc in
		0) echo "PASS $SUITE/${fn#test_}" ;;
		77) echo "SKIP $SUITE/${fn#test_}: $(cat "$reason")" ;;
		*) r=$(head -1 "$reason"); echo "FAIL $SUITE/${fn#test_}: ${r:-exited $rc}" ;;
		esac
		rm -f "$reason"
	done
}
