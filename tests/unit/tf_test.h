/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Minimal unit-test support in the style of the BPF selftests: asserts are
 * expressions that return bool and print "name: actual != expected", so a
 * test can bail out with `if (!ASSERT_OK(...)) return;`. Each test prints one
 * protocol line (PASS/FAIL/SKIP name) that tests/run.sh counts.
 */
#ifndef TF_TEST_H
#define TF_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tf__fails;
static const char *tf__skip;

#define ASSERT_TRUE(cond, name) ({					\
	bool ___ok = (cond);						\
	if (!___ok) { printf("    %s: %s is false (%s:%d)\n", (name), #cond, __FILE__, __LINE__); tf__fails++; } \
	___ok; })
#define ASSERT_EQ(actual, expected, name) ({				\
	long long ___a = (long long)(actual), ___e = (long long)(expected); \
	bool ___ok = ___a == ___e;					\
	if (!___ok) { printf("    %s: %lld != %lld (%s:%d)\n", (name), ___a, ___e, __FILE__, __LINE__); tf__fails++; } \
	___ok; })
#define ASSERT_OK(err, name) ASSERT_EQ((err), 0, name)
#define ASSERT_ERR(err, name) ({					\
	long long ___e = (long long)(err);				\
	bool ___ok = ___e < 0;						\
	if (!___ok) { printf("    %s: %lld is not an error (%s:%d)\n", (name), ___e, __FILE__, __LINE__); tf__fails++; } \
	___ok; })
#define ASSERT_STREQ(actual, expected, name) ({				\
	const char *___a = (actual), *___e = (expected);		\
	bool ___ok = ___a && ___e && !strcmp(___a, ___e);		\
	if (!___ok) { printf("    %s: '%s' != '%s' (%s:%d)\n", (name), ___a ? ___a : "(null)", ___e ? ___e : "(null)", __FILE__, __LINE__); tf__fails++; } \
	___ok; })
#define ASSERT_HAS(haystack, needle, name) ({				\
	const char *___h = (haystack), *___n = (needle);		\
	bool ___ok = ___h && strstr(___h, ___n);			\
	if (!___ok) { printf("    %s: '%s' does not contain '%s'\n", (name), ___h ? ___h : "(null)", ___n); tf__fails++; } \
	___ok; })
#define TEST_SKIP(reason) do { tf__skip = (reason); return; } while (0)

typedef void (*tf_test_fn)(void);
struct tf_test { const char *name; tf_test_fn fn; };
#define TF_TEST(fn) { #fn, fn }

static inline int tf_run_tests(const char *suite, const struct tf_test *t, int n)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		tf__fails = 0;
		tf__skip = NULL;
		fflush(stdout);
		t[i].fn();
		if (tf__skip)
			printf("SKIP %s/%s: %s\n", suite, t[i].name, tf__skip);
		else if (tf__fails) {
			printf("FAIL %s/%s: %d assertion(s) failed\n", suite, t[i].name, tf__fails);
			failed++;
		} else
			printf("PASS %s/%s\n", suite, t[i].name);
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#define TF_MAIN(suite, ...)						\
	int main(void) {						\
		static const struct tf_test ___t[] = { __VA_ARGS__ };	\
		return tf_run_tests(suite, ___t, sizeof(___t) / sizeof(___t[0])); \
	}

#endif
