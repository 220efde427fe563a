// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow export: the per-queue tracing counters as Prometheus text (0.0.4),
 * served on GET /metrics by libmicrohttpd and/or written atomically as a
 * node_exporter textfile.
 *
 * Rendering is family-major (HELP and TYPE once, then every tap and queue),
 * appends into one growable buffer whose capacity survives from scrape to
 * scrape, and formats numbers by hand: 64 taps x 16 queues is ~60k lines,
 * and the goal is a few milliseconds per scrape with no allocation per
 * metric. No floating point reaches the output: nanoseconds become seconds
 * by placing a decimal point, so every `le` and `_sum` is exact.
 *
 * The log2 histograms of the BPF side (bucket k holds integers v with
 * 2^k <= v < 2^(k+1), bucket 0 also holds 0) become cumulative Prometheus
 * buckets whose inclusive bound is le = 2^(k+1) - 1 (in ns, shown in
 * seconds): a value of exactly 2^k ns is in bucket k, so it is counted from
 * le = (2^(k+1) - 1) ns on and never at le = (2^k - 1) ns. Only a fixed
 * window of bounds is emitted (see the HIST_* ranges): cumulative buckets
 * stay correct for any subset of bounds, every series of a family has the
 * same `le` set (so histogram_quantile() can sum them), and the window keeps
 * a scrape of 1024 queues a few MB instead of ten.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

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

static bool grow(struct out *o, size_t need)
{
	struct tf_export_buf *b = o->b;
	size_t cap = b->cap ? b->cap : 64 * 1024;
	char *p;

	if (o->oom)
		return false;
	while (cap - b->len < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		o->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

static inline void put(struct out *o, const char *s, size_t n)
{
	struct tf_export_buf *b = o->b;

	if (b->cap - b->len < n && !grow(o, n))
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
static size_t ns_to_sec(uint64_t ns, char out[32])
{
	uint64_t whole = ns / 1000000000ull, frac = ns % 1000000000ull;
	char tmp[20], *p = u64_dec(whole, tmp + sizeof(tmp));
	size_t n = tmp + sizeof(tmp) - p;
	int digits = 9;

	memcpy(out, p, n);
	if (!frac)
		return n;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	out[n++] = '.';
	for (int i = digits - 1; i >= 0; i--, frac /= 10)
		out[n + i] = '0' + frac % 10;
	return n + digits;
}

static inline void put_sec(struct out *o, uint64_t ns)
{
	char tmp[32];

	put(o, tmp, ns_to_sec(ns, tmp));
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

	if (b->cap - b->len < need && !grow(o, need))
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
#define SEC_MAX_DEC	30	/* ns_to_sec() of UINT64_MAX: 20 digits, '.', 9 */

void tf_export_buf_free(struct tf_export_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- label values -------------------------------------------------------
 * The text format escapes \, " and newline in label values, which must be
 * UTF-8. Interface names are any bytes but '/', ':' and whitespace, so a
 * byte that does not start a valid UTF-8 sequence becomes U+FFFD rather
 * than making Prometheus reject the whole scrape.
 */
static int utf8_len(const unsigned char *s, size_t n)
{
	unsigned int c = s[0], need, min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (n < need + 1)
		return 0;
	for (unsigned int i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

/* Escape s (at most max bytes, NUL-terminated earlier) into dst; returns length. */
static size_t esc_label(char *dst, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strnlen(s, max), d = 0;

	for (size_t i = 0; i < n;) {
		int l;

		switch (u[i]) {
		case '\\': dst[d++] = '\\'; dst[d++] = '\\'; i++; continue;
		case '"': dst[d++] = '\\'; dst[d++] = '"'; i++; continue;
		case '\n': dst[d++] = '\\'; dst[d++] = 'n'; i++; continue;
		}
		l = utf8_len(u + i, n - i);
		if (!l) {
			memcpy(dst + d, "\xef\xbf\xbd", 3);
			d += 3;
			i++;
			continue;
		}
		memcpy(dst + d, u + i, l);
		d += l;
		i += l;
	}
	return d;
}

/*
 * Labels of a tap: tap="NAME", plus netns="INODE" for a tap outside the
 * exporter's own network namespace (names are only unique per namespace).
 * 15 bytes escaped to 3 each, the netns and punctuation fit in 96.
 */
#define TAPLBL_MAX 96
#define QLBL_MAX (TAPLBL_MAX + 24)

static size_t tap_label(char *dst, const struct tf_tap_stats *t)
{
	char tmp[20], *p;
	size_t n = 0;

	memcpy(dst, "tap=\"", 5);
	n = 5 + esc_label(dst + 5, t->name, sizeof(t->name));
	dst[n++] = '"';
	if (!t->local) {
		memcpy(dst + n, ",netns=\"", 8);
		n += 8;
		p = u64_dec(t->netns, tmp + sizeof(tmp));
		memcpy(dst + n, p, tmp + sizeof(tmp) - p);
		n += tmp + sizeof(tmp) - p;
		dst[n++] = '"';
	}
	return n;
}

static size_t queue_label(char *dst, const char *tl, size_t tln, uint32_t q)
{
	char tmp[20], *p = u64_dec(q, tmp + sizeof(tmp));
	size_t n = tln;

	memcpy(dst, tl, tln);
	memcpy(dst + n, ",queue=\"", 8);
	n += 8;
	memcpy(dst + n, p, tmp + sizeof(tmp) - p);
	n += tmp + sizeof(tmp) - p;
	dst[n++] = '"';
	return n;
}

/* ---- the `le` strings, computed once ------------------------------------
 * Each is a bucket line's whole tail after the labels: ,le="BOUND"} .
 */
#define LE_TAIL_MAX 48

struct le_str {
	char s[LE_TAIL_MAX];
	uint8_t n;
};
static struct le_str le_time[TF_HIST_SLOTS], le_occ[TF_OCC_SLOTS];
static pthread_once_t le_once = PTHREAD_ONCE_INIT;

static void le_tail(struct le_str *le, const char *bound, size_t n)
{
	char *p = le->s;

	p = cur_put(p, ",le=\"", 5);
	p = cur_put(p, bound, n);
	p = cur_put(p, "\"} ", 3);
	le->n = p - le->s;
}

static void le_init(void)
{
	char tmp[32], *p;

	for (int k = 0; k < TF_HIST_SLOTS; k++)
		le_tail(&le_time[k], tmp, ns_to_sec(tf_hist_upper(k) - 1, tmp));
	for (int k = 0; k < TF_OCC_SLOTS; k++) {
		p = u64_dec(tf_hist_upper(k) - 1, tmp + 20);
		le_tail(&le_occ[k], p, tmp + 20 - p);
	}
}

/* ---- families ------------------------------------------------------------ */

static bool tap_live(const struct tf_tap_stats *t)
{
	return !t->gone;
}

static void put_meta(struct out *o, const char *name, const char *type,
		     const char *help)
{
	PUTS(o, "# HELP ");
	put_str(o, name);
	put(o, " ", 1);
	put_str(o, help);
	PUTS(o, "\n# TYPE ");
	put_str(o, name);
	put(o, " ", 1);
	put_str(o, type);
	put(o, "\n", 1);
}

/* Does any live tap (measuring rx_ns, if asked) have an attached queue? */
static bool any_queue(const struct tf_tap_stats *taps, size_t n, bool need_rx_ns)
{
	for (size_t i = 0; i < n; i++) {
		if (!tap_live(&taps[i]) || (need_rx_ns && !taps[i].rx_ns))
			continue;
		for (uint32_t j = 0; j < taps[i].nqueues; j++)
			if (taps[i].q[j].attached)
				return true;
	}
	return false;
}

/*
 * Walk the exported queues: for each, `qlbl` holds its labels. A macro
 * rather than a callback so the per-line work stays inline.
 */
#define FOR_EACH_QUEUE(taps, n, need_rx_ns, t, qs, tlbl, qlbl, qlen)		\
	for (size_t _i = 0; _i < (n); _i++)					\
		if (((t) = &(taps)[_i]), tap_live(t) && (!(need_rx_ns) || (t)->rx_ns)) \
			for (size_t _tl = tap_label((tlbl), (t)), _j = 0; _j < (t)->nqueues; _j++) \
				if (((qs) = &(t)->q[_j]), (qs)->attached &&	\
				    ((qlen) = queue_label((qlbl), (tlbl), _tl, (qs)->queue), 1))

static void q_counter(struct out *o, const struct tf_tap_stats *taps, size_t n,
		      const char *name, const char *help, size_t off, bool need_rx_ns)
{
	const struct tf_tap_stats *t;
	const struct tf_queue_stats *qs;
	char tl[TAPLBL_MAX], ql[QLBL_MAX];
	size_t nl = strlen(name), qn;

	if (!any_queue(taps, n, need_rx_ns))
		return;
	put_meta(o, name, "counter", help);
	FOR_EACH_QUEUE(taps, n, need_rx_ns, t, qs, tl, ql, qn) {
		char *p = cur_begin(o, nl + qn + 3 + U64_MAX_DEC + 1);

		if (!p)
			return;
		p = cur_put(p, name, nl);
		*p++ = '{';
		p = cur_put(p, ql, qn);
		p = cur_put(p, "} ", 2);
		p = cur_u64(p, *(const uint64_t *)((const char *)qs + off));
		*p++ = '\n';
		cur_end(o, p);
	}
}

/* Each reason as its line's tail after the labels: ,reason="R"} */
#define REASON(r) { ",reason=\"" r "\"} ", sizeof(",reason=\"" r "\"} ") - 1 }
static const struct {
	char s[32];
	size_t n;
} drop_reason[TF_DROP__MAX] = {
	[TF_DROP_RING_FULL] = REASON("ring_full"),
	[TF_DROP_FILTER] = REASON("filter"),
	[TF_DROP_DETACHED] = REASON("detached"),
	[TF_DROP_OTHER] = REASON("other"),
};

static void q_tx_dropped(struct out *o, const struct tf_tap_stats *taps, size_t n)
{
	static const char name[] = "tapflow_tx_dropped_total";
	const struct tf_tap_stats *t;
	const struct tf_queue_stats *qs;
	char tl[TAPLBL_MAX], ql[QLBL_MAX];
	size_t qn;

	if (!any_queue(taps, n, false))
		return;
	put_meta(o, name, "counter",
		 "Packets tun_net_xmit dropped instead of queuing them for the backend, by reason.");
	FOR_EACH_QUEUE(taps, n, false, t, qs, tl, ql, qn) {
		char *p = cur_begin(o, TF_DROP__MAX * (sizeof(name) + QLBL_MAX + 32 + U64_MAX_DEC));

		if (!p)
			return;
		for (int r = 0; r < TF_DROP__MAX; r++) {
			p = cur_put(p, name, sizeof(name) - 1);
			*p++ = '{';
			p = cur_put(p, ql, qn);
			p = cur_put(p, drop_reason[r].s, drop_reason[r].n);
			p = cur_u64(p, qs->c.tx_drops[r]);
			*p++ = '\n';
		}
		cur_end(o, p);
	}
}

#define HIST_NAME_MAX 64

struct hist_desc {
	const char *name, *help;
	size_t buckets, sum;		/* offsets in struct tf_queue_stats */
	int lo, hi;			/* emitted bucket window */
	bool ns;			/* values are ns, shown in seconds */
	bool need_rx_ns;
};

static void q_hist(struct out *o, const struct tf_tap_stats *taps, size_t n,
		   const struct hist_desc *h)
{
	const struct le_str *le = h->ns ? le_time : le_occ;
	int nslots = h->ns ? TF_HIST_SLOTS : TF_OCC_SLOTS;
	const struct tf_tap_stats *t;
	const struct tf_queue_stats *qs;
	char tl[TAPLBL_MAX], ql[QLBL_MAX], pre[HIST_NAME_MAX + 8 + QLBL_MAX + CUR_SLACK] = "";
	size_t nl = strlen(h->name), qn, pn;
	/* A line at its longest: name_bucket{labels,le="BOUND"} VALUE */
	size_t line = nl + 8 + QLBL_MAX + CUR_SLACK + LE_TAIL_MAX + SEC_MAX_DEC + 1;

	if (nl > HIST_NAME_MAX)
		return;
	if (!any_queue(taps, n, h->need_rx_ns))
		return;
	put_meta(o, h->name, "histogram", h->help);
	FOR_EACH_QUEUE(taps, n, h->need_rx_ns, t, qs, tl, ql, qn) {
		const uint64_t *b = (const uint64_t *)((const char *)qs + h->buckets);
		uint64_t cum = 0, sum = *(const uint64_t *)((const char *)qs + h->sum);
		char *p = cur_begin(o, (h->hi - h->lo + 4) * line);
		int k;

		if (!p)
			return;
		/* Every bucket line of the queue starts the same: build it once. */
		memcpy(pre, h->name, nl);
		memcpy(pre + nl, "_bucket{", 8);
		memcpy(pre + nl + 8, ql, qn);
		pn = nl + 8 + qn;

		/* Buckets below the window fold into its first bound. */
		for (k = 0; k < h->lo; k++)
			cum += b[k];
		for (; k <= h->hi; k++) {
			cum += b[k];
			p = cur_put16(p, pre, pn);
			memcpy(p, le[k].s, LE_TAIL_MAX);	/* whole: a fixed-size copy */
			p += le[k].n;
			p = cur_u64(p, cum);
			*p++ = '\n';
		}
		for (; k < nslots; k++)
			cum += b[k];
		p = cur_put16(p, pre, pn);
		p = cur_put(p, ",le=\"+Inf\"} ", 12);
		p = cur_u64(p, cum);
		*p++ = '\n';

		p = cur_put(p, h->name, nl);
		p = cur_put(p, "_sum{", 5);
		p = cur_put(p, ql, qn);
		p = cur_put(p, "} ", 2);
		if (h->ns)
			p += ns_to_sec(sum, p);
		else
			p = cur_u64(p, sum);
		*p++ = '\n';

		p = cur_put(p, h->name, nl);
		p = cur_put(p, "_count{", 7);
		p = cur_put(p, ql, qn);
		p = cur_put(p, "} ", 2);
		p = cur_u64(p, cum);
		*p++ = '\n';
		cur_end(o, p);
	}
}

static const char *backend_label(int backend)
{
	/*
	 * Spelled here, not borrowed from the CLI: label values are part of
	 * the metrics' interface and must not change with CLI wording.
	 */
	switch (backend) {
	case TF_BACKEND_FENTRY: return "fentry";
	case TF_BACKEND_KPROBE: return "kprobe";
	case TF_BACKEND_TRACEPOINT: return "tracepoint";
	default: return "unknown";
	}
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void tap_families(struct out *o, const struct tf_tap_stats *taps, size_t n)
{
	char tl[TAPLBL_MAX], ver[64];
	uint64_t mono = clock_ns(CLOCK_MONOTONIC), real = clock_ns(CLOCK_REALTIME);
	size_t live = 0, tn, vn;

	vn = esc_label(ver, tf_version(), 20);
	PUTS(o, "# HELP tapflow_build_info tapflow's version; always 1.\n"
		"# TYPE tapflow_build_info gauge\n"
		"tapflow_build_info{version=\"");
	put(o, ver, vn);
	PUTS(o, "\"} 1\n");

	for (size_t i = 0; i < n; i++)
		live += tap_live(&taps[i]);
	PUTS(o, "# HELP tapflow_traced_taps Traced taps being exported.\n"
		"# TYPE tapflow_traced_taps gauge\n"
		"tapflow_traced_taps ");
	put_u64(o, live);
	put(o, "\n", 1);
	if (!live)
		return;

	PUTS(o, "# HELP tapflow_info A traced tap: tapflow's version and the tracing backend that runs; always 1.\n"
		"# TYPE tapflow_info gauge\n");
	for (size_t i = 0; i < n; i++) {
		if (!tap_live(&taps[i]))
			continue;
		tn = tap_label(tl, &taps[i]);
		PUTS(o, "tapflow_info{");
		put(o, tl, tn);
		PUTS(o, ",version=\"");
		put(o, ver, vn);
		PUTS(o, "\",backend=\"");
		put_str(o, backend_label(taps[i].backend));
		PUTS(o, "\"} 1\n");
	}

	PUTS(o, "# HELP tapflow_trace_start_time_seconds When tracing of the tap began (counters count from then), Unix time.\n"
		"# TYPE tapflow_trace_start_time_seconds gauge\n");
	for (size_t i = 0; i < n; i++) {
		const struct tf_tap_stats *t = &taps[i];

		if (!tap_live(t))
			continue;
		tn = tap_label(tl, t);
		PUTS(o, "tapflow_trace_start_time_seconds{");
		put(o, tl, tn);
		PUTS(o, "} ");
		/* since_ns is CLOCK_MONOTONIC; shift it onto the wall clock. */
		put_sec(o, real - (mono > t->since_ns ? mono - t->since_ns : 0));
		put(o, "\n", 1);
	}

	PUTS(o, "# HELP tapflow_queues_attached Queues attached to the tap now (tun numqueues).\n"
		"# TYPE tapflow_queues_attached gauge\n");
	for (size_t i = 0; i < n; i++) {
		if (!tap_live(&taps[i]))
			continue;
		tn = tap_label(tl, &taps[i]);
		PUTS(o, "tapflow_queues_attached{");
		put(o, tl, tn);
		PUTS(o, "} ");
		put_u64(o, taps[i].queues_attached);
		put(o, "\n", 1);
	}
}

#define QOFF(f) offsetof(struct tf_queue_stats, f)

int tf_export_render(struct tf_export_buf *b, const struct tf_tap_stats *taps,
		     size_t n, uint64_t t0_ns)
{
	static const struct hist_desc ring_wait = {
		"tapflow_ring_wait_seconds",
		"Time packets waited in the queue's ring, from tun_net_xmit to the backend reading them.",
		QOFF(h.ring_wait_ns), QOFF(h.ring_wait_sum_ns), HIST_T_LO, HIST_T_HI, true, false,
	};
	static const struct hist_desc rx_time = {
		"tapflow_rx_seconds",
		"Time tun_get_user spent on each frame the backend wrote.",
		QOFF(h.rx_ns), QOFF(h.rx_sum_ns), HIST_T_LO, HIST_T_HI, true, true,
	};
	static const struct hist_desc occupancy = {
		"tapflow_ring_occupancy",
		"Entries already in the queue's ring when tun_net_xmit queued a packet.",
		QOFF(h.occupancy), QOFF(h.occupancy_sum), HIST_O_LO, HIST_O_HI, false, false,
	};
	struct out o = { .b = b };

	pthread_once(&le_once, le_init);
	if (!t0_ns)
		t0_ns = clock_ns(CLOCK_MONOTONIC);
	b->len = 0;

	tap_families(&o, taps, n);
	q_counter(&o, taps, n, "tapflow_tx_packets_total",
		  "Packets queued into the queue's ring (host to backend): skbs by tun_net_xmit, XDP frames by tun_xdp_xmit.",
		  QOFF(c.tx_packets), false);
	q_counter(&o, taps, n, "tapflow_tx_bytes_total",
		  "Bytes queued into the queue's ring (host to backend), skbs and XDP frames.",
		  QOFF(c.tx_bytes), false);
	q_counter(&o, taps, n, "tapflow_tx_xdp_packets_total",
		  "Of tapflow_tx_packets_total, XDP frames redirected into the queue's ring (tun_xdp_xmit: the fast path).",
		  QOFF(c.tx_xdp_packets), false);
	q_tx_dropped(&o, taps, n);
	q_counter(&o, taps, n, "tapflow_rx_packets_total",
		  "Frames the backend wrote into the queue (tun_get_user, backend to host).",
		  QOFF(c.rx_packets), false);
	q_counter(&o, taps, n, "tapflow_rx_bytes_total",
		  "Bytes the backend wrote into the queue (tun_get_user, backend to host).",
		  QOFF(c.rx_bytes), false);
	q_counter(&o, taps, n, "tapflow_rx_dropped_total",
		  "Frames tun_get_user refused (only where the tracing backend measures it).",
		  QOFF(c.rx_drops), true);
	q_counter(&o, taps, n, "tapflow_ring_wait_untracked_total",
		  "Packets queued without an in-flight record (its map was full), so they give no ring-wait sample.",
		  QOFF(c.ring_wait_untracked), false);
	q_hist(&o, taps, n, &ring_wait);
	q_hist(&o, taps, n, &rx_time);
	q_hist(&o, taps, n, &occupancy);

	PUTS(&o, "# HELP tapflow_scrape_duration_seconds Time this scrape took to read the counters and render them.\n"
		 "# TYPE tapflow_scrape_duration_seconds gauge\n"
		 "tapflow_scrape_duration_seconds ");
	put_sec(&o, clock_ns(CLOCK_MONOTONIC) - t0_ns);
	put(&o, "\n", 1);

	if (o.oom)
		return tf_err(-ENOMEM, "export: out of memory rendering %zu taps", n);
	return 0;
}

/* ---- the fast path's counters ---------------------------------------------- */

/* port="NAME",queue="Q" */
static size_t port_queue_label(char *dst, const struct tf_fp_port_stats *p, uint32_t q)
{
	char tl[TAPLBL_MAX];
	size_t n;

	memcpy(tl, "port=\"", 6);
	n = 6 + esc_label(tl + 6, p->name, sizeof(p->name));
	tl[n++] = '"';
	return queue_label(dst, tl, n, q);
}

static void fp_family(struct out *o, const struct tf_fp_port_stats *ports, size_t n,
		      const char *name, const char *help, int what)
{
	char ql[QLBL_MAX];

	put_meta(o, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ports[i].nqueues; j++) {
			const struct tf_fastpath_qstats *q = &ports[i].q[j];
			size_t qn = port_queue_label(ql, &ports[i], q->queue);

			if (what >= 2) {
				put_str(o, name);
				put(o, "{", 1);
				put(o, ql, qn);
				PUTS(o, "} ");
				put_u64(o, what == 2 ? q->xsk_miss : q->learned);
				put(o, "\n", 1);
				continue;
			}
			for (int a = 0; a < TF_FP_ACT__MAX; a++) {
				put_str(o, name);
				put(o, "{", 1);
				put(o, ql, qn);
				PUTS(o, ",action=\"");
				put_str(o, tf_fastpath_action_name(a));
				PUTS(o, "\"} ");
				put_u64(o, what == 0 ? q->packets[a] : q->bytes[a]);
				put(o, "\n", 1);
			}
		}
	}
}

int tf_export_render_fastpath(struct tf_export_buf *b, const struct tf_fp_port_stats *ports,
			      size_t n)
{
	struct out o = { .b = b };

	if (!n)
		return 0;
	fp_family(&o, ports, n, "tapflow_fastpath_packets_total",
		  "Frames the XDP fast path handled on the port's queue (rx queue of a tap or uplink), by action.", 0);
	fp_family(&o, ports, n, "tapflow_fastpath_bytes_total",
		  "Bytes of those frames, by action.", 1);
	fp_family(&o, ports, n, "tapflow_fastpath_xsk_miss_total",
		  "Frames that matched an AF_XDP rule with no socket on their queue, and went on along the normal path.", 2);
	fp_family(&o, ports, n, "tapflow_fastpath_learned_total",
		  "fdb entries the port's frames created or moved.", 3);
	if (o.oom)
		return tf_err(-ENOMEM, "export: out of memory rendering %zu fast path ports", n);
	return 0;
}

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

int tf_export_new(const struct tf_export_source *src, struct tf_exporter **out)
{
	struct tf_exporter *e = calloc(1, sizeof(*e));

	if (!e)
		return tf_err(-ENOMEM, "export: out of memory");
	if (src) {
		e->src = *src;
	} else {
		int err = tf_trace_reader_new(&e->reader);

		if (err) {
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
	*out = e;
	return 0;
}

void tf_export_free(struct tf_exporter *e)
{
	if (!e)
		return;
	if (e->mhd)
		MHD_stop_daemon(e->mhd);	/* frees every response first */
	if (e->lfd >= 0)
		close(e->lfd);
	for (int i = 0; i < SNAP_MAX; i++)
		tf_export_buf_free(&e->snaps[i].b);
	tf_export_buf_free(&e->text);
	tf_trace_reader_free(e->reader);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->read_lock);
	free(e);
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
	t1 = clock_ns(CLOCK_MONOTONIC);
	err = tf_export_render(b, taps, n, t0);
	if (!err)
		err = tf_export_render_fastpath(b, ports, nports);
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
static struct snap *snap_get(struct tf_exporter *e, uint64_t t_req)
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

static void snap_put(void *cls)
{
	struct snap *s = cls;

	pthread_mutex_lock(&s->e->lock);
	s->refs--;
	pthread_mutex_unlock(&s->e->lock);
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status,
				  const char *text, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct tf_exporter *e = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	uint64_t t_req;
	struct snap *s;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req_cls;
	/*
	 * Answer on the first call (headers complete): no request here has a
	 * body worth reading, and MHD closes a connection whose body is left
	 * unread instead of parsing it.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "only GET and HEAD are served\n", "GET, HEAD");
	if (!strcmp(url, "/"))
		return reply_text(c, MHD_HTTP_OK,
				  "tapflow exporter: Prometheus metrics are at /metrics\n", NULL);
	if (strcmp(url, "/metrics"))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);

	t_req = clock_ns(CLOCK_MONOTONIC);
	pthread_mutex_lock(&e->lock);
	s = snap_get(e, t_req);
	pthread_mutex_unlock(&e->lock);

	r = MHD_create_response_from_buffer_with_free_callback_cls(s->b.len, s->b.data,
								   snap_put, s);
	if (!r) {
		snap_put(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				s->status == MHD_HTTP_OK ? TF_EXPORT_CONTENT_TYPE
							 : "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, s->status, r);
	MHD_destroy_response(r);	/* the connection keeps its own reference */
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Client misbehaviour lands here too: not worth a warning. */
	tf_log(TF_LOG_DEBUG, "export: http: %s", msg);
}

/* ---- listening -------------------------------------------------------- */

int tf_export_parse_listen(const char *s, struct sockaddr_storage *ss,
			   socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port;
	unsigned long p;
	size_t hl;
	int err;

	memset(ss, 0, sizeof(*ss));
	if (!s || !*s)
		return tf_err(-EINVAL, "--listen: empty address (want ADDR:PORT, [V6ADDR]:PORT or :PORT)");
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return tf_err(-EINVAL, "--listen '%s': want [V6ADDR]:PORT", s);
		hl = close - s - 1;
		port = close + 2;
		if (hl >= sizeof(host))
			return tf_err(-EINVAL, "--listen '%s': address too long", s);
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return tf_err(-EINVAL, "--listen '%s': '%s' is not an IPv6 address", s, host);
		s6->sin6_family = AF_INET6;
		*len = sizeof(*s6);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return tf_err(-EINVAL, "--listen '%s': no port (want ADDR:PORT, [V6ADDR]:PORT or :PORT)", s);
		hl = colon - s;
		port = colon + 1;
		if (memchr(s, ':', hl))
			return tf_err(-EINVAL, "--listen '%s': put an IPv6 address in brackets, e.g. [::1]:%d",
				      s, TF_EXPORT_DEFAULT_PORT);
		if (hl == 0) {
			/* ":PORT" is every address: v6 any, which takes v4 too. */
			s6->sin6_family = AF_INET6;
			s6->sin6_addr = in6addr_any;
			*len = sizeof(*s6);
		} else {
			if (hl >= sizeof(host))
				return tf_err(-EINVAL, "--listen '%s': address too long", s);
			memcpy(host, s, hl);
			host[hl] = '\0';
			if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
				return tf_err(-EINVAL, "--listen '%s': '%s' is not an IPv4 address (names are not resolved)",
					      s, host);
			s4->sin_family = AF_INET;
			*len = sizeof(*s4);
		}
	}
	err = tf_parse_uint(port, "--listen port", 0, 65535, &p);
	if (err)
		return err;
	if (ss->ss_family == AF_INET6)
		s6->sin6_port = htons(p);
	else
		s4->sin_port = htons(p);
	return 0;
}

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(out, n, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, n, "%s:%u", a, ntohs(s4->sin_port));
	}
}

static int open_listener(struct sockaddr_storage *ss, socklen_t len, const char *what)
{
	bool any6 = ss->ss_family == AF_INET6 &&
		    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)ss)->sin6_addr);
	int one = 1, zero = 0, fd, err;
	char a[INET6_ADDRSTRLEN + 8];

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 && any6 && errno == EAFNOSUPPORT) {
		/* No IPv6 in this kernel: "every address" is every v4 one. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		in_port_t port = ((struct sockaddr_in6 *)ss)->sin6_port;

		memset(ss, 0, sizeof(*ss));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*s4);
		any6 = false;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	}
	if (fd < 0)
		return tf_err(-errno, "export: socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (any6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)ss, len) < 0) {
		err = -errno;
		addr_str(ss, a, sizeof(a));
		close(fd);
		if (err == -EADDRINUSE)
			return tf_err(err, "export: %s is in use (another exporter? choose one with --listen)", a);
		if (err == -EADDRNOTAVAIL)
			return tf_err(err, "export: %s is not an address of this host (%s)", a, what);
		return tf_err(err, "export: bind %s: %s", a, strerror(-err));
	}
	if (listen(fd, 1024) < 0) {
		err = -errno;
		close(fd);
		return tf_err(err, "export: listen: %s", strerror(-err));
	}
	return fd;
}

int tf_export_serve(struct tf_exporter *e, const char *listen_addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int err;

	if (e->mhd)
		return tf_err(-EBUSY, "export: already serving on %s", e->bound);
	if (!listen_addr)
		listen_addr = TF_EXPORT_DEFAULT_LISTEN;
	err = tf_export_parse_listen(listen_addr, &ss, &len);
	if (err)
		return err;
	err = open_listener(&ss, len, listen_addr);
	if (err < 0)
		return err;
	e->lfd = err;
	len = sizeof(ss);
	if (getsockname(e->lfd, (struct sockaddr *)&ss, &len) == 0)
		addr_str(&ss, e->bound, sizeof(e->bound));

	/*
	 * Internal epoll threads: a slow or stuck client holds a connection
	 * slot, never a thread, so it cannot stall other scrapes.
	 */
	e->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				  MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, e,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)e->lfd,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)HTTP_THREADS,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONN_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEM,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_END);
	if (!e->mhd) {
		close(e->lfd);
		e->lfd = -1;
		return tf_err(-EIO, "export: could not start the HTTP server on %s (run with -v for libmicrohttpd's reason)",
			      e->bound);
	}
	return 0;
}

const char *tf_export_bound(const struct tf_exporter *e)
{
	return e->bound;
}

/* ---- textfile --------------------------------------------------------------
 * node_exporter's textfile collector reads every *.prom file in its
 * directory at each scrape, so the file must change in one step: write a
 * sibling (same filesystem, a name not ending in .prom so the collector
 * skips it), fsync it, rename it over, and fsync the directory so the
 * rename survives a crash. Mode 0644: the collector usually runs as an
 * unprivileged user, and the counters are no more secret than
 * /proc/net/dev, which is world-readable too.
 */
int tf_export_write_textfile(struct tf_exporter *e, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	size_t off = 0;
	int fd, dfd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return tf_err(-ENAMETOOLONG, "--textfile: path too long");
	err = tf_export_scrape(e, &e->text);
	if (err)
		return err;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return tf_err(-errno, "--textfile: cannot create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0644) < 0)	/* whatever the umask */
		goto fail;
	while (off < e->text.len) {
		ssize_t w = write(fd, e->text.data + off, e->text.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	err = -errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return tf_err(err, "--textfile: writing %s: %s", path, strerror(-err));
}
