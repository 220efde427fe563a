// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow steer: choose how the host's packets into a tap are spread over
 * its queues (TUNSETSTEERINGEBPF). Parsing only; user/steer.c does the work,
 * and says how many queues the tap has, which the queue numbers of --indir
 * and --rule are checked against. --rule is repeatable (CLI_LIST), and one
 * --rule may hold several rules separated by commas.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_cmds.h"
#include "log.h"

static const char *const modes[] = { "l3", "l4", "rss", "fixed", NULL };

struct steer_cfg {
	char name[TF_IFNAMSIZ];
	int mode;		/* index into modes[] */
	const char *key;
	const char *indir;
	struct cli_list rules;
	unsigned int default_queue;
	bool off;
};

static const struct cli_opt steer_opts[] = {
	CLI_OPT(struct steer_cfg, CLI_ENUM, mode, "mode", .short_name = 'm', .choices = modes,
		.metavar = "MODE",
		.help = "l3/l4: symmetric hash; rss: Toeplitz + indirection; fixed: rules"),
	CLI_OPT(struct steer_cfg, CLI_STR, key, "key", .metavar = "HEX",
		.help = "rss: 40-byte Toeplitz key (default: the Microsoft key)"),
	CLI_OPT(struct steer_cfg, CLI_STR, indir, "indir", .metavar = "Q,Q,...",
		.help = "rss: indirection table (default: 128 entries round-robin)"),
	CLI_OPT(struct steer_cfg, CLI_LIST, rules, "rule", .split = ',',
		.metavar = "PROTO:SRC:SPORT:DST:DPORT=Q",
		.help = "fixed: a flow and its queue; PROTO tcp|udp|ip"),
	CLI_OPT(struct steer_cfg, CLI_UINT, default_queue, "default-queue",
		.max = TF_MAX_QUEUES - 1, .metavar = "Q",
		.help = "queue for non-IP frames and unmatched flows (default 0)"),
	CLI_OPT(struct steer_cfg, CLI_FLAG, off, "off",
		.help = "remove the steering program (tun's automatic flow steering again)"),
	CLI_END
};

static int run_steer(void *p)
{
	struct steer_cfg *cfg = p;
	struct tf_steer_opts o = { 0 };
	struct tf_steer_rule_q *rules = NULL;
	unsigned int nq;
	int err, ret = TF_EXIT_USAGE;

	if (cfg->off) {
		if (cfg->mode >= 0 || cfg->key || cfg->indir || cfg->rules.n || cli_given("default-queue"))
			return cli_usage_error("--off takes no other option");
		err = tf_steer_off(cfg->name);
		return err ? cli_fail(err) : TF_EXIT_OK;
	}
	if (cfg->mode < 0)
		return cli_usage_error("give --mode l3|l4|rss|fixed, or --off");
	o.mode = TF_STEER_L3 + cfg->mode;
	if ((cfg->key || cfg->indir) && o.mode != TF_STEER_RSS)
		return cli_usage_error("--key and --indir are for --mode rss");
	if (cfg->rules.n && o.mode != TF_STEER_FIXED)
		return cli_usage_error("--rule is for --mode fixed");
	/* Queue numbers are checked against the tap, so look it up first. */
	err = tf_steer_queues(cfg->name, &nq);
	if (err)
		return cli_fail(err);
	if (cfg->key && tf_steer_parse_key(cfg->key, o.key))
		return cli_usage_error("%s", tf_errmsg());
	o.has_key = cfg->key;
	if (cfg->indir && tf_steer_parse_indir(cfg->indir, nq, o.indir, &o.indir_len))
		return cli_usage_error("%s", tf_errmsg());
	if (cfg->rules.n) {
		rules = calloc(cfg->rules.n, sizeof(*rules));
		if (!rules)
			return cli_usage_error("out of memory");
		for (size_t i = 0; i < cfg->rules.n; i++) {
			if (tf_steer_parse_rule(cfg->rules.v[i], nq, &rules[i])) {
				cli_usage_error("%s", tf_errmsg());
				goto out;
			}
		}
	}
	o.rules = rules;
	o.nrules = cfg->rules.n;
	o.default_queue = cfg->default_queue;
	err = tf_steer_set(cfg->name, &o);
	ret = err ? cli_fail(err) : TF_EXIT_OK;
out:
	free(rules);
	return ret;
}

const struct cli_cmd cli_steer = {
	.name = "steer",
	.summary = "steer the host's packets into a tap's queues",
	.doc = "Install a TUNSETSTEERINGEBPF program that picks the queue for each packet\n"
	       "the host sends into tap NAME, or remove it with --off. `tapflow show`\n"
	       "reports the active mode.",
	.opts = steer_opts,
	CLI_TAP_ARG(struct steer_cfg),
	CLI_CFG(struct steer_cfg, .mode = -1),
	.run = run_steer,
};
