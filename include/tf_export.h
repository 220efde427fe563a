/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Prometheus export of the per-queue tracing counters: the text exposition
 * format 0.0.4, rendered from struct tf_tap_stats (what tf_trace_read()
 * returns), served over HTTP (libmicrohttpd; TLS and basic auth from an
 * exporter-toolkit web config) and/or written as a node_exporter
 * textfile. Included by tapflow.h.
 *
 * Rendering is a pure function of the stats, so it is unit-tested on
 * synthetic arrays; the exporter object takes its stats from a source that
 * is tf_trace_read() in the CLI and a fake one in tests and benchmarks.
 */
#ifndef TF_EXPORT_H
#define TF_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tf_trace.h"
#include "tf_fastpath.h"
#include "tf_vmid.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * 9100-9999, the range of the Prometheus wiki's "default port allocations",
 * has been fully allocated since 2023 and the list goes on above 10000; see
 * the README (Prometheus: tapflow export) for why this one.
 */
#define TF_EXPORT_DEFAULT_PORT		10725
#define TF_EXPORT_DEFAULT_LISTEN	"127.0.0.1:10725"
#define TF_EXPORT_CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

/* A growable text buffer; rendering reuses its capacity from scrape to scrape. */
struct tf_export_buf {
	char *data;
	size_t len;
	size_t cap;
};
void tf_export_buf_free(struct tf_export_buf *b);

/*
 * Render every exportable tap (not gone; only attached queues) as Prometheus
 * text into b, replacing what it held. t0_ns is CLOCK_MONOTONIC when the
 * scrape began (before the maps were read), so tapflow_scrape_duration_seconds
 * covers reading and rendering; 0 means "now". Returns 0 or -ENOMEM.
 */
int tf_export_render(struct tf_export_buf *b, const struct tf_tap_stats *taps,
		     size_t n, uint64_t t0_ns);

/*
 * How histograms are exported (counters are always per queue): per queue,
 * per tap (its queues' buckets added up: one series per tap and family), or
 * not at all. At thousands of taps, per-queue histograms are most of the
 * series (README: Cardinality).
 */
enum tf_export_hist {
	TF_EXPORT_HIST_QUEUE = 0,
	TF_EXPORT_HIST_TAP,
	TF_EXPORT_HIST_OFF,
};
/* "queue", "tap", "off" -> the mode; -1 for anything else. */
int tf_export_hist_parse(const char *s);

/* tf_export_render() with the histogram mode given. */
int tf_export_render_hist(struct tf_export_buf *b, const struct tf_tap_stats *taps,
			  size_t n, uint64_t t0_ns, enum tf_export_hist mode);

/*
 * What an exporter knows about the processes behind a tap (include/
 * tf_vmid.h): found when the tap's attached queue count changes, kept
 * while the tap exists, so a stopped VM's series keep their VM's name.
 */
struct tf_export_backend {
	char tap[16];
	uint32_t netns;
	bool local;			/* in the exporter's network namespace */
	struct tf_tap_backend b;	/* b.pid 0: never seen a holder */
};

/* Append tapflow_tap_backend_info{tap, vm, pid, comm, cgroup} 1 per known backend. */
int tf_export_render_backends(struct tf_export_buf *b, const struct tf_export_backend *be,
			      size_t n);

/*
 * Append the fast path's per-queue counters of ports (tf_fastpath_ports())
 * to a text tf_export_render() made: tapflow_fastpath_packets_total and
 * _bytes_total by action, _xsk_miss_total, _learned_total. Nothing when n
 * is 0. Returns 0 or -ENOMEM.
 */
int tf_export_render_fastpath(struct tf_export_buf *b, const struct tf_fp_port_stats *ports,
			      size_t n);

/*
 * Append the BPF cost family (user/export_bpf.c): tapflow_bpf_prog_runs_total
 * and _run_seconds_total by program, from tf_trace_prog_costs(). Nothing when
 * n is 0. tf_export_scrape_bpf() reads the costs and renders them.
 */
int tf_export_render_bpf(struct tf_export_buf *b, const struct tf_prog_cost *c, size_t n);
int tf_export_scrape_bpf(struct tf_export_buf *b);

/*
 * Where an exporter reads stats: the signatures of tf_trace_read/_free and
 * of tf_fastpath_ports/_free (read_ports may be NULL: no fast path section).
 */
struct tf_export_source {
	int (*read)(const char *name, struct tf_tap_stats **taps, size_t *n);
	void (*release)(struct tf_tap_stats *taps, size_t n);
	int (*read_ports)(struct tf_fp_port_stats **ports, size_t *n);
	void (*release_ports)(struct tf_fp_port_stats *ports, size_t n);
};

struct tf_exporter;

/*
 * src NULL: the traced taps through a tf_trace_reader kept for the
 * exporter's life (pins and map fds stay open between scrapes), and
 * tf_fastpath_ports().
 */
int tf_export_new(const struct tf_export_source *src, struct tf_exporter **out);
void tf_export_free(struct tf_exporter *e);	/* stops the server too */
/* Histograms per queue (default), per tap or off; before serving. */
void tf_export_set_histograms(struct tf_exporter *e, enum tf_export_hist mode);
/*
 * The backends the exporter knows now (a copy; free() it): what `tapflow
 * export` shows and tests read. *n gets how many.
 */
int tf_export_backends(struct tf_exporter *e, struct tf_export_backend **out, size_t *n);

/*
 * Keep the kernel's BPF run-time statistics on for the exporter's life and
 * add the BPF cost family to every scrape (`export --bpf-stats`).
 */
int tf_export_bpf_stats(struct tf_exporter *e);

/* Read the stats now and render them into b (one scrape). */
int tf_export_scrape(struct tf_exporter *e, struct tf_export_buf *b);

/*
 * Parse "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (every address, v6 and v4).
 * Port 0 picks a free one (see tf_export_bound()).
 */
int tf_export_parse_listen(const char *s, struct sockaddr_storage *ss,
			   socklen_t *len);

/*
 * Serve GET /metrics on listen (NULL: TF_EXPORT_DEFAULT_LISTEN) from
 * internal threads until tf_export_free(). Each scrape reads the maps
 * afresh; scrapes that queue up behind one render share it. One scrape is
 * made before listening, so what would fail every scrape (a missing
 * capability, named) fails here. Slow clients are cut: a request head
 * (TLS handshake included) is due 5 s after connect (README, Abuse limits).
 */
int tf_export_serve(struct tf_exporter *e, const char *listen);
/* The address actually bound, e.g. "127.0.0.1:10725" or "[::]:10725". */
const char *tf_export_bound(const struct tf_exporter *e);

/*
 * TLS and basic auth for the server, from a web configuration file in
 * exporter-toolkit's format (what every Prometheus exporter's
 * --web.config.file reads): tls_server_config (cert_file, key_file,
 * client_ca_file, client_auth_type, min/max_version) and basic_auth_users
 * (bcrypt hashes). Call before tf_export_serve(). Everything is read and
 * checked now; a bad file is -EINVAL with a one-line message.
 */
int tf_export_web_config(struct tf_exporter *e, const char *path);
/* "https" when the web config turned TLS on, else "http". */
const char *tf_export_scheme(const struct tf_exporter *e);

/*
 * Scrape once and replace path atomically for node_exporter's textfile
 * collector: write path.tmp.PID, fsync, rename over path, fsync the
 * directory. The file is mode 0644 (see the README, Prometheus: tapflow export).
 */
int tf_export_write_textfile(struct tf_exporter *e, const char *path);

#ifdef __cplusplus
}
#endif

#endif
