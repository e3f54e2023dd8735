/* Risk kernels; see risk.h for the contracts. The numpy twin (neural_trader.native._risk_numpy)
 * performs the same floating-point operations in the same order, so the two agree bit for bit:
 * keep them in step. */
#include "risk.h"

#include <math.h>
#include <string.h>

#include "ziggurat_tables.h"

/* --- xoshiro256++ (Blackman & Vigna), SplitMix64 seeding ------------------------------------ */

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t xoshiro_next(uint64_t *s) {
    const uint64_t result = rotl(s[0] + s[3], 23) + s[0];
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Advance by 2^128 steps: 2^128 non-overlapping draws per stream. */
static void xoshiro_jump(uint64_t *s) {
    static const uint64_t JUMP[4] = {UINT64_C(0x180ec6d33cfd0aba), UINT64_C(0xd5a61266f0c9392c),
                                     UINT64_C(0xa9582618e03fc9aa), UINT64_C(0x39abdc4529b1661c)};
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 64; b++) {
            if (JUMP[i] & (UINT64_C(1) << b)) {
                s0 ^= s[0];
                s1 ^= s[1];
                s2 ^= s[2];
                s3 ^= s[3];
            }
            xoshiro_next(s);
        }
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

int nt_risk_seed_streams(uint64_t seed, int64_t n_streams, uint64_t *states) {
    if (n_streams < 0) return NT_STATUS(NT_E_LENGTH, 2);
    uint64_t s[4];
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s[i] = splitmix64(&x);
    for (int64_t c = 0; c < n_streams; c++) {
        if (c > 0) xoshiro_jump(s);
        memcpy(states + 4 * c, s, sizeof s);
    }
    return NT_OK;
}

int nt_risk_raw(uint64_t *state, int64_t n, uint64_t *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    for (int64_t i = 0; i < n; i++) out[i] = xoshiro_next(state);
    return NT_OK;
}

/* --- ziggurat normal sampler ---------------------------------------------------------------- */

/* Uniform on [0, 1) from the top 53 bits. */
/* (int64_t) casts: the values fit in 53 bits, and a signed conversion is one instruction on x86-64
 * where an unsigned one is a branchy sequence. */
static inline double uniform01(uint64_t *s) { return (double)(int64_t)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

/* One draw: bits 0-7 pick the layer, bit 8 the sign, bits 12-63 the 52-bit position. */
static inline double normal(uint64_t *s) {
    for (;;) {
        const uint64_t r = xoshiro_next(s);
        const int idx = (int)(r & 0xff);
        const uint64_t u = r >> 12;
        double x = (double)(int64_t)u * nt_zig_w[idx];
        if (r & 0x100) x = -x;
        if (u < nt_zig_k[idx]) return x;
        if (idx == 0) {
            /* Beyond R: Marsaglia's exponential-proposal tail. */
            for (;;) {
                const double xx = -log1p(-uniform01(s)) / NT_ZIG_R;
                const double yy = -log1p(-uniform01(s));
                if (yy + yy > xx * xx) return (r & 0x100) ? -(NT_ZIG_R + xx) : NT_ZIG_R + xx;
            }
        }
        if (nt_zig_f[idx] + uniform01(s) * (nt_zig_f[idx + 1] - nt_zig_f[idx]) < exp(-0.5 * x * x)) return x;
    }
}

int nt_risk_normals(uint64_t *state, int64_t n, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    for (int64_t i = 0; i < n; i++) out[i] = normal(state);
    return NT_OK;
}

/* --- matrices ------------------------------------------------------------------------------- */

static void set_info(int64_t *info, int64_t reason, int64_t where) {
    if (info) {
        info[0] = reason;
        info[1] = where;
    }
}

static inline void swap_d(double *a, int64_t i, int64_t j) {
    const double t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Pivoted Cholesky (the largest remaining diagonal first, as LAPACK's dpstrf): cov[perm][:, perm]
 * = L L^T. Pivoting keeps a nearly singular covariance from amplifying rounding into a false
 * "not PSD". Stops when every remaining diagonal is <= tol; what is left must then be zero
 * within rounding, or the matrix was not PSD. Returns 0 or the nt_risk_reason (info says where). */
static int cholesky(int64_t n, const double *a, double *w, double *l, int64_t *perm, int64_t *rank,
                    int64_t *info) {
    *rank = 0;
    for (int64_t i = 0; i < n * n; i++) {
        if (!isfinite(a[i])) {
            set_info(info, NT_RISK_NONFINITE, i);
            return NT_RISK_NONFINITE;
        }
    }
    double max_diag = 0.0;
    for (int64_t i = 0; i < n; i++) max_diag = fmax(max_diag, fabs(a[i * n + i]));
    const double sym_tol = 1e-10 * max_diag;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < i; j++) {
            if (fabs(a[i * n + j] - a[j * n + i]) > sym_tol) {
                set_info(info, NT_RISK_ASYMMETRIC, i * n + j);
                return NT_RISK_ASYMMETRIC;
            }
        }
    }
    /* A remaining pivot <= tol counts as zero; in a PSD matrix the rest of the Schur complement is
     * then bounded by sqrt(tol * max_diag). */
    const double tol = 1e-12 * max_diag;
    const double off_tol = 1e-6 * max_diag;
    memcpy(w, a, (size_t)(n * n) * sizeof(double));
    memset(l, 0, (size_t)(n * n) * sizeof(double));
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    int64_t r = 0;
    for (; r < n; r++) {
        int64_t p = r;
        for (int64_t i = r + 1; i < n; i++) {
            if (w[i * n + i] > w[p * n + p]) p = i;
        }
        if (!(w[p * n + p] > tol)) break;
        if (p != r) {
            for (int64_t k = 0; k < n; k++) swap_d(w, r * n + k, p * n + k);
            for (int64_t k = 0; k < n; k++) swap_d(w, k * n + r, k * n + p);
            for (int64_t k = 0; k < r; k++) swap_d(l, r * n + k, p * n + k);
            const int64_t t = perm[r];
            perm[r] = perm[p];
            perm[p] = t;
        }
        const double d = sqrt(w[r * n + r]);
        l[r * n + r] = d;
        for (int64_t i = r + 1; i < n; i++) l[i * n + r] = w[i * n + r] / d;
        for (int64_t i = r + 1; i < n; i++) {
            for (int64_t k = r + 1; k < n; k++) w[i * n + k] = w[i * n + k] - l[i * n + r] * l[k * n + r];
        }
    }
    *rank = r;
    for (int64_t i = r; i < n; i++) {
        for (int64_t k = r; k < n; k++) {
            const double v = w[i * n + k];
            if (i == k ? v < -tol : fabs(v) > off_tol) {
                set_info(info, NT_RISK_NOT_PSD, perm[i]);
                return NT_RISK_NOT_PSD;
            }
        }
    }
    set_info(info, NT_RISK_FINE, -1);
    return 0;
}

int nt_risk_cholesky(int64_t n, const double *cov, double *work, double *lower, int64_t *perm, int64_t *rank,
                     int64_t *info) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 1);
    return cholesky(n, cov, work, lower, perm, rank, info) ? NT_STATUS(NT_E_RANGE, 2) : NT_OK;
}

/* Both covariances work on deviations from the first row, d = x - x[0], so that a constant column
 * has exactly zero variance and large levels do not cost precision. */
int nt_risk_covariance(int64_t t, int64_t n, const double *returns, int64_t ddof, double *scratch, double *out) {
    if (t < 0) return NT_STATUS(NT_E_LENGTH, 1);
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (ddof < 0) return NT_STATUS(NT_E_RANGE, 4);
    double *mean = scratch; /* mean of d per column */
    for (int64_t j = 0; j < n; j++) {
        double s = 0.0;
        for (int64_t i = 0; i < t; i++) s = s + (returns[i * n + j] - returns[j]);
        mean[j] = s / (double)t;
    }
    for (int64_t j = 0; j < n * n; j++) out[j] = 0.0;
    for (int64_t i = 0; i < t; i++) {
        const double *row = returns + i * n;
        for (int64_t j = 0; j < n; j++) {
            const double dj = (row[j] - returns[j]) - mean[j];
            for (int64_t k = j; k < n; k++) out[j * n + k] = out[j * n + k] + dj * ((row[k] - returns[k]) - mean[k]);
        }
    }
    const double fact = t - ddof > 0 ? (double)(t - ddof) : NAN;
    for (int64_t j = 0; j < n; j++) {
        for (int64_t k = j; k < n; k++) {
            out[j * n + k] = out[j * n + k] / fact;
            out[k * n + j] = out[j * n + k];
        }
    }
    return NT_OK;
}

int nt_risk_ewma_covariance(int64_t t, int64_t n, const double *returns, double lam, int demean, double *scratch,
                            double *out) {
    if (t < 0) return NT_STATUS(NT_E_LENGTH, 1);
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 2);
    if (!(lam > 0.0 && lam <= 1.0)) return NT_STATUS(NT_E_RANGE, 4);
    double sw = 0.0;
    double w = 1.0;
    for (int64_t i = t - 1; i >= 0; i--) {
        sw = sw + w;
        w = w * lam;
    }
    /* Demeaned: deviations from the first row minus their weighted mean. Zero mean: x itself. */
    double *mean = scratch;
    for (int64_t j = 0; j < n; j++) {
        double s = 0.0;
        w = 1.0;
        if (demean) {
            for (int64_t i = t - 1; i >= 0; i--) {
                s = s + w * (returns[i * n + j] - returns[j]);
                w = w * lam;
            }
            mean[j] = s / sw;
        } else {
            mean[j] = 0.0;
        }
    }
    const double *shift = demean ? returns : mean;
    for (int64_t j = 0; j < n * n; j++) out[j] = 0.0;
    w = 1.0;
    for (int64_t i = t - 1; i >= 0; i--) {
        const double *row = returns + i * n;
        for (int64_t j = 0; j < n; j++) {
            const double wd = w * ((row[j] - shift[j]) - mean[j]);
            for (int64_t k = j; k < n; k++) out[j * n + k] = out[j * n + k] + wd * ((row[k] - shift[k]) - mean[k]);
        }
        w = w * lam;
    }
    for (int64_t j = 0; j < n; j++) {
        for (int64_t k = j; k < n; k++) {
            out[j * n + k] = out[j * n + k] / sw;
            out[k * n + j] = out[j * n + k];
        }
    }
    return NT_OK;
}

int nt_risk_cov_to_corr(int64_t n, const double *cov, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 1);
    for (int64_t i = 0; i < n; i++) {
        const double si = sqrt(cov[i * n + i]);
        for (int64_t j = 0; j < n; j++) {
            double v = cov[i * n + j] / si / sqrt(cov[j * n + j]);
            if (v > 1.0) v = 1.0;
            else if (v < -1.0) v = -1.0;
            out[i * n + j] = v;
        }
    }
    return NT_OK;
}

/* --- selection and the tail ----------------------------------------------------------------- */

/* Floyd & Rivest (1975) SELECT: afterwards a[k] is the k-th smallest of a[left..right], with
 * nothing larger before it and nothing smaller after it. a holds no NaN. */
static void select_kth(double *a, int64_t left, int64_t right, int64_t k) {
    while (right > left) {
        if (right - left > 600) {
            const double n = (double)(right - left + 1);
            const double i = (double)(k - left + 1);
            const double z = log(n);
            const double s = 0.5 * exp(2.0 * z / 3.0);
            const double sd = 0.5 * sqrt(z * s * (n - s) / n) * (i - n / 2.0 < 0.0 ? -1.0 : 1.0);
            int64_t new_left = (int64_t)((double)k - i * s / n + sd);
            int64_t new_right = (int64_t)((double)k + (n - i) * s / n + sd);
            if (new_left < left) new_left = left;
            if (new_right > right) new_right = right;
            select_kth(a, new_left, new_right, k);
        }
        const double t = a[k];
        int64_t i = left;
        int64_t j = right;
        swap_d(a, left, k);
        if (a[right] > t) swap_d(a, right, left);
        while (i < j) {
            swap_d(a, i, j);
            i++;
            j--;
            while (a[i] < t) i++;
            while (a[j] > t) j--;
        }
        if (a[left] == t) {
            swap_d(a, left, j);
        } else {
            j++;
            swap_d(a, j, right);
        }
        if (j <= k) left = j + 1;
        if (k <= j) right = j - 1;
    }
}

/* Correctly rounded summation (Shewchuk 1997, as Python's math.fsum): the result does not depend
 * on the order of the terms, so the tail is summed as selection left it, without sorting, and the
 * numpy twin can use math.fsum itself. Finite terms only. */
#define NT_FSUM_PARTIALS 64 /* non-overlapping doubles: at most about 2098 / 53 of them */

typedef struct {
    double p[NT_FSUM_PARTIALS];
    int n;
    int overflow; /* an intermediate sum overflowed: redo with halved terms */
} fsum_acc;

static void fsum_add(fsum_acc *s, double x) {
    int i = 0;
    for (int j = 0; j < s->n; j++) {
        double y = s->p[j];
        if (fabs(x) < fabs(y)) {
            const double t = x;
            x = y;
            y = t;
        }
        const double hi = x + y;
        const double lo = y - (hi - x);
        if (lo != 0.0) s->p[i++] = lo;
        x = hi;
    }
    s->n = i;
    if (x != 0.0) {
        if (!isfinite(x) || s->n == NT_FSUM_PARTIALS) {
            s->overflow = 1;
            return;
        }
        s->p[s->n++] = x;
    }
}

static double fsum_value(const fsum_acc *s) {
    int n = s->n;
    double hi = 0.0, lo = 0.0;
    if (n > 0) {
        hi = s->p[--n];
        while (n > 0) {
            const double x = hi;
            const double y = s->p[--n];
            hi = x + y;
            lo = y - (hi - x);
            if (lo != 0.0) break;
        }
        /* half-even rounding across partials */
        if (n > 0 && ((lo < 0.0 && s->p[n - 1] < 0.0) || (lo > 0.0 && s->p[n - 1] > 0.0))) {
            const double y = lo * 2.0;
            const double x = hi + y;
            if (y == x - hi) hi = x;
        }
    }
    return hi;
}

/* Mean of the values of x[from..to) that are >= v, plus `extra` copies of v: the correctly rounded
 * sum divided by the count, kept within [v, max]. If the sum overflows, the terms are scaled by
 * 2^-k >= 1/count first (exactly, for normal numbers). */
static double tail_mean(const double *x, int64_t from, int64_t to, double v, int64_t extra) {
    fsum_acc acc;
    double top = v, scale = 1.0;
    int64_t count = extra;
    for (int pass = 0; pass < 2; pass++) {
        acc.n = 0;
        acc.overflow = 0;
        top = v;
        count = extra;
        for (int64_t i = 0; i < extra; i++) fsum_add(&acc, v * scale);
        for (int64_t i = from; i < to; i++) {
            if (x[i] >= v) {
                fsum_add(&acc, x[i] * scale);
                top = x[i] > top ? x[i] : top;
                count++;
            }
        }
        if (!acc.overflow) break;
        int k = 0;
        while (((int64_t)1 << k) < count) k++;
        scale = ldexp(1.0, -k);
    }
    const double mean = fsum_value(&acc) / (double)count / scale;
    return mean < v ? v : (mean > top ? top : mean);
}

/* Where numpy's 'linear' quantile of m sorted values looks (its arithmetic included): the two
 * order statistics prev <= next and the weight gamma of next. */
static void quantile_index(int64_t m, double confidence, int64_t *prev, int64_t *next, double *gamma) {
    const double vi = (double)(m - 1) * confidence;
    const double below = floor(vi);
    if (vi >= (double)(m - 1)) {
        *prev = *next = m - 1;
    } else {
        *prev = (int64_t)below;
        *next = *prev + 1;
    }
    *gamma = vi - below;
}

/* numpy's _lerp: a + (b - a) * g, or b - (b - a) * (1 - g) from the upper end when g >= 0.5. */
static inline double lerp(double a, double b, double gamma) {
    const double diff = b - a;
    return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

/* VaR and CVaR of m >= 1 finite values, reordering them (selection, no sort). */
static void var_cvar(int64_t m, double *x, double confidence, double *var, double *cvar) {
    int64_t prev, next;
    double gamma;
    quantile_index(m, confidence, &prev, &next, &gamma);
    select_kth(x, 0, m - 1, prev);
    const double a = x[prev];
    double b = a;
    if (next != prev) {
        b = x[next];
        for (int64_t i = next + 1; i < m; i++) b = x[i] < b ? x[i] : b;
    }
    const double v = lerp(a, b, gamma);
    /* The tail {x >= v}. Before prev nothing exceeds a, so only values equal to v == a count there. */
    int64_t equal_before = 0;
    if (v == a) {
        for (int64_t i = 0; i < prev; i++) equal_before += x[i] == v;
    }
    *var = v;
    *cvar = tail_mean(x, prev, m, v, equal_before);
}

/* First index of sorted s[0..m) holding a value >= v. */
static int64_t lower_bound(const double *s, int64_t m, double v) {
    int64_t lo = 0, hi = m;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (s[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int bad_confidence(double confidence) { return !(confidence > 0.0 && confidence < 1.0); }

/* --- Monte Carlo ---------------------------------------------------------------------------- */

int nt_risk_mc_prepare(int64_t n, const double *weights, const double *means, const double *cov,
                       double *work, double *lower, int64_t *perm, double *loading, double *mean,
                       int64_t *info) {
    set_info(info, NT_RISK_FINE, -1);
    if (n < 1) return NT_STATUS(NT_E_LENGTH, 1);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(weights[i])) {
            set_info(info, NT_RISK_NONFINITE, i);
            return NT_STATUS(NT_E_RANGE, 2);
        }
    }
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(means[i])) {
            set_info(info, NT_RISK_NONFINITE, i);
            return NT_STATUS(NT_E_RANGE, 3);
        }
    }
    int64_t rank;
    if (cholesky(n, cov, work, lower, perm, &rank, info)) return NT_STATUS(NT_E_RANGE, 4);
    double mu = 0.0;
    for (int64_t i = 0; i < n; i++) mu = mu + weights[i] * means[i];
    *mean = mu;
    int finite = isfinite(mu);
    for (int64_t k = 0; k < n; k++) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s = s + lower[i * n + k] * weights[perm[i]];
        loading[k] = s;
        finite = finite && isfinite(s);
    }
    if (!finite) {
        set_info(info, NT_RISK_OVERFLOW, -1);
        return NT_STATUS(NT_E_RANGE, 2);
    }
    return NT_OK;
}

int nt_risk_mc_losses(int64_t n, const double *loading, double mean, const uint64_t *states,
                      int64_t n_scenarios, int64_t chunk_begin, int64_t chunk_end, double *losses) {
    if (n < 1) return NT_STATUS(NT_E_LENGTH, 1);
    if (n_scenarios < 0) return NT_STATUS(NT_E_LENGTH, 5);
    const int64_t n_chunks = (n_scenarios + NT_RISK_MC_CHUNK - 1) / NT_RISK_MC_CHUNK;
    if (chunk_begin < 0 || chunk_begin > n_chunks) return NT_STATUS(NT_E_RANGE, 6);
    if (chunk_end < chunk_begin || chunk_end > n_chunks) return NT_STATUS(NT_E_RANGE, 7);
    for (int64_t c = chunk_begin; c < chunk_end; c++) {
        uint64_t s[4];
        memcpy(s, states + 4 * c, sizeof s);
        const int64_t start = c * NT_RISK_MC_CHUNK;
        const int64_t stop = start + NT_RISK_MC_CHUNK < n_scenarios ? start + NT_RISK_MC_CHUNK : n_scenarios;
        for (int64_t i = start; i < stop; i++) {
            double acc = mean;
            for (int64_t k = 0; k < n; k++) acc = acc + loading[k] * normal(s);
            losses[i] = 0.0 - acc;
        }
    }
    return NT_OK;
}

int nt_risk_var_cvar(int64_t n, double *losses, double confidence, double *var, double *cvar) {
    if (n < 1) return NT_STATUS(NT_E_LENGTH, 1);
    if (bad_confidence(confidence)) return NT_STATUS(NT_E_RANGE, 3);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(losses[i])) return NT_STATUS(NT_E_RANGE, 2);
    }
    var_cvar(n, losses, confidence, var, cvar);
    return NT_OK;
}

/* --- historical ----------------------------------------------------------------------------- */

/* Copies the non-NaN losses of returns[0..n) into scratch; -1 if one is infinite. */
static int64_t gather_losses(int64_t n, const double *returns, double *scratch) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        const double r = returns[i];
        if (isnan(r)) continue;
        if (isinf(r)) return -1;
        scratch[m++] = 0.0 - r;
    }
    return m;
}

int nt_risk_hist_var(int64_t n, const double *returns, double confidence, double *scratch,
                     double *var, double *cvar) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 1);
    if (bad_confidence(confidence)) return NT_STATUS(NT_E_RANGE, 3);
    const int64_t m = gather_losses(n, returns, scratch);
    if (m < 0) return NT_STATUS(NT_E_RANGE, 2);
    if (m == 0) {
        *var = *cvar = NAN;
        return NT_OK;
    }
    var_cvar(m, scratch, confidence, var, cvar);
    return NT_OK;
}

/* The window's non-NaN losses are kept sorted in scratch (one insertion and one removal a step),
 * so each VaR is read off directly; the tail's correctly rounded sum makes the result the same as
 * nt_risk_hist_var's on that window. */
int nt_risk_rolling_hist_var(int64_t n, const double *returns, int64_t window, double confidence,
                             double *scratch, double *var, double *cvar) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 1);
    if (window < 1) return NT_STATUS(NT_E_RANGE, 3);
    if (bad_confidence(confidence)) return NT_STATUS(NT_E_RANGE, 4);
    for (int64_t i = 0; i < n; i++) {
        if (isinf(returns[i])) return NT_STATUS(NT_E_RANGE, 2);
    }
    double *s = scratch;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i >= window && !isnan(returns[i - window])) {
            const int64_t k = lower_bound(s, m, 0.0 - returns[i - window]);
            memmove(s + k, s + k + 1, (size_t)(m - k - 1) * sizeof(double));
            m--;
        }
        if (!isnan(returns[i])) {
            const double loss = 0.0 - returns[i];
            const int64_t k = lower_bound(s, m, loss);
            memmove(s + k + 1, s + k, (size_t)(m - k) * sizeof(double));
            s[k] = loss;
            m++;
        }
        if (i < window - 1 || m == 0) {
            var[i] = cvar[i] = NAN;
            continue;
        }
        int64_t prev, next;
        double gamma;
        quantile_index(m, confidence, &prev, &next, &gamma);
        const double v = lerp(s[prev], s[next], gamma);
        var[i] = v;
        cvar[i] = tail_mean(s, lower_bound(s, m, v), m, v, 0);
    }
    return NT_OK;
}
