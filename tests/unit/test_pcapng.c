// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests for the pcapng writer (user/pcapng.c) that `tapflow capture`
 * writes its files with: the blocks are checked byte by byte where a reader
 * depends on them (the section header's magic and version, the interface
 * block's link type, if_name and if_tsresol, each enhanced packet block's
 * timestamp halves, lengths, padding, epb_flags, epb_queue, epb_dropcount
 * and comment, the statistics block's isb_ifrecv and isb_ifdrop, and every
 * block's two length fields), then the same file is read back by the real
 * readers, tshark and capinfos, where they are installed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_capture.h"
#include "tf_test.h"

static unsigned char *buf;
static size_t len;

static uint32_t u32(size_t off)
{
	uint32_t v;

	memcpy(&v, buf + off, 4);
	return v;
}

static uint16_t u16(size_t off)
{
	uint16_t v;

	memcpy(&v, buf + off, 2);
	return v;
}

static uint64_t u64(size_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, 8);
	return v;
}

static const unsigned char frame[61] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1,
					 0x08, 0x00, 0x45 };

/* A file of one interface, three packets and a statistics block, in memory. */
static int write_sample(FILE *f)
{
	const char *names[] = { "vnet7" };
	struct tf_pcapng *p = tf_pcapng_open(f, names, 1, 2048);
	struct tf_pcapng_pkt out = {
		.ts_ns = 0x0000000123456789ull, .wirelen = 1514, .caplen = sizeof(frame), .data = frame,
		.dir = TF_PCAPNG_DIR_OUT, .queue = 3, .has_dropcount = true, .dropcount = 5,
		.comment = "dropped: ring_full",
	};
	struct tf_pcapng_pkt in = {
		.ts_ns = 0x00000001ffffffffull, .wirelen = 60, .caplen = 0, .data = NULL,
		.dir = TF_PCAPNG_DIR_IN, .queue = 0,
	};
	struct tf_pcapng_pkt bare = {
		.ts_ns = 42, .wirelen = 4, .caplen = 4, .data = "abcd", .queue = -1,
	};

	if (!p)
		return -1;
	if (tf_pcapng_packet(p, 0, &out) || tf_pcapng_packet(p, 0, &in) ||
	    tf_pcapng_packet(p, 0, &bare) || tf_pcapng_packet(p, 1, &bare) != -22 ||
	    tf_pcapng_stats(p, 0, 1000, 9, 2))
		return -1;
	return tf_pcapng_close(p);
}

static bool load(void)
{
	FILE *f = open_memstream((char **)&buf, &len);

	if (!ASSERT_TRUE(f != NULL, "open_memstream"))
		return false;
	if (!ASSERT_OK(write_sample(f), "write the sample")) {
		fclose(f);
		return false;
	}
	fclose(f);
	return true;
}

/*
 * Check the block at *off: its type, both length fields equal and a
 * multiple of 4; return the body's offset and move *off past the block.
 */
static size_t block(size_t *off, uint32_t type, const char *what)
{
	size_t at = *off;
	uint32_t total;

	if (!ASSERT_TRUE(at + 12 <= len, what))
		return 0;
	total = u32(at + 4);
	ASSERT_EQ(u32(at), type, what);
	ASSERT_EQ(total % 4, 0, "block length is a multiple of 4");
	if (!ASSERT_TRUE(at + total <= len, "block within the file"))
		return 0;
	ASSERT_EQ(u32(at + total - 4), total, "trailing length equals the leading one");
	*off = at + total;
	return at + 8;
}

/* Check option (code, n bytes) at *o; move past it with its padding. */
static size_t option(size_t *o, uint16_t code, uint16_t n, const char *what)
{
	size_t at = *o;

	ASSERT_EQ(u16(at), code, what);
	ASSERT_EQ(u16(at + 2), n, what);
	*o = at + 4 + (n + 3) / 4 * 4;
	/* padding is zero */
	for (size_t i = at + 4 + n; i < *o; i++)
		ASSERT_EQ(buf[i], 0, "option padding is zero");
	return at + 4;
}

static void test_blocks_byte_by_byte(void)
{
	size_t off = 0, b, o, v;

	if (!load())
		return;
	/* section header: byte-order magic, version 1.0, length unknown */
	b = block(&off, 0x0A0D0D0A, "SHB type");
	ASSERT_EQ(u32(b), 0x1A2B3C4D, "byte-order magic");
	ASSERT_EQ(u16(b + 4), 1, "major version");
	ASSERT_EQ(u16(b + 6), 0, "minor version");
	ASSERT_EQ((int64_t)u64(b + 8), -1, "section length: unspecified");
	o = b + 16;
	v = option(&o, 4, u16(o + 2), "shb_userappl");
	ASSERT_TRUE(!memcmp(buf + v, "tapflow ", 8), "shb_userappl names tapflow");
	option(&o, 0, 0, "SHB opt_endofopt");

	/* interface: Ethernet, snaplen, if_name, nanoseconds */
	b = block(&off, 1, "IDB type");
	ASSERT_EQ(u16(b), 1, "linktype Ethernet");
	ASSERT_EQ(u16(b + 2), 0, "reserved");
	ASSERT_EQ(u32(b + 4), 2048, "snaplen");
	o = b + 8;
	v = option(&o, 2, 5, "if_name");
	ASSERT_TRUE(!memcmp(buf + v, "vnet7", 5), "if_name value");
	v = option(&o, 9, 1, "if_tsresol");
	ASSERT_EQ(buf[v], 9, "if_tsresol: 10^-9");
	option(&o, 0, 0, "IDB opt_endofopt");

	/* outbound packet: timestamp halves, lengths, data padded, options */
	b = block(&off, 6, "EPB type");
	ASSERT_EQ(u32(b), 0, "interface id");
	ASSERT_EQ(u32(b + 4), 0x1, "timestamp high");
	ASSERT_EQ(u32(b + 8), 0x23456789, "timestamp low");
	ASSERT_EQ(u32(b + 12), sizeof(frame), "captured length");
	ASSERT_EQ(u32(b + 16), 1514, "original length");
	ASSERT_TRUE(!memcmp(buf + b + 20, frame, sizeof(frame)), "packet data");
	ASSERT_EQ(buf[b + 20 + 61] | buf[b + 20 + 62] | buf[b + 20 + 63], 0, "data padding");
	o = b + 20 + 64;
	v = option(&o, 2, 4, "epb_flags");
	ASSERT_EQ(u32(v), 2, "epb_flags: outbound");
	v = option(&o, 6, 4, "epb_queue");
	ASSERT_EQ(u32(v), 3, "epb_queue value");
	v = option(&o, 4, 8, "epb_dropcount");
	ASSERT_EQ(u64(v), 5, "epb_dropcount value");
	v = option(&o, 1, 18, "opt_comment");
	ASSERT_TRUE(!memcmp(buf + v, "dropped: ring_full", 18), "comment value");
	option(&o, 0, 0, "EPB opt_endofopt");
	ASSERT_EQ(o + 4, off, "nothing between the options and the trailing length");

	/* inbound, no bytes, no comment, no dropcount */
	b = block(&off, 6, "EPB 2 type");
	ASSERT_EQ(u32(b + 4), 0x1, "timestamp high 2");
	ASSERT_EQ(u32(b + 8), 0xffffffff, "timestamp low 2");
	ASSERT_EQ(u32(b + 12), 0, "no data");
	ASSERT_EQ(u32(b + 16), 60, "original length 2");
	o = b + 20;
	v = option(&o, 2, 4, "epb_flags 2");
	ASSERT_EQ(u32(v), 1, "epb_flags: inbound");
	v = option(&o, 6, 4, "epb_queue 2");
	ASSERT_EQ(u32(v), 0, "queue 0 is written");
	option(&o, 0, 0, "EPB 2 opt_endofopt");

	/* no direction, no queue: neither option */
	b = block(&off, 6, "EPB 3 type");
	o = b + 20 + 4;
	option(&o, 0, 0, "EPB 3 has only opt_endofopt");

	/* statistics */
	b = block(&off, 5, "ISB type");
	ASSERT_EQ(u32(b), 0, "ISB interface id");
	ASSERT_EQ(u32(b + 8), 1000, "ISB timestamp low");
	o = b + 12;
	v = option(&o, 4, 8, "isb_ifrecv");
	ASSERT_EQ(u64(v), 9, "isb_ifrecv value");
	v = option(&o, 5, 8, "isb_ifdrop");
	ASSERT_EQ(u64(v), 2, "isb_ifdrop value");
	option(&o, 0, 0, "ISB opt_endofopt");
	ASSERT_EQ(off, len, "nothing after the statistics block");
	free(buf);
	buf = NULL;
}

static bool have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void read_cmd(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	size_t got = p ? fread(out, 1, n - 1, p) : 0;

	out[got] = 0;
	if (p)
		pclose(p);
}

static void test_read_by_tshark_and_capinfos(void)
{
	char path[] = "/tmp/tf-pcapng-XXXXXX", cmd[512], out[2048];
	int fd;
	FILE *f;

	if (!have("tshark") || !have("capinfos"))
		TEST_SKIP("tshark or capinfos not installed (scripts/setup.sh installs them)");
	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	f = fdopen(fd, "w");
	if (!ASSERT_OK(write_sample(f), "write the sample")) {
		fclose(f);
		unlink(path);
		return;
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "tshark -r %s -T fields -E separator=, -e frame.interface_name "
		 "-e frame.interface_queue -e frame.packet_flags_direction -e frame.comment "
		 "-e frame.len -e frame.cap_len 2>/dev/null", path);
	read_cmd(cmd, out, sizeof(out));
	ASSERT_STREQ(out, "vnet7,3,0x00000002,dropped: ring_full,1514,61\n"
			  "vnet7,0,0x00000001,,60,0\n"
			  "vnet7,,,,4,4\n", "tshark's fields");
	snprintf(cmd, sizeof(cmd), "capinfos -M %s 2>&1", path);
	read_cmd(cmd, out, sizeof(out));
	ASSERT_HAS(out, "Number of packets:   3", "capinfos counts the packets");
	ASSERT_HAS(out, "Encapsulation = Ethernet", "capinfos: Ethernet");
	ASSERT_HAS(out, "Time precision = nanoseconds", "capinfos: if_tsresol 9");
	ASSERT_HAS(out, "Number of stat entries = 1", "capinfos: one statistics block");
	unlink(path);
}

int main(void)
{
	static const struct tf_test tests[] = {
		TF_TEST(test_blocks_byte_by_byte),
		TF_TEST(test_read_by_tshark_and_capinfos),
	};

	return tf_run_tests("pcapng", tests, sizeof(tests) / sizeof(tests[0]));
}
