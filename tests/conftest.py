"""Shared test set-up: every host gets its own data dir, so no test touches the user's files."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the default data and config locations at temporary directories for every test."""
    home = tmp_path_factory.mktemp("nt-home")
    monkeypatch.setenv("NT_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("NT_CONFIG", str(home / "config.toml"))
    for name in ("NT_DATABASE_URL", "NT_REDIS_URL", "NT_DISABLE_PLUGIN_AUTOLOAD", "NT_LOAD_PLUGINS",
                 "NT_BLOCK_PLUGINS", "NT_AUTH"):
        monkeypatch.delenv(name, raising=False)
