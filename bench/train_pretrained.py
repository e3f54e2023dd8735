"""Train the pretrained forecaster shipped in the package (plugins/neural_trader_plugins/forecasting/
pretrained/): a small GRU on the daily bars of ORCL, NVDA and YHOO (tests/data/*.txt, Yahoo CSVs),
pooled. Its features are returns and price-relative indicators, so it transfers to other symbols.

Split by date, the same for every symbol: train to 2010-12-31, validation 2011-2012 (early stopping
and the conformal half-widths), test 2013-2014 (the metrics in metrics.json and docs/forecasting.md,
next to the naive baselines and exponential smoothing on the same windows). A window belongs to the
part that holds all its target bars. Prices are split/dividend adjusted (Adj Close; high and low
scaled by the same factor) so a split is not a return.

Run from the project root (CPU, about a minute; deterministic under the seed)::

    .venv/bin/python bench/train_pretrained.py
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
OUT = ROOT / "plugins" / "neural_trader_plugins" / "forecasting" / "pretrained"
FILES = {"ORCL": "orcl-1995-2014.txt", "NVDA": "nvda-1999-2014.txt", "YHOO": "yhoo-1996-2014.txt"}
TRAIN_END, VAL_END = np.datetime64("2011-01-01"), np.datetime64("2013-01-01")
LOOKBACK, HORIZON, ALPHA, SEED = 30, 5, 0.1, 0
HP = {"hidden_size": 16, "layers": 1, "dropout": 0.0}
TRAINING = {"epochs": 40, "lr": 1e-3, "batch_size": 256, "patience": 6}


def load(path: Path) -> dict[str, np.ndarray]:
    raw = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=(0, 2, 3, 4, 5, 6),
                        dtype=[("d", "datetime64[D]"), ("h", "f8"), ("l", "f8"), ("c", "f8"), ("a", "f8"), ("v", "f8")])
    factor = raw["a"] / raw["c"]
    return {"date": raw["d"], "high": raw["h"] * factor, "low": raw["l"] * factor, "close": raw["a"],
            "volume": raw["v"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    import torch

    from neural_trader_plugins.forecasting import comparison, conformal, evaluation, export, features
    from neural_trader_plugins.forecasting import training as T
    from neural_trader_plugins.forecasting.models import ARCHITECTURES

    torch.set_num_threads(1)
    series = {}
    for symbol, name in FILES.items():
        b = load(DATA / name)
        fm = features.feature_matrix(b["close"], b["high"], b["low"], b["volume"])
        w = features.windows(fm, b["close"], lookback=LOOKBACK, horizon=HORIZON)
        d = b["date"]
        first, last = d[w.ends + 1], d[w.ends + HORIZON]
        parts = {"train": w.take(last < TRAIN_END), "val": w.take((first >= TRAIN_END) & (last < VAL_END)),
                 "test": w.take(first >= VAL_END)}
        b1 = int(np.searchsorted(d, TRAIN_END))
        series[symbol] = {"bars": b, "fm": fm, "parts": parts, "train_rows": fm.values[fm.first_valid:b1]}

    rows = np.concatenate([s["train_rows"] for s in series.values()])
    y_train = np.concatenate([s["parts"]["train"].y for s in series.values()])
    scaler = features.Scaler(mean=rows.mean(axis=0), std=np.where(rows.std(axis=0) > 0, rows.std(axis=0), 1.0),
                             y_mean=y_train.mean(axis=0), y_std=y_train.std(axis=0))

    def pooled(part: str) -> features.Part:
        ws = [s["parts"][part] for s in series.values()]
        return features.Part(x=np.ascontiguousarray(scaler.transform(np.concatenate([w.x for w in ws]))),
                             y=np.concatenate([w.y for w in ws]), ends=np.concatenate([w.ends for w in ws]),
                             last_close=np.concatenate([s["bars"]["close"][s["parts"][part].ends]
                                                        for s in series.values()]))

    names = next(iter(series.values()))["fm"].names
    data = features.DataSplits(train=pooled("train"), val=pooled("val"), test=pooled("test"), scaler=scaler,
                               feature_names=names, lookback=LOOKBACK, horizon=HORIZON, b1=0, b2=0,
                               fingerprint=features.fingerprint(rows))
    spec = ARCHITECTURES["gru"]
    r = T.train(spec, data, {**HP, "lookback": LOOKBACK, "horizon": HORIZON}, epochs=TRAINING["epochs"],
                lr=TRAINING["lr"], batch_size=TRAINING["batch_size"], patience=TRAINING["patience"], seed=SEED,
                use_gpu=False, progress=lambda e, tl, vl: print(f"epoch {e:3d}  train {tl:.4f}  val {vl:.4f}"))
    cal = conformal.calibrate(data.val.y, T.predict(r.model, data.val.x, data), alpha=ALPHA)

    test: dict[str, dict[str, dict[str, float]]] = {}
    y_all, p_all, base_all, last_all = [], [], [], []
    for symbol, s in series.items():
        w = s["parts"]["test"]
        x = np.ascontiguousarray(scaler.transform(w.x))
        pred = T.predict(r.model, x, data)
        close = s["bars"]["close"]
        ev = comparison.compare(close, w.ends, w.y, pred, lookback=LOOKBACK, horizon=HORIZON)
        cover = conformal.coverage(w.y, conformal.intervals(pred, cal))
        test[symbol] = {row["model"]: {k: float(v) for k, v in row.items() if k != "model"} for row in ev.table()}
        test[symbol]["model"]["coverage"] = float(cover.overall)
        last = close[w.ends]
        y_all.append(features.to_prices(w.y, last))
        p_all.append(features.to_prices(pred, last))
        base_all.append({k: features.to_prices(v, last)
                         for k, v in comparison.forecasts(close, w.ends, HORIZON, LOOKBACK).items()})
        last_all.append(last)
    ev = evaluation.evaluate(np.concatenate(y_all), np.concatenate(p_all),
                             {k: np.concatenate([b[k] for b in base_all]) for k in comparison.BASELINES},
                             reference=np.concatenate(last_all))
    test["pooled"] = {row["model"]: {k: float(v) for k, v in row.items() if k != "model"} for row in ev.table()}

    config = {"model_id": "pretrained", "hyperparameters": r.hyperparameters, "feature_names": list(names),
              "lookback": LOOKBACK, "horizon": HORIZON, "n_features": len(names), "timeframe": "1Day",
              "scaler": {k: getattr(scaler, k).tolist() for k in ("mean", "std", "y_mean", "y_std")},
              "conformal": {"alpha": cal.alpha, "q": cal.q.tolist(), "n": cal.n},
              "training": {**TRAINING, "seed": SEED, "epochs_run": r.epochs_run, "best_epoch": r.best_epoch,
                           "symbols": list(FILES), "train_end": str(TRAIN_END), "val_end": str(VAL_END)}}
    args.out.mkdir(parents=True, exist_ok=True)
    export.write(args.out, spec, config, r.state_dict)
    metrics = {"test": test["pooled"], "by_symbol": test, "windows": {p: len(getattr(data, p)) for p in
                                                                       ("train", "val", "test")},
               "test_period": "2013-01-01 .. 2014 (targets)", "command": "python bench/train_pretrained.py",
               "torch": torch.__version__, "python": platform.python_version()}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    print(f"{'forecaster':16s} {'MAE':>8s} {'RMSE':>8s} {'MAPE %':>8s} {'dir acc':>8s}")
    for name, m in test["pooled"].items():
        print(f"{name:16s} {m['mae']:8.4f} {m['rmse']:8.4f} {m['mape']:8.3f} {m['directional_accuracy']:8.3f}")
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir())}
    print("files:", sizes, file=sys.stderr)


if __name__ == "__main__":
    main()
