"""Building the plugin manager: hookspecs, built-in plugins, entry points, switches.

First-party plugins are ordinary entry points in the ``neural_trader`` group, exactly like a
third-party pack. Switches (comma-separated plugin names):

* ``NT_DISABLE_PLUGIN_AUTOLOAD=1`` — load no entry points except those named in ``NT_LOAD_PLUGINS``;
* ``NT_LOAD_PLUGINS`` — with autoload disabled, the entry points to load;
* ``NT_BLOCK_PLUGINS`` — entry points never to load (shown as ``blocked``);
* ``NT_PLUGIN_ALLOWLIST=1`` — production mode: only the entry points ``NT_LOAD_PLUGINS`` names load,
  each optionally pinned (``news==0.1.0``; ``first-party`` allows every plugin of the neural-trader
  distribution); any other is shown ``blocked`` with the reason, and a pinned one whose installed
  version differs is blocked too.

Supply chain: every plugin's distribution and version are recorded (``neural-trader plugins
--json``), with ``origin`` ``first-party`` (shipped in the neural-trader distribution),
``third-party`` or ``in-process`` (registered as an object). A third-party plugin that no allow-list
names is loaded with a warning (logged, and in its ``warnings``): nothing vouches for it, since
entry points carry no signature.

A plugin that raises on import is reported with its name and the reason and skipped. A plugin whose
optional dependency is missing raises :class:`PluginUnavailable` and is shown as ``unavailable`` with
the install command that fixes it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import types
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pluggy

from neural_trader import hookspecs

log = logging.getLogger("neural_trader.plugins")

ENTRY_POINT_GROUP = "neural_trader"


class PluginUnavailable(ImportError):
    """Raise at import time when an optional dependency is missing.

    ``PluginUnavailable("torch is not installed", install="pip install 'neural-trader[neural]'")``
    """

    def __init__(self, reason: str, *, install: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.install = install


@attrs.define(kw_only=True)
class PluginInfo:
    """What the host knows about one plugin (``neural-trader plugins --json``)."""

    name: str
    status: str  # loaded | failed | unavailable | blocked
    module: str | None = None
    distribution: str | None = None
    version: str | None = None
    reason: str | None = None
    install: str | None = None
    hooks: list[str] = attrs.field(factory=list)
    operations: list[str] = attrs.field(factory=list)
    contributions: dict[str, list[str]] = attrs.field(factory=dict)
    native_kernels: list[dict[str, Any]] = attrs.field(factory=list)
    #: ``first-party`` (the neural-trader distribution), ``third-party``, or ``in-process``.
    origin: str = "third-party"
    #: The version ``NT_LOAD_PLUGINS`` pins it to (``name==version``), if any.
    pinned: str | None = None
    #: Why to look at this plugin twice (e.g. an unknown third-party plugin).
    warnings: list[str] = attrs.field(factory=list)
    #: What the plugin says about how it runs here (``nt_plugin_notes``; filled by ``Host.plugin_notes``).
    notes: list[str] = attrs.field(factory=list)


#: The distribution whose plugins are first-party.
FIRST_PARTY_DISTRIBUTION = "neural-trader"
#: In ``NT_LOAD_PLUGINS``: every first-party plugin.
FIRST_PARTY = "first-party"


def _allow_list(value: str | None) -> dict[str, str | None]:
    """``"news==0.1.0, risk"`` -> ``{"news": "0.1.0", "risk": None}``."""
    out: dict[str, str | None] = {}
    for item in _names(value):
        name, sep, version = item.partition("==")
        out[name.strip()] = version.strip() if sep else None
    return out


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with every hookspec and no plugins. Tests get their own; no globals."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _names(value: str | None) -> set[str]:
    return {v.strip() for v in (value or "").split(",") if v.strip()}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def load_entry_point_plugins(
    pm: pluggy.PluginManager, env: Mapping[str, str] | None = None
) -> list[PluginInfo]:
    """Register every ``neural_trader`` entry point the switches allow; report each one."""
    env = os.environ if env is None else env
    allow_mode = _truthy(env.get("NT_PLUGIN_ALLOWLIST"))
    autoload = not _truthy(env.get("NT_DISABLE_PLUGIN_AUTOLOAD")) and not allow_mode
    pins = _allow_list(env.get("NT_LOAD_PLUGINS"))
    wanted = set(pins) - {FIRST_PARTY}
    blocked = _names(env.get("NT_BLOCK_PLUGINS"))
    infos: list[PluginInfo] = []
    seen: set[str] = set()
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            status="loaded",
            module=ep.value,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
            origin=FIRST_PARTY if dist is not None and dist.name == FIRST_PARTY_DISTRIBUTION else "third-party",
            pinned=pins.get(ep.name),
        )
        allowed = ep.name in wanted or (FIRST_PARTY in pins and info.origin == FIRST_PARTY)
        if ep.name in blocked:
            info.status, info.reason = "blocked", "named in NT_BLOCK_PLUGINS"
        elif allow_mode and not allowed:
            info.status, info.reason = "blocked", "not on the allow-list (NT_PLUGIN_ALLOWLIST=1, NT_LOAD_PLUGINS)"
        elif not autoload and not allow_mode and ep.name not in wanted:
            continue
        elif info.pinned is not None and info.pinned != info.version:
            info.status = "blocked"
            info.reason = f"version {info.version or '?'} is installed; NT_LOAD_PLUGINS pins {info.pinned}"
        else:
            if info.origin != FIRST_PARTY and not allowed:
                info.warnings.append(
                    f"third-party plugin from {info.distribution or '?'} {info.version or ''} is on no allow-list "
                    "and unsigned: review it, then name it in NT_LOAD_PLUGINS (with NT_PLUGIN_ALLOWLIST=1 in "
                    "production)".replace("  ", " "))
                log.warning("plugin %s: %s", ep.name, info.warnings[-1])
            register_plugin(pm, info, loader=ep.load)
        infos.append(info)
    missing = wanted - seen
    for name in sorted(missing):
        infos.append(PluginInfo(name=name, status="failed",
                                reason="named in NT_LOAD_PLUGINS but no such entry point is installed"))
    return infos


def register_plugin(pm: pluggy.PluginManager, info: PluginInfo, *, loader: Any) -> None:
    """Import (via ``loader()``) and register one plugin, recording failure instead of raising."""
    try:
        plugin = loader()
    except PluginUnavailable as exc:
        info.status, info.reason, info.install = "unavailable", exc.reason, exc.install
        return
    except Exception as exc:  # a broken plugin must not take the host down
        info.status, info.reason = "failed", f"import failed: {type(exc).__name__}: {exc}"
        log.warning("plugin %s failed to import: %s", info.name, info.reason)
        return
    try:
        pm.register(plugin, name=info.name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        info.status, info.reason = "failed", f"registration failed: {exc}"
        return
    info.module = info.module or getattr(plugin, "__name__", repr(plugin))


def register_objects(pm: pluggy.PluginManager, plugins: Iterable[Any]) -> list[PluginInfo]:
    """Register already-imported plugin objects (tests, embedding); names from ``__name__``."""
    infos = []
    for plugin in plugins:
        name = plugin.__name__ if isinstance(plugin, types.ModuleType) else getattr(
            plugin, "name", type(plugin).__name__)
        short = name.rsplit(".", 1)[-1]
        info = PluginInfo(name=short, status="loaded", module=name, origin="in-process")
        register_plugin(pm, info, loader=lambda p=plugin: p)
        infos.append(info)
    return infos


def import_plugin(module: str) -> Any:
    return importlib.import_module(module)
