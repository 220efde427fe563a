// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Input validation shared by the CLI and API callers. Each parser either
 * fills its output or returns -EINVAL with a one-line message that names the
 * field and the offending value, so callers can print it as it is. Also
 * the two small things every command does with what it parsed: a device
 * name to its ifindex, and a MAC back to text.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <net/if.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "tapflow.h"

int tf_parse_ifname(const char *s, char out[TF_IFNAMSIZ])
{
	size_t n;

	if (!s || !*s)
		return tf_err(-EINVAL, "interface name is empty");
	n = strlen(s);
	if (n >= TF_IFNAMSIZ)
		return tf_err(-EINVAL, "interface name '%s' is %zu bytes; the limit is %d",
			      s, n, TF_IFNAMSIZ - 1);
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return tf_err(-EINVAL, "interface name '%s' is not allowed", s);
	for (const char *p = s; *p; p++) {
		/* '%' would make the kernel treat the name as a template ("tap%d"). */
		if (*p == '/' || *p == ':' || *p == '%' || isspace((unsigned char)*p))
			return tf_err(-EINVAL, "interface name '%s' holds '%s', which is not allowed",
				      s, *p == '/' ? "/" : *p == ':' ? ":" : *p == '%' ? "%" : "whitespace");
		if (!isprint((unsigned char)*p))
			return tf_err(-EINVAL, "interface name holds a non-printable byte");
	}
	if (out)
		memcpy(out, s, n + 1);
	return 0;
}

int tf_parse_uint(const char *s, const char *what, unsigned long min,
		  unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s)
		return tf_err(-EINVAL, "%s: empty value", what);
	if (!isdigit((unsigned char)s[0]))
		return tf_err(-EINVAL, "%s: '%s' is not a number", what, s);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return tf_err(-EINVAL, "%s: '%s' is not a number", what, s);
	if (errno == ERANGE || v < min || v > max)
		return tf_err(-EINVAL, "%s: %s is out of range (%lu to %lu)", what, s, min, max);
	*out = v;
	return 0;
}

int tf_parse_seconds(const char *s, const char *what, double min, double max,
		     double *out)
{
	double v;
	char *end;

	if (!s || !*s)
		return tf_err(-EINVAL, "%s: empty value", what);
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v) || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		return tf_err(-EINVAL, "%s: '%s' is not a number of seconds", what, s);
	if (v < min || v > max)
		return tf_err(-EINVAL, "%s: %s is out of range (%g to %g seconds)", what, s, min, max);
	*out = v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int tf_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	int i;

	if (!s || strlen(s) != 17)
		goto bad;
	for (i = 0; i < 6; i++) {
		int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			goto bad;
		m[i] = hi << 4 | lo;
	}
	if (m[0] & 1)
		return tf_err(-EINVAL, "MAC address '%s' is multicast; a tap needs a unicast address", s);
	if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return tf_err(-EINVAL, "MAC address '%s' is all zero", s);
	memcpy(mac, m, 6);
	return 0;
bad:
	return tf_err(-EINVAL, "MAC address '%s' is malformed (want aa:bb:cc:dd:ee:ff)", s ? s : "");
}

static int parse_id(const char *s, unsigned long *id)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return 0;
	errno = 0;
	*id = strtoul(s, &end, 10);
	return !*end && !errno && *id < 0xffffffffUL;
}

static bool user_id(const char *s, unsigned long *id)
{
	struct passwd *pw = getpwnam(s);

	if (pw)
		*id = pw->pw_uid;
	return pw;
}

static bool group_id(const char *s, unsigned long *id)
{
	struct group *gr = getgrnam(s);

	if (gr)
		*id = gr->gr_gid;
	return gr;
}

/*
 * A user or group by number or by name. A numeric id need not have a passwd
 * or group entry (containers, NSS). OPT and WHAT name it in errors.
 */
static int parse_owner(const char *s, const char *opt, const char *what,
		       bool (*lookup)(const char *, unsigned long *), unsigned long *id)
{
	if (!s || !*s)
		return tf_err(-EINVAL, "%s: empty %s", opt, what);
	if (parse_id(s, id) || lookup(s, id))
		return 0;
	return tf_err(-EINVAL, "%s: unknown %s '%s'", opt, what, s);
}

int tf_parse_user(const char *s, uid_t *uid)
{
	unsigned long id;
	int err = parse_owner(s, "owner", "user", user_id, &id);

	if (!err)
		*uid = id;
	return err;
}

int tf_parse_group(const char *s, gid_t *gid)
{
	unsigned long id;
	int err = parse_owner(s, "group", "group", group_id, &id);

	if (!err)
		*gid = id;
	return err;
}

int tf_ifindex(const char *name, int *ifindex)
{
	int err = tf_parse_ifname(name, NULL);

	if (err)
		return err;
	*ifindex = if_nametoindex(name);
	if (!*ifindex)
		return tf_err(-ENODEV, "no device '%s' in this network namespace", name);
	return 0;
}

char *tf_mac_format(const uint8_t m[6], char buf[TF_MAC_STRLEN])
{
	snprintf(buf, TF_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
		 m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}
