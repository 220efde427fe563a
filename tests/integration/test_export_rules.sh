#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The Prometheus rules shipped in rules/: promtool accepts them and their
# unit tests (rules/tapflow.rules.test.yml) pass; every tapflow metric they
# (and their tests) name is one the exporter really emits; and a real
# Prometheus loading them against a real exporter and a traced tap with
# traffic computes the recording rules.

. "$(dirname "$0")/../lib.sh"

RULES=$TOP/rules
PORT=10725
PROM_PORT=19090

setup_tmp() {
	TMP=$(mktemp -d)
	on_exit "rm -rf $TMP"
}

test_promtool_check_and_unit_tests() {
	need promtool
	local out
	out=$(promtool check rules "$RULES/tapflow.rules.yml" 2>&1) || { fail "promtool check rules: $out"; return 1; }
	out=$(cd "$RULES" && promtool test rules tapflow.rules.test.yml 2>&1) ||
		{ fail "promtool test rules: $(echo "$out" | head -20)"; return 1; }
}

# A traced tap with traffic on 2 queues; $TAP, tf-load in the background.
traced_tap_with_traffic() {
	TAP=$(uniq_name te)
	expect_ok "create" tf create "$TAP" --queues 2 || return 1
	expect_ok "trace start" tf trace start "$TAP" || return 1
	on_exit "tf trace stop $TAP"
	nsrun "$TFLOAD" --dev "$TAP" "$@" > /dev/null 2>&1 &
}

test_rules_name_real_metrics() {
	setup_tmp
	traced_tap_with_traffic --queues 2 --count 100 --hold-ms 20000 || return 1
	local i
	for ((i = 0; i < 50; i++)); do
		tf export --once > "$TMP/m" || { fail "export --once failed"; return 1; }
		grep -q "^tapflow_rx_packets_total{tap=\"$TAP\",queue=\"1\"} 100$" "$TMP/m" && break
		sleep 0.1
	done
	grep '^# TYPE ' "$TMP/m" | awk '{ print $3 }' | sort -u > "$TMP/families"
	# Names in the rules and their tests, series suffixes folded into their family.
	grep -oh 'tapflow_[a-z0-9_]*' "$RULES/tapflow.rules.yml" "$RULES/tapflow.rules.test.yml" |
		sed -E 's/_(bucket|sum|count)$//' | sort -u > "$TMP/used"
	local name missing=""
	while read -r name; do
		# Only with `export --bpf-stats`, which this branch's exporter lacks (README, Rules).
		[ "$name" = tapflow_bpf_prog_run_seconds_total ] && continue
		grep -qx "$name" "$TMP/families" || missing="$missing $name"
	done < "$TMP/used"
	expect_eq "$missing" "" "metric names in rules/ that the exporter does not emit" || return 1
	[ "$(wc -l < "$TMP/used")" -ge 8 ] || { fail "only $(wc -l < "$TMP/used") names found in the rules"; return 1; }
}

test_prometheus_evaluates_the_rules() {
	need prometheus
	need jq
	setup_tmp
	traced_tap_with_traffic --queues 2 --count 20000 --rate 1000 --hold-ms 40000 || return 1
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" export --listen 127.0.0.1:$PORT > "$TMP/export.log" 2>&1 &
	cat > "$TMP/prom.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	  evaluation_interval: 1s
	rule_files:
	  - $RULES/tapflow.rules.yml
	scrape_configs:
	  - job_name: tapflow
	    static_configs:
	      - targets: ['127.0.0.1:$PORT']
	EOF
	nsrun prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/tsdb" \
		--web.listen-address=127.0.0.1:$PROM_PORT --log.level=warn > "$TMP/prom.log" 2>&1 &
	local r0 r1 imb i
	q() {
		nsrun curl -s --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
			jq -r '.data.result[0].value[1] // empty' 2>/dev/null
	}
	for ((i = 0; i < 300; i++)); do
		r0=$(q "tapflow:rx_packets:rate1m{tap=\"$TAP\",queue=\"0\"}")
		r1=$(q "tapflow:rx_packets:rate1m{tap=\"$TAP\",queue=\"1\"}")
		imb=$(q "tapflow:rx_queue_imbalance:ratio1m{tap=\"$TAP\"}")
		[ -n "$r0" ] && [ -n "$r1" ] && [ -n "$imb" ] && awk -v a="$r0" 'BEGIN { exit !(a > 0) }' && break
		sleep 0.1
	done
	echo "    Prometheus: tapflow:rx_packets:rate1m q0=$r0 q1=$r1 /s, tapflow:rx_queue_imbalance:ratio1m=$imb"
	[ -n "$r0" ] && [ -n "$r1" ] || { fail "recording rule tapflow:rx_packets:rate1m not computed"; tail -3 "$TMP/prom.log" >&2; return 1; }
	# tf-load writes the same rate on both queues: even, within rate()'s noise.
	awk -v x="$imb" 'BEGIN { exit !(x >= 1 && x < 1.3) }' || { fail "imbalance $imb on an even load"; return 1; }
	# Every query of the Grafana dashboard runs on this Prometheus (its
	# recording rules loaded), and those of the rx panels have data.
	local expr st n bad=""
	while IFS= read -r expr; do
		expr=${expr//\$__rate_interval/1m}
		expr=${expr//\$instance/.*}
		expr=${expr//\$tap/$TAP}
		st=$(nsrun curl -s --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$expr")
		[ "$(echo "$st" | jq -r .status)" = success ] || bad="$bad [$expr: $(echo "$st" | jq -r .error)]"
		case $expr in
		tapflow:rx_packets:rate1m*|tapflow:rx_bytes:rate1m*|tapflow:rx_queue_imbalance*)
			n=$(echo "$st" | jq '.data.result | length')
			[ "$n" -gt 0 ] || bad="$bad [$expr: no data]" ;;
		esac
	done < <(jq -r '.panels[].targets[].expr' "$TOP/dashboards/tapflow-grafana.json")
	expect_eq "$bad" "" "dashboard queries that fail" || return 1
	local rules
	rules=$(nsrun curl -s "http://127.0.0.1:$PROM_PORT/api/v1/rules" | jq -r '[.data.groups[].rules[] | select(.health != "ok")] | length')
	expect_eq "$rules" 0 "rules Prometheus reports unhealthy" || return 1
}

run_tests
