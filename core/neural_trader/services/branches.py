"""Migration branches: the core's tables and each plugin's tables, migrated side by side.

A plugin that owns tables registers a :class:`MigrationBranch` through ``nt_register_migrations``:
a directory of Alembic revisions and the SQLAlchemy metadata its tables live on. Every branch keeps
its revision in a version table of its own (``alembic_version`` for the core,
``alembic_version_<name>`` for a plugin), so a pack that is uninstalled or blocked leaves its tables
and its version row behind without making anyone else's schema unreadable, and the host needs to
know nothing about a pack's tables. See :mod:`neural_trader.services.storage` for when branches are
migrated.

This module is cheap to import (no SQLAlchemy): plugins build their branch at registration time.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["CORE", "MigrationBranch"]

#: Branch names become part of a table name (``alembic_version_<name>``; PostgreSQL allows 63 bytes).
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _check_name(_instance: Any, _attribute: Any, value: str) -> None:
    if not _NAME.match(value):
        raise ValueError(f"migration branch name {value!r}: use lower-case letters, digits and '_' "
                         "(starting with a letter, at most 40 characters)")


def _check_metadata(_instance: Any, _attribute: Any, value: str) -> None:
    module, _, attr = value.partition(":")
    if not module or not attr:
        raise ValueError(f"migration branch metadata {value!r}: write 'package.module:attribute'")


@attrs.frozen(kw_only=True)
class MigrationBranch:
    """The tables one plugin owns and the Alembic revisions that create and change them.

    :param name: the branch, usually the plugin's name; its revision is kept in
        ``alembic_version_<name>``. ``core`` is the host's own.
    :param versions: the directory holding the branch's revision files (ship it as package data).
    :param metadata: ``"package.module:attribute"`` of the ``sqlalchemy.MetaData`` the branch's
        tables are defined on; imported only to autogenerate revisions, compare models with
        migrations, and look tables up (:meth:`Storage.table`).
    :param legacy: revisions an older version kept in the core's version table while these tables
        were the core's: ``{that revision: the core revision it stands for}``. A database found
        there is moved over once (the core's row is set back, this branch's row is written) and
        keeps its tables and rows; the branch's own revision ids must be the same as before.
    """

    name: str = attrs.field(validator=_check_name)
    versions: Path = attrs.field(converter=Path)
    metadata: str = attrs.field(validator=_check_metadata)
    legacy: Mapping[str, str] = attrs.field(factory=dict, converter=lambda m: dict(m), eq=False, hash=False)

    @property
    def version_table(self) -> str:
        return "alembic_version" if self.name == "core" else f"alembic_version_{self.name}"

    def load_metadata(self) -> sa.MetaData:
        """Import the module that defines the branch's tables and return their metadata."""
        module, _, attr = self.metadata.partition(":")
        found: sa.MetaData = getattr(importlib.import_module(module), attr)
        return found


#: The host's own tables (API keys), migrated first, so a plugin's migration finds them there.
CORE = MigrationBranch(name="core", versions=Path(__file__).resolve().parents[1] / "migrations" / "versions",
                       metadata="neural_trader.services.tables:metadata")
