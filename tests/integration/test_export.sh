#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `tapflow export` against real tracing: real multiqueue taps in a fresh
# namespace, traced by `tapflow trace start`, driven by tf-load (which holds
# its queues attached with --hold-ms while a test needs them attached). The output is checked by tools that share no code with tapflow:
# promtool, a real Prometheus server scraping the exporter (its HTTP API
# must report exactly the frames tf-load wrote), curl, and raw bytes through
# bash's /dev/tcp for clients that misbehave. The exporter runs inside the
# test's namespace on its loopback, so fixed ports never clash between runs.

. "$(dirname "$0")/../lib.sh"

PORT=10725		# the default, free inside a fresh namespace
PROM_PORT=19090
K=3000			# frames per queue

# A traced tap with Q queues; its name in $TAP.
traced_tap() {
	TAP=$(uniq_name te)
	expect_ok "create" tf create "$TAP" --queues "$1" || return 1
	expect_ok "trace start" tf trace start "$TAP" || return 1
	on_exit "tf trace stop $TAP"
}

# tf-load writing K frames per queue, then keeping the queues attached.
load() {
	nsrun "$TFLOAD" --dev "$TAP" "$@" > "$TMP/load.json" 2>&1 &
}

# Start the exporter in the namespace and wait until it answers.
start_exporter() {
	# nsenter execs tapflow, so $! is the exporter itself (signals reach it).
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" export "$@" > "$TMP/export.log" 2>&1 &
	EXPORTER=$!
	local i
	for ((i = 0; i < 100; i++)); do
		nsrun curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
		sleep 0.05
	done
	fail "exporter did not come up: $(cat "$TMP/export.log")"
}

scrape() { nsrun curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics"; }

# value SERIES: the sample's value in $TMP/m (exact series text).
value() { awk -v s="$1" 'index($0, s " ") == 1 { print $2 }' "$TMP/m"; }

setup_tmp() {
	TMP=$(mktemp -d)
	on_exit "rm -rf $TMP"
}

# ---- the output, checked by promtool and against tf-load ---------------------

test_real_output_promtool_and_counts() {
	need promtool
	setup_tmp
	traced_tap 4 || return 1
	load --queues 4 --count $K --hold-ms 20000
	sleep 0.5
	local q i
	# tf-load is done writing when the counters stop moving at K.
	for ((i = 0; i < 100; i++)); do
		tf export --once > "$TMP/m" || { fail "export --once failed"; return 1; }
		[ "$(value "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"3\"}")" = $K ] && break
		sleep 0.1
	done
	local out
	out=$(promtool check metrics < "$TMP/m" 2>&1) || { fail "promtool: $out"; return 1; }
	for q in 0 1 2 3; do
		expect_eq "$(value "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"$q\"}")" $K "rx_packets q$q" || return 1
		expect_eq "$(value "tapflow_rx_bytes_total{tap=\"$TAP\",queue=\"$q\"}")" $((K * 64)) "rx_bytes q$q" || return 1
		expect_eq "$(value "tapflow_tx_dropped_total{tap=\"$TAP\",queue=\"$q\",reason=\"ring_full\"}")" 0 "ring_full q$q" || return 1
		# Histograms: +Inf equals _count for every series.
		expect_eq "$(value "tapflow_ring_occupancy_bucket{tap=\"$TAP\",queue=\"$q\",le=\"+Inf\"}")" \
			"$(value "tapflow_ring_occupancy_count{tap=\"$TAP\",queue=\"$q\"}")" "+Inf == _count q$q" || return 1
	done
	expect_eq "$(value "tapflow_queues_attached{tap=\"$TAP\"}")" 4 "queues_attached" || return 1
	grep -q "^tapflow_info{tap=\"$TAP\",version=\"[^\"]*\",backend=\"\(tracepoint\|kprobe\|fentry\)\"} 1$" "$TMP/m" ||
		{ fail "no tapflow_info for $TAP"; return 1; }
	# HELP and TYPE exactly once per family.
	out=$(grep '^# TYPE' "$TMP/m" | awk '{print $3}' | sort | uniq -d)
	expect_eq "$out" "" "families declared twice" || return 1
	# The tracepoint backend does not measure rx time: no family for it.
	if grep -q 'backend="tracepoint"' "$TMP/m"; then
		grep -q "tapflow_rx_seconds.*tap=\"$TAP\"" "$TMP/m" && { fail "rx_seconds on a tracepoint tap"; return 1; }
	fi
	return 0
}

# A detached queue keeps its counters (queue_attached 0), so a stopped VM's
# series do not end; a tapflow tap's configured queues are listed before any
# backend; only a deleted tap leaves the export.
test_detached_kept_deleted_gone() {
	setup_tmp
	traced_tap 2 || return 1
	tf export --once > "$TMP/m"
	expect_eq "$(value "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"1\"}")" 0 "configured queue before any backend" || return 1
	expect_eq "$(value "tapflow_queue_attached{tap=\"$TAP\",queue=\"1\"}")" 0 "not attached yet" || return 1
	load --queues 2 --count 100 --hold-ms 1000
	local pid=$! i
	sleep 0.5
	tf export --once > "$TMP/m"
	expect_eq "$(value "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"1\"}")" 100 "while attached" || return 1
	expect_eq "$(value "tapflow_queue_attached{tap=\"$TAP\",queue=\"1\"}")" 1 "attached" || return 1
	wait $pid
	tf export --once > "$TMP/m"
	expect_eq "$(value "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"1\"}")" 100 "kept once detached" || return 1
	expect_eq "$(value "tapflow_rx_bytes_total{tap=\"$TAP\",queue=\"0\"}")" 6400 "bytes kept" || return 1
	expect_eq "$(value "tapflow_queue_attached{tap=\"$TAP\",queue=\"1\"}")" 0 "queue_attached once detached" || return 1
	expect_eq "$(value "tapflow_queues_attached{tap=\"$TAP\"}")" 0 "queues_attached once detached" || return 1
	ip -n "$NS" link del "$TAP"
	tf export --once > "$TMP/m"
	expect_eq "$(grep -c "tap=\"$TAP\"" "$TMP/m")" 0 "series of a deleted tap" || return 1
}

# A foreign tap (ip tuntap, not tapflow's): a queue that counted stays after
# its backend left, one that never counted is not made up.
test_foreign_tap_queue_that_counted_kept() {
	setup_tmp
	TAP=$(uniq_name tf)
	ip -n "$NS" tuntap add dev "$TAP" mode tap multi_queue || { fail "ip tuntap"; return 1; }
	ip -n "$NS" link set "$TAP" up
	expect_ok "trace start" tf trace start "$TAP" || return 1
	on_exit "tf trace stop $TAP"
	nsrun "$TFLOAD" --dev "$TAP" --queues 2 --queue-list 1 --count 50 > "$TMP/load.json" 2>&1 || { fail "tf-load: $(cat "$TMP/load.json")"; return 1; }
	tf export --once > "$TMP/m"
	expect_eq "$(value "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"1\"}")" 50 "queue 1 counted, kept" || return 1
	expect_eq "$(value "tapflow_queue_attached{tap=\"$TAP\",queue=\"1\"}")" 0 "queue 1 detached" || return 1
	expect_eq "$(grep -c "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"0\"}" "$TMP/m")" 0 "queue 0 never counted: absent" || return 1
}

# tapflow_tap_backend_info names the process holding the tap, found in the
# scrape after it attached, and kept (the last known) once it detached.
test_backend_info() {
	setup_tmp
	traced_tap 2 || return 1
	load --queues 2 --count 10 --hold-ms 1500
	local job=$! bpid
	sleep 0.5
	tf export --once > "$TMP/m"
	bpid=$(sed -n "s/^tapflow_tap_backend_info{tap=\"$TAP\",vm=\"tf-load\",pid=\"\([0-9]*\)\",comm=\"tf-load\",cgroup=\"\/[^\"]*\"} 1$/\1/p" "$TMP/m")
	[ -n "$bpid" ] || { fail "no backend_info for $TAP: $(grep backend_info "$TMP/m")"; return 1; }
	expect_eq "$(cat "/proc/$bpid/comm" 2>&1)" tf-load "pid $bpid is the tf-load holding the tap" || return 1
	wait $job
	# a long-running exporter: found at the first scrape after an attach, kept once detached
	start_exporter
	on_exit "kill $EXPORTER"
	scrape > "$TMP/m"
	expect_eq "$(grep -c "tapflow_tap_backend_info{tap=\"$TAP\"" "$TMP/m")" 0 "a fresh exporter, no holder: none" || return 1
	load --queues 2 --count 10 --hold-ms 800
	job=$!
	sleep 0.4
	scrape > "$TMP/m"
	bpid=$(sed -n "s/^tapflow_tap_backend_info{tap=\"$TAP\",vm=\"tf-load\",pid=\"\([0-9]*\)\",.*/\1/p" "$TMP/m")
	[ -n "$bpid" ] || { fail "attach not seen: $(grep backend_info "$TMP/m")"; return 1; }
	wait $job
	scrape > "$TMP/m"
	grep -q "^tapflow_tap_backend_info{tap=\"$TAP\",vm=\"tf-load\",pid=\"$bpid\"," "$TMP/m" ||
		{ fail "last known not kept: $(grep backend_info "$TMP/m")"; return 1; }
	local out
	if command -v promtool >/dev/null; then
		out=$(promtool check metrics < "$TMP/m" 2>&1) || { fail "promtool: $out"; return 1; }
	fi
	return 0
}

# --histograms tap: one series per tap, the queues' samples added up; off: none.
test_histogram_modes() {
	setup_tmp
	traced_tap 2 || return 1
	nsrun "$TFLOAD" --dev "$TAP" --queues 2 --count 20 >/dev/null 2>&1 || { fail "tf-load"; return 1; }
	tf export --once --histograms tap > "$TMP/t"
	tf export --once --histograms off > "$TMP/o"
	tf export --once > "$TMP/q"
	expect_eq "$(grep -c "^tapflow_ring_occupancy_count{tap=\"$TAP\"}" "$TMP/t")" 1 "tap mode: one series" || return 1
	expect_eq "$(grep -c "^tapflow_ring_occupancy_count{tap=\"$TAP\",queue=" "$TMP/q")" 2 "queue mode: one per queue" || return 1
	expect_eq "$(grep -c '_bucket{' "$TMP/o")" 0 "off: no buckets" || return 1
	expect_eq "$(grep -c "^tapflow_rx_packets_total{tap=\"$TAP\"," "$TMP/o")" 2 "off: counters per queue" || return 1
	if command -v promtool >/dev/null; then
		local out
		out=$(promtool check metrics < "$TMP/t" 2>&1) || { fail "promtool (tap): $out"; return 1; }
	fi
	expect_fail "bad mode" "histograms" tf export --once --histograms none || return 1
}

# ---- the fast path's counters --------------------------------------------------

# Two accelerated taps, K frames A -> B through the fast path on A's queue 1:
# the export has exactly them as redirect_tap on port A, queue 1, and the
# text passes promtool; with the fast path off, the family is gone.
test_fastpath_counters() {
	need promtool
	need jq
	setup_tmp
	local a b macb=02:00:00:00:0b:01 out
	a=$(uniq_name ea) b=$(uniq_name eb)
	expect_ok "create A" tf create "$a" --queues 2 --txqueuelen 4096 --fastpath || return 1
	on_exit "tf delete $a"
	expect_ok "create B" tf create "$b" --queues 1 --txqueuelen 4096 --fastpath || return 1
	on_exit "tf delete $b"
	nsrun "$TFLOAD" --dev "$b" --count 1 --src-mac "$macb" --dst-mac ff:ff:ff:ff:ff:ff >/dev/null ||
		{ fail "tf-load on B"; return 1; }
	nsrun "$TFLOAD" --dev "$b" --read --idle-ms 600 > "$TMP/b.json" 2>&1 &
	local reader=$!
	sleep 0.3
	nsrun "$TFLOAD" --dev "$a" --queues 2 --queue-list 1 --count $K --rate 40000 --dst-mac "$macb" \
		> "$TMP/a.json" 2>&1 || { fail "tf-load on A: $(tail -1 "$TMP/a.json")"; return 1; }
	wait "$reader"
	tf export --once > "$TMP/m" || { fail "export --once failed"; return 1; }
	out=$(promtool check metrics < "$TMP/m" 2>&1) || { fail "promtool: $out"; return 1; }
	expect_eq "$(value "tapflow_fastpath_packets_total{port=\"$a\",queue=\"1\",action=\"redirect_tap\"}")" $K \
		"redirect_tap on A queue 1" || return 1
	expect_eq "$(value "tapflow_fastpath_bytes_total{port=\"$a\",queue=\"1\",action=\"redirect_tap\"}")" \
		$((K * 64)) "redirect_tap bytes" || return 1
	expect_eq "$(value "tapflow_fastpath_packets_total{port=\"$a\",queue=\"1\",action=\"pass\"}")" 0 \
		"pass on A queue 1" || return 1
	expect_eq "$(grep -c "^tapflow_fastpath_packets_total{port=\"$a\",queue=\"0\"" "$TMP/m")" 0 \
		"series for A's idle queue 0" || return 1
	# B's one broadcast, passed to the host stack, and the MAC it taught
	expect_eq "$(value "tapflow_fastpath_packets_total{port=\"$b\",queue=\"0\",action=\"pass\"}")" 1 \
		"B's broadcast" || return 1
	expect_eq "$(value "tapflow_fastpath_learned_total{port=\"$b\",queue=\"0\"}")" 1 "B learned" || return 1
	expect_eq "$(jq .rx_frames "$TMP/b.json")" $K "frames B read" || return 1
	expect_ok "fastpath off A" tf fastpath off "$a" || return 1
	expect_ok "fastpath off B" tf fastpath off "$b" || return 1
	tf export --once > "$TMP/m" || { fail "export --once failed"; return 1; }
	expect_eq "$(grep -c '^tapflow_fastpath' "$TMP/m")" 0 "fast path series once off" || return 1
}

# ---- a real Prometheus --------------------------------------------------------

test_prometheus_scrapes_exact_counts() {
	need prometheus
	need jq
	setup_tmp
	traced_tap 2 || return 1
	start_exporter --listen 127.0.0.1:$PORT || return 1
	cat > "$TMP/prom.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: tapflow
	    static_configs:
	      - targets: ['127.0.0.1:$PORT']
	EOF
	# nsenter itself in the background (not the nsrun function, whose
	# subshell the teardown would kill while prometheus lives on)
	nsenter --net="/run/netns/$NS" -- prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/tsdb" \
		--web.listen-address=127.0.0.1:$PROM_PORT --log.level=warn > "$TMP/prom.log" 2>&1 &
	local q1 up i
	# Wait for Prometheus' first successful scrape, so it sees the ramp.
	for ((i = 0; i < 200; i++)); do
		up=$(nsrun curl -s --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
			--data-urlencode 'query=up{job="tapflow"}' | jq -r '.data.result[0].value[1] // empty' 2>/dev/null)
		[ "$up" = 1 ] && break
		sleep 0.1
	done
	expect_eq "$up" 1 "Prometheus scraping tapflow" || { tail -3 "$TMP/prom.log" >&2; return 1; }
	# Traffic at a known rate while Prometheus scrapes: 3000 frames/queue over 3 s.
	load --queues 2 --count $K --rate 1000 --hold-ms 30000
	for ((i = 0; i < 200; i++)); do
		q1=$(nsrun curl -s --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
			--data-urlencode "query=tapflow_rx_packets_total{tap=\"$TAP\",queue=\"1\"}" |
			jq -r '.data.result[0].value[1] // empty' 2>/dev/null)
		[ "$q1" = $K ] && break
		sleep 0.1
	done
	expect_eq "$q1" $K "Prometheus' tapflow_rx_packets_total{queue=1}" || { tail -3 "$TMP/prom.log" >&2; return 1; }
	# Prometheus saw the counter rise, not just its last value.
	local rate
	rate=$(nsrun curl -s "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=max_over_time(tapflow_rx_packets_total{tap=\"$TAP\",queue=\"0\"}[1m]) - min_over_time(tapflow_rx_packets_total{tap=\"$TAP\",queue=\"0\"}[1m])" |
		jq -r '.data.result[0].value[1]')
	[ "${rate:-0}" -gt 0 ] || { fail "no increase seen by Prometheus (got '$rate')"; return 1; }
}

# ---- the endpoint holds up -----------------------------------------------------

# raw BYTES: send BYTES on a fresh connection, print the status line or "closed".
raw() {
	nsrun timeout 5 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"$PORT"' || exit 1
		printf "%b" "$1" >&3
		line=$(head -1 <&3 | tr -d "\r")
		echo "${line:-closed}"' _ "$1"
}

test_endpoint_holds_up() {
	setup_tmp
	traced_tap 4 || return 1
	load --queues 4 --count 100 --hold-ms 60000
	start_exporter --listen 127.0.0.1:$PORT || return 1
	local i code s t0 t1

	# Slow clients: one sends a header byte per second, one sends nothing.
	nsrun timeout 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'
		for c in G E T " " / m e t r i c s; do printf "%s" "$c" >&3; sleep 1; done; sleep 30' &
	nsrun timeout 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'; sleep 30' &
	sleep 0.3
	t0=$(date +%s%N)
	scrape > "$TMP/m" || { fail "scrape beside slow clients failed"; return 1; }
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 1000 ] || { fail "scrape beside slow clients took $(((t1 - t0) / 1000000)) ms"; return 1; }
	grep -q "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"0\"} 100" "$TMP/m" || { fail "wrong body"; return 1; }

	# 200 parallel scrapes: every one gets the whole text.
	# (each curl is waited for: its --max-time bounds it, and on a loaded
	# machine starting 200 of them can itself take longer than a poll)
	local pids=()
	for ((i = 0; i < 200; i++)); do
		nsrun curl -s --max-time 20 -o "$TMP/p$i" -w '%{http_code}\n' "http://127.0.0.1:$PORT/metrics" > "$TMP/c$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	expect_eq "$(cat "$TMP"/c* | grep -c '^200$')" 200 "parallel scrapes answered 200" || return 1
	expect_eq "$(grep -l "tapflow_scrape_duration_seconds" "$TMP"/p* | wc -l)" 200 "complete bodies" || return 1

	# Methods, paths.
	for m in POST PUT DELETE PATCH OPTIONS; do
		code=$(nsrun curl -s -o /dev/null -w '%{http_code}' -X $m "http://127.0.0.1:$PORT/metrics")
		expect_eq "$code" 405 "$m /metrics" || return 1
	done
	code=$(nsrun curl -s -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$PORT/metrics")
	expect_eq "$code" 200 "HEAD /metrics" || return 1
	for p in /nope /metrics/ /metricsx "/..%2f..%2fetc/passwd"; do
		code=$(nsrun curl -s -o /dev/null -w '%{http_code}' --path-as-is "http://127.0.0.1:$PORT$p")
		expect_eq "$code" 404 "GET $p" || return 1
	done

	# A 64 KB header: refused (431/413/400) or the connection closed.
	code=$(nsrun curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 65536 /dev/zero | tr '\0' a)" \
		"http://127.0.0.1:$PORT/metrics")
	case $code in 431|413|400|000) ;; *) fail "64 KB header got $code"; return 1 ;; esac

	# Garbage: an error status or a closed connection, never 200.
	for g in '\x00\x01\x02\xff\xfe\r\n\r\n' 'GET\r\n\r\n' 'GET /metrics HTTP/9.9\r\n\r\n' \
		 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n' \
		 '\r\n\r\n\r\n' "$(head -c 4096 /dev/urandom | base64 -w0)\r\n\r\n"; do
		s=$(raw "$g")
		case $s in *" 200 "*) fail "garbage '${g:0:30}' got: $s"; return 1 ;; esac
	done

	# Good headers, junk body: a GET is answered from its headers alone, so
	# any status will do; what matters is that nothing breaks afterwards.
	raw 'GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' > /dev/null

	# Still alive and serving.
	kill -0 "$EXPORTER" 2>/dev/null || { fail "exporter died: $(tail -3 "$TMP/export.log")"; return 1; }
	scrape > "$TMP/m" || { fail "no scrape after abuse"; return 1; }
	expect_eq "$(value "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"3\"}")" 100 "after abuse" || return 1
	kill -TERM "$EXPORTER"
	wait "$EXPORTER"
	expect_eq $? 0 "exit status after SIGTERM" || return 1
}

# ---- textfile, CLI --------------------------------------------------------------

test_textfile_atomic_0644() {
	need promtool
	setup_tmp
	traced_tap 1 || return 1
	load --queues 1 --count 10 --hold-ms 60000
	sleep 0.3
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" export --textfile "$TMP/tapflow.prom" --interval 0.2 > "$TMP/export.log" 2>&1 &
	local pid=$! i
	for ((i = 0; i < 100; i++)); do [ -s "$TMP/tapflow.prom" ] && break; sleep 0.05; done
	expect_eq "$(stat -c %a "$TMP/tapflow.prom")" 644 "mode" || return 1
	# A hard link keeps the first file's inode alive, so a rewrite by rename
	# must show a different inode (a freed one could be handed out again).
	ln "$TMP/tapflow.prom" "$TMP/first" || return 1
	sleep 0.7
	[ "$(stat -c %i "$TMP/tapflow.prom")" != "$(stat -c %i "$TMP/first")" ] ||
		{ fail "textfile not rewritten by rename (same inode after 0.7 s at --interval 0.2)"; return 1; }
	rm -f "$TMP/first"
	cp "$TMP/tapflow.prom" "$TMP/m"
	expect_eq "$(value "tapflow_rx_packets_total{tap=\"$TAP\",queue=\"0\"}")" 10 "textfile value" || return 1
	promtool check metrics < "$TMP/m" > /dev/null 2>&1 || { fail "promtool rejects the textfile"; return 1; }
	# No port is opened unless asked.
	nsrun curl -s -o /dev/null "http://127.0.0.1:$PORT/" && { fail "textfile mode listens"; return 1; }
	kill -TERM $pid
	wait $pid
	expect_eq $? 0 "exit after SIGTERM" || return 1
	expect_eq "$(ls "$TMP" | grep -c '\.tmp\.')" 0 "temporaries left" || return 1
}

test_cli_errors() {
	setup_tmp
	expect_fail "bare v6" "brackets" tf export --listen ::1:80 || return 1
	expect_fail "no port" "no port" tf export --listen 127.0.0.1 || return 1
	expect_fail "once+listen" "once" tf export --once --listen :1 || return 1
	expect_fail "interval without textfile" "textfile" tf export --interval 1 || return 1
	expect_fail "missing dir" "missing" tf export --once --textfile "$TMP/missing/x.prom" || return 1
	# Port in use: one line that names it.
	start_exporter --listen 127.0.0.1:$PORT || return 1
	expect_fail "port in use" "127.0.0.1:$PORT is in use" tf export --listen 127.0.0.1:$PORT || return 1
	# Not an address of this namespace.
	expect_fail "foreign address" "not an address of this host" tf export --listen 192.0.2.1:$PORT || return 1
}

run_tests
