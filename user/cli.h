/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tapflow CLI's table-driven option engine. Each command declares an
 * options struct with its defaults, a table of cli_opt rows pointing into it,
 * and a cli_spec; cli_parse() validates every value at parse time (interface
 * names, users, MACs, ranges) so command bodies see only good input.
 */
#ifndef TF_CLI_H
#define TF_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "tapflow.h"

enum {
	TF_EXIT_OK = 0,
	TF_EXIT_FAIL = 1,	/* the operation failed */
	TF_EXIT_USAGE = 2,	/* bad option or bad input */
	TF_EXIT_BPF = 3,	/* a BPF object failed to load or attach */
};

enum cli_type {
	CLI_FLAG,	/* bool */
	CLI_UINT,	/* unsigned int within [min, max] */
	CLI_STR,	/* const char * */
	CLI_IFNAME,	/* char[16], validated */
	CLI_USER,	/* long uid */
	CLI_GROUP,	/* long gid */
	CLI_MAC,	/* uint8_t[6] */
	CLI_ENUM,	/* int: index into choices */
	CLI_SECONDS,	/* double within [dmin, dmax] */
};

struct cli_opt {
	const char *name;
	char short_name;
	enum cli_type type;
	size_t off;
	const char *metavar;
	const char *help;
	unsigned long min, max;
	double dmin, dmax;
	const char *const *choices;	/* NULL-terminated */
};

struct cli_spec {
	const char *name;	/* "create", "trace start" */
	const char *args;	/* positional synopsis, e.g. "NAME" */
	const char *doc;	/* what the command does, one paragraph */
	const struct cli_opt *opts;	/* ends with a zeroed row */
	int min_args, max_args;	/* max_args < 0: unlimited */
};

struct cli_parsed {
	int argc;		/* positional arguments */
	char **argv;
	unsigned long long given;	/* bit i: opts[i] was on the command line */
};

/*
 * Parse argv (argv[0] is the command name). Returns 0 to go on, 1 when
 * --help was printed (exit 0), or TF_EXIT_USAGE after printing one line.
 */
int cli_parse(const struct cli_spec *spec, int argc, char **argv, void *cfg,
	      struct cli_parsed *out);
bool cli_given(const struct cli_spec *spec, const struct cli_parsed *p,
	       const char *name);
void cli_usage(const struct cli_spec *spec, FILE *f);
/* Print "tapflow CMD: <tf_errmsg()>" and map err to an exit code. */
int cli_fail(const struct cli_spec *spec, int err);
/* A positional interface name, with the checks an interface-name option gets. */
int cli_parse_ifname(const struct cli_spec *spec, const char *arg, char name[TF_IFNAMSIZ]);
/* Print "tapflow CMD: <fmt>" and return TF_EXIT_USAGE. */
int cli_usage_error(const struct cli_spec *spec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Commands: each lives in user/cli_<domain>.c and is listed in tapflow.c. */
struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

#endif
