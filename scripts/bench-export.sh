#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Export benchmark (`make bench`): what one scrape of 64 taps x 16 queues
# costs tapflow export, beside node_exporter's netdev collector scraping the
# same 64 taps on the same machine in the same run.
#
# Both exporters run in a namespace made for the run (with the taps, all on
# its loopback) and are scraped sequentially with curl. Reported per
# exporter: the median over N scrapes of the time the exporter itself says
# it spent (tapflow_scrape_duration_seconds: reading the pinned maps and
# rendering; node_scrape_collector_duration_seconds{collector="netdev"}),
# the median curl time_total (the whole HTTP scrape), the body size and
# series count, and the resident memory (VmRSS after the scrapes, VmHWM the
# peak). Prints a markdown table on stdout; progress goes to stderr.
#
# Requires root. node_exporter's column is left out (and says why) when
# prometheus-node-exporter is not installed.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TAPFLOW=${TAPFLOW:-$TOP/build/tapflow}
TFLOAD=${TFLOAD:-$TOP/build/tests/tf-load}
NTAPS=${NTAPS:-64}
NQ=${NQ:-16}
N=${N:-30}
TF_PORT=10725
NE_PORT=9100
NODE_EXPORTER=$(command -v prometheus-node-exporter || command -v node_exporter || true)

[ "$(id -u)" = 0 ] || { echo "bench-export.sh: needs root (netns, taps, BPF)" >&2; exit 1; }

NS=tfbx$$
TAPS=()
PIDS=()
TMP=$(mktemp -d)
cleanup() {
	local p t
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ ${#TAPS[@]} -gt 0 ] && nsenter --net="/run/netns/$NS" -- "$TAPFLOW" trace stop "${TAPS[@]}" >/dev/null 2>&1
	for t in "${TAPS[@]}"; do ip -n "$NS" link del "$t" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ns() { nsenter --net="/run/netns/$NS" -- "$@"; }
log() { echo "bench-export: $*" >&2; }

ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up

log "creating $NTAPS taps x $NQ queues"
for ((i = 0; i < NTAPS; i++)); do
	t=$(printf 'tfb%x-%02d' $$ "$i")
	t=${t:0:15}
	TAPS+=("$t")
	if ! ns "$TAPFLOW" create "$t" --queues "$NQ" >/dev/null 2>&1; then
		# tapflow create not available: a plain multiqueue tap does the same here.
		ip -n "$NS" tuntap add dev "$t" mode tap multi_queue || exit 1
		ip -n "$NS" link set "$t" up
	fi
done
if ! ns "$TAPFLOW" trace start "${TAPS[@]}" >&2; then
	log "tapflow trace start failed (another run tracing taps? ${NTAPS} slots needed)"
	exit 1
fi

# One tf-load per tap: a few frames on every queue, then hold the queues
# attached (detached queues are not exported) for the rest of the run.
log "attaching queues with tf-load"
for t in "${TAPS[@]}"; do
	# nsenter, not ns(): $! must be tf-load itself (nsenter execs) for
	# cleanup to stop it, not a subshell that would leave it running.
	nsenter --net="/run/netns/$NS" -- "$TFLOAD" --dev "$t" --queues "$NQ" --count 100 --hold-ms 600000 >/dev/null 2>&1 &
	PIDS+=($!)
done
for ((i = 0; i < 200; i++)); do
	n=$(ns "$TAPFLOW" export --once 2>/dev/null | grep -c '^tapflow_tx_packets_total{')
	[ "$n" -ge $((NTAPS * NQ)) ] && break
	sleep 0.1
done
[ "$n" -ge $((NTAPS * NQ)) ] || { log "only $n of $((NTAPS * NQ)) queues attached"; exit 1; }

# nsenter execs, so $! is the exporter itself (for /proc/PID/status). -v
# logs each scrape's split between reading the maps and rendering.
nsenter --net="/run/netns/$NS" -- "$TAPFLOW" -v export --listen 127.0.0.1:$TF_PORT >/dev/null 2>"$TMP/tf.err" &
TF_PID=$!
PIDS+=($TF_PID)
if [ -n "$NODE_EXPORTER" ]; then
	nsenter --net="/run/netns/$NS" -- "$NODE_EXPORTER" --collector.disable-defaults --collector.netdev \
		--web.listen-address=127.0.0.1:$NE_PORT >/dev/null 2>"$TMP/ne.err" &
	NE_PID=$!
	PIDS+=($NE_PID)
fi
for ((i = 0; i < 100; i++)); do
	ns curl -s -o /dev/null "http://127.0.0.1:$TF_PORT/" &&
		{ [ -z "$NODE_EXPORTER" ] || ns curl -s -o /dev/null "http://127.0.0.1:$NE_PORT/metrics"; } && break
	sleep 0.1
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'; }

# scrape_stats URL SELF_METRIC_REGEX [CURL_ARGS...]: N scrapes; prints
# "self_ms curl_ms bytes series".
scrape_stats() {
	local url=$1 re=$2 i
	shift 2
	: > "$TMP/self"; : > "$TMP/curl"
	for ((i = 0; i < N; i++)); do
		ns curl -s "$@" -o "$TMP/body" -w '%{time_total}\n' "$url" >> "$TMP/curl"
		grep -E "$re" "$TMP/body" | awk '{ print $2 * 1000 }' >> "$TMP/self"
	done
	printf '%s %s %s %s\n' "$(median < "$TMP/self")" \
		"$(awk '{ print $1 * 1000 }' "$TMP/curl" | median)" \
		"$(wc -c < "$TMP/body")" "$(grep -vc '^#' "$TMP/body")"
}

kb() { awk -v k="$1" '$1 == k":" { printf "%.1f", $2 / 1024 }' "/proc/$2/status"; }

log "scraping tapflow export $N times"
read -r tf_self tf_curl tf_bytes tf_series < <(scrape_stats "http://127.0.0.1:$TF_PORT/metrics" '^tapflow_scrape_duration_seconds ')
tf_rss=$(kb VmRSS $TF_PID); tf_hwm=$(kb VmHWM $TF_PID)
tf_read=$(sed -n 's/.*read [0-9]* taps in \([0-9.]*\) ms.*/\1/p' "$TMP/tf.err" | tail -n "$N" | median)
tf_render=$(sed -n 's/.*rendered [0-9]* bytes in \([0-9.]*\) ms.*/\1/p' "$TMP/tf.err" | tail -n "$N" | median)

# The same exporter behind TLS and basic auth (--web.config.file), when
# openssl and python3's crypt (libcrypt) can make a certificate and a hash:
# what a fresh HTTPS connection with a cached password adds to a scrape.
tls_row="| tapflow export, HTTPS + basic auth | not measured (needs openssl and python3) | | | | | | |"
if command -v openssl >/dev/null && command -v python3 >/dev/null &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/k.pem" \
		-out "$TMP/c.pem" -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1; then
	hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("bench", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
	printf 'tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\nbasic_auth_users:\n  b: %s\n' "$hash" > "$TMP/web.yml"
	nsenter --net="/run/netns/$NS" -- "$TAPFLOW" export --listen 127.0.0.1:$((TF_PORT + 1)) \
		--web.config.file "$TMP/web.yml" >/dev/null 2>"$TMP/tls.err" &
	TLS_PID=$!
	PIDS+=($TLS_PID)
	for ((i = 0; i < 100; i++)); do
		ns curl -s -o /dev/null --cacert "$TMP/c.pem" -u b:bench "https://127.0.0.1:$((TF_PORT + 1))/" && break
		sleep 0.1
	done
	log "scraping tapflow export over HTTPS with basic auth $N times"
	read -r tls_self tls_curl tls_bytes tls_series < <(scrape_stats "https://127.0.0.1:$((TF_PORT + 1))/metrics" \
		'^tapflow_scrape_duration_seconds ' --cacert "$TMP/c.pem" -u b:bench)
	tls_row=$(printf '| tapflow export, HTTPS + basic auth (cached) | - | %.2f | %.2f | %.0f | %s | %s | %s |' \
		"$tls_self" "$tls_curl" "$(echo "$tls_bytes / 1024" | bc -l)" "$tls_series" \
		"$(kb VmRSS $TLS_PID)" "$(kb VmHWM $TLS_PID)")
fi

echo "### tapflow export: one scrape of $NTAPS taps x $NQ queues ($(nproc) CPUs, median of $N)"
echo
echo "| exporter | render (ms) | read+render (ms) | HTTP scrape (ms) | body (KiB) | series | RSS (MiB) | peak RSS (MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '| tapflow export (all per-queue families) | %.2f | %.2f | %.2f | %.0f | %s | %s | %s |\n' \
	"$tf_render" "$tf_self" "$tf_curl" "$(echo "$tf_bytes / 1024" | bc -l)" "$tf_series" "$tf_rss" "$tf_hwm"
echo "$tls_row"
if [ -n "$NODE_EXPORTER" ]; then
	log "scraping node_exporter (netdev only) $N times"
	read -r ne_self ne_curl ne_bytes ne_series < <(scrape_stats "http://127.0.0.1:$NE_PORT/metrics" \
		'^node_scrape_collector_duration_seconds\{collector="netdev"\} ')
	ne_rss=$(kb VmRSS $NE_PID); ne_hwm=$(kb VmHWM $NE_PID)
	printf '| node_exporter --collector.netdev (device-wide only) | - | %.2f | %.2f | %.0f | %s | %s | %s |\n' \
		"$ne_self" "$ne_curl" "$(echo "$ne_bytes / 1024" | bc -l)" "$ne_series" "$ne_rss" "$ne_hwm"
else
	echo "| node_exporter | not installed (apt-get install prometheus-node-exporter) | | | | | | |"
fi
echo
echo "tapflow's read+render splits into reading the pinned maps (${tf_read} ms, tf_trace_reader_read) and"
echo "rendering (${tf_render} ms); node_exporter's figure is its netdev collector's own duration."
echo
echo "Goal: read+render < 5 ms and RSS < 16 MiB for $NTAPS x $NQ. node_exporter's series are"
echo "per device (all $((NTAPS)) taps plus lo), tapflow's per queue with histograms."
