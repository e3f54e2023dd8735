"""Training on real ORCL bars: the loop learns (training loss falls substantially), the restored
state is the best validation epoch, runs are reproducible under a seed, the progress callback can
cancel, early stopping stops on a plateau, bad input names the field."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from neural_trader.errors import NtCancelled, NtUnavailable, NtUserError
from neural_trader_plugins.forecasting import features as F

torch = pytest.importorskip("torch")

from neural_trader_plugins.forecasting import training as T  # noqa: E402


@pytest.fixture(scope="module")
def bars(orcl: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    # the last 1000 bars (2011-2014): ~650 train windows, fast enough for a unit test
    return tuple(np.ascontiguousarray(orcl[k][-1000:]) for k in ("close", "high", "low", "volume"))


@pytest.fixture(scope="module")
def data(bars: tuple[np.ndarray, ...]) -> F.DataSplits:
    return F.prepare(*bars, lookback=20, horizon=1)


def test_training_reduces_the_loss_and_keeps_the_best_state(data: F.DataSplits,
                                                             bars: tuple[np.ndarray, ...]) -> None:
    # N-BEATS has the capacity to fit the training windows: a working loop (gradients, optimiser
    # steps, inputs paired with their own targets under shuffling) must cut the training MSE of the
    # scaled targets well below its first epoch; a broken one cannot.
    # (seeds 0-3 end at 0.20-0.32 of the first epoch's loss)
    r = T.train("nbeats", data, {"hidden_size": 128, "layers": 2, "blocks": 3}, epochs=10, lr=2e-3,
                batch_size=64, seed=0, patience=100, schedule="none")
    assert r.epochs_run == 10 and not r.stopped_early
    assert r.history[-1].train_loss < 0.5 * r.history[0].train_loss
    vals = [e.val_loss for e in r.history]
    assert r.best_epoch == int(np.argmin(vals)) + 1
    assert r.metrics["val_loss"] == min(vals)
    # the returned model holds the best epoch's weights: its validation MSE (scaled) is that epoch's
    pred = T.predict(r.model, data.val.x, data)
    scaled = (data.scaler.transform_y(pred) - data.scaler.transform_y(data.val.y)) ** 2
    assert float(scaled.mean()) == pytest.approx(r.metrics["val_loss"], rel=1e-4)
    for k, v in r.model.state_dict().items():
        assert torch.equal(v.cpu(), r.state_dict[k])
    # what a registry row needs
    assert r.architecture == "nbeats" and r.hyperparameters["blocks"] == 3 and r.hyperparameters["lookback"] == 20
    fm = F.feature_matrix(*bars)
    assert r.data_fingerprint == hashlib.sha256(fm.values.tobytes()).hexdigest() == data.fingerprint
    assert {"test_mae", "test_rmse", "test_directional_accuracy", "val_smape"} <= set(r.metrics)
    assert r.device == "cpu" and r.mixed_precision is False


def test_same_seed_same_losses(data: F.DataSplits) -> None:
    kw = {"epochs": 2, "lr": 1e-2, "batch_size": 64, "patience": 10}
    hp = {"hidden_size": 8, "layers": 1, "dropout": 0.0}
    a, b = (T.train("gru", data, hp, seed=5, **kw) for _ in range(2))
    c = T.train("gru", data, hp, seed=6, **kw)
    assert [(e.train_loss, e.val_loss) for e in a.history] == [(e.train_loss, e.val_loss) for e in b.history]
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    assert a.history[0].train_loss != c.history[0].train_loss


def test_progress_can_cancel_and_the_best_state_is_saved(data: F.DataSplits, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, float, float]] = []

    def progress(epoch: int, train_loss: float, val_loss: float) -> None:
        seen.append((epoch, train_loss, val_loss))
        if epoch == 2:
            raise NtCancelled("stopped by the caller")

    path = tmp_path / "best.pt"
    with pytest.raises(NtCancelled):
        T.train("tcn", data, {"hidden_size": 8, "layers": 2}, epochs=20, seed=0, progress=progress,
                checkpoint_path=path)
    assert [s[0] for s in seen] == [1, 2]
    assert all(np.isfinite(s[1]) and np.isfinite(s[2]) for s in seen)
    saved = torch.load(path)
    assert any(k.startswith("stack.0.net.0") for k in saved)


def test_early_stopping_on_a_plateau(data: F.DataSplits) -> None:
    # lr = 0: the weights never move, the validation loss is flat, patience 3 stops after epoch 4
    r = T.train("lstm", data, {"hidden_size": 8, "layers": 1}, epochs=50, lr=0.0, patience=3, seed=0)
    assert r.epochs_run == 4 and r.stopped_early and r.best_epoch == 1
    assert len({e.val_loss for e in r.history}) == 1


def test_cosine_schedule_lowers_the_learning_rate(data: F.DataSplits) -> None:
    r = T.train("gru", data, {"hidden_size": 4, "layers": 1}, epochs=3, lr=1e-2, schedule="cosine", seed=0,
                patience=10)
    lrs = [e.lr for e in r.history]
    assert lrs[0] == pytest.approx(1e-2) and lrs[0] > lrs[1] > lrs[2]
    assert lrs[1] == pytest.approx(1e-2 * (1 + np.cos(np.pi / 3)) / 2)


def test_bad_input_names_the_field(data: F.DataSplits) -> None:
    cases = [({"schedule": "step"}, "schedule"), ({"device": "tpu"}, "device"), ({"epochs": 0}, "epochs"),
             ({"lr": -1.0}, "lr"), ({"batch_size": 0}, "batch_size"), ({"seed": -1}, "seed"),
             ({"hp": {"lookback": 30}}, "lookback"), ({"hp": {"dropout": 2.0}}, "dropout")]
    for kw, field in cases:
        kw = {"hp": {"hidden_size": 4}, **kw}
        with pytest.raises(NtUserError, match=field):
            T.train("gru", data, **kw)  # type: ignore[arg-type]
    with pytest.raises(NtUserError, match="architecture"):
        T.train("prophet", data)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_for_without_cuda() -> None:
    with pytest.raises(NtUnavailable, match="CUDA"):
        T._device(torch, "cuda", True)
    assert T._device(torch, None, True).type == "cpu"
