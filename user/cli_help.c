// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --help and usage text, generated from the command table (cli.h), so that
 * what the help says a command takes is what the dispatcher accepts. Shapes
 * that docs and scripts read: `tapflow --help` lists the commands under
 * "Commands:", one a line, name first; `tapflow CMD --help` lists every
 * option of CMD and of all its subcommands as "--long-name".
 */
#include <string.h>

#include "cli.h"

static int nrows(const struct cli_opt *rows)
{
	int n = 0;

	while (rows && rows[n].name)
		n++;
	return n;
}

const char *cli_metavar(const struct cli_opt *o)
{
	if (o->metavar)
		return o->metavar;
	switch (o->type) {
	case CLI_UINT: return "N";
	case CLI_IFNAME: return "DEV";
	case CLI_USER: return "USER|UID";
	case CLI_GROUP: return "GROUP|GID";
	case CLI_MAC: return "MAC";
	case CLI_SECONDS: return "S";
	case CLI_ENUM: return "WORD";
	default: return "VALUE";
	}
}

/* "[options] NAME...", from the rows (or the command's own synopsis). */
static void synopsis(const struct cli_cmd *cmd, const char *path, FILE *f)
{
	fprintf(f, "%s", path);
	if (cmd->synopsis) {
		fprintf(f, " %s\n", cmd->synopsis);
		return;
	}
	if (nrows(cmd->opts))
		fprintf(f, " [options]");
	for (int i = 0; cmd->args && cmd->args[i].name; i++) {
		const struct cli_opt *a = &cmd->args[i];
		bool many = a->type == CLI_LIST || a->type == CLI_IFNAMES;

		fprintf(f, " %s%s%s%s", a->optional ? "[" : "", a->name, many ? "..." : "",
			a->optional ? "]" : "");
	}
	fputc('\n', f);
}

static void options(const struct cli_opt *opts, FILE *f, bool with_help)
{
	for (int i = 0; opts && opts[i].name; i++) {
		const struct cli_opt *o = &opts[i];
		char left[64];

		bool opt = o->type == CLI_OPTLIST;

		snprintf(left, sizeof(left), "%s%c%s--%s%s%s%s", o->short_name ? "-" : "",
			 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
			 opt ? "[=" : cli_takes_value(o) ? " " : "",
			 cli_takes_value(o) ? cli_metavar(o) : "", opt ? "]" : "");
		fprintf(f, "  %-30s %s", left, o->help ? o->help : "");
		if (o->type == CLI_ENUM && o->choices) {
			fprintf(f, " (");
			for (int c = 0; o->choices[c]; c++)
				fprintf(f, "%s%s", c ? "|" : "", o->choices[c]);
			fprintf(f, ")");
		}
		if (o->type == CLI_LIST)
			fprintf(f, "%s", o->split ? " (repeatable; or comma-separated)" : " (repeatable)");
		fputc('\n', f);
	}
	if (with_help)
		fprintf(f, "  %-30s %s\n", "-h, --help", "show this help");
}

/* Each leaf under cmd, depth first, with its path. */
static void for_leaves(const struct cli_cmd *cmd, const char *path, FILE *f,
		       void (*fn)(const struct cli_cmd *, const char *, FILE *, bool), bool first)
{
	char sub[128];

	if (!cmd->subs) {
		fn(cmd, path, f, first);
		return;
	}
	for (int i = 0; cmd->subs[i]; i++) {
		snprintf(sub, sizeof(sub), "%s %s", path, cmd->subs[i]->name);
		for_leaves(cmd->subs[i], sub, f, fn, first && i == 0);
	}
}

static void usage_line(const struct cli_cmd *cmd, const char *path, FILE *f, bool first)
{
	fprintf(f, "%s", first ? "Usage: " : "       ");
	synopsis(cmd, path, f);
}

static void leaf_options(const struct cli_cmd *cmd, const char *path, FILE *f, bool first)
{
	(void)first;
	if (!nrows(cmd->opts))
		return;
	fprintf(f, "\nOptions of %s:\n", path);
	options(cmd->opts, f, false);
}

void cli_usage(const struct cli_cmd *cmd, const char *path, FILE *f)
{
	if (!strcmp(path, "tapflow")) {
		fprintf(f, "Usage: tapflow [-v|-vv] COMMAND [options] [args]\n"
			   "(tapflow --help lists the commands)\n");
		return;
	}
	for_leaves(cmd, path, f, usage_line, true);
	fprintf(f, "(%s --help shows the options)\n", path);
}

static void root_help(const struct cli_cmd *root, FILE *f)
{
	fprintf(f, "Usage: tapflow [-v|-vv] COMMAND [options] [args]\n\nCommands:\n");
	for (int i = 0; root->subs[i]; i++)
		fprintf(f, "  %-12s %s\n", root->subs[i]->name, root->subs[i]->summary);
	fprintf(f, "\n'tapflow COMMAND --help' shows a command's options.\n"
		   "-v shows progress, -vv adds libbpf's own messages.\n");
}

void cli_help(const struct cli_cmd *cmd, const char *path, FILE *f)
{
	if (!strcmp(path, "tapflow")) {
		root_help(cmd, f);
		return;
	}
	for_leaves(cmd, path, f, usage_line, true);
	if (cmd->doc || cmd->summary)
		fprintf(f, "\n%s\n", cmd->doc ? cmd->doc : cmd->summary);
	if (cmd->subs) {
		fprintf(f, "\nSubcommands:\n");
		for (int i = 0; cmd->subs[i]; i++)
			fprintf(f, "  %-12s %s\n", cmd->subs[i]->name,
				cmd->subs[i]->summary ? cmd->subs[i]->summary : "");
		for_leaves(cmd, path, f, leaf_options, true);
		fprintf(f, "\n'%s SUBCOMMAND --help' shows one subcommand.\n", path);
		return;
	}
	fprintf(f, "\nOptions:\n");
	options(cmd->opts, f, true);
}
