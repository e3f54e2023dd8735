/* Performance metrics; see metrics.h for the contracts. The numpy twin
 * (neural_trader.native.metrics_numpy) performs the same floating-point operations in the same
 * order: keep them in step. */
#include "metrics.h"

#include <math.h>

/* Wealth compounding from 1 (a NaN return leaves it unchanged) and its running peak. */
typedef struct {
    double wealth;
    double peak;
} curve;

static inline double curve_step(curve *c, double r) {
    if (!isnan(r)) c->wealth = c->wealth * (1.0 + r);
    if (c->wealth > c->peak) c->peak = c->wealth;
    return (c->wealth - c->peak) / c->peak;
}

/* Sample standard deviation from a sum of squared deviations; exactly 0 for a constant series
 * (empyrical's zero-dispersion rule), NaN with fewer than two values. */
static double sample_std(double ss, int64_t m, double lo, double hi) {
    if (m < 2) return NAN;
    const double s = sqrt(ss / (double)(m - 1));
    return (hi == lo && isfinite(s)) ? 0.0 : s;
}

int nt_metrics_compute(int64_t n, const double *returns, const double *positions, double periods_per_year,
                       double risk_free, double required_return, nt_metrics *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 1);
    if (!(isfinite(periods_per_year) && periods_per_year > 0.0)) return NT_STATUS(NT_E_RANGE, 4);
    if (!isfinite(risk_free)) return NT_STATUS(NT_E_RANGE, 5);
    if (!isfinite(required_return)) return NT_STATUS(NT_E_RANGE, 6);

    int64_t m = 0, wins = 0, losses = 0, held = 0, run = 0, longest = 0;
    double sum_r = 0.0, sum_ex = 0.0, sum_rq = 0.0, gross_profit = 0.0, gross_loss = 0.0;
    double lo_r = INFINITY, hi_r = -INFINITY, lo_ex = INFINITY, hi_ex = -INFINITY;
    double max_dd = NAN;
    curve c = {1.0, 1.0};
    for (int64_t i = 0; i < n; i++) {
        const double r = returns[i];
        if (!isnan(r)) {
            const double ex = r - risk_free;
            m++;
            sum_r = sum_r + r;
            sum_ex = sum_ex + ex;
            sum_rq = sum_rq + (r - required_return);
            if (r < lo_r) lo_r = r;
            if (r > hi_r) hi_r = r;
            if (ex < lo_ex) lo_ex = ex;
            if (ex > hi_ex) hi_ex = ex;
            if (r > 0.0) {
                wins++;
                gross_profit = gross_profit + r;
            } else if (r < 0.0) {
                losses++;
                gross_loss = gross_loss + r;
            }
        }
        const double dd = curve_step(&c, r);
        if (!isnan(dd) && (isnan(max_dd) || dd < max_dd)) max_dd = dd;
        if (c.wealth < c.peak) {
            run++;
            if (run > longest) longest = run;
        } else {
            run = 0;
        }
        if (positions ? (positions[i] != 0.0 && !isnan(positions[i])) : (!isnan(r) && r != 0.0)) held++;
    }

    const double mean_r = sum_r / (double)m;
    const double mean_ex = sum_ex / (double)m;
    const double mean_rq = sum_rq / (double)m;
    double ss_r = 0.0, ss_ex = 0.0, ss_down = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double r = returns[i];
        if (isnan(r)) continue;
        const double d = r - mean_r;
        const double e = (r - risk_free) - mean_ex;
        const double q = r - required_return;
        const double down = q < 0.0 ? q : 0.0;
        ss_r = ss_r + d * d;
        ss_ex = ss_ex + e * e;
        ss_down = ss_down + down * down;
    }

    const double root_ppy = sqrt(periods_per_year);
    const int64_t active = wins + losses;
    out->n_periods = n;
    out->n_valid = m;
    out->total_return = n >= 1 ? c.wealth - 1.0 : NAN;
    out->cagr = n >= 1 ? pow(c.wealth, 1.0 / ((double)n / periods_per_year)) - 1.0 : NAN;
    out->annual_volatility = n >= 2 ? sample_std(ss_r, m, lo_r, hi_r) * root_ppy : NAN;
    out->sharpe = n >= 2 ? mean_ex / sample_std(ss_ex, m, lo_ex, hi_ex) * root_ppy : NAN;
    out->downside_risk = n >= 1 ? sqrt(ss_down / (double)m) * root_ppy : NAN;
    out->sortino = n >= 2 ? mean_rq * periods_per_year / out->downside_risk : NAN;
    out->max_drawdown = n >= 1 ? max_dd : NAN;
    out->max_drawdown_duration = longest;
    if (out->max_drawdown < 0.0) {
        const double calmar = out->cagr / fabs(out->max_drawdown);
        out->calmar = isinf(calmar) ? NAN : calmar;
    } else {
        out->calmar = NAN;
    }
    out->n_wins = wins;
    out->n_losses = losses;
    out->win_rate = active ? (double)wins / (double)active : NAN;
    out->profit_factor = gross_loss < 0.0 ? gross_profit / -gross_loss : (gross_profit > 0.0 ? INFINITY : NAN);
    out->expectancy = active ? (gross_profit + gross_loss) / (double)active : NAN;
    out->exposure = n ? (double)held / (double)n : NAN;
    return NT_OK;
}

int nt_metrics_returns_from_equity(int64_t n, const double *equity, double *returns) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 1);
    for (int64_t i = 0; i < n; i++) {
        if (!(isfinite(equity[i]) && equity[i] > 0.0)) return NT_STATUS(NT_E_RANGE, 2);
    }
    for (int64_t i = 1; i < n; i++) returns[i - 1] = (equity[i] - equity[i - 1]) / equity[i - 1];
    return NT_OK;
}

int nt_metrics_drawdown(int64_t n, const double *returns, double *out) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 1);
    curve c = {1.0, 1.0};
    for (int64_t i = 0; i < n; i++) out[i] = curve_step(&c, returns[i]);
    return NT_OK;
}
