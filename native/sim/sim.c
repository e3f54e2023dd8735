/* Backtest simulation. Mirrored operation for operation by
 * core/neural_trader/native/simulate_numpy.py; the rules are in docs/native.md. */
#include "sim.h"

#include <math.h>
#include <stddef.h>

#include "indicators.h"

typedef struct sim_state {
    const nt_sim_params *p;
    double slip;          /* slippage as a fraction of price */
    double cash;
    double pos;           /* signed units */
    double cur_target;    /* the last target acted on */
    int has_pending;      /* next-open mode: an order waits for the next bar's open */
    double pending;
    int64_t entry_idx;
    double entry_price;   /* fill price, slippage included */
    double entry_fee;
    int64_t stops_from;   /* first bar whose high/low can trigger a stop */
    double extreme;       /* highest high (long) or lowest low (short) since entry, for trailing */
    nt_trade *trades;     /* NULL: count only */
    int64_t capacity;
    int64_t count;
    int64_t wins;
    int overflow;
} sim_state;

static void sim_init(sim_state *st, const nt_sim_params *p, nt_trade *trades, int64_t capacity) {
    st->p = p;
    st->slip = p->slippage_bps / 10000.0;
    st->cash = p->init_cash;
    st->pos = 0.0;
    st->cur_target = 0.0;
    st->has_pending = 0;
    st->pending = 0.0;
    st->entry_idx = -1;
    st->entry_price = 0.0;
    st->entry_fee = 0.0;
    st->stops_from = 0;
    st->extreme = 0.0;
    st->trades = trades;
    st->capacity = capacity;
    st->count = 0;
    st->wins = 0;
    st->overflow = 0;
}

static double fee_for(const nt_sim_params *p, double units, double price) {
    return p->commission_fixed + p->commission_pct * (units * price) + p->commission_per_unit * units;
}

static void record(sim_state *st, int64_t exit_idx, double exit_price, double exit_fee, int32_t reason) {
    const double units = fabs(st->pos);
    const double pnl = st->pos * (exit_price - st->entry_price) - st->entry_fee - exit_fee;
    if (pnl > 0.0) st->wins++;
    if (st->trades) {
        if (st->count >= st->capacity) {
            st->overflow = 1;
            return;
        }
        nt_trade *t = &st->trades[st->count];
        t->entry_idx = st->entry_idx;
        t->exit_idx = exit_idx;
        t->entry_price = st->entry_price;
        t->exit_price = exit_price;
        t->size = st->pos;
        t->pnl = pnl;
        t->ret = pnl / (units * st->entry_price);
        t->fees = st->entry_fee + exit_fee;
        t->exit_reason = reason;
        t->pad = 0;
    }
    st->count++;
}

static void close_position(sim_state *st, int64_t i, double raw, int32_t reason) {
    const double price = st->pos > 0.0 ? raw * (1.0 - st->slip) : raw * (1.0 + st->slip);
    const double fee = fee_for(st->p, fabs(st->pos), price);
    st->cash = st->cash + st->pos * price - fee;
    record(st, i, price, fee, reason);
    st->pos = 0.0;
}

static void open_position(sim_state *st, int64_t i, double raw, double t, int64_t stops_from) {
    const nt_sim_params *p = st->p;
    const double price = t > 0.0 ? raw * (1.0 + st->slip) : raw * (1.0 - st->slip);
    const double mag = fabs(t);
    double units;
    if (p->sizing == NT_SIZE_FIXED) {
        units = p->size * mag;
    } else {
        const double budget = p->sizing == NT_SIZE_PERCENT ? st->cash * p->size * mag : st->cash * mag;
        units = (budget - p->commission_fixed) / (price * (1.0 + p->commission_pct) + p->commission_per_unit);
        if (p->sizing == NT_SIZE_ALL_IN_WHOLE) units = floor(units);
    }
    if (!(units > 0.0)) return; /* cannot afford a single unit: the order is skipped */
    const double fee = fee_for(p, units, price);
    st->pos = t > 0.0 ? units : -units;
    st->cash = st->cash - st->pos * price - fee;
    st->entry_idx = i;
    st->entry_price = price;
    st->entry_fee = fee;
    st->stops_from = stops_from;
    st->extreme = price;
}

/* Stops and targets inside bar i. The stop is the tighter of stop-loss and trailing stop; a bar
 * that opens beyond a level fills at its open (a gap), otherwise at the level itself; when one bar
 * reaches both the stop and the take-profit, the stop is assumed to have come first. */
static void check_stops(sim_state *st, int64_t i, double o, double h, double l) {
    const nt_sim_params *p = st->p;
    if (st->pos == 0.0 || i < st->stops_from) return;
    const double e = st->entry_price;
    const int have_tp = p->take_profit > 0.0;
    int have_stop = 0;
    double stop = 0.0;
    int32_t stop_reason = NT_EXIT_STOP_LOSS;
    if (st->pos > 0.0) {
        if (p->stop_loss > 0.0) {
            stop = e * (1.0 - p->stop_loss);
            have_stop = 1;
        }
        if (p->trailing_stop > 0.0) {
            const double trail = st->extreme * (1.0 - p->trailing_stop);
            if (!have_stop || trail > stop) {
                stop = trail;
                stop_reason = NT_EXIT_TRAILING_STOP;
                have_stop = 1;
            }
        }
        const double tp = e * (1.0 + p->take_profit);
        if (have_stop && o <= stop) close_position(st, i, o, stop_reason);
        else if (have_tp && o >= tp) close_position(st, i, o, NT_EXIT_TAKE_PROFIT);
        else if (have_stop && l <= stop) close_position(st, i, stop, stop_reason);
        else if (have_tp && h >= tp) close_position(st, i, tp, NT_EXIT_TAKE_PROFIT);
        else if (h > st->extreme) st->extreme = h;
    } else {
        if (p->stop_loss > 0.0) {
            stop = e * (1.0 + p->stop_loss);
            have_stop = 1;
        }
        if (p->trailing_stop > 0.0) {
            const double trail = st->extreme * (1.0 + p->trailing_stop);
            if (!have_stop || trail < stop) {
                stop = trail;
                stop_reason = NT_EXIT_TRAILING_STOP;
                have_stop = 1;
            }
        }
        const double tp = e * (1.0 - p->take_profit);
        if (have_stop && o >= stop) close_position(st, i, o, stop_reason);
        else if (have_tp && o <= tp) close_position(st, i, o, NT_EXIT_TAKE_PROFIT);
        else if (have_stop && h >= stop) close_position(st, i, stop, stop_reason);
        else if (have_tp && l <= tp) close_position(st, i, tp, NT_EXIT_TAKE_PROFIT);
        else if (l < st->extreme) st->extreme = l;
    }
}

/* One bar: a pending next-open order, then stops inside the bar, then the bar's target. */
static void sim_step(sim_state *st, int64_t i, int64_t n, double o, double h, double l, double c, double t) {
    if (st->has_pending) {
        st->has_pending = 0;
        if (st->pos != 0.0) close_position(st, i, o, NT_EXIT_SIGNAL);
        if (st->pending != 0.0) open_position(st, i, o, st->pending, i);
    }
    check_stops(st, i, o, h, l);
    if (t == t && t != st->cur_target) {
        st->cur_target = t;
        if (st->p->fill_at == NT_FILL_CLOSE) {
            if (st->pos != 0.0) close_position(st, i, c, NT_EXIT_SIGNAL);
            if (t != 0.0) open_position(st, i, c, t, i + 1);
        } else if (i + 1 < n) {
            st->has_pending = 1;
            st->pending = t;
        }
    }
}

static void sim_finish(sim_state *st, int64_t n, const double *close) {
    if (st->pos != 0.0) record(st, n - 1, close[n - 1], 0.0, NT_EXIT_OPEN);
}

static int check_params(const nt_sim_params *p) {
    const int ok = p->init_cash > 0.0 && isfinite(p->init_cash) && isfinite(p->size) && p->size >= 0.0 &&
                   p->commission_per_unit >= 0.0 && isfinite(p->commission_per_unit) &&
                   p->commission_pct >= 0.0 && isfinite(p->commission_pct) &&
                   p->commission_fixed >= 0.0 && isfinite(p->commission_fixed) &&
                   p->slippage_bps >= 0.0 && p->slippage_bps < 10000.0 &&
                   p->stop_loss >= 0.0 && p->stop_loss < 1.0 &&
                   p->take_profit >= 0.0 && isfinite(p->take_profit) &&
                   p->trailing_stop >= 0.0 && p->trailing_stop < 1.0 &&
                   (p->fill_at == NT_FILL_CLOSE || p->fill_at == NT_FILL_NEXT_OPEN) &&
                   p->sizing >= NT_SIZE_ALL_IN && p->sizing <= NT_SIZE_PERCENT;
    return ok;
}

static int good_price(double v) { return v > 0.0 && v < INFINITY; }

/* 0 if every price is finite and positive, else the 1-based argument position (1..4) of the
 * first bad one. */
static int bad_price(double o, double h, double l, double c) {
    if (!good_price(o)) return 1;
    if (!good_price(h)) return 2;
    if (!good_price(l)) return 3;
    if (!good_price(c)) return 4;
    return 0;
}

int nt_simulate(const double *open, const double *high, const double *low, const double *close,
                const double *target, int64_t n, const nt_sim_params *params, double *position,
                double *equity, nt_trade *trades, int64_t capacity, int64_t *n_trades) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 6);
    if (!check_params(params)) return NT_STATUS(NT_E_RANGE, 7);
    if (capacity < 0) return NT_STATUS(NT_E_RANGE, 11);
    sim_state st;
    sim_init(&st, params, trades, capacity);
    for (int64_t i = 0; i < n; i++) {
        const double o = open[i], h = high[i], l = low[i], c = close[i], t = target[i];
        const int bad = bad_price(o, h, l, c);
        if (bad) return NT_STATUS(NT_E_RANGE, bad);
        if (isinf(t)) return NT_STATUS(NT_E_RANGE, 5);
        sim_step(&st, i, n, o, h, l, c, t);
        position[i] = st.pos;
        equity[i] = st.cash + st.pos * c;
    }
    if (n > 0) sim_finish(&st, n, close);
    *n_trades = st.count;
    if (st.overflow) return NT_STATUS(NT_E_CAPACITY, 10);
    return NT_OK;
}

#define BATCH_BLOCK 1024

/* One window's SMA computed block by block, bit-identical to nt_sma on the same series: on the
 * exact path as the integer window sum (the SMA is sum / (window * 10^d)), otherwise as the
 * double nt_sma's fallback gives. */
typedef struct sma_roll {
    int64_t window;
    int exact;      /* the exact decimal path (else: each window summed afresh) */
    int small;      /* scaled values below 2^51: the fast rounding applies */
    double scale;   /* 10^digits */
    double denom;   /* window * 10^digits, exact */
    int64_t sum;    /* running integer sum of the scaled values */
} sma_roll;

static void sma_roll_init(sma_roll *r, int64_t window, int32_t rep_digits, double max_abs) {
    const int32_t d = nt_digits_for_window(rep_digits, max_abs, window);
    r->window = window;
    r->exact = d >= 0;
    r->small = max_abs < NT_SMALL_INT;
    r->scale = d >= 0 ? nt_pow10(d) : 1.0;
    r->denom = (double)window * r->scale;
    r->sum = 0;
}

static inline int64_t scaled(const sma_roll *r, double v) {
    return r->small ? nt_round_small(v * r->scale) : (int64_t)nt_rint(v * r->scale);
}

/* For lo <= bar < hi (bars before window - 1 are left alone; x holds no NaN, prices are
 * checked): sums[k] = the integer window sum on the exact path, else vals[k] = the SMA. */
static void sma_roll_block(sma_roll *r, const double *x, int64_t lo, int64_t hi, int64_t *sums, double *vals) {
    const int64_t w = r->window;
    if (!r->exact) {
        for (int64_t i = lo > w - 1 ? lo : w - 1; i < hi; i++) {
            double acc = 0.0;
            for (int64_t k = i - w + 1; k <= i; k++) acc += x[k];
            vals[i - lo] = acc / (double)w;
        }
        return;
    }
    int64_t sum = r->sum;
    for (int64_t i = lo; i < hi; i++) {
        sum += scaled(r, x[i]);
        if (i >= w) sum -= scaled(r, x[i - w]);
        sums[i - lo] = sum;
    }
    r->sum = sum;
}

/* The SMA of bar k of the block as the double nt_sma returns. */
static inline double sma_value(const sma_roll *r, const int64_t *sums, const double *vals, int64_t k) {
    return r->exact ? (double)sums[k] / r->denom : vals[k];
}

/* sign(SMA_f - SMA_s) as the rounded doubles compare: 1, -1 or 0 (equal). On the exact path it
 * avoids the two divisions: with A, B the integer sums, the true means compare as
 * D = A * w_s - B * w_f (both share the scale 10^d), and when |D| exceeds 2^-52 of
 * |A| w_s + |B| w_f the two correctly rounded quotients cannot be equal (each is within 2^-53 of
 * its true mean), so they compare as the true means do. Closer than that, divide. */
static inline int sma_cmp(const sma_roll *f, const int64_t *fs, const double *fv, const sma_roll *s,
                          const int64_t *ss, const double *sv, int64_t k) {
#if defined(__SIZEOF_INT128__)
    if (f->exact && s->exact) {
        const __int128 a = (__int128)fs[k] * s->window, b = (__int128)ss[k] * f->window;
        if (a == b) return 0;
        const __int128 d = a - b;
        const unsigned __int128 mag = d < 0 ? (unsigned __int128)(-d) : (unsigned __int128)d;
        const unsigned __int128 scale = (unsigned __int128)(a < 0 ? -a : a) + (unsigned __int128)(b < 0 ? -b : b);
        if (mag > (scale >> 52)) return d > 0 ? 1 : -1;
    }
#endif
    const double x = sma_value(f, fs, fv, k), y = sma_value(s, ss, sv, k);
    return x > y ? 1 : (x < y ? -1 : 0);
}

int nt_sma_cross_batch(const double *open, const double *high, const double *low, const double *close,
                       int64_t n, const int64_t *fast, const int64_t *slow, int64_t m,
                       const nt_sim_params *params, int32_t allow_short, nt_batch_row *rows) {
    if (n < 0) return NT_STATUS(NT_E_LENGTH, 5);
    if (m < 0) return NT_STATUS(NT_E_LENGTH, 8);
    if (!check_params(params)) return NT_STATUS(NT_E_RANGE, 9);
    for (int64_t i = 0; i < n; i++) {
        const int bad = bad_price(open[i], high[i], low[i], close[i]);
        if (bad) return NT_STATUS(NT_E_RANGE, bad);
    }
    for (int64_t j = 0; j < m; j++) {
        if (fast[j] < 1) return NT_STATUS(NT_E_RANGE, 6);
        if (slow[j] < 1) return NT_STATUS(NT_E_RANGE, 7);
    }
    double max_abs;
    const int32_t rep = nt_representable_digits(close, n, &max_abs);
    const double down = allow_short ? -1.0 : 0.0;
    for (int64_t j = 0; j < m; j++) {
        sma_roll fr, sr;
        sma_roll_init(&fr, fast[j], rep, max_abs);
        sma_roll_init(&sr, slow[j], rep, max_abs);
        sim_state st;
        sim_init(&st, params, NULL, 0);
        int8_t side = 0;
        /* Max drawdown without a division per bar: for a fixed peak, (peak - eq) / peak is
         * largest (after rounding too, as rounding is monotone) at the lowest equity, so one
         * division per run between new peaks gives the same maximum as dividing every bar. */
        double peak = params->init_cash, trough = peak, mdd = 0.0, eq = params->init_cash;
        int64_t fsum[BATCH_BLOCK], ssum[BATCH_BLOCK];
        double fval[BATCH_BLOCK], sval[BATCH_BLOCK];
        const int64_t warm = (fast[j] > slow[j] ? fast[j] : slow[j]) - 1; /* both SMAs defined */
        for (int64_t lo = 0; lo < n; lo += BATCH_BLOCK) {
            const int64_t hi = lo + BATCH_BLOCK < n ? lo + BATCH_BLOCK : n;
            sma_roll_block(&fr, close, lo, hi, fsum, fval);
            sma_roll_block(&sr, close, lo, hi, ssum, sval);
            for (int64_t i = lo; i < hi; i++) {
                /* nt_crossover on the two SMAs: NaN while either warms up */
                double t = NAN;
                if (i < warm) {
                    side = 0;
                } else {
                    const int cmp = sma_cmp(&fr, fsum, fval, &sr, ssum, sval, i - lo);
                    if (cmp > 0) {
                        if (side == -1) t = 1.0;
                        side = 1;
                    } else if (cmp < 0) {
                        if (side == 1) t = down;
                        side = -1;
                    }
                }
                const double c = close[i];
                sim_step(&st, i, n, open[i], high[i], low[i], c, t);
                eq = st.cash + st.pos * c;
                if (eq > peak) {
                    const double dd = (peak - trough) / peak;
                    if (dd > mdd) mdd = dd;
                    peak = trough = eq;
                } else if (eq < trough) {
                    trough = eq;
                }
            }
        }
        const double dd = (peak - trough) / peak;
        if (dd > mdd) mdd = dd;
        if (n > 0) sim_finish(&st, n, close);
        nt_batch_row *r = &rows[j];
        r->fast = fast[j];
        r->slow = slow[j];
        r->final_equity = eq;
        r->total_return = eq / params->init_cash - 1.0;
        r->max_drawdown = mdd;
        r->n_trades = st.count;
        r->n_wins = st.wins;
    }
    return NT_OK;
}
