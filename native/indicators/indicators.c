/* Technical indicators. Each function mirrors a numpy twin in
 * core/neural_trader/native/indicators_numpy.py operation for operation, so the two agree
 * bit for bit (the build forbids FMA contraction). Semantics: docs/native.md. */
#include "indicators.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h> /* baseline on every x86-64: no -march needed */
#endif

#define TWO53 9007199254740992.0

static const double POW10[NT_MAX_DECIMALS + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
};

static void fill_nan(double *out, int64_t from, int64_t to) {
    for (int64_t i = from; i < to; i++) out[i] = NAN;
}

/* ---- exact decimal rolling sums ------------------------------------------------------------ */

#define DIGITS_BLOCK 4096

/* Checks x[lo..hi) at scale s: returns nonzero if some non-NaN value is not the double nearest an
 * integer / s (or is infinite); raises *m_max to max |rint(x * s)| over the non-NaN values. */
static int digits_block(const double *x, int64_t lo, int64_t hi, double s, double *m_max) {
    int bad = 0;
    double mx = *m_max;
    int64_t i = lo;
#if defined(__SSE2__)
    /* The same IEEE operations two lanes at a time (the scalar loop below is the reference). */
    const __m128d vs = _mm_set1_pd(s), two52 = _mm_set1_pd(4503599627370496.0);
    const __m128d sign = _mm_set1_pd(-0.0), inf = _mm_set1_pd(INFINITY);
    __m128d vbad = _mm_setzero_pd(), vmax = _mm_set1_pd(mx);
    for (; i + 2 <= hi; i += 2) {
        const __m128d v = _mm_loadu_pd(x + i);
        const __m128d p = _mm_mul_pd(v, vs);
        const __m128d a = _mm_andnot_pd(sign, p);
        const __m128d r = _mm_or_pd(_mm_sub_pd(_mm_add_pd(a, two52), two52), _mm_and_pd(p, sign));
        const __m128d small = _mm_cmplt_pd(a, two52);
        const __m128d m = _mm_or_pd(_mm_and_pd(small, r), _mm_andnot_pd(small, p));
        const __m128d same = _mm_cmpeq_pd(_mm_div_pd(m, vs), v);
        const __m128d finite = _mm_cmplt_pd(_mm_andnot_pd(sign, v), inf);
        const __m128d nan = _mm_cmpunord_pd(v, v);
        const __m128d ok = _mm_or_pd(_mm_and_pd(same, finite), nan);
        vbad = _mm_or_pd(vbad, _mm_cmpeq_pd(ok, _mm_setzero_pd())); /* all-zero bits: not ok */
        vmax = _mm_max_pd(vmax, _mm_andnot_pd(nan, _mm_andnot_pd(sign, m)));
    }
    bad = _mm_movemask_pd(vbad) != 0;
    double lanes[2];
    _mm_storeu_pd(lanes, vmax);
    mx = lanes[0] > lanes[1] ? lanes[0] : lanes[1];
#endif
    for (; i < hi; i++) {
        const double v = x[i];
        if (v != v) continue;
        const double m = nt_rint(v * s);
        if (!(m / s == v) || fabs(v) == INFINITY) bad = 1;
        const double a = fabs(m);
        if (a > mx) mx = a;
    }
    *m_max = mx;
    return bad;
}

/* Smallest d whose scale turns every non-NaN value into an integer that maps back exactly;
 * -1 if none or if x holds an infinity. *max_abs receives max |rint(x * 10^d)|. */
static int32_t representable_digits(const double *x, int64_t n, double *max_abs) {
    *max_abs = 0.0;
    for (int32_t d = 0; d <= NT_MAX_DECIMALS; d++) {
        const double s = POW10[d];
        double m_max = 0.0;
        int bad = 0;
        for (int64_t lo = 0; lo < n && !bad; lo += DIGITS_BLOCK) {
            bad = digits_block(x, lo, lo + DIGITS_BLOCK < n ? lo + DIGITS_BLOCK : n, s, &m_max);
            /* an infinity (or an overflow of x * 10^d) fails every larger scale too */
            if (bad && m_max == INFINITY) return -1;
        }
        if (!bad) {
            *max_abs = m_max;
            return d;
        }
    }
    return -1;
}

/* Every window sum (and the divisor window * 10^d) must stay an exact double. */
static int32_t digits_for_window(int32_t d, double max_abs, int64_t window) {
    if (d < 0) return -1;
    if (!((double)window * POW10[d] < TWO53) || !(max_abs * (double)window < TWO53)) return -1;
    return d;
}

int nt_decimal_digits(const double *x, int64_t n, int64_t window, int32_t *digits) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    double max_abs;
    const int32_t d = representable_digits(x, n, &max_abs);
    *digits = digits_for_window(d, max_abs, window);
    return NT_OK;
}

/* The mean of window values, the exact way when d >= 0: the integer sum is exact and the single
 * division is correctly rounded, so two windows with equal true means give identical doubles. */
static void sma_core(const double *x, int64_t n, int64_t window, int32_t d, double max_abs, double *out) {
    if (window > n) {
        fill_nan(out, 0, n);
        return;
    }
    fill_nan(out, 0, window - 1);
    if (d >= 0) {
        const double s = POW10[d];
        /* Each value is scaled twice (entering and leaving the window) rather than stored:
         * cheaper than a scratch array of n integers. */
        int64_t sum = 0, nans = 0;
        if (max_abs < NT_SMALL_INT) { /* always, for prices; the same integers, found faster */
            for (int64_t i = 0; i < n; i++) {
                const double v = x[i];
                if (v == v) sum += nt_round_small(v * s);
                else nans++;
                if (i >= window) {
                    const double old = x[i - window];
                    if (old == old) sum -= nt_round_small(old * s);
                    else nans--;
                }
                if (i >= window - 1) out[i] = nans ? NAN : (double)sum;
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                const double v = x[i];
                if (v == v) sum += (int64_t)nt_rint(v * s);
                else nans++;
                if (i >= window) {
                    const double old = x[i - window];
                    if (old == old) sum -= (int64_t)nt_rint(old * s);
                    else nans--;
                }
                if (i >= window - 1) out[i] = nans ? NAN : (double)sum;
            }
        }
        /* The divisions in a loop of their own: independent, so they vectorize and pipeline. */
        const double denom = (double)window * s;
        for (int64_t i = window - 1; i < n; i++) out[i] = out[i] / denom;
    } else {
        /* Fallback: every window summed afresh in index order: no drift, no reassociation. */
        const double w = (double)window;
        for (int64_t i = window - 1; i < n; i++) {
            double acc = 0.0;
            for (int64_t k = i - window + 1; k <= i; k++) acc += x[k];
            out[i] = acc / w;
        }
    }
}

int nt_sma(const double *x, int64_t n, int64_t window, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    double max_abs;
    const int32_t rep = representable_digits(x, n, &max_abs);
    sma_core(x, n, window, digits_for_window(rep, max_abs, window), max_abs, out);
    return NT_OK;
}

int32_t nt_representable_digits(const double *x, int64_t n, double *max_abs) {
    return representable_digits(x, n, max_abs);
}

int32_t nt_digits_for_window(int32_t d, double max_abs, int64_t window) {
    return digits_for_window(d, max_abs, window);
}

double nt_pow10(int32_t d) { return POW10[d]; }

/* ---- dispersion ---------------------------------------------------------------------------- */

/* sd[i] = sqrt(sum((x[k] - mean[i])^2) / (window - ddof)) over the window, summed in index
 * order after the (exact) mean: two passes, so no cancellation from a running sum of squares. */
static void std_core(const double *x, int64_t n, int64_t window, int32_t ddof, const double *mean, double *sd) {
    if (window > n) {
        fill_nan(sd, 0, n);
        return;
    }
    fill_nan(sd, 0, window - 1);
    const double div = (double)(window - ddof);
    int64_t i = window - 1;
#if defined(__SSE2__)
    /* Four outputs at a time, one lane each, every lane summing its own window in index order:
     * the scalar loop's operations exactly, four independent chains instead of one. */
    const __m128d vdiv = _mm_set1_pd(div);
    for (; i + 4 <= n; i += 4) {
        const __m128d m01 = _mm_loadu_pd(mean + i), m23 = _mm_loadu_pd(mean + i + 2);
        __m128d a01 = _mm_setzero_pd(), a23 = _mm_setzero_pd();
        for (int64_t j = i - window + 1; j <= i; j++) {
            const __m128d d01 = _mm_sub_pd(_mm_loadu_pd(x + j), m01);
            const __m128d d23 = _mm_sub_pd(_mm_loadu_pd(x + j + 2), m23);
            a01 = _mm_add_pd(a01, _mm_mul_pd(d01, d01));
            a23 = _mm_add_pd(a23, _mm_mul_pd(d23, d23));
        }
        _mm_storeu_pd(sd + i, _mm_sqrt_pd(_mm_div_pd(a01, vdiv)));
        _mm_storeu_pd(sd + i + 2, _mm_sqrt_pd(_mm_div_pd(a23, vdiv)));
    }
#endif
    for (; i < n; i++) {
        const double m = mean[i];
        double acc = 0.0;
        for (int64_t k = i - window + 1; k <= i; k++) {
            const double dev = x[k] - m;
            acc += dev * dev;
        }
        sd[i] = sqrt(acc / div);
    }
}

static int check_std_args(int64_t n, int64_t window, int32_t ddof) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    if (ddof < 0 || (int64_t)ddof >= window) return NT_STATUS(NT_E_RANGE, 4);
    return NT_OK;
}

int nt_rolling_std(const double *x, int64_t n, int64_t window, int32_t ddof, double *out) {
    const int st = check_std_args(n, window, ddof);
    if (st != NT_OK) return st;
    if (n == 0) return NT_OK;
    double *mean = malloc(sizeof(double) * (size_t)n);
    if (!mean) return NT_STATUS(NT_E_NOMEM, 5);
    if (nt_sma(x, n, window, mean) != NT_OK) {
        free(mean);
        return NT_STATUS(NT_E_NOMEM, 5);
    }
    std_core(x, n, window, ddof, mean, out);
    free(mean);
    return NT_OK;
}

int nt_zscore(const double *x, int64_t n, int64_t window, int32_t ddof, double *out) {
    const int st = check_std_args(n, window, ddof);
    if (st != NT_OK) return st;
    if (n == 0) return NT_OK;
    double *mean = malloc(sizeof(double) * (size_t)n);
    if (!mean) return NT_STATUS(NT_E_NOMEM, 5);
    if (nt_sma(x, n, window, mean) != NT_OK) {
        free(mean);
        return NT_STATUS(NT_E_NOMEM, 5);
    }
    std_core(x, n, window, ddof, mean, out);
    for (int64_t i = 0; i < n; i++) {
        const double sd = out[i];
        out[i] = sd == 0.0 ? NAN : (x[i] - mean[i]) / sd;
    }
    free(mean);
    return NT_OK;
}

int nt_bollinger(const double *x, int64_t n, int64_t window, double k, double *mid, double *upper, double *lower) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    if (!(k >= 0.0) || isinf(k)) return NT_STATUS(NT_E_RANGE, 4);
    if (nt_sma(x, n, window, mid) != NT_OK) return NT_STATUS(NT_E_NOMEM, 5);
    std_core(x, n, window, 0, mid, upper); /* the band width, population sd as in Bollinger's book */
    for (int64_t i = 0; i < n; i++) {
        const double width = k * upper[i];
        upper[i] = mid[i] + width;
        lower[i] = mid[i] - width;
    }
    return NT_OK;
}

/* ---- recursive averages -------------------------------------------------------------------- */

static int64_t first_valid(const double *x, int64_t n) {
    int64_t i = 0;
    while (i < n && isnan(x[i])) i++;
    return i;
}

/* Seed: the plain mean of the first `window` values from the first non-NaN one, summed in index
 * order; then out[i] = alpha * x[i] + (1 - alpha) * out[i-1]. A later NaN propagates. */
static void ema_core(const double *x, int64_t n, int64_t window, double *out) {
    const int64_t f = first_valid(x, n);
    if (f + window > n) {
        fill_nan(out, 0, n);
        return;
    }
    fill_nan(out, 0, f + window - 1);
    double acc = 0.0;
    for (int64_t k = f; k < f + window; k++) acc += x[k];
    double e = acc / (double)window;
    out[f + window - 1] = e;
    const double alpha = 2.0 / ((double)window + 1.0);
    const double beta = 1.0 - alpha;
    for (int64_t i = f + window; i < n; i++) {
        e = alpha * x[i] + beta * e;
        out[i] = e;
    }
}

/* Wilder's smoothing as backtrader's SmoothedMovingAverage computes it: the same seed, then
 * out[i] = out[i-1] * (1 - 1/window) + x[i] * (1/window) (no division on the dependency chain).
 * Safe in place (out == x): every x[i] is read before out[i] is written. */
static void wilder_core(const double *x, int64_t n, int64_t window, double *out) {
    const int64_t f = first_valid(x, n);
    if (f + window > n) {
        fill_nan(out, 0, n);
        return;
    }
    double acc = 0.0;
    for (int64_t k = f; k < f + window; k++) acc += x[k];
    const double alpha = 1.0 / (double)window;
    const double alpha1 = 1.0 - alpha;
    double e = acc / (double)window;
    out[f + window - 1] = e;
    for (int64_t i = f + window; i < n; i++) {
        e = e * alpha1 + x[i] * alpha;
        out[i] = e;
    }
    fill_nan(out, 0, f + window - 1);
}

static inline double rsi_of(double g, double l) {
    if (l == 0.0) return g == 0.0 ? 50.0 : 100.0;
    return 100.0 - 100.0 / (1.0 + g / l);
}

int nt_ema(const double *x, int64_t n, int64_t window, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    ema_core(x, n, window, out);
    return NT_OK;
}

int nt_rsi(const double *x, int64_t n, int64_t window, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    /* Gains and losses of each change, Wilder-smoothed side by side (two independent chains),
     * starting at the first change that is not NaN; a later NaN propagates. */
    int64_t f = 1;
    while (f < n && isnan(x[f] - x[f - 1])) f++;
    if (f + window > n) {
        fill_nan(out, 0, n);
        return NT_OK;
    }
    fill_nan(out, 0, f + window - 1);
    double ag = 0.0, al = 0.0;
    for (int64_t k = f; k < f + window; k++) {
        const double d = x[k] - x[k - 1];
        ag += isnan(d) ? d : (d > 0.0 ? d : 0.0);
        al += isnan(d) ? d : (d < 0.0 ? -d : 0.0);
    }
    const double w = (double)window;
    const double alpha = 1.0 / w;
    const double alpha1 = 1.0 - alpha;
    ag = ag / w;
    al = al / w;
    out[f + window - 1] = rsi_of(ag, al);
    for (int64_t i = f + window; i < n; i++) {
        const double d = x[i] - x[i - 1];
        const double g = isnan(d) ? d : (d > 0.0 ? d : 0.0);
        const double l = isnan(d) ? d : (d < 0.0 ? -d : 0.0);
        ag = ag * alpha1 + g * alpha;
        al = al * alpha1 + l * alpha;
        out[i] = rsi_of(ag, al);
    }
    return NT_OK;
}

int nt_macd(const double *x, int64_t n, int64_t fast, int64_t slow, int64_t signal, double *macd, double *signal_line, double *hist) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (fast < 1) return NT_STATUS(NT_E_RANGE, 3);
    if (slow <= fast) return NT_STATUS(NT_E_RANGE, 4);
    if (signal < 1) return NT_STATUS(NT_E_RANGE, 5);
    ema_core(x, n, fast, macd);
    ema_core(x, n, slow, hist); /* scratch for the slow EMA */
    for (int64_t i = 0; i < n; i++) macd[i] = macd[i] - hist[i];
    ema_core(macd, n, signal, signal_line);
    for (int64_t i = 0; i < n; i++) hist[i] = macd[i] - signal_line[i];
    return NT_OK;
}

int nt_atr(const double *high, const double *low, const double *close, int64_t n, int64_t window, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 4);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 5);
    if (n == 0) return NT_OK;
    out[0] = NAN; /* no previous close: no true range */
    for (int64_t i = 1; i < n; i++) {
        const double hl = high[i] - low[i];
        const double hc = fabs(high[i] - close[i - 1]);
        const double lc = fabs(low[i] - close[i - 1]);
        if (isnan(hl) || isnan(hc) || isnan(lc)) {
            out[i] = NAN;
        } else {
            const double m = hl > hc ? hl : hc;
            out[i] = m > lc ? m : lc;
        }
    }
    wilder_core(out, n, window, out);
    return NT_OK;
}

/* ---- rolling extremes ---------------------------------------------------------------------- */

/* Monotonic deque of indices in a ring buffer; a window holding a NaN yields NaN. */
static int rolling_extreme(const double *x, int64_t n, int64_t window, int want_max, double *out) {
    if (window > n) {
        fill_nan(out, 0, n);
        return NT_OK;
    }
    fill_nan(out, 0, window - 1);
    const int64_t cap = window;
    int64_t *dq = malloc(sizeof(int64_t) * (size_t)cap);
    if (!dq) return NT_E_NOMEM;
    int64_t head = 0, size = 0, nans = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i >= window) { /* first let x[i - window] leave, so the deque never exceeds the window */
            if (isnan(x[i - window])) nans--;
            if (size > 0 && dq[head] <= i - window) {
                head = (head + 1) % cap;
                size--;
            }
        }
        const double v = x[i];
        if (isnan(v)) {
            nans++;
        } else {
            while (size > 0) {
                const double b = x[dq[(head + size - 1) % cap]];
                if (want_max ? b <= v : b >= v) size--;
                else break;
            }
            dq[(head + size) % cap] = i;
            size++;
        }
        if (i >= window - 1) out[i] = (nans || size == 0) ? NAN : x[dq[head]];
    }
    free(dq);
    return NT_OK;
}

int nt_rolling_max(const double *x, int64_t n, int64_t window, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    return rolling_extreme(x, n, window, 1, out) == NT_OK ? NT_OK : NT_STATUS(NT_E_NOMEM, 4);
}

int nt_rolling_min(const double *x, int64_t n, int64_t window, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    return rolling_extreme(x, n, window, 0, out) == NT_OK ? NT_OK : NT_STATUS(NT_E_NOMEM, 4);
}

int nt_donchian(const double *high, const double *low, int64_t n, int64_t window, double *upper, double *mid, double *lower) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 3);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 4);
    if (rolling_extreme(high, n, window, 1, upper) != NT_OK) return NT_STATUS(NT_E_NOMEM, 5);
    if (rolling_extreme(low, n, window, 0, lower) != NT_OK) return NT_STATUS(NT_E_NOMEM, 7);
    for (int64_t i = 0; i < n; i++) mid[i] = (upper[i] + lower[i]) / 2.0;
    return NT_OK;
}

/* ---- crossover ----------------------------------------------------------------------------- */

/* backtrader's CrossOver: +1 when fast > slow now and the last non-zero fast - slow before this
 * bar was negative, -1 for the mirror case, else 0. A tie keeps the last sign; a NaN forgets it. */
int nt_crossover(const double *fast, const double *slow, int64_t n, int8_t *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 3);
    int8_t state = 0;
    for (int64_t i = 0; i < n; i++) {
        const double f = fast[i], s = slow[i];
        int8_t o = 0;
        if (f > s) {
            if (state == -1) o = 1;
            state = 1;
        } else if (f < s) {
            if (state == 1) o = -1;
            state = -1;
        } else if (!(f == s)) {
            state = 0;
        }
        out[i] = o;
    }
    return NT_OK;
}
