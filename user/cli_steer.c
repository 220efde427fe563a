// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow steer: choose how the host's packets into a tap are spread over
 * its queues (TUNSETSTEERINGEBPF). Parsing only; user/steer.c does the work.
 * --rule may be given many times (or one --rule with rules separated by
 * commas): the option engine keeps one value per option, so the rules are
 * collected from argv here before it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_cmds.h"
#include "log.h"

static const char *const modes[] = { "l3", "l4", "rss", "fixed", NULL };

struct steer_cfg {
	int mode;		/* index into modes[] */
	const char *key;
	const char *indir;
	const char *rule;
	unsigned int default_queue;
	bool off;
};

static const struct cli_opt steer_opts[] = {
	{ .name = "mode", .short_name = 'm', .type = CLI_ENUM, .choices = modes,
	  .off = offsetof(struct steer_cfg, mode), .metavar = "MODE",
	  .help = "l3/l4: symmetric hash; rss: Toeplitz + indirection; fixed: rules" },
	{ .name = "key", .type = CLI_STR, .off = offsetof(struct steer_cfg, key),
	  .metavar = "HEX", .help = "rss: 40-byte Toeplitz key (default: the Microsoft key)" },
	{ .name = "indir", .type = CLI_STR, .off = offsetof(struct steer_cfg, indir),
	  .metavar = "Q,Q,...", .help = "rss: indirection table (default: 128 entries round-robin)" },
	{ .name = "rule", .type = CLI_STR, .off = offsetof(struct steer_cfg, rule),
	  .metavar = "PROTO:SRC:SPORT:DST:DPORT=Q",
	  .help = "fixed: a flow and its queue; PROTO tcp|udp|ip; repeatable" },
	{ .name = "default-queue", .type = CLI_UINT, .off = offsetof(struct steer_cfg, default_queue),
	  .max = TF_MAX_QUEUES - 1, .metavar = "Q",
	  .help = "queue for non-IP frames and unmatched flows (default 0)" },
	{ .name = "off", .type = CLI_FLAG, .off = offsetof(struct steer_cfg, off),
	  .help = "remove the steering program (tun's automatic flow steering again)" },
	{ 0 },
};

static const struct cli_spec steer_spec = {
	.name = "steer",
	.args = "NAME",
	.doc = "Install a TUNSETSTEERINGEBPF program that picks the queue for each packet\n"
	       "the host sends into tap NAME, or remove it with --off. `tapflow show`\n"
	       "reports the active mode.",
	.opts = steer_opts,
	.min_args = 1,
	.max_args = 1,
};

/* Every value of --rule (and --rule=...), each split at commas. */
static int collect_rules(int argc, char **argv, char ***out, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0;

	for (int i = 1; i < argc; i++) {
		const char *val = NULL;

		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--rule") && i + 1 < argc)
			val = argv[++i];
		else if (!strncmp(argv[i], "--rule=", 7))
			val = argv[i] + 7;
		if (!val)
			continue;
		for (const char *p = val;;) {
			size_t l = strcspn(p, ",");
			char **nv = realloc(v, (cnt + 1) * sizeof(*v));

			if (!nv)
				goto oom;
			v = nv;
			v[cnt] = strndup(p, l);
			if (!v[cnt])
				goto oom;
			cnt++;
			if (!p[l])
				break;
			p += l + 1;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
oom:
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	return -1;
}

int cmd_steer(int argc, char **argv)
{
	struct steer_cfg cfg = { .mode = -1 };
	struct tf_steer_opts o = { 0 };
	struct tf_steer_rule_q *rules = NULL;
	struct tf_tap_info info;
	struct cli_parsed p;
	char **rtext = NULL;
	size_t nr = 0;
	unsigned int nq;
	int err, ret;

	if (collect_rules(argc, argv, &rtext, &nr))
		return cli_usage_error(&steer_spec, "out of memory");
	ret = cli_parse(&steer_spec, argc, argv, &cfg, &p);
	if (ret) {
		ret = ret == 1 ? TF_EXIT_OK : ret;	/* 1: --help was printed */
		goto out_ret;
	}
	ret = TF_EXIT_USAGE;
	if (cfg.off) {
		if (cfg.mode >= 0 || cfg.key || cfg.indir || nr || cli_given(&steer_spec, &p, "default-queue")) {
			cli_usage_error(&steer_spec, "--off takes no other option");
			goto out;
		}
		err = tf_steer_off(p.argv[0]);
		ret = err ? cli_fail(&steer_spec, err) : TF_EXIT_OK;
		goto out;
	}
	if (cfg.mode < 0) {
		cli_usage_error(&steer_spec, "give --mode l3|l4|rss|fixed, or --off");
		goto out;
	}
	o.mode = TF_STEER_L3 + cfg.mode;
	if ((cfg.key || cfg.indir) && o.mode != TF_STEER_RSS) {
		cli_usage_error(&steer_spec, "--key and --indir are for --mode rss");
		goto out;
	}
	if (nr && o.mode != TF_STEER_FIXED) {
		cli_usage_error(&steer_spec, "--rule is for --mode fixed");
		goto out;
	}
	/* Queue numbers are checked against the tap, so look it up first. */
	err = tf_tap_get(p.argv[0], &info);
	if (err) {
		ret = cli_fail(&steer_spec, err);
		goto out;
	}
	nq = info.by_tapflow && info.conf.queues ? info.conf.queues : info.queues_attached;
	if (!nq)
		nq = TF_MAX_QUEUES;
	if (cfg.key && tf_steer_parse_key(cfg.key, o.key)) {
		cli_usage_error(&steer_spec, "%s", tf_errmsg());
		goto out;
	}
	o.has_key = cfg.key;
	if (cfg.indir && tf_steer_parse_indir(cfg.indir, nq, o.indir, &o.indir_len)) {
		cli_usage_error(&steer_spec, "%s", tf_errmsg());
		goto out;
	}
	if (nr) {
		rules = calloc(nr, sizeof(*rules));
		if (!rules) {
			cli_usage_error(&steer_spec, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < nr; i++) {
			if (tf_steer_parse_rule(rtext[i], nq, &rules[i])) {
				cli_usage_error(&steer_spec, "%s", tf_errmsg());
				goto out;
			}
		}
	}
	o.rules = rules;
	o.nrules = nr;
	o.default_queue = cfg.default_queue;
	err = tf_steer_set(p.argv[0], &o);
	ret = err ? cli_fail(&steer_spec, err) : TF_EXIT_OK;
out:
	free(rules);
out_ret:
	for (size_t i = 0; i < nr; i++)
		free(rtext[i]);
	free(rtext);
	return ret;
}
