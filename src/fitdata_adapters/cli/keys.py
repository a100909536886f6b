"""``fitdata keys ...``: which credential keys are in use, and re-sealing under the newest.

``status`` counts stored secrets (provider credentials, card tokens) per kind and key id, so
an operator knows when an old key may leave ``FITDATA_CREDENTIAL_KEYS``. ``rotate``
re-seals every stored secret under the current (first) key, in batches; it is resumable and
safe to run twice or beside running services (docs/operations.md, "Rotating credential keys").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, TypeVar

import typer

from fitdata_adapters.cli.output import emit, note, reported_errors
from fitdata_adapters.cli.runtime import load_settings, migrate, open_runtime
from fitdata_adapters.settings import Settings
from fitdata_core.services import Services
from fitdata_core.usecases.credential_keys import (
    DEFAULT_ROTATION_BATCH,
    KeyStatus,
    RotationReport,
)

__all__ = ["keys_app"]

T = TypeVar("T")

keys_app = typer.Typer(
    help="Credential keys (FITDATA_CREDENTIAL_KEYS): what is in use, and rotation.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]


def _run(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_runtime(settings) as runtime:
            return await work(runtime.services)

    return asyncio.run(main())


def _counts(counts: Mapping[str, int]) -> str:
    return " ".join(f"{key}:{n}" for key, n in counts.items()) or "none"


def _rotation_lines(report: RotationReport) -> str:
    lines = [
        f"current_key_id={report.current_key_id} rotated={report.rotated} "
        f"already_current={report.already_current} "
        f"changed_meanwhile={report.changed_meanwhile} unreadable={_counts(report.unreadable)}"
    ]
    for kind, counts in report.kinds.items():
        lines.append(
            f"{kind.value}: rotated={counts.rotated} already_current={counts.already_current} "
            f"changed_meanwhile={counts.changed_meanwhile} "
            f"unreadable={_counts(counts.unreadable)}"
        )
    return "\n".join(lines)


def _status_lines(status: KeyStatus) -> str:
    lines = [
        f"current_key_id={status.current_key_id} configured={','.join(status.configured_key_ids)}"
    ]
    lines.extend(f"{kind.value}: {_counts(counts)}" for kind, counts in status.in_use.items())
    lines.append(f"droppable={','.join(status.droppable) or 'none'}")
    lines.append(f"missing={','.join(status.missing) or 'none'}")
    return "\n".join(lines)


@keys_app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """Count stored secrets per kind and key id; say which old keys may be dropped.

    "droppable" keys are configured, not current, and seal nothing. "missing" keys seal
    stored secrets but are not configured: those secrets cannot be opened.
    """
    from fitdata_core.usecases.credential_keys import key_status

    with reported_errors():
        settings = load_settings()
        migrate(settings)
        result = _run(settings, key_status)
    if result.missing:
        note(
            f"Key(s) {', '.join(result.missing)} seal stored secrets but are not in "
            "FITDATA_CREDENTIAL_KEYS: add them back (after the current key) and run "
            "`fitdata keys rotate`, or have the gyms re-enter those credentials."
        )
    elif result.needs_rotation:
        note("Some secrets are sealed by an older key: run `fitdata keys rotate`.")
    emit(result.as_dict(), as_json=as_json, plain=_status_lines(result))


@keys_app.command("rotate")
def rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rows re-sealed per transaction.")
    ] = DEFAULT_ROTATION_BATCH,
    as_json: JsonFlag = False,
) -> None:
    """Re-seal every stored secret (provider credentials, card tokens) under the current key.

    The current key is the first in FITDATA_CREDENTIAL_KEYS. Resumable and safe to run twice
    or beside running services; prints how many were rotated, already current, changed
    meanwhile (left as written) and unreadable (per key id; no configured key opens them).
    """
    from fitdata_core.usecases.credential_keys import rotate_keys

    with reported_errors():
        settings = load_settings()
        migrate(settings)
        report = _run(settings, lambda svc: rotate_keys(svc, batch_size=batch_size))
    if report.unreadable:
        note(
            "Some secrets were left as they are because no configured key opens them "
            f"({_counts(report.unreadable)}): add those keys back to FITDATA_CREDENTIAL_KEYS "
            "and run this again, or have the gyms re-enter those credentials."
        )
    emit(report.as_dict(), as_json=as_json, plain=_rotation_lines(report))
