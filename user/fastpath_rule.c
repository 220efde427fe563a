// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * AF_XDP rules of a fast path port: which frames the tap's program hands to
 * the AF_XDP socket of the queue they arrive on, kept in the port's record,
 * which the program reads per frame (fp_put_port: one map update).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "tapflow.h"
#include "log.h"
#include "fastpath.skel.h"

#include "fastpath_int.h"

static bool rule_eq(const struct tf_fp_rule *a, const struct tf_fp_rule *b)
{
	return a->kind == b->kind && a->ipproto == b->ipproto && a->value == b->value;
}

/* Write PORT's new rule list over OLD, naming the port if that fails. */
static int rules_put(struct fp *s, int ifindex, const char *name, const struct tf_fp_port *port,
		     const struct tf_fp_port *old)
{
	int err = fp_put_port(s, ifindex, port, old);

	return err ? tf_err(err, "cannot update %s's rules: %s", name, strerror(-err)) : 0;
}

int tf_fastpath_rule_add(const char *name, const struct tf_fp_rule *rule)
{
	struct tf_fp_port port, old;
	int ifindex, err;
	struct fp s;

	if (rule->kind <= TF_FP_RULE_NONE || rule->kind > TF_FP_RULE_L4_DPORT)
		return tf_err(-EINVAL, "unknown rule kind %u", rule->kind);
	if (rule->kind == TF_FP_RULE_L4_DPORT && rule->ipproto != IPPROTO_UDP &&
	    rule->ipproto != IPPROTO_TCP)
		return tf_err(-EINVAL, "a port rule needs udp or tcp");
	err = fp_open_port(&s, name, &ifindex, &port, false);
	if (err)
		return err;
	for (__u32 i = 0; i < port.nrules && i < TF_FP_MAX_RULES; i++)
		if (rule_eq(&port.rules[i], rule)) {
			err = tf_err(-EEXIST, "%s already has that rule", name);
			goto out;
		}
	if (port.nrules >= TF_FP_MAX_RULES) {
		err = tf_err(-ENOSPC, "%s has %d rules already, the most a port takes", name,
			     TF_FP_MAX_RULES);
		goto out;
	}
	old = port;
	port.rules[port.nrules++] = *rule;
	err = rules_put(&s, ifindex, name, &port, &old);
out:
	fp_close(&s);
	return err;
}

int tf_fastpath_rule_del(const char *name, const struct tf_fp_rule *rule)
{
	struct tf_fp_port port, old;
	int ifindex, err;
	__u32 j = 0;
	struct fp s;

	err = fp_open_port(&s, name, &ifindex, &port, false);
	if (err)
		return err;
	old = port;
	for (__u32 i = 0; i < port.nrules && i < TF_FP_MAX_RULES; i++)
		if (rule && !rule_eq(&port.rules[i], rule))
			port.rules[j++] = port.rules[i];
	if (rule && j == port.nrules) {
		err = tf_err(-ENOENT, "%s has no such rule", name);
		goto out;
	}
	for (__u32 i = j; i < TF_FP_MAX_RULES; i++)
		memset(&port.rules[i], 0, sizeof(port.rules[i]));
	port.nrules = j;
	err = rules_put(&s, ifindex, name, &port, &old);
out:
	fp_close(&s);
	return err;
}

void tf_fastpath_rule_format(const struct tf_fp_rule *r, char *buf, size_t len)
{
	switch (r->kind) {
	case TF_FP_RULE_ALL:
		snprintf(buf, len, "all");
		break;
	case TF_FP_RULE_ETHERTYPE:
		snprintf(buf, len, "ethertype 0x%04x", r->value);
		break;
	case TF_FP_RULE_IPPROTO:
		snprintf(buf, len, "ipproto %u", r->ipproto);
		break;
	case TF_FP_RULE_L4_DPORT:
		snprintf(buf, len, "%s dport %u", r->ipproto == IPPROTO_TCP ? "tcp" : "udp", r->value);
		break;
	default:
		snprintf(buf, len, "none");
	}
}

