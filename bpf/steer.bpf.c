// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host → guest queue steering: the socket filter tun runs in tun_select_queue()
 * (installed with TUNSETSTEERINGEBPF) to choose which queue's ring gets each
 * packet the host transmits into the tap. tun keeps the low 16 bits of the
 * return value modulo the attached queue count.
 *
 *   host stack ─> __dev_queue_xmit ─> tun_select_queue ─[this]─> tun_net_xmit
 *                                                         └─> tfiles[q] ring ─> backend
 *
 * Modes (tf_steer_shared.h): l3 and l4 hash the ordered endpoint pair so that
 * both directions of a flow pick one queue; rss is virtio-net's Toeplitz hash
 * and indirection table; fixed looks the flow up in a table of rules. Frames
 * that are not IPv4/IPv6 go to the default queue.
 *
 * Frames are read with parse.bpf.h, the parser the fast path uses too, in
 * its socket-filter flavour: a socket filter may not read skb->data
 * directly, so each header is copied out with bpf_skb_load_bytes_relative().
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX	/* packet headers: fixed wire layout */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tf_steer_shared.h"
#define TF_PARSE_SKB	/* no direct packet access in a socket filter */
#include "parse.bpf.h"

/* Set by user space before load: byte i of the input, value v -> contribution. */
const volatile __u32 toeplitz[TF_STEER_HASH_IN_MAX][256];

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tf_steer_conf);
} conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TF_STEER_MAX_RULES);
	__type(key, struct tf_steer_rule);
	__type(value, __u32);
} rules SEC(".maps");

/* What the modes look at, in network byte order. */
struct flow {
	__u8 family;	/* 4, 6; 0: not IP */
	__u8 proto;	/* IPPROTO_TCP / IPPROTO_UDP when ports are valid, else 0 */
	__be16 sport;
	__be16 dport;
	__be32 saddr[4];
	__be32 daddr[4];
};

/*
 * Fill f from the frame; 0 for IPv4/IPv6, -1 for anything else (not IP, or
 * the IP header cut short). A fragment, first or later, is hashed as plain
 * IP: all fragments of a datagram must land on one queue, and only the
 * first carries the ports.
 */
static __always_inline int parse_flow(struct __sk_buff *skb, struct flow *f)
{
	struct tf_cursor c;
	struct tf_pkt p;

	tf_cursor_init(&c, skb);
	if (tf_parse_frame(&c, &p, TF_PARSE_ADDRS) || !p.family)
		return -1;
	f->family = p.family;
	__builtin_memcpy(f->saddr, p.saddr, 16);
	__builtin_memcpy(f->daddr, p.daddr, 16);
	if (p.l4 && p.frag == TF_FRAG_NONE) {
		f->proto = p.ipproto;
		f->sport = p.sport;
		f->dport = p.dport;
	}
	return 0;
}

static __always_inline __u32 mix(__u32 h, __u32 w)
{
	h ^= w;
	h *= TF_STEER_MUL;
	return h ^ (h >> 15);
}

/* Is endpoint (saddr, sport) above (daddr, dport)? Big-endian comparison. */
static __always_inline bool src_above(const struct flow *f, int nwords)
{
	int cmp = 0;	/* decided by the first differing word */

#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 a = bpf_ntohl(f->saddr[i]), b = bpf_ntohl(f->daddr[i]);

		if (!cmp && i < nwords && a != b)
			cmp = a > b ? 1 : -1;
	}
	if (!cmp)
		return bpf_ntohs(f->sport) > bpf_ntohs(f->dport);
	return cmp > 0;
}

/* l3 and l4: both directions of a flow give the same value. */
static __always_inline __u32 symmetric_hash(const struct flow *f, bool ports)
{
	int nwords = f->family == 6 ? 4 : 1;
	const __be32 *lo = f->saddr, *hi = f->daddr;
	__u16 plo = bpf_ntohs(f->sport), phi = bpf_ntohs(f->dport);
	__u32 h = TF_STEER_SEED;

	if (!ports || !f->proto)
		plo = phi = 0;
	if (src_above(f, nwords)) {
		lo = f->daddr;
		hi = f->saddr;
		plo = bpf_ntohs(f->dport);
		phi = bpf_ntohs(f->sport);
		if (!ports || !f->proto)
			plo = phi = 0;
	}
#pragma unroll
	for (int i = 0; i < 4; i++)
		if (i < nwords)
			h = mix(h, bpf_ntohl(lo[i]));
#pragma unroll
	for (int i = 0; i < 4; i++)
		if (i < nwords)
			h = mix(h, bpf_ntohl(hi[i]));
	if (ports && f->proto)
		h = mix(h, (__u32)plo << 16 | phi);
	h ^= h >> 16;
	h *= TF_STEER_FMUL;
	h ^= h >> 13;
	return h & 0xffff;
}

static __always_inline __u32 toeplitz_hash(const __u8 *in, __u32 len)
{
	__u32 h = 0;

#pragma unroll
	for (int i = 0; i < TF_STEER_HASH_IN_MAX; i++)
		if (i < len)
			h ^= toeplitz[i][in[i]];
	return h;
}

/* virtio-net RSS: which fields are hashed depends on the enabled hash types. */
static __always_inline __u32 rss_queue(const struct flow *f, const struct tf_steer_conf *cf)
{
	__u8 in[TF_STEER_HASH_IN_MAX] = {};
	__u32 types = cf->hash_types, len, alen, h;
	bool tcp = f->proto == IPPROTO_TCP, udp = f->proto == IPPROTO_UDP, l4, l3;

	if (f->family == 4) {
		alen = 4;
		l4 = (tcp && (types & TF_RSS_HASH_TCPV4)) || (udp && (types & TF_RSS_HASH_UDPV4));
		l3 = types & TF_RSS_HASH_IPV4;
	} else {
		alen = 16;
		l4 = (tcp && (types & TF_RSS_HASH_TCPV6)) || (udp && (types & TF_RSS_HASH_UDPV6));
		l3 = types & TF_RSS_HASH_IPV6;
	}
	if (!l4 && !l3)
		return cf->default_queue;
	/* both addresses, then both ports when the L4 type is enabled */
	len = 2 * alen + (l4 ? 4 : 0);
	if (alen == 4) {
		__builtin_memcpy(in, f->saddr, 4);
		__builtin_memcpy(in + 4, f->daddr, 4);
		__builtin_memcpy(in + 8, &f->sport, 2);
		__builtin_memcpy(in + 10, &f->dport, 2);
	} else {
		__builtin_memcpy(in, f->saddr, 16);
		__builtin_memcpy(in + 16, f->daddr, 16);
		__builtin_memcpy(in + 32, &f->sport, 2);
		__builtin_memcpy(in + 34, &f->dport, 2);
	}
	h = toeplitz_hash(in, len);
	if (cf->flags & TF_STEER_F_HASH_ONLY)
		return h;
	return cf->indir[h & (cf->indir_len - 1) & (TF_STEER_INDIR_MAX - 1)];
}

static __always_inline __u32 fixed_queue(const struct flow *f, const struct tf_steer_conf *cf)
{
	struct tf_steer_rule key = {};
	__u32 *q;

	key.family = f->family;
	key.proto = f->proto;
	key.sport = f->sport;
	key.dport = f->dport;
	__builtin_memcpy(key.saddr, f->saddr, 16);
	__builtin_memcpy(key.daddr, f->daddr, 16);
	q = bpf_map_lookup_elem(&rules, &key);
	if (q)
		return *q;
	/* A rule without protocol and ports matches the address pair. */
	key.proto = 0;
	key.sport = key.dport = 0;
	q = bpf_map_lookup_elem(&rules, &key);
	return q ? *q : cf->default_queue;
}

SEC("socket")
int tf_steer(struct __sk_buff *skb)
{
	struct flow f = {};
	struct tf_steer_conf *cf;
	__u32 zero = 0;

	cf = bpf_map_lookup_elem(&conf, &zero);
	if (!cf)
		return 0;
	if (parse_flow(skb, &f))
		return cf->default_queue;
	switch (cf->mode) {
	case TF_STEER_L3:
		return symmetric_hash(&f, false);
	case TF_STEER_L4:
		return symmetric_hash(&f, true);
	case TF_STEER_RSS:
		return rss_queue(&f, cf);
	case TF_STEER_FIXED:
		return fixed_queue(&f, cf);
	default:
		return cf->default_queue;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
