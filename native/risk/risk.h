/* Risk kernels: Monte Carlo and historical VaR/CVaR, covariance and correlation.
 *
 * Every function returns NT_OK or NT_STATUS(kind, arg) (nt_common.h), arg being the 1-based position
 * of the offending parameter. Arrays are C-contiguous float64 (matrices row-major); the caller owns
 * every buffer, so no kernel allocates.
 *
 * Quantile rule (historical and Monte Carlo alike): losses are 0.0 - return; VaR at confidence a is
 * numpy.quantile(losses, a, method="linear") computed the way numpy computes it, by selection rather
 * than a sort; CVaR is the mean of the losses >= VaR: their correctly rounded sum (math.fsum's)
 * divided by their count, kept between VaR and the largest loss whatever the rounding.
 *
 * Random numbers: xoshiro256++ seeded by SplitMix64; Monte Carlo scenarios are cut into chunks of
 * NT_RISK_MC_CHUNK scenarios and chunk c draws from the seeded state jumped c times (2^128 steps
 * each), so the scenarios are the same whatever the number of threads. Normals come from a
 * 256-layer ziggurat (ziggurat_tables.h). */
#ifndef NT_RISK_H
#define NT_RISK_H

#include <stdint.h>

#include "nt_common.h"

#define NT_RISK_MC_CHUNK 2048

/* Failure details of nt_risk_cholesky and nt_risk_mc_prepare, written to info[0]; info[1] is the
 * row (or flat index) where it was found. */
enum nt_risk_reason {
    NT_RISK_FINE = 0,
    NT_RISK_NONFINITE = 1,
    NT_RISK_ASYMMETRIC = 2,
    NT_RISK_NOT_PSD = 3,
    NT_RISK_OVERFLOW = 4
};

/* --- random numbers ------------------------------------------------------------------------ */

/* states[4*c .. 4*c+3] = the SplitMix64-seeded xoshiro256++ state of `seed`, jumped c times. */
int nt_risk_seed_streams(uint64_t seed, int64_t n_streams, uint64_t *states);

/* n raw xoshiro256++ outputs from state (advanced in place). */
int nt_risk_raw(uint64_t *state, int64_t n, uint64_t *out);

/* n standard normals from state (advanced in place). */
int nt_risk_normals(uint64_t *state, int64_t n, double *out);

/* --- matrices ------------------------------------------------------------------------------ */

/* Pivoted Cholesky factorisation of a symmetric positive semi-definite n x n matrix:
 * cov[perm[i]][perm[j]] = (L L^T)[i][j] with L lower triangular, largest remaining pivot first.
 * It stops at *rank when every remaining pivot is <= 1e-12 * max(diag); the rest of the Schur
 * complement must then be zero within rounding (1e-6 * max(diag) off the diagonal), else NOT_PSD
 * with info[1] the offending row of cov. work and lower hold n*n doubles, perm n. Entries differing
 * from their transpose by more than 1e-10 * max(diag) are ASYMMETRIC; the lower triangle is used. */
int nt_risk_cholesky(int64_t n, const double *cov, double *work, double *lower, int64_t *perm, int64_t *rank,
                     int64_t *info);

/* Plain covariance of t observations (rows) of n variables (columns), divisor t - ddof (NaN when
 * t - ddof <= 0). Computed on deviations from the first row, so a constant column has exactly zero
 * variance. scratch holds n doubles. */
int nt_risk_covariance(int64_t t, int64_t n, const double *returns, int64_t ddof, double *scratch, double *out);

/* EWMA covariance with decay lam in (0, 1]: weight lam^(t-1-i) on row i, normalised by the sum of
 * weights; demean != 0 subtracts the weighted mean first (on deviations from the first row, as
 * above), else RiskMetrics' zero mean. Sums run from the newest row to the oldest. scratch holds
 * n doubles. */
int nt_risk_ewma_covariance(int64_t t, int64_t n, const double *returns, double lam, int demean, double *scratch,
                            double *out);

/* Correlation from a covariance matrix, as numpy.corrcoef: (c_ij / s_i) / s_j clipped to [-1, 1]. */
int nt_risk_cov_to_corr(int64_t n, const double *cov, double *out);

/* --- Monte Carlo --------------------------------------------------------------------------- */

/* Validates the portfolio and reduces it to the scenario loading: (lower, perm) = chol(cov),
 * loading[k] = sum_i lower[i][k] * weights[perm[i]], *mean = sum_i weights[i] * means[i]; a
 * scenario's return is then *mean + sum_k loading[k] z_k. */
int nt_risk_mc_prepare(int64_t n, const double *weights, const double *means, const double *cov,
                       double *work, double *lower, int64_t *perm, double *loading, double *mean,
                       int64_t *info);

/* Losses of scenarios in chunks [chunk_begin, chunk_end): loss = -(mean + sum_k loading[k] z_k).
 * states holds the 4-word state of every chunk (nt_risk_seed_streams). */
int nt_risk_mc_losses(int64_t n, const double *loading, double mean, const uint64_t *states,
                      int64_t n_scenarios, int64_t chunk_begin, int64_t chunk_end, double *losses);

/* VaR and CVaR of n losses, reordering them in place. Refuses NaN and infinite losses. */
int nt_risk_var_cvar(int64_t n, double *losses, double confidence, double *var, double *cvar);

/* --- historical ---------------------------------------------------------------------------- */

/* VaR and CVaR of the non-NaN returns (infinite ones are refused); NaN when there are none.
 * scratch holds at least n doubles. */
int nt_risk_hist_var(int64_t n, const double *returns, double confidence, double *scratch,
                     double *var, double *cvar);

/* The same over every trailing window; var[i], cvar[i] are NaN for i < window - 1.
 * scratch holds at least min(window, n) doubles (the window's losses, kept sorted). */
int nt_risk_rolling_hist_var(int64_t n, const double *returns, int64_t window, double confidence,
                             double *scratch, double *var, double *cvar);

#endif
