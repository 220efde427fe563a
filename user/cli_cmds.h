/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Entry points of the CLI commands, one per row of tapflow.c's table. */
#ifndef TF_CLI_CMDS_H
#define TF_CLI_CMDS_H

int cmd_version(int argc, char **argv);
/* taps (cli_tap.c) */
int cmd_create(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
/* tracing (cli_trace.c) */
int cmd_trace(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_hist(int argc, char **argv);
/* export (cli_export.c) */
int cmd_export(int argc, char **argv);
/* fast path (cli_fastpath.c) */
int cmd_fastpath(int argc, char **argv);
int cmd_uplink(int argc, char **argv);
int cmd_fdb(int argc, char **argv);
/* exit status of a failed fast path attach; rc is cli_fail()'s */
int fastpath_exit(int rc, int err);
/* steering, AF_XDP (cli_steer.c, cli_xsk.c) */
int cmd_steer(int argc, char **argv);
int cmd_xsk_fwd(int argc, char **argv);

#endif
