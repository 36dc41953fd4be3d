/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_BENCH_ZIPF_H
#define SL_BENCH_ZIPF_H

/**
 * @file
 * Seeded pseudo-random numbers and Zipf sampling for sluice-gen.
 *
 * The generator is xoshiro256** seeded through splitmix64, so one 64-bit seed
 * gives one reproducible stream on every machine. The Zipf sampler keeps an
 * exact cumulative distribution for the first 2^20 ranks and searches it with
 * a binary search; ranks past that (only when n is larger) are drawn by
 * inverting the integral of x^-s, which is accurate to a small fraction of a
 * rank there and keeps memory bounded for 10^8 users.
 *
 * Threading: none. Every object belongs to its caller; a sampler is read-only
 * after creation and may be shared, a struct sl_rng may not.
 */

#include <stdint.h>

/** xoshiro256** state. Seed with sl_rng_seed() before use. */
struct sl_rng {
	uint64_t s[4];
};

struct sl_zipf; /**< Opaque sampler over ranks 1..n. */

/** Seed @p rng from one 64-bit value (splitmix64 expansion). */
void sl_rng_seed(struct sl_rng *rng, uint64_t seed);

/** Next 64 random bits. */
static inline uint64_t
sl_rng_next(struct sl_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t x = s[1] * 5;
	uint64_t r = ((x << 7) | (x >> 57)) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return r;
}

/** Uniform double in [0, 1), 53 random bits. */
static inline double
sl_rng_double(struct sl_rng *rng)
{
	return (double)(sl_rng_next(rng) >> 11) * 0x1p-53;
}

/** Uniform integer in [0, n), n >= 1 (multiply-shift, bias below 2^-32 for n < 2^32). */
static inline uint64_t
sl_rng_below(struct sl_rng *rng, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)sl_rng_next(rng) * n) >> 64);
}

/**
 * Create a Zipf sampler: P(rank k) is proportional to k^-s for k in 1..n.
 *
 * @param n  Number of ranks, >= 1.
 * @param s  Exponent, 0 (uniform) or more.
 * @return The sampler (release with sl_zipf_destroy()), or NULL with errno set
 *         (ENOMEM, EINVAL).
 */
struct sl_zipf *sl_zipf_create(uint64_t n, double s);

/** Draw one rank in 1..n. */
uint64_t sl_zipf_sample(const struct sl_zipf *z, struct sl_rng *rng);

/** Release a sampler. NULL is a no-op. */
void sl_zipf_destroy(struct sl_zipf *z);

#endif /* SL_BENCH_ZIPF_H */
