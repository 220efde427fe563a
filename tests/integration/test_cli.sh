#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The command line as scripts meet it: the help's shape (generated from the
# command table), one exit-code rule for every command (2 bad input, 1 a
# failure or a missing capability named, 3 the kernel refusing BPF, each
# with one line of error), inputs the kernel would refuse refused first,
# and the bash completion script sourced into a real bash and asked, as
# bash asks it, through COMP_WORDS.

. "$(dirname "$0")/../lib.sh"

# rc_of CMD...: the exit status of CMD, its stderr in $ERR
rc_of() {
	local f=$NSDIR/err
	"$@" >/dev/null 2>"$f"
	local rc=$?
	ERR=$(cat "$f")
	return $rc
}

# expect_rc WANT WHAT PATTERN CMD...: CMD exits WANT with one stderr line matching PATTERN
expect_rc() {
	local want=$1 what=$2 pat=$3 rc; shift 3
	rc_of "$@"; rc=$?
	expect_eq "$rc" "$want" "$what: exit status ($ERR)" || return 1
	[ "$(printf '%s\n' "$ERR" | grep -c .)" = 1 ] || { fail "$what: not one line: $ERR"; return 1; }
	printf '%s' "$ERR" | grep -qE -- "$pat" || { fail "$what: '$ERR' does not match /$pat/"; return 1; }
}

# ---- help, from the table --------------------------------------------------------

test_help_shape() {
	local out cmds c
	out=$("$TAPFLOW" --help) || { fail "--help failed"; return 1; }
	cmds=$(echo "$out" | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/^Commands:/ {print $1}')
	for c in create delete list show trace stats top hist export fastpath uplink fdb steer \
		xsk-fwd version completion; do
		echo "$cmds" | grep -qx -- "$c" || { fail "tapflow --help does not list $c: $cmds"; return 1; }
	done
	# Every command's --help exits 0; a group's lists its subcommands' options too.
	for c in $cmds; do
		"$TAPFLOW" "$c" --help >/dev/null || { fail "tapflow $c --help failed"; return 1; }
	done
	out=$("$TAPFLOW" fastpath --help)
	for o in --json --all --ethertype --ipproto --udp-dport --tcp-dport; do
		echo "$out" | grep -q -- "$o" || { fail "fastpath --help lacks $o"; return 1; }
	done
	out=$("$TAPFLOW" trace --help)
	for o in --backend --all --json; do
		echo "$out" | grep -q -- "$o" || { fail "trace --help lacks $o"; return 1; }
	done
	expect_ok "fastpath rule --help" "$TAPFLOW" fastpath rule --help || return 1
	rc_of "$TAPFLOW" trace; expect_eq $? 2 "trace without a subcommand exits 2" || return 1
	expect_rc 2 "unknown subcommand" "unknown subcommand 'drop' \(add, del, list\)" \
		"$TAPFLOW" fastpath rule drop x || return 1
}

# ---- #12 item 9: inputs the kernel would refuse, refused first ---------------

test_txqueuelen_kernel_limit() {
	local t
	t=$(uniq_name tq)
	# ptr_ring refuses rings above KMALLOC_MAX_SIZE / 8 = 524288 entries.
	expect_rc 2 "txqueuelen 524289" "^tapflow create: --txqueuelen: 524289 is out of range \(1 to 524288\)$" \
		tf create "$t" --txqueuelen 524289 || return 1
	[ -e "/run/netns/$NS" ] && nsx test -e "/sys/class/net/$t" && { fail "$t was made"; return 1; }
	# 524288 is tun's bound; a kernel with a lower one of its own (Debian's
	# 6.1: 32767) refuses it, and that is bad input too, with nothing left.
	rc_of tf create "$t" --queues 2 --txqueuelen 524288
	case $? in
	0) expect_eq "$(nsx cat /sys/class/net/$t/tx_queue_len)" 524288 "tx_queue_len" || return 1 ;;
	2) printf '%s' "$ERR" | grep -q "txqueuelen 524288 is more than this kernel accepts" ||
		{ fail "524288 refused with: $ERR"; return 1; }
	   [ "$(printf '%s\n' "$ERR" | grep -c .)" = 1 ] || { fail "not one line: $ERR"; return 1; }
	   [ -z "$(ip -n "$NS" -o link show type tun)" ] || { fail "a refused create left a tap"; return 1; }
	   expect_ok "txqueuelen 16384" tf create "$t" --txqueuelen 16384 || return 1 ;;
	*) fail "txqueuelen 524288: $ERR"; return 1 ;;
	esac
}

test_name_template_refused() {
	expect_rc 2 "a % name" "^tapflow create: interface name 'tap%d' holds '%'" tf create 'tap%d' || return 1
	[ -z "$(ip -n "$NS" -o link show type tun)" ] || { fail "a tap was made"; return 1; }
}

test_option_twice_refused() {
	expect_rc 2 "--queues twice" "^tapflow create: --queues is given twice" \
		tf create tq0 --queues 2 --queues 4 || return 1
	expect_rc 2 "-q and --queues" "--queues is given twice" tf create tq0 -q 2 --queues 2 || return 1
	[ -z "$(ip -n "$NS" -o link show type tun)" ] || { fail "a tap was made"; return 1; }
}

test_name_twice_refused() {
	expect_rc 2 "trace start t t" "^tapflow trace start: NAME: 'tq0' is named twice" \
		tf trace start tq0 tq0 || return 1
	expect_rc 2 "trace stop t t" "'tq0' is named twice" tf trace stop tq0 tq0 || return 1
}

test_textfile_must_be_prom() {
	expect_rc 2 "x.txt" "^tapflow export: --textfile: 'x.txt' does not end in NAME.prom" \
		tf export --once --textfile x.txt || return 1
	expect_rc 2 "empty" "^tapflow export: --textfile: empty path" tf export --once --textfile '' || return 1
	expect_rc 2 "a directory" "^tapflow export: --textfile: '$NSDIR/' names a directory" \
		tf export --once --textfile "$NSDIR/" || return 1
	expect_rc 2 "just .prom" "does not end in NAME.prom" tf export --once --textfile "$NSDIR/.prom" || return 1
	expect_ok "a .prom file" tf export --once --textfile "$NSDIR/t.prom" || return 1
	[ -s "$NSDIR/t.prom" ] || { fail "t.prom was not written"; return 1; }
}

test_prefix_is_the_option() {
	local t out
	t=$(uniq_name ts)
	tf create "$t" --queues 2 >/dev/null || { fail "create"; return 1; }
	# --rul abbreviates --rule: it must take effect, not be accepted and dropped.
	expect_ok "steer with --rul" tf steer "$t" --mode fixed \
		--rul tcp:10.0.0.1:1:10.0.0.2:2=1 --rul udp:10.0.0.1:1:10.0.0.2:2=0 || return 1
	on_exit "tf steer $t --off"
	out=$(tf show "$t" --json | jq -r '.attached.steering.rules')
	expect_eq "$out" 2 "rules installed through --rul" || return 1
	expect_rc 2 "an ambiguous prefix" "ambiguous option '--m' \(--multi-queue, --mtu, --mac\)" \
		tf create tq0 --m 1500 || return 1
}

# ---- exit codes: one rule through cli_fail() ----------------------------------------

test_exit_3_kernel_refuses_fentry() {
	local t rc
	t=$(uniq_name tf)
	tf create "$t" >/dev/null || { fail "create"; return 1; }
	rc_of tf trace start --backend fentry "$t"; rc=$?
	if [ "$rc" = 0 ]; then
		tf trace stop "$t" >/dev/null
		skip "fentry loads on this kernel (nothing refused)"
		return 77
	fi
	expect_eq "$rc" 3 "trace start --backend fentry refused by the kernel ($ERR)" || return 1
	printf '%s' "$ERR" | grep -q "fentry backend cannot run here: the kernel refused" ||
		{ fail "message: $ERR"; return 1; }
	[ -e /sys/fs/bpf/tapflow/trace ] && { fail "a refused start left pins"; return 1; }
	return 0
}

test_exit_3_native_xdp_refused() {
	nsx ip link add tfbr0 type bridge && nsx ip link set tfbr0 up || return 1
	# A bridge has no native XDP: the kernel refuses the mode.
	expect_rc 3 "uplink --native-only on a bridge" "in native mode: Operation not supported" \
		tf uplink add tfbr0 --native-only || return 1
}

test_exit_1_names_missing_capability() {
	local t
	t=$(uniq_name tc)
	tf create "$t" --queues 2 >/dev/null || { fail "create"; return 1; }
	# Root without CAP_BPF and CAP_SYS_ADMIN: the load would fail with EPERM,
	# which is a missing capability, not the kernel refusing the program.
	expect_rc 1 "steer without CAP_BPF" "^tapflow steer: steering needs CAP_BPF" \
		nsrun setpriv --bounding-set=-bpf,-sys_admin --inh-caps=-bpf,-sys_admin \
		"$TAPFLOW" steer "$t" --mode l3 || return 1
	expect_rc 1 "trace start without CAP_BPF" "needs CAP_BPF" \
		nsrun setpriv --bounding-set=-bpf,-sys_admin --inh-caps=-bpf,-sys_admin \
		"$TAPFLOW" trace start "$t" || return 1
	# create --fastpath rolls the tap back and keeps the fast path's error and its kind.
	expect_rc 1 "create --fastpath without CAP_BPF" \
		"^tapflow create: tq1: fast path: .*needs CAP_BPF.*\(tap not created\)$" \
		nsrun setpriv --bounding-set=-bpf,-sys_admin --inh-caps=-bpf,-sys_admin \
		"$TAPFLOW" create tq1 --fastpath || return 1
	nsx test -e /sys/class/net/tq1 && { fail "the rollback left tq1"; return 1; }
	expect_rc 2 "steer on a missing tap" "no device named" tf steer nosuchtap0 --mode l3 || return 1
}

# ---- bash completion ------------------------------------------------------------------

# complete_words LINE: what the generated script offers for LINE (the word
# being completed is the last one; a trailing space starts a new, empty one),
# asked in a bash inside the namespace, whose /sys shows the namespace's devices.
complete_words() {
	nsx bash -c '
		source "$1" || exit 1
		read -r -a COMP_WORDS <<< "$2"
		[[ $2 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_tapflow
		printf "%s\n" "${COMPREPLY[@]}"
	' _ "$NSDIR/tapflow.bash" "$1"
}

test_completion_bash() {
	local t out
	t=$(uniq_name tk)
	"$TAPFLOW" completion bash > "$NSDIR/tapflow.bash" || { fail "completion bash failed"; return 1; }
	bash -n "$NSDIR/tapflow.bash" || { fail "the script does not parse"; return 1; }
	tf create "$t" >/dev/null || { fail "create"; return 1; }
	nsx ip link add tfve0 type veth peer name tfve1 || return 1
	expect_eq "$(complete_words "tapflow cre")" create "a command" || return 1
	expect_eq "$(complete_words "tapflow fastpath rule " | tr '\n' ' ')" "add del list " \
		"second-level subcommands" || return 1
	expect_eq "$(complete_words "tapflow create --txq")" --txqueuelen "an option" || return 1
	expect_eq "$(complete_words "tapflow trace start --backend k")" kprobe "an option's value" || return 1
	# A tap's name where a command takes one: only tun/tap devices, not the veth.
	expect_eq "$(complete_words "tapflow show ")" "$t" "a tap name" || return 1
	expect_eq "$(complete_words "tapflow trace start $t ")" "$t" "NAME... goes on" || return 1
	out=$(complete_words "tapflow uplink add tfv" | tr '\n' ' ')
	expect_eq "$out" "tfve0 tfve1 " "any device for an uplink" || return 1
	expect_eq "$(complete_words "tapflow create --queues ")" "" "no names for a number" || return 1
}

run_tests
