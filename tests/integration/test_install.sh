#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `make install` as a user of the library would meet it: installed into a
# throw-away DESTDIR, then a program written here, built only through
# `pkg-config --cflags --libs tapflow` against the installed headers and
# libtapflow.so, creates a tap, traces it, writes frames into it and checks
# the counter; the installed CLI runs against the installed library; the
# shared library exports exactly the API the map lists; the man page
# documents every option each `tapflow CMD --help` lists; the installed
# completion completes commands, options, values and tap names.

. "$(dirname "$0")/../lib.sh"

# One install per suite run, shared by its tests (each test is a subshell).
ROOT=$(mktemp -d /tmp/tapflow-install.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
INSTALL_LOG=$ROOT/make.log
make -s -C "$TOP" install DESTDIR="$ROOT" PREFIX=/usr > "$INSTALL_LOG" 2>&1
INSTALL_RC=$?
USR=$ROOT/usr
export LD_LIBRARY_PATH=$USR/lib

installed() {
	[ "$INSTALL_RC" = 0 ] || { fail "make install failed: $(tail -3 "$INSTALL_LOG")"; return 1; }
}

test_layout() {
	local f
	installed || return 1
	for f in sbin/tapflow lib/libtapflow.so.0 lib/libtapflow.so lib/libtapflow.a \
		lib/pkgconfig/tapflow.pc include/tapflow/tapflow.h share/man/man8/tapflow.8 \
		share/bash-completion/completions/tapflow lib/systemd/system/tapflow-exporter.service \
		share/tapflow/dashboards/tapflow-grafana.json; do
		[ -e "$USR/$f" ] || { fail "make install did not install $f"; return 1; }
	done
	# every header tapflow.h includes, and only those
	for f in $(sed -n 's/^#include "\(.*\)"/\1/p' "$USR"/include/tapflow/*.h); do
		[ -e "$USR/include/tapflow/$f" ] || { fail "installed headers include $f, not installed"; return 1; }
	done
	if [ -d "$TOP/rules" ] && [ ! -d "$USR/share/tapflow/rules" ]; then
		fail "rules/ is not installed under share/tapflow"; return 1
	fi
	expect_eq "$(readlink "$USR/lib/libtapflow.so")" libtapflow.so.0 "dev symlink" || return 1
	expect_eq "$(readelf -d "$USR/lib/libtapflow.so.0" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')" \
		libtapflow.so.0 "SONAME" || return 1
	readelf -d "$USR/sbin/tapflow" | grep -q 'NEEDED.*\[libtapflow.so.0\]' ||
		{ fail "the installed CLI does not link libtapflow.so.0"; return 1; }
	# the installed CLI runs on the installed library
	expect_eq "$(ldd "$USR/sbin/tapflow" | awk '$1 == "libtapflow.so.0" {print $3}')" \
		"$USR/lib/libtapflow.so.0" "libtapflow the CLI loads" || return 1
	expect_ok "installed tapflow version" "$USR/sbin/tapflow" version || return 1
}

# The exported symbols are exactly the map's, and the map's are exactly the
# functions (and data) the public headers declare and the library defines.
test_exported_symbols() {
	local exported mapped public
	installed || return 1
	exported=$(nm -D --defined-only "$USR/lib/libtapflow.so.0" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}' | sort)
	mapped=$(grep -o '^[[:space:]]*tf_[a-z0-9_]*;' "$TOP/user/libtapflow.map" | tr -d ' \t;' | sort)
	public=$(nm -g --defined-only "$TOP/build/libtapflow.a" | awk 'NF == 3 {print $3}' | sort -u |
		while read -r s; do
			grep -qE "^[^ */#	].*\b$s\b" "$USR"/include/tapflow/*.h && echo "$s"
		done)
	[ -n "$exported" ] || { fail "libtapflow.so exports nothing"; return 1; }
	expect_eq "$(comm -3 <(echo "$exported") <(echo "$mapped") | tr -d '\t' | tr '\n' ' ')" "" \
		"exported vs user/libtapflow.map" || return 1
	expect_eq "$(comm -23 <(echo "$public") <(echo "$mapped") | tr '\n' ' ')" "" \
		"declared in the public headers but missing from user/libtapflow.map (make symbol-map)" || return 1
	expect_eq "$(comm -13 <(echo "$public") <(echo "$mapped") | tr '\n' ' ')" "" \
		"in user/libtapflow.map but not public API (make symbol-map)" || return 1
}

# A VM manager's few lines: create a tap, trace it, be its backend for a few
# frames, read the per-queue counter, compare, and clean up.
write_program() {
	cat > "$1" <<'EOF'
#include <tapflow.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/if.h>
#include <linux/if_tun.h>

#define FRAMES 7

static int queue_open(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr)) {
		perror("attach a queue");
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct tf_tap_opts o = { .queues = 1, .multi_queue = true, .owner = TF_NO_ID,
				 .group = TF_NO_ID };
	const char *name = argv[1];
	unsigned char frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0xb5 };
	struct tf_tap_stats *st = NULL;
	size_t n = 0;
	int fd, backend = 0, rc = 1, i;
	unsigned long long got = ~0ULL;
	bool created;

	if (argc != 2)
		return 2;
	snprintf(o.name, sizeof(o.name), "%s", name);
	printf("libtapflow %s\n", tf_version());
	if (tf_tap_create(&o, &created) || !created) {
		fprintf(stderr, "create: %s\n", tf_errmsg());
		return 1;
	}
	if (tf_trace_start(&name, 1, TF_BACKEND_AUTO, &backend)) {
		fprintf(stderr, "trace: %s\n", tf_errmsg());
		goto out_tap;
	}
	fd = queue_open(name);
	if (fd < 0)
		goto out_trace;
	for (i = 0; i < FRAMES; i++)
		if (write(fd, frame, sizeof(frame)) != sizeof(frame))
			perror("write");
	close(fd);
	if (tf_trace_read(name, &st, &n) || n != 1 || st[0].nqueues < 1) {
		fprintf(stderr, "read: %s\n", tf_errmsg());
		goto out_trace;
	}
	got = st[0].q[0].c.rx_packets;
	printf("backend %s rx_packets %llu\n", tf_backend_name(backend), got);
	rc = got == FRAMES ? 0 : 1;
	tf_trace_stats_free(st, n);
out_trace:
	if (tf_trace_stop(&name, 1))
		fprintf(stderr, "trace stop: %s\n", tf_errmsg()), rc = 1;
out_tap:
	if (tf_tap_delete(name, false))
		fprintf(stderr, "delete: %s\n", tf_errmsg()), rc = 1;
	return rc;
}
EOF
}

test_pkgconfig_program() {
	local pc flags out tap
	installed || return 1
	# Relocated: the .pc says /usr; every path in it follows ${prefix}.
	pc=(env PKG_CONFIG_PATH="$USR/lib/pkgconfig" PKG_CONFIG_LIBDIR=/nonexistent
	    pkg-config --define-variable=prefix="$USR")
	flags=$("${pc[@]}" --cflags --libs tapflow) || { fail "pkg-config --cflags --libs tapflow failed"; return 1; }
	expect_eq "$("${pc[@]}" --variable=includedir tapflow)" "$USR/include" "includedir" || return 1
	[[ "$flags" == *"-I$USR/include/tapflow"* && "$flags" == *"-L$USR/lib"* ]] ||
		{ fail "pkg-config flags do not follow the prefix: $flags"; return 1; }
	write_program "$NSDIR/vmm.c"
	# shellcheck disable=SC2086
	out=$(cc -Wall -Werror -o "$NSDIR/vmm" "$NSDIR/vmm.c" $flags 2>&1) ||
		{ fail "building against the installed library failed: $out"; return 1; }
	readelf -d "$NSDIR/vmm" | grep -q 'NEEDED.*\[libtapflow.so.0\]' ||
		{ fail "the program does not link libtapflow.so.0"; return 1; }
	# and statically, with the archive and Libs.private
	# shellcheck disable=SC2046,SC2086
	out=$(cc -o "$NSDIR/vmm-static" "$NSDIR/vmm.c" $("${pc[@]}" --cflags tapflow) \
		"$USR/lib/libtapflow.a" $("${pc[@]}" --static --libs-only-l tapflow | sed 's/-ltapflow//') 2>&1) ||
		{ fail "linking the static archive with Libs.private failed: $out"; return 1; }
	tap=$(uniq_name tpi)
	on_exit "ip -n $NS link del $tap"
	out=$(nsrun "$NSDIR/vmm" "$tap" 2>&1) || { fail "the program failed: $(echo $out)"; return 1; }
	[[ "$out" == *"rx_packets 7"* ]] || { fail "unexpected output: $out"; return 1; }
	# it cleaned up after itself: no tap, no tracing left
	ip -n "$NS" link show "$tap" >/dev/null 2>&1 && { fail "the program left $tap behind"; return 1; }
	expect_eq "$(find /sys/fs/bpf/tapflow/trace -mindepth 1 2>/dev/null | wc -l)" 0 "trace pins left" || return 1
}

# Every command path of the CLI (trace start, fastpath rule add, ...), one a
# line, found the way a user would: Commands: of --help, then the words of
# each command's Usage lines.
cmd_paths() {
	local c
	for c in $("$USR/sbin/tapflow" --help | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }'); do
		cmd_walk "$c"
	done
}
cmd_walk() {
	local key="$*" sub w line
	echo "$key"
	"$USR/sbin/tapflow" "$@" --help 2>/dev/null | grep -E '^(Usage: |       )tapflow ' |
	while read -r line; do
		w=$(echo "${line#*tapflow $key}" | awk '{print $1}')
		[[ "$w" =~ ^[a-z][a-z|-]*$ ]] && echo "$w" | tr '|' '\n'
	done | sort -u | while read -r sub; do
		cmd_walk "$@" "$sub"
	done
}

test_man_documents_every_option() {
	local page path top opt missing="" sections
	installed || return 1
	command -v man >/dev/null || { skip "man is not installed"; return 77; }
	page=$(MANWIDTH=250 man -l "$USR/share/man/man8/tapflow.8" 2>/dev/null | col -b)
	[ -n "$page" ] || { fail "man -l tapflow.8 printed nothing"; return 1; }
	for sections in "NAME" "SYNOPSIS" "COMMANDS" "EXIT STATUS" "FILES" "EXAMPLES"; do
		grep -qx "$sections" <<< "$page" || { fail "tapflow(8) has no $sections section"; return 1; }
	done
	for opt in 0 1 2 3; do
		awk '/^EXIT STATUS$/ {on = 1; next} /^[A-Z]/ {on = 0} on' <<< "$page" | grep -qx "       $opt" ||
			{ fail "EXIT STATUS does not list $opt"; return 1; }
	done
	grep -q '/sys/fs/bpf/tapflow' <<< "$page" || { fail "FILES does not name /sys/fs/bpf/tapflow"; return 1; }
	while read -r path; do
		top=${path%% *}
		# the command's subsection: "   top" up to the next one or section
		local sect
		sect=$(awk -v c="$top" '$0 == "   " c {on = 1; next} on && (/^   [^ ]/ || /^[A-Z]/) {exit} on' <<< "$page")
		[ -n "$sect" ] || { missing+=" [$top: no section]"; continue; }
		for opt in $("$USR/sbin/tapflow" $path --help 2>/dev/null | sed -n '/^Options:/,$p' |
			grep -oE '^ +(-[a-zA-Z], )?--[a-z0-9.-]+' | grep -oE -- '--[a-z0-9.-]+'); do
			[ "$opt" = --help ] && continue
			grep -qE -- "^ +(-[a-zA-Z], )?${opt//./\\.}( |$)" <<< "$sect" || missing+=" $path:$opt"
		done
	done < <(cmd_paths)
	expect_eq "${missing# }" "" "options missing from tapflow(8)" || return 1
	for opt in -v -vv; do
		grep -qE -- "^ +$opt$" <<< "$page" || { fail "tapflow(8) lacks the global $opt"; return 1; }
	done
}

# complete WORDS...: what the installed completion offers for the last word,
# sorted, called as bash calls it (the function `complete -p tapflow` names,
# with COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT and its three
# arguments), with bash-completion's helpers loaded when it is installed.
COMPLETE_SH='
	[ -r /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
	. "$1"; shift
	fn=$(complete -p tapflow | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
	COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
	COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
	"$fn" tapflow "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf "%s\n" "${COMPREPLY[@]}" | sort -u | tr "\n" " " | sed "s/ $//"'
complete_words() {
	bash -c "$COMPLETE_SH" complete "$USR/share/bash-completion/completions/tapflow" "$@"
}

test_completion() {
	local tap
	installed || return 1
	bash -n "$USR/share/bash-completion/completions/tapflow" || { fail "completion has a syntax error"; return 1; }
	expect_eq "$(complete_words tapflow tr)" "trace" "tapflow tr<TAB>" || return 1
	expect_eq "$(complete_words tapflow trace s)" "start status stop" "trace s<TAB>" || return 1
	expect_eq "$(complete_words tapflow -v trace start --backend f)" "fentry" "--backend f<TAB>" || return 1
	expect_eq "$(complete_words tapflow create --vnet)" "--vnet-hdr" "create --vnet<TAB>" || return 1
	expect_eq "$(complete_words tapflow fastpath rule add --udp)" "--udp-dport" "rule add --udp<TAB>" || return 1
	tap=$(uniq_name tpc)
	expect_ok "create" tf create "$tap" || return 1
	# through ip netns exec: /sys/class/net is the namespace's there
	expect_eq "$(nsx bash -c "$COMPLETE_SH" c "$USR/share/bash-completion/completions/tapflow" \
		tapflow show "${tap:0:3}")" "$tap" "show <tap prefix><TAB>" || return 1
	# loaded the way bash-completion loads it, by the command's name
	if [ -r /usr/share/bash-completion/bash_completion ]; then
		[[ "$(BASH_COMPLETION_USER_DIR=$USR/share/bash-completion bash -c \
			'. /usr/share/bash-completion/bash_completion; __load_completion tapflow; complete -p tapflow')" == "complete -F "*" tapflow" ]] ||
			{ fail "bash-completion's loader does not find the completion"; return 1; }
	fi
}

run_tests
