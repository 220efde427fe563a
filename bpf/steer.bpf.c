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
 * A socket filter may not read skb->data directly, so headers are copied out
 * with bpf_skb_load_bytes_relative() from the MAC header (tun's transmit path
 * and BPF_PROG_TEST_RUN both set it; they disagree on where skb->data points).
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX	/* packet headers: fixed wire layout */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tf_steer_shared.h"

#define ETH_P_IP_	0x0800
#define ETH_P_IPV6_	0x86DD
#define ETH_P_8021Q_	0x8100
#define ETH_P_8021AD_	0x88A8
#define IP_MF_OFFSET	0x3fff	/* more-fragments flag and fragment offset */
#define NEXTHDR_HOP	0
#define NEXTHDR_ROUTING	43
#define NEXTHDR_FRAG	44
#define NEXTHDR_DEST	60
#define MAX_VLANS	2
#define MAX_IPV6_EXT	4

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

struct cursor {
	__u32 off;	/* from the MAC header */
};

/* What the modes look at, in network byte order. */
struct flow {
	__u8 family;	/* 4, 6; 0: not IP */
	__u8 proto;	/* IPPROTO_TCP / IPPROTO_UDP when ports are valid, else 0 */
	__be16 sport;
	__be16 dport;
	__be32 saddr[4];
	__be32 daddr[4];
};

/* Copy the next len bytes at the cursor and step over them; -1 if too short. */
static __always_inline int pull(struct __sk_buff *skb, struct cursor *c, void *to, __u32 len)
{
	if (bpf_skb_load_bytes_relative(skb, c->off, to, len, BPF_HDR_START_MAC))
		return -1;
	c->off += len;
	return 0;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct cursor *c,
				      struct flow *f, __u8 *l4proto)
{
	struct iphdr ip;

	if (pull(skb, c, &ip, sizeof(ip)) || ip.version != 4 || ip.ihl < 5)
		return -1;
	c->off += (ip.ihl - 5) * 4;	/* options */
	f->family = 4;
	f->saddr[0] = ip.saddr;
	f->daddr[0] = ip.daddr;
	/* A fragment has no ports (or only the first has): hash it as plain IP. */
	*l4proto = (ip.frag_off & bpf_htons(IP_MF_OFFSET)) ? 0 : ip.protocol;
	return 0;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct cursor *c,
				      struct flow *f, __u8 *l4proto)
{
	struct ipv6hdr ip6;
	__u8 nexthdr;

	if (pull(skb, c, &ip6, sizeof(ip6)) || ip6.version != 6)
		return -1;
	f->family = 6;
	__builtin_memcpy(f->saddr, &ip6.saddr, 16);
	__builtin_memcpy(f->daddr, &ip6.daddr, 16);
	nexthdr = ip6.nexthdr;
#pragma unroll
	for (int i = 0; i < MAX_IPV6_EXT; i++) {
		struct ipv6_opt_hdr ext;

		if (nexthdr == NEXTHDR_FRAG) {
			nexthdr = 0;
			break;
		}
		if (nexthdr != NEXTHDR_HOP && nexthdr != NEXTHDR_ROUTING &&
		    nexthdr != NEXTHDR_DEST)
			break;
		if (pull(skb, c, &ext, sizeof(ext))) {
			nexthdr = 0;
			break;
		}
		c->off += ext.hdrlen * 8 + 8 - sizeof(ext);
		nexthdr = ext.nexthdr;
	}
	*l4proto = nexthdr;
	return 0;
}

/* Fill f from the frame; 0 for IPv4/IPv6, -1 for anything else. */
static __always_inline int parse_flow(struct __sk_buff *skb, struct flow *f)
{
	struct cursor c = { 0 };
	struct ethhdr eth;
	__be16 proto;
	__u8 l4proto = 0;
	__be16 ports[2];

	if (pull(skb, &c, &eth, sizeof(eth)))
		return -1;
	proto = eth.h_proto;
#pragma unroll
	for (int i = 0; i < MAX_VLANS; i++) {
		__be16 tag[2];	/* TCI, encapsulated EtherType */

		if (proto != bpf_htons(ETH_P_8021Q_) && proto != bpf_htons(ETH_P_8021AD_))
			break;
		if (pull(skb, &c, tag, sizeof(tag)))
			return -1;
		proto = tag[1];
	}
	if (proto == bpf_htons(ETH_P_IP_)) {
		if (parse_ipv4(skb, &c, f, &l4proto))
			return -1;
	} else if (proto == bpf_htons(ETH_P_IPV6_)) {
		if (parse_ipv6(skb, &c, f, &l4proto))
			return -1;
	} else {
		return -1;
	}
	if ((l4proto == IPPROTO_TCP || l4proto == IPPROTO_UDP) &&
	    !pull(skb, &c, ports, sizeof(ports))) {
		f->proto = l4proto;
		f->sport = ports[0];
		f->dport = ports[1];
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
	bool tcp = f->proto == IPPROTO_TCP, udp = f->proto == IPPROTO_UDP;

	if (f->family == 4) {
		alen = 4;
		if ((tcp && (types & TF_RSS_HASH_TCPV4)) || (udp && (types & TF_RSS_HASH_UDPV4)))
			len = 12;
		else if (types & TF_RSS_HASH_IPV4)
			len = 8;
		else
			return cf->default_queue;
	} else {
		alen = 16;
		if ((tcp && (types & TF_RSS_HASH_TCPV6)) || (udp && (types & TF_RSS_HASH_UDPV6)))
			len = 36;
		else if (types & TF_RSS_HASH_IPV6)
			len = 32;
		else
			return cf->default_queue;
	}
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
