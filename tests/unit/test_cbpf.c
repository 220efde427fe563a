// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The classic -> eBPF translator (user/cbpf.c) held against libpcap's own
 * interpreter: each filter is compiled by libpcap, translated, patched into
 * tests/progs/cbpf_harness.bpf.c, loaded (the real verifier) and run with
 * BPF_PROG_TEST_RUN on a few thousand generated frames (Ethernet, VLAN,
 * ARP, IPv4 with and without options and fragments, IPv6, TCP, UDP, ICMP,
 * odd EtherTypes, and frames cut short so loads fall off the end); every
 * verdict must be libpcap's bpf_filter() verdict for the same bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tf_test.h"
#include "tf_capture.h"
#include "tf_capture_shared.h"
#include "cbpf_harness.skel.h"

/* libpcap's interpreter; <pcap/bpf.h> cannot be included beside <linux/bpf.h> */
extern unsigned int bpf_filter(const void *prog, const unsigned char *pkt, unsigned int wirelen,
			       unsigned int buflen);

#define NPKT 3000

static unsigned int seed = 12345;

static unsigned int rnd(unsigned int n)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 8) % n;
}

static void put16(unsigned char *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/* One frame of a mix meant to take every branch of the filters below. */
static unsigned int make_frame(unsigned char *f)
{
	static const unsigned char macs[][6] = {
		{ 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 },
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, { 1, 0, 0x5e, 0, 0, 5 },
	};
	static const unsigned char v4[][4] = {
		{ 10, 0, 0, 1 }, { 10, 0, 0, 2 }, { 192, 168, 1, 1 }, { 224, 0, 0, 5 },
	};
	static const unsigned int ports[] = { 22, 53, 80, 4789, 1500, 20000, 20001, 65535 };
	unsigned int off = 14, len, l4, proto, r;

	memset(f, 0, TF_CAP_MAX);
	memcpy(f, macs[rnd(4)], 6);
	memcpy(f + 6, macs[rnd(2)], 6);
	if (rnd(5) == 0) {	/* 802.1Q */
		put16(f + 12, 0x8100);
		put16(f + 14, rnd(4096));
		off += 4;
	}
	r = rnd(10);
	if (r < 6) {
		unsigned int ihl = rnd(4) == 0 ? 6 : 5;

		put16(f + off - 2, 0x0800);
		f[off] = 0x40 | ihl;
		proto = (unsigned int[]){ 6, 17, 17, 1, 47 }[rnd(5)];
		f[off + 9] = proto;
		f[off + 8] = rnd(128);
		put16(f + off + 6, rnd(4) == 0 ? rnd(0x2000) : 0x4000);	/* fragments */
		memcpy(f + off + 12, v4[rnd(4)], 4);
		memcpy(f + off + 16, v4[rnd(4)], 4);
		l4 = off + ihl * 4;
	} else if (r < 8) {
		put16(f + off - 2, 0x86dd);
		f[off] = 0x60;
		proto = (unsigned int[]){ 6, 17, 58 }[rnd(3)];
		f[off + 6] = proto;
		f[off + 23] = 1 + rnd(2);
		f[off + 39] = 1 + rnd(2);
		l4 = off + 40;
	} else if (r < 9) {
		put16(f + off - 2, 0x0806);
		return off + 28;
	} else {
		put16(f + off - 2, 0x1234 + rnd(3));
		return off + rnd(100);
	}
	put16(f + l4, ports[rnd(8)]);
	put16(f + l4 + 2, ports[rnd(8)]);
	if (proto == 6)
		f[l4 + 13] = rnd(64);
	if (proto == 17)
		put16(f + l4 + 8, rnd(2) ? 0x0800 : 0x1234);	/* inner bytes for udp[8:2] */
	len = l4 + 20 + rnd(1400);
	if (off == 14 && f[off] >> 4 == 4)
		put16(f + off + 2, len - off);
	if (rnd(8) == 0)	/* cut short: loads past the end must reject */
		len = 14 + rnd(len - 14);
	return len;
}

static const char *const filters[] = {
	"udp port 4789", "udp", "tcp", "icmp", "ip", "ip6", "arp", "vlan", "vlan and udp",
	"udp and dst port 53", "tcp[tcpflags] & tcp-syn != 0", "ip[2:2] > 100", "len > 100",
	"less 64", "greater 1000", "host 10.0.0.1", "src net 192.168.0.0/16", "dst host 224.0.0.5",
	"ether host 02:00:00:00:00:01", "ether broadcast", "ip multicast", "portrange 1000-2000",
	"ip6 and udp port 53", "udp[8:2] = 0x0800", "(tcp or udp) and not port 22",
	"ip[8] < 64", "ip and (ip[6:2] & 0x1fff) != 0", "udp dst port 20001",
	"tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
	"ip[1] / 4 = 0", "ip[1] % 3 = 1", "ether[12:2] * 2 > 0x2000", "ip proto 47",
	"not ip and not ip6", "icmp6", "udp src port 65535 or tcp dst port 22",
};

static int run(int fd, const unsigned char *f, unsigned int len, __u32 *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = len);
	int err = bpf_prog_test_run_opts(fd, &o);

	*ret = o.retval;
	return err;
}

static void test_filters_agree_with_libpcap(void)
{
	static unsigned char frames[NPKT][TF_CAP_MAX];
	static struct bpf_insn region[TF_CBPF_REGION];
	unsigned int lens[NPKT], matched_any = 0;

	for (int i = 0; i < NPKT; i++) {
		lens[i] = make_frame(frames[i]);
		if (lens[i] < 14)
			lens[i] = 14;	/* XDP test runs need an Ethernet header */
	}
	for (size_t fi = 0; fi < sizeof(filters) / sizeof(filters[0]); fi++) {
		struct tf_cbpf_insn *prog = NULL;
		struct cbpf_harness *skel;
		unsigned int n = 0, bad = 0, hits = 0;
		int fd, err;

		if (!ASSERT_OK(tf_cbpf_compile(filters[fi], &prog, &n), filters[fi]))
			return;
		if (!ASSERT_OK(tf_cbpf_translate(prog, n, region), filters[fi])) {
			free(prog);
			return;
		}
		skel = cbpf_harness__open();
		if (!ASSERT_TRUE(skel != NULL, "open harness")) {
			free(prog);
			return;
		}
		ASSERT_OK(tf_cbpf_patch(skel->obj, region), "patch");
		err = cbpf_harness__load(skel);
		if (err == -EPERM) {
			cbpf_harness__destroy(skel);
			free(prog);
			TEST_SKIP("loading XDP programs needs CAP_BPF and CAP_NET_ADMIN");
		}
		if (!ASSERT_OK(err, filters[fi])) {
			cbpf_harness__destroy(skel);
			free(prog);
			return;
		}
		fd = bpf_program__fd(skel->progs.cbpf_harness);
		for (int i = 0; i < NPKT; i++) {
			unsigned int want = bpf_filter(prog, frames[i], lens[i], lens[i]) != 0;
			__u32 got = 0;

			if (run(fd, frames[i], lens[i], &got)) {
				bad++;
				continue;
			}
			hits += want;
			if ((got == 2 /* XDP_PASS */) != want || (got != 1 && got != 2)) {
				if (bad++ < 3)
					printf("    '%s' frame %d (%u bytes): eBPF %u, libpcap %u\n",
					       filters[fi], i, lens[i], got, want);
			}
		}
		ASSERT_EQ(bad, 0, filters[fi]);
		matched_any += hits > 0 && hits < NPKT;
		cbpf_harness__destroy(skel);
		free(prog);
	}
	/* the frames must tell filters apart, or agreeing proves little */
	ASSERT_TRUE(matched_any >= sizeof(filters) / sizeof(filters[0]) - 2, "filters that split the frames");
}

static void test_translator_limits(void)
{
	static struct bpf_insn region[TF_CBPF_REGION];
	static struct tf_cbpf_insn big[TF_CBPF_REGION];
	struct tf_cbpf_insn out_of_prog[] = {
		{ .code = 0x05 /* JA */, .k = 5 },
		{ .code = 0x06 /* RET K */, .k = 1 },
	};
	struct tf_cbpf_insn ext[] = {
		{ .code = 0x20 /* LD W ABS */, .k = 0xfffff000 /* SKF_AD_OFF */ },
		{ .code = 0x06, .k = 1 },
	};
	struct tf_cbpf_insn bad_op[] = { { .code = 0xc4 /* ALU op 0xc0 */ }, { .code = 0x06 } };

	for (int i = 0; i < TF_CBPF_REGION - 1; i++)
		big[i] = (struct tf_cbpf_insn){ .code = 0x20, .k = 0 };	/* ~4 insns each */
	big[TF_CBPF_REGION - 1] = (struct tf_cbpf_insn){ .code = 0x06, .k = 1 };
	ASSERT_EQ(tf_cbpf_translate(big, TF_CBPF_REGION, region), -E2BIG, "too long");
	ASSERT_EQ(tf_cbpf_translate(big, 0, region), -E2BIG, "empty");
	ASSERT_EQ(tf_cbpf_translate(out_of_prog, 2, region), -EINVAL, "jump out of the program");
	ASSERT_EQ(tf_cbpf_translate(bad_op, 2, region), -EINVAL, "unknown ALU op");
	/* a load no packet can satisfy (the kernel's ancillary data) rejects, as in libpcap */
	ASSERT_OK(tf_cbpf_translate(ext, 2, region), "ancillary load translates");
}

static void test_patch_keeps_every_index(void)
{
	static struct bpf_insn region[TF_CBPF_REGION];
	struct tf_cbpf_insn *prog = NULL;
	struct cbpf_harness *skel;
	unsigned int n = 0;
	size_t before;

	if (!ASSERT_OK(tf_cbpf_compile("udp port 4789", &prog, &n), "compile") ||
	    !ASSERT_OK(tf_cbpf_translate(prog, n, region), "translate"))
		return;
	free(prog);
	skel = cbpf_harness__open();
	if (!ASSERT_TRUE(skel != NULL, "open"))
		return;
	before = bpf_program__insn_cnt(skel->progs.cbpf_harness);
	ASSERT_OK(tf_cbpf_patch(skel->obj, region), "patch");
	ASSERT_EQ(bpf_program__insn_cnt(skel->progs.cbpf_harness), before, "instruction count");
	cbpf_harness__destroy(skel);
	ASSERT_ERR(tf_cbpf_compile("udp port", &prog, &n), "bad expression");
	ASSERT_HAS(tf_errmsg(), "udp port", "message names the filter");
}

TF_MAIN("cbpf", TF_TEST(test_filters_agree_with_libpcap), TF_TEST(test_translator_limits),
	TF_TEST(test_patch_keeps_every_index))
