"""Benchmarks that print markdown: ``python -m bench [name ...] [--quick]``.

Each module here with a ``run(quick: bool = False) -> str`` is a benchmark; ``bench/common.py``
holds the shared timing and machine-description helpers. Figures are recorded in
docs/benchmarks.md; performance is asserted here, never in timed unit tests.
"""
