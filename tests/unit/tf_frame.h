/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Test frames for the BPF programs' BPF_PROG_TEST_RUN tables, built from a
 * short description: Ethernet, any VLAN tags, IPv4 (options, fragments,
 * broken version or IHL) or IPv6 with a chain of extension headers, TCP/UDP
 * ports, and a length to cut the frame at, so that every layer of
 * bpf/parse.bpf.h can be fed a whole, a cut-short and an odd header.
 *
 *   dst src [tag]... type │ IPv4 + options       │ sport dport ...
 *                        │ IPv6 [ext]...        │
 *   └──────────── .len cuts anywhere in here ────────────┘
 */
#ifndef TF_FRAME_H
#define TF_FRAME_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

/* Header sizes, for writing cut points as sums: .len = F_ETH + F_TAG + 2. */
#define F_ETH	14
#define F_TAG	4
#define F_IP4	20
#define F_IP6	40
#define F_OPT	8	/* 'H', 'R': the smallest extension header */
#define F_DST	16	/* 'D': a destination-options header with one 8-byte unit more */
#define F_FRAG	8
#define F_MAX	256	/* buffer size for tf_frame_build() */

struct tf_frame {
	const uint8_t *dst, *src;	/* NULL: 02:00:00:00:00:02, 02:00:00:00:00:01 */
	/* VLAN tags, outer first: 'q' 802.1Q (0x8100), 'a' 802.1ad (0x88a8) */
	const char *tags;
	uint16_t vid;			/* the tags' TCI */
	int family;			/* 4, 6; 0: .ethertype and zeros */
	uint16_t ethertype;
	uint8_t ipproto;
	const char *saddr, *daddr;	/* NULL: 10.0.0.1 -> 10.0.0.2, fd00::1 -> fd00::2 */
	uint16_t sport, dport;
	/* IPv4 */
	int ip_opts;			/* option words (4 bytes each) */
	uint16_t frag_off;		/* host order: IP_MF 0x2000, offset in 8-byte units */
	uint8_t ihl;			/* 0: 5 + ip_opts */
	/*
	 * IPv6 extension headers in order: 'H' hop-by-hop, 'R' routing, 'D'
	 * destination options (16 bytes), 'F' fragment at offset 0 (M set),
	 * 'L' fragment at offset 1480.
	 */
	const char *ext;
	uint8_t version;		/* 0: the family's own */
	size_t len;			/* cut the frame here; 0: whole, padded to 60 */
};

static inline void tf_put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }

static inline uint8_t tf_ext_type(char c)
{
	switch (c) {
	case 'H': return 0;
	case 'R': return 43;
	case 'D': return 60;
	default: return 44;	/* 'F', 'L' */
	}
}

/* The frame f describes, into buf (F_MAX bytes); returns its length. */
static inline size_t tf_frame_build(const struct tf_frame *f, uint8_t *buf)
{
	static const uint8_t d0[6] = { 2, 0, 0, 0, 0, 2 }, s0[6] = { 2, 0, 0, 0, 0, 1 };
	size_t n = 12, l3, l4;

	memset(buf, 0, F_MAX);
	memcpy(buf, f->dst ? f->dst : d0, 6);
	memcpy(buf + 6, f->src ? f->src : s0, 6);
	for (const char *t = f->tags; t && *t; t++) {
		tf_put16(buf + n, *t == 'a' ? 0x88a8 : 0x8100);
		tf_put16(buf + n + 2, f->vid);
		n += 4;
	}
	tf_put16(buf + n, f->family == 4 ? 0x0800 : f->family == 6 ? 0x86dd : f->ethertype);
	l3 = n + 2;
	if (f->family == 4) {
		buf[l3] = (f->version ? f->version : 4) << 4 | (f->ihl ? f->ihl : 5 + f->ip_opts);
		tf_put16(buf + l3 + 2, 20 + f->ip_opts * 4 + 20);
		tf_put16(buf + l3 + 6, f->frag_off);
		buf[l3 + 8] = 64;
		buf[l3 + 9] = f->ipproto;
		inet_pton(AF_INET, f->saddr ? f->saddr : "10.0.0.1", buf + l3 + 12);
		inet_pton(AF_INET, f->daddr ? f->daddr : "10.0.0.2", buf + l3 + 16);
		for (int i = 0; i < f->ip_opts; i++)
			buf[l3 + 20 + 4 * i] = 1;	/* NOP */
		l4 = l3 + 20 + f->ip_opts * 4;
	} else if (f->family == 6) {
		uint8_t *next = buf + l3 + 6;

		buf[l3] = (f->version ? f->version : 6) << 4;
		buf[l3 + 7] = 64;
		inet_pton(AF_INET6, f->saddr ? f->saddr : "fd00::1", buf + l3 + 8);
		inet_pton(AF_INET6, f->daddr ? f->daddr : "fd00::2", buf + l3 + 24);
		l4 = l3 + 40;
		for (const char *e = f->ext; e && *e; e++) {
			uint8_t *h = buf + l4;

			*next = tf_ext_type(*e);
			next = h;
			if (*e == 'F' || *e == 'L') {
				tf_put16(h + 2, *e == 'L' ? 1480 | 1 : 1);	/* offset, M */
				l4 += F_FRAG;
			} else if (*e == 'D') {
				h[1] = 1;	/* 8-byte units past the first 8 */
				l4 += F_DST;
			} else {
				l4 += F_OPT;
			}
		}
		*next = f->ipproto;
		tf_put16(buf + l3 + 4, l4 - l3 - 40 + 20);
	} else {
		l4 = l3;
	}
	if (f->family) {
		tf_put16(buf + l4, f->sport);
		tf_put16(buf + l4 + 2, f->dport);
		n = l4 + 20;
	} else {
		n = l4 + 46;
	}
	if (f->len)
		return f->len;
	return n < 60 ? 60 : n;
}

#endif
