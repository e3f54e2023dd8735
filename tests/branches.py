"""The first-party packs' migration branches, in the host's load order (the entry points' order in
pyproject.toml): the one list the storage, ``db`` command and plugin-template tests compare against.
A pack that adds a branch adds it here."""

from __future__ import annotations

import importlib

from neural_trader.services.branches import MigrationBranch

#: (module holding ``MIGRATIONS``) per first-party branch, in load order.
_PACKS = ("neural_trader_plugins.backtest", "neural_trader_plugins.forecasting")

PACK_BRANCHES: tuple[MigrationBranch, ...] = tuple(importlib.import_module(m).MIGRATIONS for m in _PACKS)
PACK_BRANCH_NAMES: tuple[str, ...] = tuple(b.name for b in PACK_BRANCHES)
#: Every branch a host with only first-party packs migrates, core first.
ALL_BRANCH_NAMES: tuple[str, ...] = ("core", *PACK_BRANCH_NAMES)
