"""``fitdata billing ...``: one-off billing sweeps and operator actions.

The sweeps are the same use cases the scheduler runs, started by hand (after repairing the
Cardcom credentials, say). A one-off run is not a scheduled run, so the kill switch
``FITDATA_BILLING_SCHEDULE_ENABLED`` does not stop it: that is how an operator runs exactly
one sweep while the schedule stays off.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from fitdata_adapters.cli.output import emit, fail, note, reported_errors
from fitdata_adapters.cli.runtime import load_settings, migrate, open_runtime
from fitdata_adapters.settings import Settings
from fitdata_core.services import Actor, Services

__all__ = ["OPERATOR", "billing_app", "parse_at"]

T = TypeVar("T")

billing_app = typer.Typer(
    help="Platform billing: one-off sweeps and operator actions.", no_args_is_help=True
)

# Who the CLI acts as: the operator at the terminal is a platform administrator.
OPERATOR = Actor(user_id="cli-operator", is_platform_admin=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Run 'as of' this ISO-8601 time (e.g. 2026-03-01T02:00:00Z; no zone means UTC): "
        "every rule of the sweep (due periods, dunning's next attempt, age limits) reads it "
        "and what the sweep records is dated by it. Default: now.",
    ),
]


def parse_at(value: str | None) -> datetime:
    """The ``--at`` time (UTC when no zone is given), now when omitted; exit 2 if malformed."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--at must be an ISO-8601 date-time such as 2026-03-01T02:00:00Z, got {value!r}.")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _require_real_gateway(settings: Settings, command: str) -> None:
    # Without FITDATA_CARDCOM_BASE_URL every process starts its own empty sandbox; a sweep run
    # from here would ask a Cardcom that has never seen the gym's payments and record
    # declines. Point both the server and this command at one Cardcom instead.
    if settings.uses_sandbox:
        fail(
            f"`fitdata billing {command}` talks to Cardcom, but FITDATA_CARDCOM_BASE_URL is not "
            "set (the embedded sandbox lives inside `fitdata serve` only). Set it to your "
            "Cardcom URL, or run `fitdata sandbox cardcom` and point both the server and this "
            "command at it."
        )


def _run(settings: Settings, work: Callable[[Services], Awaitable[T]], *, with_gateway: bool) -> T:
    async def main() -> T:
        if with_gateway:
            from fitdata_adapters.bootstrap import bootstrap

            runtime = bootstrap(settings)
            try:
                return await work(runtime.services)
            finally:
                await runtime.aclose()
        async with open_runtime(settings) as runtime:
            return await work(runtime.services)

    return asyncio.run(main())


def _counts_line(counts: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in counts.items() if key != "disabled")


def _report(name: str, as_of: datetime, counts: dict[str, Any], *, as_json: bool) -> None:
    emit(
        {"sweep": name, "as_of": as_of.isoformat(), **counts},
        as_json=as_json,
        plain=_counts_line(counts),
    )


@billing_app.command("renew")
def renew(
    at: AtOption = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="At most this many subscriptions (default FITDATA_RENEWAL_BATCH_LIMIT)."
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Charges at once (default FITDATA_RENEWAL_CONCURRENCY)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Renew the subscriptions due by --at; prints the outcome counts.

    Charges saved cards, runs dunning and finalises scheduled cancellations. Safe beside a
    running scheduler: no subscription is charged twice.

    A one-off run ignores the kill switch FITDATA_BILLING_SCHEDULE_ENABLED.
    """
    from fitdata_core.usecases.billing import run_renewals

    as_of = parse_at(at)
    with reported_errors():
        settings = load_settings()
        _require_real_gateway(settings, "renew")
        migrate(settings)
        report = _run(
            settings,
            lambda svc: run_renewals(svc, as_of, limit=limit, concurrency=concurrency),
            with_gateway=True,
        )
    _report("renewals", as_of, report.as_dict(), as_json=as_json)


@billing_app.command("reconcile")
def reconcile(at: AtOption = None, as_json: JsonFlag = False) -> None:
    """Settle pending checkouts of the hour before --at; prints the outcome counts.

    Asks Cardcom about each one (the webhook's safety net) and alerts on hung ones.

    A one-off run ignores the kill switch FITDATA_BILLING_SCHEDULE_ENABLED.
    """
    from fitdata_core.usecases.billing import reconcile as run_reconcile

    as_of = parse_at(at)
    with reported_errors():
        settings = load_settings()
        _require_real_gateway(settings, "reconcile")
        migrate(settings)
        report = _run(settings, lambda svc: run_reconcile(svc, as_of), with_gateway=True)
    _report("reconcile", as_of, report.as_dict(), as_json=as_json)


@billing_app.command("expire-stale")
def expire_stale(at: AtOption = None, as_json: JsonFlag = False) -> None:
    """Cancel checkouts left unpaid for seven days before --at; prints how many.

    Needs no Cardcom.

    A one-off run ignores the kill switch FITDATA_BILLING_SCHEDULE_ENABLED.
    """
    from fitdata_core.usecases.billing import expire_stale as run_expire

    as_of = parse_at(at)
    with reported_errors():
        settings = load_settings()
        migrate(settings)
        report = _run(settings, lambda svc: run_expire(svc, as_of), with_gateway=False)
    _report("expire_stale", as_of, report.as_dict(), as_json=as_json)


@billing_app.command("force-cancel")
def force_cancel(
    org: Annotated[str, typer.Option("--org", help="The organization's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Cancel an organization's subscription now; prints the resulting billing status.

    The organization drops to lite at once and its in-flight charges are cancelled, so a late
    webhook changes nothing. Runs as a platform administrator.
    """
    from fitdata_core.usecases.billing import force_cancel as run_force_cancel

    try:
        org_id = str(uuid.UUID(org.strip()))
    except ValueError:
        fail(f"--org must be an organization id (a UUID), got {org!r}.")
    with reported_errors():
        settings = load_settings()
        migrate(settings)
        status = _run(
            settings, lambda svc: run_force_cancel(svc, OPERATOR, org_id), with_gateway=False
        )
    data = status.as_dict()
    note(f"Organization {org_id} is now on {data['tier']} (subscription {data['status']}).")
    emit(data, as_json=as_json, plain=f"tier={data['tier']} status={data['status']}")
