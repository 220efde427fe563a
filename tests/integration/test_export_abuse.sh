#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The exporter under abuse from the same address as its scraper (loopback
# of the test's namespace): hundreds of slowloris connections that send a
# header byte every 0.5 s and reconnect as soon as they are cut, for longer
# than libmicrohttpd's idle timeout (10 s); bursts of 200 parallel clients;
# garbage; 64 KB headers; half-closed sockets. Meanwhile a separate process
# scrapes as Prometheus would and times each scrape: every one must be
# answered in under 1 s, and the exporter's RSS must stay bounded. The
# clients are python3 (tests/tf-export-abuse.py), so nothing is
# shared with the exporter's code.

. "$(dirname "$0")/../lib.sh"

PORT=10725
ABUSE=$(dirname "$0")/../tf-export-abuse.py

setup_tmp() {
	TMP=$(mktemp -d)
	on_exit "rm -rf $TMP"
}

start_exporter() {
	rm -f "$TMP/export.log"	# a previous exporter's "serving" must not answer for this one
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" export --listen 127.0.0.1:$PORT "$@" > "$TMP/export.log" 2>&1 &
	EXPORTER=$!
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qs '^serving' "$TMP/export.log" && return 0
		kill -0 $EXPORTER 2>/dev/null || break
		sleep 0.05
	done
	fail "exporter did not come up: $(cat "$TMP/export.log")"
}

# abuse SLOW SECONDS: run the attack and the timed scraper; the scraper's
# summary line is in $TMP/probe.
abuse() {
	nsrun python3 "$ABUSE" attack --port $PORT --slow "$1" --seconds "$2" > "$TMP/attack" 2>&1 &
	local apid=$!
	sleep 1		# the slow connections are all open
	nsrun python3 "$ABUSE" probe --port $PORT --seconds "$(($2 - 2))" --pid $EXPORTER > "$TMP/probe" 2>&1
	local rc=$?
	wait $apid
	echo "    $(cat "$TMP/attack")"
	echo "    $(cat "$TMP/probe")"
	return $rc
}

# field NAME: NAME=VALUE from the probe's summary.
field() { tr ' ' '\n' < "$TMP/probe" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

test_slowloris_and_friends_do_not_blind_the_scraper() {
	need python3
	setup_tmp
	start_exporter || return 1
	# 600 slow connections: more than the 512 connection slots.
	abuse 600 16 || { fail "probe: $(cat "$TMP/probe")"; return 1; }
	local n max fails rss0 rss
	n=$(field scrapes) max=$(field max_ms) fails=$(field fails) rss0=$(field rss_start_kb) rss=$(field rss_max_kb)
	[ "${n:-0}" -ge 20 ] || { fail "only ${n:-0} scrapes in 14 s"; return 1; }
	expect_eq "$fails" 0 "scrapes that failed or were refused" || return 1
	[ "${max:-9999}" -lt 1000 ] || { fail "slowest scrape took $max ms"; return 1; }
	# 512 connections x 16 KiB of header memory, three snapshots: ~10 MB
	# at most above the start, whatever the clients do.
	[ $((rss - rss0)) -lt 32768 ] || { fail "RSS grew from $rss0 to $rss KiB"; return 1; }
	grep -q 'cut=[1-9]' "$TMP/attack" || { fail "no slow connection was ever cut: $(cat "$TMP/attack")"; return 1; }
	kill -0 $EXPORTER || { fail "exporter died: $(tail -3 "$TMP/export.log")"; return 1; }
}

# A request head has a deadline of its own: a connection trickling one
# header byte every 0.5 s (never idle for libmicrohttpd) is cut after ~5 s.
test_request_head_deadline() {
	need python3
	setup_tmp
	start_exporter || return 1
	local t
	t=$(nsrun python3 "$ABUSE" trickle --port $PORT --seconds 20)
	case $t in
	cut=*) ;;
	*) fail "trickling connection not cut: $t"; return 1 ;;
	esac
	t=${t#cut=}
	echo "    a trickling request head was cut after $t s"
	awk -v t="$t" 'BEGIN { exit !(t >= 4.5 && t < 7) }' || { fail "cut after $t s, want ~5"; return 1; }
}

# Without the privileges it needs, `export` fails at start with one line
# naming the missing capability (exit 1), instead of serving 500s.
test_unprivileged_fails_at_start() {
	need setpriv
	setup_tmp
	local tap
	tap=$(uniq_name te)
	expect_ok "create" tf create "$tap" || return 1
	expect_ok "trace start" tf trace start "$tap" || return 1
	on_exit "tf trace stop $tap"
	local as_nobody="setpriv --reuid 65534 --regid 65534 --clear-groups"
	nsrun $as_nobody --inh-caps=-all "$TAPFLOW" export --listen 127.0.0.1:$PORT > "$TMP/out" 2> "$TMP/err"
	expect_eq "$?" 1 "exit code without CAP_BPF" || return 1
	expect_eq "$(wc -l < "$TMP/err")" 1 "one line" || return 1
	grep -q "needs CAP_BPF" "$TMP/err" || { fail "no CAP_BPF in: $(cat "$TMP/err")"; return 1; }
	nsrun $as_nobody --inh-caps=-all "$TAPFLOW" export --once > "$TMP/out" 2> "$TMP/err"
	expect_eq "$?" 1 "exit code of --once without CAP_BPF" || return 1
	# CAP_BPF, but not the pins' owner: names the capability that would do.
	nsrun $as_nobody --inh-caps=+bpf --ambient-caps=+bpf "$TAPFLOW" export --listen 127.0.0.1:$PORT \
		> "$TMP/out" 2> "$TMP/err"
	expect_eq "$?" 1 "exit code with CAP_BPF, other user" || return 1
	expect_eq "$(wc -l < "$TMP/err")" 1 "one line" || return 1
	grep -q "needs CAP_DAC_OVERRIDE" "$TMP/err" || { fail "no CAP_DAC_OVERRIDE in: $(cat "$TMP/err")"; return 1; }
	nsrun curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" && { fail "something listens"; return 1; }
	# Both: it serves. (Tracing's layout 3 keeps the histograms in one
	# pinned array; layout 2's per-tap maps opened by id needed CAP_SYS_ADMIN.)
	nsrun $as_nobody --inh-caps=+bpf,+dac_override --ambient-caps=+bpf,+dac_override \
		"$TAPFLOW" export --once > "$TMP/m" 2> "$TMP/err"
	expect_eq "$?" 0 "export --once with CAP_BPF and CAP_DAC_OVERRIDE ($(cat "$TMP/err"))" || return 1
	grep -q '^tapflow_ring_wait_seconds_bucket{' "$TMP/m" || { fail "no histograms in the export"; return 1; }
	grep -q "^tapflow_queues_attached{tap=\"$tap\"}" "$TMP/m" || { fail "tap missing from the export"; return 1; }
}

run_tests
