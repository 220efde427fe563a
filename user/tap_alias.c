// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The tapflow marker in a tap's ifalias (see tf_tap.h): writing it,
 * parsing it strictly (a tap whose alias is malformed is not tapflow's),
 * filling defaults into a request, and naming how an existing tap differs
 * from one, for `create`'s "exists with ..." error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapflow.h"
#include "log.h"

void tf_tap_opts_resolve(struct tf_tap_opts *o)
{
	if (!o->queues)
		o->queues = 1;
	if (!o->mtu)
		o->mtu = TF_TAP_DEF_MTU;
	if (!o->txqueuelen)
		o->txqueuelen = TF_TAP_DEF_TXQLEN;
	if (o->queues > 1)
		o->multi_queue = true;
	if (o->owner == TF_NO_ID && o->group == TF_NO_ID)
		o->owner = 0;
}

int tf_tap_alias_format(const struct tf_tap_opts *o, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s queues=%u owner=%ld group=%ld mtu=%u txqlen=%u vnet_hdr=%d",
		     TF_TAP_ALIAS_MARK, o->queues, o->owner, o->group, o->mtu,
		     o->txqueuelen, o->vnet_hdr);
	if (n >= 0 && (size_t)n < len && o->has_mac) {
		char m[TF_MAC_STRLEN];

		n += snprintf(buf + n, len - n, " mac=%s", tf_mac_format(o->mac, m));
	}
	if (n < 0 || (size_t)n >= len)
		return tf_err(-ENOSPC, "alias does not fit in %zu bytes", len);
	return n;
}

/* A decimal in [min, max], or -1 for owner/group when allow_none. */
static int alias_num(const char *v, long long min, long long max, bool allow_none,
		     long long *out)
{
	char *end;
	long long x;

	if (allow_none && !strcmp(v, "-1")) {
		*out = -1;
		return 0;
	}
	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (*end || errno || x < min || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

int tf_tap_alias_parse(const char *alias, struct tf_tap_opts *o)
{
	static const char *const keys[] = { "queues", "owner", "group", "mtu", "txqlen",
					    "vnet_hdr", "mac" };
	const size_t marklen = strlen(TF_TAP_ALIAS_MARK);
	char copy[TF_TAP_ALIASZ], *save = NULL, *tok;
	unsigned int seen = 0;

	if (!alias || strncmp(alias, TF_TAP_ALIAS_MARK, marklen) ||
	    (alias[marklen] && alias[marklen] != ' '))
		return -ENOENT;
	if (strlen(alias) >= sizeof(copy))
		return tf_err(-EINVAL, "tapflow alias is too long");
	strcpy(copy, alias + marklen);
	memset(o, 0, sizeof(*o));

	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *v = strchr(tok, '=');
		long long x = 0;
		size_t k;
		int err = 0;

		if (!v)
			return tf_err(-EINVAL, "tapflow alias: '%s' is not key=value", tok);
		*v++ = '\0';
		for (k = 0; k < ARRAY_SIZE(keys); k++)
			if (!strcmp(tok, keys[k]))
				break;
		if (k == ARRAY_SIZE(keys))
			return tf_err(-EINVAL, "tapflow alias: unknown key '%s'", tok);
		if (seen & (1u << k))
			return tf_err(-EINVAL, "tapflow alias: '%s' given twice", tok);
		seen |= 1u << k;
		switch (k) {
		case 0:
			err = alias_num(v, 1, TF_MAX_QUEUES, false, &x);
			o->queues = x;
			break;
		case 1:
		case 2:
			err = alias_num(v, 0, 0xfffffffeLL, true, &x);
			*(k == 1 ? &o->owner : &o->group) = x;
			break;
		case 3:
			err = alias_num(v, TF_TAP_MIN_MTU, TF_TAP_MAX_MTU, false, &x);
			o->mtu = x;
			break;
		case 4:
			err = alias_num(v, 1, UINT32_MAX, false, &x);
			o->txqueuelen = x;
			break;
		case 5:
			err = alias_num(v, 0, 1, false, &x);
			o->vnet_hdr = x;
			break;
		case 6:
			/* tf_parse_mac leaves its own message; ours names the alias. */
			err = tf_parse_mac(v, o->mac);
			o->has_mac = true;
			break;
		}
		if (err)
			return tf_err(-EINVAL, "tapflow alias: bad value '%s' for %s", v, tok);
	}
	/* Everything but the MAC is always written. */
	for (size_t k = 0; k < ARRAY_SIZE(keys) - 1; k++)
		if (!(seen & (1u << k)))
			return tf_err(-EINVAL, "tapflow alias: '%s' is missing", keys[k]);
	return 0;
}

static void fmt_id(long id, char *buf, size_t len)
{
	if (id == TF_NO_ID)
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%ld", id);
}

int tf_tap_opts_diff(const struct tf_tap_opts *have, const struct tf_tap_opts *want,
		     char *buf, size_t len)
{
	char h[32], w[32];
	size_t at = 0;
	int n = 0;

#define ADD(key, hv, wv) do {							\
		at += snprintf(buf + (at < len ? at : 0), at < len ? len - at : 0,	\
			       "%s%s=%s, not %s",					\
			       n ? "; " : "", key, hv, wv);			\
		n++;								\
	} while (0)

	if (len)
		buf[0] = '\0';
	at = snprintf(buf, len, "%s exists with ", want->name[0] ? want->name : have->name);
	if (have->queues != want->queues) {
		snprintf(h, sizeof(h), "%u", have->queues);
		snprintf(w, sizeof(w), "%u", want->queues);
		ADD("queues", h, w);
	}
	if (have->owner != want->owner) {
		fmt_id(have->owner, h, sizeof(h));
		fmt_id(want->owner, w, sizeof(w));
		ADD("owner", h, w);
	}
	if (have->group != want->group) {
		fmt_id(have->group, h, sizeof(h));
		fmt_id(want->group, w, sizeof(w));
		ADD("group", h, w);
	}
	if (have->mtu != want->mtu) {
		snprintf(h, sizeof(h), "%u", have->mtu);
		snprintf(w, sizeof(w), "%u", want->mtu);
		ADD("mtu", h, w);
	}
	if (have->txqueuelen != want->txqueuelen) {
		snprintf(h, sizeof(h), "%u", have->txqueuelen);
		snprintf(w, sizeof(w), "%u", want->txqueuelen);
		ADD("txqueuelen", h, w);
	}
	if (have->vnet_hdr != want->vnet_hdr)
		ADD("vnet-hdr", have->vnet_hdr ? "on" : "off", want->vnet_hdr ? "on" : "off");
	if (have->multi_queue != want->multi_queue)
		ADD("multi-queue", have->multi_queue ? "on" : "off",
		    want->multi_queue ? "on" : "off");
	if (want->has_mac && (!have->has_mac || memcmp(have->mac, want->mac, 6))) {
		if (have->has_mac)
			tf_mac_format(have->mac, h);
		else
			snprintf(h, sizeof(h), "none");
		tf_mac_format(want->mac, w);
		ADD("mac", h, w);
	}
#undef ADD
	if (!n && len)
		buf[0] = '\0';
	return n;
}
