#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The tap lifecycle against the real kernel: tapflow create/delete/list/show
# in a fresh network namespace per test, checked with tools that do not share
# tapflow's code (ip -d link, /sys/class/net through `ip netns exec`, jq) and
# with tests/tf-queues, which attaches queues exactly as a VM backend does.
# Bad input must fail in one line and leave the namespace as it found it.

. "$(dirname "$0")/../lib.sh"

TFQUEUES=${TFQUEUES:-$TOP/build/tests/tf-queues}
MAC=02:5a:11:22:33:44

# Names of the namespace's links, one a line, in ifindex order (one ip and
# builtins: in the VM lane each program started costs tens of ms, and the
# bad-input tests call this twice each).
links() {
	local _ n
	while read -r _ n _; do
		n=${n%:}
		echo "${n%@*}"
	done < <(ip -n "$NS" -o link show)
}

# Wait until FILE has at least N lines (a tf-queues phase), up to 10 s.
wait_lines() {
	local file=$1 n=$2 i
	for ((i = 0; i < 1000; i++)); do
		[ "$(grep -c . "$file" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.01
	done
	fail "tf-queues printed no phase $n: $(cat "$file")"
}

# tf-queues in $NS. Started with & it must be the job's own process, so that
# $! is the pid SIGUSR1 moves on: nsenter (no --pid) execs, a function would fork.
backend() {
	exec nsenter --net="/run/netns/$NS" -- "$TFQUEUES" "$@"
}

# bad_create PATTERN ARGS...: create must fail in one line matching PATTERN,
# with a non-zero exit, and leave the namespace's links unchanged.
bad_create() {
	local pat=$1; shift
	local before after
	before=$(links)
	expect_fail "create $*" "^tapflow create: .*$pat" tf create "$@" || return 1
	after=$(links)
	expect_eq "$after" "$before" "links after a failed create" || return 1
}

# ---- create ------------------------------------------------------------------

test_create_four_queues() {
	local tap d
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 4 --owner nobody --group nogroup \
		--mtu 9000 --mac $MAC --txqueuelen 1000 || return 1
	d=$(nsx ip -d link show "$tap") || return 1
	for want in "tun type tap" "pi off" "vnet_hdr off" "multi_queue" "persist on" \
		"mtu 9000" "qlen 1000" "link/ether $MAC" "user nobody" "group nogroup" \
		"<.*UP.*>" "alias tapflow:v1 queues=4 "; do
		echo "$d" | grep -qE -- "$want" || { fail "ip -d link lacks '$want': $d"; return 1; }
	done
	# IFF_TAP|IFF_NO_PI|IFF_MULTI_QUEUE|IFF_PERSIST
	expect_eq "$(nsx cat /sys/class/net/$tap/tun_flags)" 0x1902 "tun_flags" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/owner)" "$(id -u nobody)" "owner" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/group)" "$(getent group nogroup | cut -d: -f3)" \
		"group" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/mtu)" 9000 "mtu" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/tx_queue_len)" 1000 "tx_queue_len" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/address)" $MAC "address" || return 1
	expect_eq "$(( $(nsx cat /sys/class/net/$tap/flags) & 1 ))" 1 "IFF_UP" || return 1
}

test_create_defaults() {
	local tap
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/mtu)" 1500 "mtu" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/tx_queue_len)" 500 "tx_queue_len" || return 1
	# Owned by root when neither --owner nor --group is given (issue #12).
	expect_eq "$(nsx cat /sys/class/net/$tap/owner)" 0 "owner" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/group)" -1 "group" || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/ifalias)" \
		"tapflow:v1 queues=1 owner=0 group=-1 mtu=1500 txqlen=500 vnet_hdr=0" "ifalias" || return 1
	# One queue: a single-queue tap, no IFF_MULTI_QUEUE (0x100).
	expect_eq "$(( $(nsx cat /sys/class/net/$tap/tun_flags) & 0x100 ))" 0 "IFF_MULTI_QUEUE" || return 1
}

# The queue layout a request asks for: multiqueue with N > 1 or --multi-queue.
test_create_multi_queue_flag() {
	local a b c
	a=$(uniq_name ta); b=$(uniq_name tb); c=$(uniq_name tc)
	expect_ok "create 1 --multi-queue" tf create "$a" --multi-queue || return 1
	expect_ok "create 2" tf create "$b" --queues 2 || return 1
	expect_ok "create 1" tf create "$c" --queues 1 || return 1
	expect_eq "$(( $(nsx cat /sys/class/net/$a/tun_flags) & 0x100 ))" 256 "$a multiqueue" || return 1
	expect_eq "$(( $(nsx cat /sys/class/net/$b/tun_flags) & 0x100 ))" 256 "$b multiqueue" || return 1
	expect_eq "$(( $(nsx cat /sys/class/net/$c/tun_flags) & 0x100 ))" 0 "$c single" || return 1
	expect_ok "again --multi-queue" tf create "$a" --multi-queue || return 1
	expect_fail "single vs multi" "$a exists with multi-queue=on, not off" tf create "$a" || return 1
	expect_fail "multi vs single" "$c exists with multi-queue=off, not on" \
		tf create "$c" --multi-queue || return 1
	# A single-queue tap takes exactly one backend queue.
	expect_ok "open the one queue" nsrun "$TFQUEUES" "$c" 1 || return 1
}

# nobody, without capabilities, runs the tf-queues copy in DIR as a backend.
as_nobody() {
	local d=$1; shift
	nsrun setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$d/tf-queues" "$@"
}

# Issue #12 item 1: a tap made without --owner/--group is not open to every
# local user (tun checks nothing when neither is set; /dev/net/tun is 0666).
test_default_owner_keeps_others_out() {
	local d a b c
	getent passwd nobody >/dev/null || { skip "no user nobody"; return; }
	# what tun decides needs a /dev/net/tun others may open (0666, as udev
	# and devtmpfs make it; the VM lane's guest may not)
	[ "$(stat -c %a /dev/net/tun)" = 666 ] ||
		{ skip "/dev/net/tun is mode $(stat -c %a /dev/net/tun) here: only root opens it at all"; return; }
	d=$(mktemp -d) || return 1
	on_exit "rm -rf $d"
	chmod 0755 "$d"
	install -m 0755 "$TFQUEUES" "$d/tf-queues" || return 1
	a=$(uniq_name ta); b=$(uniq_name tb); c=$(uniq_name tc)
	expect_ok "create default" tf create "$a" --queues 2 || return 1
	expect_ok "create --owner" tf create "$b" --queues 2 --owner nobody || return 1
	expect_ok "create --group" tf create "$c" --queues 2 --group nogroup || return 1
	as_nobody "$d" "$a" 2 >/dev/null 2>&1 && { fail "nobody opened $a (no --owner)"; return 1; }
	expect_ok "root opens $a" nsrun "$TFQUEUES" "$a" 2 || return 1
	expect_ok "nobody opens its own $b" as_nobody "$d" "$b" 2 || return 1
	# --group alone is not narrowed by a default owner beside it.
	expect_eq "$(nsx cat /sys/class/net/$c/owner)" -1 "owner beside --group" || return 1
	expect_ok "nogroup opens $c" as_nobody "$d" "$c" 2 || return 1
}

# A tap an older tapflow made (no owner, multiqueue with one queue) is still
# tapflow's: create with the defaults accepts it and says how to re-make it.
test_create_recognises_older_unowned_tap() {
	local tap out
	tap=$(uniq_name tp)
	nsx ip tuntap add dev "$tap" mode tap multi_queue || return 1
	nsx ip link set "$tap" txqueuelen 500 || return 1
	nsx ip link set "$tap" alias "tapflow:v1 queues=1 owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0" || return 1
	out=$(tf create "$tap" 2>&1) || { fail "create on the older tap failed: $out"; return 1; }
	echo "$out" | grep -q "already exists with these parameters; nothing changed" ||
		{ fail "not recognised: $out"; return 1; }
	echo "$out" | grep -q "warning: $tap was made by an older tapflow without an owner.*tapflow delete $tap && tapflow create $tap" ||
		{ fail "no re-own hint: $out"; return 1; }
	expect_fail "an explicit owner still differs" "owner=none, not 65534" \
		tf create "$tap" --owner nobody || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/owner)" -1 "owner untouched" || return 1
}

# Issue #12 item 7: two creates of one name with the same parameters both
# succeed, however their steps interleave.
test_create_parallel_same_name() {
	local tap r a b out
	for r in 1 2 3 4 5 6 7 8; do
		tap=$(uniq_name tr)
		tf create "$tap" --queues 4 >"$NSDIR/a" 2>&1 & a=$!
		tf create "$tap" --queues 4 >"$NSDIR/b" 2>&1 & b=$!
		wait $a || { fail "round $r: first racer: $(cat "$NSDIR/a")"; return 1; }
		wait $b || { fail "round $r: second racer: $(cat "$NSDIR/b")"; return 1; }
		expect_eq "$(cat "$NSDIR/a" "$NSDIR/b" | grep -c "^created $tap")" 1 "round $r: creators" || return 1
		# (a builtin match, not jq: in the VM lane each jq costs ~250 ms)
		out=$(tf show "$tap" --json) || { fail "round $r: show"; return 1; }
		[[ $out =~ \"queues\":\{\"configured\":([0-9]+) ]] || { fail "round $r: no queues in $out"; return 1; }
		expect_eq "${BASH_REMATCH[1]}" 4 "round $r: queues" || return 1
	done
}

# Issue #12 item 10: qemu's plainest tap line opens a default tapflow tap.
test_qemu_opens_default_tap() {
	local tap pidf pid i found=""
	command -v qemu-system-x86_64 >/dev/null || { skip "no qemu-system-x86_64 (scripts/setup.sh --vm)"; return; }
	tap=$(uniq_name vm)
	pidf=$NSDIR/qemu.pid
	expect_ok "create" tf create "$tap" || return 1
	on_exit "[ -s $pidf ] && kill \$(cat $pidf)"
	# The README's line as written, on a machine that stays paused (-S).
	nsrun qemu-system-x86_64 -S -display none -monitor none -serial none -nodefaults \
		-netdev "tap,id=net0,ifname=$tap,script=no,downscript=no" -device virtio-net-pci,netdev=net0 \
		-daemonize -pidfile "$pidf" >"$NSDIR/qemu.out" 2>&1 ||
		{ fail "qemu refused the tap: $(tail -1 "$NSDIR/qemu.out")"; return 1; }
	pid=$(cat "$pidf")
	for i in /proc/"$pid"/fdinfo/*; do
		grep -q "^iff:[[:space:]]*$tap\$" "$i" 2>/dev/null && found=1
	done
	[ -n "$found" ] || { fail "qemu $pid holds no fd on $tap"; return 1; }
	expect_eq "$(tf show "$tap" --json | jq .queues.attached)" 1 "attached" || return 1
	expect_fail "busy single-queue tap" "'$tap' has 1 queue attached by a backend" \
		tf delete "$tap" || return 1
}

test_create_vnet_hdr() {
	local tap
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 2 --vnet-hdr || return 1
	nsx ip -d link show "$tap" | grep -q "vnet_hdr on" || { fail "vnet_hdr not on"; return 1; }
	expect_eq "$(( $(nsx cat /sys/class/net/$tap/tun_flags) & 0x4000 ))" $((0x4000)) \
		"IFF_VNET_HDR" || return 1
	expect_eq "$(tf show "$tap" --json | jq -r .flags.vnet_hdr)" true "show vnet_hdr" || return 1
}

test_create_prints_what_it_did() {
	local tap out
	tap=$(uniq_name tp)
	out=$(tf create "$tap" --queues 3) || { fail "create failed"; return 1; }
	expect_eq "$out" "created $tap: 3 queues, mtu 1500, txqueuelen 500" "stdout" || return 1
}

# libvirt_run TAP QUEUES OUT: in a mount namespace of its own (so that its
# /run/libvirt and state are this test's, not the machine's), inside $NS,
# start virtlogd and libvirtd, create a domain whose only device is
# <interface type='ethernet'><target dev='TAP' managed='no'/> (with
# <driver queues=...> when QUEUES > 1), check that its qemu holds QUEUES
# fds on the tap, destroy it and stop both daemons by pid.
libvirt_run() {
	local tap=$1 nq=$2 out=$3
	nsrun unshare -m --propagation private bash -s "$tap" "$nq" "$out" <<'EOF'
tap=$1 nq=$2 out=$3
for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
	mkdir -p "$d" && mount -t tmpfs -o mode=0755 tmpfs "$d" || exit 10
done
mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu /run/libvirt/qemu
chown libvirt-qemu: /var/lib/libvirt/qemu /var/cache/libvirt/qemu 2>/dev/null
virtlogd -d -p /run/libvirt/virtlogd.pid || exit 11
libvirtd -d -p /run/libvirt/libvirtd.pid || { kill "$(cat /run/libvirt/virtlogd.pid)"; exit 12; }
for ((i = 0; i < 100; i++)); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.1; done
drv=""
[ "$nq" -gt 1 ] && drv="<driver name='qemu' queues='$nq'/>"
cat > /run/libvirt/dom.xml <<X
<domain type='qemu'>
  <name>tf$tap</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <interface type='ethernet'><target dev='$tap' managed='no'/><model type='virtio'/>$drv</interface>
  </devices>
</domain>
X
rc=0
virsh -q -c qemu:///system create /run/libvirt/dom.xml > "$out" 2>&1 || rc=1
if [ "$rc" = 0 ]; then
	pid=$(cat "/run/libvirt/qemu/tf$tap.pid")
	n=$(grep -l "^iff:[[:space:]]*$tap\$" /proc/"$pid"/fdinfo/* 2>/dev/null | wc -l)
	echo "qemu $pid holds $n fd(s) on $tap" >> "$out"
	[ "$n" = "$nq" ] || rc=2
	virsh -q -c qemu:///system destroy "tf$tap" >/dev/null 2>&1
fi
kill "$(cat /run/libvirt/libvirtd.pid)" "$(cat /run/libvirt/virtlogd.pid)" 2>/dev/null
exit $rc
EOF
}

# Issue #12 item 10: libvirt's plainest <interface> opens a default tap;
# a 2-queue tap opens with <driver queues='2'/>, as the README says.
test_libvirt_opens_default_tap() {
	local a b
	command -v libvirtd >/dev/null && command -v virsh >/dev/null && command -v virtlogd >/dev/null ||
		{ skip "no libvirt (scripts/setup.sh --vm installs it)"; return; }
	a=$(uniq_name vm); b=$(uniq_name vq)
	expect_ok "create" tf create "$a" || return 1
	expect_ok "create 2 queues" tf create "$b" --queues 2 || return 1
	libvirt_run "$a" 1 "$NSDIR/lv.out" ||
		{ fail "libvirt on the default tap: $(tail -2 "$NSDIR/lv.out")"; return 1; }
	libvirt_run "$b" 2 "$NSDIR/lv.out" ||
		{ fail "libvirt with queues='2': $(tail -2 "$NSDIR/lv.out")"; return 1; }
}

# ---- queues, as a backend attaches them ---------------------------------------

test_attach_all_queues() {
	local tap out pid j
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 4 || return 1
	out=$(mktemp)
	on_exit "rm -f $out"
	backend "$tap" 4 --detach 2 --hold-ms 10000 > "$out" &
	pid=$!

	wait_lines "$out" 1 || return 1
	j=$(tf show "$tap" --json) || { fail "show failed"; return 1; }
	expect_eq "$(echo "$j" | jq -c .queues)" '{"configured":4,"attached":4,"disabled":0}' \
		"queues with all 4 open" || return 1
	expect_eq "$(tf list --json | jq -r ".[] | select(.name == \"$tap\") | .queues.attached")" 4 \
		"list attached" || return 1
	kill -USR1 $pid

	wait_lines "$out" 2 || return 1
	expect_eq "$(tf show "$tap" --json | jq -c .queues)" \
		'{"configured":4,"attached":2,"disabled":2}' "queues after detaching 2" || return 1
	nsx ip -d link show "$tap" | grep -q "numqueues 2 numdisabled 2" ||
		{ fail "ip -d link does not show 2 attached, 2 disabled"; return 1; }
	kill -USR1 $pid

	wait_lines "$out" 3 || return 1
	expect_eq "$(tf show "$tap" --json | jq -c .queues)" \
		'{"configured":4,"attached":4,"disabled":0}' "queues after re-attach" || return 1
	kill -USR1 $pid
	wait $pid || { fail "tf-queues failed: $(cat "$out")"; return 1; }
	expect_eq "$(jq -s -c 'map(.attached)' "$out")" "[4,2,4]" "tf-queues phases" || return 1

	# The backend is gone: the tap stays, with nothing attached.
	expect_eq "$(tf show "$tap" --json | jq -c .queues)" \
		'{"configured":4,"attached":0,"disabled":0}' "queues after the backend left" || return 1
}

test_attach_256_queues() {
	local tap out
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 256 || return 1
	out=$(nsrun "$TFQUEUES" "$tap" 256 --detach 128) || { fail "tf-queues: $out"; return 1; }
	expect_eq "$(echo "$out" | jq -s -c 'map(.attached)')" "[256,128,256]" "phases" || return 1
}

# ---- idempotency ------------------------------------------------------------

test_create_again_same() {
	local tap idx out
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 2 --mtu 1400 --mac $MAC --owner nobody || return 1
	idx=$(nsx cat /sys/class/net/$tap/ifindex)
	out=$(tf create "$tap" --queues 2 --mtu 1400 --mac $MAC --owner nobody 2>&1) ||
		{ fail "second create failed: $out"; return 1; }
	expect_eq "$out" "$tap already exists with these parameters; nothing changed" "stdout" || return 1
	# An unspecified MAC is not compared.
	expect_ok "create without --mac" tf create "$tap" --queues 2 --mtu 1400 --owner 65534 || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/ifindex)" "$idx" "ifindex (same device)" || return 1
}

test_create_again_different() {
	local tap
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 2 --mtu 9000 || return 1
	expect_fail "queues differ" "$tap exists with queues=2, not 4" tf create "$tap" --queues 4 --mtu 9000 || return 1
	# Unspecified options resolve to defaults and are compared too.
	expect_fail "defaults" "queues=2, not 1; mtu=9000, not 1500" tf create "$tap" || return 1
	expect_fail "owner" "owner=0, not 65534" tf create "$tap" --queues 2 --mtu 9000 --owner nobody || return 1
	expect_fail "mac" "mac=.*, not $MAC" tf create "$tap" --queues 2 --mtu 9000 --mac $MAC || return 1
	expect_fail "vnet-hdr" "vnet-hdr=off, not on" tf create "$tap" --queues 2 --mtu 9000 --vnet-hdr || return 1
	expect_eq "$(nsx cat /sys/class/net/$tap/mtu)" 9000 "mtu untouched" || return 1
	expect_eq "$(tf show "$tap" --json | jq .queues.configured)" 2 "queues untouched" || return 1
}

test_create_over_foreign_tap() {
	local tap
	tap=$(uniq_name tp)
	nsx ip tuntap add dev "$tap" mode tap multi_queue || return 1
	expect_fail "foreign" "'$tap' exists and was not created by tapflow" tf create "$tap" || return 1
}

test_create_over_tun() {
	local tap
	tap=$(uniq_name tp)
	nsx ip tuntap add dev "$tap" mode tun || return 1
	expect_fail "tun" "tun \(layer 3\) device, not a tap" tf create "$tap" || return 1
}

# ---- delete -----------------------------------------------------------------

test_delete() {
	local tap out
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 4 || return 1
	out=$(tf delete "$tap") || { fail "delete failed"; return 1; }
	expect_eq "$out" "deleted $tap" "stdout" || return 1
	! ip -n "$NS" link show "$tap" >/dev/null 2>&1 || { fail "$tap still exists"; return 1; }
}

test_delete_foreign_needs_force() {
	local tap
	tap=$(uniq_name tp)
	nsx ip tuntap add dev "$tap" mode tap || return 1
	expect_fail "foreign" "'$tap' was not created by tapflow; use --force" tf delete "$tap" || return 1
	ip -n "$NS" link show "$tap" >/dev/null || { fail "refused delete removed $tap"; return 1; }
	expect_ok "delete --force" tf delete --force "$tap" || return 1
	! ip -n "$NS" link show "$tap" >/dev/null 2>&1 || { fail "$tap still exists"; return 1; }
}

test_delete_busy_needs_force() {
	local tap out pid
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 3 || return 1
	out=$(mktemp)
	on_exit "rm -f $out"
	backend "$tap" 3 --hold-ms 10000 > "$out" &
	pid=$!
	wait_lines "$out" 1 || return 1
	expect_fail "busy" "'$tap' has 3 queues attached by a backend" tf delete "$tap" || return 1
	ip -n "$NS" link show "$tap" >/dev/null || { fail "refused delete removed $tap"; return 1; }
	expect_ok "delete -f" tf delete -f "$tap" || return 1
	! ip -n "$NS" link show "$tap" >/dev/null 2>&1 || { fail "$tap still exists"; return 1; }
	kill -USR1 $pid
	wait $pid
}

test_delete_not_a_tap() {
	local before
	nsx ip link add tfve0 type veth peer name tfve1 || return 1
	before=$(links)
	expect_fail "veth" "'tfve0' is a veth device, not a tap" tf delete tfve0 || return 1
	expect_fail "veth --force" "'tfve0' is a veth device, not a tap" tf delete --force tfve0 || return 1
	expect_fail "lo --force" "'lo' is a loopback device, not a tap" tf delete --force lo || return 1
	expect_eq "$(links)" "$before" "links" || return 1
}

test_delete_missing() {
	expect_fail "missing" "no device named 'nothere0'" tf delete nothere0 || return 1
}

# ---- list and show ----------------------------------------------------------

test_list_json() {
	local a b f j r
	a=$(uniq_name ta); b=$(uniq_name tb); f=$(uniq_name tf)
	expect_ok "create a" tf create "$a" --queues 2 || return 1
	expect_ok "create b" tf create "$b" --queues 8 || return 1
	nsx ip tuntap add dev "$f" mode tap || return 1
	nsx ip link add tfve0 type veth peer name tfve1 || return 1
	j=$(tf list --json) || { fail "list failed"; return 1; }
	# One jq for every field (each costs ~250 ms in the VM lane); it fails
	# on anything that is not JSON.
	mapfile -t r < <(jq -r --arg a "$a" --arg b "$b" --arg f "$f" '
		length,
		(.[] | select(.name == $b) | [.mode, .multi_queue, .queues.configured, .tapflow] | @csv),
		(.[] | select(.name == $f) | [.multi_queue, .queues.configured, .tapflow] | @csv),
		(.[] | select(.name == $a) | .ifindex)' <<< "$j" 2>/dev/null; echo "rc=$?")
	expect_eq "${r[-1]}" rc=0 "jq on list --json (not JSON?): $j" || return 1
	expect_eq "${r[0]}" 3 "tun/tap devices listed (no veth, no lo)" || return 1
	expect_eq "${r[1]}" '"tap",true,8,true' "tapflow tap row" || return 1
	expect_eq "${r[2]}" 'false,,false' "foreign tap row" || return 1
	expect_eq "${r[3]}" "$(nsx cat /sys/class/net/$a/ifindex)" "ifindex" || return 1
	expect_eq "${#r[@]}" 5 "rows of $a, $b, $f: once each" || return 1
	tf list | grep -qE "^$b +[0-9]+ tap +yes 8 +0/0 +yes" || { fail "list text: $(tf list)"; return 1; }
}

test_list_empty() {
	expect_eq "$(tf list --json)" "[]" "empty list" || return 1
}

test_show_json() {
	local tap j r
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 4 --owner nobody --group nogroup --mtu 1400 \
		--mac $MAC --txqueuelen 700 || return 1
	j=$(tf show "$tap" --json) || { fail "show failed"; return 1; }
	# One jq, one line per field (each jq costs ~250 ms in the VM lane).
	# Nothing is attached here, but other modules keep host-wide state (bpffs
	# pins) that a concurrent session may own: .attached must be an object,
	# not {}.
	mapfile -t r < <(jq -r '(.flags | tojson), (.owner | tojson), .group.name,
		([.mtu, .mac, .txqueuelen, .tapflow, .up] | @csv), (.queues | tojson),
		(.stats | keys | join(",")), (.attached | type), .ifindex' <<< "$j" 2>/dev/null; echo "rc=$?")
	expect_eq "${#r[@]}" 9 "fields of show --json (and jq's rc): ${r[*]}" || return 1
	expect_eq "${r[8]}" rc=0 "jq on show --json" || return 1
	expect_eq "${r[0]}" \
		'{"tap":true,"tun":false,"multi_queue":true,"vnet_hdr":false,"persist":true,"no_pi":true}' \
		"flags" || return 1
	expect_eq "${r[1]}" "{\"id\":$(id -u nobody),\"name\":\"nobody\"}" "owner" || return 1
	expect_eq "${r[2]}" nogroup "group" || return 1
	expect_eq "${r[3]}" "1400,\"$MAC\",700,true,true" "mtu, mac, txqueuelen, tapflow, up" || return 1
	expect_eq "${r[4]}" '{"configured":4,"attached":0,"disabled":0}' "queues" || return 1
	expect_eq "${r[5]}" \
		"rx_bytes,rx_dropped,rx_errors,rx_packets,scope,tx_bytes,tx_dropped,tx_errors,tx_packets" \
		"stats keys" || return 1
	expect_eq "${r[6]}" object "attached" || return 1
	expect_eq "${r[7]}" "$(nsx cat /sys/class/net/$tap/ifindex)" "ifindex" || return 1
}

test_show_counters_follow_kernel() {
	local tap j
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 2 || return 1
	# What the kernel counts, through tapflow, equals what sysfs says.
	j=$(tf show "$tap" --json) || return 1
	# one jq and one cat for the six (each program costs in the VM lane)
	local cs=(rx_packets tx_packets rx_bytes tx_bytes rx_dropped tx_dropped) got want i
	read -r -a got <<< "$(jq -r '[.stats | .rx_packets, .tx_packets, .rx_bytes, .tx_bytes,
		.rx_dropped, .tx_dropped] | map(tostring) | join(" ")' <<< "$j")"
	read -r -a want <<< "$(nsx cat "${cs[@]/#//sys/class/net/$tap/statistics/}" | tr '\n' ' ')"
	expect_eq "${#want[@]}" 6 "counters in sysfs" || return 1
	for i in 0 1 2 3 4 5; do
		expect_eq "${got[i]:-}" "${want[i]}" "${cs[i]}" || return 1
	done
}

test_show_text() {
	local tap out
	tap=$(uniq_name tp)
	expect_ok "create" tf create "$tap" --queues 2 --owner nobody || return 1
	out=$(tf show "$tap") || { fail "show failed"; return 1; }
	for want in "^$tap: ifindex [0-9]+, tap, up, created by tapflow" \
		"flags: +tap multi_queue persist no_pi" "owner: +nobody \(" "group: +none" \
		"queues: +2 configured, 0 attached, 0 disabled" "per-queue counts come from .tapflow trace." \
		"^  attached:" "^  attached:\$"; do
		echo "$out" | grep -qE -- "$want" || { fail "show lacks /$want/: $out"; return 1; }
	done
	# "attached:" is followed by "nothing" or by one line per module.
	echo "$out" | grep -A1 "^  attached:" | tail -1 | grep -qE "^    (nothing|[a-z_]+: )" ||
		{ fail "no line under attached: $out"; return 1; }
}

test_show_foreign_and_missing() {
	local tap
	tap=$(uniq_name tp)
	nsx ip tuntap add dev "$tap" mode tap || return 1
	expect_eq "$(tf show "$tap" --json | jq -c '[.tapflow, .queues.configured, .flags.multi_queue]')" \
		"[false,null,false]" "foreign tap" || return 1
	expect_fail "missing" "no device named 'nothere0'" tf show nothere0 || return 1
	expect_fail "not a tap" "'lo' is a loopback device, not a tun/tap" tf show lo || return 1
}

# ---- bad input: one line, non-zero, nothing left behind ------------------------

test_bad_name_empty()     { bad_create "interface name is empty" ""; }
test_bad_name_too_long()  { bad_create "is 16 bytes; the limit is 15" abcdefghijklmnop; }
test_bad_name_slash()     { bad_create "holds '/'" a/b; }
test_bad_name_colon()     { bad_create "holds ':'" a:b; }
test_bad_name_space()     { bad_create "holds 'whitespace'" "a b"; }
test_bad_name_tab()       { bad_create "holds 'whitespace'" "$(printf 'a\tb')"; }
test_bad_queues_zero()    { bad_create "--queues: 0 is out of range \(1 to 256\)" tq0 --queues 0; }
test_bad_queues_257()     { bad_create "--queues: 257 is out of range" tq0 --queues 257; }
test_bad_queues_word()    { bad_create "--queues: 'four' is not a number" tq0 --queues four; }
test_bad_queues_negative() { bad_create "--queues: '-1' is not a number" tq0 --queues -1; }
test_bad_user()           { bad_create "unknown user 'nosuchuser0'" tq0 --owner nosuchuser0; }
test_bad_group()          { bad_create "unknown group 'nosuchgroup0'" tq0 --group nosuchgroup0; }
test_bad_mtu_low()        { bad_create "--mtu: 67 is out of range \(68 to 65535\)" tq0 --mtu 67; }
test_bad_mtu_high()       { bad_create "--mtu: 65536 is out of range" tq0 --mtu 65536; }
test_bad_mac_malformed()  { bad_create "MAC address '02:00:00:00:00' is malformed" tq0 --mac 02:00:00:00:00; }
test_bad_mac_multicast()  { bad_create "is multicast" tq0 --mac 01:00:5e:00:00:01; }
test_bad_option()         { bad_create "unknown or ambiguous option '--colour'" tq0 --colour red; }
test_bad_extra_arg()      { bad_create "unexpected argument 'tq1'" tq0 tq1; }

test_bad_name_taken_by_veth() {
	nsx ip link add tfve0 type veth peer name tfve1 || return 1
	bad_create "'tfve0' is taken by a veth device, not a tap" tfve0 --queues 4 || return 1
}

test_bad_name_taken_by_bridge() {
	nsx ip link add tfbr0 type bridge || return 1
	bad_create "'tfbr0' is taken by a bridge device, not a tap" tfbr0 || return 1
}

test_bad_name_taken_by_lo() {
	bad_create "'lo' is taken by a loopback device, not a tap" lo || return 1
}

test_bad_no_cap_net_admin() {
	local d tap before
	getent passwd nobody >/dev/null || skip "no user nobody"
	# nobody must be able to reach the binary: copy it out of the tree.
	d=$(mktemp -d) || return 1
	on_exit "rm -rf $d"
	chmod 0755 "$d"
	install -m 0755 "$TAPFLOW" "$d/tapflow" || return 1
	tap=$(uniq_name tp)
	before=$(links)
	expect_fail "as nobody" "^tapflow create: creating a tap needs CAP_NET_ADMIN" \
		nsrun setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
		"$d/tapflow" create "$tap" --queues 2 || return 1
	expect_eq "$(links)" "$before" "links" || return 1
	expect_ok "create as root" tf create "$tap" || return 1
	expect_fail "delete as nobody" "^tapflow delete: deleting a tap needs CAP_NET_ADMIN" \
		nsrun setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
		"$d/tapflow" delete "$tap" || return 1
	# Reading needs no privilege.
	expect_ok "show as nobody" nsrun setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=-all "$d/tapflow" show "$tap" || return 1
}

test_bad_exit_codes() {
	local rc
	tf create tq0 --queues 0 2>/dev/null; rc=$?
	expect_eq $rc 2 "bad option exits 2" || return 1
	nsx ip link add tfve0 type veth peer name tfve1 || return 1
	tf create tfve0 2>/dev/null; rc=$?
	expect_eq $rc 2 "name taken exits 2" || return 1
}

# ---- failures after the device exists leave nothing behind -----------------------

test_kernel_refusal_cleans_up() {
	# A tap's max MTU is 65535 - ETH_HLEN: the kernel refuses, after TUNSETIFF.
	bad_create "configuring 'tq0': mtu greater than device maximum" tq0 --queues 2 --mtu 65535 || return 1
}

test_queue_failure_cleans_up() {
	local before
	before=$(links)
	# Six fds: queue 3 or so cannot open, after the device was made.
	expect_fail "nofile" "^tapflow create: tap 'tq0': queue [0-9]+ of 8 did not attach" \
		nsrun prlimit --nofile=6 "$TAPFLOW" create tq0 --queues 8 || return 1
	expect_eq "$(links)" "$before" "links" || return 1
}

run_tests
