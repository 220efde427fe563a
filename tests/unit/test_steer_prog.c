// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests for host → guest steering: the parsers and the Toeplitz
 * reference (no root), and bpf/steer.bpf.c run through BPF_PROG_TEST_RUN on
 * crafted frames (root): symmetric modes give one value for both directions
 * of a flow, the RSS hash matches Microsoft's published verification vectors
 * for its key, fixed rules hit, and non-IP frames go to the default queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tapflow.h"
#include "tf_test.h"
#include "tf_frame.h"
#include "steer.skel.h"

/* ---- frames ------------------------------------------------------------------- */

struct flow6 {
	int family;		/* 4 or 6 */
	int proto;		/* 6 TCP, 17 UDP, 1 ICMP, ... */
	const char *src, *dst;
	uint16_t sport, dport;
	bool frag;		/* IPv4: a non-first fragment */
	bool vlan;		/* one 802.1Q tag */
	int ip_opts;		/* IPv4 option words */
	bool first_frag;	/* IPv4: the first fragment (MF, offset 0) */
	const char *tags;	/* VLAN tags, as tf_frame's (instead of vlan) */
	const char *ext;	/* IPv6 extension headers, as tf_frame's */
	uint8_t version;	/* 0: the family's own */
	uint8_t ihl;		/* 0: 5 + ip_opts */
	size_t len;		/* cut the frame here; 0: whole */
};

static void put16(uint8_t *p, uint16_t v) { tf_put16(p, v); }

/* Build an Ethernet frame for f into buf (F_MAX bytes); returns its length. */
static size_t build(const struct flow6 *f, uint8_t *buf)
{
	struct tf_frame t = {
		.tags = f->tags ? f->tags : f->vlan ? "q" : NULL, .vid = 42,
		.family = f->family, .ipproto = f->proto, .saddr = f->src, .daddr = f->dst,
		.sport = f->sport, .dport = f->dport, .ip_opts = f->ip_opts,
		.frag_off = f->frag ? 185 : f->first_frag ? 0x2000 : 0,	/* offset 1480 */
		.ihl = f->ihl, .ext = f->ext, .version = f->version, .len = f->len,
	};

	return tf_frame_build(&t, buf);
}

static struct flow6 reverse(struct flow6 f)
{
	const char *a = f.src;
	uint16_t p = f.sport;

	f.src = f.dst;
	f.dst = a;
	f.sport = f.dport;
	f.dport = p;
	return f;
}

/* ---- the program under test --------------------------------------------------- */

static struct steer *skel;

static bool load(const struct tf_steer_conf *c, const uint8_t *key)
{
	__u32 zero = 0;

	steer__destroy(skel);
	skel = steer__open();
	if (!ASSERT_TRUE(skel != NULL, "steer__open"))
		return false;
	if (key)
		tf_toeplitz_table(key, (uint32_t (*)[256])skel->rodata->toeplitz);
	if (!ASSERT_OK(steer__load(skel), "steer__load"))
		return false;
	return ASSERT_OK(bpf_map__update_elem(skel->maps.conf, &zero, sizeof(zero), c,
					      sizeof(*c), 0), "conf");
}

static long long run_frame(const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = frame, .data_size_in = len, .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.tf_steer), &topts);

	if (err)
		return -1000 + err;
	return topts.retval;
}

static long long run(const struct flow6 *f)
{
	uint8_t buf[F_MAX];

	return run_frame(buf, build(f, buf));
}

static bool need_root(void)
{
	if (geteuid() != 0) {
		tf__skip = "needs root (BPF_PROG_TEST_RUN)";
		return false;
	}
	return true;
}

/* ---- Toeplitz -------------------------------------------------------------------- */

/*
 * Microsoft's RSS verification suite for its default key: source and
 * destination, the hash over addresses only and over addresses and ports.
 */
static const struct rss_vec {
	int family;
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t ip, ip_ports;
} vecs[] = {
	{ 4, "66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178 },
	{ 4, "199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea },
	{ 4, "24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
	{ 4, "38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f },
	{ 4, "153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2 },
	{ 6, "3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d },
	{ 6, "3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf },
	{ 6, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024,
	  0x4b61e985, 0x02d1feef },
};

static size_t vec_input(const struct rss_vec *v, uint8_t *in, bool ports)
{
	size_t alen = v->family == 4 ? 4 : 16;

	inet_pton(v->family == 4 ? AF_INET : AF_INET6, v->src, in);
	inet_pton(v->family == 4 ? AF_INET : AF_INET6, v->dst, in + alen);
	if (!ports)
		return 2 * alen;
	put16(in + 2 * alen, v->sport);
	put16(in + 2 * alen + 2, v->dport);
	return 2 * alen + 4;
}

static void test_toeplitz_reference(void)
{
	uint32_t tab[TF_STEER_HASH_IN_MAX][256];

	tf_toeplitz_table(tf_rss_default_key, tab);
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		uint8_t in[TF_STEER_HASH_IN_MAX];
		char name[64];

		for (int ports = 0; ports < 2; ports++) {
			size_t len = vec_input(&vecs[i], in, ports);
			uint32_t want = ports ? vecs[i].ip_ports : vecs[i].ip, t = 0;

			snprintf(name, sizeof(name), "vector %zu%s", i, ports ? " with ports" : "");
			ASSERT_EQ(tf_toeplitz(tf_rss_default_key, in, len), want, name);
			for (size_t b = 0; b < len; b++)
				t ^= tab[b][in[b]];
			ASSERT_EQ(t, want, "table: same hash");
		}
	}
}

static void test_rss_vectors(void)
{
	struct tf_steer_conf c = { .mode = TF_STEER_RSS, .hash_types = TF_RSS_HASH_ALL,
				   .indir_len = 1, .flags = TF_STEER_F_HASH_ONLY };

	if (!need_root() || !load(&c, tf_rss_default_key))
		return;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct rss_vec *v = &vecs[i];
		struct flow6 tcp = { v->family, 6, v->src, v->dst, v->sport, v->dport };
		struct flow6 udp = tcp, icmp = tcp, frag = tcp, vlan = tcp;
		char name[64];

		udp.proto = 17;
		icmp.proto = v->family == 4 ? 1 : 58;
		frag.frag = v->family == 4;
		vlan.vlan = true;
		snprintf(name, sizeof(name), "vector %zu tcp", i);
		ASSERT_EQ(run(&tcp), v->ip_ports, name);
		snprintf(name, sizeof(name), "vector %zu udp", i);
		ASSERT_EQ(run(&udp), v->ip_ports, name);
		snprintf(name, sizeof(name), "vector %zu icmp (addresses only)", i);
		ASSERT_EQ(run(&icmp), v->ip, name);
		snprintf(name, sizeof(name), "vector %zu vlan-tagged", i);
		ASSERT_EQ(run(&vlan), v->ip_ports, name);
		if (frag.frag) {
			snprintf(name, sizeof(name), "vector %zu fragment (addresses only)", i);
			ASSERT_EQ(run(&frag), v->ip, name);
		}
	}
	{
		struct flow6 opts = { 4, 6, vecs[0].src, vecs[0].dst, vecs[0].sport, vecs[0].dport,
				      .ip_opts = 2 };

		ASSERT_EQ(run(&opts), vecs[0].ip_ports, "IPv4 options skipped");
	}
	/* Only the IPv4 address type enabled: TCP hashes as addresses only. */
	c.hash_types = TF_RSS_HASH_IPV4;
	if (!load(&c, tf_rss_default_key))
		return;
	{
		struct flow6 tcp = { 4, 6, vecs[0].src, vecs[0].dst, vecs[0].sport, vecs[0].dport };
		struct flow6 tcp6 = { 6, 6, vecs[5].src, vecs[5].dst, vecs[5].sport, vecs[5].dport };

		ASSERT_EQ(run(&tcp), vecs[0].ip, "IPv4 type only: addresses");
		c.default_queue = 0;
		ASSERT_EQ(run(&tcp6), 0, "IPv6 not enabled: default queue");
	}
}

static void test_rss_indirection(void)
{
	struct tf_steer_conf c = { .mode = TF_STEER_RSS, .hash_types = TF_RSS_HASH_ALL,
				   .indir_len = 8 };

	if (!need_root())
		return;
	for (int i = 0; i < 8; i++)
		c.indir[i] = 7 - i;	/* not the identity, so a wrong index shows */
	if (!load(&c, tf_rss_default_key))
		return;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct rss_vec *v = &vecs[i];
		struct flow6 tcp = { v->family, 6, v->src, v->dst, v->sport, v->dport };

		ASSERT_EQ(run(&tcp), 7 - (v->ip_ports & 7), "indir[hash & 7]");
	}
}

/* ---- l3 / l4 ------------------------------------------------------------------------ */

static uint32_t mix(uint32_t h, uint32_t w)
{
	h ^= w;
	h *= TF_STEER_MUL;
	return h ^ (h >> 15);
}

/* The definition in tf_steer_shared.h, written out again independently. */
static uint32_t symmetric(const struct flow6 *f, bool l4)
{
	uint32_t a[4] = { 0 }, b[4] = { 0 }, h = TF_STEER_SEED;
	int n = f->family == 4 ? 1 : 4, cmp = 0;
	uint16_t pa = f->sport, pb = f->dport;
	bool ports = l4 && (f->proto == 6 || f->proto == 17) && !f->frag;

	inet_pton(f->family == 4 ? AF_INET : AF_INET6, f->src, a);
	inet_pton(f->family == 4 ? AF_INET : AF_INET6, f->dst, b);
	for (int i = 0; i < n && !cmp; i++)
		if (ntohl(a[i]) != ntohl(b[i]))
			cmp = ntohl(a[i]) > ntohl(b[i]) ? 1 : -1;
	if (cmp > 0 || (!cmp && pa > pb)) {
		uint32_t t[4];
		uint16_t p = pa;

		memcpy(t, a, 16);
		memcpy(a, b, 16);
		memcpy(b, t, 16);
		pa = pb;
		pb = p;
	}
	for (int i = 0; i < n; i++)
		h = mix(h, ntohl(a[i]));
	for (int i = 0; i < n; i++)
		h = mix(h, ntohl(b[i]));
	if (ports)
		h = mix(h, (uint32_t)pa << 16 | pb);
	h ^= h >> 16;
	h *= TF_STEER_FMUL;
	h ^= h >> 13;
	return h & 0xffff;
}

static const struct flow6 sym_flows[] = {
	{ 4, 17, "10.0.0.1", "10.0.0.2", 1000, 2000 },
	{ 4, 6, "192.168.7.9", "10.1.2.3", 443, 51000 },
	{ 4, 17, "10.0.0.5", "10.0.0.5", 7, 9 },	/* same address, ports decide */
	{ 4, 1, "172.16.0.1", "172.16.9.9", 0, 0 },
	{ 4, 17, "10.0.0.1", "10.0.0.2", 1000, 2000, .frag = true },
	{ 4, 6, "198.18.0.1", "198.18.0.2", 80, 8080, .vlan = true },
	{ 6, 17, "fd00::1", "fd00::2", 5353, 53 },
	{ 6, 6, "2001:db8::ff", "2001:db8:1::1", 22, 40000 },
	{ 6, 58, "fe80::1", "fe80::2", 0, 0 },
};

static void test_symmetric(void)
{
	struct tf_steer_conf c = { 0 };

	if (!need_root())
		return;
	for (int l4 = 0; l4 < 2; l4++) {
		c.mode = l4 ? TF_STEER_L4 : TF_STEER_L3;
		if (!load(&c, NULL))
			return;
		for (size_t i = 0; i < sizeof(sym_flows) / sizeof(sym_flows[0]); i++) {
			struct flow6 f = sym_flows[i], r = reverse(f);
			char name[80];

			snprintf(name, sizeof(name), "%s flow %zu: forward == reverse", l4 ? "l4" : "l3", i);
			ASSERT_EQ(run(&f), run(&r), name);
			snprintf(name, sizeof(name), "%s flow %zu: the definition", l4 ? "l4" : "l3", i);
			ASSERT_EQ(run(&f), symmetric(&f, l4), name);
		}
	}
	/* l4 spreads one host pair over queues; l3 keeps it together. */
	{
		struct flow6 f = sym_flows[0];
		long long first;
		bool differ = false;

		first = run(&f);
		for (int p = 1; p < 16; p++) {
			f.sport = 1000 + p;
			differ |= run(&f) != first;
		}
		ASSERT_TRUE(differ, "l4: ports change the hash");
	}
}

/* ---- fixed rules and non-IP ----------------------------------------------------------- */

static void add_rule(const char *text)
{
	struct tf_steer_rule_q r;

	if (!ASSERT_OK(tf_steer_parse_rule(text, 8, &r), text))
		return;
	ASSERT_OK(bpf_map__update_elem(skel->maps.rules, &r.rule, sizeof(r.rule), &r.queue,
				       sizeof(r.queue), 0), "rule update");
}

static void test_fixed(void)
{
	struct tf_steer_conf c = { .mode = TF_STEER_FIXED, .default_queue = 5 };
	struct flow6 udp = { 4, 17, "10.0.0.1", "10.0.0.2", 1000, 2000 };
	struct flow6 tcp = { 4, 6, "10.0.0.1", "10.0.0.2", 1000, 2000 };
	struct flow6 icmp = { 4, 1, "10.0.0.3", "10.0.0.4", 0, 0 };
	struct flow6 v6 = { 6, 6, "fd00::1", "fd00::2", 22, 40000 };

	if (!need_root() || !load(&c, NULL))
		return;
	add_rule("udp:10.0.0.1:1000:10.0.0.2:2000=3");
	add_rule("ip:10.0.0.3:*:10.0.0.4:0=6");
	add_rule("tcp:[fd00::1]:22:[fd00::2]:40000=2");
	ASSERT_EQ(run(&udp), 3, "udp rule");
	ASSERT_EQ(run(&tcp), 5, "same ports, tcp: no rule, default");
	ASSERT_EQ(run(&icmp), 6, "ip rule matches the address pair");
	icmp.proto = 17;
	ASSERT_EQ(run(&icmp), 6, "ip rule matches udp too");
	ASSERT_EQ(run(&v6), 2, "IPv6 tcp rule");
	udp.dport = 2001;
	ASSERT_EQ(run(&udp), 5, "other port: default");
	udp = reverse((struct flow6){ 4, 17, "10.0.0.1", "10.0.0.2", 1000, 2000 });
	ASSERT_EQ(run(&udp), 5, "rules are directional");
}

static void test_non_ip(void)
{
	static const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06,
		0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1,
		0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
	};
	uint8_t bad[F_MAX], lldp[60] = { 1, 0x80, 0xc2, 0, 0, 0xe, 2, 0, 0, 0, 0, 1, 0x88, 0xcc };
	struct flow6 f = { 4, 17, "10.0.0.1", "10.0.0.2", 1000, 2000 };
	static const int modes[] = { TF_STEER_L3, TF_STEER_L4, TF_STEER_RSS, TF_STEER_FIXED };

	if (!need_root())
		return;
	build(&f, bad);
	bad[14] = 0x65;	/* EtherType IPv4, version 6: not parseable */
	for (size_t m = 0; m < 4; m++) {
		struct tf_steer_conf c = { .mode = modes[m], .default_queue = 0,
					   .hash_types = TF_RSS_HASH_ALL, .indir_len = 1 };

		c.indir[0] = 3;
		if (!load(&c, tf_rss_default_key))
			return;
		ASSERT_EQ(run_frame(arp, sizeof(arp)), 0, "ARP -> queue 0");
		ASSERT_EQ(run_frame(bad, 60), 0, "bad IPv4 version -> queue 0");
		ASSERT_EQ(run_frame(lldp, sizeof(lldp)), 0, "LLDP -> queue 0");
	}
}

/* ---- parsers --------------------------------------------------------------------------- */

static void test_parse(void)
{
	uint8_t key[TF_STEER_KEY_LEN];
	uint16_t indir[TF_STEER_INDIR_MAX];
	unsigned int n;
	struct tf_steer_rule_q r;
	char hex[200] = "";

	for (int i = 0; i < TF_STEER_KEY_LEN; i++)
		sprintf(hex + strlen(hex), "%02x", tf_rss_default_key[i]);
	ASSERT_OK(tf_steer_parse_key(hex, key), "key");
	ASSERT_TRUE(!memcmp(key, tf_rss_default_key, sizeof(key)), "key bytes");
	ASSERT_OK(tf_steer_parse_key("6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:"
				     "2b:cb:ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:"
				     "be:ac:01:fa", key), "key with colons");
	ASSERT_TRUE(!memcmp(key, tf_rss_default_key, sizeof(key)), "key bytes (colons)");
	hex[78] = '\0';
	ASSERT_EQ(tf_steer_parse_key(hex, key), -EINVAL, "39 bytes");
	ASSERT_HAS(tf_errmsg(), "78 hex digits, need 80", "39 bytes message");
	ASSERT_EQ(tf_steer_parse_key("zz", key), -EINVAL, "not hex");

	ASSERT_OK(tf_steer_parse_indir("0,1,2,3", 4, indir, &n), "indir");
	ASSERT_EQ(n, 4, "indir len");
	ASSERT_EQ(indir[3], 3, "indir[3]");
	ASSERT_EQ(tf_steer_parse_indir("0,1,2", 4, indir, &n), -EINVAL, "3 entries");
	ASSERT_HAS(tf_errmsg(), "power of two", "3 entries message");
	ASSERT_EQ(tf_steer_parse_indir("0,4", 4, indir, &n), -EINVAL, "queue 4 of 4");
	ASSERT_HAS(tf_errmsg(), "out of range", "queue 4 message");
	ASSERT_EQ(tf_steer_parse_indir("0,,1", 4, indir, &n), -EINVAL, "empty entry");

	ASSERT_OK(tf_steer_parse_rule("udp:10.0.0.1:53:10.0.0.2:9=1", 4, &r), "rule");
	ASSERT_EQ(r.rule.family, 4, "family");
	ASSERT_EQ(r.rule.proto, 17, "proto");
	ASSERT_EQ(ntohs(r.rule.sport), 53, "sport");
	ASSERT_EQ(r.queue, 1, "queue");
	ASSERT_OK(tf_steer_parse_rule("tcp:[fd00::1]:1:[fd00::2]:2=3", 4, &r), "v6 rule");
	ASSERT_EQ(r.rule.family, 6, "v6 family");
	ASSERT_EQ(tf_steer_parse_rule("udp:10.0.0.1:53:10.0.0.2:9=4", 4, &r), -EINVAL, "queue 4");
	ASSERT_EQ(tf_steer_parse_rule("sctp:10.0.0.1:53:10.0.0.2:9=1", 4, &r), -EINVAL, "sctp");
	ASSERT_EQ(tf_steer_parse_rule("udp:10.0.0.1:53:[fd00::2]:9=1", 4, &r), -EINVAL, "mixed");
	ASSERT_EQ(tf_steer_parse_rule("udp:10.0.0.1:53:10.0.0.2=1", 4, &r), -EINVAL, "short");
	ASSERT_EQ(tf_steer_parse_rule("udp:10.0.0.1:70000:10.0.0.2:9=1", 4, &r), -EINVAL, "port");
	ASSERT_EQ(tf_steer_parse_rule("ip:10.0.0.1:5:10.0.0.2:0=1", 4, &r), -EINVAL, "ip with port");
	ASSERT_EQ(tf_steer_parse_rule("udp:10.0.0.1:53:10.0.0.2:9", 4, &r), -EINVAL, "no queue");
}

/* ---- the parser ------------------------------------------------------------------------ */

/*
 * bpf/parse.bpf.h through the steering program: each frame is hashed over
 * its addresses and ports (L4), its addresses only (L3: not TCP/UDP, a
 * fragment, the ports cut short), or goes to the default queue (DEF: not
 * IP, a bad or cut-short IP header). Run in l4 and in rss mode, the
 * expected value computed from the flow's addresses and ports.
 */
enum { L4, L3, DEF };
#define DEFQ	77777	/* above any l4 hash (16 bits): a default-queue answer shows */
#define A4(p)	.family = 4, .proto = (p), .src = "10.0.0.1", .dst = "10.0.0.2", .sport = 1000, .dport = 2000
#define A6(p)	.family = 6, .proto = (p), .src = "fd00::1", .dst = "fd00::2", .sport = 1000, .dport = 2000

static const struct scase {
	const char *name;
	struct flow6 f;
	int want;
} parser_table[] = {
	{ "untagged", { A4(17) }, L4 },
	{ "802.1Q", { A4(17), .tags = "q" }, L4 },
	{ "802.1ad", { A4(17), .tags = "a" }, L4 },
	{ "QinQ (802.1ad, 802.1Q)", { A4(17), .tags = "aq" }, L4 },
	{ "two 802.1Q", { A4(17), .tags = "qq" }, L4 },
	{ "QinQ IPv6 hop-by-hop", { A6(17), .tags = "aq", .ext = "H" }, L4 },
	{ "three tags: not IP", { A4(17), .tags = "aqq" }, DEF },
	{ "IPv4 options", { A4(17), .ip_opts = 3 }, L4 },
	{ "IPv4 icmp", { A4(1) }, L3 },
	{ "IPv4 first fragment", { A4(17), .first_frag = true }, L3 },
	{ "IPv4 later fragment", { A4(17), .frag = true }, L3 },
	{ "IPv4 IHL 4", { A4(17), .ihl = 4 }, DEF },
	{ "IPv4 EtherType, version 6", { A4(17), .version = 6 }, DEF },
	{ "IPv6", { A6(17) }, L4 },
	{ "IPv6 tcp", { A6(6) }, L4 },
	{ "IPv6 hop-by-hop", { A6(17), .ext = "H" }, L4 },
	{ "IPv6 hop-by-hop, dest opts, routing, dest opts", { A6(17), .ext = "HDRD" }, L4 },
	{ "IPv6 destination options (16 bytes)", { A6(17), .ext = "D" }, L4 },
	{ "IPv6 six extension headers", { A6(17), .ext = "HDRDDD" }, L4 },
	{ "IPv6 seven extension headers: the walk stops", { A6(17), .ext = "HDRDDDD" }, L3 },
	{ "IPv6 first fragment", { A6(17), .ext = "F" }, L3 },
	{ "IPv6 hop-by-hop, first fragment, dest opts", { A6(17), .ext = "HFD" }, L3 },
	{ "IPv6 later fragment", { A6(17), .ext = "HL" }, L3 },
	{ "IPv6 icmpv6 past hop-by-hop", { A6(58), .ext = "H" }, L3 },
	{ "IPv6 EtherType, version 4", { A6(17), .version = 4 }, DEF },
	/*
	 * Cut short at every layer. BPF_PROG_TEST_RUN refuses an skb whose
	 * EtherType is IPv4 or IPv6 and whose IP header is short (6.18), so a
	 * short IP header comes behind a VLAN tag: the parser's path is the same.
	 */
	{ "Ethernet and VLAN header only", { A4(17), .tags = "q", .len = F_ETH + F_TAG }, DEF },
	{ "VLAN tag cut short", { A4(17), .tags = "q", .len = F_ETH + 2 }, DEF },
	{ "second VLAN tag cut short", { A4(17), .tags = "aq", .len = F_ETH + F_TAG + 2 }, DEF },
	{ "IPv4 header cut short", { A4(17), .tags = "q", .len = F_ETH + F_TAG + F_IP4 - 1 }, DEF },
	{ "IPv4 options cut short", { A4(17), .ip_opts = 3, .len = F_ETH + F_IP4 + 8 }, L3 },
	{ "IPv4 ports cut short", { A4(17), .len = F_ETH + F_IP4 + 3 }, L3 },
	{ "IPv4 ports, nothing after them", { A4(17), .len = F_ETH + F_IP4 + 4 }, L4 },
	{ "IPv6 header cut short", { A6(17), .tags = "q", .len = F_ETH + F_TAG + F_IP6 - 1 }, DEF },
	{ "IPv6 extension header cut short", { A6(17), .ext = "H", .len = F_ETH + F_IP6 + 1 }, L3 },
	{ "IPv6 extension header body cut short", { A6(17), .ext = "D", .len = F_ETH + F_IP6 + F_DST - 1 }, L3 },
	{ "IPv6 fragment header cut short", { A6(17), .ext = "F", .len = F_ETH + F_IP6 + F_FRAG - 1 }, L3 },
	{ "IPv6 ports cut short", { A6(17), .ext = "H", .len = F_ETH + F_IP6 + F_OPT + 3 }, L3 },
	{ "IPv6 ports, nothing after them", { A6(17), .ext = "H", .len = F_ETH + F_IP6 + F_OPT + 4 }, L4 },
};

/* What rss mode (hash only, every type) gives for f hashed as want. */
static long long rss_want(const struct flow6 *f, int want)
{
	uint8_t in[TF_STEER_HASH_IN_MAX];
	size_t alen = f->family == 4 ? 4 : 16;

	if (want == DEF)
		return DEFQ;
	inet_pton(f->family == 4 ? AF_INET : AF_INET6, f->src, in);
	inet_pton(f->family == 4 ? AF_INET : AF_INET6, f->dst, in + alen);
	put16(in + 2 * alen, f->sport);
	put16(in + 2 * alen + 2, f->dport);
	return tf_toeplitz(tf_rss_default_key, in, 2 * alen + (want == L4 ? 4 : 0));
}

static void test_parser(void)
{
	struct tf_steer_conf c = { .default_queue = DEFQ, .hash_types = TF_RSS_HASH_ALL,
				   .indir_len = 1, .flags = TF_STEER_F_HASH_ONLY };
	size_t n = sizeof(parser_table) / sizeof(parser_table[0]);
	uint8_t buf[F_MAX] = { 0 };

	if (!need_root())
		return;
	for (int rss = 0; rss < 2; rss++) {
		c.mode = rss ? TF_STEER_RSS : TF_STEER_L4;
		if (!load(&c, tf_rss_default_key))
			return;
		for (size_t i = 0; i < n; i++) {
			const struct scase *t = &parser_table[i];
			long long want = rss ? rss_want(&t->f, t->want) :
				t->want == DEF ? DEFQ : symmetric(&t->f, t->want == L4);
			char name[96];

			snprintf(name, sizeof(name), "%s: %s", rss ? "rss" : "l4", t->name);
			ASSERT_EQ(run(&t->f), want, name);
		}
		/* shorter than an Ethernet header: the kernel does not run the program */
		ASSERT_EQ(run_frame(buf, F_ETH - 1), -1000 - EINVAL, "13 bytes: refused");
	}
}

static void test_unload(void)
{
	steer__destroy(skel);
	skel = NULL;
}

TF_MAIN("steer",
	TF_TEST(test_parse),
	TF_TEST(test_toeplitz_reference),
	TF_TEST(test_rss_vectors),
	TF_TEST(test_rss_indirection),
	TF_TEST(test_symmetric),
	TF_TEST(test_fixed),
	TF_TEST(test_non_ip),
	TF_TEST(test_parser),
	TF_TEST(test_unload))
