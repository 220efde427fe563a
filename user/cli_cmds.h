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
/* export (cli_export.c) */
/* fast path (cli_fastpath.c) */

#endif
