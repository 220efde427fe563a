// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The XDP fast path: two programs over one set of maps (tf_fastpath_shared.h).
 *
 * tf_fp_tap runs natively on an accelerated tap, in tun_get_user, on every
 * frame its backend writes, before any skb exists. It learns the guest's MAC
 * from the source address, hands frames that match one of the tap's AF_XDP
 * rules to the socket of the queue they came in on, sends frames whose
 * destination MAC sits behind another port straight there through a DEVMAP
 * (tun_xdp_xmit into a tap, ndo_xdp_xmit out of an uplink), and passes the
 * rest (broadcast, multicast, unknown unicast, ARP) to the host stack, which
 * stays the slow path.
 *
 * tf_fp_uplink runs on an uplink (veth, NIC) and redirects frames addressed
 * to an accelerated tap's MAC into that tap; the rest goes up as usual.
 *
 *   VM backend                                         host stack, bridge
 *     │ write()                                               ▲
 *     ▼                                                       │ XDP_PASS
 *   tun_get_user ─▶ [tf_fp_tap] ─┬─ fdb: tap B ─▶ tx_ports ─▶ tun_xdp_xmit ─▶ B's ring ─▶ B's backend
 *                                ├─ fdb: uplink ─▶ tx_ports ─▶ ndo_xdp_xmit ─▶ wire
 *                                └─ rule ─▶ xsks[row+queue] ─▶ AF_XDP socket
 *   wire ─▶ uplink rx ─▶ [tf_fp_uplink] ── fdb: tap ─▶ tx_ports ─▶ tun_xdp_xmit
 *
 * The fdb is VLAN-unaware (one MAC, one port); rules read the frame through
 * parse.bpf.h, the parser steering uses too: up to two VLAN tags, IPv6
 * extension headers stepped over, no ports in a later fragment.
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX	/* packet headers: fixed wire layout */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tf_fastpath_shared.h"
#include "tf_capture_shared.h"
#include "parse.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The ports (ifindex -> slot, rows, kind, rules, name). One loaded copy of
 * each program serves every port of the namespace, so the frame's port is
 * found here by its ingress ifindex: one hash lookup per frame, whose cost
 * does not grow with the number of ports, and adding a port loads and
 * verifies nothing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TF_FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct tf_fp_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TF_FP_FDB_SIZE);
	__type(key, struct tf_fp_fdb_key);
	__type(value, struct tf_fp_fdb);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fdb SEC(".maps");

/*
 * Pinned by user space, not by name: the kernel adds BPF_F_RDONLY_PROG to a
 * DEVMAP's flags, so libbpf would find the pinned map "incompatible".
 * Keyed by slot: an array lookup inside bpf_redirect_map, where a
 * DEVMAP_HASH keyed by ifindex costs a hash lookup per frame.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, TF_FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, TF_FP_MAX_ROWS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TF_FP_MAX_ROWS);
	__type(key, __u32);
	__type(value, struct tf_fp_qstats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tf_fp_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} meta SEC(".maps");

/*
 * The program's last fdb answers, per CPU (so queues on other CPUs never
 * share the cache line), valid while gen[0] still has the value they were
 * read under. A guest mostly talks to one or two MACs (its gateway, a peer),
 * so the fdb is looked up again only when something changed. Every port
 * shares it: the source entry says which port it was learned on, and the
 * destination answer does not depend on the port. Not pinned: it lives and
 * dies with the program.
 */
struct fp_cache {
	__u64 gen;
	__u32 src_ifindex;	/* the port src was learned on */
	__u8 src[ETH_ALEN];	/* last source MAC known to be learned here */
	__u8 src_ok;
	__u8 dst_ok;
	__u8 dst[ETH_ALEN];	/* last destination MAC looked up */
	__u8 dst_found;		/* 0: not in the fdb */
	__u8 pad;
	__u32 dst_ifindex;
	__u32 dst_slot;
	__u32 dst_flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_cache);
} cache SEC(".maps");

/*
 * `tapflow capture` of a port (user/capture_fp.c): while cap_on[its slot]
 * holds a snaplen, frames redirected away from that port are copied to the
 * capture through cap_pe, marked; 0, nothing but the lookup. The one
 * program serves every port, so the request is per port, and cap_pe (one
 * perf buffer per CPU) feeds one capture of a namespace at a time. Not
 * pinned: found through the program's maps. The perf array's entries
 * belong to the capture's file descriptor and go with it, even on kill -9.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TF_FP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct tf_fp_cap);
} cap_on SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} cap_pe SEC(".maps");

static __always_inline void cap_away(struct xdp_md *ctx, __u32 slot, __u32 queue, __u64 len,
				     __u8 where)
{
	struct tf_cap_rec rec = { .wirelen = len, .queue = queue, .dir = TF_CAP_RX,
				  .event = TF_CAP_EV_RECEIVED, .flags = TF_CAP_F_AWAY,
				  .away = where };
	struct tf_fp_cap *on = bpf_map_lookup_elem(&cap_on, &slot);
	__u64 n;

	if (!on || !on->snaplen)
		return;
	n = len < on->snaplen ? len : on->snaplen;
	rec.caplen = n;
	rec.ts = bpf_ktime_get_ns();
	bpf_perf_event_output(ctx, &cap_pe, BPF_F_CURRENT_CPU | (n << 32), &rec, sizeof(rec));
}

static __always_inline bool mac_is_multicast(const __u8 *mac)
{
	return mac[0] & 1;
}

static __always_inline bool mac_is_zero(const __u8 *mac)
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

static __always_inline void mac_key(struct tf_fp_fdb_key *k, const __u8 *mac)
{
	__builtin_memcpy(k->mac, mac, ETH_ALEN);
	k->pad = 0;
}

static __always_inline void count(struct tf_fp_qstats *qs, enum tf_fp_action act, __u64 len)
{
	if (!qs)
		return;
	qs->packets[act]++;
	qs->bytes[act] += len;
}

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return *(const __u32 *)a == *(const __u32 *)b &&
	       *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

/*
 * A tap's guest MAC is where its frames come from. Static entries win; an
 * entry already right costs one lookup and no write. A change bumps gen, so
 * every copy's cache forgets what it knew about that MAC.
 */
static __always_inline void learn(struct ethhdr *eth, __u32 ifindex, __u32 slot, __u64 *g,
				  struct tf_fp_qstats *qs)
{
	struct tf_fp_fdb_key k;
	struct tf_fp_fdb *e, v = { .ifindex = ifindex, .flags = TF_FP_FDB_LEARNED, .slot = slot };

	if (mac_is_multicast(eth->h_source) || mac_is_zero(eth->h_source))
		return;
	mac_key(&k, eth->h_source);
	e = bpf_map_lookup_elem(&fdb, &k);
	if (e && (e->ifindex == ifindex || (e->flags & TF_FP_FDB_STATIC)))
		return;
	/*
	 * NOEXIST for a new MAC: the first frames of two queues can race here,
	 * and only the one that creates the entry counts it.
	 */
	if (!bpf_map_update_elem(&fdb, &k, &v, e ? BPF_EXIST : BPF_NOEXIST)) {
		__sync_fetch_and_add(g, 1);
		if (qs)
			qs->learned++;
	}
}

static __always_inline bool rule_match(const struct tf_fp_rule *r, const struct tf_pkt *p)
{
	switch (r->kind) {
	case TF_FP_RULE_ALL:
		return true;
	case TF_FP_RULE_ETHERTYPE:
		return bpf_ntohs(p->proto) == r->value;
	case TF_FP_RULE_IPPROTO:
		return p->family && p->ipproto == r->ipproto;
	case TF_FP_RULE_L4_DPORT:
		return p->l4 && p->ipproto == r->ipproto && bpf_ntohs(p->dport) == r->value;
	}
	return false;
}

/* The frame past its Ethernet header (c stands there) is parsed only when the port has rules. */
static __always_inline bool rules_match(const struct tf_fp_port *port, struct tf_cursor *c,
					struct ethhdr *eth)
{
	struct tf_pkt p;

	tf_parse_l3(c, &p, eth->h_proto, 0);
#pragma unroll
	for (int i = 0; i < TF_FP_MAX_RULES; i++) {
		if (i >= port->nrules)
			break;
		if (rule_match(&port->rules[i], &p))
			return true;
	}
	return false;
}

/*
 * The one decision both programs make. from_tap is a constant at each call
 * site: taps learn and may reach uplinks; uplinks only feed taps.
 */
static __always_inline int fast_path(struct xdp_md *ctx, const bool from_tap)
{
	__u64 len = ctx->data_end - ctx->data, *g, now;
	__u32 queue = ctx->rx_queue_index, ifindex = ctx->ingress_ifindex, key = 0;
	__u32 dst_slot, dst_flags;
	struct tf_fp_qstats *qs = NULL;
	struct tf_fp_port *port;
	struct tf_cursor cur;
	struct ethhdr ebuf, *eth;
	struct fp_cache *c;
	bool has_row;
	long act;

	port = bpf_map_lookup_elem(&ports, &ifindex);
	g = bpf_map_lookup_elem(&gen, &key);
	c = bpf_map_lookup_elem(&cache, &key);
	/* not a port (any more), or not this program's kind: a device we no longer serve */
	if (!port || !g || !c || port->kind != (from_tap ? TF_FP_PORT_TAP : TF_FP_PORT_UPLINK))
		return XDP_PASS;
	/* a queue past the port's rows counts in its spill row and has no socket */
	has_row = queue < port->nrows;
	key = port->row + (has_row ? queue : port->nrows);
	qs = bpf_map_lookup_elem(&stats, &key);

	tf_cursor_init(&cur, ctx);
	eth = tf_parse_eth(&cur, &ebuf);
	if (!eth) {
		count(qs, TF_FP_DROP, len);
		return XDP_DROP;
	}
	now = *g;
	if (c->gen != now) {
		c->gen = now;
		c->src_ok = 0;
		c->dst_ok = 0;
	}
	if (from_tap && !(c->src_ok && c->src_ifindex == ifindex && mac_eq(c->src, eth->h_source))) {
		learn(eth, ifindex, port->slot, g, qs);
		__builtin_memcpy(c->src, eth->h_source, ETH_ALEN);
		c->src_ifindex = ifindex;
		c->src_ok = 1;
	}

	if (port->nrules && rules_match(port, &cur, eth)) {
		/* the spill row is no queue's: no socket can be there */
		act = has_row ? bpf_redirect_map(&xsks, key, XDP_PASS) : XDP_PASS;
		if (act == XDP_REDIRECT) {
			count(qs, TF_FP_XSK, len);
			if (from_tap)
				cap_away(ctx, port->slot, queue, len, TF_CAP_AWAY_XSK);
			return XDP_REDIRECT;
		}
		if (qs)
			qs->xsk_miss++;
	}

	if (mac_is_multicast(eth->h_dest))
		goto pass;
	if (!(c->dst_ok && mac_eq(c->dst, eth->h_dest))) {
		struct tf_fp_fdb_key k;
		struct tf_fp_fdb *e;

		mac_key(&k, eth->h_dest);
		e = bpf_map_lookup_elem(&fdb, &k);
		__builtin_memcpy(c->dst, eth->h_dest, ETH_ALEN);
		c->dst_found = !!e;
		if (e) {
			c->dst_ifindex = e->ifindex;
			c->dst_slot = e->slot;
			c->dst_flags = e->flags;
		}
		c->dst_ok = 1;
	}
	if (!c->dst_found || c->dst_ifindex == ifindex)
		goto pass;
	dst_flags = c->dst_flags;
	dst_slot = c->dst_slot;
	if (!from_tap && (dst_flags & TF_FP_FDB_UPLINK))
		goto pass;	/* uplink to uplink is not ours to switch */
	act = bpf_redirect_map(&tx_ports, dst_slot, XDP_PASS);
	if (act == XDP_REDIRECT) {
		count(qs, (dst_flags & TF_FP_FDB_UPLINK) ? TF_FP_REDIRECT_UPLINK
							: TF_FP_REDIRECT_TAP, len);
		if (from_tap)
			cap_away(ctx, port->slot, queue, len, (dst_flags & TF_FP_FDB_UPLINK) ? TF_CAP_AWAY_UPLINK
									 : TF_CAP_AWAY_TAP);
		return XDP_REDIRECT;
	}
pass:
	count(qs, TF_FP_PASS, len);
	return XDP_PASS;
}

SEC("xdp")
int tf_fp_tap(struct xdp_md *ctx)
{
	return fast_path(ctx, true);
}

SEC("xdp")
int tf_fp_uplink(struct xdp_md *ctx)
{
	return fast_path(ctx, false);
}
