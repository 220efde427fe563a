#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The Debian packages: built by `make deb` (scripts/build-deb.sh: a fresh
# clone of HEAD, dpkg-buildpackage -us -uc -b, lintian), then unpacked with
# dpkg-deb -x into a temporary root, where the packaged tapflow runs on the
# packaged libtapflow0 against a real tap, a program builds with the
# packaged libtapflow-dev, and the packaged unit passes systemd-analyze.
#
# Building takes ~1.5 min of both cores, so the suite reuses build/deb when
# it holds packages of the current HEAD, and builds them otherwise;
# TF_DEB=0 skips it (e.g. for a quick `make check` of uncommitted work,
# which the packages would not contain anyway).

. "$(dirname "$0")/../lib.sh"

DEB=$TOP/build/deb
HEAD=$(git -C "$TOP" rev-parse HEAD 2>/dev/null)
BUILD_WHY=""
if [ "${TF_DEB:-1}" = 0 ]; then
	BUILD_WHY="TF_DEB=0"
elif ! command -v dpkg-buildpackage >/dev/null || ! command -v lintian >/dev/null; then
	BUILD_WHY="dpkg-buildpackage or lintian missing (scripts/setup.sh installs them)"
elif [ -z "$HEAD" ]; then
	BUILD_WHY="not a git checkout: make deb builds from a clone of HEAD"
fi
ROOT=$(mktemp -d /tmp/tapflow-deb.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)

# The packages of HEAD, built by the first test that needs them (each test
# is a subshell: build/deb/HEAD tells the later ones; a failure is tried once).
need() {
	[ -z "$BUILD_WHY" ] || { skip "$BUILD_WHY"; return 77; }
	if [ "$(cat "$DEB/HEAD" 2>/dev/null)" != "$HEAD" ] && [ ! -e "$ROOT/build-failed" ]; then
		"$TOP/scripts/build-deb.sh" > "$TOP/build/deb.log" 2>&1 || touch "$ROOT/build-failed"
		grep '^build-deb.sh: built' "$TOP/build/deb.log" | sed 's/^/    /' >&2
	fi
	[ ! -e "$ROOT/build-failed" ] || { fail "make deb failed: $(tail -2 "$TOP/build/deb.log" | tr '\n' ' ')"; return 1; }
	[ "$(cat "$DEB/HEAD" 2>/dev/null)" = "$HEAD" ] || { fail "build/deb holds no packages of $HEAD"; return 1; }
}

deb_of() { ls "$DEB/$1"_*.deb 2>/dev/null | grep -v dbgsym | head -1; }

# Unpack the packages into $ROOT (once per test: each test is a subshell).
unpack() {
	local p
	for p in "$@"; do
		dpkg-deb -x "$(deb_of "$p")" "$ROOT" || { fail "dpkg-deb -x $p failed"; return 1; }
	done
}

test_lintian_clean() {
	need || return
	[ -e "$DEB/lintian.txt" ] || { fail "no lintian report in build/deb"; return 1; }
	if grep -q '^E: ' "$DEB/lintian.txt"; then
		fail "lintian errors: $(grep '^E: ' "$DEB/lintian.txt" | tr '\n' ' ')"; return 1
	fi
	grep '^W: ' "$DEB/lintian.txt" | sed 's/^/    /' >&2
	return 0
}

test_packages() {
	local p f ctl
	need || return
	for p in tapflow libtapflow0 libtapflow-dev; do
		[ -n "$(deb_of $p)" ] || { fail "no $p package in build/deb"; return 1; }
	done
	for f in "tapflow ./usr/sbin/tapflow" "tapflow ./lib/systemd/system/tapflow-exporter.service" \
		"tapflow ./usr/share/man/man8/tapflow.8.gz" "tapflow ./usr/share/bash-completion/completions/tapflow" \
		"tapflow ./usr/share/tapflow/dashboards/tapflow-grafana.json" "tapflow ./etc/default/tapflow-exporter" \
		"tapflow ./lib/systemd/system/tapflow-fleet.service" "tapflow ./etc/default/tapflow-fleet" \
		"libtapflow0 ./usr/lib/$MA/libtapflow.so.0" "libtapflow-dev ./usr/lib/$MA/libtapflow.so" \
		"libtapflow-dev ./usr/lib/$MA/libtapflow.a" "libtapflow-dev ./usr/include/tapflow/tapflow.h" \
		"libtapflow-dev ./usr/lib/$MA/pkgconfig/tapflow.pc"; do
		set -- $f
		dpkg-deb -c "$(deb_of "$1")" | awk '{print $6}' | grep -qx "$2" ||
			{ fail "$1 does not ship $2"; return 1; }
	done
	dpkg-deb -f "$(deb_of tapflow)" Depends | grep -q 'libtapflow0' ||
		{ fail "tapflow does not depend on libtapflow0"; return 1; }
	# the unit is installed, not enabled nor started
	ctl=$ROOT/ctl
	dpkg-deb -e "$(deb_of tapflow)" "$ctl" || return 1
	if grep -hE 'deb-systemd-invoke (start|restart)|systemctl (start|enable)' "$ctl"/post* "$ctl"/pre* 2>/dev/null |
		grep -v '^#' | grep -q .; then
		fail "the maintainer scripts start or enable the unit: $(grep -hE 'start|enable' "$ctl"/post*)"; return 1
	fi
	grep -q "deb-systemd-helper --quiet was-enabled 'tapflow-exporter.service'" "$ctl/postinst" ||
		{ fail "postinst does not keep the admin's enable state"; return 1; }
}

test_unpacked_binary_runs() {
	local out tap
	need || return
	unpack tapflow libtapflow0 || return 1
	tfp() { LD_LIBRARY_PATH="$ROOT/usr/lib/$MA" nsenter --net="/run/netns/$NS" -- "$ROOT/usr/sbin/tapflow" "$@"; }
	expect_eq "$(LD_LIBRARY_PATH="$ROOT/usr/lib/$MA" ldd "$ROOT/usr/sbin/tapflow" | awk '$1 == "libtapflow.so.0" {print $3}')" \
		"$ROOT/usr/lib/$MA/libtapflow.so.0" "libtapflow the packaged tapflow loads" || return 1
	out=$(tfp version) || { fail "packaged tapflow version failed: $out"; return 1; }
	expect_eq "$out" "tapflow $(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)" "version" || return 1
	tap=$(uniq_name tdb)
	expect_ok "packaged create" tfp create "$tap" --queues 2 || return 1
	expect_ok "packaged trace start" tfp trace start "$tap" || return 1
	on_exit "tf trace stop --all"
	nsrun "$TFLOAD" --dev "$tap" --queues 2 --count 5 >/dev/null || { fail "tf-load failed"; return 1; }
	out=$(tfp stats "$tap" --json) || { fail "packaged stats failed: $out"; return 1; }
	expect_eq "$(jq '[.queues[].rx_packets] | add' <<< "$out" 2>/dev/null)" 10 "rx_packets over both queues" || return 1
	expect_ok "packaged trace stop" tfp trace stop "$tap" || return 1
	expect_ok "packaged delete" tfp delete "$tap" || return 1
}

test_dev_package_builds_a_program() {
	local flags out
	need || return
	unpack libtapflow0 libtapflow-dev || return 1
	flags=$(PKG_CONFIG_PATH="$ROOT/usr/lib/$MA/pkgconfig" PKG_CONFIG_LIBDIR=/nonexistent \
		pkg-config --define-variable=prefix="$ROOT/usr" --cflags --libs tapflow) ||
		{ fail "pkg-config tapflow failed on the unpacked libtapflow-dev"; return 1; }
	printf '#include <tapflow.h>\n#include <stdio.h>\nint main(void) { puts(tf_version()); return 0; }\n' > "$NSDIR/v.c"
	# shellcheck disable=SC2086
	out=$(cc -Wall -Werror -o "$NSDIR/v" "$NSDIR/v.c" $flags 2>&1) || { fail "build failed: $out"; return 1; }
	expect_eq "$(LD_LIBRARY_PATH="$ROOT/usr/lib/$MA" "$NSDIR/v")" \
		"$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)" "tf_version() of the packaged library" || return 1
}

test_packaged_unit_verifies() {
	local out rc
	need || return
	command -v systemd-analyze >/dev/null || { skip "systemd-analyze not installed"; return 77; }
	unpack tapflow libtapflow0 || return 1
	out=$(unshare -m --propagation private sh -c 'mount --bind "$1/usr/sbin" /usr/sbin &&
		MANPATH="$1/usr/share/man" exec systemd-analyze verify "$1/lib/systemd/system/tapflow-exporter.service" \
			"$1/lib/systemd/system/tapflow-fleet.service"' verify "$ROOT" 2>&1)
	rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] || { fail "systemd-analyze verify (exit $rc): $(echo $out)"; return 1; }
}

# Upgrading the package while tracing runs: the programs stay attached (they
# are pinned; no maintainer script touches them), and the new tapflow reads
# their counters on as long as the map layout (TF_TRACE_LAYOUT, checked in
# the pinned meta map) is the one it knows. The tree's tapflow plays the old
# version here. A layout it does not know (made here with bpftool) is refused
# in one line naming the way out, and that way out works.
test_upgrade_while_tracing() {
	local out tap meta v rc
	need || return
	unpack tapflow libtapflow0 || return 1
	tfp() { LD_LIBRARY_PATH="$ROOT/usr/lib/$MA" nsenter --net="/run/netns/$NS" -- "$ROOT/usr/sbin/tapflow" "$@"; }
	tap=$(uniq_name tdu)
	expect_ok "create" tf create "$tap" || return 1
	expect_ok "old trace start" tf trace start "$tap" || return 1
	on_exit "tf trace stop --all"
	nsrun "$TFLOAD" --dev "$tap" --count 5 >/dev/null || { fail "tf-load failed"; return 1; }
	out=$(tfp stats "$tap" --json) || { fail "new stats on old tracing failed: $out"; return 1; }
	expect_eq "$(jq '.queues[0].rx_packets' <<< "$out")" 5 "rx_packets read by the new version" || return 1
	nsrun "$TFLOAD" --dev "$tap" --count 5 >/dev/null || return 1
	expect_eq "$(tfp stats "$tap" --json | jq '.queues[0].rx_packets')" 10 "counting on after the upgrade" || return 1
	# a layout this tapflow does not read
	meta=/sys/fs/bpf/tapflow/trace/meta
	v=$(bpftool -j map lookup pinned "$meta" key 0 0 0 0 | jq -r '.value | map(tonumber) | map(tostring) | join(" ")' 2>/dev/null) ||
		v=$(bpftool -j map lookup pinned "$meta" key 0 0 0 0 | jq -r '.value | join(" ")')
	read -r -a b <<< "$v"
	[ "${#b[@]}" = 16 ] || { fail "unexpected meta value: $v"; return 1; }
	b[4]=$(( b[4] + 1 ))
	bpftool map update pinned "$meta" key 0 0 0 0 value "${b[@]}" || { fail "bpftool map update failed"; return 1; }
	expect_fail "stats on another layout" "another layout .*tapflow trace stop --all, then start again" \
		tfp stats "$tap" || return 1
	tfp stats "$tap" >/dev/null 2>&1; rc=$?
	expect_eq "$rc" 1 "exit status on another layout" || return 1
	expect_ok "trace stop --all on another layout" tfp trace stop --all || return 1
	expect_ok "trace start again" tfp trace start "$tap" || return 1
	expect_ok "trace stop" tfp trace stop "$tap" || return 1
}

# Every library the Makefile links (LDLIBS) comes from a package the
# Build-Depends name: a -lfoo added for a feature must bring its -dev
# package into debian/control too (the build machine having it installed
# would hide the gap). Needs no package build.
test_build_depends_cover_ldlibs() {
	local ldlibs bdeps l f pkg missing=""
	ldlibs=$(make --no-print-directory -s -C "$TOP" -f Makefile -f /dev/stdin print-ldlibs <<< 'print-ldlibs: ; @echo $(LDLIBS)')
	[ -n "$ldlibs" ] || { fail "could not read LDLIBS from the Makefile"; return 1; }
	bdeps=$(awk '/^Build-Depends:/ {on = 1; sub(/^Build-Depends:/, "")} on && /^[A-Z][-A-Za-z]*:/ && !/^Build-Depends:/ {on = 0}
		on' "$TOP/debian/control" | tr ',|' '\n\n' | sed 's/(.*//; s/^[[:space:]]*//; s/[[:space:]]*$//' | grep .)
	for l in $ldlibs; do
		[[ "$l" == -l* ]] || continue
		l=${l#-l}
		f=$(realpath -s "$(gcc -print-file-name="lib$l.so")")
		[ -e "$f" ] || f=$(realpath -s "$(gcc -print-file-name="lib$l.a")")
		pkg=$(dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1)
		[ -n "$pkg" ] || { missing+=" -l$l(no package owns lib$l)"; continue; }
		[ "$pkg" = libc6-dev ] && continue	# build-essential
		grep -qx "$pkg" <<< "$bdeps" || missing+=" -l$l($pkg)"
	done
	expect_eq "${missing# }" "" "LDLIBS not covered by debian/control's Build-Depends" || return 1
}

# dpkg -i and dpkg --purge for real, maintainer scripts included, in a
# throw-away copy of this machine's root: an overlay (its upper layer a
# tmpfs) in a private mount namespace, chrooted into, so the host's dpkg
# database and /usr stay untouched. Installed, the unit is there and not
# enabled, the conffile is in place, tapflow, man and pkg-config find what
# they should; purged, nothing of it is left.
test_dpkg_install_and_purge() {
	local m=$ROOT/ovl out
	need || return
	mkdir -p "$m/layer" "$m/root"
	out=$(unshare -m --propagation private bash -c '
		set -e
		m=$1; shift
		mount -t tmpfs tmpfs "$m/layer"
		mkdir "$m/layer/u" "$m/layer/w"
		mount -t overlay overlay -o "lowerdir=/,upperdir=$m/layer/u,workdir=$m/layer/w" "$m/root"
		mount -t proc proc "$m/root/proc"
		mount --rbind /dev "$m/root/dev"
		mount -t tmpfs tmpfs "$m/root/tmp"
		mount -t tmpfs tmpfs "$m/root/run"
		cp "$@" "$m/root/tmp/"
		exec chroot "$m/root" sh -c "
			set -e
			dpkg -i /tmp/*.deb >/dev/null
			echo enabled=\$(systemctl is-enabled tapflow-exporter.service 2>&1 || true)
			echo fleet_enabled=\$(systemctl is-enabled tapflow-fleet.service 2>&1 || true)
			echo version=\$(tapflow version)
			echo conffile=\$(dpkg-query -W -f=\"\\\${Conffiles}\" tapflow | awk \"{print \\\$1}\")
			echo man=\$(man -w tapflow)
			echo pc=\$(pkg-config --cflags --libs tapflow)
			dpkg --purge tapflow libtapflow-dev libtapflow0 >/dev/null
			echo left=\$(ls /usr/sbin/tapflow /etc/default/tapflow-exporter /lib/systemd/system/tapflow-exporter.service \
				/etc/default/tapflow-fleet /lib/systemd/system/tapflow-fleet.service 2>/dev/null)
			echo status=\$(dpkg-query -W tapflow >/dev/null 2>&1 && echo known || echo none)"
		' ovl "$m" "$(deb_of tapflow)" "$(deb_of libtapflow0)" "$(deb_of libtapflow-dev)" 2>&1) ||
		{ fail "install/purge in the overlay failed: $(echo $out)"; return 1; }
	for want in "enabled=disabled" "fleet_enabled=disabled" "version=tapflow $(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)" \
		"conffile=/etc/default/tapflow-exporter /etc/default/tapflow-fleet" "man=/usr/share/man/man8/tapflow.8.gz" \
		"pc=-I/usr/include/tapflow -ltapflow" "left=" "status=none"; do
		grep -qxF -- "$want" <<< "$out" || { fail "after dpkg -i/--purge: no '$want' in: $(echo $out)"; return 1; }
	done
}

test_nocheck_skips_tests() {
	need || return
	(cd "$TOP" && DEB_BUILD_OPTIONS=nocheck make -s -n -f debian/rules override_dh_auto_test) | grep -q run.sh &&
		{ fail "override_dh_auto_test runs tests under nocheck"; return 1; }
	(cd "$TOP" && DEB_BUILD_OPTIONS= make -s -n -f debian/rules override_dh_auto_test) | grep -q 'tests/run.sh --unit-only' ||
		{ fail "override_dh_auto_test does not run the unit tests"; return 1; }
	grep -q '^== unit tests' "$DEB/build.log" || { fail "the package build ran no unit tests"; return 1; }
}

run_tests
