/* Bar-by-bar backtest simulation: target positions to fills, trades, position and equity.
 * The rules (fill timing, sizing, costs, stops and gaps) are documented in docs/native.md and
 * mirrored operation for operation by core/neural_trader/native/simulate_numpy.py. */
#ifndef NT_SIM_H
#define NT_SIM_H

#include <stdint.h>

#include "nt_common.h"

enum nt_fill_at { NT_FILL_CLOSE = 0, NT_FILL_NEXT_OPEN = 1 };
enum nt_sizing { NT_SIZE_ALL_IN = 0, NT_SIZE_ALL_IN_WHOLE = 1, NT_SIZE_FIXED = 2, NT_SIZE_PERCENT = 3 };
enum nt_exit_reason {
    NT_EXIT_SIGNAL = 0,
    NT_EXIT_STOP_LOSS = 1,
    NT_EXIT_TAKE_PROFIT = 2,
    NT_EXIT_TRAILING_STOP = 3,
    NT_EXIT_OPEN = 4
};

typedef struct nt_sim_params {
    double init_cash;
    double size;
    double commission_per_unit;
    double commission_pct;
    double commission_fixed;
    double slippage_bps;
    double stop_loss;
    double take_profit;
    double trailing_stop;
    int32_t fill_at;
    int32_t sizing;
} nt_sim_params;

typedef struct nt_trade {
    int64_t entry_idx;
    int64_t exit_idx;
    double entry_price;
    double exit_price;
    double size;
    double pnl;
    double ret;
    double fees;
    int32_t exit_reason;
    int32_t pad;
} nt_trade;

typedef struct nt_batch_row {
    int64_t fast;
    int64_t slow;
    double final_equity;
    double total_return;
    double max_drawdown;
    int64_t n_trades;
    int64_t n_wins;
} nt_batch_row;

/* target[i]: the exposure wanted after bar i (+1 long all-in, -1 short, 0 flat, NaN: no change).
 * Outputs per bar (after its close): position (signed units) and equity (cash + position *
 * close). trades receives at most `capacity` records (n is always enough); *n_trades the count.
 * A still-open position is reported last with exit_reason NT_EXIT_OPEN, marked at the last close. */
int nt_simulate(const double *open, const double *high, const double *low, const double *close,
                const double *target, int64_t n, const nt_sim_params *params, double *position,
                double *equity, nt_trade *trades, int64_t capacity, int64_t *n_trades);

/* For each of the m pairs (fast[j], slow[j]): SMA(fast)/SMA(slow) crossover targets (+1 on a cross
 * up, -1 or 0 on a cross down as allow_short says), simulated with params; one summary row each.
 * Bit-identical to nt_sma + nt_crossover + nt_simulate. Safe to call from several threads. */
int nt_sma_cross_batch(const double *open, const double *high, const double *low, const double *close,
                       int64_t n, const int64_t *fast, const int64_t *slow, int64_t m,
                       const nt_sim_params *params, int32_t allow_short, nt_batch_row *rows);

#endif
