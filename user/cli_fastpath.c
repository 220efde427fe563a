// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow fastpath / uplink / fdb: the fast path commands, as rows of the
 * command table (cli.h). Each row's run function calls libtapflow
 * (user/fastpath*.c), where all policy lives, and prints.
 *
 *   tapflow fastpath on|off NAME          tf_fp_tap on a tap
 *   tapflow fastpath stats NAME [--json]  per-queue action counters
 *   tapflow fastpath rule add|del|list NAME [match]   AF_XDP rules
 *   tapflow uplink add|del DEV            tf_fp_uplink on a NIC or veth
 *   tapflow fdb add|del PORT MAC, fdb list [--json]
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_cmds.h"
#include "json.h"
#include "log.h"

/* ---- fastpath on / off -------------------------------------------------------- */

static int fastpath_on(void *p)
{
	struct cli_tap_cfg *cfg = p;
	bool changed, legacy = false;
	int err;

	err = tf_fastpath_enable(cfg->name, &changed, &legacy);
	if (err)
		return cli_fail(err);
	if (!changed)
		printf("%s: fast path already on; nothing changed\n", cfg->name);
	else
		printf("%s: fast path on (native XDP, libxdp %s)\n", cfg->name,
		       legacy ? "legacy mode: this kernel has no multi-program dispatcher"
			      : "multi-program dispatcher");
	return TF_EXIT_OK;
}

/* The end of a port command: its failure, or NAME and what became of it. */
static int port_said(int err, const char *name, const char *what)
{
	if (err)
		return cli_fail(err);
	printf("%s: %s\n", name, what);
	return TF_EXIT_OK;
}

static int fastpath_off(void *p)
{
	struct cli_tap_cfg *cfg = p;

	return port_said(tf_fastpath_disable(cfg->name), cfg->name, "fast path off");
}

static const struct cli_cmd on_cmd = {
	.name = "on",
	.summary = "attach the XDP fast path to a tap",
	.doc = "Attach the XDP fast path natively to the tapflow tap NAME: frames its backend\n"
	       "writes for another accelerated tap or an uplink go there without an skb;\n"
	       "the rest goes to the host stack as before. The guest's MAC is learned.",
	CLI_TAP_ARG(struct cli_tap_cfg),
	CLI_CFG(struct cli_tap_cfg, .json = false),
	.run = fastpath_on,
};

static const struct cli_cmd off_cmd = {
	.name = "off",
	.summary = "detach it and forget the tap's fdb entries, rules and counters",
	.doc = "Detach the fast path from NAME and forget its fdb entries, rules and\n"
	       "counters; with the last port gone, nothing is left in /sys/fs/bpf.",
	CLI_TAP_ARG(struct cli_tap_cfg),
	CLI_CFG(struct cli_tap_cfg, .json = false),
	.run = fastpath_off,
};

/* ---- fastpath stats ------------------------------------------------------------ */

static void json_q(struct tf_json *j, const char *key, const struct tf_fastpath_qstats *q,
		   bool with_queue)
{
	tf_json_obj_begin(j, key);
	if (with_queue && q->queue == TF_FP_QUEUE_OTHER)
		tf_json_str(j, "queue", "other");	/* queues past the port's rows */
	else if (with_queue)
		tf_json_u64(j, "queue", q->queue);
	for (int a = 0; a < TF_FP_ACT__MAX; a++) {
		char key[40];

		snprintf(key, sizeof(key), "%s_packets", tf_fastpath_action_name(a));
		tf_json_u64(j, key, q->packets[a]);
		snprintf(key, sizeof(key), "%s_bytes", tf_fastpath_action_name(a));
		tf_json_u64(j, key, q->bytes[a]);
	}
	tf_json_u64(j, "xsk_miss", q->xsk_miss);
	tf_json_u64(j, "learned", q->learned);
	tf_json_obj_end(j);
}

static void text_q(const char *label, const struct tf_fastpath_qstats *q)
{
	printf("%-6s", label);
	for (int a = 0; a < TF_FP_ACT__MAX; a++)
		printf(" %16" PRIu64, q->packets[a]);
	printf(" %10" PRIu64 " %8" PRIu64 "\n", q->xsk_miss, q->learned);
}

static int fastpath_stats(void *p)
{
	struct cli_tap_cfg *cfg = p;
	struct tf_fastpath_qstats *qs, total;
	size_t n;
	int err;

	err = tf_fastpath_stats(cfg->name, &qs, &n, &total);
	if (err)
		return cli_fail(err);
	if (cfg->json) {
		struct tf_json j;

		tf_json_init(&j, stdout);
		tf_json_obj_begin(&j, NULL);
		tf_json_str(&j, "dev", cfg->name);
		tf_json_arr_begin(&j, "queues");
		for (size_t i = 0; i < n; i++)
			json_q(&j, NULL, &qs[i], true);
		tf_json_arr_end(&j);
		json_q(&j, "total", &total, false);
		tf_json_obj_end(&j);
		tf_json_end(&j);
	} else {
		printf("%s: packets per action (pass = host stack)\n%-6s", cfg->name, "queue");
		for (int a = 0; a < TF_FP_ACT__MAX; a++)
			printf(" %16s", tf_fastpath_action_name(a));
		printf(" %10s %8s\n", "xsk_miss", "learned");
		for (size_t i = 0; i < n; i++) {
			char label[12];

			if (qs[i].queue == TF_FP_QUEUE_OTHER)
				snprintf(label, sizeof(label), "other");
			else
				snprintf(label, sizeof(label), "%u", qs[i].queue);
			text_q(label, &qs[i]);
		}
		text_q("total", &total);
	}
	free(qs);
	return TF_EXIT_OK;
}

static const struct cli_cmd stats_cmd = {
	.name = "stats",
	.summary = "per-queue counters of what the fast path did",
	.doc = "Per-queue counters of what the fast path did with the frames NAME's backend\n"
	       "wrote (or, for an uplink, that it received): redirected to a tap or an\n"
	       "uplink, handed to an AF_XDP socket, passed to the host stack, dropped.\n"
	       "xsk_miss: matched an AF_XDP rule with no socket on that queue.",
	.opts = cli_tap_json_opts,
	CLI_TAP_ARG(struct cli_tap_cfg),
	CLI_CFG(struct cli_tap_cfg, .json = false),
	.run = fastpath_stats,
};

/* ---- fastpath rule ------------------------------------------------------------- */

struct rule_cfg {
	char name[TF_IFNAMSIZ];
	bool all;
	const char *ethertype;
	const char *ipproto;
	unsigned int udp_dport;
	unsigned int tcp_dport;
};

static const struct cli_opt rule_opts[] = {
	CLI_OPT(struct rule_cfg, CLI_FLAG, all, "all", .help = "every frame of the tap"),
	CLI_OPT(struct rule_cfg, CLI_STR, ethertype, "ethertype", .metavar = "TYPE",
		.help = "EtherType, e.g. 0x0806 (after one VLAN tag)"),
	CLI_OPT(struct rule_cfg, CLI_STR, ipproto, "ipproto", .metavar = "PROTO",
		.help = "IP protocol: udp, tcp, icmp or a number"),
	CLI_OPT(struct rule_cfg, CLI_UINT, udp_dport, "udp-dport", .metavar = "PORT",
		.help = "UDP destination port", .min = 0, .max = 65535),
	CLI_OPT(struct rule_cfg, CLI_UINT, tcp_dport, "tcp-dport", .metavar = "PORT",
		.help = "TCP destination port", .min = 0, .max = 65535),
	CLI_END
};

#define RULE_ONE_OF "give one of --all, --ethertype, --ipproto, --udp-dport, --tcp-dport"

/* The rule the options give: 0, -1 when none is given, or an exit code. */
static int rule_from_cfg(const struct rule_cfg *cfg, struct tf_fp_rule *r)
{
	int given = cfg->all + !!cfg->ethertype + !!cfg->ipproto +
		    cli_given("udp-dport") + cli_given("tcp-dport");
	char *end;

	memset(r, 0, sizeof(*r));
	if (given != 1)
		return given ? cli_usage_error(RULE_ONE_OF) : -1;
	if (cfg->all) {
		r->kind = TF_FP_RULE_ALL;
	} else if (cfg->ethertype) {
		unsigned long v = strtoul(cfg->ethertype, &end, 0);

		if (!*cfg->ethertype || *end || v < 0x600 || v > 0xffff)
			return cli_usage_error("--ethertype: '%s' is not an EtherType (0x0600 to 0xffff)",
					       cfg->ethertype);
		r->kind = TF_FP_RULE_ETHERTYPE;
		r->value = v;
	} else if (cfg->ipproto) {
		unsigned long v;

		if (!strcmp(cfg->ipproto, "udp"))
			v = IPPROTO_UDP;
		else if (!strcmp(cfg->ipproto, "tcp"))
			v = IPPROTO_TCP;
		else if (!strcmp(cfg->ipproto, "icmp"))
			v = IPPROTO_ICMP;
		else if (tf_parse_uint(cfg->ipproto, "--ipproto", 0, 255, &v))
			return cli_usage_error("--ipproto: '%s' is not udp, tcp, icmp or 0 to 255",
					       cfg->ipproto);
		r->kind = TF_FP_RULE_IPPROTO;
		r->ipproto = v;
	} else {
		bool udp = cli_given("udp-dport");

		r->kind = TF_FP_RULE_L4_DPORT;
		r->ipproto = udp ? IPPROTO_UDP : IPPROTO_TCP;
		r->value = udp ? cfg->udp_dport : cfg->tcp_dport;
	}
	return 0;
}

/* rule add and del: the rule the options give; del without one takes every rule of NAME. */
static int rule_change(void *p, bool add)
{
	struct rule_cfg *cfg = p;
	struct tf_fp_rule r;
	int rc, err;

	rc = rule_from_cfg(cfg, &r);
	if (rc > 0)
		return rc;
	if (rc < 0 && add)
		return cli_usage_error(RULE_ONE_OF);
	err = add ? tf_fastpath_rule_add(cfg->name, &r)
		  : tf_fastpath_rule_del(cfg->name, rc < 0 ? NULL : &r);
	return err ? cli_fail(err) : TF_EXIT_OK;
}

static int rule_add(void *p)
{
	return rule_change(p, true);
}

static int rule_del(void *p)
{
	return rule_change(p, false);
}

static int rule_list(void *p)
{
	struct rule_cfg *cfg = p;
	struct tf_fp_rule rules[TF_FP_MAX_RULES];
	char buf[64];
	size_t n;
	int err;

	err = tf_fastpath_rule_list(cfg->name, rules, &n);
	if (err)
		return cli_fail(err);
	for (size_t i = 0; i < n; i++) {
		tf_fastpath_rule_format(&rules[i], buf, sizeof(buf));
		printf("%s\n", buf);
	}
	return TF_EXIT_OK;
}

static const struct cli_cmd rule_add_cmd = {
	.name = "add",
	.summary = "send matching frames to the queue's AF_XDP socket",
	.doc = "Send the frames of tap NAME that match (exactly one of the options) to the\n"
	       "AF_XDP socket of the queue they arrive on (XSKMAP key: the port's row + queue).\n"
	       "Without a socket there, they take the normal fast path.",
	.opts = rule_opts,
	CLI_TAP_ARG(struct rule_cfg),
	CLI_CFG(struct rule_cfg, .all = false),
	.run = rule_add,
};

static const struct cli_cmd rule_del_cmd = {
	.name = "del",
	.summary = "remove a rule, or every rule of the tap",
	.doc = "Remove the rule given by the options, or every rule of NAME without any.",
	.opts = rule_opts,
	CLI_TAP_ARG(struct rule_cfg),
	CLI_CFG(struct rule_cfg, .all = false),
	.run = rule_del,
};

static const struct cli_cmd rule_list_cmd = {
	.name = "list",
	.summary = "list the tap's AF_XDP rules",
	.doc = "List NAME's AF_XDP rules.",
	CLI_TAP_ARG(struct rule_cfg),
	CLI_CFG(struct rule_cfg, .all = false),
	.run = rule_list,
};

static const struct cli_cmd rule_cmd = {
	.name = "rule",
	.summary = "AF_XDP rules of a tap: add, del, list",
	.subs = (const struct cli_cmd *const[]){ &rule_add_cmd, &rule_del_cmd, &rule_list_cmd, NULL },
};

const struct cli_cmd cli_fastpath = {
	.name = "fastpath",
	.summary = "XDP fast path of a tap: on, off, stats, AF_XDP rules",
	.subs = (const struct cli_cmd *const[]){ &on_cmd, &off_cmd, &stats_cmd, &rule_cmd, NULL },
};

/* ---- uplink -------------------------------------------------------------------- */

struct uplink_cfg {
	char name[TF_IFNAMSIZ];
	bool native_only;
};

static const struct cli_opt uplink_args[] = {
	CLI_ARG(struct uplink_cfg, CLI_IFNAME, name, "DEV", .devs = CLI_DEVS_ANY),
	CLI_END
};

static const struct cli_opt uplink_opts[] = {
	CLI_OPT(struct uplink_cfg, CLI_FLAG, native_only, "native-only",
		.help = "fail rather than fall back to skb (generic) mode"),
	CLI_END
};

static int uplink_add(void *p)
{
	struct uplink_cfg *cfg = p;
	enum tf_xdp_mode mode;
	int err;

	err = tf_uplink_add(cfg->name, !cfg->native_only, &mode);
	if (err)
		return cli_fail(err);
	printf("%s: uplink (%s XDP)\n", cfg->name, mode == TF_XDP_NATIVE ? "native" : "skb/generic");
	return TF_EXIT_OK;
}

static int uplink_del(void *p)
{
	struct uplink_cfg *cfg = p;

	return port_said(tf_uplink_del(cfg->name), cfg->name, "uplink removed");
}

static const struct cli_cmd uplink_add_cmd = {
	.name = "add",
	.summary = "put the uplink XDP program on a NIC or veth",
	.doc = "Put the uplink XDP program on DEV (a NIC or veth; native mode, else skb mode\n"
	       "with a warning): frames for an accelerated tap's MAC go straight into that\n"
	       "tap. Frames from taps reach DEV through static fdb entries (tapflow fdb add\n"
	       "DEV MAC). A veth takes redirected frames only when its peer has GRO on or an\n"
	       "XDP program.",
	.opts = uplink_opts,
	.args = uplink_args,
	CLI_CFG(struct uplink_cfg, .native_only = false),
	.run = uplink_add,
};

static const struct cli_cmd uplink_del_cmd = {
	.name = "del",
	.summary = "detach the uplink program and forget its fdb entries",
	.doc = "Detach the uplink program from DEV and forget its fdb entries.",
	.args = uplink_args,
	CLI_CFG(struct uplink_cfg, .native_only = false),
	.run = uplink_del,
};

const struct cli_cmd cli_uplink = {
	.name = "uplink",
	.summary = "add or remove an uplink of the fast path",
	.subs = (const struct cli_cmd *const[]){ &uplink_add_cmd, &uplink_del_cmd, NULL },
};

/* ---- fdb ----------------------------------------------------------------------- */

struct fdb_cfg {
	char port[TF_IFNAMSIZ];
	uint8_t mac[6];
	bool json;
};

static const struct cli_opt fdb_args[] = {
	CLI_ARG(struct fdb_cfg, CLI_IFNAME, port, "PORT", .devs = CLI_DEVS_ANY),
	CLI_ARG(struct fdb_cfg, CLI_MAC, mac, "MAC"),
	CLI_END
};

static const struct cli_opt fdb_list_opts[] = {
	CLI_OPT(struct fdb_cfg, CLI_FLAG, json, "json", .short_name = 'j', .help = "print JSON"),
	CLI_END
};

static const char *fdb_kind(uint32_t flags)
{
	return flags & TF_FP_FDB_STATIC ? "static" : flags & TF_FP_FDB_LEARNED ? "learned" : "?";
}

static int fdb_list(void *p)
{
	struct fdb_cfg *cfg = p;
	struct tf_fdb_entry *e;
	size_t n;
	int err;

	err = tf_fdb_list(&e, &n);
	if (err)
		return cli_fail(err);
	if (cfg->json) {		struct tf_json j;

		tf_json_init(&j, stdout);
		tf_json_arr_begin(&j, NULL);
		for (size_t i = 0; i < n; i++) {
			char m[TF_MAC_STRLEN];

			tf_json_obj_begin(&j, NULL);
			tf_json_str(&j, "mac", tf_mac_format(e[i].mac, m));
			tf_json_str(&j, "port", e[i].port);
			tf_json_u64(&j, "ifindex", e[i].ifindex);
			tf_json_str(&j, "type", fdb_kind(e[i].flags));
			tf_json_bool(&j, "uplink", e[i].flags & TF_FP_FDB_UPLINK);
			tf_json_obj_end(&j);
		}
		tf_json_arr_end(&j);
		tf_json_end(&j);
	} else {
		char m[TF_MAC_STRLEN];

		printf("%-17s  %-15s  %s\n", "mac", "port", "type");
		for (size_t i = 0; i < n; i++)
			printf("%s  %-15s  %s%s\n", tf_mac_format(e[i].mac, m),
			       e[i].port[0] ? e[i].port : "?", fdb_kind(e[i].flags),
			       e[i].flags & TF_FP_FDB_UPLINK ? " (uplink)" : "");
	}
	free(e);
	return TF_EXIT_OK;
}

/* fdb add and del: one library call on PORT and MAC. */
static int fdb_change(void *p, int (*op)(const char *port, const uint8_t mac[6]))
{
	struct fdb_cfg *cfg = p;
	int err = op(cfg->port, cfg->mac);

	return err ? cli_fail(err) : TF_EXIT_OK;
}

static int fdb_add(void *p)
{
	return fdb_change(p, tf_fdb_add);
}

static int fdb_del(void *p)
{
	return fdb_change(p, tf_fdb_del);
}

static const struct cli_cmd fdb_add_cmd = {
	.name = "add",
	.summary = "add a static MAC -> port entry",
	.doc = "Add a static entry: frames for MAC go to PORT (an accelerated tap or an\n"
	       "uplink). It replaces a learned entry and is never relearned.",
	.args = fdb_args,
	CLI_CFG(struct fdb_cfg, .json = false),
	.run = fdb_add,
};

static const struct cli_cmd fdb_del_cmd = {
	.name = "del",
	.summary = "remove MAC's entry on PORT",
	.doc = "Remove MAC's entry on PORT (static or learned).",
	.args = fdb_args,
	CLI_CFG(struct fdb_cfg, .json = false),
	.run = fdb_del,
};

static const struct cli_cmd fdb_list_cmd = {
	.name = "list",
	.summary = "list the fast path's MAC -> port entries",
	.doc = "List the fast path's MAC -> port entries.",
	.opts = fdb_list_opts,
	CLI_CFG(struct fdb_cfg, .json = false),
	.run = fdb_list,
};

const struct cli_cmd cli_fdb = {
	.name = "fdb",
	.summary = "the fast path's MAC -> port entries: add, del, list",
	.subs = (const struct cli_cmd *const[]){ &fdb_add_cmd, &fdb_del_cmd, &fdb_list_cmd, NULL },
};
