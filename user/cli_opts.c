// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Option engine for the tapflow CLI (see cli.h). getopt_long does the
 * scanning (and accepts unambiguous prefixes of long options); every value is
 * checked here so that a bad one is reported in one line naming the option.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#define MAX_OPTS 48

static int nopts(const struct cli_spec *spec)
{
	int n = 0;

	while (spec->opts && spec->opts[n].name)
		n++;
	return n;
}

static const char *metavar(const struct cli_opt *o)
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
	default: return "VALUE";
	}
}

void cli_usage(const struct cli_spec *spec, FILE *f)
{
	int n = nopts(spec);

	fprintf(f, "Usage: tapflow %s%s%s%s\n", spec->name, n ? " [options]" : "",
		spec->args ? " " : "", spec->args ? spec->args : "");
	if (spec->doc)
		fprintf(f, "\n%s\n", spec->doc);
	fprintf(f, "\nOptions:\n");
	for (int i = 0; i < n; i++) {
		const struct cli_opt *o = &spec->opts[i];
		char left[64];

		if (o->type == CLI_FLAG)
			snprintf(left, sizeof(left), "%s%c%s--%s", o->short_name ? "-" : "",
				 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name);
		else
			snprintf(left, sizeof(left), "%s%c%s--%s %s", o->short_name ? "-" : "",
				 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ",
				 o->name, metavar(o));
		fprintf(f, "  %-30s %s", left, o->help ? o->help : "");
		if (o->type == CLI_ENUM && o->choices) {
			fprintf(f, " (");
			for (int c = 0; o->choices[c]; c++)
				fprintf(f, "%s%s", c ? "|" : "", o->choices[c]);
			fprintf(f, ")");
		}
		fputc('\n', f);
	}
	fprintf(f, "  %-30s %s\n", "-h, --help", "show this help");
}

int cli_usage_error(const struct cli_spec *spec, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tapflow %s: ", spec->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return TF_EXIT_USAGE;
}

int cli_fail(const struct cli_spec *spec, int err)
{
	fprintf(stderr, "tapflow %s: %s\n", spec->name, tf_errmsg());
	if (tf_errkind() == TF_ERRK_BPF)
		return TF_EXIT_BPF;
	if (tf_errkind() == TF_ERRK_CAP)
		return TF_EXIT_FAIL;
	if (err == -EINVAL || err == -EEXIST || err == -ENODEV || err == -ENOENT)
		return TF_EXIT_USAGE;
	return TF_EXIT_FAIL;
}

int cli_parse_ifname(const struct cli_spec *spec, const char *arg, char name[TF_IFNAMSIZ])
{
	if (tf_parse_ifname(arg, name))
		return cli_usage_error(spec, "%s", tf_errmsg());
	return 0;
}

static int store(const struct cli_spec *spec, const struct cli_opt *o,
		 const char *val, void *cfg)
{
	char *p = (char *)cfg + o->off;
	char what[64];
	unsigned long u;
	double d;
	int err;

	snprintf(what, sizeof(what), "--%s", o->name);
	switch (o->type) {
	case CLI_FLAG:
		*(bool *)p = true;
		return 0;
	case CLI_STR:
		*(const char **)p = val;
		return 0;
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
	case CLI_ENUM:
		for (int c = 0; o->choices && o->choices[c]; c++) {
			if (!strcmp(val, o->choices[c])) {
				*(int *)p = c;
				return 0;
			}
		}
		{
			char list[256] = "";

			for (int c = 0; o->choices && o->choices[c]; c++) {
				strncat(list, c ? ", " : "", sizeof(list) - strlen(list) - 1);
				strncat(list, o->choices[c], sizeof(list) - strlen(list) - 1);
			}
			return cli_usage_error(spec, "--%s: '%s' is not one of %s", o->name, val, list);
		}
	default:
		err = -EINVAL;
	}
	if (err)
		return cli_usage_error(spec, "%s", tf_errmsg());
	return 0;
}

int cli_parse(const struct cli_spec *spec, int argc, char **argv, void *cfg,
	      struct cli_parsed *out)
{
	struct option lopts[MAX_OPTS + 2];
	char shorts[MAX_OPTS * 2 + 4];
	int n = nopts(spec), si = 0, c, idx;

	if (n > MAX_OPTS)
		return cli_usage_error(spec, "internal error: too many options");
	memset(out, 0, sizeof(*out));
	shorts[si++] = ':';	/* report a missing value as ':' */
	for (int i = 0; i < n; i++) {
		const struct cli_opt *o = &spec->opts[i];

		lopts[i] = (struct option){ o->name,
			o->type == CLI_FLAG ? no_argument : required_argument, NULL, 0x1000 + i };
		if (o->short_name) {
			shorts[si++] = o->short_name;
			if (o->type != CLI_FLAG)
				shorts[si++] = ':';
		}
	}
	lopts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[n + 1] = (struct option){ 0 };
	shorts[si++] = 'h';
	shorts[si] = '\0';

	optind = 0;	/* glibc: full re-initialisation */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, lopts, &idx)) != -1) {
		int i = -1;

		if (c == 'h') {
			cli_usage(spec, stdout);
			return 1;
		}
		if (c == '?') {
			if (optopt && optopt < 0x1000)
				return cli_usage_error(spec, "unknown option '-%c' (see tapflow %s --help)",
						       optopt, spec->name);
			return cli_usage_error(spec, "unknown or ambiguous option '%s' (see tapflow %s --help)",
					       argv[optind - 1], spec->name);
		}
		if (c == ':')
			return cli_usage_error(spec, "option '%s' needs a value", argv[optind - 1]);
		if (c >= 0x1000) {
			i = c - 0x1000;
		} else {
			for (int k = 0; k < n; k++)
				if (spec->opts[k].short_name == c)
					i = k;
		}
		if (i < 0)
			return cli_usage_error(spec, "unexpected option");
		if (store(spec, &spec->opts[i], optarg, cfg))
			return TF_EXIT_USAGE;
		out->given |= 1ULL << i;
	}
	out->argc = argc - optind;
	out->argv = argv + optind;
	if (out->argc < spec->min_args)
		return cli_usage_error(spec, "missing %s (see tapflow %s --help)",
				       spec->args ? spec->args : "argument", spec->name);
	if (spec->max_args >= 0 && out->argc > spec->max_args)
		return cli_usage_error(spec, "unexpected argument '%s'", out->argv[spec->max_args]);
	return 0;
}

bool cli_given(const struct cli_spec *spec, const struct cli_parsed *p, const char *name)
{
	for (int i = 0; spec->opts && spec->opts[i].name; i++)
		if (!strcmp(spec->opts[i].name, name))
			return p->given & (1ULL << i);
	return false;
}
