/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What every libFuzzer harness in tests/fuzz/ shares: the input as a C
 * string (a command-line value or an alias cannot hold a NUL, so the input
 * stops at the first one, as argv would), and a check that aborts with the
 * input's story when a parser broke its own contract, which libFuzzer then
 * saves as a crash like any sanitizer report.
 */
#ifndef TF_FUZZ_H
#define TF_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...) do {						\
		if (!(cond)) {							\
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond);	\
			fprintf(stderr, __VA_ARGS__);				\
			fputc('\n', stderr);					\
			abort();						\
		}								\
	} while (0)

/* data[off..size) as a NUL-terminated copy; free() it. */
static inline char *fuzz_str(const uint8_t *data, size_t size, size_t off)
{
	size_t n = off < size ? size - off : 0;
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, data + off, n);
	s[n] = '\0';
	return s;
}

#endif
