#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The exporter's systemd unit, as installed by `make install`, checked by
# systemd's own tools (PID 1 here is not systemd, so the unit cannot be
# started; scripts/setup.sh installs the systemd package for the tools):
# `systemd-analyze verify` must say nothing, `systemd-analyze security
# --offline=true` must rate it OK or better, and the exporter must read
# everything (histograms included) with no more than the unit's capability
# bounding set, as root, which is how the unit runs it.

. "$(dirname "$0")/../lib.sh"

UDPSEND=$TOP/build/tests/tf-udpsend
ROOT=$(mktemp -d /tmp/tapflow-systemd.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
make -s -C "$TOP" install DESTDIR="$ROOT" PREFIX=/usr > "$ROOT/make.log" 2>&1
INSTALL_RC=$?
UNIT=$ROOT/usr/lib/systemd/system/tapflow-exporter.service

need() {
	command -v systemd-analyze >/dev/null || { skip "systemd-analyze not installed (scripts/setup.sh installs systemd)"; return 77; }
	[ "$INSTALL_RC" = 0 ] || { fail "make install failed: $(tail -3 "$ROOT/make.log")"; return 1; }
}

# systemd-analyze verify checks that ExecStart's binary exists and that
# Documentation=man:tapflow(8) resolves: the installed tree is mounted over
# /usr/sbin in a private mount namespace (the host's stays untouched) and
# MANPATH points into it.
test_verify_clean() {
	local out rc
	need || return
	out=$(unshare -m --propagation private sh -c 'mount --bind "$1/usr/sbin" /usr/sbin &&
		MANPATH="$1/usr/share/man" exec systemd-analyze verify "$2"' verify "$ROOT" "$UNIT" 2>&1)
	rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] || { fail "systemd-analyze verify (exit $rc): $(echo $out)"; return 1; }
}

test_security_ok() {
	local out level band want
	need || return
	out=$(systemd-analyze security --offline=true "$UNIT" 2>&1)
	# "→ Overall exposure level for tapflow-exporter.service: 2.2 OK 🙂"
	read -r level band < <(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
	[ -n "$level" ] || { fail "no exposure level in: $(echo "$out" | tail -2)"; return 1; }
	echo "    exposure $level $band" >&2
	case "$band" in
	PERFECT|SAFE|OK) ;;
	*) fail "exposure $level $band, worse than OK"; return 1 ;;
	esac
	# what the unit must do, as systemd itself reads it
	for want in "NoNewPrivileges=" "ProtectSystem=" "RestrictAddressFamilies=~AF_PACKET" \
		"RestrictAddressFamilies=~…" "SystemCallFilter=~@swap" "SystemCallFilter=~@mount" \
		"CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)" "CapabilityBoundingSet=~CAP_NET_ADMIN" \
		"CapabilityBoundingSet=~CAP_SYS_MODULE" "PrivateDevices=" "ProtectKernelTunables="; do
		echo "$out" | grep -qF -- "✓ $want " || { fail "systemd-analyze security: not ✓ $want"; return 1; }
	done
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
}

# export --once as the unit would run it: uid 0, the unit's bounding set and
# nothing inherited. Prints the metrics.
export_as_unit() {
	local caps set=-all c
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
	for c in $caps; do
		c=${c#CAP_}
		set+=",+${c,,}"
	done
	nsrun setpriv --bounding-set="$set" --inh-caps=-all --ambient-caps=-all --no-new-privs -- \
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

run_tests
