/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "zipf.h"

/* Ranks with an exact CDF entry: 8 MiB of doubles at most per sampler. */
#define ZIPF_TABLE_MAX (1u << 20)

struct sl_zipf {
	uint64_t n;       /* ranks 1..n */
	uint64_t m;       /* ranks 1..m come from cdf[], m = min(n, ZIPF_TABLE_MAX) */
	double s;         /* exponent */
	double head;      /* probability of ranks 1..m (cdf[m - 1]) */
	double total;     /* unnormalized mass of ranks 1..n */
	double tail_lo;   /* antiderivative at m + 0.5, where the tail integral starts */
	double cdf[];     /* m entries, normalized, non-decreasing */
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
sl_rng_seed(struct sl_rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

/* The exponent 1 needs the logarithm; treat anything this close to 1 as 1. */
static int
is_harmonic(double s)
{
	return fabs(1.0 - s) < 1e-9;
}

/* F(x) = integral of x^-s: the tail approximates sum k^-s by F(b + 1/2) - F(a - 1/2). */
static double
antideriv(double x, double s)
{
	if (is_harmonic(s))
		return log(x);
	return pow(x, 1.0 - s) / (1.0 - s);
}

static double
antideriv_inv(double y, double s)
{
	if (is_harmonic(s))
		return exp(y);
	return pow(y * (1.0 - s), 1.0 / (1.0 - s));
}

struct sl_zipf *
sl_zipf_create(uint64_t n, double s)
{
	struct sl_zipf *z;
	double acc = 0.0;
	uint64_t m;

	if (n == 0 || !(s >= 0.0) || !isfinite(s)) {
		errno = EINVAL;
		return NULL;
	}
	m = n < ZIPF_TABLE_MAX ? n : ZIPF_TABLE_MAX;
	z = malloc(sizeof(*z) + m * sizeof(z->cdf[0]));
	if (z == NULL)
		return NULL;
	z->n = n;
	z->m = m;
	z->s = s;
	for (uint64_t k = 1; k <= m; k++) {
		acc += pow((double)k, -s);
		z->cdf[k - 1] = acc;
	}
	z->tail_lo = antideriv((double)m + 0.5, s);
	z->total = acc;
	if (n > m)
		z->total += antideriv((double)n + 0.5, s) - z->tail_lo;
	for (uint64_t k = 0; k < m; k++)
		z->cdf[k] /= z->total;
	if (n == m)
		z->cdf[m - 1] = 1.0;
	z->head = z->cdf[m - 1];
	return z;
}

uint64_t
sl_zipf_sample(const struct sl_zipf *z, struct sl_rng *rng)
{
	double u = sl_rng_double(rng);
	uint64_t lo = 0, hi, k;
	double x;

	if (u < z->head || z->n == z->m) {
		/* Smallest index whose cumulative probability exceeds u. */
		hi = z->m - 1;
		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (z->cdf[mid] > u)
				hi = mid;
			else
				lo = mid + 1;
		}
		return lo + 1;
	}
	x = antideriv_inv(z->tail_lo + (u - z->head) * z->total, z->s) + 0.5;
	/* Rounding at the far end may step past n (or give NaN): clamp. */
	if (!(x < (double)z->n))
		return z->n;
	k = (uint64_t)x;
	if (k <= z->m)
		k = z->m + 1;
	if (k > z->n)
		k = z->n;
	return k;
}

void
sl_zipf_destroy(struct sl_zipf *z)
{
	free(z);
}
