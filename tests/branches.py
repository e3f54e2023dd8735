"""The first-party packs' migration branches, in the host's order (by branch name): the one list the
storage, ``db`` command and plugin-template tests compare against. A pack that adds a branch adds its
module here."""

from __future__ import annotations

import importlib

from neural_trader.services.branches import MigrationBranch

#: The modules holding a first-party pack's ``MIGRATIONS``.
_PACKS = ("neural_trader_plugins.backtest", "neural_trader_plugins.forecasting",
          "neural_trader_plugins.news", "neural_trader_plugins.sports", "neural_trader_plugins.sports.book",
          "neural_trader_plugins.syndicates")

PACK_BRANCHES: tuple[MigrationBranch, ...] = tuple(
    sorted((importlib.import_module(m).MIGRATIONS for m in _PACKS), key=lambda b: b.name))
PACK_BRANCH_NAMES: tuple[str, ...] = tuple(b.name for b in PACK_BRANCHES)
#: Every branch a host with only first-party packs migrates, core first.
ALL_BRANCH_NAMES: tuple[str, ...] = ("core", *PACK_BRANCH_NAMES)
