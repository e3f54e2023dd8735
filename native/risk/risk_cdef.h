static const int NT_RISK_MC_CHUNK;

enum nt_risk_reason {
    NT_RISK_FINE = 0,
    NT_RISK_NONFINITE = 1,
    NT_RISK_ASYMMETRIC = 2,
    NT_RISK_NOT_PSD = 3,
    NT_RISK_OVERFLOW = 4
};

int nt_risk_seed_streams(uint64_t seed, int64_t n_streams, uint64_t *states);
int nt_risk_raw(uint64_t *state, int64_t n, uint64_t *out);
int nt_risk_normals(uint64_t *state, int64_t n, double *out);

int nt_risk_cholesky(int64_t n, const double *cov, double *work, double *lower, int64_t *perm, int64_t *rank,
                     int64_t *info);
int nt_risk_covariance(int64_t t, int64_t n, const double *returns, int64_t ddof, double *scratch, double *out);
int nt_risk_ewma_covariance(int64_t t, int64_t n, const double *returns, double lam, int demean, double *scratch,
                            double *out);
int nt_risk_cov_to_corr(int64_t n, const double *cov, double *out);

int nt_risk_mc_prepare(int64_t n, const double *weights, const double *means, const double *cov,
                       double *work, double *lower, int64_t *perm, double *loading, double *mean,
                       int64_t *info);
int nt_risk_mc_losses(int64_t n, const double *loading, double mean, const uint64_t *states,
                      int64_t n_scenarios, int64_t chunk_begin, int64_t chunk_end, double *losses);
int nt_risk_var_cvar(int64_t n, double *losses, double confidence, double *var, double *cvar);

int nt_risk_hist_var(int64_t n, const double *returns, double confidence, double *scratch,
                     double *var, double *cvar);
int nt_risk_rolling_hist_var(int64_t n, const double *returns, int64_t window, double confidence,
                             double *scratch, double *var, double *cvar);
