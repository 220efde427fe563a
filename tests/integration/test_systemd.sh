#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The exporter's systemd units, as installed by `make install`, checked by
# systemd's own tools (PID 1 here is not systemd, so the units cannot be
# started; scripts/setup.sh installs the systemd package for the tools):
# `systemd-analyze verify` must say nothing, `systemd-analyze security
# --offline=true` must rate them OK or better, and the exporter must read
# everything (histograms included) with no more than the unit's capability
# bounding set, as root, which is how the unit runs it; in fleet mode
# (tapflow-fleet.service) it must also trace a tap that appears, with its
# own unit's capabilities and system calls.

. "$(dirname "$0")/../lib.sh"

UDPSEND=$TOP/build/tests/tf-udpsend
ROOT=$(mktemp -d /tmp/tapflow-systemd.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
make -s -C "$TOP" install DESTDIR="$ROOT" PREFIX=/usr > "$ROOT/make.log" 2>&1
INSTALL_RC=$?
UNIT=$ROOT/usr/lib/systemd/system/tapflow-exporter.service
FLEET=$ROOT/usr/lib/systemd/system/tapflow-fleet.service

need() {
	command -v systemd-analyze >/dev/null || { skip "systemd-analyze not installed (scripts/setup.sh installs systemd)"; return 77; }
	[ "$INSTALL_RC" = 0 ] || { fail "make install failed: $(tail -3 "$ROOT/make.log")"; return 1; }
}

# systemd-analyze verify checks that ExecStart's binary exists and that
# Documentation=man:tapflow(8) resolves: the installed tree is mounted over
# /usr/sbin in a private mount namespace (the host's stays untouched) and
# MANPATH points into it.
test_verify_clean() {
	local out rc u
	need || return
	for u in "$UNIT" "$FLEET"; do
		out=$(unshare -m --propagation private sh -c 'mount --bind "$1/usr/sbin" /usr/sbin &&
			MANPATH="$1/usr/share/man" exec systemd-analyze verify "$2"' verify "$ROOT" "$u" 2>&1)
		rc=$?
		[ "$rc" = 0 ] && [ -z "$out" ] || { fail "systemd-analyze verify ${u##*/} (exit $rc): $(echo $out)"; return 1; }
	done
}

# security_ok UNIT WANT...: rated OK or better, and each WANT ticked.
security_ok() {
	local u=$1 out level band want; shift
	out=$(systemd-analyze security --offline=true "$u" 2>&1)
	# "→ Overall exposure level for tapflow-exporter.service: 2.2 OK 🙂"
	read -r level band < <(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
	[ -n "$level" ] || { fail "no exposure level in: $(echo "$out" | tail -2)"; return 1; }
	echo "    ${u##*/}: exposure $level $band" >&2
	case "$band" in
	PERFECT|SAFE|OK) ;;
	*) fail "${u##*/}: exposure $level $band, worse than OK"; return 1 ;;
	esac
	# what the unit must do, as systemd itself reads it
	for want in "NoNewPrivileges=" "ProtectSystem=" "RestrictAddressFamilies=~AF_PACKET" \
		"RestrictAddressFamilies=~…" "SystemCallFilter=~@swap" "SystemCallFilter=~@mount" \
		"CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)" \
		"CapabilityBoundingSet=~CAP_SYS_MODULE" "PrivateDevices=" "ProtectKernelTunables=" "$@"; do
		echo "$out" | grep -qF -- "✓ $want " || { fail "${u##*/}: systemd-analyze security: not ✓ $want"; return 1; }
	done
}

test_security_ok() {
	need || return
	security_ok "$UNIT" "CapabilityBoundingSet=~CAP_NET_ADMIN" "RestrictNamespaces=~net" || return 1
	# fleet mode loads and attaches programs with the same two capabilities
	# and may enter network namespaces, nothing more: every other kind
	# stays refused
	security_ok "$FLEET" "CapabilityBoundingSet=~CAP_NET_ADMIN" "CapabilityBoundingSet=~CAP_BPF" \
		"RestrictNamespaces=~user" "RestrictNamespaces=~mnt" || return 1
}

# The unit's settings that systemd-analyze security does not score.
test_unit_settings() {
	local v
	need || return
	v=$(sed -n 's/^ReadWritePaths=//p' "$UNIT")
	expect_eq "$v" "/sys/fs/bpf" "ReadWritePaths" || return 1
	v=$(sed -n 's/^RestrictAddressFamilies=//p' "$UNIT")
	expect_eq "$v" "AF_UNIX AF_NETLINK AF_INET AF_INET6" "RestrictAddressFamilies" || return 1
	v=$(sed -n 's/^LimitNOFILE=//p' "$UNIT")
	[ "${v:-0}" -ge 65536 ] || { fail "LimitNOFILE=$v: not room for thousands of taps"; return 1; }
	grep -q '^ExecStart=/usr/sbin/tapflow export \$TAPFLOW_EXPORT_OPTS$' "$UNIT" ||
		{ fail "ExecStart is not the installed tapflow export: $(grep ExecStart "$UNIT")"; return 1; }
	grep -q '^ExecStart=/usr/sbin/tapflow export \$TAPFLOW_FLEET_OPTS$' "$FLEET" ||
		{ fail "the fleet unit's ExecStart: $(grep ExecStart "$FLEET")"; return 1; }
	grep -qx 'Conflicts=tapflow-exporter.service' "$FLEET" ||
		{ fail "the fleet unit does not conflict with the exporter (same port)"; return 1; }
	v=$(sed -n 's/^ReadWritePaths=//p' "$FLEET")
	expect_eq "$v" "/sys/fs/bpf" "the fleet unit's ReadWritePaths" || return 1
}

# unit_caps UNIT: its bounding set as setpriv's --bounding-set argument.
unit_caps() {
	local set=-all c
	for c in $(sed -n 's/^CapabilityBoundingSet=//p' "$1"); do
		c=${c#CAP_}
		set+=",+${c,,}"
	done
	echo "$set"
}

# fleet_opts: the fleet unit's default TAPFLOW_FLEET_OPTS, one word a line,
# split as systemd splits an unquoted $VAR (no glob expansion).
fleet_opts() {
	sed -n 's/^Environment="TAPFLOW_FLEET_OPTS=\(.*\)"$/\1/p' "$FLEET" | tr ' ' '\n' | grep .
}

# export --once as the unit would run it: uid 0, the unit's bounding set and
# nothing inherited. Prints the metrics.
export_as_unit() {
	nsrun setpriv --bounding-set="$(unit_caps "$UNIT")" --inh-caps=-all --ambient-caps=-all --no-new-privs -- \
		"$ROOT/usr/sbin/tapflow" export --once
}

series() { grep -E "^tapflow_(tx_packets_total|rx_packets_total|ring_wait_seconds_count)\{" <<< "$1"; }

test_exporter_reads_with_unit_caps() {
	local tap full unit
	need || return
	tap=$(uniq_name tsd)
	expect_ok "create" tf create "$tap" || return 1
	expect_ok "trace start" tf trace start "$tap" || return 1
	on_exit "tf trace stop $tap"
	nsrun ip addr add 198.18.0.1/24 dev "$tap" &&
	nsrun ip neigh replace 198.18.0.2 lladdr 02:00:00:00:01:00 dev "$tap" nud permanent || return 1
	# a backend that reads what the host sends (ring-wait samples) ...
	nsrun "$TFLOAD" --dev "$tap" --read --idle-ms 3000 > "$NSDIR/load.json" 2>&1 &
	sleep 0.3
	# ... the host sending, and the backend writing
	nsrun "$UDPSEND" 198.18.0.1 4000 198.18.0.2 4001 20 >/dev/null || { fail "tf-udpsend failed"; return 1; }
	sleep 0.2
	full=$(LD_LIBRARY_PATH=$ROOT/usr/lib nsrun "$ROOT/usr/sbin/tapflow" export --once) || { fail "export --once failed"; return 1; }
	unit=$(LD_LIBRARY_PATH=$ROOT/usr/lib export_as_unit 2>&1) || { fail "export under the unit's capabilities failed: $unit"; return 1; }
	grep -q "^tapflow_ring_wait_seconds_count{tap=\"$tap\",queue=\"0\"} [1-9]" <<< "$full" ||
		{ fail "no ring-wait samples to compare: $(series "$full")"; return 1; }
	expect_eq "$(series "$unit")" "$(series "$full")" "counters read with the unit's capabilities" || return 1
}

# expand NAME...: the system calls of each name or @group, nested groups
# followed, one a line (systemd-analyze's own tables).
expand() {
	local n
	for n in "$@"; do
		case "$n" in
		@*) expand $(systemd-analyze syscall-filter "$n" | awk 'NR > 1 && $1 !~ /^#/ {print $1}') ;;
		*) echo "$n" ;;
		esac
	done
}

# What SystemCallFilter= lets through: the allow list, minus every ~ list.
allowed_syscalls() {
	local line allow=() deny=() u=${1:-$UNIT}
	while IFS= read -r line; do
		case "$line" in
		"~"*) deny+=(${line#\~}) ;;
		*) allow+=($line) ;;
		esac
	done < <(sed -n 's/^SystemCallFilter=//p' "$u")
	comm -23 <(expand "${allow[@]}" | sort -u) <(expand "${deny[@]}" | sort -u)
}

# strace_exporter OUT URL CURL-OPTS EXPORT-ARGS...: the exporter under
# strace -f (all threads), scraped twice and asked for a missing page, then
# stopped; the system call names it made go to OUT.
strace_exporter() {
	local out=$1 url=$2 copts=$3 pid i; shift 3
	LD_LIBRARY_PATH=$ROOT/usr/lib nsenter --net="/run/netns/$NS" -- \
		strace -f -qq -o "$out.raw" "$ROOT/usr/sbin/tapflow" export "$@" > "$out.log" 2>&1 &
	pid=$!	# strace (nsenter execs it); the exporter is its child
	for ((i = 0; i < 100; i++)); do
		grep -qs '^serving' "$out.log" && break
		sleep 0.05
	done
	: > "$out.codes"
	for i in metrics metrics nothing; do
		# shellcheck disable=SC2086
		nsrun curl -s -o /dev/null -w '%{http_code}\n' $copts "$url/$i" >> "$out.codes"
	done
	# SIGTERM to the exporter: strace itself would detach and leave it running
	kill -TERM $(ps -o pid= --ppid "$pid") 2>/dev/null
	wait "$pid" 2>/dev/null
	sed -n 's/^[0-9]* *\(<... \)\{0,1\}\([a-z_0-9]*\)[( ].*/\2/p' "$out.raw" | grep -v '^$' | sort -u > "$out"
}

# Every system call the exporter makes is one the unit's filter allows: the
# filter cannot be applied here without systemd as PID 1, so it is checked
# by name, for plain HTTP, for HTTPS with basic auth (GnuTLS, libcrypt's
# bcrypt, the web config parser) and for --once.
test_syscall_filter_allows_the_exporter() {
	local tap port=$((20000 + RANDOM % 20000)) used denied hash
	need || return
	command -v strace >/dev/null || { skip "strace not installed (scripts/setup.sh installs it)"; return 77; }
	command -v openssl >/dev/null || { skip "openssl not installed"; return 77; }
	tap=$(uniq_name tsf)
	expect_ok "create" tf create "$tap" || return 1
	expect_ok "trace start" tf trace start "$tap" || return 1
	on_exit "tf trace stop $tap"
	nsrun "$TFLOAD" --dev "$tap" --count 5 >/dev/null || return 1

	strace_exporter "$NSDIR/plain" "http://127.0.0.1:$port" "" --listen "127.0.0.1:$port"
	expect_eq "$(tr '\n' ' ' < "$NSDIR/plain.codes")" "200 200 404 " "plain HTTP answers" || return 1

	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$NSDIR/srv.key" -out "$NSDIR/srv.crt" >/dev/null 2>&1 || { fail "openssl failed"; return 1; }
	hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
	printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prom: '"'%s'"'\n' \
		"$NSDIR/srv.crt" "$NSDIR/srv.key" "$hash" > "$NSDIR/web.yml"
	strace_exporter "$NSDIR/tls" "https://127.0.0.1:$((port + 1))" "-k -u prom:pw" \
		--listen "127.0.0.1:$((port + 1))" --web.config.file "$NSDIR/web.yml"
	expect_eq "$(tr '\n' ' ' < "$NSDIR/tls.codes")" "200 200 404 " "HTTPS with basic auth answers" || return 1

	LD_LIBRARY_PATH=$ROOT/usr/lib nsrun strace -f -qq -o "$NSDIR/once.raw" "$ROOT/usr/sbin/tapflow" export --once >/dev/null ||
		{ fail "export --once under strace failed"; return 1; }
	sed -n 's/^[0-9]* *\(<... \)\{0,1\}\([a-z_0-9]*\)[( ].*/\2/p' "$NSDIR/once.raw" | sort -u > "$NSDIR/once"

	used=$(sort -u "$NSDIR/plain" "$NSDIR/tls" "$NSDIR/once" | grep .)
	[ "$(echo "$used" | grep -c .)" -gt 20 ] || { fail "strace saw too few system calls: $(echo $used)"; return 1; }
	# execve is the exec into tapflow itself, before the filter would apply
	denied=$(comm -23 <(echo "$used" | grep -vx execve) <(allowed_syscalls) | tr '\n' ' ')
	expect_eq "$denied" "" "system calls the exporter makes that SystemCallFilter= denies" || return 1
}

# Fleet mode as the unit runs it: its default options (--trace=vnet*
# --trace=tap*), its bounding set, nothing inherited, under strace. A tap
# made after the exporter is up is traced and counted exactly, and every
# system call that took (loading and attaching the programs included) is one
# the unit's filter lets through.
test_fleet_unit_follows_with_its_caps() {
	local tap port=$((20000 + RANDOM % 20000)) i opts used denied pid
	need || return
	command -v strace >/dev/null || { skip "strace not installed (scripts/setup.sh installs it)"; return 77; }
	mapfile -t opts < <(fleet_opts)
	expect_eq "${opts[*]}" "--trace=vnet* --trace=tap*" "the fleet unit's default options" || return 1
	tap=tap$((RANDOM % 9000 + 1000))
	LD_LIBRARY_PATH=$ROOT/usr/lib nsenter --net="/run/netns/$NS" -- \
		strace -f -qq -o "$NSDIR/fleet.raw" setpriv --bounding-set="$(unit_caps "$FLEET")" \
		--inh-caps=-all --ambient-caps=-all --no-new-privs -- \
		"$ROOT/usr/sbin/tapflow" export "${opts[@]}" --listen "127.0.0.1:$port" > "$NSDIR/fleet.log" 2>&1 &
	pid=$!
	on_exit "kill $pid 2>/dev/null; tf trace stop --all"
	for ((i = 0; i < 100; i++)); do
		grep -qs '^serving' "$NSDIR/fleet.log" && break
		sleep 0.05
	done
	grep -qs '^serving' "$NSDIR/fleet.log" || { fail "fleet exporter did not come up: $(cat "$NSDIR/fleet.log")"; return 1; }
	expect_ok "create $tap after the exporter" tf create "$tap" || return 1
	for ((i = 0; i < 60; i++)); do
		tf trace status --json 2>/dev/null | grep -q "\"tap\":\"$tap\"" && break
		sleep 0.05
	done
	tf trace status --json | grep -q "\"tap\":\"$tap\"" ||
		{ fail "$tap not traced 3 s after it appeared: $(tail -3 "$NSDIR/fleet.log")"; return 1; }
	nsrun "$TFLOAD" --dev "$tap" --count 37 >/dev/null || { fail "tf-load failed"; return 1; }
	nsrun curl -s "http://127.0.0.1:$port/metrics" > "$NSDIR/fleet.prom"
	grep -q "^tapflow_rx_packets_total{tap=\"$tap\",queue=\"0\"} 37$" "$NSDIR/fleet.prom" ||
		{ fail "37 frames written, exported: $(grep "^tapflow_rx_packets_total{tap=\"$tap\"" "$NSDIR/fleet.prom")"; return 1; }
	kill -TERM $(ps -o pid= --ppid "$pid") 2>/dev/null
	wait "$pid" 2>/dev/null
	sed -n 's/^[0-9]* *\(<... \)\{0,1\}\([a-z_0-9]*\)[( ].*/\2/p' "$NSDIR/fleet.raw" | grep -v '^$' | sort -u > "$NSDIR/fleet"
	grep -qx bpf "$NSDIR/fleet" || { fail "strace saw no bpf(2): $(tr '\n' ' ' < "$NSDIR/fleet")"; return 1; }
	# execve: setpriv's exec into tapflow, before the filter would apply;
	# prctl, capset: setpriv's own work, which systemd does for the unit
	denied=$(comm -23 <(grep -vxE 'execve|prctl|capset' "$NSDIR/fleet") <(allowed_syscalls "$FLEET") | tr '\n' ' ')
	expect_eq "$denied" "" "system calls fleet mode makes that the fleet unit's SystemCallFilter= denies" || return 1
}

run_tests
