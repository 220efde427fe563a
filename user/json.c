// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Streaming JSON writer; see json.h. */
#include <inttypes.h>
#include <math.h>

#include "json.h"

void tf_json_init(struct tf_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
}

static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void prefix(struct tf_json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (key) {
		put_str(j->f, key);
		fputc(':', j->f);
	}
}

static void open_(struct tf_json *j, const char *key, char c)
{
	prefix(j, key);
	fputc(c, j->f);
	if (j->depth < TF_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct tf_json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void tf_json_obj_begin(struct tf_json *j, const char *key) { open_(j, key, '{'); }
void tf_json_obj_end(struct tf_json *j) { close_(j, '}'); }
void tf_json_arr_begin(struct tf_json *j, const char *key) { open_(j, key, '['); }
void tf_json_arr_end(struct tf_json *j) { close_(j, ']'); }

void tf_json_str(struct tf_json *j, const char *key, const char *val)
{
	prefix(j, key);
	if (val)
		put_str(j->f, val);
	else
		fputs("null", j->f);
}

void tf_json_u64(struct tf_json *j, const char *key, uint64_t val)
{
	prefix(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void tf_json_i64(struct tf_json *j, const char *key, int64_t val)
{
	prefix(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void tf_json_double(struct tf_json *j, const char *key, double val)
{
	prefix(j, key);
	if (isfinite(val))
		fprintf(j->f, "%.6g", val);
	else
		fputs("null", j->f);
}

void tf_json_bool(struct tf_json *j, const char *key, bool val)
{
	prefix(j, key);
	fputs(val ? "true" : "false", j->f);
}

void tf_json_null(struct tf_json *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->f);
}

void tf_json_end(struct tf_json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
