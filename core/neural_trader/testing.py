"""pytest fixtures for Neural Trader plugin authors (loaded automatically through ``pytest11``).

Install ``neural-trader`` next to your plugin pack and these fixtures are there in your tests:

``nt_host_factory``
    ``make(plugins=(), autoload=True, env=None, start=True, **settings_overrides) -> Host``: a host
    with its own empty data directory, no user config file and no ``NT_*`` variables from your shell;
    every host it made is closed when the test ends.
``nt_host``
    A host with every installed plugin (entry points), built by ``nt_host_factory``.
``nt_cli``
    :class:`CliRunner` — ``nt_cli.invoke("hello", "greet", "--name", "Ada")`` runs the click CLI
    against ``nt_host`` and returns a :class:`click.testing.Result`.
``nt_mcp`` (async)
    A connected MCP ``ClientSession`` for ``nt_host`` (in memory, no subprocess, no network).
``nt_rest`` (async)
    An ``httpx.AsyncClient`` calling the REST app of ``nt_host`` in process, as an admin caller,
    with base URL ``http://127.0.0.1``.

``call_everywhere(name, params, cli=nt_cli, mcp=nt_mcp, rest=nt_rest)`` (async)
    Calls one operation through all three frontends, asserts they agree, returns the one answer.

The async fixtures need ``pytest-asyncio`` (``asyncio_mode = "auto"`` or ``@pytest.mark.asyncio``).

Importing this module must stay cheap because pytest imports it in every run of every project in
the environment: the host, click, httpx and the frontends are imported inside the fixtures.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pytest

if TYPE_CHECKING:
    import click
    import click.testing
    import httpx
    from mcp import ClientSession

    from neural_trader.host import Host

__all__ = ["CliRunner", "HostFactory", "call_everywhere", "nt_cli", "nt_host", "nt_host_factory", "nt_mcp",
           "nt_rest"]

T = TypeVar("T")


class HostFactory(Protocol):
    """The type of the ``nt_host_factory`` fixture."""

    def __call__(
        self,
        plugins: Iterable[Any] = (),
        autoload: bool = True,
        env: Mapping[str, str] | None = None,
        start: bool = True,
        **settings_overrides: Any,
    ) -> Host: ...


# ---------------------------------------------------------------------------------------------------
# Hosts
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def nt_host_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostFactory]:
    """Build isolated hosts; each is closed at the end of the test.

    ``plugins`` are plugin objects (modules or instances) registered besides the entry points;
    ``autoload=False`` loads no entry points at all. ``env`` replaces the process environment for
    settings and the plugin switches (``NT_BLOCK_PLUGINS``, ``NT_LOAD_PLUGINS`` ...), so a developer's
    ``NT_DATABASE_URL`` never leaks into a test. ``settings_overrides`` are :class:`Settings` fields
    (``redis_url=...``, ``auth=False``). ``start`` runs the plugins' ``nt_startup`` hooks.
    """
    from neural_trader.host import make_host
    from neural_trader.settings import load_settings

    hosts: list[Host] = []

    def make(
        plugins: Iterable[Any] = (),
        autoload: bool = True,
        env: Mapping[str, str] | None = None,
        start: bool = True,
        **settings_overrides: Any,
    ) -> Host:
        home = tmp_path_factory.mktemp("nt-host")
        # A config path that does not exist: the developer's own config.toml is never read.
        host_env = {"NT_CONFIG": str(home / "config.toml"), **(env or {})}
        if "NT_DATA_DIR" not in host_env:
            settings_overrides.setdefault("data_dir", home / "data")
        settings = load_settings(env=host_env, **settings_overrides)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        host = make_host(settings=settings, plugins=plugins, autoload=autoload, env=host_env)
        hosts.append(host)
        if start:
            host.start()
        return host

    yield make
    errors: list[BaseException] = []
    for host in reversed(hosts):
        try:
            host.close()
        except Exception as exc:  # close every host, then report the first failure
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def nt_host(nt_host_factory: HostFactory) -> Host:
    """A started host with every installed plugin and an empty data directory of its own."""
    return nt_host_factory()


# ---------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------


class CliRunner:
    """Runs ``neural-trader`` commands in process against one host."""

    def __init__(self, host: Host) -> None:
        from neural_trader_cli.main import make_cli

        self.host = host
        self.cli: click.Group = make_cli(host)

    def invoke(
        self,
        *args: str,
        input: str | bytes | None = None,
        env: Mapping[str, str | None] | None = None,
        catch_exceptions: bool = True,
    ) -> click.testing.Result:
        """Run ``neural-trader *args``; the result has ``exit_code``, ``stdout``, ``stderr``, ``output``.

        ``catch_exceptions=False`` lets an unexpected exception propagate, with its traceback.
        Callable from async tests too: the CLI runs its own event loop, so inside a running loop the
        command runs in a worker thread (the test's loop waits for it).
        """
        from click.testing import CliRunner as ClickRunner

        def run() -> click.testing.Result:
            return ClickRunner().invoke(self.cli, list(args), input=input, env=env,
                                        catch_exceptions=catch_exceptions, prog_name="neural-trader")

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="nt_cli") as pool:
            return pool.submit(run).result()


@pytest.fixture
def nt_cli(nt_host: Host) -> CliRunner:
    """The click CLI bound to ``nt_host``: ``nt_cli.invoke("system", "ping")``."""
    return CliRunner(nt_host)


# ---------------------------------------------------------------------------------------------------
# MCP and REST (async)
# ---------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _held_in_one_task(cm: contextlib.AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """Enter and exit ``cm`` inside one dedicated task.

    pytest-asyncio runs an async fixture's setup and its teardown as two different tasks, while anyio
    cancel scopes (the MCP session's task group, an app's lifespan) must be left by the task that
    entered them. A task that holds the context for the whole test satisfies both.
    """
    loop = asyncio.get_running_loop()
    entered: asyncio.Future[T] = loop.create_future()
    release = asyncio.Event()

    async def hold() -> None:
        async with cm as value:
            entered.set_result(value)
            await release.wait()

    task = asyncio.create_task(hold(), name="neural_trader.testing")
    waiting: set[asyncio.Future[Any]] = {entered, task}
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if not entered.done():
        task.result()  # entering failed: raise why
        raise RuntimeError(f"{cm!r} finished without entering")
    value = entered.result()
    try:
        yield value
    finally:
        release.set()
        await task


def _async_fixture(func: Callable[..., Any]) -> Any:
    """``pytest_asyncio.fixture`` when pytest-asyncio is installed; else a fixture that says what to do."""
    try:
        import pytest_asyncio
    except ImportError:
        name = func.__name__

        def missing(request: pytest.FixtureRequest) -> None:
            pytest.fail(f"the {name} fixture is async and needs pytest-asyncio: pip install pytest-asyncio",
                        pytrace=False)

        missing.__name__ = name
        missing.__doc__ = func.__doc__
        return pytest.fixture(missing)
    return pytest_asyncio.fixture(func)


@_async_fixture
async def nt_mcp(nt_host: Host) -> AsyncIterator[ClientSession]:
    """A connected, initialized MCP client session for ``nt_host`` (in memory)."""
    from neural_trader.frontends.mcp import in_memory_client

    async with _held_in_one_task(in_memory_client(nt_host)) as session:
        yield session


def _admin_identity(_header: str | None) -> Any:
    from neural_trader.ops import Identity, Scope

    return Identity(name="test", scopes=frozenset({Scope.ADMIN}))


@contextlib.asynccontextmanager
async def _rest_client(host: Host) -> AsyncIterator[httpx.AsyncClient]:
    import httpx

    from neural_trader.frontends.rest import build_app

    app = build_app(host, authenticate=_admin_identity)
    # httpx's ASGI transport sends no lifespan events; run the app's lifespan around the client.
    router = getattr(app, "router", None)
    lifespan = router.lifespan_context(app) if router is not None and hasattr(router, "lifespan_context") \
        else contextlib.nullcontext()
    async with lifespan, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                           base_url="http://127.0.0.1") as client:
        yield client


@_async_fixture
async def nt_rest(nt_host: Host) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` for the REST app of ``nt_host``, authenticated as an admin caller."""
    async with _held_in_one_task(_rest_client(nt_host)) as client:
        yield client


async def call_everywhere(name: str, params: Mapping[str, Any], *, cli: CliRunner, mcp: ClientSession,
                          rest: httpx.AsyncClient) -> Any:
    """``name`` with ``params`` through the CLI (``--params ... --json``), MCP and REST: each must succeed
    and the three answers must be equal as JSON; the one answer is returned."""
    import json

    group, verb = name.split(".", 1)
    done = cli.invoke(group, verb.replace(".", "-").replace("_", "-"), "--params", json.dumps(params), "--json")
    assert done.exit_code == 0, done.output
    by_cli = json.loads(done.output)
    called = await mcp.call_tool(name.replace(".", "_"), dict(params))
    assert not called.is_error, called.content
    response = await rest.post("/v1/" + name.replace(".", "/"), json=params)
    assert response.status_code == 200, response.text
    assert by_cli == called.structured_content == response.json(), (by_cli, called.structured_content, response.json())
    return by_cli
