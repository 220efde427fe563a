// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A pcapng writer, just what `tapflow capture` needs: a section header,
 * one interface description per tap (if_name, Ethernet, nanosecond
 * timestamps: if_tsresol 9), enhanced packet blocks with the direction
 * (epb_flags), the tap queue (epb_queue, tshark's frame.interface_queue),
 * the packets lost since the previous one (epb_dropcount) and a comment
 * for what pcapng has no field for (drop cause, ring wait, fast path), and
 * an interface statistics block (isb_ifrecv, isb_ifdrop) at the end.
 * Blocks are written whole and in host byte order (the section header's
 * byte-order magic says which), so a reader of a stream never sees half a
 * block once the caller flushes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tf_capture.h"

#define BT_SHB 0x0A0D0D0A
#define BT_IDB 0x00000001
#define BT_ISB 0x00000005
#define BT_EPB 0x00000006

#define OPT_END 0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4
#define IF_NAME 2
#define IF_TSRESOL 9
#define EPB_FLAGS 2
#define EPB_DROPCOUNT 4
#define EPB_QUEUE 6
#define ISB_IFRECV 4
#define ISB_IFDROP 5

struct tf_pcapng {
	FILE *f;
	unsigned char *buf;
	size_t cap, len;
	int nif;
	int err;
};

static void room(struct tf_pcapng *p, size_t more)
{
	unsigned char *b;
	size_t cap = p->cap;

	if (p->len + more <= p->cap)
		return;
	while (cap < p->len + more)
		cap = cap ? cap * 2 : 4096;
	b = realloc(p->buf, cap);
	if (!b) {
		p->err = -ENOMEM;
		return;
	}
	p->buf = b;
	p->cap = cap;
}

static void put(struct tf_pcapng *p, const void *d, size_t n)
{
	size_t pad = (4 - n % 4) % 4;

	room(p, n + pad);
	if (p->err)
		return;
	memcpy(p->buf + p->len, d, n);
	memset(p->buf + p->len + n, 0, pad);
	p->len += n + pad;
}

static void put32(struct tf_pcapng *p, uint32_t v)
{
	put(p, &v, 4);
}

static void opt(struct tf_pcapng *p, uint16_t code, const void *d, uint16_t n)
{
	uint16_t h[2] = { code, n };

	put(p, h, 4);
	if (n)
		put(p, d, n);
}

/* Blocks are built from `start`: type, a length patched by end_block(), body, length. */
static size_t begin_block(struct tf_pcapng *p, uint32_t type)
{
	size_t start = p->len;

	put32(p, type);
	put32(p, 0);
	return start;
}

static void end_block(struct tf_pcapng *p, size_t start)
{
	uint32_t total;

	if (p->err)
		return;
	total = (uint32_t)(p->len - start + 4);
	put32(p, total);
	if (!p->err)
		memcpy(p->buf + start + 4, &total, 4);
}

static int drain(struct tf_pcapng *p)
{
	if (!p->err && p->len && fwrite(p->buf, 1, p->len, p->f) != p->len)
		p->err = -errno ? -errno : -EIO;
	p->len = 0;
	return p->err;
}

struct tf_pcapng *tf_pcapng_open(FILE *f, const char *const *ifnames, int n, uint32_t snaplen)
{
	struct tf_pcapng *p = calloc(1, sizeof(*p));
	char app[64];
	uint16_t ver[2] = { 1, 0 };
	int64_t seclen = -1;
	uint8_t res = 9;
	size_t b;

	if (!p)
		return NULL;
	p->f = f;
	p->nif = n;
	snprintf(app, sizeof(app), "tapflow %s", tf_version());
	b = begin_block(p, BT_SHB);
	put32(p, 0x1A2B3C4D);
	put(p, ver, 4);
	put(p, &seclen, 8);
	opt(p, SHB_USERAPPL, app, (uint16_t)strlen(app));
	opt(p, OPT_END, NULL, 0);
	end_block(p, b);
	for (int i = 0; i < n; i++) {
		uint16_t lt[2] = { 1 /* LINKTYPE_ETHERNET */, 0 };

		b = begin_block(p, BT_IDB);
		put(p, lt, 4);
		put32(p, snaplen);
		opt(p, IF_NAME, ifnames[i], (uint16_t)strlen(ifnames[i]));
		opt(p, IF_TSRESOL, &res, 1);
		opt(p, OPT_END, NULL, 0);
		end_block(p, b);
	}
	if (p->err) {
		tf_pcapng_close(p);
		return NULL;
	}
	return p;
}

static void put_ts(struct tf_pcapng *p, uint64_t ts)
{
	put32(p, (uint32_t)(ts >> 32));
	put32(p, (uint32_t)ts);
}

int tf_pcapng_packet(struct tf_pcapng *p, int ifidx, const struct tf_pcapng_pkt *pkt)
{
	size_t b;

	if (ifidx < 0 || ifidx >= p->nif)
		return -EINVAL;
	b = begin_block(p, BT_EPB);
	put32(p, (uint32_t)ifidx);
	put_ts(p, pkt->ts_ns);
	put32(p, pkt->caplen);
	put32(p, pkt->wirelen);
	if (pkt->caplen)
		put(p, pkt->data, pkt->caplen);
	if (pkt->dir != TF_PCAPNG_DIR_NONE) {
		uint32_t flags = pkt->dir;	/* bits 0-1: 01 inbound, 10 outbound */

		opt(p, EPB_FLAGS, &flags, 4);
	}
	if (pkt->queue >= 0) {
		uint32_t q = (uint32_t)pkt->queue;

		opt(p, EPB_QUEUE, &q, 4);
	}
	if (pkt->has_dropcount)
		opt(p, EPB_DROPCOUNT, &pkt->dropcount, 8);
	if (pkt->comment && *pkt->comment)
		opt(p, OPT_COMMENT, pkt->comment, (uint16_t)strnlen(pkt->comment, 65000));
	opt(p, OPT_END, NULL, 0);
	end_block(p, b);
	return p->err;
}

int tf_pcapng_stats(struct tf_pcapng *p, int ifidx, uint64_t ts_ns, uint64_t recv, uint64_t drop)
{
	size_t b = begin_block(p, BT_ISB);

	put32(p, (uint32_t)ifidx);
	put_ts(p, ts_ns);
	opt(p, ISB_IFRECV, &recv, 8);
	opt(p, ISB_IFDROP, &drop, 8);
	opt(p, OPT_END, NULL, 0);
	end_block(p, b);
	return p->err;
}

int tf_pcapng_flush(struct tf_pcapng *p)
{
	if (drain(p))
		return p->err;
	if (fflush(p->f))
		p->err = -errno;
	return p->err;
}

int tf_pcapng_close(struct tf_pcapng *p)
{
	int err;

	if (!p)
		return 0;
	err = tf_pcapng_flush(p);
	free(p->buf);
	free(p);
	return err;
}
