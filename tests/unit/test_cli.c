// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests for the CLI's table-driven dispatcher (user/cli_opts.c, the
 * help and the completion generated from the same table), on a small table
 * of its own (no root needed): prefixes are the option they abbreviate or
 * refused, a non-repeatable option given twice is bad input, a repeatable
 * one collects every value, NAME... refuses a name given twice, --help
 * exits 0 without running the command, and a row whose member has the
 * wrong size is caught before anything is written.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../user/cli_opts.c"
#include "../../user/cli_help.c"
#include "../../user/cli_complete.c"
#include "tf_test.h"

struct t_cfg {
	struct cli_list names;
	unsigned int queues;
	bool quiet;
	bool all;
	struct cli_list rules;
	int backend;
	const char *path;
};

static const char *const t_backends[] = { "auto", "fentry", NULL };

static const struct cli_opt t_opts[] = {
	CLI_OPT(struct t_cfg, CLI_UINT, queues, "queues", .short_name = 'q', .min = 1, .max = 256,
		.help = "queues"),
	CLI_OPT(struct t_cfg, CLI_FLAG, quiet, "quiet", .help = "say less"),
	CLI_OPT(struct t_cfg, CLI_FLAG, all, "all", .short_name = 'a', .help = "all of them"),
	CLI_OPT(struct t_cfg, CLI_LIST, rules, "rule", .split = ',', .help = "a rule"),
	CLI_OPT(struct t_cfg, CLI_ENUM, backend, "backend", .choices = t_backends, .help = "which"),
	CLI_OPT(struct t_cfg, CLI_STR, path, "path", .metavar = "PATH", .help = "a file"),
	CLI_END
};

static const struct cli_opt t_args[] = {
	CLI_ARG(struct t_cfg, CLI_IFNAMES, names, "NAME", .optional = true),
	CLI_END
};

/* What the last run saw: a deep enough copy to check after the dispatcher freed. */
static struct {
	int runs;
	struct t_cfg cfg;
	char names[4][16], rules[4][32];
	bool given_queues;
} seen;

static int t_run(void *p)
{
	struct t_cfg *c = p;

	seen.runs++;
	seen.cfg = *c;
	for (size_t i = 0; i < c->names.n && i < 4; i++)
		snprintf(seen.names[i], sizeof(seen.names[i]), "%s", c->names.v[i]);
	for (size_t i = 0; i < c->rules.n && i < 4; i++)
		snprintf(seen.rules[i], sizeof(seen.rules[i]), "%s", c->rules.v[i]);
	seen.given_queues = cli_given("queues");
	return 0;
}

static const struct cli_cmd t_leaf = {
	.name = "go", .summary = "run the test leaf", .doc = "The test leaf.",
	.opts = t_opts, .args = t_args,
	CLI_CFG(struct t_cfg, .queues = 7, .backend = 0),
	.run = t_run,
};

static const struct cli_cmd t_other = {
	.name = "gone", .summary = "another leaf", .args = t_args,
	CLI_CFG(struct t_cfg, .queues = 0), .run = t_run,
};

static const struct cli_cmd t_group = {
	.name = "grp", .summary = "a group",
	.subs = (const struct cli_cmd *const[]){ &t_leaf, &t_other, NULL },
};

static const struct cli_cmd t_root = {
	.name = "tapflow",
	.subs = (const struct cli_cmd *const[]){ &t_group, NULL },
};

static char err_text[1024];
static char out_text[8192];
static const struct cli_cmd *run_root = &t_root;

/* Run "tapflow grp ARGS..." with stderr and stdout captured. */
static int run(const char *first, ...)
{
	char *argv[32] = { "tapflow", "grp" };
	int argc = 2, rc, save_err, save_out;
	FILE *e = tmpfile(), *o = tmpfile();
	va_list ap;
	size_t n;

	va_start(ap, first);
	for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	memset(&seen, 0, sizeof(seen));
	fflush(stderr);
	fflush(stdout);
	save_err = dup(2);
	save_out = dup(1);
	dup2(fileno(e), 2);
	dup2(fileno(o), 1);
	rc = cli_dispatch(run_root, argc, argv);
	fflush(stderr);
	fflush(stdout);
	dup2(save_err, 2);
	dup2(save_out, 1);
	close(save_err);
	close(save_out);
	rewind(e);
	n = fread(err_text, 1, sizeof(err_text) - 1, e);
	err_text[n] = '\0';
	rewind(o);
	n = fread(out_text, 1, sizeof(out_text) - 1, o);
	out_text[n] = '\0';
	fclose(e);
	fclose(o);
	return rc;
}

static void test_defaults_and_values(void)
{
	ASSERT_EQ(run("go", NULL), 0, "no options");
	ASSERT_EQ(seen.runs, 1, "ran");
	ASSERT_EQ(seen.cfg.queues, 7, "default from CLI_CFG");
	ASSERT_EQ(seen.given_queues, 0, "not given");
	ASSERT_EQ(run("go", "t0", "--queues=4", "t1", "--backend", "fentry", NULL), 0, "mixed order");
	ASSERT_EQ(seen.cfg.queues, 4, "--queues=4");
	ASSERT_EQ(seen.given_queues, 1, "given");
	ASSERT_EQ(seen.cfg.backend, 1, "enum index");
	ASSERT_EQ(seen.cfg.names.n, 2, "two names");
	ASSERT_STREQ(seen.names[1], "t1", "second name");
	ASSERT_EQ(run("go", "-q4", "-a", "--", "-x", NULL), 0, "-- ends options");
	ASSERT_EQ(seen.cfg.queues, 4, "-q4");
	ASSERT_EQ(seen.cfg.all, 1, "-a");
	ASSERT_STREQ(seen.names[0], "-x", "-x is a name after --");
}

static void test_prefixes(void)
{
	/* An unambiguous prefix is the option it abbreviates... */
	ASSERT_EQ(run("go", "--que", "9", NULL), 0, "--que");
	ASSERT_EQ(seen.cfg.queues, 9, "--que is --queues");
	ASSERT_EQ(run("go", "--rul", "a", "--ru=b,c", NULL), 0, "--rul");
	ASSERT_EQ(seen.cfg.rules.n, 3, "--rul and --ru are --rule, values split at commas");
	ASSERT_STREQ(seen.rules[0], "a", "rule 0");
	ASSERT_STREQ(seen.rules[2], "c", "rule 2");
	/* ... an ambiguous one is refused, naming the candidates ... */
	ASSERT_EQ(run("go", "--qu", "1", NULL), TF_EXIT_USAGE, "--qu");
	ASSERT_HAS(err_text, "ambiguous option '--qu' (--queues, --quiet)", "ambiguous message");
	ASSERT_EQ(seen.runs, 0, "not run");
	/* ... an exact name wins over being a prefix of another ... */
	ASSERT_EQ(run("go", "--all", NULL), 0, "--all");
	/* ... and an unknown one keeps the message scripts match. */
	ASSERT_EQ(run("go", "--colour", "red", NULL), TF_EXIT_USAGE, "--colour");
	ASSERT_HAS(err_text, "unknown or ambiguous option '--colour'", "unknown message");
	/* subcommands match by prefix too: "gon" is gone, "go" is exact, "g" is ambiguous */
	ASSERT_EQ(run("g", NULL), TF_EXIT_USAGE, "g");
	ASSERT_HAS(err_text, "ambiguous subcommand 'g' (go, gone)", "ambiguous subcommand");
	ASSERT_EQ(run("nope", NULL), TF_EXIT_USAGE, "unknown subcommand");
	ASSERT_HAS(err_text, "unknown subcommand 'nope' (go, gone)", "unknown subcommand message");
}

static void test_given_twice(void)
{
	ASSERT_EQ(run("go", "--queues", "1", "-q", "2", NULL), TF_EXIT_USAGE, "queues twice");
	ASSERT_HAS(err_text, "--queues is given twice", "message");
	ASSERT_EQ(seen.runs, 0, "not run");
	ASSERT_EQ(run("go", "-a", "--all", NULL), TF_EXIT_USAGE, "a flag twice");
	ASSERT_EQ(run("go", "--rule", "a", "--rule", "b", NULL), 0, "a repeatable option twice");
	ASSERT_EQ(seen.cfg.rules.n, 2, "both values");
	ASSERT_EQ(run("go", "t", "u", "t", NULL), TF_EXIT_USAGE, "a name twice");
	ASSERT_HAS(err_text, "'t' is named twice", "name twice message");
}

static void test_bad_values(void)
{
	ASSERT_EQ(run("go", "--queues", "0", NULL), TF_EXIT_USAGE, "range");
	ASSERT_HAS(err_text, "tapflow grp go: --queues: 0 is out of range (1 to 256)", "range message");
	ASSERT_EQ(run("go", "--queues", NULL), TF_EXIT_USAGE, "no value");
	ASSERT_HAS(err_text, "needs a value", "no value message");
	ASSERT_EQ(run("go", "--quiet=yes", NULL), TF_EXIT_USAGE, "a value for a flag");
	ASSERT_HAS(err_text, "--quiet takes no value", "flag value message");
	ASSERT_EQ(run("go", "--backend", "kprobe", NULL), TF_EXIT_USAGE, "enum");
	ASSERT_HAS(err_text, "'kprobe' is not one of auto, fentry", "enum message");
	ASSERT_EQ(run("go", "a%d", NULL), TF_EXIT_USAGE, "a name template");
	ASSERT_HAS(err_text, "holds '%'", "template message");
	ASSERT_EQ(strchr(err_text, '\n') - err_text + 1, (long)strlen(err_text), "one line");
}

static void test_help(void)
{
	ASSERT_EQ(run("go", "--help", NULL), 0, "--help exits 0");
	ASSERT_EQ(seen.runs, 0, "--help does not run");
	ASSERT_HAS(out_text, "Usage: tapflow grp go [options] [NAME...]", "synopsis");
	ASSERT_HAS(out_text, "--rule VALUE", "option row");
	ASSERT_HAS(out_text, "(repeatable; or comma-separated)", "repeatable said");
	ASSERT_EQ(run("--help", NULL), 0, "group --help exits 0");
	for (int i = 0; t_opts[i].name; i++) {
		char want[32];

		snprintf(want, sizeof(want), "--%s", t_opts[i].name);
		ASSERT_HAS(out_text, want, "group help lists every option of its subcommands");
	}
	ASSERT_HAS(out_text, "Subcommands:\n  go ", "subcommand list");
	ASSERT_EQ(run(NULL), TF_EXIT_USAGE, "group without a subcommand");
	ASSERT_HAS(err_text, "Usage: tapflow grp go", "usage on stderr");
}

/* A row not made by CLI_OPT(), whose member is a bool, not an unsigned int. */
static const struct cli_opt bad_opts[] = {
	{ .name = "queues", .type = CLI_UINT, .off = offsetof(struct t_cfg, quiet),
	  .size = sizeof(bool) },
	CLI_END
};
static const struct cli_cmd bad_cmd = {
	.name = "bad", .opts = bad_opts, CLI_CFG(struct t_cfg, .queues = 0), .run = t_run,
};
static const struct cli_cmd bad_root = {
	.name = "tapflow", .subs = (const struct cli_cmd *const[]){ &bad_cmd, NULL },
};

/* CLI_OPTLIST: a value that may be left out (`--drops`, `--drops ring_full,filter`). */
struct o_cfg {
	struct cli_list causes;
	struct cli_list words;
	bool given;
	char first[16];
	size_t nwords;
};

static struct o_cfg o_seen;

static int o_check(const char *v)
{
	return !strcmp(v, "a") || !strcmp(v, "b") ? 0 : tf_err(-EINVAL, "'%s' is not a or b", v);
}

static int o_run(void *p)
{
	struct o_cfg *c = p;

	o_seen = *c;
	o_seen.given = cli_given("drops");
	snprintf(o_seen.first, sizeof(o_seen.first), "%s", c->words.n ? c->words.v[0] : "");
	o_seen.nwords = c->words.n;
	o_seen.causes.v = NULL;
	o_seen.words.v = NULL;
	return 0;
}

static const struct cli_opt o_opts[] = {
	CLI_OPT(struct o_cfg, CLI_OPTLIST, causes, "drops", .split = ',', .check = o_check,
		.metavar = "C,...", .help = "drops"),
	CLI_END
};

static const struct cli_opt o_args[] = {
	CLI_ARG(struct o_cfg, CLI_LIST, words, "WORD", .optional = true),
	CLI_END
};

static const struct cli_cmd o_leaf = {
	.name = "go", .opts = o_opts, .args = o_args, CLI_CFG(struct o_cfg, .given = false),
	.run = o_run,
};

static const struct cli_cmd o_group = {
	.name = "grp", .subs = (const struct cli_cmd *const[]){ &o_leaf, NULL },
};

static const struct cli_cmd o_root = {
	.name = "tapflow", .subs = (const struct cli_cmd *const[]){ &o_group, NULL },
};

static void test_optional_value(void)
{
	run_root = &o_root;
	memset(&o_seen, 0, sizeof(o_seen));
	ASSERT_EQ(run("go", "--drops", NULL), 0, "alone");
	ASSERT_EQ(o_seen.given, 1, "alone: given");
	ASSERT_EQ(o_seen.causes.n, 0, "alone: no value");
	ASSERT_EQ(run("go", "--drops", "a,b", "udp", NULL), 0, "with a value");
	ASSERT_EQ(o_seen.causes.n, 2, "a,b: two values");
	ASSERT_STREQ(o_seen.first, "udp", "the next word is a positional");
	ASSERT_EQ(run("go", "--drops", "udp", "port", NULL), 0, "a word that is no value");
	ASSERT_EQ(o_seen.causes.n, 0, "udp is not taken");
	ASSERT_EQ(o_seen.nwords, 2, "udp port: positionals");
	ASSERT_EQ(run("go", "--drops", "a,x", NULL), 0, "a word with a bad piece");
	ASSERT_EQ(o_seen.causes.n, 0, "a,x is not taken");
	ASSERT_EQ(o_seen.nwords, 1, "a,x: a positional");
	ASSERT_EQ(run("go", "--drops=b", NULL), 0, "--drops=b");
	ASSERT_EQ(o_seen.causes.n, 1, "=b: one value");
	ASSERT_EQ(run("go", "--drops=x", NULL), TF_EXIT_USAGE, "--drops=x is bad input");
	ASSERT_HAS(err_text, "'x' is not a or b", "bad value message");
	ASSERT_EQ(run("go", "--drops", "--", "a", NULL), 0, "-- ends the options");
	ASSERT_EQ(o_seen.causes.n, 0, "a after -- is no value");
	ASSERT_EQ(o_seen.nwords, 1, "a after --: a positional");
	ASSERT_EQ(run("go", "--help", NULL), 0, "help");
	ASSERT_HAS(out_text, "--drops[=C,...]", "help shows the value as optional");
	run_root = &t_root;
}

static void test_size_checked(void)
{
	char *argv[] = { "tapflow", "bad", "--queues", "3", NULL };
	int save = dup(2), devnull = open("/dev/null", O_WRONLY);

	dup2(devnull, 2);
	ASSERT_EQ(cli_dispatch(&bad_root, 4, argv), TF_EXIT_FAIL, "wrong size refused");
	ASSERT_EQ(seen.runs, 0, "not run");
	dup2(save, 2);
	close(save);
	close(devnull);
}

static void test_completion_script(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ASSERT_OK(cli_complete_bash(&t_root, f), "generate");
	fclose(f);
	ASSERT_HAS(buf, "\"grp\") echo \"go gone\" ;;", "subcommands");
	ASSERT_HAS(buf, "\"grp go\") echo \"--queues --quiet --all --rule --backend --path --help\" ;;",
		   "options");
	ASSERT_HAS(buf, "\"grp go --backend\") echo \"auto fentry\" ;;", "enum values");
	ASSERT_HAS(buf, "\"grp go --path\") echo \"@files\" ;;", "a PATH value");
	ASSERT_HAS(buf, "if [ \"$2\" -ge 0 ]; then echo \"@taps\"", "NAME... are taps");
	ASSERT_HAS(buf, "complete -F _tapflow tapflow", "registered");
	free(buf);
}

TF_MAIN("unit/cli",
	TF_TEST(test_defaults_and_values),
	TF_TEST(test_prefixes),
	TF_TEST(test_given_twice),
	TF_TEST(test_bad_values),
	TF_TEST(test_help),
	TF_TEST(test_optional_value),
	TF_TEST(test_size_checked),
	TF_TEST(test_completion_script),
)
