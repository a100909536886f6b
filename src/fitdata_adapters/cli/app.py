"""The ``fitdata`` command: run the service, and the operator tools around it.

Every command reads its settings from ``FITDATA_*`` variables (docs/configuration.md).
Commands that print data print it alone on stdout (an id, a token), or one JSON object with
``--json``; remarks for people go to stderr. Heavy modules are imported inside the commands
so ``fitdata --help`` answers at once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from fitdata_adapters.cli.billing import billing_app
from fitdata_adapters.cli.imports import import_app
from fitdata_adapters.cli.output import emit, fail, note, reported_errors
from fitdata_adapters.cli.runtime import load_settings, migrate

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
app.add_typer(import_app, name="import")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate the database, then serve the HTTP API.

    Without FITDATA_REDIS_URL (embedded mode) the job worker and the scheduler run inside
    this process too.
    """
    from fitdata_adapters.cli.serve import run_server

    with reported_errors():
        settings = load_settings()
        migrate(settings)
        run_server(settings, host=host, port=port)


@app.command()
def worker(
    processes: Annotated[int, typer.Option(min=1, help="Worker processes to run.")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="Job threads per process.")] = 8,
) -> None:
    """Run job workers (Dramatiq on FITDATA_REDIS_URL) and the outbox relay until stopped."""
    with reported_errors():
        settings = load_settings()
        from fitdata_workers.main import run_worker

        run_worker(settings, processes=processes, threads=threads)


@app.command()
def scheduler() -> None:
    """Run the scheduler of periodic work (FITDATA_REDIS_URL) until stopped; any number may
    run, each tick fires once."""
    with reported_errors():
        settings = load_settings()
        from fitdata_workers.main import run_scheduler

        run_scheduler(settings)


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


@app.command()
def token(
    email: Annotated[str, typer.Option(help="The user's email.")],
    platform_admin: Annotated[
        bool, typer.Option("--platform-admin", help="Grant the platform-operator claim.")
    ] = False,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days until it expires.")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """Issue a bearer token for an existing user; prints the token alone."""
    from fitdata_adapters.cli import admin

    with reported_errors():
        settings = load_settings()
        migrate(settings)
        issued = asyncio.run(
            admin.issue_user_token(
                settings, email=email, platform_admin=platform_admin, ttl=timedelta(days=days)
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


def main() -> None:
    """Entry point of the ``fitdata`` console script."""
    app()
