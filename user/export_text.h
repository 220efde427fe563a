/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The Prometheus text writer shared by the exporter's families (private to
 * user/export*.c): a growable buffer with append helpers, a cursor for the
 * per-queue loops that makes room once and then copies without bounds
 * checks, exact number formatting, label escaping, and the generic
 * per-queue counter and histogram renderers. The helpers that run once per
 * piece of text are inline here because they are most of a scrape's cost;
 * everything else is in export_text.c. Names with the tfx_ prefix are
 * internal to the exporter, not part of libtapflow's API.
 */
#ifndef TF_EXPORT_TEXT_H
#define TF_EXPORT_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "tapflow.h"
#include "tf_export.h"
#include "log.h"

/* ---- bucket windows ------------------------------------------------------
 * Time histograms: le from 127 ns (k = 6) to 17.18 s (k = 33). Below 128 ns
 * the tracer's own overhead dominates; above 17 s a packet waited for a
 * paused VM and +Inf (with _sum) says enough. Occupancy: le from 1 entry
 * (k = 0: an empty ring matters) to 131071 entries (k = 16), far above any
 * tx_queue_len in use.
 */
#define HIST_T_LO	6
#define HIST_T_HI	33
#define HIST_O_LO	0
#define HIST_O_HI	16

_Static_assert(HIST_T_HI < TF_HIST_SLOTS, "time window inside the BPF histogram");
_Static_assert(HIST_O_HI < TF_OCC_SLOTS, "occupancy window inside the BPF histogram");

/* ---- buffer ------------------------------------------------------------ */

struct out {
	struct tf_export_buf *b;
	bool oom;
};

/* Make room for need more bytes; false (and o->oom) when memory ran out. */
bool tf_text_grow(struct out *o, size_t need);

static inline void put(struct out *o, const char *s, size_t n)
{
	struct tf_export_buf *b = o->b;

	if (b->cap - b->len < n && !tf_text_grow(o, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

#define PUTS(o, lit) put((o), (lit), sizeof(lit) - 1)

static inline void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Decimal of v into the end of tmp[20]; returns where it starts. */
static inline char *u64_dec(uint64_t v, char *end)
{
	char *p = end;

	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v);
	return p;
}

static inline void put_u64(struct out *o, uint64_t v)
{
	char tmp[20], *p = u64_dec(v, tmp + sizeof(tmp));

	put(o, p, tmp + sizeof(tmp) - p);
}

/* ns as exact decimal seconds: 1023 -> "0.000001023", 2e9 -> "2". */
size_t tfx_ns_to_sec(uint64_t ns, char out[32]);

static inline void put_sec(struct out *o, uint64_t ns)
{
	char tmp[32];

	put(o, tmp, tfx_ns_to_sec(ns, tmp));
}

/*
 * The per-queue loops write through a cursor instead: room for a queue's
 * lines at their longest is made once, then every piece is a plain copy,
 * with no bounds check and no store of b->len per piece. That is most of
 * the text (a histogram is ~30 lines per queue).
 */
static inline char *cur_begin(struct out *o, size_t need)
{
	struct tf_export_buf *b = o->b;

	if (b->cap - b->len < need && !tf_text_grow(o, need))
		return NULL;
	return b->data + b->len;
}

static inline void cur_end(struct out *o, char *p)
{
	o->b->len = p - o->b->data;
}

static inline char *cur_put(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/*
 * n bytes of s, copied 16 at a time: fixed-size copies are a couple of
 * vector moves, where a short variable-length memcpy() is a call or a slow
 * `rep movs`. Writes (and reads from s) up to 15 bytes past n: the room
 * made must have CUR_SLACK to spare, and s must be that long.
 */
#define CUR_SLACK 16

static inline char *cur_put16(char *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i += 16)
		memcpy(p + i, s + i, 16);
	return p + n;
}

static inline char *cur_u64(char *p, uint64_t v)
{
	static const uint64_t pow10[] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
		10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
		100000000000ull, 1000000000000ull, 10000000000000ull,
		100000000000000ull, 1000000000000000ull, 10000000000000000ull,
		100000000000000000ull, 1000000000000000000ull,
		10000000000000000000ull,
	};
	unsigned int n = 1;

	/* Digits first, then written in place: counts are mostly short. */
	while (n < ARRAY_SIZE(pow10) && v >= pow10[n])
		n++;
	u64_dec(v, p + n);
	return p + n;
}

#define U64_MAX_DEC	20	/* digits of UINT64_MAX */
#define SEC_MAX_DEC	30	/* tfx_ns_to_sec() of UINT64_MAX: 20 digits, '.', 9 */

/* ---- labels -------------------------------------------------------------
 * Tap labels: tap="NAME", plus netns="INODE" for a tap outside the
 * exporter's own network namespace (names are only unique per namespace).
 * 15 bytes escaped to 3 each, the netns and punctuation fit in 96.
 */
#define TAPLBL_MAX 96
#define QLBL_MAX (TAPLBL_MAX + 24)

/* Escape s (at most max bytes, NUL-terminated earlier) into dst; returns length. */
size_t tfx_esc_label(char *dst, const char *s, size_t max);
size_t tfx_tap_label(char *dst, const struct tf_tap_stats *t);
size_t tfx_queue_label(char *dst, const char *tl, size_t tln, uint32_t q);

/* ---- families ------------------------------------------------------------ */

static inline uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline bool tap_live(const struct tf_tap_stats *t)
{
	return !t->gone;
}

/* Compute the `le` strings once (before the first tfx_q_hist()). */
void tf_text_init(void);
void tfx_put_meta(struct out *o, const char *name, const char *type, const char *help);
/* Does any live tap (measuring rx_ns, if asked) have a queue to export? */
bool tfx_any_queue(const struct tf_tap_stats *taps, size_t n, bool need_rx_ns);

/*
 * Walk the exported queues (every queue the reader listed: attached, set
 * up by tapflow, or ever counted): for each, `qlbl` holds its labels. A macro
 * rather than a callback so the per-line work stays inline.
 */
#define FOR_EACH_QUEUE(taps, n, need_rx_ns, t, qs, tlbl, qlbl, qlen)		\
	for (size_t _i = 0; _i < (n); _i++)					\
		if (((t) = &(taps)[_i]), tap_live(t) && (!(need_rx_ns) || (t)->rx_ns)) \
			for (size_t _tl = tfx_tap_label((tlbl), (t)), _j = 0; _j < (t)->nqueues; _j++) \
				if (((qs) = &(t)->q[_j]),			\
				    ((qlen) = tfx_queue_label((qlbl), (tlbl), _tl, (qs)->queue), 1))

/*
 * One family of TYPE over every exported queue: the value at off in struct
 * tf_queue_stats, of size bytes (a uint64_t, or a bool read as 0 or 1).
 */
void tfx_q_family(struct out *o, const struct tf_tap_stats *taps, size_t n, const char *name,
		  const char *type, const char *help, size_t off, size_t size, bool need_rx_ns);
/* A counter family: tfx_q_family() of a uint64_t. */
void tfx_q_counter(struct out *o, const struct tf_tap_stats *taps, size_t n,
	       const char *name, const char *help, size_t off, bool need_rx_ns);

#define HIST_NAME_MAX 64

struct hist_desc {
	const char *name, *help;
	size_t buckets, sum;		/* offsets in struct tf_queue_stats */
	int lo, hi;			/* emitted bucket window */
	bool ns;			/* values are ns, shown in seconds */
	bool need_rx_ns;
};

/* One histogram family: per queue, per tap (queues summed) or none. */
void tfx_q_hist(struct out *o, const struct tf_tap_stats *taps, size_t n,
	    const struct hist_desc *h, enum tf_export_hist mode);

#endif
