"""The click host. Operation commands are generated from the registry; the rest manage the host.

``neural-trader <group> <verb>`` runs operation ``<group>.<verb>``; ``plugins``, ``ops``, ``serve``,
``keys``, ``config`` and ``db`` are the host's own. Errors map to exit codes here and only here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from neural_trader_cli import options, render

if TYPE_CHECKING:
    from neural_trader.host import Host
    from neural_trader.ops import Operation

HOST_COMMANDS = ("config", "db", "identities", "keys", "ops", "plugins", "serve", "tokens")


class HostHolder:
    """Builds the host on first use, so ``--version`` never loads plugins."""

    def __init__(self, host: Host | None = None, factory: Callable[[], Host] | None = None) -> None:
        self._host = host
        self._factory = factory

    @property
    def host(self) -> Host:
        if self._host is None:
            if self._factory is not None:
                self._host = self._factory()
            else:
                from neural_trader.host import make_host

                self._host = make_host()
        return self._host


def _holder(ctx: click.Context) -> HostHolder:
    return ctx.find_root().obj  # type: ignore[no-any-return]


def run_guarded(as_json: bool, fn: Callable[[], Any]) -> Any:
    """Run ``fn``; turn errors into a message and the error family's exit code."""
    from neural_trader.errors import NtError

    try:
        return fn()
    except NtError as exc:
        render.print_error(exc.type, exc.message, exc.details, as_json)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        render.print_error("cancelled", "cancelled", None, as_json)
        sys.exit(130)


class OperationCommand(click.Command):
    """One operation as a command: its options come from the input schema."""

    def __init__(self, op: Operation) -> None:
        self.op = op
        self.chart = options.chart_parameter(op.input_schema, op.output_schema)
        params: list[click.Parameter] = options.options_for(op.input_schema, chart=self.chart)
        params += [
            click.Option(["--params", "_nt_params"], type=options.JSON, default=None,
                         help="All parameters as one JSON object (or @file.json); options override it."),
            click.Option(["--json", "_nt_json"], is_flag=True, help="Print the result as JSON."),
        ]
        if options.can_plot(op.input_schema, op.output_schema):
            implies = f"; implies --{self.chart[0].replace('_', '-')}" if self.chart else ""
            params.append(click.Option(["--plot", "_nt_plot"], type=click.Path(dir_okay=False),
                                       default=None, help=f"Write the result's picture (PNG) to FILE{implies}."))
        help_text = op.summary + ("\n\n" + op.description if op.description else "")
        help_text += f"\n\nScope: {op.scope.value}. MCP tool: {op.tool_name}. REST: POST {op.http_path}."
        super().__init__(name=op.verb, params=params, help=help_text, short_help=op.summary,
                         callback=self._run)

    def _run(self, _nt_params: Any = None, _nt_json: bool = False, _nt_plot: str | None = None,
             **values: Any) -> None:
        ctx = click.get_current_context()
        holder = _holder(ctx)
        if _nt_params is not None and not isinstance(_nt_params, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--params")
        raw = options.collect(self.op.input_schema, values, _nt_params)
        if _nt_plot and self.chart is not None:
            name = self.chart[0]
            if raw.get(name) is None:
                raw[name] = self.chart[1]  # --plot FILE asks for the picture it writes
            elif raw[name] in (False, "none"):
                raise click.UsageError(f"--plot FILE needs a picture, but {name} is {raw[name]!r}")

        def call() -> dict[str, Any]:
            import anyio

            host = holder.host
            bar = render.ProgressBar(self.op.name) if not _nt_json else None
            context = host.context(frontend="cli", on_progress=bar)
            try:
                return anyio.run(self.op.call, raw, context)
            except KeyboardInterrupt:
                context.cancel.cancel()
                raise
            finally:
                if bar is not None:
                    bar.close()

        result = run_guarded(_nt_json, call)
        if _nt_plot:
            _write_image(result, options.image_fields(self.op.output_schema), _nt_plot)
        if _nt_json:
            render.print_json(result)
        else:
            render.print_human(result, self.op.output_schema)


def _write_image(result: dict[str, Any], fields: list[str], path: str) -> None:
    import base64

    images = [result[f] for f in fields if isinstance(result.get(f), dict)]
    if not images:
        raise click.ClickException("this result carries no picture")
    with open(path, "wb") as fh:
        fh.write(base64.b64decode(images[0]["data"]))
    click.echo(f"wrote {path}", err=True)


class OperationGroup(click.Group):
    """All operations that share a first name segment (``system``, ``backtest``...)."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, help=f"Operations of the '{name}' group.")

    def _ops(self, ctx: click.Context) -> dict[str, Operation]:
        host = _holder(ctx).host
        return {op.verb: op for op in host.operations.for_frontend("cli") if op.group == self.name}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._ops(ctx))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        op = self._ops(ctx).get(cmd_name)
        return OperationCommand(op) if op is not None else None


class RootGroup(click.Group):
    """Host commands plus one group per operation group, discovered from the registry."""

    def _groups(self, ctx: click.Context) -> list[str]:
        try:
            host = _holder(ctx).host
        except Exception as exc:  # a broken install must still print help and host commands
            click.echo(f"warning: could not load the host: {exc}", err=True)
            return []
        return sorted({op.group for op in host.operations.for_frontend("cli")} - set(HOST_COMMANDS))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._groups(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        if cmd_name in self._groups(ctx):
            return OperationGroup(cmd_name)
        return None


def make_cli(host: Host | None = None, factory: Callable[[], Host] | None = None) -> click.Group:
    """The root command. With ``host`` (tests, embedding) commands use it instead of building one."""
    from neural_trader_cli import host_commands

    holder = HostHolder(host, factory)

    @click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                  "max_content_width": 100, "obj": holder})
    @click.version_option(package_name="neural-trader", prog_name="neural-trader")
    @click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                  help="TOML settings file (default: $NT_CONFIG or the user config dir).")
    @click.pass_context
    def cli(ctx: click.Context, config_file: str | None) -> None:
        """Neural Trader: trading and sports-betting research.

        Every command below the host commands is an operation; the same operations are MCP tools
        (`neural-trader serve mcp`) and REST endpoints (`neural-trader serve rest`).
        """
        if config_file:
            os.environ["NT_CONFIG"] = config_file

    for command in host_commands.COMMANDS:
        cli.add_command(command)
    return cli


def main() -> None:
    make_cli()(prog_name=os.path.basename(sys.argv[0]) or "neural-trader")


if __name__ == "__main__":
    main()
