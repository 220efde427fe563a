/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tapflow CLI's command table. Every command and subcommand is one
 * struct cli_cmd that declares its options and positionals (typed rows
 * pointing into the command's own cfg struct), their defaults and help; one
 * dispatcher (cli_opts.c) finds the command, parses and validates argv into
 * a fresh cfg, runs the command and frees what parsing allocated. --help,
 * usage lines (cli_help.c) and the bash completion script (cli_complete.c)
 * are generated from the same rows, so none of them is written by hand.
 *
 * A row is written with CLI_OPT() or CLI_ARG(), which record the member's
 * offset and size and refuse to compile when the member's size is not the
 * type's (a CLI_UINT on a bool, a CLI_IFNAME on a char[8]); the dispatcher
 * checks the size again before it writes.
 */
#ifndef TF_CLI_H
#define TF_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tapflow.h"

enum {
	TF_EXIT_OK = 0,
	TF_EXIT_FAIL = 1,	/* the operation failed, or a capability is missing */
	TF_EXIT_USAGE = 2,	/* bad option or bad input */
	TF_EXIT_BPF = 3,	/* the kernel refused a BPF load or attach */
};

/* Every value of a repeatable option or of a NAME... positional, in order. */
struct cli_list {
	char **v;
	size_t n;
};

/* Value types, and the C type of the cfg member each one writes. */
enum cli_type {
	CLI_FLAG,	/* bool */
	CLI_UINT,	/* unsigned int within [min, max] */
	CLI_STR,	/* const char *, optionally checked by .check */
	CLI_IFNAME,	/* char[TF_IFNAMSIZ]: tf_parse_ifname()'s rules */
	CLI_USER,	/* long uid */
	CLI_GROUP,	/* long gid */
	CLI_MAC,	/* uint8_t[6], unicast */
	CLI_ENUM,	/* int: index into .choices */
	CLI_SECONDS,	/* double within [dmin, dmax] */
	CLI_LIST,	/* struct cli_list: repeatable; each value split at .split */
	CLI_IFNAMES,	/* struct cli_list of interface names, each once */
	CLI_OPTLIST,	/* struct cli_list, as CLI_LIST, but the value may be left out:
			 * `--name` alone (cli_given() says it was there), `--name=V`,
			 * or `--name V` when every piece of V passes .check (else V is
			 * left to the positionals) */
	CLI__NTYPES
};

#define CLI_SIZE_CLI_FLAG	sizeof(bool)
#define CLI_SIZE_CLI_UINT	sizeof(unsigned int)
#define CLI_SIZE_CLI_STR	sizeof(const char *)
#define CLI_SIZE_CLI_IFNAME	TF_IFNAMSIZ
#define CLI_SIZE_CLI_USER	sizeof(long)
#define CLI_SIZE_CLI_GROUP	sizeof(long)
#define CLI_SIZE_CLI_MAC	6
#define CLI_SIZE_CLI_ENUM	sizeof(int)
#define CLI_SIZE_CLI_SECONDS	sizeof(double)
#define CLI_SIZE_CLI_LIST	sizeof(struct cli_list)
#define CLI_SIZE_CLI_IFNAMES	sizeof(struct cli_list)
#define CLI_SIZE_CLI_OPTLIST	sizeof(struct cli_list)

/* Which devices the completion offers for an interface-name value. */
enum cli_devs {
	CLI_DEVS_TAPS = 0,	/* tun/tap devices (/sys/class/net/ * /tun_flags) */
	CLI_DEVS_ANY,		/* every device (uplinks, fdb ports) */
};

struct cli_opt {
	const char *name;	/* long option name; for a positional, its metavar */
	char short_name;
	enum cli_type type;
	size_t off;		/* of the member in the command's cfg */
	size_t size;		/* of that member, checked against the type */
	const char *metavar;	/* the value's name in help (default: from the type) */
	const char *help;
	unsigned long min, max;	/* CLI_UINT; max 0: UINT32_MAX */
	double dmin, dmax;	/* CLI_SECONDS; dmax 0: a day */
	const char *const *choices;	/* CLI_ENUM, NULL-terminated */
	char split;		/* CLI_LIST: also split each value at this byte */
	int (*check)(const char *val);	/* CLI_STR/CLI_LIST: tf_err() on bad input */
	bool optional;		/* a positional that may be left out */
	enum cli_devs devs;	/* CLI_IFNAME(S): what completion offers */
};

#define CLI__MEMBER_SIZE(T, m) sizeof(((T *)0)->m)
/* 0, or a compile error naming the member whose size is not the type's. */
#define CLI__SIZE_OK(T, m, TYPE)						\
	(0 * sizeof(struct {							\
		_Static_assert(CLI__MEMBER_SIZE(T, m) == CLI_SIZE_##TYPE,	\
			       "cfg member " #m " of " #T " is not a " #TYPE);	\
		char c_;							\
	}))
#define CLI__ROW(T, TYPE, m)							\
	.type = TYPE, .off = offsetof(T, m) + CLI__SIZE_OK(T, m, TYPE),		\
	.size = CLI__MEMBER_SIZE(T, m)

/* An option --NAME of type TYPE stored in member m of cfg struct T. */
#define CLI_OPT(T, TYPE, m, NAME, ...)	{ .name = NAME, CLI__ROW(T, TYPE, m), __VA_ARGS__ }
/* A positional argument shown as NAME (a metavar) stored in member m. */
#define CLI_ARG(T, TYPE, m, NAME, ...)	{ .name = NAME, CLI__ROW(T, TYPE, m), __VA_ARGS__ }
#define CLI_END				{ .name = NULL }

struct cli_cmd {
	const char *name;
	const char *summary;	/* one line, in the parent's list */
	const char *doc;	/* a paragraph, in this command's --help */
	const struct cli_opt *opts;	/* ends with CLI_END; may be NULL */
	const struct cli_opt *args;	/* positionals in order; ends with CLI_END */
	const char *synopsis;	/* overrides the generated "[options] ARGS" */
	size_t cfg_size;
	const void *defaults;	/* cfg_size bytes copied in before parsing */
	int (*run)(void *cfg);	/* a leaf; NULL for a group */
	const struct cli_cmd *const *subs;	/* a group's subcommands, NULL-terminated */
};

/* The cfg struct T of a command, with its defaults as designated initializers. */
#define CLI_CFG(T, ...)	.cfg_size = sizeof(T), .defaults = &(const T){ __VA_ARGS__ }

/*
 * Find the command argv names under root (commands and subcommands match
 * by unambiguous prefix), parse its options, run it. Returns the exit
 * status: 0 also after --help, TF_EXIT_USAGE after one line of error.
 */
int cli_dispatch(const struct cli_cmd *root, int argc, char **argv);

/* For the running command: was option --name on the command line? */
bool cli_given(const char *name);
/* The running command's full name ("trace start"), for messages. */
const char *cli_current(void);
/* Print "tapflow CMD: <tf_errmsg()>" and map err and its kind to an exit code. */
int cli_fail(int err);
/* Print "tapflow CMD: <fmt>" and return TF_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The way out of a long-running command (capture, top, xsk-fwd): 1 once
 * SIGINT or SIGTERM (and SIGHUP with hup) came after cli_stop_on_signals().
 * The command polls it, and may set it to stop threads of its own. restart:
 * SA_RESTART, as signal() installs a handler; without it a blocked call
 * returns EINTR.
 */
extern volatile sig_atomic_t cli_stop;
void cli_stop_on_signals(bool hup, bool restart);

/* Help and usage, from the table (cli_help.c). path: "tapflow trace start". */
void cli_help(const struct cli_cmd *cmd, const char *path, FILE *f);
void cli_usage(const struct cli_cmd *cmd, const char *path, FILE *f);
const char *cli_metavar(const struct cli_opt *o);
/* bash completion for the tree under root (cli_complete.c). */
int cli_complete_bash(const struct cli_cmd *root, FILE *f);

static inline bool cli_takes_value(const struct cli_opt *o)
{
	return o->type != CLI_FLAG;
}

#endif
