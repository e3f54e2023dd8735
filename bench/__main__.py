"""``python -m bench [name ...] [--quick]``: run the named benchmark modules, or all of them.

A benchmark is a module ``bench/<name>.py`` with ``run(quick: bool = False) -> str`` returning
markdown; adding one needs no edit here.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"common", "__main__"}


def available() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name not in NOT_BENCHMARKS]
    return sorted(n for n in names if hasattr(importlib.import_module(f"bench.{n}"), "run"))


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run (default: all of {', '.join(names)})")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller inputs (a smoke run)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in names]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; available: {', '.join(names)}")
    for name in args.names or names:
        print(f"## {name}\n", flush=True)
        print(importlib.import_module(f"bench.{name}").run(quick=args.quick), flush=True)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
