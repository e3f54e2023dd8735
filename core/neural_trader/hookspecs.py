"""Every hook a Neural Trader plugin can implement.

Registries take a ``register`` callback: call it once per thing you contribute. The host records
which plugin registered what and rejects a name another plugin already took, naming both. Call
nothing here yourself: the host calls hooks, always with keyword arguments.

The hook reference in ``docs/reference/hooks.md`` is generated from these docstrings; a test fails if
a hook is undocumented or the reference is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.ops import Operation
    from neural_trader.services.branches import MigrationBranch
    from neural_trader.settings import Settings

PROJECT = "neural_trader"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# ---------------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------------


@hookspec(historic=True)
def nt_configure(settings: Settings) -> None:
    """Read settings once, when the host is built.

    Historic: a plugin registered later still receives the call.

    :param settings: the host's settings (environment ``NT_*`` variables and the TOML file).
        Plugin-specific values come from ``settings.plugin(name)``.
    """


@hookspec
def nt_startup(host: Host) -> None:
    """Open what the plugin needs (connections, pools) when a host starts serving or calling.

    :param host: the running host; its ``services`` (storage, cache) are ready.
    """


@hookspec
def nt_shutdown(host: Host) -> None:
    """Release what :func:`nt_startup` opened. Called once, even if startup failed part-way.

    :param host: the host that is closing.
    """


# ---------------------------------------------------------------------------------------------------
# Operations: the only way anything reaches the CLI, MCP and REST
# ---------------------------------------------------------------------------------------------------


@hookspec
def nt_register_operations(register: Callable[[Operation], None]) -> None:
    """Contribute typed operations.

    :param register: call ``register(Operation(...))`` once per operation. The operation's dotted
        name (``backtest.run``) becomes the CLI command ``backtest run``, the MCP tool
        ``backtest_run`` and the REST route ``POST /v1/backtest/run``.
    """


# ---------------------------------------------------------------------------------------------------
# Persistent state: tables a plugin owns
# ---------------------------------------------------------------------------------------------------


@hookspec
def nt_register_migrations(register: Callable[[MigrationBranch], None]) -> None:
    """Contribute database tables: a migration branch of the plugin's own.

    The host migrates every branch with ``neural-trader db upgrade`` and on first use (an empty
    branch on any database, one that is behind on embedded SQLite; a shared PostgreSQL that is
    behind waits for ``db upgrade``), the core's first, then the plugins' by name, each keeping its
    revision in its own version table (``alembic_version_<name>``). The host knows nothing else of
    the tables; code reaches them by importing the plugin's models, or by name through
    ``host.services.storage.table(name)``.

    :param register: call ``register(MigrationBranch(name=..., versions=..., metadata=...))``
        (:class:`neural_trader.services.branches.MigrationBranch`) once per branch: ``name`` (unique
        across plugins; usually the plugin's), ``versions`` (the directory of the branch's Alembic
        revision files, shipped in the wheel) and ``metadata`` (``"package.module:attribute"`` of
        the ``sqlalchemy.MetaData`` the tables are defined on, imported only when needed).
    """


# ---------------------------------------------------------------------------------------------------
# Capabilities that operations use
# ---------------------------------------------------------------------------------------------------


@hookspec
def nt_register_data_providers(register: Callable[[Any], None]) -> None:
    """Contribute market data providers (quotes, bars, reference data).

    :param register: call ``register(provider)``; ``provider.name`` must be unique across plugins.
    """


@hookspec
def nt_register_strategies(register: Callable[[Any], None]) -> None:
    """Contribute trading strategies (vectorized signals and/or event callbacks).

    :param register: call ``register(strategy)``; ``strategy.name`` must be unique across plugins.
    """


@hookspec
def nt_register_risk_models(register: Callable[[Any], None]) -> None:
    """Contribute risk models: VaR/CVaR, stress tests, position sizing.

    :param register: call ``register(model)``; ``model.name`` must be unique across plugins.
    """


@hookspec
def nt_register_brokers(register: Callable[[Any], None]) -> None:
    """Contribute brokers (the paper broker is built in; Alpaca is a plugin).

    :param register: call ``register(broker)``; ``broker.name`` must be unique across plugins.
    """


@hookspec
def nt_register_sports_markets(register: Callable[[Any], None]) -> None:
    """Contribute sports odds sources and (paper) sportsbooks.

    :param register: call ``register(market)``; ``market.name`` must be unique across plugins.
    """


@hookspec
def nt_register_news_sources(register: Callable[[Any], None]) -> None:
    """Contribute news sources.

    :param register: call ``register(source)``; ``source.name`` must be unique across plugins.
    """


@hookspec
def nt_register_sentiment_models(register: Callable[[Any], None]) -> None:
    """Contribute sentiment models that score news text.

    :param register: call ``register(model)``; ``model.name`` must be unique across plugins.
    """


@hookspec
def nt_register_forecasters(register: Callable[[Any], None]) -> None:
    """Contribute neural forecaster architectures (torch training, ONNX inference).

    :param register: call ``register(forecaster)``; ``forecaster.name`` must be unique across plugins.
    """


@hookspec
def nt_register_sandboxes(register: Callable[[Any], None]) -> None:
    """Contribute isolated code runners (local process, E2B).

    :param register: call ``register(sandbox)``; ``sandbox.name`` must be unique across plugins.
    """


@hookspec
def nt_plugin_notes() -> list[str]:
    """What a person should know about how this plugin runs on this machine (``plugins``, ``--json``:
    ``notes``), e.g. which isolation a sandbox gets. Called when the plugins are listed, not at start-up,
    so it may probe the machine; it must not fail (return ``[]`` when there is nothing to say).
    """
    return []


@hookspec
def nt_register_executors(register: Callable[[Any], None]) -> None:
    """Contribute executors that run sweeps: serial, threads, processes, Ray.

    :param register: call ``register(executor)``; ``executor.name`` must be unique across plugins.
    """


@hookspec
def nt_register_native_kernels(register: Callable[[Any], None]) -> None:
    """Report compiled kernels a plugin ships, so ``plugins`` and ``system.info`` can show them.

    :param register: call ``register(status)`` with a :class:`neural_trader.host.KernelStatus`
        (``name``, ``compiled``, ``reason`` — why the numpy fallback runs, or ``None``).
    """


# ---------------------------------------------------------------------------------------------------
# Notifications
# ---------------------------------------------------------------------------------------------------


@hookspec
def nt_on_order_event(event: Any) -> None:
    """Observe an order's life: accepted, rejected, sent, cancelled.

    :param event: the order event value; do not mutate it. Exceptions are logged, not raised.
    """


@hookspec
def nt_on_fill(fill: Any) -> None:
    """Observe a fill after the portfolio has been updated.

    :param fill: the fill value; do not mutate it. Exceptions are logged, not raised.
    """
