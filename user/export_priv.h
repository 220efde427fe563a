/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The exporter object, shared by the files that serve it (private to
 * user/export*.c): export.c owns its life, reading and the snapshots that
 * HTTP scrapes share; export_http.c serves them with libmicrohttpd;
 * export_textfile.c writes them for node_exporter; export_webcfg.c reads
 * --web.config.file, export_auth.c checks basic auth against it, and
 * export_guard.c keeps slow clients from holding connection slots.
 */
#ifndef TF_EXPORT_PRIV_H
#define TF_EXPORT_PRIV_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <microhttpd.h>

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
#define HTTP_CONN_LIMIT	512	/* 200 parallel scrapes fit beside GUARD_PENDING slow ones */
#define HTTP_TIMEOUT_S	10	/* idle connections are closed after this */
#define HTTP_CONN_MEM	(16 * 1024) /* per-connection header pool: bigger requests get 431 */
/* See export_guard.c. */
#define GUARD_HEAD_S	5	/* a request head (and TLS handshake) must be in by then */
#define GUARD_PENDING	256	/* connections waiting for their head, at most */
#define GUARD_MIN_AGE_MS 250	/* ... evicting only those waiting longer than this */
#define GUARD_TICK_MS	250	/* how often the head deadline is checked */

struct snap {
	struct tf_export_buf b;
	uint64_t t_start;		/* CLOCK_MONOTONIC when its read began */
	unsigned int refs;
	unsigned int status;		/* 200, or 500 with the error as text */
	struct tf_exporter *e;
};

/* ---- --web.config.file (export_webcfg.c) ---- */

/* exporter-toolkit's client_auth_type values (Go's tls.ClientAuthType). */
enum tf_client_auth {
	TF_CLIENT_AUTH_NONE,		/* NoClientCert */
	TF_CLIENT_AUTH_REQUEST,		/* RequestClientCert: asked, not checked */
	TF_CLIENT_AUTH_REQUIRE_ANY,	/* RequireAnyClientCert: required, not checked */
	TF_CLIENT_AUTH_VERIFY_IF_GIVEN,	/* VerifyClientCertIfGiven */
	TF_CLIENT_AUTH_REQUIRE_VERIFY,	/* RequireAndVerifyClientCert */
};

struct tf_webuser {
	char *name;
	char *hash;			/* bcrypt, $2a$ / $2b$ / $2y$ */
};

struct tf_webcfg {
	bool tls;			/* serve HTTPS only */
	char *cert_pem, *key_pem, *ca_pem;
	enum tf_client_auth client_auth;
	char priorities[96];		/* GnuTLS priority string from min/max_version */
	struct tf_webuser *users;	/* basic auth when nusers > 0 */
	size_t nusers;
};

int tf_webcfg_load(const char *path, struct tf_webcfg **out);
void tf_webcfg_free(struct tf_webcfg *c);

/* ---- background threads (export_worker.c) ---- */

/*
 * A thread of the exporter's own (the password checker, the connection
 * watchdog) with the lock and condition it waits on and the flag that ends it.
 */
struct tfx_worker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;		/* under lock: fn returns soon after it is set */
	bool started;
};

/* Set up w's lock and condition and run fn(arg); what names it in an error. */
int tfx_worker_start(struct tfx_worker *w, void *(*fn)(void *), void *arg, const char *what);
/* Set stop, wake the thread and join it; nothing when it is not running. */
void tfx_worker_stop(struct tfx_worker *w);
/* tfx_worker_stop(), then release the lock and condition (after a failed start too). */
void tfx_worker_destroy(struct tfx_worker *w);

/* ---- basic auth (export_auth.c) ---- */

struct tfx_auth;

enum tfx_auth_verdict {
	TFX_AUTH_OK,
	TFX_AUTH_DENIED,		/* answer 401 */
	TFX_AUTH_BUSY,			/* too many checks queued: answer 429 */
	TFX_AUTH_PENDING,		/* connection suspended until the check is done */
};

int tfx_auth_new(const struct tf_webcfg *cfg, struct tfx_auth **out);
/* Answer every queued check "denied" and stop the checker (before MHD stops). */
void tfx_auth_stop(struct tfx_auth *a);
void tfx_auth_free(struct tfx_auth *a);
/* Check c's credentials; *req_cls carries a queued check across the resume. */
enum tfx_auth_verdict tfx_auth_check(struct tfx_auth *a, struct MHD_Connection *c,
				     void **req_cls);
/* The request is over (MHD_OPTION_NOTIFY_COMPLETED): free what check kept. */
void tfx_auth_done(void *req_cls);

/* ---- connection guard (export_guard.c) ---- */

struct tfx_guard;

int tfx_guard_new(struct tfx_guard **out);
void tfx_guard_free(struct tfx_guard *g);
/* MHD_OPTION_NOTIFY_CONNECTION's work: track connections, evict slow ones. */
void tfx_guard_notify(struct tfx_guard *g, struct MHD_Connection *c,
		      void **socket_context, int started);
/* The request head of c is complete / its response is done (keep-alive). */
void tfx_guard_head_done(struct MHD_Connection *c);
void tfx_guard_request_done(struct MHD_Connection *c);

/* ---- who holds each tap (export_backend.c) ---- */

struct tfx_backends;

int tfx_backends_new(struct tfx_backends **out);
void tfx_backends_free(struct tfx_backends *b);
/* After each read: look up the taps whose attached queue count changed. */
void tfx_backends_update(struct tfx_backends *b, const struct tf_tap_stats *taps, size_t n);
/* The known ones (holder found at least once), copied for the caller. */
int tfx_backends_copy(struct tfx_backends *b, struct tf_export_backend **out, size_t *n);

struct tf_exporter {
	struct tf_export_source src;
	enum tf_export_hist hist;
	struct tfx_backends *bk;	/* NULL with a caller's source (tests) */
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
	struct tf_webcfg *web;		/* NULL: plain HTTP, no auth */
	struct tfx_auth *auth;
	struct tfx_guard *guard;
	int lfd;
	int bpf_stats;			/* BPF_ENABLE_STATS fd (--bpf-stats), or -1 */
	char bound[INET6_ADDRSTRLEN + 8];
};

/*
 * A snapshot no older than t_req, with a reference for the caller (called
 * with e->lock held); tfx_snap_put() (MHD's free callback) drops it.
 */
struct snap *tfx_snap_get(struct tf_exporter *e, uint64_t t_req);
void tfx_snap_put(void *cls);
/*
 * One scrape before serving, so that what would make every scrape fail
 * (pins the exporter may not open) fails the start instead, naming the
 * missing capability.
 */
int tfx_export_probe(struct tf_exporter *e);

#endif
