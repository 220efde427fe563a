/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small streaming JSON writer for --json output: it tracks nesting so
 * callers never place commas by hand, and escapes every string.
 */
#ifndef TF_JSON_H
#define TF_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TF_JSON_MAX_DEPTH 16

struct tf_json {
	FILE *f;
	int depth;
	bool first[TF_JSON_MAX_DEPTH];
};

void tf_json_init(struct tf_json *j, FILE *f);
/* key is NULL for array elements and the top-level value. */
void tf_json_obj_begin(struct tf_json *j, const char *key);
void tf_json_obj_end(struct tf_json *j);
void tf_json_arr_begin(struct tf_json *j, const char *key);
void tf_json_arr_end(struct tf_json *j);
void tf_json_str(struct tf_json *j, const char *key, const char *val);
void tf_json_u64(struct tf_json *j, const char *key, uint64_t val);
void tf_json_i64(struct tf_json *j, const char *key, int64_t val);
void tf_json_double(struct tf_json *j, const char *key, double val);
void tf_json_bool(struct tf_json *j, const char *key, bool val);
void tf_json_null(struct tf_json *j, const char *key);
/* Finish the document with a newline. */
void tf_json_end(struct tf_json *j);

#endif
