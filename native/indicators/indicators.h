/* Technical indicators over float64 arrays. Every output has the input's length; warm-up bars
 * are NaN. Semantics (and the numpy twins that match them) are documented in docs/native.md. */
#ifndef NT_INDICATORS_H
#define NT_INDICATORS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nt_common.h"

/* Exact rolling sums work on decimals with at most this many digits after the point. */
#define NT_MAX_DECIMALS 10

/* The decimal scale SMA uses for x and this window: the smallest d <= NT_MAX_DECIMALS such that
 * every non-NaN x[i] == rint(x[i] * 10^d) / 10^d and every window sum of the scaled integers
 * stays below 2^53; -1 when there is none (or x holds an infinity): then sums run in float. */
int nt_decimal_digits(const double *x, int64_t n, int64_t window, int32_t *digits);
int nt_sma(const double *x, int64_t n, int64_t window, double *out);
int nt_ema(const double *x, int64_t n, int64_t window, double *out);
int nt_rolling_std(const double *x, int64_t n, int64_t window, int32_t ddof, double *out);
int nt_zscore(const double *x, int64_t n, int64_t window, int32_t ddof, double *out);
int nt_bollinger(const double *x, int64_t n, int64_t window, double k, double *mid, double *upper, double *lower);
int nt_rsi(const double *x, int64_t n, int64_t window, double *out);
int nt_macd(const double *x, int64_t n, int64_t fast, int64_t slow, int64_t signal, double *macd, double *signal_line, double *hist);
int nt_atr(const double *high, const double *low, const double *close, int64_t n, int64_t window, double *out);
int nt_rolling_max(const double *x, int64_t n, int64_t window, double *out);
int nt_rolling_min(const double *x, int64_t n, int64_t window, double *out);
int nt_donchian(const double *high, const double *low, int64_t n, int64_t window, double *upper, double *mid, double *lower);
int nt_crossover(const double *fast, const double *slow, int64_t n, int8_t *out);

/* For other families (the simulation batch computes SMAs of many windows in one pass). */

/* rint() in the default rounding mode, spelled so it inlines and vectorizes on baseline x86-64
 * (SSE2 has no round instruction, and a libm call per element would dominate): adding and
 * subtracting 2^52 rounds |x| < 2^52 to an integer, ties to even; larger values are integers. */
static inline double nt_rint(double x) {
    const double two52 = 4503599627370496.0;
    const double a = fabs(x);
    const double r = copysign((a + two52) - two52, x);
    return a < two52 ? r : x;
}

/* rint(y) as an integer when |y| < 2^51, in two operations: adding 1.5 * 2^52 leaves y rounded
 * (ties to even) in the low bits of the sum's mantissa. */
static inline int64_t nt_round_small(double y) {
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    const double t = y + magic;
    int64_t bits, magic_bits;
    memcpy(&bits, &t, sizeof bits);
    memcpy(&magic_bits, &magic, sizeof magic_bits);
    return bits - magic_bits;
}

#define NT_SMALL_INT 2251799813685248.0 /* 2^51: nt_round_small's domain */

/* The representable decimal digits of x (window aside), -1 if none; *max_abs: max |rint(x*10^d)|. */
int32_t nt_representable_digits(const double *x, int64_t n, double *max_abs);
/* d if window sums of x at 10^d stay exact (the digits nt_sma uses for this window), else -1. */
int32_t nt_digits_for_window(int32_t d, double max_abs, int64_t window);
/* 10^d for 0 <= d <= NT_MAX_DECIMALS. */
double nt_pow10(int32_t d);

#endif
