// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The exporter's connection guard: slow clients must not hold the slots a
 * scraper needs (slowloris).
 *
 * libmicrohttpd's connection timeout is an idle one, reset by every byte, so
 * a client sending one header byte every few seconds keeps its slot
 * forever, and a few hundred such clients hold all of them. A per-IP limit
 * does not help on one host: the attacker and Prometheus may both be
 * 127.0.0.1. What tells them apart is that a scraper sends its whole
 * request head at once. So every connection is tracked from accept
 * (MHD_OPTION_NOTIFY_CONNECTION) until its request head is complete, and:
 *
 *   - a head (and the TLS handshake before it) has a deadline of its own,
 *     GUARD_HEAD_S seconds from accept or from the end of the previous
 *     response on a keep-alive connection; a watchdog thread cuts those
 *     that miss it;
 *   - at most GUARD_PENDING connections may be waiting for their head; a
 *     new one beyond that evicts the one that has waited longest, if it has
 *     waited GUARD_MIN_AGE_MS at least. A scraper's head arrives within a
 *     millisecond of its connect, so it is never the one that has waited
 *     longest, and the slots left for connections with a complete head
 *     (HTTP_CONN_LIMIT - GUARD_PENDING) are not taken by slow clients.
 *     The minimum age keeps a burst of parallel scrapers, whose heads are
 *     simply not read yet, from evicting each other; the watchdog trims
 *     what a burst left above the cap. Near libmicrohttpd's own limit
 *     (which, once reached, stops accepting, so nothing would ever be
 *     evicted) the oldest waiting connection goes whatever its age.
 *
 * A connection is cut with shutdown(2) on its socket: libmicrohttpd then sees
 * the end of the stream and closes it in its own thread, so its state stays
 * consistent. The socket is still open while we do it: libmicrohttpd
 * reports a connection closed (NOTIFY_CLOSED, which takes our lock) before
 * it closes the descriptor.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tapflow.h"
#include "export_priv.h"
#include "export_text.h"
#include "log.h"

#define GUARD_SLOTS	(HTTP_CONN_LIMIT + 16)	/* MHD's limit, plus slack */
#define GUARD_FULL	(HTTP_CONN_LIMIT - 16)	/* evict before MHD refuses anyone */

struct slot {
	struct tfx_guard *g;
	MHD_socket fd;
	uint64_t t0;			/* accept, or end of the last response */
	bool used;
	bool pending;			/* waiting for a request head */
	bool cut;			/* shutdown() done */
};

struct tfx_guard {
	struct tfx_worker w;	/* the watchdog */
	struct slot slots[GUARD_SLOTS];
	unsigned int npending, nused;
	uint64_t evicted, timed_out;
};

/* Called with g->w.lock held. */
static void cut(struct tfx_guard *g, struct slot *s)
{
	if (s->cut)
		return;
	s->cut = true;
	if (s->pending) {
		s->pending = false;
		g->npending--;
	}
	shutdown(s->fd, SHUT_RDWR);
}

static void set_pending(struct tfx_guard *g, struct slot *s, bool pending)
{
	if (s->cut || s->pending == pending)
		return;
	s->pending = pending;
	if (pending) {
		g->npending++;
		s->t0 = clock_ns(CLOCK_MONOTONIC);
	} else {
		g->npending--;
	}
}

/*
 * Cut the connection that has waited longest for its head, if it has waited
 * min_age_ms at least (never `keep`, the one just accepted). Called with
 * g->w.lock held.
 */
static bool evict_oldest(struct tfx_guard *g, const struct slot *keep, unsigned int min_age_ms)
{
	uint64_t young = clock_ns(CLOCK_MONOTONIC) - min_age_ms * 1000000ull;
	struct slot *old = NULL;

	for (int i = 0; i < GUARD_SLOTS; i++) {
		struct slot *o = &g->slots[i];

		if (o != keep && o->used && o->pending && o->t0 <= young &&
		    (!old || o->t0 < old->t0))
			old = o;
	}
	if (!old)
		return false;
	cut(g, old);
	g->evicted++;
	return true;
}

static void *watchdog(void *arg)
{
	struct tfx_guard *g = arg;
	uint64_t deadline = GUARD_HEAD_S * 1000000000ull;
	struct timespec ts;

	pthread_mutex_lock(&g->w.lock);
	while (!g->w.stop) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);

		for (int i = 0; i < GUARD_SLOTS; i++) {
			struct slot *s = &g->slots[i];

			if (s->used && s->pending && now - s->t0 > deadline) {
				cut(g, s);
				g->timed_out++;
			}
		}
		/* A burst that came too fast to evict on arrival is trimmed here. */
		while (g->npending > GUARD_PENDING && evict_oldest(g, NULL, GUARD_MIN_AGE_MS))
			;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += GUARD_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->w.cond, &g->w.lock, &ts);
	}
	pthread_mutex_unlock(&g->w.lock);
	return NULL;
}

int tfx_guard_new(struct tfx_guard **out)
{
	struct tfx_guard *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return tf_err(-ENOMEM, "export: out of memory");
	for (int i = 0; i < GUARD_SLOTS; i++)
		g->slots[i].g = g;
	err = tfx_worker_start(&g->w, watchdog, g, "connection watchdog");
	if (err) {
		tfx_guard_free(g);
		return err;
	}
	*out = g;
	return 0;
}

void tfx_guard_free(struct tfx_guard *g)
{
	if (!g)
		return;
	tfx_worker_stop(&g->w);
	pr_debug("export: guard cut %llu connections at the head deadline, evicted %llu",
		 (unsigned long long)g->timed_out, (unsigned long long)g->evicted);
	tfx_worker_destroy(&g->w);
	free(g);
}

void tfx_guard_notify(struct tfx_guard *g, struct MHD_Connection *c,
		      void **socket_context, int started)
{
	const union MHD_ConnectionInfo *ci;
	struct slot *s = *socket_context;

	pthread_mutex_lock(&g->w.lock);
	if (!started) {
		if (s) {
			set_pending(g, s, false);
			s->used = false;
			g->nused--;
			*socket_context = NULL;
		}
		pthread_mutex_unlock(&g->w.lock);
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	for (int i = 0; i < GUARD_SLOTS && ci; i++) {
		if (!g->slots[i].used) {
			s = &g->slots[i];
			break;
		}
	}
	if (!s) {
		/* Cannot happen while MHD's limit is below GUARD_SLOTS; refuse. */
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
		pthread_mutex_unlock(&g->w.lock);
		return;
	}
	*s = (struct slot){ .g = g, .fd = ci->connect_fd, .used = true };
	set_pending(g, s, true);
	*socket_context = s;
	g->nused++;
	if (g->nused >= GUARD_FULL)
		evict_oldest(g, s, 0);		/* at the limit: a slot must come free */
	else if (g->npending > GUARD_PENDING)
		evict_oldest(g, s, GUARD_MIN_AGE_MS);
	pthread_mutex_unlock(&g->w.lock);
}

static struct slot *slot_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* set_pending() on C's slot, if it has one, under the guard's lock. */
static void mark_pending(struct MHD_Connection *c, bool pending)
{
	struct slot *s = slot_of(c);

	if (!s)
		return;
	pthread_mutex_lock(&s->g->w.lock);
	set_pending(s->g, s, pending);
	pthread_mutex_unlock(&s->g->w.lock);
}

void tfx_guard_head_done(struct MHD_Connection *c)
{
	mark_pending(c, false);
}

void tfx_guard_request_done(struct MHD_Connection *c)
{
	mark_pending(c, true);
}
