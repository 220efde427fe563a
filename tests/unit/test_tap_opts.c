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
#include "../../user/json.h"
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

/* A module as the tracing one would be: one member in JSON, one text line. */
static int fake_trace_show(int ifindex, const char *name, struct tf_json *j, FILE *text)
{
	if (ifindex != 7)
		return 0;	/* nothing attached to other taps */
	if (j) {
		tf_json_obj_begin(j, "tracing");
		tf_json_str(j, "backend", "tracepoint");
		tf_json_obj_end(j);
	} else {
		fprintf(text, "    tracing: tracepoint backend on %s\n", name);
	}
	return 1;
}

static void test_show_hooks(void)
{
	struct tf_json j;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ASSERT_OK(tf_tap_register_show_hook(fake_trace_show), "register");
	ASSERT_OK(tf_tap_register_show_hook(fake_trace_show), "register twice is a no-op");

	f = open_memstream(&buf, &len);
	tf_json_init(&j, f);
	tf_json_obj_begin(&j, NULL);
	tf_json_obj_begin(&j, "attached");
	ASSERT_EQ(tf_tap_run_show_hooks(7, "tap0", &j, NULL), 1, "json reported");
	tf_json_obj_end(&j);
	tf_json_obj_end(&j);
	fclose(f);
	ASSERT_STREQ(buf, "{\"attached\":{\"tracing\":{\"backend\":\"tracepoint\"}}}", "json");
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	ASSERT_EQ(tf_tap_run_show_hooks(7, "tap0", NULL, f), 1, "text reported");
	ASSERT_EQ(tf_tap_run_show_hooks(8, "tap1", NULL, f), 0, "other tap");
	fclose(f);
	ASSERT_STREQ(buf, "    tracing: tracepoint backend on tap0\n", "text");
	free(buf);
}

TF_MAIN("unit/tap_opts",
	TF_TEST(test_resolve_defaults),
	TF_TEST(test_alias_format),
	TF_TEST(test_alias_round_trip),
	TF_TEST(test_alias_foreign),
	TF_TEST(test_alias_malformed),
	TF_TEST(test_diff_same),
	TF_TEST(test_diff_names_each),
	TF_TEST(test_show_hooks),
)
