"""The architectures: output shapes, TCN causality and receptive field, determinism under a seed,
hyper-parameter bounds (and their schema), and that only torch-free modules load without torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neural_trader.errors import NtUserError
from neural_trader.schema import schema_for
from neural_trader_plugins.forecasting import models as M

SMALL = {"lookback": 12, "horizon": 4, "hidden_size": 8, "layers": 2}


def test_hyperparameters_are_bounded_and_named() -> None:
    with pytest.raises(NtUserError, match="dropout"):
        M.hyperparameters("lstm", {"dropout": 1.5})
    with pytest.raises(NtUserError, match="kernel_size"):
        M.hyperparameters("tcn", {"kernel_size": 1})
    with pytest.raises(NtUserError, match="no hyper-parameter heads"):
        M.hyperparameters("gru", {"heads": 2})
    with pytest.raises(NtUserError, match="layers must be an integer"):
        M.hyperparameters("nbeats", {"layers": 2.5})
    with pytest.raises(NtUserError, match="multiple of heads"):
        M.hyperparameters("transformer", {"hidden_size": 10, "heads": 4})
    with pytest.raises(NtUserError, match="architecture must be one of"):
        M.architecture("xgboost")
    props = schema_for(M.TcnParams)["properties"]
    assert props["kernel_size"]["minimum"] == 2 and props["dropout"]["maximum"] == 0.9
    assert set(M.ARCHITECTURES) == {"lstm", "gru", "transformer", "tcn", "nbeats"}


def test_numpy_modules_work_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from neural_trader.errors import NtUnavailable\n"
        "from neural_trader_plugins.forecasting import baselines, conformal, evaluation, features, models, training\n"
        "c = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 400)))\n"
        "d = features.prepare(c, lookback=10, horizon=2)\n"
        "assert d.train.x.shape[1:] == (10, len(d.feature_names))\n"
        "for call in (lambda: models.ARCHITECTURES['tcn'].build(3, models.TcnParams()),\n"
        "             lambda: training.train('gru', d)):\n"
        "    try:\n"
        "        call()\n"
        "    except NtUnavailable as exc:\n"
        "        assert \"neural-trader[neural]\" in str(exc), exc\n"
        "    else:\n"
        "        raise AssertionError('no NtUnavailable')\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", sorted(M.ARCHITECTURES))
def test_shapes(name: str) -> None:
    extra = {"heads": 2} if name == "transformer" else {}
    hp = M.hyperparameters(name, {**SMALL, **extra})
    torch.manual_seed(0)
    net = M.ARCHITECTURES[name].build(5, hp)
    x = torch.randn(3, 12, 5)
    for mode in (net.train, net.eval):
        mode()
        out = net(x)
        assert out.shape == (3, 4)
        assert torch.isfinite(out).all()
    out.sum().backward()
    # every weight gets a gradient, except N-BEATS' last backcast head (nothing reads it, as in the paper)
    unused = {f"blocks.{hp.blocks - 1}.backcast.weight", f"blocks.{hp.blocks - 1}.backcast.bias"} \
        if name == "nbeats" else set()
    assert {n for n, p in net.named_parameters() if p.grad is None} == unused


@pytest.mark.parametrize("name", sorted(M.ARCHITECTURES))
def test_same_seed_same_model(name: str) -> None:
    extra = {"heads": 2} if name == "transformer" else {}
    hp = M.hyperparameters(name, {**SMALL, **extra, "dropout": 0.0})
    x = torch.randn(2, 12, 5, generator=torch.Generator().manual_seed(1))
    outs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        net = M.ARCHITECTURES[name].build(5, hp).eval()
        with torch.no_grad():
            outs.append(net(x))
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], outs[2])


def test_tcn_stack_is_causal_with_the_documented_receptive_field() -> None:
    kernel, layers = 3, 2
    field = 1 + 2 * (kernel - 1) * (2 ** layers - 1)  # 13
    hp = M.hyperparameters("tcn", {"lookback": 40, "horizon": 1, "hidden_size": 16, "layers": layers,
                                   "kernel_size": kernel, "dropout": 0.0})
    torch.manual_seed(3)
    net = M.ARCHITECTURES["tcn"].build(4, hp).eval()
    x = torch.randn(1, 4, 40, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        base = net.stack(x)
        for k in (0, 10, 25, 39):
            xk = x.clone()
            xk[:, :, k] += 5.0
            diff = (net.stack(xk) - base).abs().amax(dim=1)[0]  # per output step
            assert (diff[:k] == 0).all(), f"output before step {k} changed"
            assert diff[k] > 0
            reach = min(39, k + field - 1)
            assert diff[reach] > 0, f"step {reach} should see step {k}"
            assert (diff[k + field:] == 0).all(), "output beyond the receptive field changed"


def test_nbeats_forecast_is_the_sum_of_block_forecasts() -> None:
    hp = M.hyperparameters("nbeats", {**SMALL, "blocks": 3})
    torch.manual_seed(0)
    net = M.ARCHITECTURES["nbeats"].build(2, hp).eval()
    x = torch.randn(5, 12, 2)
    with torch.no_grad():
        residual, total = x.reshape(5, -1), torch.zeros(5, 4)
        for block in net.blocks:
            back, fore = block(residual)
            residual, total = residual - back, total + fore
        torch.testing.assert_close(net(x), total)
