"""The host's own commands: plugins, ops, serve, keys, config, db."""

from __future__ import annotations

from typing import Any

import attrs
import click

from neural_trader_cli import render
from neural_trader_cli.main import _holder, run_guarded

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.command("plugins")
@json_option
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List plugins: distribution, version, hooks, operations, native kernels, and why one failed."""
    host = _holder(ctx).host
    infos = [attrs.asdict(i) for i in sorted(host.plugin_notes().values(), key=lambda i: i.name)]
    if as_json:
        render.print_json(infos)
        return
    rows = []
    for info in infos:
        compiled = [k["name"] for k in info["native_kernels"] if k["compiled"]]
        fallback = [f"{k['name']} ({k['reason']})" for k in info["native_kernels"] if not k["compiled"]]
        kernels = "; ".join(part for part in (
            "compiled: " + ", ".join(compiled) if compiled else "",
            "numpy fallback: " + ", ".join(fallback) if fallback else "") if part)
        note = "; ".join(filter(None, [info["reason"], *info["notes"]]))
        if info["install"]:
            note += f" — fix: {info['install']}"
        rows.append({
            "plugin": info["name"], "status": info["status"],
            "distribution": f"{info['distribution'] or '-'} {info['version'] or ''}".strip(),
            "operations": ", ".join(info["operations"]), "kernels": kernels, "note": note,
        })
    render.print_records(rows, title="Plugins")


@click.command("ops")
@json_option
@click.pass_context
def ops_command(ctx: click.Context, as_json: bool) -> None:
    """List every operation with its CLI command, MCP tool and REST route."""
    host = _holder(ctx).host
    rows = [{
        "name": op.name, "summary": op.summary, "scope": op.scope.value, "plugin": op.plugin,
        "cli": f"neural-trader {op.group} {op.verb}", "mcp_tool": op.tool_name,
        "rest": f"POST {op.http_path}" + (" | GET" if op.read_only else ""),
        "frontends": sorted(op.frontends),
    } for op in host.operations]
    if as_json:
        render.print_json(rows)
    else:
        render.print_records(rows, title="Operations", columns=["name", "scope", "mcp_tool", "rest", "summary"])


# -- serve -----------------------------------------------------------------------------------------


@click.group("serve")
def serve_group() -> None:
    """Serve the operations over MCP or REST."""


def _check_port(bind: str, port: int, as_what: str) -> None:
    """Refuse, before any "listening" line, an address this process cannot listen on.

    uvicorn binds only once it starts and then just logs the failure; binding a probe socket the same
    way (``SO_REUSEADDR``, so a port in TIME_WAIT still counts as free) says which port is taken and
    what to do. Another process can still take the port in the instant between the two binds.
    """
    import errno
    import socket

    from neural_trader.errors import NtConflict, NtUserError

    def check() -> None:
        try:
            infos = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise NtUserError(f"cannot serve {as_what} on {bind!r}: not an address of this machine "
                              f"({exc.strerror}); pass --host 127.0.0.1 or another local address") from None
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise NtConflict(f"cannot serve {as_what}: port {port} on {bind} is already in use "
                                     f"(another server?); stop it, or pick another port with "
                                     f"--port, e.g. --port {port + 1 if port < 65535 else 8000}") from None
                if exc.errno == errno.EACCES:
                    raise NtUserError(f"cannot serve {as_what}: port {port} needs privileges this user "
                                      f"lacks; pick a port above 1023 with --port") from None
                raise NtUserError(f"cannot serve {as_what} on {bind}:{port}: {exc.strerror}; "
                                  f"check --host and --port") from None

    run_guarded(False, check)


def _scopes(text: str) -> Any:
    from neural_trader.ops import Scope

    return run_guarded(False, lambda: Scope.parse_many(text))


@serve_group.command("mcp")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True)
@click.option("--host", "bind", default="127.0.0.1", show_default=True, help="Address to bind (http).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (http).")
@click.option("--scopes", default="read", show_default=True,
              help="stdio (and --no-auth http): what the client may do, e.g. read,trade.")
@click.option("--no-auth", is_flag=True, help="http: accept calls without an API key (with --scopes).")
@click.pass_context
def serve_mcp(ctx: click.Context, transport: str, bind: str, port: int, scopes: str, no_auth: bool) -> None:
    """Speak MCP over stdio (default) or streamable HTTP at /mcp."""
    import anyio

    from neural_trader.frontends import mcp
    from neural_trader.frontends.auth import make_authenticator

    host = _holder(ctx).host
    granted = _scopes(scopes)
    with host:
        if transport == "stdio":
            anyio.run(lambda: mcp.run_stdio(host, scopes=granted))
        else:
            authenticate = make_authenticator(host, required=False, anonymous_scopes=granted) if no_auth else None
            _check_port(bind, port, "MCP")
            click.echo(f"MCP (streamable HTTP) on http://{bind}:{port}/mcp", err=True)
            mcp.serve_http(host, host_addr=bind, port=port, authenticate=authenticate)


@serve_group.command("rest")
@click.option("--host", "bind", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--scopes", default="read", show_default=True, help="With --no-auth: what callers may do.")
@click.option("--no-auth", is_flag=True, help="Accept calls without an API key (with --scopes).")
@click.pass_context
def serve_rest(ctx: click.Context, bind: str, port: int, workers: int, scopes: str, no_auth: bool) -> None:
    """Serve POST /v1/<group>/<verb>, /openapi.json, /docs, /healthz and /readyz."""
    from neural_trader.frontends import rest
    from neural_trader.frontends.auth import make_authenticator

    host = _holder(ctx).host
    granted = _scopes(scopes)
    authenticate = make_authenticator(host, required=False, anonymous_scopes=granted) if no_auth else None
    _check_port(bind, port, "REST")
    click.echo(f"REST on http://{bind}:{port} (docs: /docs, OpenAPI: /openapi.json)", err=True)
    rest.serve(host, host_addr=bind, port=port, workers=workers, authenticate=authenticate,
               anonymous_scopes=granted if no_auth else None)


# -- keys ------------------------------------------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys for the REST and MCP-HTTP frontends."""


def _key_dict(record: Any) -> dict[str, Any]:
    from neural_trader.serde import wire

    return wire.unstructure(record)  # type: ignore[no-any-return]


@keys_group.command("create")
@click.argument("name")
@click.option("--scopes", default="read", show_default=True, help="Comma-separated: read, trade, admin.")
@json_option
@click.pass_context
def keys_create(ctx: click.Context, name: str, scopes: str, as_json: bool) -> None:
    """Create a key. The key is shown once; only its hash is stored."""
    host = _holder(ctx).host
    granted = _scopes(scopes)
    record, token = run_guarded(as_json, lambda: host.services.keys.create(name, granted))
    if as_json:
        render.print_json({**_key_dict(record), "key": token})
        return
    from neural_trader.schema import schema_for
    from neural_trader.services.keys import KeyRecord

    render.print_human(_key_dict(record), schema_for(KeyRecord))
    click.echo(f"\nkey: {token}\nStore it now: it cannot be shown again.")


@keys_group.command("list")
@json_option
@click.pass_context
def keys_list(ctx: click.Context, as_json: bool) -> None:
    """List keys (never their secrets)."""
    host = _holder(ctx).host
    records = [_key_dict(r) for r in run_guarded(as_json, host.services.keys.list)]
    if as_json:
        render.print_json(records)
    elif records:
        from neural_trader.schema import schema_for
        from neural_trader.services.keys import KeyRecord

        render.print_records(records, title="API keys", schema=schema_for(KeyRecord))
    else:
        click.echo("no keys; create one with `neural-trader keys create NAME --scopes read`")


@keys_group.command("revoke")
@click.argument("key_id")
@json_option
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str, as_json: bool) -> None:
    """Revoke a key by its id (the part after ``ntk_``, as `keys list` shows)."""
    host = _holder(ctx).host
    record = run_guarded(as_json, lambda: host.services.keys.revoke(key_id))
    if as_json:
        render.print_json(_key_dict(record))
    else:
        click.echo(f"revoked {record.key_id} ({record.name})")


# -- config and db ---------------------------------------------------------------------------------


@click.group("config")
def config_group() -> None:
    """Inspect settings (NT_* environment variables and the TOML file)."""


@config_group.command("show")
@json_option
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Show the effective settings, secrets masked."""
    settings = _holder(ctx).host.settings
    data = settings.public()
    if as_json:
        render.print_json(data)
    else:
        render.print_human(data)


@click.group("db")
def db_group() -> None:
    """Database schema management: the core's tables and each plugin's, one migration branch each."""


@db_group.command("upgrade")
@json_option
@click.pass_context
def db_upgrade(ctx: click.Context, as_json: bool) -> None:
    """Apply database migrations: every branch (the core's and the loaded plugins') to its newest."""
    from neural_trader.services.storage import upgrade_database

    host = _holder(ctx).host
    migrated = run_guarded(as_json, lambda: upgrade_database(host.settings, host.migration_branches))
    rows = [{"branch": name, "from": before, "to": after} for name, (before, after) in migrated.items()]
    if as_json:
        render.print_json(rows)
        return
    for row in rows:
        was = "up to date" if row["from"] == row["to"] else f"was {row['from'] or 'empty'}"
        click.echo(f"{row['branch']}: at {row['to']} ({was})")


@db_group.command("current")
@json_option
@click.pass_context
def db_current(ctx: click.Context, as_json: bool) -> None:
    """Show each branch's schema revision, the newest this code has, and whether it is behind."""
    from neural_trader.services.storage import Storage

    host = _holder(ctx).host

    def read() -> list[dict[str, Any]]:
        with Storage.from_settings(host.settings, branches=host.migration_branches,
                                   auto_upgrade=False) as storage:
            return [{"branch": r.branch, "current": r.current, "head": r.head,
                     "status": ("unknown revision" if r.unknown else "up to date" if r.up_to_date
                                else "empty" if r.current is None
                                else "behind (recorded in the core's version table)" if r.legacy
                                else "behind")}
                    for r in storage.revisions()]

    rows = run_guarded(as_json, read)
    if as_json:
        render.print_json(rows)
    else:
        render.print_records(rows, title="Schema")


from neural_trader_cli import security_commands  # noqa: E402

COMMANDS = [plugins_command, ops_command, serve_group, keys_group, config_group, db_group,
            *security_commands.COMMANDS]
