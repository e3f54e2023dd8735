int nt_sports_arbitrage_scan(int64_t n_events, int64_t n_books, int64_t n_outcomes, const double *odds,
                             double *best, int64_t *best_book, double *booksum);
int nt_sports_shin(int64_t n_markets, int64_t n_outcomes, const double *odds, double *probs, double *z);
