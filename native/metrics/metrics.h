/* Performance metrics of a return series, following empyrical's definitions (docs/native.md,
 * "Metrics"). Returns are simple per-period returns; NaN marks a missing period: it compounds as
 * 0 and is left out of means, deviations and counts, but still counts as a period of time.
 *
 * Every function returns NT_OK or NT_STATUS(kind, arg) (nt_common.h), arg being the 1-based position
 * of the offending parameter. Sums run left to right from 0.0, so the numpy twin
 * (neural_trader.native.metrics_numpy) can match them bit for bit. */
#ifndef NT_METRICS_H
#define NT_METRICS_H

#include <stdint.h>

#include "nt_common.h"

typedef struct nt_metrics {
    int64_t n_periods;             /* length of the series, NaN periods included */
    int64_t n_valid;               /* non-NaN returns */
    double total_return;           /* prod(1 + r) - 1 */
    double cagr;                   /* (1 + total)^(periods_per_year / n_periods) - 1 */
    double annual_volatility;      /* std(r, ddof=1) * sqrt(periods_per_year) */
    double sharpe;                 /* mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year) */
    double downside_risk;          /* sqrt(mean(min(r - req, 0)^2)) * sqrt(periods_per_year) */
    double sortino;                /* mean(r - req) * periods_per_year / downside_risk */
    double max_drawdown;           /* min over t of wealth_t / peak_t - 1, <= 0 */
    int64_t max_drawdown_duration; /* longest run of periods below the previous peak */
    double calmar;                 /* cagr / |max_drawdown| */
    int64_t n_wins;                /* periods with r > 0 */
    int64_t n_losses;              /* periods with r < 0 */
    double win_rate;               /* n_wins / (n_wins + n_losses) */
    double profit_factor;          /* sum(r > 0) / |sum(r < 0)| */
    double expectancy;             /* (sum(r > 0) + sum(r < 0)) / (n_wins + n_losses) */
    double exposure;               /* share of periods holding a position */
} nt_metrics;

/* All metrics of returns[0..n). positions may be NULL: exposure then counts the periods with a
 * non-zero return, else those with a non-zero, non-NaN position. periods_per_year > 0 annualises;
 * risk_free (Sharpe) and required_return (Sortino) are per-period rates. */
int nt_metrics_compute(int64_t n, const double *returns, const double *positions, double periods_per_year,
                       double risk_free, double required_return, nt_metrics *out);

/* returns[i - 1] = (equity[i] - equity[i - 1]) / equity[i - 1] for i in 1..n-1; equity must be
 * finite and > 0. */
int nt_metrics_returns_from_equity(int64_t n, const double *equity, double *returns);

/* out[i] = wealth_i / peak_i - 1 computed as (wealth_i - peak_i) / peak_i, wealth compounding
 * from 1 and the peak including that start. */
int nt_metrics_drawdown(int64_t n, const double *returns, double *out);

#endif
