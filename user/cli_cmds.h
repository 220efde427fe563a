/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The CLI's commands, each a row (struct cli_cmd) defined next to its code in
 * user/cli_<domain>.c and listed, in help order, in tapflow.c's table.
 */
#ifndef TF_CLI_CMDS_H
#define TF_CLI_CMDS_H

#include "cli.h"

/* taps (cli_tap.c) */
extern const struct cli_cmd cli_create, cli_delete, cli_list, cli_show;
/*
 * The cfg of a command on one tap NAME that may print JSON (show, list,
 * stats, fastpath on|off|stats), with its --json option and its NAME
 * positional, declared once (cli_tap.c).
 */
struct cli_tap_cfg {
	char name[TF_IFNAMSIZ];
	bool json;
};
extern const struct cli_opt cli_tap_json_opts[], cli_tap_name_arg[];
/*
 * A command row's positionals when they are one tap NAME: cli_tap_name_arg,
 * which any cfg struct T starting with char name[TF_IFNAMSIZ] (as struct
 * cli_tap_cfg does) can take; the row refuses to compile for a T that does
 * not.
 */
#define CLI_TAP_ARG(T)	.args = cli_tap_name_arg + CLI__NAME_FIRST_OK(T)
#define CLI__NAME_FIRST_OK(T)							\
	(0 * sizeof(struct {							\
		_Static_assert(offsetof(T, name) == 0 &&			\
			       CLI__MEMBER_SIZE(T, name) == TF_IFNAMSIZ,	\
			       #T " does not start with the tap's name");	\
		char c_;							\
	}))
/* tracing (cli_trace.c) */
extern const struct cli_cmd cli_trace, cli_stats, cli_top, cli_hist;
/* what tracing costs, for trace status --bpf-stats (cli_trace_cost.c) */
struct tf_json;
struct tf_prog_cost;
int cli_trace_costs(double window, struct tf_prog_cost **out, size_t *n);
void cli_trace_costs_json(struct tf_json *j, double window,
			  const struct tf_prog_cost *cost, size_t n);
void cli_trace_costs_print(double window, const struct tf_prog_cost *cost, size_t n);
/* capture (cli_capture.c) */
extern const struct cli_cmd cli_capture;
/* export (cli_export.c) */
extern const struct cli_cmd cli_export;
/* fast path (cli_fastpath.c) */
extern const struct cli_cmd cli_fastpath, cli_uplink, cli_fdb;
/* steering, AF_XDP (cli_steer.c, cli_xsk.c) */
extern const struct cli_cmd cli_steer, cli_xsk_fwd;

#endif
