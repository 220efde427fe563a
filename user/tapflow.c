// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tapflow: the command line. A thin table over libtapflow: each row names a
 * command and the function (in user/cli_<domain>.c) that parses its options
 * and calls the library. Commands match by unambiguous prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_cmds.h"
#include "log.h"

static const struct cli_cmd cmds[] = {
	/* taps */
	{ "create", cmd_create, "create a persistent multiqueue tap" },
	{ "delete", cmd_delete, "delete a tap tapflow created" },
	{ "list", cmd_list, "list the tun/tap devices of this network namespace" },
	{ "show", cmd_show, "show a tap: flags, queues, counters, what is attached" },
	/* tracing */
	{ "trace", cmd_trace, "start, stop or check per-queue tracing (trace start NAME...)" },
	{ "stats", cmd_stats, "cumulative per-queue counters of a traced tap" },
	{ "top", cmd_top, "live per-queue table of traced taps" },
	{ "hist", cmd_hist, "log2 histograms of a traced tap's queues" },
	/* export */
	{ "export", cmd_export, "serve the counters to Prometheus (/metrics) or a textfile" },
	/* fast path */
	{ "fastpath", cmd_fastpath, "XDP fast path of a tap: on, off, stats, AF_XDP rules" },
	{ "uplink", cmd_uplink, "add or remove an uplink of the fast path" },
	{ "fdb", cmd_fdb, "the fast path's MAC -> port entries: add, del, list" },
	{ "steer", cmd_steer, "steer the host's packets into a tap's queues" },
	{ "xsk-fwd", cmd_xsk_fwd, "forward between two taps through AF_XDP sockets" },
	{ "version", cmd_version, "print tapflow's version" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: tapflow [-v|-vv] COMMAND [options] [args]\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'tapflow COMMAND --help' shows a command's options.\n"
		   "-v shows progress, -vv adds libbpf's own messages.\n");
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("tapflow %s\n", tf_version());
	return 0;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *match = NULL;
	int verbose = 0, i = 1;
	size_t len;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v"))
			verbose++;
		else if (!strcmp(argv[i], "-vv"))
			verbose += 2;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			return cmd_version(0, NULL);
		} else {
			fprintf(stderr, "tapflow: unknown option '%s' (see tapflow --help)\n", argv[i]);
			return TF_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return TF_EXIT_USAGE;
	}
	tf_set_log_level(verbose >= 2 ? TF_LOG_LIBBPF : verbose == 1 ? TF_LOG_DEBUG : TF_LOG_WARN);
	tf_libbpf_quiet();

	len = strlen(argv[i]);
	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++) {
		if (!strcmp(cmds[c].name, argv[i])) {
			match = &cmds[c];
			break;
		}
		if (len && !strncmp(cmds[c].name, argv[i], len)) {
			if (match) {
				fprintf(stderr, "tapflow: '%s' is ambiguous (%s, %s, ...)\n",
					argv[i], match->name, cmds[c].name);
				return TF_EXIT_USAGE;
			}
			match = &cmds[c];
		}
	}
	if (!match) {
		fprintf(stderr, "tapflow: unknown command '%s' (see tapflow --help)\n", argv[i]);
		return TF_EXIT_USAGE;
	}
	return match->fn(argc - i, argv + i);
}
