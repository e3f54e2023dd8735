/* Sum of squared deviations from a centre: the inner loop of a standard deviation. */
#ifndef SUMSQ_H
#define SUMSQ_H

#include <stddef.h>

#define SUMSQ_OK 0
#define SUMSQ_ENULL 1 /* x is NULL while n > 0, or out is NULL */

/* *out = sum over i < n of (x[i] - center)^2.
 *
 * Summed with Neumaier compensation, so the result is within a few ulps of the exact sum whatever n
 * is. An infinite or NaN term gives +inf or NaN, as a plain sum would. Returns SUMSQ_OK or an error
 * code; *out is written only on success. */
int sumsq_dev(const double *x, size_t n, double center, double *out);

#endif /* SUMSQ_H */
