// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests for libtapflow's input validation (no root needed). */
#include <errno.h>
#include <stdint.h>

#include "tapflow.h"
#include "tf_test.h"

static void test_ifname(void)
{
	char out[TF_IFNAMSIZ];

	ASSERT_OK(tf_parse_ifname("tap0", out), "plain");
	ASSERT_STREQ(out, "tap0", "copied");
	ASSERT_OK(tf_parse_ifname("abcdefghijklmno", out), "15 bytes");
	ASSERT_EQ(tf_parse_ifname("abcdefghijklmnop", out), -EINVAL, "16 bytes");
	ASSERT_HAS(tf_errmsg(), "limit is 15", "16 bytes message");
	ASSERT_EQ(tf_parse_ifname("", out), -EINVAL, "empty");
	ASSERT_HAS(tf_errmsg(), "empty", "empty message");
	ASSERT_EQ(tf_parse_ifname("a/b", out), -EINVAL, "slash");
	ASSERT_HAS(tf_errmsg(), "'/'", "slash message");
	ASSERT_EQ(tf_parse_ifname("a:b", out), -EINVAL, "colon");
	ASSERT_EQ(tf_parse_ifname("a b", out), -EINVAL, "space");
	ASSERT_EQ(tf_parse_ifname("a\tb", out), -EINVAL, "tab");
	ASSERT_HAS(tf_errmsg(), "whitespace", "tab message");
	ASSERT_EQ(tf_parse_ifname("..", out), -EINVAL, "dotdot");
	/* The kernel would take these as a name template and pick a name itself. */
	ASSERT_EQ(tf_parse_ifname("tap%d", out), -EINVAL, "percent d");
	ASSERT_HAS(tf_errmsg(), "holds '%'", "percent message");
	ASSERT_EQ(tf_parse_ifname("a%", out), -EINVAL, "percent");
}

static void test_uint(void)
{
	unsigned long v = 0;

	ASSERT_OK(tf_parse_uint("4", "--queues", 1, 256, &v), "4");
	ASSERT_EQ(v, 4, "value");
	ASSERT_OK(tf_parse_uint("256", "--queues", 1, 256, &v), "256");
	ASSERT_EQ(tf_parse_uint("0", "--queues", 1, 256, &v), -EINVAL, "0");
	ASSERT_HAS(tf_errmsg(), "out of range (1 to 256)", "0 message");
	ASSERT_EQ(tf_parse_uint("257", "--queues", 1, 256, &v), -EINVAL, "257");
	ASSERT_EQ(tf_parse_uint("four", "--queues", 1, 256, &v), -EINVAL, "word");
	ASSERT_HAS(tf_errmsg(), "not a number", "word message");
	ASSERT_EQ(tf_parse_uint("-1", "--queues", 1, 256, &v), -EINVAL, "negative");
	ASSERT_EQ(tf_parse_uint("4x", "--queues", 1, 256, &v), -EINVAL, "trailing");
	ASSERT_EQ(tf_parse_uint(" 4", "--queues", 1, 256, &v), -EINVAL, "leading space");
	ASSERT_EQ(tf_parse_uint("99999999999999999999999", "--queues", 1, 256, &v), -EINVAL, "overflow");
}

static void test_mac(void)
{
	uint8_t m[6];

	ASSERT_OK(tf_parse_mac("02:00:00:aB:cd:ef", m), "valid");
	ASSERT_EQ(m[3], 0xab, "byte 3");
	ASSERT_EQ(m[5], 0xef, "byte 5");
	ASSERT_EQ(tf_parse_mac("02:00:00:ab:cd", m), -EINVAL, "short");
	ASSERT_EQ(tf_parse_mac("02:00:00:ab:cd:eg", m), -EINVAL, "bad hex");
	ASSERT_EQ(tf_parse_mac("02-00-00-ab-cd-ef", m), -EINVAL, "dashes");
	ASSERT_HAS(tf_errmsg(), "malformed", "malformed message");
	ASSERT_EQ(tf_parse_mac("01:00:5e:00:00:01", m), -EINVAL, "multicast");
	ASSERT_HAS(tf_errmsg(), "multicast", "multicast message");
	ASSERT_EQ(tf_parse_mac("00:00:00:00:00:00", m), -EINVAL, "zero");
}

static void test_user_group(void)
{
	uid_t u;
	gid_t g;

	ASSERT_OK(tf_parse_user("root", &u), "root");
	ASSERT_EQ(u, 0, "root uid");
	ASSERT_OK(tf_parse_user("1234", &u), "numeric");
	ASSERT_EQ(u, 1234, "numeric uid");
	ASSERT_EQ(tf_parse_user("no-such-user-tf", &u), -EINVAL, "unknown user");
	ASSERT_HAS(tf_errmsg(), "unknown user 'no-such-user-tf'", "unknown user message");
	ASSERT_OK(tf_parse_group("root", &g), "root group");
	ASSERT_EQ(tf_parse_group("no-such-group-tf", &g), -EINVAL, "unknown group");
	ASSERT_HAS(tf_errmsg(), "unknown group", "unknown group message");
}

static void test_seconds(void)
{
	double d;

	ASSERT_OK(tf_parse_seconds("0.5", "--interval", 0.1, 60, &d), "0.5");
	ASSERT_TRUE(d == 0.5, "value");
	ASSERT_EQ(tf_parse_seconds("0", "--interval", 0.1, 60, &d), -EINVAL, "0");
	ASSERT_EQ(tf_parse_seconds("nan", "--interval", 0.1, 60, &d), -EINVAL, "nan");
	ASSERT_EQ(tf_parse_seconds("1s", "--interval", 0.1, 60, &d), -EINVAL, "suffix");
}

TF_MAIN("unit/parse",
	TF_TEST(test_ifname),
	TF_TEST(test_uint),
	TF_TEST(test_mac),
	TF_TEST(test_user_group),
	TF_TEST(test_seconds))
