#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# `tapflow export --web.config.file`: TLS and basic auth on /metrics in the
# exporter-toolkit format, checked with clients that share no code with
# tapflow: a real Prometheus scraping over HTTPS with a client certificate
# and a password, curl for what must be refused, openssl for the
# certificates (a CA, a server and a client certificate it signed, and a
# self-signed client certificate it did not) and python3's crypt (libcrypt)
# for the bcrypt hash. Everything runs on the loopback of the test's own
# namespace.

. "$(dirname "$0")/../lib.sh"

PORT=10725
PROM_PORT=19090
PASS=s3cret-Pw

setup_tmp() {
	TMP=$(mktemp -d)
	on_exit "rm -rf $TMP"
}

# A CA, a server certificate for 127.0.0.1, a client certificate it signed,
# and an untrusted (self-signed) client certificate, in $TMP.
make_certs() {
	local k="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
	(
		cd "$TMP" || exit 1
		openssl req -x509 $k -keyout ca.key -out ca.crt -days 2 -subj /CN=tapflow-test-ca &&
		openssl req $k -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
		printf 'subjectAltName=IP:127.0.0.1\n' > srv.ext &&
		openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt \
			-days 2 -extfile srv.ext &&
		openssl req $k -keyout cli.key -out cli.csr -subj /CN=prometheus &&
		openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2 &&
		openssl req -x509 $k -keyout evil.key -out evil.crt -days 2 -subj /CN=untrusted
	) > "$TMP/openssl.log" 2>&1 || { fail "openssl: $(tail -1 "$TMP/openssl.log")"; return 1; }
	chmod 600 "$TMP"/*.key
}

# bcrypt hash of $1 at cost 10, by libcrypt through python3.
bcrypt() {
	python3 -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))' "$1"
}

# web_config CLIENT_AUTH: TLS with that client_auth_type, user prom.
web_config() {
	local hash
	hash=$(bcrypt "$PASS") || { fail "no bcrypt from python3's crypt"; return 1; }
	case $hash in '$2b$10$'*) ;; *) fail "python3 crypt gave '$hash', not bcrypt"; return 1 ;; esac
	{
		echo "tls_server_config:"
		echo "  cert_file: srv.crt"		# relative: taken from the file's directory
		echo "  key_file: $TMP/srv.key"
		if [ "$1" != NoClientCert ]; then
			echo "  client_ca_file: ca.crt"
		fi
		echo "  client_auth_type: $1"
		echo "basic_auth_users:"
		echo "  prom: '$hash'"
	} > "$TMP/web.yml"
}

start_exporter() {
	# the previous exporter's log must not answer for this one: the
	# background redirect truncates it only once the child runs
	rm -f "$TMP/export.log"
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

# code ARGS...: curl's HTTP status ("000" when there was none) and exit code.
code() {
	nsrun curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TMP/ca.crt" "$@"
	echo " $?"
}

prom_query() {
	nsrun curl -s --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}

# Prometheus scrapes over HTTPS with the client certificate and the
# password (up = 1, tapflow's own series stored); what lacks either is
# refused, and the exporter keeps serving Prometheus through it all.
test_prometheus_https_client_cert_and_password() {
	need prometheus
	need openssl
	need jq
	setup_tmp
	make_certs || return 1
	web_config RequireAndVerifyClientCert || return 1
	start_exporter --web.config.file "$TMP/web.yml" || return 1
	grep -q "^serving https://127.0.0.1:$PORT/metrics" "$TMP/export.log" ||
		{ fail "not serving https: $(cat "$TMP/export.log")"; return 1; }
	cat > "$TMP/prom.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: tapflow
	    scheme: https
	    tls_config:
	      ca_file: $TMP/ca.crt
	      cert_file: $TMP/cli.crt
	      key_file: $TMP/cli.key
	    basic_auth:
	      username: prom
	      password: $PASS
	    static_configs:
	      - targets: ['127.0.0.1:$PORT']
	EOF
	nsrun prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/tsdb" \
		--web.listen-address=127.0.0.1:$PROM_PORT --log.level=warn > "$TMP/prom.log" 2>&1 &
	local pid=$! up i
	on_exit "kill $pid"
	for ((i = 0; i < 200; i++)); do
		up=$(prom_query 'up{job="tapflow"}')
		[ "$up" = 1 ] && break
		sleep 0.1
	done
	expect_eq "$up" 1 "Prometheus scraping tapflow over HTTPS" || { tail -3 "$TMP/prom.log" >&2; return 1; }
	expect_eq "$(prom_query 'tapflow_build_info')" 1 "tapflow_build_info stored by Prometheus" || return 1

	local good="--cert $TMP/cli.crt --key $TMP/cli.key" url="https://127.0.0.1:$PORT/metrics"
	expect_eq "$(code $good -u prom:$PASS $url)" "200 0" "right certificate and password" || return 1
	expect_eq "$(code $good -u prom:wrong $url)" "401 0" "wrong password" || return 1
	expect_eq "$(code $good -u nobody:$PASS $url)" "401 0" "unknown user" || return 1
	expect_eq "$(code $good $url)" "401 0" "no password" || return 1
	# Refused by TLS: no HTTP status at all. TLS 1.2 fails in the handshake
	# itself (curl 35); under TLS 1.3 the client sends its certificate after
	# the server's Finished, so curl sees the connection dropped (52/56).
	local r
	r=$(code --cert "$TMP/evil.crt" --key "$TMP/evil.key" -u prom:$PASS --tls-max 1.2 $url)
	expect_eq "$r" "000 35" "untrusted client certificate, TLS 1.2 (handshake failure)" || return 1
	r=$(code --cert "$TMP/evil.crt" --key "$TMP/evil.key" -u prom:$PASS $url)
	case $r in "000 35"|"000 52"|"000 56") ;; *) fail "untrusted client certificate, TLS 1.3: got '$r'"; return 1 ;; esac
	r=$(code -u prom:$PASS --tls-max 1.2 $url)
	expect_eq "$r" "000 35" "no client certificate, TLS 1.2" || return 1
	r=$(code -u prom:$PASS "http://127.0.0.1:$PORT/metrics")
	case $r in "000 52"|"000 56") ;; *) fail "plain HTTP to the TLS port: got '$r'"; return 1 ;; esac

	# Prometheus was not disturbed: it keeps scraping successfully.
	local before after
	before=$(prom_query 'prometheus_target_scrapes_sample_out_of_order_total') # warm the API
	before=$(prom_query 'count_over_time(up{job="tapflow"}[1h])')
	sleep 2.5
	after=$(prom_query 'count_over_time(up{job="tapflow"}[1h])')
	[ "${after:-0}" -gt "${before:-0}" ] || { fail "Prometheus stopped scraping ($before -> $after)"; return 1; }
	expect_eq "$(prom_query 'min_over_time(up{job="tapflow"}[1h])')" 1 "every scrape up" || return 1
	kill -0 $EXPORTER || { fail "exporter died"; return 1; }
}

# 200 clients with wrong passwords at once do not stall the right one: its
# password is cached once verified, wrong ones are checked off the HTTP
# threads (and refused with 429 when too many wait).
test_wrong_passwords_do_not_stall_the_right_one() {
	need openssl
	setup_tmp
	make_certs || return 1
	web_config NoClientCert || return 1
	start_exporter --web.config.file "$TMP/web.yml" || return 1
	local url="https://127.0.0.1:$PORT/metrics" i r ms max=0 n=0
	mkdir "$TMP/out"
	expect_eq "$(code -u prom:$PASS $url)" "200 0" "first scrape (pays bcrypt)" || return 1
	for ((i = 0; i < 200; i++)); do
		nsrun curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 --cacert "$TMP/ca.crt" \
			-u "prom:wrong$i" "$url" > "$TMP/out/w$i" &
	done
	# The right client while the flood is under way.
	# Its time is curl's own (connect to last byte), not the fork and exec
	# of a process among 200 others on two CPUs.
	for ((i = 0; i < 20; i++)); do
		r=$(nsrun curl -s -o /dev/null -w '%{http_code} %{exitcode} %{time_total}' --max-time 5 \
			--cacert "$TMP/ca.crt" -u prom:$PASS $url)
		expect_eq "${r% *}" "200 0" "right password during the flood (#$i)" || return 1
		ms=$(awk -v t="${r##* }" 'BEGIN { printf "%d", t * 1000 }')
		[ $ms -gt $max ] && max=$ms
		sleep 0.1
	done
	for ((i = 0; i < 600; i++)); do
		n=$(cat "$TMP"/out/w* 2>/dev/null | grep -c .)
		[ "$n" -ge 200 ] && break
		sleep 0.05
	done
	echo "    right client's slowest scrape during 200 wrong-password clients: $max ms;" \
		"wrong ones: $(cat "$TMP"/out/w* | grep -c '^401$') x 401, $(cat "$TMP"/out/w* | grep -c '^429$') x 429"
	[ $max -lt 1000 ] || { fail "right client took $max ms"; return 1; }
	expect_eq "$(cat "$TMP"/out/w* | grep -c '^\(401\|429\)$')" 200 "wrong passwords refused (401/429)" || return 1
}

# Basic auth without TLS, and VerifyClientCertIfGiven: no certificate is
# fine, an untrusted one is not.
test_auth_without_tls_and_verify_if_given() {
	need openssl
	setup_tmp
	printf 'basic_auth_users:\n  prom: %s\n' "$(bcrypt "$PASS")" > "$TMP/web.yml"
	start_exporter --web.config.file "$TMP/web.yml" || return 1
	grep -q '^serving http://' "$TMP/export.log" || { fail "want plain http: $(cat "$TMP/export.log")"; return 1; }
	expect_eq "$(code http://127.0.0.1:$PORT/metrics)" "401 0" "no password, plain HTTP" || return 1
	expect_eq "$(code -u prom:$PASS http://127.0.0.1:$PORT/metrics)" "200 0" "password, plain HTTP" || return 1
	kill $EXPORTER; wait $EXPORTER

	make_certs || return 1
	web_config VerifyClientCertIfGiven || return 1
	start_exporter --web.config.file "$TMP/web.yml" || return 1
	local url="https://127.0.0.1:$PORT/metrics"
	expect_eq "$(code -u prom:$PASS $url)" "200 0" "no client certificate (if given)" || return 1
	expect_eq "$(code --cert "$TMP/cli.crt" --key "$TMP/cli.key" -u prom:$PASS $url)" "200 0" \
		"trusted client certificate (if given)" || return 1
	expect_eq "$(code --cert "$TMP/evil.crt" --key "$TMP/evil.key" -u prom:$PASS --tls-max 1.2 $url)" \
		"000 35" "untrusted client certificate (if given)" || return 1
}

# A TLS handshake is part of the request head's deadline (5 s): a client
# that connects and never starts it loses its slot then, not after the 10 s
# idle timeout.
test_handshake_deadline() {
	need openssl python3
	setup_tmp
	make_certs || return 1
	web_config NoClientCert || return 1
	start_exporter --web.config.file "$TMP/web.yml" || return 1
	local t
	t=$(nsrun python3 "$TOP/tests/tf-export-abuse.py" trickle --idle --port $PORT --seconds 20)
	case $t in cut=*) ;; *) fail "silent TLS connection not cut: $t"; return 1 ;; esac
	t=${t#cut=}
	echo "    a connection that never began its TLS handshake was cut after $t s"
	awk -v t="$t" 'BEGIN { exit !(t >= 4.5 && t < 7) }' || { fail "cut after $t s, want ~5"; return 1; }
	expect_eq "$(code -u prom:$PASS https://127.0.0.1:$PORT/metrics)" "200 0" "serving after" || return 1
}

# Bad configs: one line naming the problem, exit 2, before anything serves.
test_bad_configs_refused_at_start() {
	need openssl
	setup_tmp
	make_certs || return 1
	local h c
	h=$(bcrypt "$PASS")
	bad() {		# bad WHAT PATTERN YAML
		printf '%b' "$3" > "$TMP/bad.yml"
		tf export --listen 127.0.0.1:$PORT --web.config.file "$TMP/bad.yml" > "$TMP/out" 2> "$TMP/err"
		c=$?
		expect_eq "$c" 2 "exit code, $1" || return 1
		expect_eq "$(wc -l < "$TMP/err")" 1 "one line, $1" || return 1
		grep -q -- "$2" "$TMP/err" || { fail "$1: '$(cat "$TMP/err")' lacks '$2'"; return 1; }
	}
	local T="tls_server_config:\n  cert_file: $TMP/srv.crt\n  key_file: $TMP/srv.key\n"
	bad "not YAML" "line" "tls_server_config: [\n" || return 1
	bad "unknown key" "'rate_limit' is not supported" "rate_limit:\n  burst: 2\n" || return 1
	bad "unsupported TLS key" "'cipher_suites' is not supported" "${T}  cipher_suites: [x]\n" || return 1
	bad "bad client_auth_type" "client_auth_type 'Maybe'" "${T}  client_auth_type: Maybe\n" || return 1
	bad "CA without policy" "without a client_auth_type" "${T}  client_ca_file: $TMP/ca.crt\n" || return 1
	bad "verify without CA" "give client_ca_file" "${T}  client_auth_type: RequireAndVerifyClientCert\n" || return 1
	bad "no key" "missing key_file" "tls_server_config:\n  cert_file: $TMP/srv.crt\n" || return 1
	bad "missing cert" "No such file" "tls_server_config:\n  cert_file: $TMP/nope.crt\n  key_file: $TMP/srv.key\n" || return 1
	bad "key not PEM" "not PEM" "tls_server_config:\n  cert_file: $TMP/srv.crt\n  key_file: $TMP/srv.ext\n" || return 1
	bad "plain password" "not a bcrypt hash" "basic_auth_users:\n  prom: $PASS\n" || return 1
	bad "md5 hash" "not a bcrypt hash" "basic_auth_users:\n  prom: '\$1\$abc\$0123456789012345678901'\n" || return 1
	bad "bad version" "min_version 'SSL3'" "${T}  min_version: SSL3\n" || return 1
	bad "min above max" "above max_version" "${T}  min_version: TLS13\n  max_version: TLS12\n" || return 1
	bad "cert mismatching key" "cannot be used together" "tls_server_config:\n  cert_file: $TMP/srv.crt\n  key_file: $TMP/cli.key\n" || return 1
	tf export --listen 127.0.0.1:$PORT --web.config.file "$TMP/none.yml" 2> "$TMP/err"
	expect_eq "$?" 2 "missing file" || return 1
	grep -q "none.yml: No such file" "$TMP/err" || { fail "missing file: $(cat "$TMP/err")"; return 1; }
	expect_fail "with --once" "needs serving" tf export --once --web.config.file "$TMP/web.yml" || return 1
	# Nothing was left listening.
	nsrun curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" && { fail "something listens"; return 1; }
	return 0
}

run_tests
