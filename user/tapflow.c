// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow: the command line. A thin table over libtapflow: each row is a
 * command (user/cli_<domain>.c) that declares its options, positionals and
 * help; cli_dispatch() (user/cli_opts.c) finds the row, parses into the
 * command's cfg and runs it. Commands match by unambiguous prefix. The
 * global flags (-v, -vv, --help, --version) come before the command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_cmds.h"
#include "log.h"

static int run_version(void *cfg)
{
	(void)cfg;
	printf("tapflow %s\n", tf_version());
	return TF_EXIT_OK;
}

static const struct cli_cmd cli_version = {
	.name = "version",
	.summary = "print tapflow's version",
	.doc = "Print tapflow's version.",
	.run = run_version,
};

static const struct cli_cmd cli_root;

static const char *const shells[] = { "bash", NULL };

struct completion_cfg {
	int shell;
};

static const struct cli_opt completion_args[] = {
	CLI_ARG(struct completion_cfg, CLI_ENUM, shell, "SHELL", .choices = shells),
	CLI_END
};

static int run_completion(void *cfg)
{
	(void)cfg;	/* bash is the only choice */
	if (cli_complete_bash(&cli_root, stdout) || fflush(stdout))
		return cli_usage_error("writing to stdout failed");
	return TF_EXIT_OK;
}

static const struct cli_cmd cli_completion = {
	.name = "completion",
	.summary = "print a shell completion script (completion bash)",
	.doc = "Print a bash completion script for tapflow, generated from its command table:\n"
	       "commands, subcommands, options and their values, and the tun/tap devices\n"
	       "of this network namespace where a command takes a tap's name. Install with\n"
	       "  tapflow completion bash > /etc/bash_completion.d/tapflow",
	.args = completion_args,
	CLI_CFG(struct completion_cfg, 0),
	.run = run_completion,
};

static const struct cli_cmd *const commands[] = {
	/* taps */
	&cli_create, &cli_delete, &cli_list, &cli_show,
	/* tracing */
	&cli_trace, &cli_stats, &cli_top, &cli_hist,
	&cli_capture,
	/* export */
	&cli_export,
	/* fast path */
	&cli_fastpath, &cli_uplink, &cli_fdb, &cli_steer, &cli_xsk_fwd,
	&cli_version, &cli_completion,
	NULL
};

static const struct cli_cmd cli_root = { .name = "tapflow", .subs = commands };

int main(int argc, char **argv)
{
	int verbose = 0, i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v"))
			verbose++;
		else if (!strcmp(argv[i], "-vv"))
			verbose += 2;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			cli_help(&cli_root, "tapflow", stdout);
			return TF_EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			return run_version(NULL);
		} else {
			fprintf(stderr, "tapflow: unknown option '%s' (see tapflow --help)\n", argv[i]);
			return TF_EXIT_USAGE;
		}
	}
	tf_set_log_level(verbose >= 2 ? TF_LOG_LIBBPF : verbose == 1 ? TF_LOG_DEBUG : TF_LOG_WARN);
	tf_libbpf_quiet();
	/* argv[i - 1] stands for the root in the walk down the table. */
	return cli_dispatch(&cli_root, argc - i + 1, argv + i - 1);
}
