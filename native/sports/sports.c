/* Betting kernels: see sports.h. */
#include "sports.h"

#include <math.h>
#include <stdlib.h>

#define SHIN_MAX_STEPS 100
#define EXACT_BOOK 1e-15

int nt_sports_arbitrage_scan(int64_t n_events, int64_t n_books, int64_t n_outcomes, const double *odds,
                             double *best, int64_t *best_book, double *booksum) {
    if (n_events < 0) return NT_STATUS(NT_E_LENGTH, 1);
    if (n_books < 1) return NT_STATUS(NT_E_RANGE, 2);
    if (n_outcomes < 2) return NT_STATUS(NT_E_RANGE, 3);
    for (int64_t e = 0; e < n_events; e++) {
        const double *row = odds + e * n_books * n_outcomes;
        double *b = best + e * n_outcomes;
        int64_t *who = best_book + e * n_outcomes;
        for (int64_t k = 0; k < n_outcomes; k++) {
            b[k] = -INFINITY;
            who[k] = -1;
        }
        for (int64_t j = 0; j < n_books; j++) {
            const double *quote = row + j * n_outcomes;
            for (int64_t k = 0; k < n_outcomes; k++) {
                double x = quote[k];
                if (isnan(x)) continue;
                if (!(x > 1.0) || isinf(x)) return NT_STATUS(NT_E_RANGE, 4);
                if (x > b[k]) {
                    b[k] = x;
                    who[k] = j;
                }
            }
        }
        double s = 0.0;
        int complete = 1;
        for (int64_t k = 0; k < n_outcomes; k++) {
            if (who[k] < 0) {
                b[k] = NAN;
                complete = 0;
            } else {
                s = s + 1.0 / b[k];
            }
        }
        booksum[e] = complete ? s : INFINITY;
    }
    return NT_OK;
}

/* One safeguarded Newton step's inputs at z: f = sum p_i(z) - 1 (accumulated from -1) and f'(z). */
static void shin_f(double z, const double *pi, int64_t n, double booksum, double *f, double *d) {
    double fs = -1.0, ds = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double q = pi[i] * pi[i] / booksum;
        double s = sqrt(z * z + 4.0 * (1.0 - z) * q);
        double num = s - z;
        double p = num / (2.0 * (1.0 - z));
        double dnum = (z - 2.0 * q) / s - 1.0;
        double dp = (dnum * (1.0 - z) + num) / (2.0 * (1.0 - z) * (1.0 - z));
        fs = fs + p;
        ds = ds + dp;
    }
    *f = fs;
    *d = ds;
}

/* z in [0, 1) with sum p_i(z) = 1: Newton from 0 inside a bracket that every step narrows; a step
 * that would leave the bracket bisects it instead. Stops when z no longer moves (or the bracket is
 * one point), at most SHIN_MAX_STEPS steps. */
static double shin_z(const double *pi, int64_t n, double booksum) {
    double lo = 0.0, hi = 1.0, z = 0.0;
    for (int step = 0; step < SHIN_MAX_STEPS; step++) {
        double f, d;
        shin_f(z, pi, n, booksum, &f, &d);
        if (f > 0.0) {
            lo = z;
        } else if (f < 0.0) {
            hi = z;
        } else {
            return z;
        }
        double next = z - f / d;
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (next == z) return z;
        z = next;
    }
    return z;
}

int nt_sports_shin(int64_t n_markets, int64_t n_outcomes, const double *odds, double *probs, double *z) {
    if (n_markets < 0) return NT_STATUS(NT_E_LENGTH, 1);
    if (n_outcomes < 2) return NT_STATUS(NT_E_RANGE, 2);
    for (int64_t m = 0; m < n_markets * n_outcomes; m++) {
        double x = odds[m];
        if (!(x > 1.0) || isinf(x)) return NT_STATUS(NT_E_RANGE, 3);
    }
    double *pi = malloc((size_t)n_outcomes * sizeof(double));
    if (pi == NULL) return NT_STATUS(NT_E_NOMEM, 4);
    for (int64_t m = 0; m < n_markets; m++) {
        const double *o = odds + m * n_outcomes;
        double *p = probs + m * n_outcomes;
        double booksum = 0.0;
        for (int64_t i = 0; i < n_outcomes; i++) {
            pi[i] = 1.0 / o[i];
            booksum = booksum + pi[i];
        }
        if (fabs(booksum - 1.0) <= EXACT_BOOK) {
            z[m] = 0.0;
            for (int64_t i = 0; i < n_outcomes; i++) p[i] = pi[i];
            continue;
        }
        if (booksum < 1.0) {
            z[m] = NAN;
            for (int64_t i = 0; i < n_outcomes; i++) p[i] = NAN;
            continue;
        }
        double zm = shin_z(pi, n_outcomes, booksum);
        z[m] = zm;
        for (int64_t i = 0; i < n_outcomes; i++) {
            p[i] = (sqrt(zm * zm + 4.0 * (1.0 - zm) * pi[i] * pi[i] / booksum) - zm) / (2.0 * (1.0 - zm));
        }
    }
    free(pi);
    return NT_OK;
}
