"""Parameter sweeps: a 1,000-combination grid of ``sma_crossover`` over 1,000,000 bars, serial and on
2 cores with the threads executor (target: >= 1.7x serial), plus processes and Ray for reference.

Each executor runs the same sweep (:func:`neural_trader.backtest.sweep.run_sweep`: per combination
the signals, the native simulation, trades, equity and every metric) end to end on the same bars;
the results are checked identical to serial. Serial and threads alternate over 5 blocks of the grid
so that both see the same background load; processes and Ray run the whole grid once after. The process pins itself to 2 CPUs when it may
use more, so the numbers are "on 2 cores" on any machine. Ray's start-up (a local Ray with 2 CPUs)
is timed separately and not counted in its sweep.

    python -m bench optimize            # from the project root; --quick: 100,000 bars, 100 combinations
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from bench.common import fmt_seconds, machine_rows, synthetic_bars, table

CORES = 2
ROUNDS = 5


def _physical_core(cpu: int) -> tuple[str, str]:
    topology = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
    try:
        with open(topology + "physical_package_id") as package, open(topology + "core_id") as core:
            return package.read().strip(), core.read().strip()
    except OSError:
        return "", str(cpu)


def _pin_to_two_cores() -> str:
    """Pin this process to 2 CPUs on different physical cores (SMT siblings share one core)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows: cannot pin
        return f"{os.cpu_count()} cores (could not pin)"
    if len(cpus) <= CORES:
        return f"{len(cpus)} CPUs available"
    chosen: list[int] = []
    seen: set[tuple[str, str]] = set()
    for cpu in cpus:
        core = _physical_core(cpu)
        if core not in seen:
            seen.add(core)
            chosen.append(cpu)
        if len(chosen) == CORES:
            break
    chosen = chosen if len(chosen) == CORES else cpus[:CORES]
    os.sched_setaffinity(0, set(chosen))
    return f"pinned to CPUs {chosen} (distinct physical cores) of {len(cpus)}"


def _data(n: int) -> Any:
    from neural_trader.backtest.data import RunData, fingerprint
    from neural_trader.domain.market import Bars

    cols = synthetic_bars(n)
    ts = np.datetime64("2000-01-03", "ns") + np.arange(n) * np.timedelta64(1, "m")
    bars = Bars(symbol="SYN", timeframe="1Min", provider="bench", ts=ts, volume=np.full(n, np.nan), **cols)
    return RunData(bars=(bars,), benchmark=None, fingerprint=fingerprint([bars]))


def _machine_busy_s() -> float:
    """CPU seconds every process on the machine has used (Linux /proc/stat), or NaN."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class _Phase:
    """Accumulates wall time, this process's CPU time and the machine's busy time over ``with`` blocks."""

    def __init__(self, own_cpu: bool = True) -> None:
        self.own_cpu = own_cpu
        self.wall = self.cpu = self.busy = 0.0

    def __enter__(self) -> None:
        self._start = (time.perf_counter(), time.process_time(), _machine_busy_s())

    def __exit__(self, *exc: object) -> None:
        wall, cpu, busy = self._start
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        self.busy += _machine_busy_s() - busy

    def row(self, name: str, workers: int, serial_wall: float, n: int, same: bool | str) -> list[object]:
        own = f"{self.cpu / self.wall:.2f}" if self.own_cpu else "-"
        return [name, workers, fmt_seconds(self.wall), f"{n / self.wall:.1f}", f"{serial_wall / self.wall:.2f}x",
                f"{own} / {self.busy / self.wall:.2f}", same if isinstance(same, str) else ("yes" if same else "NO")]


def _same(a: list[Any], b: list[Any]) -> bool:
    for (ma, ea), (mb, eb) in zip(a, b, strict=True):
        if ea != eb or (ma is None) != (mb is None):
            return False
        if ma is not None and any(not (ma[k] == mb[k] or (math.isnan(ma[k]) and math.isnan(mb[k]))) for k in ma):
            return False
    return True


def run(quick: bool = False) -> str:
    from neural_trader.backtest.config import BacktestConfig
    from neural_trader.backtest.optimize import propose
    from neural_trader.backtest.space import ParamRange, resolve_space
    from neural_trader.backtest.sweep import SweepTask, run_sweep, shared_for
    from neural_trader.executors.local import SerialExecutor, ThreadExecutor
    from neural_trader.executors.processes import ProcessExecutor
    from neural_trader.executors.ray_executor import RayExecutor, _ray, ray_available
    from neural_trader.strategies.sma_crossover import SmaCrossover

    pinned = _pin_to_two_cores()
    machine = machine_rows()
    n = 100_000 if quick else 1_000_000
    slows = list(range(60, 80, 2)) if quick else list(range(60, 260, 2))
    strategy = SmaCrossover()
    space = {"fast": ParamRange(values=list(range(5, 55, 5))), "slow": ParamRange(values=slows)}
    points, refused, size = propose(strategy, resolve_space(strategy, space), {}, method="grid")
    assert refused == 0 and len(points) == size
    data = _data(n)
    shared = shared_for(data, strategy, BacktestConfig(commission_pct=0.0005), "vectorized")
    tasks = [SweepTask(params=p) for p in points]

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    # Serial and threads alternate over 5 blocks of the grid, so both see the same background load.
    reference: list[Any] = []
    threaded: list[Any] = []
    serial, threads = _Phase(), _Phase()
    for block in np.array_split(np.arange(len(tasks)), ROUNDS):
        part = [tasks[i] for i in block]
        with serial:
            reference += run_sweep(SerialExecutor(), shared, part)
        with threads:
            threaded += run_sweep(ThreadExecutor(), shared, part, workers=CORES)
    rows: list[list[object]] = [serial.row("serial", 1, serial.wall, len(tasks), "-"),
                                threads.row("threads", CORES, serial.wall, len(tasks), _same(threaded, reference))]
    speedups = {"threads": serial.wall / threads.wall}
    ray_start = None
    # Ray last: a running local Ray keeps a few processes busy, which would slow the others down.
    for name in ["processes"] + (["ray"] if ray_available() else []):
        executor: Any = ProcessExecutor() if name == "processes" else RayExecutor()
        if name == "ray":
            t0 = time.perf_counter()
            _ray(CORES)
            ray_start = time.perf_counter() - t0
        phase = _Phase(own_cpu=False)
        with phase:
            got = run_sweep(executor, shared, tasks, workers=CORES)
        speedups[name] = serial.wall / phase.wall
        rows.append(phase.row("ray (local, 2 CPUs)" if name == "ray" else name, CORES, serial.wall, len(tasks),
                              _same(got, reference)))
    if ray_start is not None:
        import ray

        ray.shutdown()
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    best = max(reference, key=lambda ev: ev[0]["sharpe"] if ev[0] and math.isfinite(ev[0]["sharpe"]) else -1e9)
    lines = [
        table(["", ""], [*machine, ("CPUs", pinned),
                         ("load average (1 min) before / after", f"{load_before:.2f} / {load_after:.2f}")]),
        "",
        f"**Grid of {len(tasks):,} `sma_crossover` combinations (fast 5-50 x slow {slows[0]}-{slows[-1]}) over "
        f"{n:,} one-minute bars**, 0.05 % commission, every metric per combination:",
        "",
        table(["executor", "workers", "time", "combinations/s", "speed-up vs serial",
               "cores busy: this process / whole machine", "identical to serial"], rows),
        "",
        "\"Cores busy\" is CPU time over wall time: this process's (threads included; workers of processes "
        "and Ray are other processes) and the whole machine's (/proc/stat), so the difference is what other "
        "programs took from the 2 cores during that row.",
        "",
        f"Threads speed-up: {speedups['threads']:.2f}x (target >= 1.7x: {'met' if speedups['threads'] >= 1.7 else 'NOT met'}).",
    ]
    if ray_start is not None:
        lines.append(f"Starting the local Ray took {fmt_seconds(ray_start)} (once per process; not in its sweep time).")
    lines.append(f"Best sharpe in the grid: {best[0]['sharpe']:.3f}.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
