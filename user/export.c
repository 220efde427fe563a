// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow export: the exporter object. It reads the per-queue tracing
 * counters (through a tf_trace_reader kept open between scrapes) and the
 * fast path's counters, renders them as Prometheus text (export_trace.c,
 * export_fastpath.c over export_text.c), and keeps the refcounted
 * snapshots that parallel HTTP scrapes share (export_http.c serves them,
 * export_textfile.c writes them for node_exporter).
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <microhttpd.h>

#include "tapflow.h"
#include "export_priv.h"
#include "export_text.h"
#include "log.h"

int tf_export_new(const struct tf_export_source *src, struct tf_exporter **out)
{
	struct tf_exporter *e = calloc(1, sizeof(*e));

	if (!e)
		return tf_err(-ENOMEM, "export: out of memory");
	if (src) {
		e->src = *src;
	} else {
		/*
		 * Every bpf() command needs CAP_BPF here (unprivileged BPF is
		 * off on Debian): without it each scrape would answer 500, so
		 * say so now, by name.
		 */
		int err = tf_have_cap(TF_CAP_SYS_ADMIN) ? 0 :
			  tf_require_cap(TF_CAP_BPF, "reading the pinned BPF maps");

		if (!err)
			err = tf_trace_reader_new(&e->reader);
		if (!err)
			err = tfx_backends_new(&e->bk);
		if (err) {
			tf_trace_reader_free(e->reader);
			free(e);
			return err;
		}
		e->src.read = tf_trace_read;
		e->src.release = tf_trace_stats_free;
		e->src.read_ports = tf_fastpath_ports;
		e->src.release_ports = tf_fastpath_ports_free;
	}
	pthread_mutex_init(&e->read_lock, NULL);
	pthread_mutex_init(&e->lock, NULL);
	for (int i = 0; i < SNAP_MAX; i++)
		e->snaps[i].e = e;
	e->lfd = -1;
	e->bpf_stats = -1;
	*out = e;
	return 0;
}

void tf_export_free(struct tf_exporter *e)
{
	if (!e)
		return;
	/* Queued password checks resume their connections before MHD stops. */
	tfx_auth_stop(e->auth);
	if (e->mhd)
		MHD_stop_daemon(e->mhd);	/* frees every response first */
	tfx_auth_free(e->auth);
	tfx_guard_free(e->guard);
	tf_webcfg_free(e->web);
	if (e->lfd >= 0)
		close(e->lfd);
	if (e->bpf_stats >= 0)
		close(e->bpf_stats);
	for (int i = 0; i < SNAP_MAX; i++)
		tf_export_buf_free(&e->snaps[i].b);
	tf_export_buf_free(&e->text);
	tf_trace_reader_free(e->reader);
	tfx_backends_free(e->bk);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->read_lock);
	free(e);
}

void tf_export_set_histograms(struct tf_exporter *e, enum tf_export_hist mode)
{
	e->hist = mode;
}

int tf_export_backends(struct tf_exporter *e, struct tf_export_backend **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return e->bk ? tfx_backends_copy(e->bk, out, n) : 0;
}

int tfx_export_probe(struct tf_exporter *e)
{
	/* Its own buffer, freed: a kept one would hold a whole text for nothing. */
	struct tf_export_buf b = { 0 };
	int err = tf_export_scrape(e, &b);

	tf_export_buf_free(&b);

	/*
	 * The pins are 0600 and opened read-write (BPF_OBJ_GET without
	 * BPF_F_RDONLY): another user with CAP_BPF still cannot open them.
	 */
	if ((err == -EACCES || err == -EPERM) && e->reader && !tf_have_cap(TF_CAP_DAC_OVERRIDE))
		return tf_require_cap(TF_CAP_DAC_OVERRIDE,
				      "reading the 0600 pins under /sys/fs/bpf/tapflow as a user who does not own them");
	return err;
}

int tf_export_scrape(struct tf_exporter *e, struct tf_export_buf *b)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), t1;
	struct tf_fp_port_stats *ports = NULL;
	struct tf_tap_stats *taps = NULL;
	size_t n = 0, nports = 0;
	int err;

	if (e->src.read_ports) {
		err = e->src.read_ports(&ports, &nports);
		if (err < 0)
			return err;
	}
	pthread_mutex_lock(&e->read_lock);
	if (e->reader)
		err = tf_trace_reader_read(e->reader, NULL, &taps, &n);
	else
		err = e->src.read(NULL, &taps, &n);
	if (err == -ENOENT) {
		/* Tracing not loaded: nothing is traced, which is not an error. */
		taps = NULL;
		n = 0;
	} else if (err < 0) {
		pthread_mutex_unlock(&e->read_lock);
		if (ports)
			e->src.release_ports(ports, nports);
		return err;
	}
	if (e->bk)
		tfx_backends_update(e->bk, taps, n);
	t1 = clock_ns(CLOCK_MONOTONIC);
	err = tf_export_render_hist(b, taps, n, t0, e->hist);
	if (!err)
		err = tf_export_render_fastpath(b, ports, nports);
	if (!err && e->bpf_stats >= 0)
		err = tf_export_scrape_bpf(b);
	if (!err && e->bk) {
		struct tf_export_backend *be;
		size_t nbe;

		err = tfx_backends_copy(e->bk, &be, &nbe);
		if (!err)
			err = tf_export_render_backends(b, be, nbe);
		free(be);
	}
	if (taps && !e->reader)
		e->src.release(taps, n);
	pthread_mutex_unlock(&e->read_lock);
	if (ports)
		e->src.release_ports(ports, nports);
	/* The split matters when a scrape is slow: maps or formatting? */
	pr_debug("export: read %zu taps in %.3f ms, rendered %zu bytes in %.3f ms",
		 n, (t1 - t0) / 1e6, b->len, (clock_ns(CLOCK_MONOTONIC) - t1) / 1e6);
	return err;
}

/* Called with e->lock held. */
struct snap *tfx_snap_get(struct tf_exporter *e, uint64_t t_req)
{
	struct snap *s = NULL;
	int err;

	if (e->cur && e->cur->t_start >= t_req) {
		e->cur->refs++;
		return e->cur;
	}
	for (int i = 0; i < SNAP_MAX; i++) {
		if (!e->snaps[i].refs) {
			s = &e->snaps[i];
			break;
		}
	}
	if (!s) {
		/* Every buffer is still going out to a slow client: share. */
		e->cur->refs++;
		return e->cur;
	}
	s->t_start = clock_ns(CLOCK_MONOTONIC);
	err = tf_export_scrape(e, &s->b);
	s->status = MHD_HTTP_OK;
	if (err) {
		struct out o = { .b = &s->b };

		s->b.len = 0;
		PUTS(&o, "tapflow export: ");
		put_str(&o, tf_errmsg());
		put(&o, "\n", 1);
		s->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		tf_log(TF_LOG_WARN, "export: scrape failed: %s\n", tf_errmsg());
	}
	s->refs = 1;
	e->cur = s;
	return s;
}

void tfx_snap_put(void *cls)
{
	struct snap *s = cls;

	pthread_mutex_lock(&s->e->lock);
	s->refs--;
	pthread_mutex_unlock(&s->e->lock);
}

int tf_export_bpf_stats(struct tf_exporter *e)
{
	int fd = e->bpf_stats >= 0 ? e->bpf_stats : tf_bpf_stats_enable();

	if (fd < 0)
		return fd;
	e->bpf_stats = fd;
	return 0;
}
