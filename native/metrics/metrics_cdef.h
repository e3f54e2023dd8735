typedef struct nt_metrics {
    int64_t n_periods;
    int64_t n_valid;
    double total_return;
    double cagr;
    double annual_volatility;
    double sharpe;
    double downside_risk;
    double sortino;
    double max_drawdown;
    int64_t max_drawdown_duration;
    double calmar;
    int64_t n_wins;
    int64_t n_losses;
    double win_rate;
    double profit_factor;
    double expectancy;
    double exposure;
} nt_metrics;

int nt_metrics_compute(int64_t n, const double *returns, const double *positions, double periods_per_year,
                       double risk_free, double required_return, nt_metrics *out);
int nt_metrics_returns_from_equity(int64_t n, const double *equity, double *returns);
int nt_metrics_drawdown(int64_t n, const double *returns, double *out);
