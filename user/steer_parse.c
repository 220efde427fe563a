// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Parsing steering's inputs (the CLI's and API callers'): an RSS key, an
 * indirection table and fixed-mode flow rules, each checked against the
 * tap's queue count, with errors that name the option.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapflow.h"
#include "log.h"

int tf_steer_parse_key(const char *s, uint8_t key[TF_STEER_KEY_LEN])
{
	unsigned int n = 0, nib = 0;
	uint8_t out[TF_STEER_KEY_LEN];
	int hi = -1;

	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	for (const char *p = s; *p; p++) {
		int v;

		if ((*p == ':' || *p == '-') && hi < 0)
			continue;
		if (!isxdigit((unsigned char)*p))
			return tf_err(-EINVAL, "--key: '%c' is not a hex digit (want %d bytes as hex)",
				      *p, TF_STEER_KEY_LEN);
		v = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
		nib++;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n < TF_STEER_KEY_LEN)
			out[n] = hi << 4 | v;
		n++;
		hi = -1;
	}
	if (hi >= 0 || n != TF_STEER_KEY_LEN)
		return tf_err(-EINVAL, "--key: %u hex digits, need %d (%d bytes)", nib,
			      TF_STEER_KEY_LEN * 2, TF_STEER_KEY_LEN);
	memcpy(key, out, sizeof(out));
	return 0;
}

int tf_steer_parse_indir(const char *s, unsigned int nqueues,
			 uint16_t indir[TF_STEER_INDIR_MAX], unsigned int *len)
{
	uint16_t out[TF_STEER_INDIR_MAX];
	unsigned int n = 0;
	const char *p = s;

	while (1) {
		char tok[16];
		size_t l = strcspn(p, ",");
		unsigned long q;
		int err;

		if (n == TF_STEER_INDIR_MAX)
			return tf_err(-EINVAL, "--indir: more than %d entries", TF_STEER_INDIR_MAX);
		if (!l || l >= sizeof(tok))
			return tf_err(-EINVAL, "--indir: '%.*s' is not a queue number", (int)l, p);
		memcpy(tok, p, l);
		tok[l] = '\0';
		err = tf_parse_uint(tok, "--indir", 0, nqueues - 1, &q);
		if (err)
			return err;
		out[n++] = q;
		if (!p[l])
			break;
		p += l + 1;
	}
	if (n & (n - 1))
		return tf_err(-EINVAL, "--indir: %u entries, need a power of two (1..%d)",
			      n, TF_STEER_INDIR_MAX);
	memcpy(indir, out, n * sizeof(out[0]));
	*len = n;
	return 0;
}

/* Take "ADDR:" or "[ADDR6]:" (or the final "ADDR"/"PORT" when last) off *p. */
static int next_field(const char **p, char *buf, size_t len, bool bracketed_ok, bool last)
{
	const char *s = *p, *e;
	size_t l;

	if (bracketed_ok && *s == '[') {
		e = strchr(s, ']');
		if (!e)
			return -1;
		l = e - s - 1;
		s++;
		e++;
	} else {
		e = last ? s + strlen(s) : strchr(s, ':');
		if (!e)
			return -1;
		l = e - s;
	}
	if (!l || l >= len)
		return -1;
	memcpy(buf, s, l);
	buf[l] = '\0';
	if (last) {
		if (*e)
			return -1;
		*p = e;
	} else {
		if (*e != ':')
			return -1;
		*p = e + 1;
	}
	return 0;
}

static int parse_addr(const char *a, struct tf_steer_rule *r, __be32 *out)
{
	int family = strchr(a, ':') ? 6 : 4;

	if (r->family && r->family != family)
		return -1;
	r->family = family;
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, a, out) != 1)
		return -1;
	return 0;
}

static int parse_port(const char *s, bool any, __be16 *out)
{
	unsigned long v;
	char *end;

	if (!strcmp(s, "*") && any) {
		*out = 0;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535 || (any && v))
		return -1;
	*out = htons(v);
	return 0;
}

int tf_steer_parse_rule(const char *s, unsigned int nqueues, struct tf_steer_rule_q *rq)
{
	struct tf_steer_rule *r = &rq->rule;
	char body[160], proto[8], src[48], sport[8], dst[48], dport[8];
	const char *eq = strrchr(s, '='), *p = body;
	unsigned long q;
	bool ip;
	int err;

	memset(rq, 0, sizeof(*rq));
	if (!eq || (size_t)(eq - s) >= sizeof(body))
		return tf_err(-EINVAL, "--rule '%s': want PROTO:SRC:SPORT:DST:DPORT=QUEUE", s);
	memcpy(body, s, eq - s);
	body[eq - s] = '\0';
	err = tf_parse_uint(eq + 1, "queue", 0, nqueues - 1, &q);
	if (err) {
		char why[256];

		snprintf(why, sizeof(why), "%s", tf_errmsg());
		return tf_err(err, "--rule '%s': %s", s, why);
	}
	rq->queue = q;
	if (next_field(&p, proto, sizeof(proto), false, false) ||
	    next_field(&p, src, sizeof(src), true, false) ||
	    next_field(&p, sport, sizeof(sport), false, false) ||
	    next_field(&p, dst, sizeof(dst), true, false) ||
	    next_field(&p, dport, sizeof(dport), false, true))
		return tf_err(-EINVAL, "--rule '%s': want PROTO:SRC:SPORT:DST:DPORT=QUEUE "
			      "(IPv6 addresses in brackets)", s);
	if (!strcmp(proto, "tcp"))
		r->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		r->proto = IPPROTO_UDP;
	else if (strcmp(proto, "ip"))
		return tf_err(-EINVAL, "--rule '%s': protocol '%s' is not tcp, udp or ip", s, proto);
	ip = !r->proto;
	if (parse_addr(src, r, r->saddr) || parse_addr(dst, r, r->daddr))
		return tf_err(-EINVAL, "--rule '%s': bad address or mixed IPv4/IPv6", s);
	if (parse_port(sport, ip, &r->sport) || parse_port(dport, ip, &r->dport))
		return tf_err(-EINVAL, ip ? "--rule '%s': ip rules match any port: give 0 or *" :
				       "--rule '%s': ports are 0..65535", s);
	return 0;
}
