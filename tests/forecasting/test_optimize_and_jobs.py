"""neural.optimize: seeded (the same request searches the same trials), the best trial is the lowest
validation loss and is what gets trained and stored, and the search is bounded before it starts.
Training as a REST job: progress per epoch, cancellable, the best state so far left as a checkpoint."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from neural_trader.errors import NtUserError

from .conftest import TRAIN

torch = pytest.importorskip("torch")
pytest.importorskip("optuna")

SEARCH = {"symbol": "ORCL", "provider": "csv", "start": "2010-01-01T00:00:00Z", "end": "2013-12-31T00:00:00Z",
          "architecture": "gru", "trials": 3, "epochs": 2, "max_hidden_size": 8, "max_layers": 1, "lookback": 20,
          "use_gpu": False, "seed": 5}


def test_the_search_is_seeded_and_stores_its_best_trial(orcl_host: Any) -> None:
    got = orcl_host.call("neural.optimize", SEARCH)
    again = orcl_host.call("neural.optimize", SEARCH)
    assert got["trials"] == again["trials"] and got["best"]["model_id"] == again["best"]["model_id"]
    losses = {t["number"]: t["val_loss"] for t in got["trials"]}
    assert len(losses) == 3 and got["best_trial"] == min(losses, key=lambda k: losses[k])
    best = next(t for t in got["trials"] if t["number"] == got["best_trial"])
    assert got["best"]["hyperparameters"]["hidden_size"] == best["hyperparameters"]["hidden_size"] <= 8
    assert got["executor"] == "in-process"
    # the stored version is neural.train of the best trial's values
    trained = orcl_host.call("neural.train", {**{k: SEARCH[k] for k in ("symbol", "provider", "start", "end",
                                                                          "architecture", "lookback", "seed",
                                                                          "use_gpu", "epochs")},
                                              "hyperparameters": best["hyperparameters"],
                                              "learning_rate": best["learning_rate"]})
    assert trained["model_id"] == got["best"]["model_id"]
    assert [m["model_id"] for m in orcl_host.call("neural.models", {"symbol": "ORCL"})["models"]] == [
        trained["model_id"]]


def test_the_search_is_bounded_before_it_starts(orcl_host: Any) -> None:
    with pytest.raises(NtUserError, match="multiply-adds"):
        orcl_host.call("neural.optimize", {**SEARCH, "trials": 100, "epochs": 200, "max_hidden_size": 512,
                                           "max_layers": 4})


async def test_training_as_a_job_reports_epochs_and_cancels_to_a_checkpoint(orcl_host: Any, nt_rest: Any) -> None:
    slow = {**TRAIN, "epochs": 400, "patience": 100, "start": "2005-01-01T00:00:00Z"}
    response = await nt_rest.post("/v1/neural/train?async=true", json=slow)
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    deadline = time.monotonic() + 60
    while True:
        job = (await nt_rest.get(location)).json()
        if job["progress"] and job["progress"]["done"] >= 2:
            break
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        await asyncio.sleep(0.05)
    assert job["progress"]["total"] == 400 and job["progress"]["message"].startswith("epoch ")
    assert (await nt_rest.delete(location)).status_code in (200, 202)
    folder = orcl_host.settings.data_dir / "models"
    deadline = time.monotonic() + 60
    while not list(folder.glob("*/checkpoint.pt")):
        assert time.monotonic() < deadline, "no checkpoint after cancelling"
        await asyncio.sleep(0.05)
    (checkpoint,) = folder.glob("*/checkpoint.pt")
    state = torch.load(checkpoint, weights_only=True)
    assert "rnn.weight_ih_l0" in state and "head.weight" in state
    listed = (await nt_rest.post("/v1/neural/models", json={"symbol": "ORCL"})).json()
    assert listed["models"] == []  # nothing stored as a version


async def test_training_over_mcp_sends_one_progress_notification_per_epoch(nt_mcp: Any) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    request = {**TRAIN, "epochs": 3, "patience": 10}
    result = await nt_mcp.call_tool("neural_train", request, progress_callback=on_progress)
    assert not result.is_error, result.content
    epochs = result.structured_content["epochs_run"]
    assert [(p, t) for p, t, _ in seen] == [(float(e), 3.0) for e in range(1, epochs + 1)]
    assert all(m is not None and m.startswith(f"epoch {int(p)}: val ") for p, _, m in seen)
