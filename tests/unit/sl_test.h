/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_TEST_H
#define SL_TEST_H

/**
 * @file
 * A minimal unit-test harness. Each test is `SL_TEST(name) { ...; return SL_TEST_PASS; }`;
 * the file ends with `SL_TEST_MAIN()`. Exit code 0 = all passed, 1 = a failure,
 * 77 = skipped (meson counts it as skipped). The SL_ASSERT_* macros print the
 * failing expression with file and line and make the test return SL_TEST_FAIL.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_TEST_PASS 0
#define SL_TEST_FAIL 1
#define SL_TEST_SKIP 77

struct sl_test_case {
	const char *name;
	int (*fn)(void);
};

#define SL_TEST_MAX_CASES 256
extern struct sl_test_case sl_test_cases[SL_TEST_MAX_CASES];
extern unsigned int sl_test_n_cases;

#define SL_TEST(name)                                                                  \
	static int test_##name(void);                                                  \
	__attribute__((constructor)) static void register_##name(void)                \
	{                                                                              \
		if (sl_test_n_cases < SL_TEST_MAX_CASES)                               \
			sl_test_cases[sl_test_n_cases++] =                             \
				(struct sl_test_case){ #name, test_##name };           \
	}                                                                              \
	static int test_##name(void)

#define SL_FAILF(...)                                                                  \
	do {                                                                           \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
		fprintf(stderr, __VA_ARGS__);                                          \
		fputc('\n', stderr);                                                   \
		return SL_TEST_FAIL;                                                   \
	} while (0)

#define SL_ASSERT(c)                                                                   \
	do {                                                                           \
		if (!(c))                                                              \
			SL_FAILF("assertion failed: %s", #c);                          \
	} while (0)

#define SL_ASSERT_EQ(a, b)                                                             \
	do {                                                                           \
		long long sl_a_ = (long long)(a), sl_b_ = (long long)(b);              \
		if (sl_a_ != sl_b_)                                                    \
			SL_FAILF("%s == %s: %lld != %lld", #a, #b, sl_a_, sl_b_);      \
	} while (0)

#define SL_ASSERT_DBL_EQ(a, b)                                                         \
	do {                                                                           \
		double sl_a_ = (a), sl_b_ = (b);                                       \
		if (!(sl_a_ == sl_b_))                                                 \
			SL_FAILF("%s == %s: %.17g != %.17g", #a, #b, sl_a_, sl_b_);    \
	} while (0)

#define SL_ASSERT_STR_EQ(a, b)                                                         \
	do {                                                                           \
		const char *sl_a_ = (a), *sl_b_ = (b);                                 \
		if (strcmp(sl_a_, sl_b_) != 0)                                         \
			SL_FAILF("%s == %s: \"%s\" != \"%s\"", #a, #b, sl_a_, sl_b_);  \
	} while (0)

#define SL_ASSERT_NULL(p) SL_ASSERT((p) == NULL)
#define SL_ASSERT_NOT_NULL(p) SL_ASSERT((p) != NULL)
#define SL_ASSERT_OK(rc) SL_ASSERT_EQ((rc), 0)

#define SL_TEST_MAIN()                                                                 \
	struct sl_test_case sl_test_cases[SL_TEST_MAX_CASES];                          \
	unsigned int sl_test_n_cases;                                                  \
	int main(void)                                                                 \
	{                                                                              \
		unsigned int failed = 0, skipped = 0;                                  \
		for (unsigned int i = 0; i < sl_test_n_cases; i++) {                   \
			int rc = sl_test_cases[i].fn();                                \
			const char *r = rc == SL_TEST_PASS   ? "ok"                    \
					: rc == SL_TEST_SKIP ? "skip"                  \
							     : "FAIL";                 \
			printf("%-4s %s\n", r, sl_test_cases[i].name);                 \
			failed += rc != SL_TEST_PASS && rc != SL_TEST_SKIP;            \
			skipped += rc == SL_TEST_SKIP;                                 \
		}                                                                      \
		printf("%u cases, %u failed, %u skipped\n", sl_test_n_cases, failed,   \
		       skipped);                                                       \
		if (failed)                                                            \
			return 1;                                                      \
		return sl_test_n_cases > 0 && skipped == sl_test_n_cases ? 77 : 0;     \
	}

#endif /* SL_TEST_H */
