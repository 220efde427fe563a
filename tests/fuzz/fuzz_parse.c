// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness for the command-line value parsers of user/parse.c
 * (tf_parse_ifname, _uint, _seconds, _mac, _user, _group): every tapflow
 * command hands them what a user typed. The first byte picks the parser,
 * the rest is the value. Beyond the sanitizers it checks each parser's
 * contract: an accepted value is in range and round-trips, a refused one
 * leaves a message.
 */
#include <errno.h>
#include <math.h>

#include "tapflow.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, buf[32], name[TF_IFNAMSIZ];
	unsigned long u;
	uint8_t mac[6], mac2[6];
	double d;
	uid_t uid;
	gid_t gid;
	int err;

	if (!size)
		return 0;
	s = fuzz_str(data, size, 1);
	switch (data[0] % 6) {
	case 0:
		err = tf_parse_ifname(s, name);
		if (!err) {
			FUZZ_CHECK(strlen(name) < TF_IFNAMSIZ && !strcmp(name, s), "'%s'", s);
			FUZZ_CHECK(!strpbrk(name, "/: \t\n"), "'%s' accepted", s);
		}
		break;
	case 1:
		err = tf_parse_uint(s, "--n", 1, 1000000, &u);
		if (!err) {
			FUZZ_CHECK(u >= 1 && u <= 1000000, "'%s' -> %lu", s, u);
			snprintf(buf, sizeof(buf), "%lu", u);
			FUZZ_CHECK(strtoul(buf, NULL, 10) == u, "'%s'", s);
		}
		break;
	case 2:
		err = tf_parse_seconds(s, "--interval", 0.001, 3600, &d);
		if (!err)
			FUZZ_CHECK(isfinite(d) && d >= 0.001 && d <= 3600, "'%s' -> %g", s, d);
		break;
	case 3:
		err = tf_parse_mac(s, mac);
		if (!err) {
			snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x",
				 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
			FUZZ_CHECK(!tf_parse_mac(buf, mac2) && !memcmp(mac, mac2, 6), "'%s'", s);
		}
		break;
	case 4:
		err = tf_parse_user(s, &uid);
		break;
	default:
		err = tf_parse_group(s, &gid);
		break;
	}
	if (err)
		FUZZ_CHECK(err < 0 && tf_errmsg()[0], "'%s': %d without a message", s, err);
	free(s);
	return 0;
}
