// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness for the ifalias marker parser (tf_tap_alias_parse,
 * user/tap_alias.c). Any root user can write any alias on a tap (`ip link
 * set NAME alias ...`), and every list, show, create and delete parses it.
 * An alias it accepts must format back (tf_tap_alias_format) into one that
 * parses to the same parameters.
 */
#include "tapflow.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tf_tap_opts o, o2;
	char out[TF_TAP_ALIASZ];
	char *s = fuzz_str(data, size, 0);
	int n;

	if (!tf_tap_alias_parse(s, &o)) {
		FUZZ_CHECK(o.queues >= 1 && o.queues <= TF_MAX_QUEUES, "queues %u", o.queues);
		FUZZ_CHECK(o.mtu >= TF_TAP_MIN_MTU && o.mtu <= TF_TAP_MAX_MTU, "mtu %u", o.mtu);
		n = tf_tap_alias_format(&o, out, sizeof(out));
		FUZZ_CHECK(n > 0, "'%s' does not format back: %s", s, tf_errmsg());
		FUZZ_CHECK(!tf_tap_alias_parse(out, &o2), "'%s' -> '%s': %s", s, out, tf_errmsg());
		FUZZ_CHECK(o.queues == o2.queues && o.owner == o2.owner && o.group == o2.group &&
			   o.mtu == o2.mtu && o.txqueuelen == o2.txqueuelen &&
			   o.vnet_hdr == o2.vnet_hdr && o.has_mac == o2.has_mac &&
			   !memcmp(o.mac, o2.mac, 6), "'%s' -> '%s' differs", s, out);
	}
	free(s);
	return 0;
}
