"""The host: a plugin manager, the registries its plugins filled, settings and services.

Build one with :func:`make_host`; nothing here is a module-level global, so every test gets its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs
import pluggy

from neural_trader import plugins as plugin_loading
from neural_trader.errors import NtError, NtNotFound, NtPluginError
from neural_trader.ops import Context, Identity, Operation, OperationRegistry
from neural_trader.plugins import PluginInfo
from neural_trader.settings import Settings, load_settings

log = logging.getLogger("neural_trader.host")

#: Registry kind -> the hook that fills it.
REGISTRY_HOOKS: dict[str, str] = {
    "data_providers": "nt_register_data_providers",
    "strategies": "nt_register_strategies",
    "risk_models": "nt_register_risk_models",
    "brokers": "nt_register_brokers",
    "sports_markets": "nt_register_sports_markets",
    "news_sources": "nt_register_news_sources",
    "sentiment_models": "nt_register_sentiment_models",
    "forecasters": "nt_register_forecasters",
    "sandboxes": "nt_register_sandboxes",
    "executors": "nt_register_executors",
    "migrations": "nt_register_migrations",
}


@attrs.frozen(kw_only=True)
class KernelStatus:
    """Whether a native kernel runs compiled C or its numpy twin (and why)."""

    name: str
    compiled: bool
    reason: str | None = None
    plugin: str = ""


class NamedRegistry:
    """Things of one kind (brokers, strategies...) by their ``name``; remembers who registered each."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._owners: dict[str, str] = {}

    def add(self, item: Any, *, plugin: str) -> None:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise NtPluginError(f"plugin {plugin!r} registered a {self.kind} entry without a name: {item!r}")
        if name in self._items:
            raise NtPluginError(
                f"{self.kind} {name!r} is registered by plugin {self._owners[name]!r} and again by "
                f"plugin {plugin!r}; block one of them (NT_BLOCK_PLUGINS)"
            )
        self._items[name] = item
        self._owners[name] = plugin

    def get(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            available = ", ".join(sorted(self._items)) or "none installed"
            raise NtNotFound(f"no {self.kind.rstrip('s').replace('_', ' ')} named {name!r}; available: {available}") from None

    def owner(self, name: str) -> str:
        return self._owners[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items[n] for n in sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


class Host:
    """A loaded Neural Trader: plugins, operations, registries, settings and services."""

    def __init__(self, pm: pluggy.PluginManager, settings: Settings, infos: list[PluginInfo]) -> None:
        self.pm = pm
        self.settings = settings
        self.plugin_infos: dict[str, PluginInfo] = {i.name: i for i in infos}
        self.operations = OperationRegistry()
        self.registries: dict[str, NamedRegistry] = {k: NamedRegistry(k) for k in REGISTRY_HOOKS}
        self.kernels: list[KernelStatus] = []
        self._services: Any = None
        self._started = False

    # -- plugin contributions --------------------------------------------------------------------
    def _collect(self, hook_name: str, add: Callable[[Any, str], None]) -> None:
        """Call ``hook_name`` on each plugin separately so every registration is attributed.

        A plugin whose registration raises is marked failed (with the reason) and its partial
        contributions stay out; the other plugins are unaffected.
        """
        hook = getattr(self.pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):  # pluggy's call order (tryfirst first)
            plugin = impl.plugin_name
            staged: list[Any] = []
            try:
                impl.function(register=staged.append)
                for item in staged:
                    add(item, plugin)
            except Exception as exc:
                self._fail_plugin(plugin, f"{hook_name} failed: {exc}")

    def _fail_plugin(self, plugin: str, reason: str) -> None:
        log.warning("plugin %s: %s", plugin, reason)
        info = self.plugin_infos.setdefault(plugin, PluginInfo(name=plugin, status="loaded"))
        info.status = "failed"
        info.reason = reason if not info.reason else f"{info.reason}; {reason}"

    def load_contributions(self) -> None:
        def add_op(op: Any, plugin: str) -> None:
            registered = self.operations.add(op, plugin=plugin)
            self.plugin_infos[plugin].operations.append(registered.name)

        self._collect("nt_register_operations", add_op)
        for kind, hook_name in REGISTRY_HOOKS.items():
            registry = self.registries[kind]

            def add_item(item: Any, plugin: str, registry: NamedRegistry = registry, kind: str = kind) -> None:
                if kind == "migrations":
                    from neural_trader.services.branches import MigrationBranch

                    if not isinstance(item, MigrationBranch):
                        raise NtPluginError(f"nt_register_migrations takes a MigrationBranch, not {item!r}")
                registry.add(item, plugin=plugin)
                self.plugin_infos[plugin].contributions.setdefault(kind, []).append(item.name)

            self._collect(hook_name, add_item)

        def add_kernel(status: Any, plugin: str) -> None:
            status = attrs.evolve(status, plugin=plugin)
            self.kernels.append(status)
            self.plugin_infos[plugin].native_kernels.append(
                {"name": status.name, "compiled": status.compiled, "reason": status.reason})

        self._collect("nt_register_native_kernels", add_kernel)
        for name, info in self.plugin_infos.items():
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                info.hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])

    def plugin_notes(self) -> dict[str, PluginInfo]:
        """The plugin infos with each plugin's ``nt_plugin_notes`` filled in (asked now: a note may
        describe the machine as it is; a plugin whose hook raises gets that as its note)."""
        for impl in self.pm.hook.nt_plugin_notes.get_hookimpls():
            info = self.plugin_infos.get(impl.plugin_name)
            if info is None:
                continue
            try:
                notes: list[Any] = list(impl.function() or [])  # type: ignore[call-overload]
                info.notes = [str(note) for note in notes]
            except Exception as exc:
                info.notes = [f"nt_plugin_notes failed: {type(exc).__name__}: {exc}"]
        return self.plugin_infos

    def registry(self, kind: str) -> NamedRegistry:
        try:
            return self.registries[kind]
        except KeyError:
            raise NtNotFound(f"no registry {kind!r}; known: {', '.join(self.registries)}") from None

    # -- services and lifecycle ------------------------------------------------------------------
    @property
    def migration_branches(self) -> list[Any]:
        """The plugins' migration branches (:class:`~neural_trader.services.branches.MigrationBranch`),
        by name; the core's own is not among them."""
        return list(self.registries["migrations"])

    @property
    def services(self) -> Any:
        if self._services is None:
            from neural_trader.services import Services

            self._services = Services(self.settings, migration_branches=self.migration_branches, host=self)
        return self._services

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.pm.hook.nt_startup(host=self)

    def close(self) -> None:
        if self._started:
            self._started = False
            try:
                self.pm.hook.nt_shutdown(host=self)
            except Exception:
                log.exception("a plugin failed in nt_shutdown")
        if self._services is not None:
            self._services.close()
            self._services = None

    def __enter__(self) -> Host:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calling operations in-process -----------------------------------------------------------
    def context(self, identity: Identity | None = None, **kwargs: Any) -> Context:
        return Context(host=self, identity=identity or Identity.local(), **kwargs)

    async def acall(self, name: str, params: Mapping[str, Any] | None = None, **ctx_kwargs: Any) -> dict[str, Any]:
        """Call an operation by name with plain-JSON params; returns plain JSON."""
        op = self.operations.get(name)
        return await op.call(params or {}, self.context(**ctx_kwargs))

    def call(self, name: str, params: Mapping[str, Any] | None = None, **ctx_kwargs: Any) -> dict[str, Any]:
        import anyio

        return anyio.run(lambda: self.acall(name, params, **ctx_kwargs))

    def operation(self, name: str) -> Operation:
        return self.operations.get(name)


def _drop_plugins_with_unknown_hooks(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    """``check_pending()`` until clean: a misspelt hook fails its plugin loudly, not the host."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin)
            if name is None:
                raise NtPluginError(f"unknown hook implemented: {exc}") from exc
            pm.unregister(exc.plugin)
            info = next((i for i in infos if i.name == name), None)
            if info is not None:
                info.status, info.reason = "failed", f"implements an unknown hook (misspelt?): {exc}"


def make_host(
    *,
    settings: Settings | None = None,
    plugins: Iterable[Any] = (),
    autoload: bool = True,
    env: Mapping[str, str] | None = None,
    strict: bool = False,
) -> Host:
    """Build a host: hookspecs, entry-point plugins (subject to the switches), extra ``plugins``.

    :param plugins: plugin objects (modules or instances) to register besides entry points.
    :param autoload: load ``neural_trader`` entry points at all.
    :param strict: raise :class:`NtPluginError` if any plugin failed (tests, CI).
    """
    pm = plugin_loading.make_plugin_manager()
    infos: list[PluginInfo] = []
    if autoload:
        infos.extend(plugin_loading.load_entry_point_plugins(pm, env))
    infos.extend(plugin_loading.register_objects(pm, plugins))
    _drop_plugins_with_unknown_hooks(pm, infos)
    settings = settings or load_settings(env)
    host = Host(pm, settings, infos)
    pm.hook.nt_configure.call_historic(kwargs={"settings": settings})
    host.load_contributions()
    if strict:
        failed = [i for i in host.plugin_infos.values() if i.status == "failed"]
        if failed:
            raise NtPluginError("; ".join(f"plugin {i.name!r}: {i.reason}" for i in failed))
    return host


__all__ = ["Host", "KernelStatus", "NamedRegistry", "NtError", "make_host"]
