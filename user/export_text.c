// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The Prometheus text writer (exposition format 0.0.4) that every exporter
 * family renders through: buffer growth, exact decimal seconds, label
 * escaping, and the generic per-queue counter and histogram renderers. The
 * families themselves are in export_trace.c and export_fastpath.c; serving
 * them is export.c, export_http.c and export_textfile.c.
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
 * window of bounds is emitted (see the HIST_* ranges in export_text.h):
 * cumulative buckets stay correct for any subset of bounds, every series of
 * a family has the same `le` set (so histogram_quantile() can sum them),
 * and the window keeps a scrape of 1024 queues a few MB instead of ten.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "export_text.h"

bool tf_text_grow(struct out *o, size_t need)
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

/* ns as exact decimal seconds: 1023 -> "0.000001023", 2e9 -> "2". */
size_t tfx_ns_to_sec(uint64_t ns, char out[32])
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
size_t tfx_esc_label(char *dst, const char *s, size_t max)
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

/* tap="NAME"[,netns="INODE"] (see TAPLBL_MAX) */
size_t tfx_tap_label(char *dst, const struct tf_tap_stats *t)
{
	char tmp[20], *p;
	size_t n = 0;

	memcpy(dst, "tap=\"", 5);
	n = 5 + tfx_esc_label(dst + 5, t->name, sizeof(t->name));
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

size_t tfx_queue_label(char *dst, const char *tl, size_t tln, uint32_t q)
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
		le_tail(&le_time[k], tmp, tfx_ns_to_sec(tf_hist_upper(k) - 1, tmp));
	for (int k = 0; k < TF_OCC_SLOTS; k++) {
		p = u64_dec(tf_hist_upper(k) - 1, tmp + 20);
		le_tail(&le_occ[k], p, tmp + 20 - p);
	}
}

void tf_text_init(void)
{
	pthread_once(&le_once, le_init);
}

void tfx_put_meta(struct out *o, const char *name, const char *type,
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

/* Does any live tap (measuring rx_ns, if asked) have a queue to export? */
bool tfx_any_queue(const struct tf_tap_stats *taps, size_t n, bool need_rx_ns)
{
	for (size_t i = 0; i < n; i++) {
		if (!tap_live(&taps[i]) || (need_rx_ns && !taps[i].rx_ns))
			continue;
		if (taps[i].nqueues)
			return true;
	}
	return false;
}

void tfx_q_family(struct out *o, const struct tf_tap_stats *taps, size_t n, const char *name,
		  const char *type, const char *help, size_t off, size_t size, bool need_rx_ns)
{
	const struct tf_tap_stats *t;
	const struct tf_queue_stats *qs;
	char tl[TAPLBL_MAX], ql[QLBL_MAX];
	size_t nl = strlen(name), qn;

	if (!tfx_any_queue(taps, n, need_rx_ns))
		return;
	tfx_put_meta(o, name, type, help);
	FOR_EACH_QUEUE(taps, n, need_rx_ns, t, qs, tl, ql, qn) {
		const char *v = (const char *)qs + off;
		char *p = cur_begin(o, nl + qn + 3 + U64_MAX_DEC + 1);

		if (!p)
			return;
		p = cur_put(p, name, nl);
		*p++ = '{';
		p = cur_put(p, ql, qn);
		p = cur_put(p, "} ", 2);
		p = cur_u64(p, size == sizeof(bool) ? *(const bool *)v : *(const uint64_t *)v);
		*p++ = '\n';
		cur_end(o, p);
	}
}

void tfx_q_counter(struct out *o, const struct tf_tap_stats *taps, size_t n,
		      const char *name, const char *help, size_t off, bool need_rx_ns)
{
	tfx_q_family(o, taps, n, name, "counter", help, off, sizeof(uint64_t), need_rx_ns);
}

/*
 * One series' lines: the buckets of the window (those below folded into its
 * first bound), +Inf, _sum and _count, with labels lbl. p has room for them.
 */
static char *hist_lines(char *p, const struct hist_desc *h, const char *lbl, size_t ln,
			const uint64_t *b, uint64_t sum)
{
	const struct le_str *le = h->ns ? le_time : le_occ;
	int nslots = h->ns ? TF_HIST_SLOTS : TF_OCC_SLOTS;
	char pre[HIST_NAME_MAX + 8 + QLBL_MAX + CUR_SLACK] = "";
	size_t nl = strlen(h->name), pn;
	uint64_t cum = 0;
	int k;

	/* Every bucket line of the series starts the same: build it once. */
	memcpy(pre, h->name, nl);
	memcpy(pre + nl, "_bucket{", 8);
	memcpy(pre + nl + 8, lbl, ln);
	pn = nl + 8 + ln;

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
	p = cur_put(p, lbl, ln);
	p = cur_put(p, "} ", 2);
	if (h->ns)
		p += tfx_ns_to_sec(sum, p);
	else
		p = cur_u64(p, sum);
	*p++ = '\n';

	p = cur_put(p, h->name, nl);
	p = cur_put(p, "_count{", 7);
	p = cur_put(p, lbl, ln);
	p = cur_put(p, "} ", 2);
	p = cur_u64(p, cum);
	*p++ = '\n';
	return p;
}

void tfx_q_hist(struct out *o, const struct tf_tap_stats *taps, size_t n,
		   const struct hist_desc *h, enum tf_export_hist mode)
{
	const struct tf_tap_stats *t;
	const struct tf_queue_stats *qs;
	char tl[TAPLBL_MAX], ql[QLBL_MAX];
	size_t nl = strlen(h->name), qn;
	/* A line at its longest: name_bucket{labels,le="BOUND"} VALUE */
	size_t line = nl + 8 + QLBL_MAX + CUR_SLACK + LE_TAIL_MAX + SEC_MAX_DEC + 1;
	size_t room = (h->hi - h->lo + 4) * line;

	if (nl > HIST_NAME_MAX || mode == TF_EXPORT_HIST_OFF)
		return;
	if (!tfx_any_queue(taps, n, h->need_rx_ns))
		return;
	tfx_put_meta(o, h->name, "histogram", h->help);
	if (mode == TF_EXPORT_HIST_TAP) {
		/* One series per tap: its queues' buckets and sums added up. */
		for (size_t i = 0; i < n; i++) {
			uint64_t b[TF_HIST_SLOTS] = { 0 }, sum = 0;
			int nslots = h->ns ? TF_HIST_SLOTS : TF_OCC_SLOTS;
			size_t tn;
			char *p;

			t = &taps[i];
			if (!tap_live(t) || !t->nqueues || (h->need_rx_ns && !t->rx_ns))
				continue;
			for (uint32_t j = 0; j < t->nqueues; j++) {
				const uint64_t *qb = (const uint64_t *)((const char *)&t->q[j] + h->buckets);

				for (int k = 0; k < nslots; k++)
					b[k] += qb[k];
				sum += *(const uint64_t *)((const char *)&t->q[j] + h->sum);
			}
			tn = tfx_tap_label(tl, t);
			p = cur_begin(o, room);
			if (!p)
				return;
			cur_end(o, hist_lines(p, h, tl, tn, b, sum));
		}
		return;
	}
	FOR_EACH_QUEUE(taps, n, h->need_rx_ns, t, qs, tl, ql, qn) {
		const uint64_t *b = (const uint64_t *)((const char *)qs + h->buckets);
		char *p = cur_begin(o, room);

		if (!p)
			return;
		cur_end(o, hist_lines(p, h, ql, qn, b, *(const uint64_t *)((const char *)qs + h->sum)));
	}
}
