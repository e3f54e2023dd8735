"""Plugin loading: entry points, switches, failures reported instead of crashing the host."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from pathlib import Path

import pytest

from neural_trader import plugins as plugin_loading
from neural_trader.errors import NtPluginError
from neural_trader.host import make_host

GOOD = """
import attrs
from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Operation

@attrs.frozen
class P:
    pass

async def handler(params, ctx):
    return P()

@hookimpl
def nt_register_operations(register):
    register(Operation(name="{name}.hello", summary="hi", params=P, result=P, handler=handler))
"""


@pytest.fixture
def fake_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Install modules on sys.path and make them the only ``neural_trader`` entry points."""
    monkeypatch.syspath_prepend(str(tmp_path))
    eps: list[importlib.metadata.EntryPoint] = []

    def add(name: str, source: str) -> None:
        module = f"ntfake_{name}_{abs(hash(str(tmp_path))) % 10**8}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        eps.append(importlib.metadata.EntryPoint(name=name, value=module, group="neural_trader"))

    def entry_points(group: str):  # type: ignore[no-untyped-def]
        assert group == "neural_trader"
        return list(eps)

    monkeypatch.setattr(plugin_loading.importlib.metadata, "entry_points", entry_points)
    yield add
    for module in [m for m in sys.modules if m.startswith("ntfake_")]:
        del sys.modules[module]


def test_a_plugin_that_raises_on_import_is_reported_and_skipped(fake_entry_points) -> None:  # type: ignore[no-untyped-def]
    fake_entry_points("alpha", GOOD.format(name="alpha"))
    fake_entry_points("broken", "raise RuntimeError('database driver missing')\n")
    host = make_host(env={})
    assert host.plugin_infos["alpha"].status == "loaded"
    assert "alpha.hello" in host.operations
    broken = host.plugin_infos["broken"]
    assert broken.status == "failed"
    assert "RuntimeError: database driver missing" in broken.reason
    with pytest.raises(NtPluginError, match="broken"):
        make_host(env={}, strict=True)


def test_unavailable_plugin_shows_reason_and_install_command(fake_entry_points) -> None:  # type: ignore[no-untyped-def]
    fake_entry_points("neural", """
        from neural_trader.plugins import PluginUnavailable
        raise PluginUnavailable("torch is not installed", install="pip install 'neural-trader[neural]'")
    """)
    info = make_host(env={}).plugin_infos["neural"]
    assert (info.status, info.reason, info.install) == (
        "unavailable", "torch is not installed", "pip install 'neural-trader[neural]'")


def test_switches_disable_autoload_load_and_block(fake_entry_points) -> None:  # type: ignore[no-untyped-def]
    for name in ("alpha", "beta", "gamma"):
        fake_entry_points(name, GOOD.format(name=name))
    host = make_host(env={"NT_BLOCK_PLUGINS": "beta"})
    assert {i.name: i.status for i in host.plugin_infos.values()} == {
        "alpha": "loaded", "beta": "blocked", "gamma": "loaded"}
    assert "beta.hello" not in host.operations
    host = make_host(env={"NT_DISABLE_PLUGIN_AUTOLOAD": "1", "NT_LOAD_PLUGINS": "gamma,missing"})
    assert sorted(host.plugin_infos) == ["gamma", "missing"]
    assert [op.name for op in host.operations] == ["gamma.hello"]
    assert host.plugin_infos["missing"].status == "failed"


def test_misspelt_hook_fails_its_plugin_loudly(fake_entry_points) -> None:  # type: ignore[no-untyped-def]
    fake_entry_points("typo", """
        from neural_trader.hookspecs import hookimpl
        @hookimpl
        def nt_register_operation(register):
            pass
    """)
    fake_entry_points("alpha", GOOD.format(name="alpha"))
    host = make_host(env={})
    assert host.plugin_infos["typo"].status == "failed"
    assert "nt_register_operation" in host.plugin_infos["typo"].reason
    assert "alpha.hello" in host.operations


def test_collisions_between_plugins_name_both(fake_entry_points) -> None:  # type: ignore[no-untyped-def]
    fake_entry_points("one", GOOD.format(name="same"))
    fake_entry_points("two", GOOD.format(name="same"))
    host = make_host(env={})
    failed = [i for i in host.plugin_infos.values() if i.status == "failed"]
    assert len(failed) == 1
    assert "'one'" in failed[0].reason and "'two'" in failed[0].reason
    assert host.operation("same.hello").plugin in ("one", "two")


def test_registration_is_attributed_with_hooks_listed() -> None:
    host = make_host(env={"NT_DISABLE_PLUGIN_AUTOLOAD": "1", "NT_LOAD_PLUGINS": "system"})
    info = host.plugin_infos["system"]
    assert info.distribution == "neural-trader"
    assert info.hooks == ["nt_register_operations"]
    assert info.operations == ["system.ping", "system.info"]
    assert host.operation("system.ping").plugin == "system"


def test_plugin_manager_factory_returns_fresh_managers() -> None:
    a, b = plugin_loading.make_plugin_manager(), plugin_loading.make_plugin_manager()
    assert a is not b and a.hook.nt_register_operations is not b.hook.nt_register_operations


def test_plugin_notes_are_asked_when_listed_and_a_failing_one_is_reported() -> None:
    from neural_trader.hookspecs import hookimpl
    from neural_trader.host import make_host

    class Talker:
        @hookimpl
        def nt_plugin_notes(self) -> list[str]:
            return ["runs on a hamster wheel"]

    class Broken:
        @hookimpl
        def nt_plugin_notes(self) -> list[str]:
            raise RuntimeError("no probe")

    with make_host(plugins=[Talker(), Broken()]) as host:
        infos = host.plugin_notes()
        notes = {i.notes[0] for i in infos.values() if i.notes}
        assert "runs on a hamster wheel" in notes
        assert "nt_plugin_notes failed: RuntimeError: no probe" in notes
