// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The CLI's dispatcher (see cli.h): it walks the command table along argv,
 * parses the leaf's options and positionals into a fresh cfg, runs the
 * command and frees what parsing allocated.
 *
 * The scanner is our own rather than getopt_long's, so that its rules are
 * ours to state: a long option may be abbreviated to any unambiguous prefix
 * and then *is* that option (an exact name always wins); an option that is
 * not repeatable is bad input when given twice; "--name=value" and "--name
 * value" are the same; options and positionals may come in any order until
 * "--". Every value is checked where it is read, so a bad one is reported in
 * one line naming the option, and the command body sees only good input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#define MAX_OPTS 64	/* per command, for the "given" bits */

static const size_t type_size[CLI__NTYPES] = {
	[CLI_FLAG] = CLI_SIZE_CLI_FLAG,		[CLI_UINT] = CLI_SIZE_CLI_UINT,
	[CLI_STR] = CLI_SIZE_CLI_STR,		[CLI_IFNAME] = CLI_SIZE_CLI_IFNAME,
	[CLI_USER] = CLI_SIZE_CLI_USER,		[CLI_GROUP] = CLI_SIZE_CLI_GROUP,
	[CLI_MAC] = CLI_SIZE_CLI_MAC,		[CLI_ENUM] = CLI_SIZE_CLI_ENUM,
	[CLI_SECONDS] = CLI_SIZE_CLI_SECONDS,	[CLI_LIST] = CLI_SIZE_CLI_LIST,
	[CLI_IFNAMES] = CLI_SIZE_CLI_IFNAMES,	[CLI_OPTLIST] = CLI_SIZE_CLI_OPTLIST,
};

/* The running command, for cli_fail(), cli_usage_error() and cli_given(). */
static struct {
	char path[128];		/* "trace start" */
	const struct cli_cmd *cmd;
	uint64_t given;
} cur;

const char *cli_current(void)
{
	return cur.path;
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tapflow%s%s: ", cur.path[0] ? " " : "", cur.path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return TF_EXIT_USAGE;
}

/*
 * One rule for every command: the kernel refusing BPF is 3, a missing
 * capability is 1 (the message names it), and otherwise the errno says
 * whether the input was bad (a name that does not exist, is taken, or a
 * value the operation cannot take) or the operation failed.
 */
int cli_fail(int err)
{
	fprintf(stderr, "tapflow %s: %s\n", cur.path, tf_errmsg());
	if (tf_errkind() == TF_ERRK_BPF)
		return TF_EXIT_BPF;
	if (tf_errkind() == TF_ERRK_CAP)
		return TF_EXIT_FAIL;
	if (err == -EINVAL || err == -EEXIST || err == -ENODEV || err == -ENOENT)
		return TF_EXIT_USAGE;
	return TF_EXIT_FAIL;
}

volatile sig_atomic_t cli_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	cli_stop = 1;
}

void cli_stop_on_signals(bool hup, bool restart)
{
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = restart ? SA_RESTART : 0 };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (hup)
		sigaction(SIGHUP, &sa, NULL);
}

bool cli_given(const char *name)
{
	for (int i = 0; cur.cmd && cur.cmd->opts && cur.cmd->opts[i].name; i++)
		if (!strcmp(cur.cmd->opts[i].name, name))
			return cur.given & (1ULL << i);
	return false;
}

static bool is_list(const struct cli_opt *o)
{
	return o->type == CLI_LIST || o->type == CLI_IFNAMES || o->type == CLI_OPTLIST;
}

/*
 * May the next word be an optional value's value (`--drops ring_full`)?
 * Only if it is no option and each of its pieces passes the row's check:
 * otherwise it is a positional (`--drops udp port 53`).
 */
static bool optval_ok(const struct cli_opt *o, const char *next)
{
	if (!next || !*next || next[0] == '-' || !o->check)
		return false;
	for (const char *s = next;;) {
		size_t n = o->split ? strcspn(s, (char[]){ o->split, 0 }) : strlen(s);
		char *one = strndup(s, n);
		int bad = !one || o->check(one);

		free(one);
		if (bad)
			return false;
		if (!s[n])
			return true;
		s += n + 1;
	}
}

static int list_add(struct cli_list *l, const char *s, size_t len)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return cli_usage_error("out of memory");
	l->v = v;
	v[l->n] = strndup(s, len);
	if (!v[l->n])
		return cli_usage_error("out of memory");
	l->n++;
	return 0;
}

static void free_lists(const struct cli_opt *rows, void *cfg)
{
	for (int i = 0; rows && rows[i].name; i++) {
		struct cli_list *l = (struct cli_list *)((char *)cfg + rows[i].off);

		if (!is_list(&rows[i]))
			continue;
		for (size_t k = 0; k < l->n; k++)
			free(l->v[k]);
		free(l->v);
		l->v = NULL;
		l->n = 0;
	}
}

/* "--queues" for an option, "NAME" for a positional: how errors name it. */
static void label(const struct cli_opt *o, bool positional, char *buf, size_t len)
{
	snprintf(buf, len, positional ? "%s" : "--%s", o->name);
}

static int store_one(const struct cli_opt *o, bool positional, const char *val, void *cfg)
{
	char *p = (char *)cfg + o->off;
	char what[64];
	unsigned long u;
	double d;
	int err = 0;

	label(o, positional, what, sizeof(what));
	/* CLI_OPT() checked this at compile time; a table built otherwise is caught here. */
	if (o->type >= CLI__NTYPES || o->size != type_size[o->type]) {
		fprintf(stderr, "tapflow %s: internal error: %s is %zu bytes, not a type %d\n",
			cur.path, what, o->size, o->type);
		return TF_EXIT_FAIL;
	}
	switch (o->type) {
	case CLI_FLAG:
		*(bool *)p = true;
		return 0;
	case CLI_STR:
		err = o->check ? o->check(val) : 0;
		if (!err)
			*(const char **)p = val;
		break;
	case CLI_UINT:
		err = tf_parse_uint(val, what, o->min, o->max ? o->max : UINT32_MAX, &u);
		if (!err)
			*(unsigned int *)p = u;
		break;
	case CLI_SECONDS:
		err = tf_parse_seconds(val, what, o->dmin, o->dmax ? o->dmax : 86400.0, &d);
		if (!err)
			*(double *)p = d;
		break;
	case CLI_IFNAME:
		err = tf_parse_ifname(val, p);
		break;
	case CLI_USER: {
		uid_t uid;

		err = tf_parse_user(val, &uid);
		if (!err)
			*(long *)p = uid;
		break;
	}
	case CLI_GROUP: {
		gid_t gid;

		err = tf_parse_group(val, &gid);
		if (!err)
			*(long *)p = gid;
		break;
	}
	case CLI_MAC:
		err = tf_parse_mac(val, (uint8_t *)p);
		break;
	case CLI_ENUM: {
		char list[256] = "";

		for (int c = 0; o->choices && o->choices[c]; c++) {
			if (!strcmp(val, o->choices[c])) {
				*(int *)p = c;
				return 0;
			}
			strncat(list, c ? ", " : "", sizeof(list) - strlen(list) - 1);
			strncat(list, o->choices[c], sizeof(list) - strlen(list) - 1);
		}
		return cli_usage_error("%s: '%s' is not one of %s", what, val, list);
	}
	case CLI_OPTLIST:
		if (!*val)
			return 0;	/* given without a value: cli_given() */
		/* fallthrough */
	case CLI_LIST: {
		struct cli_list *l = (struct cli_list *)p;

		for (const char *s = val;;) {
			size_t n = o->split ? strcspn(s, (char[]){ o->split, 0 }) : strlen(s);
			char *one = strndup(s, n);

			if (!one)
				return cli_usage_error("out of memory");
			if (o->check && o->check(one)) {
				free(one);
				return cli_usage_error("%s", tf_errmsg());
			}
			free(one);
			if (list_add(l, s, n))
				return TF_EXIT_USAGE;
			if (!s[n])
				break;
			s += n + 1;
		}
		return 0;
	}
	case CLI_IFNAMES: {
		struct cli_list *l = (struct cli_list *)p;

		err = tf_parse_ifname(val, NULL);
		if (err)
			break;
		/* `trace start t t` would trace "t, t": a name given twice is a typo. */
		for (size_t k = 0; k < l->n; k++)
			if (!strcmp(l->v[k], val))
				return cli_usage_error("%s: '%s' is named twice", what, val);
		return list_add(l, val, strlen(val)) ? TF_EXIT_USAGE : 0;
	}
	default:
		err = tf_err(-EINVAL, "%s: unsupported type", what);
	}
	return err ? cli_usage_error("%s", tf_errmsg()) : 0;
}

/* The option whose long name is s (len bytes), or an unambiguous prefix of it. */
static int find_long(const struct cli_opt *opts, const char *s, size_t len, const char *arg)
{
	int match = -1, n = 0;
	char cands[160] = "";

	for (int i = 0; opts && opts[i].name; i++) {
		if (strlen(opts[i].name) == len && !strncmp(opts[i].name, s, len))
			return i;
		if (!strncmp(opts[i].name, s, len)) {
			match = i;
			snprintf(cands + strlen(cands), sizeof(cands) - strlen(cands), "%s--%s",
				 n++ ? ", " : "", opts[i].name);
		}
	}
	if (!strncmp("help", s, len) && len) {
		if (!n)
			return -2;	/* --help or --he... */
		n++;
	}
	if (n == 1)
		return match;
	if (n > 1)
		return cli_usage_error("ambiguous option '%s' (%s%s)", arg, cands,
				       !strncmp("help", s, len) ? ", --help" : ""), -3;
	return cli_usage_error("unknown or ambiguous option '%s' (see tapflow %s --help)",
			       arg, cur.path), -3;
}

static int find_short(const struct cli_opt *opts, char c)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (opts[i].short_name == c)
			return i;
	return c == 'h' ? -2 : -1;
}

/* Give option i its value; refuse a second one unless it is repeatable. */
static int set_opt(const struct cli_cmd *cmd, int i, const char *arg, const char *val, void *cfg)
{
	const struct cli_opt *o = &cmd->opts[i];
	int err;

	if ((cur.given & (1ULL << i)) && !is_list(o))
		return cli_usage_error("--%s is given twice (as '%s' the second time); it takes one value",
				       o->name, arg);
	err = store_one(o, false, val, cfg);
	if (err)
		return err;
	cur.given |= 1ULL << i;
	return 0;
}

static int parse_leaf(const struct cli_cmd *cmd, const char *path, int argc, char **argv,
		      void *cfg)
{
	char **pos = calloc(argc + 1, sizeof(*pos));
	int npos = 0, err = 0, i, k;
	bool more_opts = true;

	if (!pos)
		return cli_usage_error("out of memory");
	for (i = 1; i < argc && !err; i++) {
		char *a = argv[i];

		if (!more_opts || a[0] != '-' || !a[1]) {
			pos[npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			more_opts = false;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			const char *val = eq ? eq + 1 : NULL;

			k = find_long(cmd->opts, a + 2, len, a);
			if (k == -3) {
				err = TF_EXIT_USAGE;
				break;
			}
			if (k == -2) {
				cli_help(cmd, path, stdout);
				err = -1;	/* help printed */
				break;
			}
			if (cmd->opts[k].type == CLI_OPTLIST) {
				if (!val && i + 1 < argc && optval_ok(&cmd->opts[k], argv[i + 1]))
					val = argv[++i];
			} else if (!cli_takes_value(&cmd->opts[k])) {
				if (val) {
					err = cli_usage_error("--%s takes no value", cmd->opts[k].name);
					break;
				}
			} else if (!val) {
				if (i + 1 >= argc) {
					err = cli_usage_error("option '%s' needs a value", a);
					break;
				}
				val = argv[++i];
			}
			err = set_opt(cmd, k, a, val ? val : "", cfg);
			continue;
		}
		/* -x, -xVALUE, or flags bundled as -jf */
		for (char *s = a + 1; *s && !err; s++) {
			k = find_short(cmd->opts, *s);
			if (k == -2) {
				cli_help(cmd, path, stdout);
				err = -1;
			} else if (k < 0) {
				err = cli_usage_error("unknown option '-%c' (see tapflow %s --help)", *s,
						      cur.path);
			} else if (cmd->opts[k].type == CLI_OPTLIST) {
				const char *val = s[1] ? s + 1 :
						  i + 1 < argc && optval_ok(&cmd->opts[k], argv[i + 1]) ?
						  argv[++i] : "";

				err = set_opt(cmd, k, a, val, cfg);
				break;
			} else if (!cli_takes_value(&cmd->opts[k])) {
				err = set_opt(cmd, k, a, "", cfg);
			} else {
				const char *val = s[1] ? s + 1 : i + 1 < argc ? argv[++i] : NULL;

				if (!val)
					err = cli_usage_error("option '-%c' needs a value", *s);
				else
					err = set_opt(cmd, k, a, val, cfg);
				break;
			}
		}
	}
	/* Positionals in declaration order; a NAME... row takes the rest. */
	for (k = 0, i = 0; !err && cmd->args && cmd->args[k].name; k++) {
		const struct cli_opt *o = &cmd->args[k];

		if (i >= npos) {
			if (!o->optional)
				err = cli_usage_error("missing %s (see tapflow %s --help)", o->name, cur.path);
			break;
		}
		if (is_list(o)) {
			while (!err && i < npos)
				err = store_one(o, true, pos[i++], cfg);
		} else {
			err = store_one(o, true, pos[i++], cfg);
		}
	}
	if (!err && i < npos)
		err = cli_usage_error("unexpected argument '%s'", pos[i]);
	free(pos);
	return err;
}

static const struct cli_cmd *find_sub(const struct cli_cmd *grp, const char *name, bool *ambiguous)
{
	const struct cli_cmd *match = NULL;
	size_t len = strlen(name);

	*ambiguous = false;
	for (int i = 0; grp->subs[i]; i++) {
		if (!strcmp(grp->subs[i]->name, name))
			return grp->subs[i];
		if (len && !strncmp(grp->subs[i]->name, name, len)) {
			if (match)
				*ambiguous = true;
			match = grp->subs[i];
		}
	}
	return *ambiguous ? NULL : match;
}

static void sub_names(const struct cli_cmd *grp, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; grp->subs[i]; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", grp->subs[i]->name);
}

static int run_leaf(const struct cli_cmd *cmd, const char *path, int argc, char **argv)
{
	void *cfg = calloc(1, cmd->cfg_size ? cmd->cfg_size : 1);
	int err;

	if (!cfg)
		return cli_usage_error("out of memory");
	if (cmd->defaults)
		memcpy(cfg, cmd->defaults, cmd->cfg_size);
	err = parse_leaf(cmd, path, argc, argv, cfg);
	if (err < 0)
		err = TF_EXIT_OK;	/* --help was printed */
	else if (!err)
		err = cmd->run(cfg);
	free_lists(cmd->opts, cfg);
	free_lists(cmd->args, cfg);
	free(cfg);
	return err;
}

int cli_dispatch(const struct cli_cmd *root, int argc, char **argv)
{
	const struct cli_cmd *cmd = root;
	char path[128];
	int n = 0;

	snprintf(path, sizeof(path), "tapflow");
	cur.path[0] = '\0';
	cur.cmd = NULL;
	cur.given = 0;
	/* argv[0] names cmd; walk down while cmd is a group. */
	while (cmd->subs) {
		const struct cli_cmd *sub;
		char names[256];
		bool amb;

		if (argc - n < 2) {
			cli_usage(cmd, path, stderr);
			return TF_EXIT_USAGE;
		}
		if (!strcmp(argv[n + 1], "--help") || !strcmp(argv[n + 1], "-h")) {
			cli_help(cmd, path, stdout);
			return TF_EXIT_OK;
		}
		sub = find_sub(cmd, argv[n + 1], &amb);
		if (!sub) {
			sub_names(cmd, names, sizeof(names));
			if (cmd == root && !amb)
				fprintf(stderr, "tapflow: unknown command '%s' (see tapflow --help)\n",
					argv[n + 1]);
			else if (cmd == root)
				fprintf(stderr, "tapflow: '%s' is ambiguous (see tapflow --help)\n",
					argv[n + 1]);
			else
				cli_usage_error("%s subcommand '%s' (%s)", amb ? "ambiguous" : "unknown",
						argv[n + 1], names);
			return TF_EXIT_USAGE;
		}
		cmd = sub;
		n++;
		snprintf(path + strlen(path), sizeof(path) - strlen(path), " %s", cmd->name);
		snprintf(cur.path, sizeof(cur.path), "%s", path + strlen("tapflow "));
	}
	{
		int count = 0;

		while (cmd->opts && cmd->opts[count].name)
			count++;
		if (count > MAX_OPTS)
			return cli_usage_error("internal error: %d options", count);
	}
	cur.cmd = cmd;
	return run_leaf(cmd, path, argc - n, argv + n);
}
