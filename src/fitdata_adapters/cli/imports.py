"""``fitdata import ...``: start an Arbox or CSV/Excel import for a gym and follow its job.

The command acts as the organization's owner (the operator at the terminal runs the import
on the gym's behalf). Without ``--wait`` it prints the job id and leaves the job to the
workers (or to ``fitdata serve``'s in-process worker when embedded). With ``--wait`` it
follows the job to its end (a progress bar on a terminal) and exits non-zero when it fails;
in embedded mode (no Redis) it runs the engine itself, in this process.

``fitdata import csv`` goes the way of the HTTP upload (the file kept in object storage, a
preview, a confirmed mapping, the same engine), without the upload's size cap: it prints
the detected format and the suggested mapping, then runs with ``--mapping`` or the suggestion.

``fitdata import sweep-files [--at ISO]`` runs the stored-file sweep once (the one the
scheduler runs every hour), as of ``--at``, and prints the files it deleted.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer

from fitdata_adapters.cli.billing import AtOption, parse_at
from fitdata_adapters.cli.output import emit, fail, note, reported_errors
from fitdata_adapters.cli.runtime import load_settings, migrate, open_runtime
from fitdata_adapters.settings import Settings
from fitdata_core.model.jobs import ImportJob, ImportStatus
from fitdata_core.model.organizations import Role
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.ports.repositories import MemberFilter
from fitdata_core.services import Actor, Services

__all__ = ["import_app", "job_summary"]

import_app = typer.Typer(
    help="Imports (Arbox, CSV/Excel): start one, follow its job.", no_args_is_help=True
)

EXIT_JOB_FAILED = 1
POLL_SECONDS = 1.0

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]


def job_summary(job: ImportJob) -> dict[str, Any]:
    """What the CLI prints about a job (never its credentials)."""
    return {
        "jobId": job.id,
        "organizationId": job.organization_id,
        "status": job.status.value,
        "phase": job.phase.value,
        "dryRun": job.dry_run,
        "errorMessage": job.error_message,
        **job.report.to_dict(),
    }


def _plain(job: ImportJob) -> str:
    lines = [f"{job.id} {job.status.value} (phase {job.phase.value})"]
    for entity, tally in job.results.items():
        counts = " ".join(f"{k}={v}" for k, v in tally.items())
        lines.append(f"  {entity}: {counts}")
    if job.report.error_count or job.report.warning_count:
        lines.append(f"  errors={job.report.error_count} warnings={job.report.warning_count}")
    if job.error_message:
        lines.append(f"  {job.error_message}")
    return "\n".join(lines)


async def _owner_of(svc: Services, org_id: str) -> Actor:
    async with svc.uow(read_only=True) as uow:
        page = await uow.memberships.list_members(
            org_id, MemberFilter(roles=frozenset({Role.OWNER})), limit=1, offset=0
        )
    if not page.items:
        fail(f"Organization {org_id} has no owner (or does not exist).")
    return Actor(page.items[0].user.id)


async def _job(svc: Services, job_id: str) -> ImportJob | None:
    async with svc.uow(read_only=True) as uow:
        return await uow.import_jobs.get(job_id)


async def _follow(svc: Services, settings: Settings, job_id: str, *, show_bar: bool) -> ImportJob:
    """Until the job ends: run it here when embedded, else watch the workers run it."""
    from fitdata_core.usecases.imports import run_import

    async def step() -> ImportJob:
        if settings.is_embedded_queue:
            await run_import(svc, job_id)
        else:
            await asyncio.sleep(POLL_SECONDS)
        job = await _job(svc, job_id)
        assert job is not None
        return job

    if not show_bar:
        job = await step()
        while job.is_active:
            job = await step()
        return job
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("queued", total=None)
        job = await step()
        while job.is_active:
            members = job.report.progress.get("members")
            progress.update(
                task,
                description=job.phase.value,
                completed=members.processed if members else 0,
                total=members.total if members else None,
            )
            job = await step()
    return job


@import_app.command("arbox")
def import_arbox(
    org: Annotated[str, typer.Option("--org", help="The organization's id.")],
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Arbox API key (Business API).")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Arbox login email (Management API).")
    ] = None,
    password: Annotated[
        str | None, typer.Option("--password", help="Arbox login password (Management API).")
    ] = None,
    plans: Annotated[bool, typer.Option("--plans", help="Import plans.")] = False,
    members: Annotated[bool, typer.Option("--members", help="Import members.")] = False,
    leads: Annotated[bool, typer.Option("--leads", help="Import leads.")] = False,
    whitelist: Annotated[
        Path | None,
        typer.Option(
            "--whitelist",
            exists=True,
            dir_okay=False,
            help="A file of emails (one a line): only these members are imported.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Run it all, write nothing.")] = False,
    no_enrich: Annotated[
        bool, typer.Option("--no-enrich", help="Skip the per-member detail calls.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job to its end.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Start an Arbox import for --org (plans and members when no entity is named).

    Without credentials the organization's stored ones are used. Prints the job id, or with
    --wait the job's outcome (exit 1 when it failed).
    """
    from fitdata_core.usecases.imports import ImportRequest, start_import

    if (email is None) != (password is None):
        fail("--email and --password go together (the Management API needs both).")
    if not (plans or members or leads):
        plans = members = True
    emails: tuple[str, ...] | None = None
    if whitelist is not None:
        emails = tuple(
            line.strip() for line in whitelist.read_text("utf-8").splitlines() if line.strip()
        )
    inline = None
    if api_key or email:
        inline = SourceCredentials(api_key=api_key, email=email, password=password)
    request = ImportRequest(
        plans=plans,
        members=members,
        leads=leads,
        credentials=inline,
        email_whitelist=emails,
        dry_run=dry_run,
        enrich=not no_enrich,
    )
    with reported_errors():
        settings = load_settings()
        migrate(settings)

        async def main() -> ImportJob | str:
            async with open_runtime(settings) as runtime:
                svc = runtime.services
                actor = await _owner_of(svc, org)
                job_id = await start_import(svc, actor, org, request)
                if not wait:
                    return job_id
                show_bar = sys.stderr.isatty() and not as_json
                return await _follow(svc, settings, job_id, show_bar=show_bar)

        outcome = asyncio.run(main())
    if isinstance(outcome, str):
        if settings.is_embedded_queue:
            note("Queued: `fitdata serve` runs it (or use --wait to run it here).")
        emit({"jobId": outcome}, as_json=as_json, plain=outcome)
        return
    emit(job_summary(outcome), as_json=as_json, plain=_plain(outcome))
    if outcome.status is ImportStatus.FAILED:
        raise typer.Exit(EXIT_JOB_FAILED)


_CHUNK_BYTES = 1024 * 1024


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK_BYTES):
            yield chunk


def _read_mapping(path: Path) -> dict[str, Any]:
    """A mapping file: the upload's ``suggestedMapping`` shape, or ``{"columnMapping": ...}``."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"--mapping {path}: not a readable JSON file ({exc}).")
    if isinstance(raw, dict) and "columnMapping" in raw:
        raw = raw["columnMapping"]
    if not isinstance(raw, dict):
        fail(f'--mapping {path}: expected {{"memberFields": {{"<csv header>": "<field>"}}}}.')
    return raw


def _plain_preview(preview: dict[str, Any]) -> str:
    detected = preview["detected"]
    lines = [
        f"{preview['totalRows']} rows; detected: "
        + ", ".join(f"{k}={v}" for k, v in detected.items() if v is not None),
        "suggested mapping:",
    ]
    for section, fields in preview["suggestedMapping"].items():
        lines += [f"  {section}: {header!r} -> {field}" for header, field in fields.items()]
    lines += [f"warning: {w}" for w in preview["warnings"]]
    return "\n".join(lines)


@import_app.command("csv")
def import_csv(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="The .csv or .xlsx file to import."),
    ],
    org: Annotated[str, typer.Option("--org", help="The organization's id.")],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            exists=True,
            dir_okay=False,
            help='A JSON file {"memberFields": {"<csv header>": "<field>"}, "planFields": {}}'
            " (default: the suggested mapping).",
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="The workbook sheet (default: the first).")
    ] = None,
    leads: Annotated[bool, typer.Option("--leads", help="Import the rows as leads.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Run it all, write nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job to its end.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import a CSV or Excel file into --org: members (and plans when the mapping prices
    them; with --leads, leads instead of members).

    Prints the detected format and the suggested mapping, then runs the import with --mapping
    (or the suggestion). Prints the job id, or with --wait the job's outcome (exit 1 when it
    failed). No size cap on this path.
    """
    from fitdata_core.usecases.imports import csv_files

    chosen = None if mapping is None else _read_mapping(mapping)
    with reported_errors():
        settings = load_settings()
        migrate(settings)

        async def main() -> tuple[dict[str, Any], ImportJob | str]:
            async with open_runtime(settings) as runtime:
                svc = runtime.services
                actor = await _owner_of(svc, org)
                upload = await csv_files.upload_csv(
                    svc, actor, org, filename=file.name, chunks=_file_chunks(file), sheet=sheet
                )
                preview = {"jobId": upload.job_id, **upload.preview}
                if not as_json:
                    note(_plain_preview(preview))
                column_mapping = chosen or dict(upload.preview["suggestedMapping"])
                plan_fields = column_mapping.get("planFields") or {}
                entities = {
                    "members": not leads,
                    "leads": leads,
                    "plans": {"name", "price"} <= set(plan_fields.values()),
                }
                job_id = await csv_files.confirm_csv(
                    svc,
                    actor,
                    org,
                    upload.job_id,
                    column_mapping=column_mapping,
                    entities=entities,
                    dry_run=dry_run,
                )
                if not wait:
                    return preview, job_id
                show_bar = sys.stderr.isatty() and not as_json
                return preview, await _follow(svc, settings, job_id, show_bar=show_bar)

        preview, outcome = asyncio.run(main())
    if isinstance(outcome, str):
        if settings.is_embedded_queue:
            note("Queued: `fitdata serve` runs it (or use --wait to run it here).")
        emit({"jobId": outcome, "preview": preview}, as_json=as_json, plain=outcome)
        return
    emit({**job_summary(outcome), "preview": preview}, as_json=as_json, plain=_plain(outcome))
    if outcome.status is ImportStatus.FAILED:
        raise typer.Exit(EXIT_JOB_FAILED)


@import_app.command("status")
def import_status(
    job_id: Annotated[str, typer.Argument(help="The import job's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show an import job: status, phase, counts per entity, errors."""
    with reported_errors():
        settings = load_settings()
        migrate(settings)

        async def main() -> ImportJob | None:
            async with open_runtime(settings) as runtime:
                return await _job(runtime.services, job_id)

        job = asyncio.run(main())
    if job is None:
        fail(f"No import job {job_id}.")
    emit(job_summary(job), as_json=as_json, plain=_plain(job))


@import_app.command("sweep-files")
def import_sweep_files(at: AtOption = None, as_json: JsonFlag = False) -> None:
    """Delete the stored files of CSV imports that finished more than
    FITDATA_IMPORT_FILE_RETENTION_DAYS before --at; prints each file deleted.

    The same sweep the scheduler runs every hour (it is safe to run beside it). Each job
    records when its file was deleted; its rejects and retry-failed answer 410 from then on.
    """
    from fitdata_core.usecases.imports import sweep_import_files

    as_of = parse_at(at)
    with reported_errors():
        settings = load_settings()
        migrate(settings)

        async def main() -> list[dict[str, str]]:
            async with open_runtime(settings) as runtime:
                found = await sweep_import_files(runtime.services, as_of)
            return [item.to_dict() for item in found]

        deleted = asyncio.run(main())
    lines = [
        f"{d['jobId']} {d['organizationId']} {d['key']} (finished {d['finishedAt']})"
        for d in deleted
    ]
    lines.append(f"deleted={len(deleted)}")
    emit(
        {"sweep": "import_files", "as_of": as_of.isoformat(), "deleted": deleted},
        as_json=as_json,
        plain="\n".join(lines),
    )
