/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one packet parser of tapflow's BPF programs (the XDP fast path and
 * queue steering), with one set of rules: Ethernet, up to two VLAN tags
 * (802.1Q or 802.1ad, in any order), IPv4 (options stepped over, fragments
 * told apart) or IPv6 (hop-by-hop, routing, fragment and destination-options
 * headers stepped over), then the TCP/UDP ports.
 *
 *   frame   ethhdr │ vlan_hdr │ vlan_hdr │ iphdr + options      │ ports
 *                  │  (0-2)   │          │ ipv6hdr + ext headers │
 *   cursor  0 ─────▶ every tf_pull() checks the next header fits, then steps over it
 *
 * The parser walks a cursor (an offset from the start of the frame) and
 * reads each header through tf_pull(), which bounds-checks it first; nothing
 * is read that was not checked. Two programs read bytes two ways:
 *
 * - XDP (the default): direct packet access. tf_pull() returns a pointer
 *   into the frame once `data + off + len <= data_end` holds.
 * - socket filters (define TF_PARSE_SKB before including this): the verifier
 *   gives them no direct packet access, so tf_pull() copies the header into
 *   the caller's buffer with bpf_skb_load_bytes_relative() from the MAC
 *   header (tun's transmit path and BPF_PROG_TEST_RUN both set it, and
 *   disagree on where skb->data points), the way skb_header_pointer() does.
 *
 * Either way the caller passes a buffer the size of the header and uses the
 * pointer it gets back; a NULL means the frame ended first.
 *
 * What a program gets (struct tf_pkt) says how far the frame went, so each
 * program can decide what a short frame means to it: the fast path still
 * matches an EtherType rule on a frame whose IP header is cut short; steering
 * sends any frame without a whole IP header to its default queue.
 */
#ifndef TF_PARSE_BPF_H
#define TF_PARSE_BPF_H

#define ETH_ALEN	6
#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define ETH_P_8021Q	0x8100	/* customer VLAN tag */
#define ETH_P_8021AD	0x88A8	/* service VLAN tag (QinQ outer) */

#define IP_MF		0x2000	/* IPv4 frag_off: more fragments */
#define IP_OFFSET	0x1FFF	/* IPv4 frag_off: offset, in 8-byte units */
#define IP6_OFFSET	0xFFF8	/* IPv6 fragment header: offset */

#define NEXTHDR_HOP	0	/* IPv6 hop-by-hop options */
#define NEXTHDR_ROUTING	43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST	60	/* destination options */

#define TF_MAX_VLANS	2
/*
 * RFC 8200's recommended order has at most five of the headers walked here
 * (hop-by-hop, destination options, routing, fragment, destination options);
 * one more for good measure. A longer chain stops the walk (see ipproto).
 */
#define TF_IPV6_EXT_MAX	6
/*
 * Where the cursor may stand before a pull: bounds the variable offsets the
 * verifier tracks (IPv4 options, IPv6 extension headers up to 2 KB each) and
 * is far past any header chain a real frame carries.
 */
#define TF_PARSE_MAX_OFF 0x3fff

enum tf_frag {
	TF_FRAG_NONE = 0,
	TF_FRAG_FIRST = 1,	/* offset 0: the L4 header is here */
	TF_FRAG_LATER = 2,	/* a non-first fragment: no L4 header */
};

/* What the parser found, headers in network byte order. */
struct tf_pkt {
	__be16 proto;	/* EtherType after the VLAN tags; a tag cut short leaves its TPID */
	__u8 vlans;	/* VLAN tags stepped over */
	__u8 family;	/* 4, 6: a whole IP header is there; 0: not IP, bad or cut short */
	/*
	 * IPv4 protocol or IPv6 upper-layer header past the extension headers
	 * (also for a later fragment); if the walk stopped at an extension
	 * header (cut short, or more than TF_IPV6_EXT_MAX), that header's
	 * number. 0 when family is 0.
	 */
	__u8 ipproto;
	__u8 frag;	/* enum tf_frag */
	__u8 l4;	/* 1: TCP/UDP, and sport/dport were read */
	__u8 pad;
	__be16 sport;
	__be16 dport;
	__be32 saddr[4];	/* with TF_PARSE_ADDRS; IPv4 in [0] */
	__be32 daddr[4];
};

/* tf_parse_*() flags: copy the addresses (steering hashes them; the fast path does not). */
#define TF_PARSE_ADDRS	1U

struct tf_cursor {
#ifdef TF_PARSE_SKB
	struct __sk_buff *skb;
#else
	void *data;
	void *data_end;
#endif
	__u32 off;	/* from the start of the frame (the MAC header) */
};

#ifdef TF_PARSE_SKB
static __always_inline void tf_cursor_init(struct tf_cursor *c, struct __sk_buff *skb)
{
	c->skb = skb;
	c->off = 0;
}
#else
static __always_inline void tf_cursor_init(struct tf_cursor *c, struct xdp_md *ctx)
{
	c->data = (void *)(long)ctx->data;
	c->data_end = (void *)(long)ctx->data_end;
	c->off = 0;
}
#endif

/*
 * The next len bytes at the cursor, bounds-checked, and the cursor past
 * them; NULL if the frame is shorter. buf (len bytes) receives the copy
 * where the program cannot read the packet directly.
 */
static __always_inline void *tf_pull(struct tf_cursor *c, void *buf, __u32 len)
{
	__u32 off = c->off;
	void *p;

	if (off > TF_PARSE_MAX_OFF)
		return NULL;
#ifdef TF_PARSE_SKB
	if (bpf_skb_load_bytes_relative(c->skb, off, buf, len, BPF_HDR_START_MAC))
		return NULL;
	p = buf;
#else
	(void)buf;
	p = c->data + off;
	if (p + len > c->data_end)
		return NULL;
#endif
	c->off = off + len;
	return p;
}

/* Step over bytes whose bounds the next tf_pull() checks. */
static __always_inline void tf_skip(struct tf_cursor *c, __u32 len)
{
	c->off += len;
}

static __always_inline struct ethhdr *tf_parse_eth(struct tf_cursor *c, struct ethhdr *buf)
{
	return tf_pull(c, buf, sizeof(*buf));
}

/* Up to TF_MAX_VLANS tags after proto (the Ethernet header's EtherType). */
static __always_inline void tf_parse_vlans(struct tf_cursor *c, struct tf_pkt *p, __be16 proto)
{
	p->proto = proto;
#pragma unroll
	for (int i = 0; i < TF_MAX_VLANS; i++) {
		struct vlan_hdr buf, *vh;

		if (p->proto != bpf_htons(ETH_P_8021Q) && p->proto != bpf_htons(ETH_P_8021AD))
			return;
		vh = tf_pull(c, &buf, sizeof(buf));
		if (!vh)
			return;
		p->proto = vh->h_vlan_encapsulated_proto;
		p->vlans++;
	}
}

static __always_inline void tf_parse_ipv4(struct tf_cursor *c, struct tf_pkt *p, const __u32 flags)
{
	struct iphdr buf, *ip;
	__u16 frag;

	ip = tf_pull(c, &buf, sizeof(buf));
	if (!ip || ip->version != 4 || ip->ihl < 5)
		return;
	/*
	 * The options are stepped over, not checked: the addresses are in the
	 * fixed part, and the pull of the ports checks that the options ended.
	 */
	tf_skip(c, (ip->ihl - 5) * 4);
	p->family = 4;
	p->ipproto = ip->protocol;
	if (flags & TF_PARSE_ADDRS) {
		p->saddr[0] = ip->saddr;
		p->daddr[0] = ip->daddr;
	}
	frag = bpf_ntohs(ip->frag_off);
	if (frag & IP_OFFSET)
		p->frag = TF_FRAG_LATER;
	else if (frag & IP_MF)
		p->frag = TF_FRAG_FIRST;
}

static __always_inline void tf_parse_ipv6(struct tf_cursor *c, struct tf_pkt *p, const __u32 flags)
{
	struct ipv6hdr buf, *ip6;
	__u8 nexthdr;

	ip6 = tf_pull(c, &buf, sizeof(buf));
	if (!ip6 || ip6->version != 6)
		return;
	p->family = 6;
	if (flags & TF_PARSE_ADDRS) {
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	}
	nexthdr = ip6->nexthdr;
#pragma unroll
	for (int i = 0; i < TF_IPV6_EXT_MAX; i++) {
		if (nexthdr == NEXTHDR_HOP || nexthdr == NEXTHDR_ROUTING ||
		    nexthdr == NEXTHDR_DEST) {
			struct ipv6_opt_hdr obuf, *opt = tf_pull(c, &obuf, sizeof(obuf));

			if (!opt)
				break;
			/* hdrlen: 8-byte units past the first 8 */
			tf_skip(c, opt->hdrlen * 8 + 8 - sizeof(obuf));
			nexthdr = opt->nexthdr;
		} else if (nexthdr == NEXTHDR_FRAGMENT) {
			struct frag_hdr fbuf, *fh = tf_pull(c, &fbuf, sizeof(fbuf));

			if (!fh)
				break;
			nexthdr = fh->nexthdr;
			if (fh->frag_off & bpf_htons(IP6_OFFSET)) {
				p->frag = TF_FRAG_LATER;
				break;	/* the rest is payload */
			}
			/* any fragment header marks a fragment, as the flow dissector has it */
			p->frag = TF_FRAG_FIRST;
		} else {
			break;
		}
	}
	p->ipproto = nexthdr;
}

/* Source and destination ports lead both the TCP and the UDP header. */
static __always_inline void tf_parse_ports(struct tf_cursor *c, struct tf_pkt *p)
{
	__be16 buf[2], *ports;

	if (!p->family || p->frag == TF_FRAG_LATER ||
	    (p->ipproto != IPPROTO_TCP && p->ipproto != IPPROTO_UDP))
		return;
	ports = tf_pull(c, buf, sizeof(buf));
	if (!ports)
		return;
	p->sport = ports[0];
	p->dport = ports[1];
	p->l4 = 1;
}

/*
 * Everything after the Ethernet header whose EtherType is proto: the VLAN
 * tags, the IP header and the ports. p is filled as far as the frame goes.
 */
static __always_inline void tf_parse_l3(struct tf_cursor *c, struct tf_pkt *p, __be16 proto,
					const __u32 flags)
{
	__builtin_memset(p, 0, sizeof(*p));
	tf_parse_vlans(c, p, proto);
	if (p->proto == bpf_htons(ETH_P_IP))
		tf_parse_ipv4(c, p, flags);
	else if (p->proto == bpf_htons(ETH_P_IPV6))
		tf_parse_ipv6(c, p, flags);
	tf_parse_ports(c, p);
}

/* The whole frame from the cursor's start; -1 if not even the Ethernet header is there. */
static __always_inline int tf_parse_frame(struct tf_cursor *c, struct tf_pkt *p, const __u32 flags)
{
	struct ethhdr buf, *eth = tf_parse_eth(c, &buf);

	if (!eth) {
		__builtin_memset(p, 0, sizeof(*p));
		return -1;
	}
	tf_parse_l3(c, p, eth->h_proto, flags);
	return 0;
}

#endif
