/* Betting kernels (docs/sports.md, "Kernels"): the best price of every outcome across bookmakers
 * for many markets at once (the arbitrage scan), and Shin's margin removal for many markets.
 *
 * Every function returns NT_OK or NT_STATUS(kind, arg) (nt_common.h), arg being the 1-based position
 * of the offending parameter. Sums run left to right from 0.0, so the numpy twin
 * (neural_trader.native.sports_numpy) matches them bit for bit. */
#ifndef NT_SPORTS_H
#define NT_SPORTS_H

#include <stdint.h>

#include "nt_common.h"

/* odds is (n_events, n_books, n_outcomes), C order, decimal odds > 1 or NaN for no quote; each
 * event row is ONE market (one market type, one line). For every event e and outcome k:
 * best[e, k] is the highest price across books (NaN if no book quotes it), best_book[e, k] the
 * first book offering it (-1 if none), and booksum[e] = sum_k 1 / best[e, k] (+inf when an outcome
 * has no quote: the market cannot be covered). A price that is neither NaN nor finite and > 1 is
 * refused (NT_E_RANGE on odds). */
int nt_sports_arbitrage_scan(int64_t n_events, int64_t n_books, int64_t n_outcomes, const double *odds,
                             double *best, int64_t *best_book, double *booksum);

/* odds is (n_markets, n_outcomes), C order, every price finite and > 1 (n_outcomes >= 2). For each
 * market, pi = 1 / odds, B = sum pi, and Shin's insider share z in [0, 1) solves
 * sum_i (sqrt(z^2 + 4 (1 - z) pi_i^2 / B) - z) / (2 (1 - z)) = 1, by Newton's method from 0 kept
 * inside a shrinking bracket of [0, 1) (a step leaving it bisects instead) until z stops moving;
 * probs are those fair probabilities at z. |B - 1| <= 1e-15 gives z = 0 and probs = pi; B < 1
 * (no margin: Shin's model does not apply) gives z and probs NaN. */
int nt_sports_shin(int64_t n_markets, int64_t n_outcomes, const double *odds, double *probs, double *z);

#endif
