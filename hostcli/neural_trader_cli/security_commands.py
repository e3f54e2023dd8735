"""The host's identity and token commands: ``identities`` (users and services with roles) and
``tokens`` (JWT bearer tokens: issue, revoke one, revoke every token of an identity)."""

from __future__ import annotations

from typing import Any

import click

from neural_trader_cli import render
from neural_trader_cli.main import _holder, run_guarded

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _plain(record: Any) -> dict[str, Any]:
    from neural_trader.serde import wire

    return wire.unstructure(record)  # type: ignore[no-any-return]


def _roles(text: str) -> list[str]:
    return [r.strip() for r in text.split(",") if r.strip()]


def _show(record: Any, as_json: bool) -> None:
    if as_json:
        render.print_json(_plain(record))
        return
    from neural_trader.schema import schema_for
    from neural_trader.services.identity import IdentityRecord

    render.print_human(_plain(record), schema_for(IdentityRecord))


# -- identities --------------------------------------------------------------------------------------


@click.group("identities")
def identities_group() -> None:
    """Users and services, and their roles: viewer (read), trader (read, trade), admin (everything)."""


@identities_group.command("create")
@click.argument("name")
@click.option("--roles", default="viewer", show_default=True, help="Comma-separated: viewer, trader, admin.")
@click.option("--kind", type=click.Choice(["user", "service"]), default="user", show_default=True)
@click.option("--account", default=None, help="The trading account it trades (default: one of its own, named "
                                              "after it).")
@json_option
@click.pass_context
def identities_create(ctx: click.Context, name: str, roles: str, kind: str, account: str | None,
                      as_json: bool) -> None:
    """Register an identity. Keys named after it (`keys create NAME`) get at most its roles' scopes."""
    from neural_trader.services.identity import identities_of

    host = _holder(ctx).host
    _show(run_guarded(as_json, lambda: identities_of(host).create(name, roles=_roles(roles), kind=kind,
                                                                  account=account)), as_json)


@identities_group.command("list")
@json_option
@click.pass_context
def identities_list(ctx: click.Context, as_json: bool) -> None:
    """List identities with their roles and scopes."""
    from neural_trader.schema import schema_for
    from neural_trader.services.identity import IdentityRecord, identities_of

    host = _holder(ctx).host
    records = [_plain(r) for r in run_guarded(as_json, lambda: identities_of(host).list())]
    if as_json:
        render.print_json(records)
    elif records:
        render.print_records(records, title="Identities", schema=schema_for(IdentityRecord))
    else:
        click.echo("no identities; create one with `neural-trader identities create NAME --roles viewer`")


@identities_group.command("set-roles")
@click.argument("name")
@click.argument("roles")
@json_option
@click.pass_context
def identities_set_roles(ctx: click.Context, name: str, roles: str, as_json: bool) -> None:
    """Replace an identity's roles (comma-separated); takes effect within auth_cache_ttl everywhere."""
    from neural_trader.services.identity import identities_of

    host = _holder(ctx).host
    _show(run_guarded(as_json, lambda: identities_of(host).set_roles(name, _roles(roles))), as_json)


@identities_group.command("set-account")
@click.argument("name")
@click.argument("account", required=False)
@click.option("--own", is_flag=True, help="Back to an account of its own, named after it.")
@json_option
@click.pass_context
def identities_set_account(ctx: click.Context, name: str, account: str | None, own: bool, as_json: bool) -> None:
    """Bind an identity to the trading account ACCOUNT (or, with --own, its own): its positions, cash,
    orders and limits from then on. Takes effect within auth_cache_ttl everywhere."""
    from neural_trader.errors import NtUserError
    from neural_trader.services.identity import identities_of

    host = _holder(ctx).host

    def bind() -> object:
        if (account is None) == (not own):
            raise NtUserError("give ACCOUNT, or --own for an account of its own (named after it)")
        return identities_of(host).set_account(name, None if own else account)

    _show(run_guarded(as_json, bind), as_json)


@identities_group.command("disable")
@click.argument("name")
@json_option
@click.pass_context
def identities_disable(ctx: click.Context, name: str, as_json: bool) -> None:
    """Refuse every key and token of an identity (until `identities enable`)."""
    from neural_trader.services.identity import identities_of

    host = _holder(ctx).host
    _show(run_guarded(as_json, lambda: identities_of(host).disable(name)), as_json)


@identities_group.command("enable")
@click.argument("name")
@json_option
@click.pass_context
def identities_enable(ctx: click.Context, name: str, as_json: bool) -> None:
    """Accept a disabled identity's keys and tokens again."""
    from neural_trader.services.identity import identities_of

    host = _holder(ctx).host
    _show(run_guarded(as_json, lambda: identities_of(host).enable(name)), as_json)


# -- tokens -------------------------------------------------------------------------------------------


@click.group("tokens")
def tokens_group() -> None:
    """JWT bearer tokens (HS256 with NT_JWT_SECRET): issue and revoke."""


@tokens_group.command("issue")
@click.argument("subject")
@click.option("--roles", default="viewer", show_default=True, help="Comma-separated: viewer, trader, admin.")
@click.option("--ttl", type=float, default=3600.0, show_default=True, help="Lifetime in seconds.")
@json_option
@click.pass_context
def tokens_issue(ctx: click.Context, subject: str, roles: str, ttl: float, as_json: bool) -> None:
    """Issue a token for SUBJECT. It is shown once; revoke it by its jti."""
    from neural_trader.services.tokens import tokens_of

    host = _holder(ctx).host
    token, claims = run_guarded(as_json, lambda: tokens_of(host).issue(subject, roles=_roles(roles), ttl=ttl))
    if as_json:
        render.print_json({"token": token, "claims": claims})
        return
    render.print_human(claims)
    click.echo(f"\ntoken: {token}\nStore it now: it is not kept.")


@tokens_group.command("revoke")
@click.argument("jti")
@click.option("--subject", default="?", help="Whose token it is (for the record).")
@json_option
@click.pass_context
def tokens_revoke(ctx: click.Context, jti: str, subject: str, as_json: bool) -> None:
    """Revoke one token by its jti: refused at once here, within auth_cache_ttl on every replica."""
    from neural_trader.services.tokens import tokens_of

    host = _holder(ctx).host
    run_guarded(as_json, lambda: tokens_of(host).revoke(jti, subject=subject))
    if as_json:
        render.print_json({"revoked": jti})
    else:
        click.echo(f"revoked token {jti}")


@tokens_group.command("revoke-all")
@click.argument("name")
@json_option
@click.pass_context
def tokens_revoke_all(ctx: click.Context, name: str, as_json: bool) -> None:
    """Revoke every token of identity NAME issued until now (after a leak, or to rotate)."""
    from neural_trader.services.identity import identities_of

    host = _holder(ctx).host
    _show(run_guarded(as_json, lambda: identities_of(host).revoke_tokens(name)), as_json)


COMMANDS = [identities_group, tokens_group]
