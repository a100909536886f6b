"""The ``fitdata`` command: run the service, and the operator tools around it.

The commands that run the service's processes belong to the packages that implement them
(``serve`` to ``fitdata_http``, ``worker`` and ``scheduler`` to ``fitdata_workers``) and are
found through entry points (:mod:`fitdata_adapters.plugins`); the operator tools live here.

Every command reads its settings from ``FITDATA_*`` variables (docs/configuration.md).
Commands that print data print it alone on stdout (an id, a token), or one JSON object with
``--json``; remarks for people go to stderr. Heavy modules are imported inside the commands
so ``fitdata --help`` answers at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from fitdata_adapters.cli.arbox_sandbox import sandbox_arbox
from fitdata_adapters.cli.billing import billing_app
from fitdata_adapters.cli.imports import import_app
from fitdata_adapters.cli.keys import keys_app
from fitdata_adapters.cli.output import EXIT_UNAVAILABLE, emit, fail, note, reported_errors
from fitdata_adapters.cli.runtime import load_settings, migrate
from fitdata_adapters.plugins import command_entry_points

app = typer.Typer(
    name="fitdata",
    help="fitdata: exports, imports and platform billing for a gym-management platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
org_app = typer.Typer(help="Organizations (gyms).", no_args_is_help=True)
member_app = typer.Typer(help="People in an organization.", no_args_is_help=True)
sandbox_app = typer.Typer(
    help="The project's fake providers, run on their own.", no_args_is_help=True
)
app.add_typer(org_app, name="org")
app.add_typer(member_app, name="member")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(billing_app, name="billing")
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")


def _unavailable(name: str, error: Exception) -> Callable[[], None]:
    def command() -> None:
        fail(f"the {name} command could not be loaded: {error}", code=EXIT_UNAVAILABLE)

    command.__doc__ = f"(unavailable: {error})"
    return command


def _add_contributed_commands(root: typer.Typer) -> None:
    """The subcommands the outer packages declare (``serve``, ``worker``, ``scheduler``; see
    :mod:`fitdata_adapters.plugins`): they import the adapters, so the adapters cannot import
    them. One that fails to import is reported when it is used, not by every command."""
    for entry_point in command_entry_points():
        try:
            command = entry_point.load()
        except ImportError as exc:
            command = _unavailable(entry_point.name, exc)
        root.command(name=entry_point.name)(command)


# First, so `fitdata --help` lists the service's processes before the operator tools.
_add_contributed_commands(app)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]


@app.command(name="migrate")
def migrate_command(as_json: JsonFlag = False) -> None:
    """Apply the database migrations (idempotent); prints the schema revision."""
    with reported_errors():
        revision = migrate(load_settings())
    emit({"revision": revision}, as_json=as_json, plain=revision)


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option(help="The gym's name.")],
    owner_email: Annotated[str, typer.Option(help="The owner's email (created if unknown).")],
    as_json: JsonFlag = False,
) -> None:
    """Create an organization on the free tier; prints its id."""
    from fitdata_adapters.cli import admin

    with reported_errors():
        settings = load_settings()
        migrate(settings)
        org = asyncio.run(admin.create_org(settings, name=name, owner_email=owner_email))
    emit(
        {
            "id": org.id,
            "name": org.name,
            "platform_tier": org.platform_tier.value,
            "owner_email": owner_email.strip().lower(),
        },
        as_json=as_json,
        plain=org.id,
    )


@member_app.command("add")
def member_add(
    org: Annotated[str, typer.Option("--org", help="The organization's id.")],
    email: Annotated[str, typer.Option(help="The person's email (reused if known).")],
    role: Annotated[str, typer.Option(help="owner, admin, coach or member.")],
    status: Annotated[
        str, typer.Option(help="active, invited, suspended or cancelled.")
    ] = "active",
    first_name: Annotated[str | None, typer.Option(help="Given name.")] = None,
    last_name: Annotated[str | None, typer.Option(help="Family name.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number (Israeli if no +code).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a person to an organization; prints their user id."""
    from fitdata_adapters.cli import admin

    new_member = admin.parse_member(
        email=email,
        role=role,
        status=status,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
    )
    with reported_errors():
        settings = load_settings()
        migrate(settings)
        user = asyncio.run(admin.add_person(settings, org_id=org, member=new_member))
    emit(
        {
            "user_id": user.id,
            "org_id": org,
            "email": user.email,
            "role": new_member.role.value,
            "status": new_member.status.value,
        },
        as_json=as_json,
        plain=user.id,
    )


token_app = typer.Typer(help="Bearer tokens: issue one (no subcommand) or revoke them.")
app.add_typer(token_app, name="token")


@token_app.callback(invoke_without_command=True)
def token(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option(help="The user's email.")] = None,
    platform_admin: Annotated[
        bool,
        typer.Option(
            "--platform-admin",
            help="Grant the platform-operator claim (and record the user as a platform admin).",
        ),
    ] = False,
    days: Annotated[
        int | None,
        typer.Option(
            min=1, max=365, help="Days until it expires (default 7; platform admin: 1, at most)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a bearer token for an existing user; prints the token alone.

    `fitdata token revoke --email E` refuses every token issued to E so far.
    """
    if ctx.invoked_subcommand is not None:
        return
    from fitdata_adapters.cli import admin

    if email is None:
        fail("--email is required (the user to issue a token for).")
    lifetime = timedelta(days=days if days is not None else (1 if platform_admin else 7))
    with reported_errors():
        settings = load_settings()
        migrate(settings)
        issued = asyncio.run(
            admin.issue_user_token(
                settings, email=email, platform_admin=platform_admin, ttl=lifetime
            )
        )
    emit(
        {
            "token": issued.token,
            "user_id": issued.user_id,
            "email": issued.email,
            "platform_admin": issued.platform_admin,
            "expires_at": issued.expires_at.isoformat(),
        },
        as_json=as_json,
        plain=issued.token,
    )


@token_app.command("revoke")
def token_revoke(
    email: Annotated[str, typer.Option(help="The user's email.")],
    drop_platform_admin: Annotated[
        bool,
        typer.Option("--drop-platform-admin", help="Also clear the user's platform-admin flag."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Refuse every token issued to the user so far (from their next request on); prints the
    instant from which new tokens are accepted."""
    from fitdata_adapters.cli import admin

    with reported_errors():
        settings = load_settings()
        migrate(settings)
        user = asyncio.run(
            admin.revoke_user_tokens(settings, email=email, drop_platform_admin=drop_platform_admin)
        )
    valid_after = user.tokens_valid_after.isoformat() if user.tokens_valid_after else ""
    emit(
        {
            "user_id": user.id,
            "email": user.email,
            "tokens_valid_after": valid_after,
            "platform_admin": user.is_platform_admin,
        },
        as_json=as_json,
        plain=valid_after,
    )


@app.command()
def demo(
    members: Annotated[
        int, typer.Option(min=1, max=5000, help="How many members the demo gym has.")
    ] = 300,
    as_json: JsonFlag = False,
) -> None:
    """Create the demo gym (or find it again) and print its id and a token per role.

    The plain output is shell assignments (ORG_ID=..., OWNER_TOKEN=..., ADMIN_TOKEN=...,
    COACH_TOKEN=..., MEMBER_TOKEN=...), so `eval "$(fitdata demo)"` sets them.
    """
    from fitdata_adapters.cli import admin

    with reported_errors():
        settings = load_settings()
        migrate(settings)
        result = asyncio.run(admin.run_demo(settings, member_count=members))
    gym = result.gym
    note(
        f"{'Created' if gym.created else 'Found'} the demo gym {gym.org_name!r} "
        f"({gym.member_count} members) in {settings.data_dir}."
    )
    logins = {
        login.role.value: {"email": login.email, "user_id": login.user_id, "token": tok}
        for login, tok in zip(gym.logins, result.tokens, strict=True)
    }
    lines = [f"ORG_ID={gym.org_id}"]
    for role, login in logins.items():
        lines.append(f"{role.upper()}_EMAIL={login['email']}")
        lines.append(f"{role.upper()}_TOKEN={login['token']}")
    emit(
        {
            "org_id": gym.org_id,
            "org_name": gym.org_name,
            "created": gym.created,
            "member_count": gym.member_count,
            "logins": logins,
            "tokens": {role: login["token"] for role, login in logins.items()},
        },
        as_json=as_json,
        plain="\n".join(lines),
    )


@sandbox_app.command("cardcom")
def sandbox_cardcom(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    terminal_number: Annotated[int, typer.Option(help="The terminal number accepted.")] = 1000,
    api_name: Annotated[str, typer.Option(help="The API name accepted.")] = "fitdata-sandbox",
    time_scale: Annotated[
        float, typer.Option(help="Multiplier for webhook retry delays (1.0 = real time).")
    ] = 1.0,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="Keep pages, card tokens, deals and webhook records in this directory so they "
            "survive a restart. Default: in memory only.",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Run the fake Cardcom server (hosted pages, webhooks, charges) until stopped."""
    from fitdata_adapters.cardcom_sandbox import (
        SandboxConfig,
        SandboxStateError,
        create_sandbox_app,
        run_sandbox,
    )
    from fitdata_adapters.cli.serve import exit_quietly_after_signals

    config = SandboxConfig(
        terminal_number=terminal_number,
        api_name=api_name,
        time_scale=time_scale,
        state_dir=None if state_dir is None else state_dir.resolve(),
    )
    try:
        sandbox = create_sandbox_app(config)
    except SandboxStateError as exc:
        fail(str(exc))
    kept = f"; state in {config.state_dir}" if config.state_dir else ""
    note(
        f"Cardcom sandbox on http://{host}:{port} (terminal {terminal_number}, "
        f"API name {api_name}{kept})"
    )
    exit_quietly_after_signals()
    run_sandbox(host, port, app=sandbox)


sandbox_app.command("arbox")(sandbox_arbox)


def main() -> None:
    """Entry point of the ``fitdata`` console script."""
    app()
