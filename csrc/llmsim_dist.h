/* Delay and length distributions over the counter-based RNG of llmsim_rng.h.
 *
 * Values are doubles in the caller's unit (nanoseconds for delays, tokens for lengths); no
 * rounding happens here. Sample number i of a key is a pure function of (distribution, key,
 * i): llmsim_dist_at() gives it directly, llmsim_dist_fill() gives a run of them faster (the
 * two normals of one Box-Muller pair come from one Philox block), and both agree exactly.
 *
 * Normal is truncated at zero by rejection: a negative draw is retried with the next attempt
 * number of the same block, so the result is the normal distribution conditioned on x >= 0.
 * Every kind is then clamped to [min, max] (min defaults to 0, max to +inf).
 */
#ifndef LLMSIM_DIST_H
#define LLMSIM_DIST_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "llmsim_rng.h"

enum {
    LLMSIM_DIST_CONSTANT = 0,  /* a = value */
    LLMSIM_DIST_UNIFORM = 1,   /* a = low, b = high */
    LLMSIM_DIST_NORMAL = 2,    /* a = mean, b = standard deviation; truncated at 0 */
    LLMSIM_DIST_LOGNORMAL = 3, /* a = mu, b = sigma of the underlying normal */
    LLMSIM_DIST_EXPONENTIAL = 4, /* a = mean */
    LLMSIM_DIST_PARETO = 5,    /* a = scale (the minimum), b = shape alpha */
    LLMSIM_DIST_EMPIRICAL = 6, /* points: (p in [0, 1], value), p increasing */
};

#define LLMSIM_DIST_MAX_POINTS 32
#define LLMSIM_NORMAL_ATTEMPTS 64
#define LLMSIM_TWO_PI 6.283185307179586476925286766559

typedef struct {
    int kind;
    int npoints;
    double a, b;
    double min, max;
    double p[LLMSIM_DIST_MAX_POINTS];
    double v[LLMSIM_DIST_MAX_POINTS];
} llmsim_dist_t;

/* z such that P(Z <= z) = q for a standard normal, for the quantiles configs use. */
#define LLMSIM_Z_P90 1.2815515655446004
#define LLMSIM_Z_P95 1.6448536269514722
#define LLMSIM_Z_P99 2.3263478740408408
#define LLMSIM_Z_P999 3.0902323061678132

/* Log-normal parameters with the given mean and standard deviation (both > 0). */
static inline void llmsim_lognormal_from_mean_sd(double mean, double sd, double *mu,
                                                 double *sigma)
{
    double s2 = log1p((sd / mean) * (sd / mean));
    *sigma = sqrt(s2);
    *mu = log(mean) - s2 / 2.0;
}

/* Log-normal parameters with the given median and quantile value at standard score z
 * (e.g. LLMSIM_Z_P99 for the 99th percentile); needs 0 < median < quantile. */
static inline void llmsim_lognormal_from_median_q(double median, double quantile, double z,
                                                  double *mu, double *sigma)
{
    *mu = log(median);
    *sigma = log(quantile / median) / z;
}

/* Standard normal lane `lane` of the block `b` (Box-Muller). */
static inline double llmsim_box_muller(const uint64_t b[2], unsigned lane)
{
    double r = sqrt(-2.0 * log(llmsim_u01(b[0])));
    double t = LLMSIM_TWO_PI * llmsim_u01(b[1]);
    return lane ? r * sin(t) : r * cos(t);
}

/* Standard normal lane `lane` of block `index`, attempt `attempt`. */
static inline double llmsim_std_normal(uint64_t key, uint64_t index, uint32_t attempt,
                                       unsigned lane)
{
    uint64_t b[2];
    llmsim_rng_block(key, index, attempt, b);
    return llmsim_box_muller(b, lane);
}

/* Truncated normal for draw `i`, starting at `attempt` (0 unless a pair already failed). */
static inline double llmsim_trunc_normal(const llmsim_dist_t *d, uint64_t key, uint64_t i,
                                         uint32_t attempt)
{
    for (; attempt < LLMSIM_NORMAL_ATTEMPTS; attempt++) {
        double x = d->a + d->b * llmsim_std_normal(key, i >> 1, attempt, (unsigned)(i & 1));
        if (x >= 0.0)
            return x;
    }
    return 0.0; /* 2^-64 at worst for mean >= 0, which configs enforce */
}

static inline double llmsim_empirical(const llmsim_dist_t *d, double u)
{
    int n = d->npoints;
    if (u <= d->p[0])
        return d->v[0];
    for (int k = 1; k < n; k++) {
        if (u <= d->p[k]) {
            double span = d->p[k] - d->p[k - 1];
            return d->v[k - 1] + (d->v[k] - d->v[k - 1]) * ((u - d->p[k - 1]) / span);
        }
    }
    return d->v[n - 1];
}

static inline double llmsim_dist_clamp(const llmsim_dist_t *d, double x)
{
    if (x < d->min)
        return d->min;
    if (x > d->max)
        return d->max;
    return x;
}

/* The unclamped value of draw `i` for kinds that use one uniform draw. */
static inline double llmsim_dist_from_uniform(const llmsim_dist_t *d, double u)
{
    switch (d->kind) {
    case LLMSIM_DIST_UNIFORM:
        return d->a + (d->b - d->a) * u;
    case LLMSIM_DIST_EXPONENTIAL:
        return -d->a * log(u);
    case LLMSIM_DIST_PARETO:
        return d->a * pow(u, -1.0 / d->b);
    case LLMSIM_DIST_EMPIRICAL:
        return llmsim_empirical(d, u);
    default:
        return d->a;
    }
}

/* Draw number `i` of a key whose block i >> 1 is `b` (llmsim_rng_block(key, i >> 1, 0, b)):
 * lane i & 1 of it, and more blocks of `key` only when a truncated normal rejects the pair.
 * Given any 128 uniform bits as `b`, a draw from the same distribution (no Philox call). */
static inline double llmsim_dist_from_block(const llmsim_dist_t *d, const uint64_t b[2],
                                            uint64_t key, uint64_t i)
{
    double x;
    unsigned lane = (unsigned)(i & 1);
    switch (d->kind) {
    case LLMSIM_DIST_CONSTANT:
        x = d->a;
        break;
    case LLMSIM_DIST_NORMAL:
        x = d->a + d->b * llmsim_box_muller(b, lane);
        if (!(x >= 0.0))
            x = llmsim_trunc_normal(d, key, i, 1);
        break;
    case LLMSIM_DIST_LOGNORMAL:
        x = exp(d->a + d->b * llmsim_box_muller(b, lane));
        break;
    default:
        x = llmsim_dist_from_uniform(d, llmsim_u01(b[lane]));
        break;
    }
    return llmsim_dist_clamp(d, x);
}

/* Draw number `i` of `key`. */
static inline double llmsim_dist_at(const llmsim_dist_t *d, uint64_t key, uint64_t i)
{
    uint64_t b[2] = {0, 0};
    if (d->kind != LLMSIM_DIST_CONSTANT)
        llmsim_rng_block(key, i >> 1, 0, b);
    return llmsim_dist_from_block(d, b, key, i);
}

/* Next draw of a stream. */
static inline double llmsim_dist_sample(const llmsim_dist_t *d, llmsim_stream_t *s)
{
    return llmsim_dist_at(d, s->key, s->counter++);
}

/* out[j] = llmsim_dist_at(d, key, first + j) for j < n, sharing work between draws. */
static inline void llmsim_dist_fill(const llmsim_dist_t *d, uint64_t key, uint64_t first,
                                    size_t n, double *out)
{
    size_t j = 0;
    if (d->kind == LLMSIM_DIST_CONSTANT) {
        double x = llmsim_dist_clamp(d, d->a);
        for (; j < n; j++)
            out[j] = x;
        return;
    }
    if (d->kind != LLMSIM_DIST_NORMAL && d->kind != LLMSIM_DIST_LOGNORMAL) {
        uint64_t b[2];
        if (n && (first & 1)) {
            out[j] = llmsim_dist_at(d, key, first);
            j++;
        }
        for (; j + 1 < n; j += 2) {
            llmsim_rng_block(key, (first + j) >> 1, 0, b);
            out[j] = llmsim_dist_clamp(d, llmsim_dist_from_uniform(d, llmsim_u01(b[0])));
            out[j + 1] = llmsim_dist_clamp(d, llmsim_dist_from_uniform(d, llmsim_u01(b[1])));
        }
        if (j < n)
            out[j] = llmsim_dist_at(d, key, first + j);
        return;
    }
    if (n && (first & 1)) {
        out[j] = llmsim_dist_at(d, key, first);
        j++;
    }
    for (; j + 1 < n; j += 2) {
        uint64_t i = first + j, b[2];
        llmsim_rng_block(key, i >> 1, 0, b);
        double r = sqrt(-2.0 * log(llmsim_u01(b[0])));
        double t = LLMSIM_TWO_PI * llmsim_u01(b[1]);
        double z0 = r * cos(t), z1 = r * sin(t);
        if (d->kind == LLMSIM_DIST_LOGNORMAL) {
            out[j] = llmsim_dist_clamp(d, exp(d->a + d->b * z0));
            out[j + 1] = llmsim_dist_clamp(d, exp(d->a + d->b * z1));
        } else {
            double x0 = d->a + d->b * z0, x1 = d->a + d->b * z1;
            out[j] = llmsim_dist_clamp(d, x0 >= 0.0 ? x0 : llmsim_trunc_normal(d, key, i, 1));
            out[j + 1] = llmsim_dist_clamp(
                d, x1 >= 0.0 ? x1 : llmsim_trunc_normal(d, key, i + 1, 1));
        }
    }
    if (j < n)
        out[j] = llmsim_dist_at(d, key, first + j);
}

#endif /* LLMSIM_DIST_H */
