/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The exporter object, shared by the files that serve it (private to
 * user/export*.c): export.c owns its life, reading and the snapshots that
 * HTTP scrapes share; export_http.c serves them with libmicrohttpd;
 * export_textfile.c writes them for node_exporter.
 */
#ifndef TF_EXPORT_PRIV_H
#define TF_EXPORT_PRIV_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#include "tf_export.h"

/* ---- the exporter ---------------------------------------------------------
 * HTTP scrapes read the maps afresh each time (Prometheus wants the value at
 * scrape time, and its scrape_interval is the only clock that matters), but
 * never more than one at a time: a scrape takes the lock, and if a render
 * that *began after this request arrived* is already there it shares it.
 * So a burst of N parallel scrapes costs about two renders, not N, and no
 * scrape ever sees counters older than its own request.
 *
 * A rendered text is a refcounted snapshot that MHD sends straight from our
 * buffer (no copy per response). There are at most SNAP_MAX of them; if
 * slow clients hold them all, a new scrape shares the newest instead of
 * rendering: memory stays bounded whatever clients do.
 */
#define SNAP_MAX	3
#define HTTP_THREADS	2
#define HTTP_CONN_LIMIT	256	/* 200 parallel scrapes fit */
#define HTTP_TIMEOUT_S	10	/* idle connections are closed after this */
#define HTTP_CONN_MEM	(16 * 1024) /* per-connection header pool: bigger requests get 431 */

struct snap {
	struct tf_export_buf b;
	uint64_t t_start;		/* CLOCK_MONOTONIC when its read began */
	unsigned int refs;
	unsigned int status;		/* 200, or 500 with the error as text */
	struct tf_exporter *e;
};

struct tf_exporter {
	struct tf_export_source src;
	/*
	 * With the default source, the maps are read through a reader that
	 * keeps them open from scrape to scrape, and the taps it returns are
	 * its own until the next read: read_lock spans reading and rendering,
	 * as the textfile writer scrapes without `lock`.
	 */
	struct tf_trace_reader *reader;
	pthread_mutex_t read_lock;
	pthread_mutex_t lock;
	struct snap snaps[SNAP_MAX];
	struct snap *cur;
	struct tf_export_buf text;	/* for the textfile writer */
	struct MHD_Daemon *mhd;
	int lfd;
	char bound[INET6_ADDRSTRLEN + 8];
};

/*
 * A snapshot no older than t_req, with a reference for the caller (called
 * with e->lock held); tfx_snap_put() (MHD's free callback) drops it.
 */
struct snap *tfx_snap_get(struct tf_exporter *e, uint64_t t_req);
void tfx_snap_put(void *cls);

#endif
