"""Executors: every one gives the serial answer, data travels once, workers recycle, cancel stops.

Every executor, Ray included (a local Ray with 2 CPUs), runs the same sweep of a pure function
here; tests/backtest/test_optimize.py runs a real strategy sweep on each. The Ray tests skip, with
the reason, only when ray is not installed.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from neural_trader.errors import NtCancelled, NtNotFound
from neural_trader.executors import Shared, chunk_bounds, get_executor
from neural_trader.executors.local import SerialExecutor, ThreadExecutor
from neural_trader.executors.processes import ProcessExecutor, SharedBlock
from neural_trader.executors.ray_executor import RayExecutor, ray_available
from neural_trader.host import make_host

needs_ray = pytest.mark.skipif(not ray_available(), reason="ray is not installed: pip install 'neural-trader[ray]'")


@pytest.fixture(scope="module", autouse=True)
def _stop_ray_after_this_module() -> Iterator[None]:
    """A local Ray started by a test here stops when the module is done (it keeps processes busy)."""
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


EXECUTORS = [
    pytest.param(SerialExecutor(), id="serial"),
    pytest.param(ThreadExecutor(), id="threads"),
    pytest.param(ProcessExecutor(recycle_every=4), id="processes"),
    pytest.param(RayExecutor(), id="ray", marks=[needs_ray, pytest.mark.slow]),
]


def window_stats(shared: Shared, task: tuple[int, int]) -> tuple[float, float, int]:
    """A pure function of the shared arrays: mean and max of a window, and the worker's pid."""
    lo, hi = task
    x = shared.arrays["x"][lo:hi]
    return float(x.mean() * shared.context["scale"]), float(x.max()), os.getpid()


def array_origin(shared: Shared, task: int) -> tuple[bool, bool, int]:
    """Whether the worker's array is a read-only view of memory it does not own, and its pid."""
    x = shared.arrays["x"]
    return bool(x.flags.writeable), bool(x.flags.owndata), os.getpid()


def _shared() -> Shared:
    x = np.random.default_rng(3).normal(size=50_000)
    return Shared(arrays={"x": x, "idx": np.arange(10, dtype=np.int64)}, context={"scale": 2.0})


TASKS = [(i * 1000, i * 1000 + 5000) for i in range(40)]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_every_executor_gives_the_serial_results_in_order(executor) -> None:
    shared = _shared()
    expected = [r[:2] for r in SerialExecutor().map(window_stats, shared, TASKS)]
    seen: list[tuple[int, int]] = []
    got = executor.map(window_stats, shared, TASKS, workers=2, progress=lambda d, t: seen.append((d, t)))
    assert [r[:2] for r in got] == expected
    assert seen[-1] == (len(TASKS), len(TASKS))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_process_workers_map_the_shared_block_and_are_recycled() -> None:
    got = ProcessExecutor(recycle_every=4).map(array_origin, _shared(), list(range(32)), workers=2)
    assert all(not writeable and not owndata for writeable, owndata, _ in got)
    pids = [pid for *_, pid in got]
    assert os.getpid() not in pids
    # 32 tasks, 2 workers replaced every 4 tasks each: 4 generations of 8, each with fresh workers.
    generations = [set(pids[k:k + 8]) for k in range(0, 32, 8)]
    assert all(a.isdisjoint(b) for i, a in enumerate(generations) for b in generations[i + 1:])


def test_a_shared_block_round_trips_every_array_and_is_unlinked() -> None:
    arrays = {"a": np.arange(7, dtype=np.float64), "b": np.array([[1, 2], [3, 4]], dtype=np.int32),
              "empty": np.empty(0)}
    block = SharedBlock.create(arrays)
    name = block.shm.name
    other = SharedBlock.attach(*block.handle)
    views = other.arrays()
    for key, arr in arrays.items():
        assert np.array_equal(views[key], arr) and views[key].dtype == arr.dtype
    del views
    other.close()
    block.close()
    with pytest.raises(FileNotFoundError):
        SharedBlock.attach(name, block.slots)


def test_objects_cannot_travel_in_shared_memory() -> None:
    with pytest.raises(TypeError, match="Python objects"):
        SharedBlock.create({"o": np.array([object()])})


@pytest.mark.parametrize("executor", [SerialExecutor(), ThreadExecutor(), ProcessExecutor()],
                         ids=["serial", "threads", "processes"])
def test_a_progress_callback_that_raises_cancels_the_sweep(executor) -> None:
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        raise NtCancelled("the operation was cancelled")

    with pytest.raises(NtCancelled):
        executor.map(window_stats, _shared(), TASKS, workers=2, progress=progress)
    assert len(calls) == 1


def fail_on_odd(shared: Shared, task: int) -> int:
    if task % 2:
        raise ValueError(f"task {task} is odd")
    return task


def test_an_error_in_a_task_reaches_the_caller() -> None:
    for executor in (SerialExecutor(), ThreadExecutor(), ProcessExecutor()):
        with pytest.raises(ValueError, match="task 1 is odd"):
            executor.map(fail_on_odd, _shared(), [0, 1, 2], workers=2)


def test_threads_run_in_parallel_threads() -> None:
    names: set[str] = set()
    barrier = threading.Barrier(2, timeout=10)

    def meet(shared: Shared, task: int) -> int:
        names.add(threading.current_thread().name)
        barrier.wait()  # deadlocks (and times out) unless two tasks run at once
        return task

    assert ThreadExecutor().map(meet, Shared(), [0, 1], workers=2) == [0, 1]
    assert len(names) == 2


def test_chunks_cover_every_task_once() -> None:
    for n in (0, 1, 7, 100, 1001):
        for workers in (1, 2, 16):
            bounds = chunk_bounds(n, workers)
            covered = [i for lo, hi in bounds for i in range(lo, hi)]
            assert covered == list(range(n))


def test_the_executors_plugin_registers_serial_threads_processes_and_ray() -> None:
    from neural_trader_plugins import executors, executors_ray

    host = make_host(autoload=False, plugins=[executors, executors_ray])
    assert {"serial", "threads", "processes", "ray"} <= set(host.registry("executors").names())
    with pytest.raises(NtNotFound, match="available: processes, ray, serial, threads"):
        get_executor(host, "dask")


def test_without_ray_the_ray_plugin_is_unavailable_with_the_install_command(monkeypatch) -> None:
    import sys

    from neural_trader.executors import ray_executor

    monkeypatch.setattr(ray_executor, "ray_available", lambda: False)
    monkeypatch.delitem(sys.modules, "neural_trader_plugins.executors_ray", raising=False)
    from neural_trader.plugins import PluginInfo, make_plugin_manager, register_plugin

    info = PluginInfo(name="executors_ray", status="loaded")
    import importlib

    register_plugin(make_plugin_manager(), info,
                    loader=lambda: importlib.import_module("neural_trader_plugins.executors_ray"))
    assert info.status == "unavailable"
    assert info.install == "pip install 'neural-trader[ray]'"
    assert RayExecutor().unavailable_reason() == "the ray package is not installed"


def test_a_worker_that_cannot_start_is_an_error_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """The context's class exists only in this process (like a class typed into a REPL): workers
    cannot unpickle it, and the sweep fails at once with the reason and the way out."""
    import types

    from neural_trader.errors import NtUserError

    module = types.ModuleType("nt_only_in_the_parent")
    exec("class Context:\n    scale = 2.0\n", module.__dict__)
    monkeypatch.setitem(sys.modules, "nt_only_in_the_parent", module)
    shared = Shared(arrays={"x": np.arange(10.0)}, context=module.Context())
    with pytest.raises(NtUserError, match=r"importable by name in a fresh process.*threads executor"):
        ProcessExecutor().map(array_origin, shared, list(range(4)), workers=2)
