// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests for the tap marker and the comparison behind idempotent create
 * (no root needed): the ifalias tapflow writes must read back as the same
 * parameters, anything else must not pass for tapflow's, and a differing
 * request must be described field by field.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapflow.h"
#include "tf_test.h"

static struct tf_tap_opts base(void)
{
	struct tf_tap_opts o = { .name = "tap0", .queues = 4, .owner = 1000,
				 .group = TF_NO_ID, .mtu = 1500, .txqueuelen = 500 };
	return o;
}

static void test_resolve_defaults(void)
{
	struct tf_tap_opts o = { .name = "t", .owner = TF_NO_ID, .group = TF_NO_ID };

	tf_tap_opts_resolve(&o);
	ASSERT_EQ(o.queues, 1, "queues");
	ASSERT_EQ(o.mtu, 1500, "mtu");
	ASSERT_EQ(o.txqueuelen, 500, "txqueuelen");
	ASSERT_EQ(o.vnet_hdr, 0, "vnet_hdr");
}

static void test_alias_format(void)
{
	struct tf_tap_opts o = base();
	char buf[TF_TAP_ALIASZ];

	ASSERT_TRUE(tf_tap_alias_format(&o, buf, sizeof(buf)) > 0, "format");
	ASSERT_STREQ(buf, "tapflow:v1 queues=4 owner=1000 group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
		     "text");
	o.has_mac = true;
	memcpy(o.mac, "\x02\x00\x00\xab\xcd\xef", 6);
	o.vnet_hdr = true;
	ASSERT_TRUE(tf_tap_alias_format(&o, buf, sizeof(buf)) > 0, "format mac");
	ASSERT_HAS(buf, " vnet_hdr=1 mac=02:00:00:ab:cd:ef", "mac text");
	ASSERT_EQ(tf_tap_alias_format(&o, buf, 20), -ENOSPC, "too small");
}

static void test_alias_round_trip(void)
{
	struct tf_tap_opts o = base(), p;
	char buf[TF_TAP_ALIASZ];

	o.queues = 256;
	o.group = 0;
	o.mtu = 65535;
	o.txqueuelen = 1000000;
	o.vnet_hdr = true;
	o.has_mac = true;
	memcpy(o.mac, "\x02\x11\x22\x33\x44\x55", 6);
	ASSERT_TRUE(tf_tap_alias_format(&o, buf, sizeof(buf)) > 0, "format");
	if (!ASSERT_OK(tf_tap_alias_parse(buf, &p), "parse"))
		return;
	ASSERT_EQ(p.queues, 256, "queues");
	ASSERT_EQ(p.owner, 1000, "owner");
	ASSERT_EQ(p.group, 0, "group");
	ASSERT_EQ(p.mtu, 65535, "mtu");
	ASSERT_EQ(p.txqueuelen, 1000000, "txqueuelen");
	ASSERT_EQ(p.vnet_hdr, 1, "vnet_hdr");
	ASSERT_EQ(p.has_mac, 1, "has_mac");
	ASSERT_EQ(memcmp(p.mac, o.mac, 6), 0, "mac");

	/* Without a MAC, none is read back; owner/group -1 mean none. */
	o = base();
	o.owner = TF_NO_ID;
	tf_tap_alias_format(&o, buf, sizeof(buf));
	ASSERT_OK(tf_tap_alias_parse(buf, &p), "parse no mac");
	ASSERT_EQ(p.has_mac, 0, "no mac");
	ASSERT_EQ(p.owner, TF_NO_ID, "owner none");
	ASSERT_EQ(p.group, TF_NO_ID, "group none");
}

static void test_alias_foreign(void)
{
	struct tf_tap_opts p;

	/* Not ours at all: -ENOENT, so the tap counts as foreign. */
	ASSERT_EQ(tf_tap_alias_parse("", &p), -ENOENT, "empty");
	ASSERT_EQ(tf_tap_alias_parse(NULL, &p), -ENOENT, "null");
	ASSERT_EQ(tf_tap_alias_parse("my vm's nic", &p), -ENOENT, "free text");
	ASSERT_EQ(tf_tap_alias_parse("tapflow:v2 queues=4", &p), -ENOENT, "other version");
	ASSERT_EQ(tf_tap_alias_parse("tapflow:v10 queues=4 owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
				     &p), -ENOENT, "v10 is not v1");
	ASSERT_EQ(tf_tap_alias_parse(" tapflow:v1 queues=4", &p), -ENOENT, "leading space");
}

static void test_alias_malformed(void)
{
	static const char *const bad[] = {
		"tapflow:v1",
		"tapflow:v1 queues=4",
		"tapflow:v1 queues=0 owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
		"tapflow:v1 queues=257 owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
		"tapflow:v1 queues=four owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
		"tapflow:v1 queues=4 owner=-2 group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
		"tapflow:v1 queues=4 owner=-1 group=-1 mtu=67 txqlen=500 vnet_hdr=0",
		"tapflow:v1 queues=4 owner=-1 group=-1 mtu=1500 txqlen=0 vnet_hdr=0",
		"tapflow:v1 queues=4 owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=2",
		"tapflow:v1 queues=4 owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0 mac=02:00",
		"tapflow:v1 queues=4 owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0 color=red",
		"tapflow:v1 queues=4 queues=4 owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
		"tapflow:v1 queues=4 owner group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
		"tapflow:v1 queues=4x owner=-1 group=-1 mtu=1500 txqlen=500 vnet_hdr=0",
	};
	struct tf_tap_opts p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(tf_tap_alias_parse(bad[i], &p), -EINVAL, bad[i]);
	tf_tap_alias_parse(bad[1], &p);
	ASSERT_HAS(tf_errmsg(), "'owner' is missing", "missing message");
	tf_tap_alias_parse(bad[10], &p);
	ASSERT_HAS(tf_errmsg(), "unknown key 'color'", "unknown key message");
}

static void test_diff_same(void)
{
	struct tf_tap_opts have = base(), want = base();
	char buf[512];

	ASSERT_EQ(tf_tap_opts_diff(&have, &want, buf, sizeof(buf)), 0, "same");
	ASSERT_STREQ(buf, "", "no text");
	/* An unspecified MAC is not compared. */
	have.has_mac = true;
	memcpy(have.mac, "\x02\x00\x00\x00\x00\x01", 6);
	ASSERT_EQ(tf_tap_opts_diff(&have, &want, buf, sizeof(buf)), 0, "mac not asked");
	want.has_mac = true;
	memcpy(want.mac, have.mac, 6);
	ASSERT_EQ(tf_tap_opts_diff(&have, &want, buf, sizeof(buf)), 0, "same mac");
}

static void test_diff_names_each(void)
{
	struct tf_tap_opts have = base(), want = base();
	char buf[512];

	want.queues = 2;
	ASSERT_EQ(tf_tap_opts_diff(&have, &want, buf, sizeof(buf)), 1, "queues");
	ASSERT_STREQ(buf, "tap0 exists with queues=4, not 2", "queues text");

	want = base();
	want.owner = TF_NO_ID;
	want.group = 100;
	want.mtu = 9000;
	want.txqueuelen = 1000;
	want.vnet_hdr = true;
	want.has_mac = true;
	memcpy(want.mac, "\x02\x00\x00\x00\x00\x02", 6);
	have.has_mac = true;
	memcpy(have.mac, "\x02\x00\x00\x00\x00\x01", 6);
	ASSERT_EQ(tf_tap_opts_diff(&have, &want, buf, sizeof(buf)), 6, "six");
	ASSERT_STREQ(buf, "tap0 exists with owner=1000, not none; group=none, not 100; "
		     "mtu=1500, not 9000; txqueuelen=500, not 1000; vnet-hdr=off, not on; "
		     "mac=02:00:00:00:00:01, not 02:00:00:00:00:02", "six text");
	/* A short buffer truncates but still counts. */
	ASSERT_EQ(tf_tap_opts_diff(&have, &want, buf, 10), 6, "short buffer");
	ASSERT_EQ(strlen(buf), 9, "truncated");
}

/*
 * The modules are a fixed list in the library: this test references none
 * of them, yet tf_tap_attached() asks each one (the fast path, steering,
 * tracing), and for a tap none of them knows every part comes back zeroed
 * whatever was in the struct. What they report for a real tap, and how the
 * CLI renders it, is tests/integration/test_show.sh.
 */
static void test_attached_walks_every_module(void)
{
	static const struct tf_tap_attached zero;
	struct tf_tap_attached a;

	memset(&a, 0xa5, sizeof(a));
	ASSERT_EQ(tf_tap_attached(0x7ffffff0, "notap0", &a), 0, "nothing attached");
	ASSERT_TRUE(!memcmp(&a, &zero, sizeof(a)), "every part zeroed");
}

TF_MAIN("unit/tap_opts",
	TF_TEST(test_resolve_defaults),
	TF_TEST(test_alias_format),
	TF_TEST(test_alias_round_trip),
	TF_TEST(test_alias_foreign),
	TF_TEST(test_alias_malformed),
	TF_TEST(test_diff_same),
	TF_TEST(test_diff_names_each),
	TF_TEST(test_attached_walks_every_module),
)
