"""Plugin supply chain: origin and version of every plugin in ``plugins --json``, the allow-list
mode (``NT_PLUGIN_ALLOWLIST=1`` with ``NT_LOAD_PLUGINS``, pins), and the warning for an unknown
third-party plugin."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import types
from typing import Any

import pytest

from neural_trader import plugins
from neural_trader.plugins import FIRST_PARTY, load_entry_point_plugins, make_plugin_manager


class _Dist:
    def __init__(self, name: str, version: str) -> None:
        self.name, self.version = name, version


def _ep(name: str, dist: str, version: str) -> Any:
    module = types.ModuleType(f"fake_{name}")
    return types.SimpleNamespace(name=name, value=f"fake_{name}", dist=_Dist(dist, version), load=lambda: module)


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Two first-party plugins and one third-party one, in place of the installed entry points."""
    eps = [_ep("risk", "neural-trader", "0.1.0"), _ep("news", "neural-trader", "0.1.0"),
           _ep("shiny", "shiny-signals", "2.3.4")]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: eps)
    return eps


def _by_name(env: dict[str, str]) -> dict[str, Any]:
    return {i.name: i for i in load_entry_point_plugins(make_plugin_manager(), env)}


def test_origin_and_versions_are_recorded(entry_points: list[Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="neural_trader.plugins"):
        infos = _by_name({})
    assert {n: (i.status, i.origin, i.distribution, i.version) for n, i in infos.items()} == {
        "risk": ("loaded", FIRST_PARTY, "neural-trader", "0.1.0"),
        "news": ("loaded", FIRST_PARTY, "neural-trader", "0.1.0"),
        "shiny": ("loaded", "third-party", "shiny-signals", "2.3.4"),
    }
    assert infos["shiny"].warnings and "no allow-list" in infos["shiny"].warnings[0]
    assert not infos["risk"].warnings
    assert "plugin shiny" in caplog.text and "unsigned" in caplog.text


def test_allow_list_mode_loads_only_what_it_names(entry_points: list[Any]) -> None:
    infos = _by_name({"NT_PLUGIN_ALLOWLIST": "1", "NT_LOAD_PLUGINS": "risk, shiny==2.3.4"})
    assert infos["risk"].status == "loaded" and infos["shiny"].status == "loaded"
    assert infos["shiny"].pinned == "2.3.4" and not infos["shiny"].warnings  # reviewed: on the list
    assert infos["news"].status == "blocked" and "allow-list" in (infos["news"].reason or "")


def test_first_party_and_pins(entry_points: list[Any]) -> None:
    infos = _by_name({"NT_PLUGIN_ALLOWLIST": "1", "NT_LOAD_PLUGINS": "first-party"})
    assert [n for n, i in infos.items() if i.status == "loaded"] == ["news", "risk"]
    assert infos["shiny"].status == "blocked"
    pinned = _by_name({"NT_PLUGIN_ALLOWLIST": "1", "NT_LOAD_PLUGINS": "first-party,shiny==2.0.0"})
    assert pinned["shiny"].status == "blocked"
    assert pinned["shiny"].reason == "version 2.3.4 is installed; NT_LOAD_PLUGINS pins 2.0.0"


def test_plugins_json_shows_the_supply_chain_fields() -> None:
    from neural_trader.host import make_host
    from neural_trader.testing import CliRunner

    result = CliRunner(make_host()).invoke("plugins", "--json")
    assert result.exit_code == 0, result.output
    infos = {i["name"]: i for i in json.loads(result.stdout)}
    assert infos["risk"]["origin"] == plugins.FIRST_PARTY and infos["risk"]["version"]
    assert {"origin", "pinned", "warnings", "distribution", "version"} <= set(infos["risk"])
