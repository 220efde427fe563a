// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow fastpath / uplink / fdb: the fast path commands. Each parses its
 * options with the option engine and calls libtapflow (user/fastpath.c),
 * where all policy lives.
 *
 *   tapflow fastpath on|off NAME          tf_fp_tap on a tap
 *   tapflow fastpath stats NAME [--json]  per-queue action counters
 *   tapflow fastpath rule add|del|list NAME [match]   AF_XDP rules
 *   tapflow uplink add|del DEV            tf_fp_uplink on a NIC or veth
 *   tapflow fdb add|del PORT MAC, fdb list [--json]
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_cmds.h"
#include "json.h"
#include "log.h"

static int no_sub(const char *cmd, const char *sub, const char *subs)
{
	fprintf(stderr, "tapflow %s: unknown subcommand '%s' (%s)\n", cmd, sub, subs);
	return TF_EXIT_USAGE;
}

/*
 * Exit status of a failed attach, after cli_fail() printed it (its status
 * is rc): what the user can fix keeps cli_fail's; the kernel refusing the
 * object or the program is TF_EXIT_BPF.
 */
int fastpath_exit(int rc, int err)
{
	if (err == -EINVAL || err == -ENODEV || err == -EEXIST || err == -EBUSY || err == -EPERM)
		return rc;
	return TF_EXIT_BPF;
}

/* ---- fastpath on / off -------------------------------------------------------- */

static const struct cli_opt none_opts[] = { { 0 } };

static const struct cli_spec on_spec = {
	"fastpath on", "NAME",
	"Attach the XDP fast path natively to the tapflow tap NAME: frames its backend\n"
	"writes for another accelerated tap or an uplink go there without an skb;\n"
	"the rest goes to the host stack as before. The guest's MAC is learned.",
	none_opts, 1, 1,
};

static const struct cli_spec off_spec = {
	"fastpath off", "NAME",
	"Detach the fast path from NAME and forget its fdb entries, rules and\n"
	"counters; with the last port gone, nothing is left in /sys/fs/bpf.",
	none_opts, 1, 1,
};

static int fastpath_on(int argc, char **argv)
{
	char name[TF_IFNAMSIZ];
	bool changed, legacy = false;
	struct cli_parsed p;
	int err;

	err = cli_parse(&on_spec, argc, argv, NULL, &p);
	if (err)
		return err == 1 ? TF_EXIT_OK : err;
	if (cli_parse_ifname(&on_spec, p.argv[0], name))
		return TF_EXIT_USAGE;
	err = tf_fastpath_enable(name, &changed, &legacy);
	if (err)
		return fastpath_exit(cli_fail(&on_spec, err), err);
	if (!changed)
		printf("%s: fast path already on; nothing changed\n", name);
	else
		printf("%s: fast path on (native XDP, libxdp %s)\n", name,
		       legacy ? "legacy mode: this kernel has no multi-program dispatcher"
			      : "multi-program dispatcher");
	return TF_EXIT_OK;
}

static int fastpath_off(int argc, char **argv)
{
	char name[TF_IFNAMSIZ];
	struct cli_parsed p;
	int err;

	err = cli_parse(&off_spec, argc, argv, NULL, &p);
	if (err)
		return err == 1 ? TF_EXIT_OK : err;
	if (cli_parse_ifname(&off_spec, p.argv[0], name))
		return TF_EXIT_USAGE;
	err = tf_fastpath_disable(name);
	if (err)
		return cli_fail(&off_spec, err);
	printf("%s: fast path off\n", name);
	return TF_EXIT_OK;
}

/* ---- fastpath stats ------------------------------------------------------------ */

struct json_cfg {
	bool json;
};

static const struct cli_opt json_opts[] = {
	{ "json", 'j', CLI_FLAG, offsetof(struct json_cfg, json), NULL, "print JSON", 0, 0, 0, 0, NULL },
	{ 0 }
};

static const struct cli_spec stats_spec = {
	"fastpath stats", "NAME",
	"Per-queue counters of what the fast path did with the frames NAME's backend\n"
	"wrote (or, for an uplink, that it received): redirected to a tap or an\n"
	"uplink, handed to an AF_XDP socket, passed to the host stack, dropped.\n"
	"xsk_miss: matched an AF_XDP rule with no socket on that queue.",
	json_opts, 1, 1,
};

static void json_q(struct tf_json *j, const char *key, const struct tf_fastpath_qstats *q,
		   bool with_queue)
{
	tf_json_obj_begin(j, key);
	if (with_queue)
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

static int fastpath_stats(int argc, char **argv)
{
	struct tf_fastpath_qstats *qs, total;
	struct json_cfg cfg = { 0 };
	char name[TF_IFNAMSIZ];
	struct cli_parsed p;
	size_t n;
	int err;

	err = cli_parse(&stats_spec, argc, argv, &cfg, &p);
	if (err)
		return err == 1 ? TF_EXIT_OK : err;
	if (cli_parse_ifname(&stats_spec, p.argv[0], name))
		return TF_EXIT_USAGE;
	err = tf_fastpath_stats(name, &qs, &n, &total);
	if (err)
		return cli_fail(&stats_spec, err);
	if (cfg.json) {
		struct tf_json j;

		tf_json_init(&j, stdout);
		tf_json_obj_begin(&j, NULL);
		tf_json_str(&j, "dev", name);
		tf_json_arr_begin(&j, "queues");
		for (size_t i = 0; i < n; i++)
			json_q(&j, NULL, &qs[i], true);
		tf_json_arr_end(&j);
		json_q(&j, "total", &total, false);
		tf_json_obj_end(&j);
		tf_json_end(&j);
	} else {
		printf("%s: packets per action (pass = host stack)\n%-6s", name, "queue");
		for (int a = 0; a < TF_FP_ACT__MAX; a++)
			printf(" %16s", tf_fastpath_action_name(a));
		printf(" %10s %8s\n", "xsk_miss", "learned");
		for (size_t i = 0; i < n; i++) {
			char label[8];

			snprintf(label, sizeof(label), "%u", qs[i].queue);
			text_q(label, &qs[i]);
		}
		text_q("total", &total);
	}
	free(qs);
	return TF_EXIT_OK;
}

/* ---- fastpath rule ------------------------------------------------------------- */

struct rule_cfg {
	bool all;
	const char *ethertype;
	const char *ipproto;
	unsigned int udp_dport;
	unsigned int tcp_dport;
};

static const struct cli_opt rule_opts[] = {
	{ "all", 0, CLI_FLAG, offsetof(struct rule_cfg, all), NULL,
	  "every frame of the tap", 0, 0, 0, 0, NULL },
	{ "ethertype", 0, CLI_STR, offsetof(struct rule_cfg, ethertype), "TYPE",
	  "EtherType, e.g. 0x0806 (after one VLAN tag)", 0, 0, 0, 0, NULL },
	{ "ipproto", 0, CLI_STR, offsetof(struct rule_cfg, ipproto), "PROTO",
	  "IP protocol: udp, tcp, icmp or a number", 0, 0, 0, 0, NULL },
	{ "udp-dport", 0, CLI_UINT, offsetof(struct rule_cfg, udp_dport), "PORT",
	  "UDP destination port", 0, 65535, 0, 0, NULL },
	{ "tcp-dport", 0, CLI_UINT, offsetof(struct rule_cfg, tcp_dport), "PORT",
	  "TCP destination port", 0, 65535, 0, 0, NULL },
	{ 0 }
};

static const struct cli_spec rule_add_spec = {
	"fastpath rule add", "NAME",
	"Send the frames of tap NAME that match (exactly one of the options) to the\n"
	"AF_XDP socket of the queue they arrive on (XSKMAP slot slot*256+queue).\n"
	"Without a socket there, they take the normal fast path.",
	rule_opts, 1, 1,
};

static const struct cli_spec rule_del_spec = {
	"fastpath rule del", "NAME",
	"Remove the rule given by the options, or every rule of NAME without any.",
	rule_opts, 1, 1,
};

static const struct cli_spec rule_list_spec = {
	"fastpath rule list", "NAME", "List NAME's AF_XDP rules.", none_opts, 1, 1,
};

static int rule_from_cfg(const struct cli_spec *spec, const struct cli_parsed *p,
			 const struct rule_cfg *cfg, struct tf_fp_rule *r)
{
	int given = cfg->all + !!cfg->ethertype + !!cfg->ipproto +
		    cli_given(spec, p, "udp-dport") + cli_given(spec, p, "tcp-dport");
	char *end;

	memset(r, 0, sizeof(*r));
	if (given != 1)
		return given ? cli_usage_error(spec, "give one of --all, --ethertype, --ipproto, --udp-dport, --tcp-dport")
			     : -1;
	if (cfg->all) {
		r->kind = TF_FP_RULE_ALL;
	} else if (cfg->ethertype) {
		unsigned long v = strtoul(cfg->ethertype, &end, 0);

		if (!*cfg->ethertype || *end || v < 0x600 || v > 0xffff)
			return cli_usage_error(spec, "--ethertype: '%s' is not an EtherType (0x0600 to 0xffff)",
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
			return cli_usage_error(spec, "--ipproto: '%s' is not udp, tcp, icmp or 0 to 255",
					       cfg->ipproto);
		r->kind = TF_FP_RULE_IPPROTO;
		r->ipproto = v;
	} else {
		bool udp = cli_given(spec, p, "udp-dport");

		r->kind = TF_FP_RULE_L4_DPORT;
		r->ipproto = udp ? IPPROTO_UDP : IPPROTO_TCP;
		r->value = udp ? cfg->udp_dport : cfg->tcp_dport;
	}
	return 0;
}

static int fastpath_rule(int argc, char **argv)
{
	const struct cli_spec *spec;
	struct rule_cfg cfg = { 0 };
	char name[TF_IFNAMSIZ];
	struct cli_parsed p;
	struct tf_fp_rule r;
	int err, rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
			"Usage: tapflow fastpath rule add|del|list NAME [match]\n"
			"(tapflow fastpath rule add --help lists the matches)\n");
		return argc < 2 ? TF_EXIT_USAGE : TF_EXIT_OK;
	}
	if (!strcmp(argv[1], "add"))
		spec = &rule_add_spec;
	else if (!strcmp(argv[1], "del"))
		spec = &rule_del_spec;
	else if (!strcmp(argv[1], "list"))
		spec = &rule_list_spec;
	else
		return no_sub("fastpath rule", argv[1], "add, del, list");
	err = cli_parse(spec, argc - 1, argv + 1, &cfg, &p);
	if (err)
		return err == 1 ? TF_EXIT_OK : err;
	if (cli_parse_ifname(spec, p.argv[0], name))
		return TF_EXIT_USAGE;
	if (spec == &rule_list_spec) {
		struct tf_fp_port port;
		char buf[64];
		int ifindex = 0;

		err = tf_ifindex(name, &ifindex);
		if (!err && !tf_fastpath_is_port(ifindex, &port))
			err = tf_err(-ENOENT, "'%s' is not a fast path port", name);
		if (err)
			return cli_fail(spec, err);
		for (__u32 i = 0; i < port.nrules && i < TF_FP_MAX_RULES; i++) {
			tf_fastpath_rule_format(&port.rules[i], buf, sizeof(buf));
			printf("%s\n", buf);
		}
		return TF_EXIT_OK;
	}
	rc = rule_from_cfg(spec, &p, &cfg, &r);
	if (rc > 0)
		return rc;
	if (spec == &rule_add_spec) {
		if (rc < 0)
			return cli_usage_error(spec, "give one of --all, --ethertype, --ipproto, --udp-dport, --tcp-dport");
		err = tf_fastpath_rule_add(name, &r);
	} else {
		err = tf_fastpath_rule_del(name, rc < 0 ? NULL : &r);
	}
	if (err)
		return cli_fail(spec, err);
	return TF_EXIT_OK;
}

int cmd_fastpath(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
			"Usage: tapflow fastpath on|off NAME\n"
			"       tapflow fastpath stats NAME [--json]\n"
			"       tapflow fastpath rule add|del|list NAME [--all|--ethertype T|--ipproto P|--udp-dport N|--tcp-dport N]\n");
		return argc < 2 ? TF_EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "on"))
		return fastpath_on(argc - 1, argv + 1);
	if (!strcmp(argv[1], "off"))
		return fastpath_off(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return fastpath_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "rule"))
		return fastpath_rule(argc - 1, argv + 1);
	return no_sub("fastpath", argv[1], "on, off, stats, rule");
}

/* ---- uplink -------------------------------------------------------------------- */

struct uplink_cfg {
	bool native_only;
};

static const struct cli_opt uplink_opts[] = {
	{ "native-only", 0, CLI_FLAG, offsetof(struct uplink_cfg, native_only), NULL,
	  "fail rather than fall back to skb (generic) mode", 0, 0, 0, 0, NULL },
	{ 0 }
};

static const struct cli_spec uplink_add_spec = {
	"uplink add", "DEV",
	"Put the uplink XDP program on DEV (a NIC or veth; native mode, else skb mode\n"
	"with a warning): frames for an accelerated tap's MAC go straight into that\n"
	"tap. Frames from taps reach DEV through static fdb entries (tapflow fdb add\n"
	"DEV MAC). A veth takes redirected frames only when its peer has GRO on or an\n"
	"XDP program.",
	uplink_opts, 1, 1,
};

static const struct cli_spec uplink_del_spec = {
	"uplink del", "DEV", "Detach the uplink program from DEV and forget its fdb entries.",
	none_opts, 1, 1,
};

int cmd_uplink(int argc, char **argv)
{
	struct uplink_cfg cfg = { 0 };
	const struct cli_spec *spec;
	char name[TF_IFNAMSIZ];
	enum tf_xdp_mode mode;
	struct cli_parsed p;
	int err;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout, "Usage: tapflow uplink add|del DEV\n");
		return argc < 2 ? TF_EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "add"))
		spec = &uplink_add_spec;
	else if (!strcmp(argv[1], "del"))
		spec = &uplink_del_spec;
	else
		return no_sub("uplink", argv[1], "add, del");
	err = cli_parse(spec, argc - 1, argv + 1, &cfg, &p);
	if (err)
		return err == 1 ? TF_EXIT_OK : err;
	if (cli_parse_ifname(spec, p.argv[0], name))
		return TF_EXIT_USAGE;
	if (spec == &uplink_del_spec) {
		err = tf_uplink_del(name);
		if (err)
			return cli_fail(spec, err);
		printf("%s: uplink removed\n", name);
		return TF_EXIT_OK;
	}
	err = tf_uplink_add(name, !cfg.native_only, &mode);
	if (err)
		return fastpath_exit(cli_fail(spec, err), err);
	printf("%s: uplink (%s XDP)\n", name, mode == TF_XDP_NATIVE ? "native" : "skb/generic");
	return TF_EXIT_OK;
}

/* ---- fdb ----------------------------------------------------------------------- */

static const struct cli_spec fdb_add_spec = {
	"fdb add", "PORT MAC",
	"Add a static entry: frames for MAC go to PORT (an accelerated tap or an\n"
	"uplink). It replaces a learned entry and is never relearned.",
	none_opts, 2, 2,
};

static const struct cli_spec fdb_del_spec = {
	"fdb del", "PORT MAC", "Remove MAC's entry on PORT (static or learned).",
	none_opts, 2, 2,
};

static const struct cli_spec fdb_list_spec = {
	"fdb list", NULL, "List the fast path's MAC -> port entries.", json_opts, 0, 0,
};

static const char *fdb_kind(uint32_t flags)
{
	return flags & TF_FP_FDB_STATIC ? "static" : flags & TF_FP_FDB_LEARNED ? "learned" : "?";
}

static int fdb_list(int argc, char **argv)
{
	struct json_cfg cfg = { 0 };
	struct tf_fdb_entry *e;
	struct cli_parsed p;
	size_t n;
	int err;

	err = cli_parse(&fdb_list_spec, argc, argv, &cfg, &p);
	if (err)
		return err == 1 ? TF_EXIT_OK : err;
	err = tf_fdb_list(&e, &n);
	if (err)
		return cli_fail(&fdb_list_spec, err);
	if (cfg.json) {
		struct tf_json j;

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

int cmd_fdb(int argc, char **argv)
{
	const struct cli_spec *spec;
	char name[TF_IFNAMSIZ];
	struct cli_parsed p;
	uint8_t mac[6];
	int err;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
			"Usage: tapflow fdb add|del PORT MAC\n       tapflow fdb list [--json]\n");
		return argc < 2 ? TF_EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "list"))
		return fdb_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "add"))
		spec = &fdb_add_spec;
	else if (!strcmp(argv[1], "del"))
		spec = &fdb_del_spec;
	else
		return no_sub("fdb", argv[1], "add, del, list");
	err = cli_parse(spec, argc - 1, argv + 1, NULL, &p);
	if (err)
		return err == 1 ? TF_EXIT_OK : err;
	if (cli_parse_ifname(spec, p.argv[0], name))
		return TF_EXIT_USAGE;
	if (tf_parse_mac(p.argv[1], mac))
		return cli_usage_error(spec, "%s", tf_errmsg());
	err = spec == &fdb_add_spec ? tf_fdb_add(name, mac) : tf_fdb_del(name, mac);
	if (err)
		return cli_fail(spec, err);
	return TF_EXIT_OK;
}
